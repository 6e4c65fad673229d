"""Prevalence (or any proportion / mean) by group with confidence intervals."""
from __future__ import annotations

from typing import Literal

import numpy as np
from matplotlib.axes import Axes

from socialhealth._options import is_choice
from socialhealth._text import show_given
from socialhealth._deprecation import renamed_parameter
from socialhealth.design.structure import check_flag
from socialhealth.errors import PlotError
from socialhealth.plot import style
from socialhealth.plot.frames import (as_frame, by_columns, needed, no_duplicates,
                                      no_missing_groups, ordered_unique, require, single_level)


@style.plain_text
@renamed_parameter("hue", "by", since="0.1.0")
def prevalence(
    data,
    *,
    x: str | None = None,
    by: str | None = None,
    level=None,
    estimate: str = "estimate",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    kind: Literal["bar", "point"] = "bar",
    percent: bool = True,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    caption: str | None = style.DEFAULT_CAPTION,
    ax: Axes | None = None,
) -> Axes:
    """Estimates with confidence intervals by group: bars (or points) with error bars.

    Parameters
    ----------
    data : DataFrame or result with ``.to_frame()``
        An estimate table such as ``design.proportion("lonely", by="age_group")``: columns
        ``[by columns...], term, level, estimate, ci_low, ci_high``.
    x : str, optional
        Column on the horizontal axis (default: the first by column, else ``term``).
    by : str, optional
        Column for side-by-side bars in several colours (default: the second by column, if
        any). A legend names the colours.
    level : optional
        For the mean of a categorical variable (one row per level), the level to show, e.g.
        ``"Often/always"``.
    estimate, ci_low, ci_high : str
        Column names.
    kind : {"bar", "point"}
        Bars with error bars, or points with error bars (better when 0 is not meaningful).
    percent : bool
        Proportions shown as percentages (axis from 0%).
    xlabel, ylabel, title : str, optional
        Axis labels (defaults from the column / term names) and title.
    caption : str, optional
        Caption under the axes; the default states the weighting; ``None`` for none.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The CIs drawn are the ``ci_low`` / ``ci_high`` columns (e.g. the logit intervals of
    ``proportion(method="logit")``, as R ``svyciprop``); nothing is recomputed. A missing
    estimate is written "not estimable" at its place, a missing interval "no CI"; boolean
    groups are labelled Yes / No.

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth import plot
    >>> est = pd.DataFrame({"age_group": ["16-24", "25-34", "35-44"], "term": "lonely",
    ...                     "level": None, "estimate": [0.09, 0.07, 0.06],
    ...                     "ci_low": [0.07, 0.05, 0.05], "ci_high": [0.11, 0.09, 0.08]})
    >>> ax = plot.prevalence(est)
    >>> ax.get_ylabel()
    'Prevalence of lonely (%)'
    """
    if not is_choice(kind, ("bar", "point")):
        raise PlotError(f"kind must be 'bar' or 'point', not {show_given(kind)}.")
    for name, column in (("x", x), ("by", by)):
        if column is not None and not isinstance(column, str):
            raise PlotError(f"prevalence(): {name}= takes one column name of the table (a "
                            f"string), not {show_given(column)}.")
    needed("prevalence()", estimate=estimate, ci_low=ci_low, ci_high=ci_high)
    percent = check_flag(percent, "percent", "prevalence()")
    frame = single_level(as_frame(data), level, "prevalence()")
    require(frame, [estimate, ci_low, ci_high], "prevalence()")
    bys = by_columns(frame)
    terms = ordered_unique(frame["term"]) if "term" in frame.columns else []
    if x is None:
        x = bys[0] if bys else ("term" if "term" in frame.columns else None)
        if x is None:
            raise PlotError("prevalence() needs x= (the grouping column) for this table.")
    if by is None:
        rest = [b for b in bys if b != x]
        if rest:
            by = rest[0]
        elif x != "term" and len(terms) > 1:
            by = "term"
    require(frame, [x, by], "prevalence()")
    extra = [b for b in bys if b not in (x, by)]
    if extra:
        raise PlotError(f"prevalence() shows at most two grouping columns (x= and by=); the "
                        f"table is also grouped by {extra}. Subset the table first.")
    no_missing_groups(frame, [x, by], "prevalence()")
    no_duplicates(frame, [x, by], "prevalence()")
    xs = ordered_unique(frame[x])
    hues = ordered_unique(frame[by]) if by else [None]
    ax = style.new_axes(ax, (max(4.5, 1.0 + 0.55 * len(xs) * max(1, len(hues)) ** 0.7), 4.2))
    scale = 100.0 if percent else 1.0
    width = 0.8 / len(hues)
    missing: list = []   # (positions, estimates, lows, highs) per hue, marked after the limits
    for k, h in enumerate(hues):
        sub = frame if h is None else frame[frame[by] == h]
        sub = sub.set_index(sub[x].astype(object)).reindex(xs)
        e = sub[estimate].to_numpy(dtype=float) * scale
        lo = sub[ci_low].to_numpy(dtype=float) * scale
        hi = sub[ci_high].to_numpy(dtype=float) * scale
        pos = np.arange(len(xs)) - 0.4 + width * (k + 0.5)
        gs = style.group_style(k)
        colour = gs["colour"]
        lab = None if h is None else style.level_text(h)
        if kind == "bar":
            ax.bar(pos, e, width=width * 0.92, color=colour, label=lab, zorder=2,
                   hatch=gs["hatch"] or None, edgecolor="white" if gs["hatch"] else None)
            ax.errorbar(pos, e, yerr=[e - lo, hi - e], fmt="none", ecolor="black",
                        elinewidth=1.1, capsize=3, zorder=3)
        else:
            ax.errorbar(pos, e, yerr=[e - lo, hi - e], fmt=gs["marker"],
                        color=colour, ecolor=colour, elinewidth=1.3, capsize=3, markersize=6,
                        label=lab, zorder=3)
        missing.append((pos, e, lo, hi))
    ax.set_xticks(np.arange(len(xs)))
    ax.set_xticklabels([style.level_text(v) for v in xs])
    if percent:
        ax.yaxis.set_major_formatter(style.PercentTicks())
    if kind == "bar" or percent:
        ax.set_ylim(bottom=0)
    base = ax.get_xaxis_transform()
    for pos, e, lo, hi in missing:
        for p, ei, li, hi_ in zip(pos, e, lo, hi, strict=True):
            if not np.isfinite(ei):
                style.mark_missing(ax, p, 0.01, "not\nestimable", xycoords=base)
            elif np.isnan(li) or np.isnan(hi_):
                style.mark_missing(ax, p, ei, "no CI")
    style.tidy_axes(ax, grid="y")
    if ylabel is None:
        what = (f"Prevalence of {style.term_text(terms[0])}" if len(terms) == 1 and by != "term"
                else "Prevalence")
        if level is not None:
            what += f": {level}"
        ylabel = f"{what} (%)" if percent else what
    style.set_labels(ax, xlabel=xlabel or style.axis_label(x), ylabel=ylabel, title=title)
    if by:
        style.group_legend(ax, by, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    style.add_caption(ax, caption)
    return ax
