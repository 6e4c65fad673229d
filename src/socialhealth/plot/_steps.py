"""Right-continuous step curves with stepped pointwise CI bands, one per group: the drawing
shared by :func:`socialhealth.plot.survival` and :func:`socialhealth.plot.cdf`."""
from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from socialhealth.plot import style
from socialhealth.plot.frames import no_missing_groups, ordered_unique, require


def default_by(frame, anchor: str, by: str | None, what: str) -> str | None:
    """``by``, or the one column before ``anchor`` (none: ``None``); more than one column
    before it is an error that asks for ``by=``."""
    if by is None and anchor in frame.columns:
        before = list(frame.columns[: list(frame.columns).index(anchor)])
        if len(before) > 1:
            from socialhealth.errors import PlotError

            raise PlotError(f"{what} draws one curve per value of one column; the table is "
                            f"grouped by {before}. Pass by= and subset the table.")
        by = before[0] if before else None
    if by is not None:
        require(frame, [by], what)
        no_missing_groups(frame, [by], what)
    return by


def step_curves(ax: Axes, frame, x: str, y: str, *, by: str | None, ci_low: str, ci_high: str,
                band: bool, scale: float, start: tuple[float, float] | None = None,
                markers: bool = False) -> None:
    """Draw one ``steps-post`` line of ``y`` against ``x`` per value of ``by`` (Okabe-Ito
    colours and line styles), beginning at ``start`` (x, y) when given, and shade the pointwise
    interval ``ci_low``-``ci_high`` where both ends are known (``band`` and the columns). The
    y axis runs from 0 to just above ``scale`` (a percent axis when ``scale`` is 100)."""
    has_ci = band and ci_low in frame.columns and ci_high in frame.columns
    groups = ordered_unique(frame[by]) if by else [None]
    for k, g in enumerate(groups):
        sub = (frame if g is None else frame[frame[by] == g]).sort_values(x)
        xs = sub[x].to_numpy(dtype=float)
        ys = sub[y].to_numpy(dtype=float) * scale
        line_x, line_y = xs, ys
        if start is not None:
            line_x = np.concatenate([[start[0]], xs])
            line_y = np.concatenate([[start[1] * scale], ys])
        gs = style.group_style(k)
        ax.plot(line_x, line_y, drawstyle="steps-post", color=gs["colour"], linewidth=1.8,
                linestyle=gs["linestyle"], marker="o" if markers else None, markersize=3,
                label=None if g is None else style.level_text(g), zorder=3)
        if has_ci:
            lo = sub[ci_low].to_numpy(dtype=float) * scale
            hi = sub[ci_high].to_numpy(dtype=float) * scale
            ok = ~(np.isnan(lo) | np.isnan(hi))
            if ok.any():
                ax.fill_between(xs[ok], lo[ok], hi[ok], step="post", color=gs["colour"],
                                alpha=0.18, linewidth=0, zorder=2)
    if scale == 100.0:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
    ax.set_ylim(bottom=0, top=scale * 1.02)
