"""Weighted distribution functions (``design.cdf``) as step functions with CI bands."""
from __future__ import annotations

from matplotlib.axes import Axes

from socialhealth.plot import style
from socialhealth.plot._steps import default_by, step_curves
from socialhealth.plot.frames import as_frame, ordered_unique, require


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
    by = default_by(frame, "term", by, "cdf()")
    ax = style.new_axes(ax, (6.4, 4.2))
    scale = 100.0 if percent else 1.0
    step_curves(ax, frame, value, estimate, by=by, ci_low=ci_low, ci_high=ci_high, band=band,
                scale=scale,
                markers=(frame.groupby(by).size().max() if by else len(frame)) <= 12)
    style.tidy_axes(ax, grid="y")
    if xlabel is None:
        terms = ordered_unique(frame["term"]) if "term" in frame.columns else []
        xlabel = style.axis_label(str(terms[0])) if len(terms) == 1 else style.axis_label(value)
    if ylabel is None:
        ylabel = "At or below the value (%)" if percent else "Share at or below the value"
    style.set_labels(ax, xlabel=xlabel, ylabel=ylabel, title=title)
    if by:
        style.group_legend(ax, by)
    style.add_caption(ax, caption)
    return ax
