"""Figures for the report: matplotlib figures made without pyplot.

Each figure is kept three ways: PNG at 100 dpi for screens (HTML, Markdown), PNG at 300 dpi
for Word, and SVG (vector, text drawn as outlines) for the PDF.
"""
from __future__ import annotations

import io

import matplotlib
from matplotlib.figure import Figure

from socialhealth.report.document import ReportFigure

DPI = 100
PRINT_DPI = 300


def new_figure(width: float = 8.0, height: float = 4.0, ncols: int = 1, **kw):
    """A figure (no pyplot, so no GUI backend is touched) and its axes."""
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False, **kw)[0]
    return fig, list(axes)


def _save(fig: Figure, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, facecolor="white", **kw)
    return buf.getvalue()


def to_report_figure(fig: Figure, title: str, caption: str = "") -> ReportFigure:
    """Render ``fig`` to PNG (``DPI`` and ``PRINT_DPI``) and SVG, and release it."""
    png = _save(fig, "png", dpi=DPI)
    png_print = _save(fig, "png", dpi=PRINT_DPI)
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "socialhealth"}):
        svg = _save(fig, "svg", metadata={"Date": None})
    w, h = fig.get_size_inches()
    fig.clear()
    return ReportFigure(title=title, png=png, caption=caption,
                        width_px=int(round(w * DPI)), height_px=int(round(h * DPI)),
                        svg=svg, png_print=png_print, width_in=float(w), height_in=float(h))
