"""Estimates over time with confidence bands, optionally one line per group."""
from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from socialhealth._deprecation import renamed_parameter
from socialhealth.errors import PlotError
from socialhealth.plot import style
from socialhealth.plot.frames import (as_frame, by_columns, no_duplicates, no_missing_groups,
                                      ordered_unique, require, single_level)


@style.plain_text
@renamed_parameter("group", "by", since="0.1.0")
def trend(
    data,
    *,
    x: str = "year",
    by: str | None = None,
    level=None,
    estimate: str = "estimate",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    percent: bool = True,
    band: bool = True,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    caption: str | None = style.DEFAULT_CAPTION,
    ax: Axes | None = None,
) -> Axes:
    """Estimates over years: a line with markers and a shaded confidence band per group.

    Parameters
    ----------
    data : DataFrame or result with ``.to_frame()``
        E.g. ``design.proportion("lonely", by=["year", "country"])``: columns ``year``,
        ``[by]``, ``estimate``, ``ci_low``, ``ci_high``.
    x : str
        Time column (default ``"year"``).
    by : str, optional
        One line per value (default: the other by column, if any). Until 0.2 ``group=``.
    level : optional
        For a categorical variable's mean, the level to show.
    estimate, ci_low, ci_high : str
        Column names.
    percent : bool
        Show proportions as percentages.
    band : bool
        Shade the CI as a band (``True``) or draw error bars (``False``).
    xlabel, ylabel, title, caption : str, optional
        Labels; the caption defaults to the weighting statement (``None`` for none).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Pointwise CIs of each year's estimate, not a simultaneous band. Years without a row leave
    a gap; a row whose estimate is missing is written "not estimable" at its year, one whose
    interval is missing "no CI".

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth import plot
    >>> est = pd.DataFrame({"year": [2016, 2017, 2018], "term": "lonely", "level": None,
    ...                     "estimate": [0.05, 0.055, 0.06], "ci_low": [0.04, 0.045, 0.05],
    ...                     "ci_high": [0.06, 0.065, 0.07]})
    >>> ax = plot.trend(est)
    >>> len(ax.get_lines())
    1
    """
    frame = single_level(as_frame(data), level, "trend()")
    require(frame, [x, estimate, ci_low, ci_high], "trend()")
    if by is None:
        rest = [b for b in by_columns(frame) if b != x]
        if len(rest) > 1:
            raise PlotError(f"trend() draws one line per value of one column; the table is "
                            f"grouped by {rest}. Pass by= and subset the table.")
        by = rest[0] if rest else None
    require(frame, [by], "trend()")
    no_missing_groups(frame, [x, by], "trend()")
    no_duplicates(frame, [x, by], "trend()")
    groups = ordered_unique(frame[by]) if by else [None]
    missing: list = []
    ax = style.new_axes(ax, (6.4, 4.2))
    scale = 100.0 if percent else 1.0
    for k, g in enumerate(groups):
        sub = frame if g is None else frame[frame[by] == g]
        sub = sub.sort_values(x)
        t = sub[x].to_numpy(dtype=float)
        e = sub[estimate].to_numpy(dtype=float) * scale
        lo = sub[ci_low].to_numpy(dtype=float) * scale
        hi = sub[ci_high].to_numpy(dtype=float) * scale
        gs = style.group_style(k)
        colour = gs["colour"]
        ax.plot(t, e, marker=gs["marker"], color=colour, linewidth=1.8, linestyle=gs["linestyle"],
                markersize=5, label=None if g is None else style.level_text(g), zorder=3)
        missing.append((t, e, lo, hi, colour))
        if band:
            ax.fill_between(t, lo, hi, color=colour, alpha=0.18, linewidth=0, zorder=2)
        else:
            ax.errorbar(t, e, yerr=[e - lo, hi - e], fmt="none", ecolor=colour, capsize=3,
                        zorder=2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if percent:
        ax.yaxis.set_major_formatter(style.PercentTicks())
        ax.set_ylim(bottom=0)
    base = ax.get_xaxis_transform()
    for t, e, lo, hi, colour in missing:
        for ti, ei, li, hi_ in zip(t, e, lo, hi, strict=True):
            if not np.isfinite(ei):
                style.mark_missing(ax, ti, 0.01, "not\nestimable", xycoords=base, color=colour)
            elif np.isnan(li) or np.isnan(hi_):
                style.mark_missing(ax, ti, ei, "no CI", color=colour)
    style.tidy_axes(ax, grid="y")
    terms = ordered_unique(frame["term"]) if "term" in frame.columns else []
    if ylabel is None:
        what = f"Prevalence of {style.term_text(terms[0])}" if len(terms) == 1 else "Prevalence"
        if level is not None:
            what += f": {level}"
        ylabel = f"{what} (%)" if percent else what
    style.set_labels(ax, xlabel=xlabel or style.axis_label(x), ylabel=ylabel, title=title)
    if by:
        style.group_legend(ax, by)
    style.add_caption(ax, caption)
    return ax
