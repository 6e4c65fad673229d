"""Distribution of an ordinal item by group: stacked horizontal 100% bars."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from socialhealth.errors import PlotError
from socialhealth.plot import style
from socialhealth.plot.frames import as_frame, by_columns, ordered_unique, require


@style.plain_text
def likert(
    data,
    *,
    by: str | list[str] | None = None,
    level: str = "level",
    estimate: str = "estimate",
    levels: list | None = None,
    colours: list | None = None,
    label_min: float = 0.05,
    xlabel: str = "Share of respondents (%)",
    ylabel: str | None = None,
    title: str | None = None,
    caption: str | None = style.SHARE_CAPTION,
    ax: Axes | None = None,
) -> Axes:
    """Stacked horizontal 100% bars: the distribution of an ordered item in each group.

    Parameters
    ----------
    data : DataFrame or result with ``.to_frame()``
        Proportions by group x level, e.g.
        ``design.mean("lonely_direct", by="age_group").to_frame()`` (columns
        ``[by...], term, level, estimate, ...``). Several items without ``by`` (e.g. the three
        UCLA-3 items) give one bar per item.
    by : str or list of str, optional
        Grouping column(s), one bar each (default: the by columns of the table; ``term`` too
        when the table holds several items).
    level, estimate : str
        Columns with the response level and its proportion.
    levels : list, optional
        Order of the levels, lowest first (default: order in the table, which follows the
        categorical order of the variable).
    colours : list, optional
        One colour per level (default: a colour-blind-safe light-to-dark ramp).
    label_min : float
        Write the percentage inside segments at least this wide (proportion; 0 = always).
    xlabel, ylabel, title, caption : str, optional
        Labels; the caption defaults to ``SHARE_CAPTION`` (weighted shares) (``None`` for none).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Each bar is rescaled to sum to 100% (it already does for a complete set of levels;
    available-case proportions of a categorical variable sum to 1). The first group is at the
    top; the legend above the bars lists the levels in order.

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth import plot
    >>> props = pd.DataFrame({"age_group": ["16-24"] * 3 + ["75+"] * 3, "term": "lonely_direct3",
    ...                       "level": ["hardly ever or never", "some of the time",
    ...                                 "often or always"] * 2,
    ...                       "estimate": [0.55, 0.35, 0.10, 0.65, 0.29, 0.06]})
    >>> ax = plot.likert(props)
    >>> len(ax.patches)
    6
    """
    frame = as_frame(data)
    require(frame, [level, estimate], "likert()")
    if by is None:
        by = by_columns(frame)
        if "term" in frame.columns and frame["term"].nunique() > 1:
            by = by + ["term"]
    by = [by] if isinstance(by, str) else list(by)
    require(frame, by, "likert()")
    frame = frame[frame[level].notna()]
    if frame.empty:
        raise PlotError("likert() needs one row per response level (a 'level' column); this "
                        "table has none. Use the mean of a categorical variable, e.g. "
                        "design.mean('lonely_direct', by='age_group').")
    bad = frame[estimate].isna()
    if bad.any():
        where = frame.loc[bad, by + [level]].astype(str).agg(" / ".join, axis=1).tolist()
        raise PlotError(f"likert(): the share of {where[:3]} is missing (NaN); a stacked bar "
                        "cannot show it. Drop those groups or fill the shares first.")
    lv = list(levels) if levels is not None else ordered_unique(frame[level].astype(str))
    key = (frame[by].astype(str).agg(" / ".join, axis=1) if by
           else pd.Series(["All"] * len(frame), index=frame.index))
    groups = list(dict.fromkeys(key))
    if "term" in by and len(by) == 1:
        names = [style.pretty(g) for g in groups]
    else:
        words = (frame[by].astype(str).map(style.level_text).agg(" / ".join, axis=1) if by
                 else key)
        first = dict(zip(key, words, strict=True)) if by else {}
        names = [first.get(g, g) for g in groups]
    wide = (frame.assign(_key=key.to_numpy(), _lev=frame[level].astype(str))
            .pivot_table(index="_key", columns="_lev", values=estimate, aggfunc="sum",
                         sort=False)
            .reindex(index=groups, columns=lv).fillna(0.0))
    totals = wide.sum(axis=1).to_numpy()
    if np.any(totals <= 0):
        raise PlotError("likert(): a group has no positive proportions to draw.")
    shares = wide.to_numpy() / totals[:, None]
    cols = list(colours) if colours is not None else style.sequential_colours(len(lv))
    if len(cols) < len(lv):
        raise PlotError(f"likert(): {len(lv)} levels but only {len(cols)} colours.")
    ax = style.new_axes(ax, (7.2, 1.6 + 0.45 * len(groups)))
    y = np.arange(len(groups))
    left = np.zeros(len(groups))
    for j, name in enumerate(lv):
        w = shares[:, j] * 100
        bars = ax.barh(y, w, left=left, height=0.7, color=cols[j], label=str(name),
                       edgecolor="white", linewidth=0.6)
        text_colour = "white" if style.is_dark(cols[j]) else "black"
        for rect, share in zip(bars, shares[:, j], strict=True):
            if share >= label_min and share > 0:
                ax.text(rect.get_x() + rect.get_width() / 2, rect.get_y() + rect.get_height() / 2,
                        f"{100 * share:.0f}", ha="center", va="center", color=text_colour,
                        fontsize=style.FONT["annotation"], gid="socialhealth-segment-label")
        left = left + w
    ax.set_yticks(y)
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
    style.tidy_axes(ax, grid=None)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    if ylabel is None:
        ylabel = " / ".join(style.pretty(b) for b in by) if by and by != ["term"] else ""
    item = ordered_unique(frame["term"]) if "term" in frame.columns else []
    legend_title = style.pretty(item[0]) if len(item) == 1 else None
    style.set_labels(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    # one legend row unless the labels are long: a legend wider than the figure made the
    # constrained layout shrink the bars to a sliver
    long_labels = sum(len(str(x)) for x in lv) > 70
    ncol = min(len(lv), 5) if not long_labels else max(1, min(3, (len(lv) + 1) // 2))
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=ncol, frameon=False,
              fontsize=style.FONT["annotation"], title=legend_title,
              title_fontsize=style.FONT["annotation"], alignment="left",
              handlelength=1.2, columnspacing=1.0)
    style.add_caption(ax, caption)
    return ax
