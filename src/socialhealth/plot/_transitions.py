"""Transition table between two waves of a panel as a heat map with shares and CIs."""
from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from socialhealth.errors import PlotError
from socialhealth.plot import style
from socialhealth.plot.frames import as_frame, ordered_unique, require

#: Default caption of :func:`transitions`.
TRANSITION_CAPTION = ("Weighted transition shares (panel weights); 95% CIs from design-based "
                      "SEs (R svyciprop)")


def _panel_label(column, default: str) -> str:
    """``"poor_health@2010"`` -> ``"Poor health (2010)"``; ``None`` -> ``default``."""
    if not column:
        return default
    name, _, wave = str(column).rpartition("@")
    return f"{style.pretty(name)} ({wave})" if name else style.pretty(column)


@style.plain_text
def transitions(
    data,
    *,
    value: str = "row_share",
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    caption: str | None = TRANSITION_CAPTION,
    ax: Axes | None = None,
) -> Axes:
    """Heat map of a transition table: one row per state at the first wave, one column per
    state at the later wave, each cell its weighted share and CI.

    Parameters
    ----------
    data : TransitionTable or DataFrame
        A :func:`socialhealth.models.transitions` result or its ``to_frame()``: columns
        ``from_state, to_state`` and the share columns.
    value : {"row_share", "share"}
        ``"row_share"`` (default): the transition probabilities ``P(to | from)``, each row
        sums to 100%; ``"share"``: each cell's share of all persons linked at both waves.
        The CIs drawn are the matching ``row_ci_low/row_ci_high`` or ``ci_low/ci_high``
        columns; nothing is recomputed.
    xlabel, ylabel, title : str, optional
        Axis labels (defaults: the panel columns of the result in words, e.g.
        ``Poor health (2010)`` for ``poor_health@2010``, else ``To`` / ``From``) and title.
    caption : str, optional
        Caption under the axes; ``None`` for none.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The cells are an image (``ax.images[0]``, its array the shares); each cell is annotated
        ``"83%\\n(52-96)"``; cells with no person are blank (``"-"``).

    Raises
    ------
    PlotError
        ``value`` is not one of the two, or a needed column is absent.

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth import plot
    >>> t = pd.DataFrame({"from_state": ["False", "False", "True", "True"],
    ...     "to_state": ["False", "True", "False", "True"],
    ...     "row_share": [0.833, 0.167, 0.333, 0.667], "row_ci_low": [0.5, 0.03, 0.1, 0.3],
    ...     "row_ci_high": [0.96, 0.5, 0.7, 0.9]})
    >>> ax = plot.transitions(t)
    >>> [x.get_text() for x in ax.texts[:2]]
    ['83%\\n(50-96)', '17%\\n(3-50)']

    In R: ``prop.table(svytable(~from + to, design), 1)``, drawn e.g. with ``heatmap()``.
    """
    cols = {"row_share": ("row_share", "row_ci_low", "row_ci_high"),
            "share": ("share", "ci_low", "ci_high")}
    if value not in cols:
        raise PlotError(f"value must be 'row_share' or 'share', not {value!r}.")
    est, lo, hi = cols[value]
    frame = as_frame(data)
    require(frame, ["from_state", "to_state", est], "transitions()")
    has_ci = lo in frame.columns and hi in frame.columns
    levels = getattr(data, "levels", None) or []
    rows = ordered_unique(frame["from_state"].astype(str))
    tos = ordered_unique(frame["to_state"].astype(str))
    if levels:
        rows = [v for v in map(str, levels) if v in rows] + [v for v in rows if v not in
                                                             set(map(str, levels))]
        tos = [v for v in map(str, levels) if v in tos] + [v for v in tos if v not in
                                                           set(map(str, levels))]
    grid = np.full((len(rows), len(tos)), np.nan)
    low = np.full_like(grid, np.nan)
    high = np.full_like(grid, np.nan)
    for r in frame.itertuples(index=False):
        i, j = rows.index(str(r.from_state)), tos.index(str(r.to_state))
        grid[i, j] = float(getattr(r, est))
        if has_ci:
            low[i, j], high[i, j] = float(getattr(r, lo)), float(getattr(r, hi))
    ax = style.new_axes(ax, (max(4.5, 1.6 + 1.15 * len(tos)), max(3.2, 1.4 + 0.75 * len(rows))))
    cmap = style.mpl.colormaps["YlGnBu"]
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(tos)):
            v = grid[i, j]
            if np.isnan(v):
                ax.text(j, i, "-", ha="center", va="center", color=style.GREY,
                        fontsize=style.FONT["annotation"])
                continue
            label = f"{100 * v:.0f}%"
            if has_ci and not np.isnan(low[i, j]):
                label += f"\n({100 * low[i, j]:.0f}-{100 * high[i, j]:.0f})"
            ax.text(j, i, label, ha="center", va="center", fontsize=style.FONT["annotation"],
                    color="white" if style.is_dark(cmap(v)) else "black")
    ax.set_xticks(np.arange(len(tos)))
    ax.set_xticklabels([style.level_text(v) for v in tos])
    ax.set_yticks(np.arange(len(rows)))
    ax.set_yticklabels([style.level_text(v) for v in rows])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.tick_params(labelsize=style.FONT["tick"])
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.05, pad=0.03)
    bar.ax.yaxis.set_major_formatter(style.mpl.ticker.PercentFormatter(xmax=1, decimals=0))
    bar.set_label("P(to | from)" if value == "row_share" else "Share of linked persons",
                  fontsize=style.FONT["annotation"])
    style.set_labels(ax, xlabel=xlabel or _panel_label(getattr(data, "to_column", None), "To"),
                     ylabel=ylabel or _panel_label(getattr(data, "from_column", None), "From"),
                     title=title)
    style.add_caption(ax, caption)
    return ax
