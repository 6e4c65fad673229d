"""Survival curves (design-based Kaplan-Meier / Aalen) as step functions with CI bands."""
from __future__ import annotations

from matplotlib.axes import Axes

from socialhealth._deprecation import renamed_parameter
from socialhealth.plot import style
from socialhealth.plot._steps import default_by, step_curves
from socialhealth.plot.frames import as_frame, require


@style.plain_text
@renamed_parameter("group", "by", since="0.1.0")
def survival(
    data,
    *,
    time: str = "time",
    by: str | None = None,
    surv: str = "surv",
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
    """Survival curves: a right-continuous step line per group with a stepped CI band.

    Parameters
    ----------
    data : DataFrame or result with ``.to_frame()``
        E.g. ``models.kaplan_meier(design, "followup_years", "died", by="lonely", se=True)``:
        columns ``[by], time, surv[, ci_low, ci_high]``, one row per event time.
    time, surv, ci_low, ci_high : str
        Column names.
    by : str, optional
        One curve per value (default: the column before ``time``, if there is one).
    percent : bool
        Show survival as a percentage.
    band : bool
        Shade the pointwise confidence interval (needs ``ci_low``/``ci_high``; curves estimated
        with ``se=False`` have none and are drawn without a band).
    xlabel, ylabel, title, caption : str, optional
        Labels; the caption defaults to the weighting statement (``None`` for none).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Each curve starts at 1 (100%) at time 0 and steps down at every event time
    (``drawstyle="steps-post"``); the band is pointwise, not a simultaneous band. Times before
    a group's first event have no interval (R gives NA there) and no band.

    In R: ``plot(svykm(Surv(time, status) ~ group, design, se = TRUE), pars = list(col = ...),
    ci = TRUE)``.

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth import plot
    >>> km = pd.DataFrame({"lonely": [False, False, True, True], "time": [1.0, 3.0, 1.0, 2.0],
    ...                    "surv": [0.9, 0.8, 0.85, 0.6], "ci_low": [0.85, 0.7, 0.8, 0.5],
    ...                    "ci_high": [0.95, 0.9, 0.9, 0.7]})
    >>> ax = plot.survival(km)
    >>> len(ax.get_lines())
    2
    """
    frame = as_frame(data)
    require(frame, [time, surv], "survival()")
    by = default_by(frame, time, by, "survival()")
    ax = style.new_axes(ax, (6.4, 4.2))
    scale = 100.0 if percent else 1.0
    step_curves(ax, frame, time, surv, by=by, ci_low=ci_low, ci_high=ci_high, band=band,
                scale=scale, start=(0.0, 1.0))
    ax.set_xlim(left=0)
    style.tidy_axes(ax, grid="y")
    if ylabel is None:
        ylabel = "Surviving (%)" if percent else "Proportion surviving"
    style.set_labels(ax, xlabel=xlabel or style.axis_label(time), ylabel=ylabel, title=title)
    if by:
        style.group_legend(ax, by)
    style.add_caption(ax, caption)
    return ax
