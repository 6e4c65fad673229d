"""Figures for the report: matplotlib figures made without pyplot, kept as PNG bytes."""
from __future__ import annotations

import io

from matplotlib.figure import Figure

from socialhealth.report.document import ReportFigure

DPI = 100


def new_figure(width: float = 8.0, height: float = 4.0, ncols: int = 1, **kw):
    """A figure (no pyplot, so no GUI backend is touched) and its axes."""
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False, **kw)[0]
    return fig, list(axes)


def to_report_figure(fig: Figure, title: str, caption: str = "") -> ReportFigure:
    """Render ``fig`` to PNG (``DPI`` dots per inch) and release it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    w, h = fig.get_size_inches()
    png = buf.getvalue()
    fig.clear()
    return ReportFigure(title=title, png=png, caption=caption,
                        width_px=int(round(w * DPI)), height_px=int(round(h * DPI)))
