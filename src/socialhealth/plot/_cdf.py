"""Weighted distribution functions (``design.cdf``) as step functions with CI bands."""
from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from socialhealth.plot import style
from socialhealth.plot.frames import as_frame, no_missing_groups, ordered_unique, require


@style.plain_text
def cdf(
    data,
    *,
    by: str | None = None,
    value: str = "level",
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
    """Distribution functions: a right-continuous step line per group with a stepped CI band.

    Parameters
    ----------
    data : DataFrame or result with ``.to_frame()``
        E.g. ``design.cdf("ucla3_score", by="sex")``: columns ``[by], term, level, estimate[,
        ci_low, ci_high]``, one row per value.
    by : str, optional
        One curve per value of this column (default: the column before ``term``, if any).
    value, estimate, ci_low, ci_high : str
        Column names of the values ``v``, of ``F(v)`` and of its interval.
    percent : bool
        Show ``F(v)`` as a percentage.
    band : bool
        Shade the pointwise confidence interval.
    xlabel, ylabel, title, caption : str, optional
        Labels; the x label defaults to the variable (``term``), the caption to the weighting
        statement (``None`` for none).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    ``F`` steps up at every value and stays there until the next (``drawstyle="steps-post"``);
    the band is pointwise, not simultaneous.

    In R: ``plot(svycdf(~x, design))`` (the step function; no band).

    Examples
    --------
    >>> import socialhealth as sh
    >>> d = sh.datasets.load("demo").design
    >>> ax = sh.plot.cdf(d.cdf("ucla3_score", by="sex"), xlabel="UCLA-3 loneliness score")
    >>> len(ax.get_lines()), ax.get_legend().get_title().get_text()
    (2, 'Sex')
    """
    frame = as_frame(data)
    require(frame, [value, estimate], "cdf()")
    if by is None and "term" in frame.columns:
        before = list(frame.columns[: list(frame.columns).index("term")])
        if len(before) > 1:
            from socialhealth.errors import PlotError

            raise PlotError(f"cdf() draws one curve per value of one column; the table is "
                            f"grouped by {before}. Pass by= and subset the table.")
        by = before[0] if before else None
    if by is not None:
        require(frame, [by], "cdf()")
        no_missing_groups(frame, [by], "cdf()")
    has_ci = band and ci_low in frame.columns and ci_high in frame.columns
    groups = ordered_unique(frame[by]) if by else [None]
    ax = style.new_axes(ax, (6.4, 4.2))
    scale = 100.0 if percent else 1.0
    for k, g in enumerate(groups):
        sub = (frame if g is None else frame[frame[by] == g]).sort_values(value)
        x = sub[value].to_numpy(dtype=float)
        y = sub[estimate].to_numpy(dtype=float) * scale
        gs = style.group_style(k)
        ax.plot(x, y, drawstyle="steps-post", color=gs["colour"], linewidth=1.8,
                linestyle=gs["linestyle"], marker="o" if len(x) <= 12 else None, markersize=3,
                label=None if g is None else style.level_text(g), zorder=3)
        if has_ci:
            lo = sub[ci_low].to_numpy(dtype=float) * scale
            hi = sub[ci_high].to_numpy(dtype=float) * scale
            ok = ~(np.isnan(lo) | np.isnan(hi))
            if ok.any():
                ax.fill_between(x[ok], lo[ok], hi[ok], step="post", color=gs["colour"],
                                alpha=0.18, linewidth=0, zorder=2)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
    ax.set_ylim(bottom=0, top=scale * 1.02)
    style.tidy_axes(ax, grid="y")
    if xlabel is None:
        terms = ordered_unique(frame["term"]) if "term" in frame.columns else []
        xlabel = style.pretty(str(terms[0])) if len(terms) == 1 else style.pretty(value)
    if ylabel is None:
        ylabel = "At or below the value (%)" if percent else "Share at or below the value"
    style.set_labels(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    if by:
        ax.legend(title=style.pretty(by), frameon=False, fontsize=style.FONT["annotation"],
                  title_fontsize=style.FONT["annotation"], loc="best")
    style.add_caption(ax, caption)
    return ax
