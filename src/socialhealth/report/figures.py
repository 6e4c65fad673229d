"""Figures for the report: matplotlib figures made without pyplot.

Each figure is kept three ways: PNG at 100 dpi for screens (HTML, Markdown), drawn at once;
PNG at 300 dpi for Word and SVG (vector, text drawn as outlines) for the PDF, drawn the first
time a format asks for them.
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


def _renderer(fig: Figure):
    """Draws ``fig`` as print PNG or SVG on request (kept alive until then)."""
    def render(kind: str) -> bytes:
        if kind == "png_print":
            return _save(fig, "png", dpi=PRINT_DPI)
        with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "socialhealth"}):
            return _save(fig, "svg", metadata={"Date": None})
    return render


def to_report_figure(fig: Figure, title: str, caption: str = "") -> ReportFigure:
    """Render ``fig`` to PNG at ``DPI`` now; the ``PRINT_DPI`` PNG and the SVG are drawn when
    a format first asks for them (:meth:`ReportFigure.print_png`, :meth:`ReportFigure.vector`).
    """
    png = _save(fig, "png", dpi=DPI)
    w, h = fig.get_size_inches()
    return ReportFigure(title=title, png=png, caption=caption,
                        width_px=int(round(w * DPI)), height_px=int(round(h * DPI)),
                        width_in=float(w), height_in=float(h), render=_renderer(fig))
