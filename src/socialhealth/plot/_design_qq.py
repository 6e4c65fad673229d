"""Design-based quantile-quantile plots (R ``svyqqmath``, ``svyqqplot``).

Against a distribution (R ``svyqqmath(~y, design)``)
    The ``n`` rows with a value are sorted by ``y`` (ties keep the row order); with
    ``C_k = w_(1) + ... + w_(k)`` the running weight total, row ``k`` is drawn at
    ``(G^{-1}(p_k), y_(k))``, where ``p_k = C_k / C_n * n / (n + 1)`` is the estimated
    population share at or below ``y_(k)`` (the weighted empirical CDF), shrunk by
    ``n / (n + 1)`` so that the largest value is not sent to infinity, and ``G^{-1}`` the quantile
    function compared with (the standard normal by default). With equal weights
    ``p_k = k / (n + 1)``, the classical plotting position of ``qqnorm`` (Weibull's).

Against another variable (R ``svyqqplot(y ~ x, design)``)
    For the ``n`` rows with both values, the design-based quantiles of each variable at the
    probabilities ``p_i = (i - 1/2) / n``, ``i = 1..n``: the points ``(Q_x(p_i), Q_y(p_i))``,
    ``Q`` the quantile rule ``qrule`` of :meth:`~socialhealth.SurveyDesign.quantile` applied to
    the weighted empirical CDF (``"math"``: the smallest value whose estimated population
    share at or below it reaches ``p``). Each point is thus ``design.quantile(x, p_i)``
    against ``design.quantile(y, p_i)``, with one exception under ``"math"``: below the first
    step of the CDF (``p_i < F(x_(1))``) R survey's ``"math"`` rule, and for parity
    ``design.quantile``, return the second-smallest value; the plot takes the smallest, the
    inverse CDF, so that the lowest point of an equal-weight sample is its minimum. With equal
    weights and ``qrule="math"`` the points are the sorted values of ``x`` against those of
    ``y`` (the classical ``qqplot``): ``p_i`` lies half a step from every jump ``k / n`` of
    the CDF. R ``svyqqplot`` evaluates its rule
    at ``i / n``, exactly at the jumps, where the rounding of the running weight sums decides
    between two neighbouring values (with the equal weights 30.97 of the ``apisrs`` example R's
    ``qrule_math`` at ``i / 200`` moves 40 of 200 points to the next value).

Against a variable of another design (R ``svyqqplot(y ~ x, design, designx = other)``)
    The same points with each variable's quantiles taken in its own design: ``Q_y`` from
    the ``n`` rows of ``design`` with a value of ``y``, ``Q_x`` from the ``m`` rows of the other
    design with a value of ``x``, at ``p_i = (i - 1/2) / k``, ``i = 1..k``, ``k = min(n, m)``
    (R's number of points). Each design's estimated population distribution is thus compared
    with the other's (two surveys, two years, two populations).

References
----------
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, chapter 4 (graphics).
"""
from __future__ import annotations

from typing import Callable, cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy import stats

from socialhealth._options import is_choice
from socialhealth._text import show, show_given
from socialhealth.design.extension import quantile_function as weighted_quantiles
from socialhealth.design.extension import sorted_with_r_sums
from socialhealth.design.quantile import QRULES
from socialhealth.errors import PlotError
from socialhealth.plot import style
from socialhealth.plot.design_plots import (DESIGN_CAPTION, DesignPlot, _groups,
                                            _numeric_column)


def _inverse_cdf(y: np.ndarray, w: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The smallest ``y`` whose weighted share at or below it reaches each ``p``: rows sorted
    (ties in row order), the first with ``C_k >= p C_n`` (running sums rounded as R's)."""
    order, c = sorted_with_r_sums(y, w)
    k = np.searchsorted(c, probs * c[-1], side="left")
    return y[order][np.minimum(k, len(y) - 1)]


def _normal_positions(y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(p_k, y_(k))`` of the module notes: plotting positions and sorted values."""
    order, c = sorted_with_r_sums(y, w)
    n = len(y)
    return c / c[-1] * (n / (n + 1)), y[order]


@style.plain_text
def qq(
    design,
    variable: str,
    *,
    against: str | Callable | None = None,
    against_design=None,
    by: str | None = None,
    qrule: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    caption: str | None = DESIGN_CAPTION,
    ax: Axes | None = None,
) -> DesignPlot:
    """Design-based quantile-quantile plot of a numeric variable.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    variable : str
        Numeric column, drawn on the vertical axis.
    against : "normal", str or callable, optional
        ``"normal"`` (the default without ``against_design``): the estimated population
        distribution of ``variable`` against the standard normal (R ``svyqqmath``). A column
        name: against the estimated population distribution of that numeric column (R
        ``svyqqplot``), on the horizontal axis. A callable: a quantile function taking an array
        of probabilities (e.g. ``scipy.stats.expon.ppf``; R ``svyqqmath(null = qexp)``).
    against_design : SurveyDesign or ReplicateDesign, optional
        A second design in which the ``against`` column is looked up (R ``designx``), e.g.
        another survey or year: the estimated population distribution of ``variable`` in
        ``design`` against that of ``against`` in ``against_design``. ``against`` then
        defaults to ``variable`` (the same variable in both designs) and must be a column.
    by : str, optional
        One set of points per group, each the distribution within its domain (with
        ``against_design``, the same domain of each design: ``by`` must be a column of both).
    qrule : str, optional
        Quantile rule when ``against`` is a column (default ``"math"``, the inverse of the
        weighted empirical CDF); one of the rules of
        :meth:`~socialhealth.SurveyDesign.quantile` (``"hf8"`` is R ``svyqqplot``'s default
        rule). Not used against a distribution.
    xlabel, ylabel, title : str, optional
    caption : str, optional
        Default states the weighting; ``None`` for none.
    ax : matplotlib Axes, optional

    Returns
    -------
    DesignPlot
        ``.ax``, ``.figure``, ``.n_missing`` (rows left out for a missing value);
        ``to_frame()`` has one row per point drawn: ``[by], probability, x, y`` (against a
        distribution ``x`` is its quantile at ``probability`` and ``y`` the observed value;
        against a column ``x`` and ``y`` are the two variables' quantiles at ``probability``).
        ``n_missing`` counts the rows of both designs with ``against_design``.

    Raises
    ------
    PlotError
        Not a design; an absent or non-numeric column; no non-missing values (in a group);
        an unknown ``qrule``, or a ``qrule`` against a distribution; ``by`` not a column;
        ``against_design`` not a design, or with ``against`` a distribution.

    Notes
    -----
    Formulas in :mod:`socialhealth.plot._design_qq`. Rows with a missing value of
    ``variable`` (or of the ``against`` column) are left out, counted in ``n_missing``, and
    rows outside a subset are not used (R ``svyqqmath`` on ``subset(design, ...)``, which
    drops them; on a *calibrated* design R's subset keeps them with weight 0, and
    ``svyqqmath`` then draws them too, stacked on their neighbours' positions, and counts them
    in ``n``). Only the weights enter, so a replicate design draws the same points as its
    Taylor original.

    Against a distribution the points equal R's (tests: 1e-10). Against a column R survey
    4.1-1 has no fully design-based counterpart: with a single design ``svyqqplot`` draws
    ``sort(x)`` against ``sort(y)``, the weights unused (it applies ``qrule`` only when the
    two variables have different numbers of rows, i.e. with a second design ``designx``, and
    then to the longer one only, at ``i / n``). socialhealth draws the weighted quantiles of
    both at ``(i - 1/2) / n``; they equal R's ``qrule`` functions evaluated there (tests:
    1e-10; under ``"math"`` except below the first step of the CDF, see the module notes),
    and R's drawn ``svyqqplot`` points when the weights are equal. A negative weight
    (linear calibration) can take a plotting position against a distribution outside
    ``(0, 1)``; such a point has no quantile and is not drawn (NaN in the table), as in R.

    With ``against_design`` the points are the weighted quantiles of each variable in its own
    design at ``(i - 1/2) / k``, ``k`` the smaller of the two numbers of rows with a value;
    they equal R's ``qrule`` functions evaluated there on each design (tests: 1e-10, under
    ``"math"`` with the exception of the module notes). R 4.1-1's ``designx`` differs in
    three ways. It weights only the design with more rows, at ``i / k``, and draws the
    other's sorted values unweighted (under the default ``qrule="math"`` socialhealth's points
    equal R's drawn points when both designs have equal weights and as many rows, and R's
    drawn values of the smaller design when its weights are equal). It looks up the
    *left-hand* variable in ``designx``, not the right-hand one as its help page says
    (``svyqqplot(api00 ~ api99, d, designx = d2)`` draws ``api00`` of ``d2``, labelled
    ``api99``); socialhealth looks up ``against``. And it does not remove missing values
    there (a missing value stops it: "'x' and 'y' lengths differ"); socialhealth leaves them
    out of each design, counted in ``n_missing``.

    In R: ``svyqqmath(~variable, design)``; ``svyqqplot(variable ~ against, design)``; each
    group of ``by`` as ``svyqqmath(~variable, subset(design, by == level))``;
    ``svyqqplot(variable ~ variable, design, designx = against_design)`` for
    ``against_design`` (R uses the left-hand variable in both designs).

    References
    ----------
    Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, chapter 4.

    Examples
    --------
    >>> import socialhealth as sh
    >>> api = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(api, weights="pw", strata="stype", fpc="fpc")
    >>> p = sh.plot.qq(d, "api00")
    >>> p.to_frame().head(3).round(4)
       probability       x      y
    0       0.0024 -2.8167  366.0
    1       0.0095 -2.3444  461.0
    2       0.0128 -2.2323  476.0
    >>> sh.plot.qq(d, "api00", against="api99").to_frame().tail(1)
         probability      x      y
    199       0.9975  875.0  900.0

    Enrolment in the stratified sample against the one-stage cluster sample, each weighted:

    >>> clus = sh.datasets.load_example("apiclus1")
    >>> dclus = sh.SurveyDesign(clus, weights="pw", psu="dnum", fpc="fpc")
    >>> sh.plot.qq(d, "enroll", against_design=dclus).to_frame().tail(1).round(4)
         probability       x       y
    118       0.9958  3200.0  3617.0
    """
    what = "qq()"
    y_all = _numeric_column(design, variable, what)
    if against_design is not None:
        if against is None:
            against = variable
        if not isinstance(against, str) or against == "normal":
            raise PlotError(f"{what}: against_design= compares {variable!r} with a column of "
                            "the second design; give against= a column name (by default the "
                            "same variable), not a distribution.")
    elif against is None:
        against = "normal"
    to_normal = isinstance(against, str) and against == "normal"
    to_column = isinstance(against, str) and not to_normal
    if not (to_normal or to_column or callable(against)):
        raise PlotError(f"{what}: against= takes 'normal', a column name or a quantile "
                        f"function, not {show_given(against)}.")
    other = design if against_design is None else against_design
    if to_column:
        if qrule is None:
            qrule = "math"
        if not is_choice(qrule, QRULES):
            raise PlotError(f"{what}: unknown qrule {show_given(qrule)}; use one of "
                            f"{', '.join(QRULES)}.")
        x_all = _numeric_column(other, str(against), what if against_design is None
                                else f"{what} (second design, against_design)")
    else:
        if qrule is not None:
            raise PlotError(f"{what}: qrule= applies when against= is a column; against a "
                            "distribution the plotting positions are fixed (leave qrule out).")
        x_all = np.zeros_like(y_all)
    w_all = np.asarray(design.weights, dtype=float)
    inside = design.in_subset
    if against_design is None:
        complete = np.isfinite(y_all) & np.isfinite(x_all)
        complete_x = complete
        wx_all, inside_x = w_all, inside
    else:
        complete = np.isfinite(y_all)
        complete_x = np.isfinite(x_all)
        wx_all = np.asarray(against_design.weights, dtype=float)
        inside_x = against_design.in_subset
    names = f"{variable!r}" + (f" and {against!r}" if to_column else "")
    if against_design is not None:
        names = f"{variable!r}"
        if not (complete_x & inside_x).any():
            raise PlotError(f"{what}: no row of the second design (against_design) has a value "
                            f"of {against!r}; nothing to plot.")
    if not (complete & inside).any():
        raise PlotError(f"{what}: no row has a value of {names}; nothing to plot.")
    quantile_function = stats.norm.ppf if to_normal else cast(Callable, against)
    rule = str(qrule)
    groups = _groups(design, by, what)
    if against_design is not None and by is not None:
        if by not in against_design.data.columns:
            raise PlotError(f"{what}: by column {by!r} is not in the data of the second design "
                            "(against_design); both designs need it.")
        gx = against_design.data[by]
        groups_x = [(gx == label).fillna(False).to_numpy(dtype=bool) for label, _ in groups]
    else:
        groups_x = [mask for _, mask in groups] if against_design is None else \
            [np.ones(len(against_design.data), bool)]
    rows, n_missing = [], 0
    for (label, mask), mask_x in zip(groups, groups_x, strict=True):
        use = mask & inside & complete
        n_missing += int((mask & inside & ~complete).sum())
        w = w_all[use]
        in_group = f" in {by} = {show(label)}" if by else ""
        if not use.any() or w.sum() == 0:
            raise PlotError(f"{what}: no weighted values of {names}{in_group}.")
        if to_column:
            use_x = mask_x & inside_x & complete_x
            wx = wx_all[use_x]
            if against_design is not None:
                n_missing += int((mask_x & inside_x & ~complete_x).sum())
                if not use_x.any() or wx.sum() == 0:
                    raise PlotError(f"{what}: no weighted values of {against!r}{in_group} in "
                                    "the second design (against_design).")
            n = min(int(use.sum()), int(use_x.sum()))
            probs = (np.arange(1, n + 1) - 0.5) / n
            xs, ys = x_all[use_x], y_all[use]
            if rule in ("math", "hf1"):
                qx, qy = _inverse_cdf(xs, wx, probs), _inverse_cdf(ys, w, probs)
            else:
                rx = weighted_quantiles(xs, wx, rule)
                ry = weighted_quantiles(ys, w, rule)
                qx, qy = np.array([rx(p) for p in probs]), np.array([ry(p) for p in probs])
            frame = pd.DataFrame({"probability": probs, "x": qx, "y": qy})
        else:
            probs, observed = _normal_positions(y_all[use], w)
            with np.errstate(invalid="ignore"):
                expected = np.array(quantile_function(probs), dtype=float)
            if expected.shape != probs.shape:
                raise PlotError(f"{what}: the quantile function given as against= must return "
                                "one value per probability.")
            frame = pd.DataFrame({"probability": probs, "x": expected, "y": observed})
        if by:
            frame.insert(0, by, label)
        rows.append(frame)
    table = pd.concat(rows, ignore_index=True)

    ax = style.new_axes(ax, (5.2, 4.6))
    for k, frame in enumerate(rows):
        gs = style.group_style(k)
        ax.plot(frame["x"], frame["y"], linestyle="none", marker=gs["marker"], markersize=4,
                markerfacecolor="none", markeredgecolor=gs["colour"], markeredgewidth=0.9,
                label=None if by is None else style.level_text(frame[by].iloc[0]), zorder=3)
    if by:
        style.group_legend(ax, by)
    style.tidy_axes(ax, grid="both")
    if to_column and against_design is not None:
        default_x = f"{style.axis_label(against)} (second design)"
    elif to_column:
        default_x = style.axis_label(against)
    elif to_normal:
        default_x = "Standard normal quantile"
    else:
        default_x = "Expected quantile"
    style.set_labels(ax, xlabel=xlabel or default_x, ylabel=ylabel or style.axis_label(variable),
                     title=title)
    style.add_caption(ax, caption)
    return DesignPlot(ax, table, "QQ plot", n_missing=n_missing)
