"""Quantile-regression smoother: R ``svysmooth(method = "quantreg")``.

The curve is the weighted linear quantile regression of ``y`` on a cubic B-spline basis of
``x`` (R ``quantreg::rq(y ~ splines::bs(x, df = df), tau = quantile, weights = w)``), and
what is drawn is its fitted value at each observed ``x``, sorted by ``x``.

Spline basis (R ``splines::bs(x, df)``, degree 3, no intercept column)
    Boundary knots ``a = min(x)``, ``b = max(x)``; ``m = df - 3`` interior knots at the
    unweighted sample quantiles of ``x`` (R ``quantile`` type 7: at probability ``p`` the value
    ``x_(lo) + h (x_(lo + 1) - x_(lo))`` with ``1 + (n - 1) p = lo + h``) for
    ``p = 1/(m + 1), ..., m/(m + 1)``. With the knot sequence ``a, a, a, a, k_1..k_m, b, b,
    b, b`` the ``df + 1`` cubic B-splines (de Boor's recursion) sum to one on ``[a, b]``; the
    first is dropped, and the model matrix is ``X = [1, B_2(x), ..., B_{df+1}(x)]``.

Weighted quantile regression (Koenker & Bassett 1978; Koenker 2005, chapters 2 and 6)
    ``beta`` minimises ``sum_i w_i rho_tau(y_i - x_i' beta)`` with the check function
    ``rho_tau(u) = u (tau - I(u < 0))``, the linear program: minimise
    ``sum_i w_i (tau u_i + (1 - tau) v_i)`` over ``beta`` free and ``u, v >= 0`` subject to
    ``X beta + u - v = y``. It is solved through its dual, which has ``p = df + 1``
    constraints instead of ``n``: maximise ``y'd`` subject to ``X'd = 0`` and
    ``-(1 - tau) w_i <= d_i <= tau w_i`` (Koenker's ``a = d / w + 1 - tau`` in ``[0, 1]``),
    by HiGHS's interior-point method with crossover to a vertex (8 times faster than its dual
    simplex at 200,000 rows: 1.9 s against 15 s); ``beta`` is minus the multipliers of
    ``X'd = 0``. By complementary slackness an observation whose ``d_i`` lies strictly inside
    its bounds is fitted exactly; at a non-degenerate vertex there are ``p`` of them (Koenker
    2005, section
    2.2: some optimum fits ``p`` observations exactly) and ``beta`` is recomputed from their
    equations ``X_h beta = y_h``, so the fitted values carry no solver tolerance. Weights
    are divided by their largest value and ``y`` by its largest absolute value before
    solving (the optimum does not change). When the dual vertex is degenerate (fewer than
    ``p`` such observations) the optimum may be attained along a whole face (the weighted
    analogue of the median of an even number of values): the objective is unique but the
    fitted values are not, R's Barrodale-Roberts simplex may stop at another vertex (R then
    warns "Solution may be nonunique"), and a warning says so.

References: Koenker, R. and Bassett, G. (1978) Regression quantiles. Econometrica 46, 33-50.
Koenker, R. (2005) Quantile Regression. Cambridge University Press. de Boor, C. (1978) A
Practical Guide to Splines. Springer.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.interpolate import BSpline
from scipy.optimize import linprog

from socialhealth._options import is_number
from socialhealth._stack import user_stacklevel
from socialhealth._text import show_given
from socialhealth.errors import PlotError, SocialHealthWarning

DEGREE = 3


def r_quantile7(values: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """R ``quantile(values, probs)`` (type 7), with R's arithmetic."""
    xs = np.sort(np.asarray(values, dtype=float))
    n = len(xs)
    index = 1 + max(n - 1, 0) * np.asarray(probs, dtype=float)
    lo = np.floor(index).astype(int)
    hi = np.ceil(index).astype(int)
    qs = xs[lo - 1].copy()
    upper = xs[hi - 1]
    move = (index > lo) & (upper != qs)
    h = (index - lo)[move]
    qs[move] = (1 - h) * qs[move] + h * upper[move]
    return qs


def spline_knots(x: np.ndarray, df: int) -> tuple[np.ndarray, float, float]:
    """Interior knots and boundary knots of R ``splines::bs(x, df = df)`` (degree 3)."""
    n_interior = df - DEGREE
    step = 1.0 / (n_interior + 1)
    probs = np.array([i * step for i in range(1, n_interior + 1)])
    interior = r_quantile7(x, probs) if n_interior else np.empty(0)
    return interior, float(np.min(x)), float(np.max(x))


def bspline_basis(x: np.ndarray, interior: np.ndarray, low: float, high: float) -> np.ndarray:
    """R ``splines::bs`` basis at ``x`` (inside ``[low, high]``): cubic, first column dropped."""
    knots = np.r_[[low] * (DEGREE + 1), interior, [high] * (DEGREE + 1)]
    basis = BSpline.design_matrix(np.asarray(x, dtype=float), knots, DEGREE).toarray()
    return basis[:, 1:]


def check_loss(residuals: np.ndarray, weights: np.ndarray, tau: float) -> float:
    """``sum_i w_i rho_tau(r_i)``, ``rho_tau(u) = u (tau - I(u < 0))``."""
    r = np.asarray(residuals, dtype=float)
    return float(np.sum(weights * r * (tau - (r < 0))))


def weighted_quantile_regression(X: np.ndarray, y: np.ndarray, w: np.ndarray,
                                 tau: float) -> tuple[np.ndarray, bool]:
    """Coefficients minimising ``sum_i w_i rho_tau(y_i - x_i' b)`` (weights ``>= 0``).

    A basic (vertex) optimum, from HiGHS's interior point and crossover on the dual linear
    program of the module notes, recomputed from the equations of the observations it fits
    exactly.
    Returns ``(beta, unique)``; ``unique`` is False when the dual solution is degenerate (fewer
    than ``rank(X)`` of its ``d_i`` strictly inside their bounds), the case in which other
    coefficients may fit as well (R: "Solution may be nonunique").
    """
    keep = w > 0
    Xk, yk, wk = X[keep], y[keep], w[keep] / np.max(w[keep])
    p = Xk.shape[1]
    # scale y so that HiGHS's absolute tolerances mean the same whatever its units
    scale = max(float(np.max(np.abs(yk))), 1e-300)
    low, high = -(1 - tau) * wk, tau * wk
    res = linprog(-yk / scale, A_eq=Xk.T, b_eq=np.zeros(p),
                  bounds=np.column_stack([low, high]), method="highs-ipm")
    if res.status != 0:      # pragma: no cover - d = 0 is feasible and the bounds are finite
        raise PlotError(f"smooth(): the quantile regression did not solve ({res.message}).")
    # the LP's multipliers of X'd = 0 are -beta
    beta = -np.asarray(res.eqlin.marginals, dtype=float) * scale
    # Complementary slackness: an observation whose d_i lies strictly inside its bounds is
    # fitted exactly. Solve those equations so the fitted values carry no solver tolerance;
    # keep HiGHS's beta if they do not determine it or the result is not as good.
    d = np.asarray(res.x, dtype=float)
    margin = 1e-9 * wk
    inside = (d > low + margin) & (d < high - margin)
    rank = int(np.linalg.matrix_rank(Xk))
    unique = bool(inside.sum() >= rank)
    if inside.sum() >= rank and np.linalg.matrix_rank(Xk[inside]) == rank:
        refined = np.linalg.lstsq(Xk[inside], yk[inside], rcond=None)[0]
        loss = check_loss(yk - Xk @ beta, wk, tau)
        if (np.max(np.abs(yk[inside] - Xk[inside] @ refined)) <= 1e-9 * scale
                and check_loss(yk - Xk @ refined, wk, tau) <= loss + 1e-9 * (1 + loss)):
            beta = refined
    return beta, unique


def check_quantile_df(quantile, df, what: str) -> tuple[float, int]:
    """``quantile=`` and ``df=`` of ``smooth(method="quantreg")`` as ``(tau, df)``, or a
    PlotError saying what to pass. ``smooth()`` checks them whatever the method."""
    tau = float(quantile) if is_number(quantile) else math.nan     # not "0.5", True
    if not (0 < tau < 1):
        raise PlotError(f"{what}: quantile must be a number strictly between 0 and 1 (0.5 for "
                        f"the median), not {show_given(quantile)}.")
    if (isinstance(df, (bool, np.bool_)) or not isinstance(df, (int, np.integer))
            or df < DEGREE):
        raise PlotError(f"{what}: df must be a whole number of at least 3 (the degrees of "
                        f"freedom of the cubic spline; R's default is 4), not {show_given(df)}.")
    return tau, int(df)


def _check_controls(bandwidth, quantile, df, what: str) -> tuple[float, int]:
    if bandwidth is not None:
        raise PlotError(f"{what}: bandwidth= is for method=\"locpoly\"; the quantile smoother "
                        "(method=\"quantreg\") is set by quantile= and df= instead. Leave "
                        "bandwidth out.")
    return check_quantile_df(quantile, df, what)


def quantile_curve(design, xv: np.ndarray, yv: np.ndarray, *, x: str, y: str, bandwidth,
                   quantile, df, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fitted ``quantile`` of ``y`` at each used observation, sorted by ``x``.

    Returns ``(x sorted, fitted values, mask of the rows used)``.
    """
    tau, df = _check_controls(bandwidth, quantile, df, what)
    w_all = np.asarray(design.weights, dtype=float)
    use = np.isfinite(xv) & np.isfinite(yv) & np.asarray(design.in_subset, dtype=bool)
    if np.any(w_all[use] < 0):
        raise PlotError(f"{what}: the quantile smoother needs non-negative weights, and some "
                        "rows have negative weights (from a linear calibration). Calibrate "
                        "with bounds or raking, or use method=\"locpoly\".")
    if not use.any():
        raise PlotError(f"{what}: no row has both {y!r} and {x!r}; nothing to smooth.")
    xu, yu, wu = xv[use], yv[use], w_all[use]
    positive = wu > 0
    n_values = len(np.unique(xu[positive]))
    if n_values < df + 1:
        raise PlotError(f"{what}: {x!r} has {n_values} distinct value"
                        f"{'' if n_values == 1 else 's'} (rows with a positive weight), too "
                        f"few for a spline with df = {df}, which has {df + 1} coefficients. "
                        "Lower df (at least 3, which needs 4 distinct values) or use "
                        "method=\"locpoly\".")
    interior, low, high = spline_knots(xu, df)
    if interior.size and (interior[0] <= low or interior[-1] >= high):
        raise PlotError(f"{what}: the spline knots of {x!r} (its quantiles "
                        f"{', '.join(f'{k:g}' for k in interior)}) reach its smallest or largest "
                        f"value {low:g} or {high:g}: too many rows share that value for df = "
                        f"{df}. Lower df or use method=\"locpoly\".")
    design_matrix = np.column_stack([np.ones(len(xu)), bspline_basis(xu, interior, low, high)])
    _, rows = np.unique(xu[positive], return_index=True)
    if np.linalg.matrix_rank(design_matrix[positive][rows], tol=None) < df + 1:
        raise PlotError(f"{what}: the spline of {x!r} with df = {df} cannot be fitted: its "
                        f"knots ({', '.join(f'{k:g}' for k in interior)}, the quantiles of "
                        f"{x!r}) leave a piece of the spline without data (many tied values). "
                        "Lower df or use method=\"locpoly\".")
    beta, unique = weighted_quantile_regression(design_matrix, yu, wu, tau)
    if not unique:
        warnings.warn(f"{what}: the fitted quantile curve of {y!r} is not unique: other curves "
                      "fit the data equally well (as any value between the middle two of an "
                      "even number of values is a median). R may draw another of them (it "
                      "then warns \"Solution may be nonunique\"); all minimise the same "
                      "weighted loss.",
                      SocialHealthWarning, stacklevel=user_stacklevel())
    order = np.argsort(xu, kind="stable")
    fitted = design_matrix @ beta
    return xu[order], fitted[order], use
