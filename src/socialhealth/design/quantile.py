"""Survey quantiles with Woodruff and replicate confidence intervals (R ``svyquantile``,
survey >= 4.1).

Point estimate (``qrule``), with ``F(x) = sum_i w_i I(y_i <= x) / sum_i w_i`` the weighted
empirical CDF, rows sorted by ``y``, ``C_k`` the cumulative weight of the first ``k`` rows and
``w_k`` the weight of row ``k`` (the weighted analogues of Hyndman & Fan's types, as R):

* ``"math"`` / ``"hf1"``: the inverse of ``F``, the smallest ``x`` with ``F(x) >= p``. Like R
  survey 4.1, a probability below the weight share of the smallest row returns the
  second-smallest row (R's behaviour, kept for parity; it only matters for extreme quantiles
  of small samples). At ties ``F(x_k) = p`` the rounding follows R's (running sums in long
  double; ``k`` counts rows with ``C_k <= p C_n`` and the tie is exact only if
  ``p - C_k / C_n == 0``), which decides between ``x_k`` and ``x_(k+1)`` there.
* ``"school"`` / ``"hf2"``: as ``"math"``, except that when ``F`` equals ``p`` exactly at a row
  the quantile is the mean of that row's value and the next row's (the school median).
* ``"hf3"``: on the distinct values with their summed weights, as ``"math"`` (so the
  second-smallest *distinct* value below the first CDF step), except that when ``F`` equals
  ``p`` exactly at a value, whichever of that value and the next one sits at an even position.
* ``"hf4"``-``"hf9"``: linear interpolation through the points ``(p_k, x_k)``:
  hf4 ``C_k / C_n``; hf5 ``(C_k - w_k / 2) / C_n``; hf6 ``C_k / (C_n + w_n)``;
  hf7 ``C_{k-1} / C_{n-1}``; hf8 ``(C_k - w_k / 3) / (C_n + w_n / 3)``;
  hf9 ``(C_k - 3 w_k / 8) / (C_n + w_n / 4)``. Beyond the end points the value is ``x_(1)`` or
  ``x_(n)``, except that hf4 below ``p_1`` continues its first segment (as R).

Intervals (``interval_type``): the Woodruff (1952) family first finds a confidence interval
``[p_L, p_U]`` for ``F(q_p)``, the mean of ``u_i = I(y_i <= q_p)`` with design-based standard
error ``s`` and ``t = qt(1 - alpha/2, df)``, and maps its ends back through the same quantile
rule: ``"mean"`` ``F -+ t s`` (R's default); ``"xlogit"`` ``expit(logit F -+ t s / (F (1 - F)))``;
``"asin"`` ``sin(asin(sqrt F) -+ t s / (2 sqrt(F (1 - F))))^2``; ``"beta"`` Korn & Graubard's
Clopper-Pearson interval with effective sample size
``n* = F (1 - F) / s^2 * (qt(alpha/2, n - 1) / qt(alpha/2, df))^2`` (``n`` the rows of the
domain) -- the formulas of :mod:`socialhealth.design.proportion`. A limit of the CDF interval
below 0 or above 1 gives a missing (NaN) confidence limit and standard error, as R's ``NA``.
The standard error reported is the width of the interval divided by ``2 t`` (Francisco &
Fuller 1991), as R does. R survey 4.1-1 applies the ``"beta"``, ``"xlogit"`` and ``"asin"``
transformations on Taylor designs only; on replicate designs it returns the ``"mean"``
interval for them, and so does socialhealth (with a warning).
``"score"`` (Taylor designs only, as in R; Francisco & Fuller 1991): the interval inverts the
test of ``F(theta) = p`` with the standard error evaluated at each ``theta``: its limits are the
roots of ``z(theta) = (F(theta) - p) / se(F(theta)) = -t`` and ``= +t`` (``se`` the design
standard error of the mean of ``I(y <= theta)``). As R survey 4.1-1 does (established by running
it), the roots are found by Brent's method (R's ``uniroot``) on
``[min(y) + IQR/100, max(y) - IQR/100]`` (``IQR`` the unweighted type-7 interquartile range of
the rows used) with tolerance ``1 / (100 sqrt(n))``; as ``z`` is a step function the root is the
jump where ``z`` crosses ``-+t``, on the side with the smaller ``|z -+ t|``. Each root is then
mapped to the *unweighted* share of rows with ``y <= theta`` and that share through the quantile
rule, ``qrule``: R's choice, reproduced for parity although a weighted share would be the
natural one (with unequal weights the interval can even exclude the estimate). The ``se`` is
again the width over ``2 t``. When ``z`` does not cross ``-+t`` inside the search range (an
extreme ``p`` in a small sample) R stops with an error, and so does this function.
``"quantile"`` (replicate designs only): the quantile is re-estimated with every replicate's
weights, ``se`` is the replicate standard error and the interval ``q +- t se`` (valid for
bootstrap, BRR and SDR replicates, not for jackknives).

References
----------
Woodruff RS (1952) Confidence intervals for medians and other position measures. *JASA*
47:635-646. Francisco CA, Fuller WA (1991) Quantile estimation with a complex survey design.
*Annals of Statistics* 19:454-469. Hyndman RJ, Fan Y (1996) Sample quantiles in statistical
packages. *American Statistician* 50:361-365. Korn EL, Graubard BI (1998) *Survey Methodology*
24:193-201. Lumley T (2010) *Complex Surveys*, Wiley, §2.4.
"""
from __future__ import annotations

import warnings
from typing import Callable, Literal, Sequence, get_args

import numpy as np
import pandas as pd
from scipy import stats

from socialhealth._options import is_choice
from socialhealth._stack import user_stacklevel
from socialhealth._text import show, show_given
from socialhealth.design.proportion import IntervalEstimate, _asin_ci, _beta_ci, _wald_logit
from socialhealth.design.structure import as_list, require_columns
from socialhealth.design.variables import subset_domains
from socialhealth.errors import EstimationError, SocialHealthWarning

_CONTINUOUS = ("hf4", "hf5", "hf6", "hf7", "hf8", "hf9")


def _r_position(C: np.ndarray, p: float) -> tuple[int, bool]:
    """Where ``p`` falls among the running weight sums ``C`` (sorted rows), as R survey 4.1-1
    decides it: ``k`` = the number of rows with ``C_k <= p * C_n`` (at least 1), and whether
    ``F(x_k) = C_k / C_n`` equals ``p`` exactly (``p - C_k / C_n == 0``). The two tests use
    different roundings, as R's do: at a tie ``C_k = p C_n`` whose quotient misses ``p`` by an
    ulp, ``k`` counts the row but ``F(x_k) = p`` is false, so "math" moves on to ``x_(k+1)``
    (established by probing R: all 1551 probabilities ``k/n`` tried on apistrat, its strata,
    apiclus1 and equal-weight vectors agree). Returns ``k`` 0-based."""
    k = max(int(np.searchsorted(C, p * C[-1], side="right")), 1)
    return k - 1, bool(p - C[k - 1] / C[-1] == 0)


def _inverse_cdf(values: np.ndarray, C: np.ndarray, p: float) -> float:
    """R survey 4.1 ``qrule = "math"`` on sorted rows ``values`` with running weight sums ``C``.

    The smallest value with ``F(value) >= p``, with R's arithmetic (:func:`_r_position`). Two
    details follow R exactly: for ``0 <= p < F(x_(1))`` R returns the second-smallest row
    ``x_(2)`` rather than ``x_(1)``, and a probability outside ``[0, 1]`` (a Woodruff limit
    beyond the range) gives NaN (R's ``NA``).
    """
    if not np.isfinite(p) or p < 0 or p > 1:
        return np.nan
    k, exact = _r_position(C, p)
    return float(values[k] if exact else values[min(k + 1, len(values) - 1)])


def _r_cumsum(w: np.ndarray) -> np.ndarray:
    """Running sums as R's ``cumsum`` rounds them: accumulated in extended (long double)
    precision, each partial sum stored as a double (so is R's ``sum``, the last one).

    Where numpy's ``longdouble`` has at least x87's 64-bit significand (x86 Linux and Intel
    macOS: 80-bit; aarch64 Linux: 128-bit) the sums are accumulated in it. Elsewhere (Windows,
    Apple silicon, where ``longdouble`` is a plain double) they are computed exactly and rounded
    once (:func:`_exact_cumsum`): the same doubles whenever the extended accumulation is exact,
    which holds for weights within about 2**11 of each other in magnitude and any n < 2**11 -
    e.g. every equal-weight sample - so exact ties ``F = p`` are decided as R decides them on
    every platform."""
    w = np.asarray(w, dtype=float)
    if np.finfo(np.longdouble).nmant >= 63:
        return np.cumsum(w.astype(np.longdouble)).astype(float)
    return _exact_cumsum(w)


def _exact_cumsum(w: np.ndarray) -> np.ndarray:
    """Prefix sums of ``w`` computed exactly (Python integers) and each rounded once to the
    nearest double."""
    if len(w) == 0 or not np.isfinite(w).all():
        return np.cumsum(w)
    m, e = np.frexp(w)                                   # w = m 2**e, 0.5 <= |m| < 1
    mant = (m * 2.0 ** 53).astype(np.int64).tolist()     # exact 53-bit integers
    exps = (e.astype(np.int64) - 53)
    emin = int(exps.min())
    shifts = (exps - emin).tolist()
    total, out = 0, []
    if emin >= 0:
        for a, s in zip(mant, shifts, strict=True):
            total += a << s
            out.append(float(total << emin))            # int -> float rounds to nearest
    else:
        den = 1 << -emin
        for a, s in zip(mant, shifts, strict=True):
            total += a << s
            out.append(total / den)                      # int / int rounds to nearest
    return np.asarray(out, dtype=float)


def _stable_order(y: np.ndarray) -> np.ndarray:
    """``np.argsort(y, kind="stable")`` (no NaN in ``y``), computed faster.

    An unstable (SIMD) argsort, then the rows of each run of equal values put back in their
    original order, which is what a stable sort gives: sorting the keys
    ``run * n + row`` of the tied rows only. Identical result; at 1,000,000 rows several times
    faster than numpy's stable (merge) sort of floats.
    """
    n = len(y)
    order = np.argsort(y)
    if n < 2:
        return order
    ys = y[order]
    tie = ys[1:] == ys[:-1]
    if not tie.any():
        return order
    in_run = np.zeros(n, dtype=bool)          # sorted positions inside a run of ties
    in_run[1:] |= tie
    in_run[:-1] |= tie
    run = np.cumsum(np.concatenate(([True], ~tie)))[in_run].astype(np.int64)
    key = run * n + order[in_run]
    order[in_run] = np.sort(key) % n
    return order


#: below this many rows the "math" rule sorts every row at once (cheap); above, it first
#: tries :class:`_BandedInverseCdf`
_BAND_MIN_ROWS = 50_000


class _BandedInverseCdf:
    """R's ``qrule = "math"`` (:func:`_inverse_cdf`) without sorting every row, when the answer
    is clear-cut; otherwise exactly the full-sort rule.

    For a probability ``p`` only the rows whose values lie in a band ``[a, b]`` around the
    quantile are sorted: ``a`` and ``b`` are weighted quantiles of a strided sample at
    ``p -+ 0.03``; one pass over the data gives the weight ``W_<`` of the rows below ``a``, and
    the running sums of the band are ``W_< + cumsum`` of its sorted weights. The answer is the
    first band row whose running sum exceeds ``T = p C_n``, as in the full rule, provided
    that every running sum that decides it (the band's first and last, and the two beside
    ``T``) is farther than ``1e-9 C_n`` from ``T``. Those decisions then do not depend on the
    last bits of the sums (float64 sums of at most ``n`` terms err by far less), so the answer
    equals R's, whose running sums are rounded differently; in particular ``F(x_k) = p`` is
    then impossible, the only case where R's rounding picks between two rows. Anything else
    -- a tie ``C_k`` within ``1e-9 C_n`` of ``T`` (e.g. equal weights and ``p n`` a whole
    number), ``T`` outside the band, ``p`` below the smallest row's share (R's
    second-smallest-row rule) -- goes to the full-sort rule, computed once and kept.

    The Woodruff limits ``Q(p_L)``, ``Q(p_U)`` of a median fall inside the same band, so a
    median with its interval sorts a few percent of the rows instead of all of them.
    """

    def __init__(self, y: np.ndarray, w: np.ndarray):
        self._y, self._w = y, w
        self._full: Callable[[float], float] | None = None
        # sorted band values, their running weight sums, the weight below, rows below?
        self._band: tuple[np.ndarray, np.ndarray, float, bool] | None = None
        # negative weights (a linear calibration) make the running sums go down as well as up;
        # the band's reasoning needs them rising, so those rows always take the full sort
        self._misses = 2 if bool((w < 0).any()) else 0
        self._total = float(np.sum(w))

    def _full_rule(self):
        if self._full is None:
            order = _stable_order(self._y)
            ys, C = self._y[order], _r_cumsum(self._w[order])
            self._full = lambda p: _inverse_cdf(ys, C, p)
        return self._full

    def _build_band(self, p: float) -> None:
        y, w = self._y, self._w
        step = max(len(y) // 20_000, 1)
        ys_, ws_ = y[::step], w[::step]
        o = np.argsort(ys_, kind="stable")
        cs = np.cumsum(ws_[o])
        cut = np.searchsorted(cs, np.array([max(p - 0.03, 0.0), min(p + 0.03, 1.0)]) * cs[-1])
        a, b = ys_[o][np.minimum(cut, len(o) - 1)]
        below = y < a
        inside = (y <= b) & ~below
        yb, wb = y[inside], w[inside]
        order = _stable_order(yb)
        w_below = float(np.sum(w[below]))
        self._band = (yb[order], w_below + np.cumsum(wb[order]), w_below, bool(below.any()))

    def _fast(self, p: float):
        """The quantile from the band, or None when the full-sort rule must decide."""
        if self._misses >= 2 and self._band is None:
            return None
        T = p * self._total
        delta = 1e-9 * self._total
        for attempt in (0, 1):
            if self._band is None or attempt == 1:
                if self._misses >= 2:       # the data defeat the band: sort once, for good
                    return None
                self._build_band(p)
            band = self._band
            if band is None:                # (built just above; for the type checker)
                return None
            ys, C, w_below, rows_below = band
            k = int(np.searchsorted(C, T, side="right")) if len(C) else 0
            if len(C) == 0 or k == len(C) or abs(C[-1] - T) <= delta \
                    or (rows_below and T - w_below <= delta):
                self._misses += 1           # T not well inside the band: a band around p
                continue
            if k == 0 and not rows_below:
                return None                 # p below the smallest row's share (R's rule)
            if abs(C[k] - T) <= delta or (k > 0 and abs(C[k - 1] - T) <= delta):
                return None                 # a running sum at T: R's rounding decides
            return float(ys[k])
        return None

    def __call__(self, p: float) -> float:
        if not np.isfinite(p) or p < 0 or p > 1:
            return np.nan
        got = self._fast(float(p))
        return got if got is not None else self._full_rule()(p)


def _quantile_rule(y: np.ndarray, w: np.ndarray, qrule: str):
    """``Q(p)`` of the rows ``y`` with weights ``w > 0`` under ``qrule`` (module docstring).

    Every rule returns NaN for ``p`` outside ``[0, 1]`` (a confidence limit beyond the range).
    """
    if qrule in ("math", "hf1") and len(y) >= _BAND_MIN_ROWS:
        return _BandedInverseCdf(y, w)
    order = _stable_order(y)
    ys, ws = y[order], w[order]
    C = _r_cumsum(ws)           # R's rounding: an ulp decides exact ties F = p
    n = len(ys)
    if qrule in ("math", "hf1"):
        return lambda p: _inverse_cdf(ys, C, p)
    if qrule in ("school", "hf2"):
        def school(p):
            if not np.isfinite(p) or p < 0 or p > 1:
                return np.nan
            k, exact = _r_position(C, p)
            if exact:
                return float((ys[k] + ys[min(k + 1, n - 1)]) / 2)
            return float(ys[min(k + 1, n - 1)])
        return school
    if qrule == "hf3":
        vals, start = np.unique(ys, return_index=True)
        C_u = C[np.append(start[1:] - 1, n - 1)]      # running sum at the last row of each value

        def even(p):
            if not np.isfinite(p) or p < 0 or p > 1:
                return np.nan
            h, exact = _r_position(C_u, p)          # 0-based; 1-based position h + 1
            if exact:
                if h + 1 < len(vals) and (h + 1) % 2 == 1:
                    return float(vals[h + 1])   # the next value sits at an even position
                return float(vals[h])
            return float(vals[min(h + 1, len(vals) - 1)])
        return even
    # continuous rules: linear interpolation through (p_k, x_k)
    Cn, wn = C[-1], ws[-1]
    if qrule == "hf4":
        pk = C / Cn
    elif qrule == "hf5":
        pk = (C - ws / 2) / Cn
    elif qrule == "hf6":
        pk = C / (Cn + wn)
    elif qrule == "hf7":
        pk = np.append(0.0, C[:-1]) / C[-2] if n > 1 else np.array([0.0])
    elif qrule == "hf8":
        pk = (C - ws / 3) / (Cn + wn / 3)
    else:  # hf9
        pk = (C - 3 * ws / 8) / (Cn + wn / 4)

    def interpolate(p):
        if not np.isfinite(p) or p < 0 or p > 1:
            return np.nan
        if qrule == "hf4" and p < pk[0] and n > 1 and pk[1] > pk[0]:
            # R extends hf4's first segment below p_1 (the other rules stop at x_(1), x_(n))
            return float(ys[0] - (ys[1] - ys[0]) / (pk[1] - pk[0]) * (pk[0] - p))
        return float(np.interp(p, pk, ys))
    return interpolate


def _brent_zero(f, a: float, b: float, fa: float, fb: float, tol: float,
                maxit: int = 1000) -> float:
    """A zero of ``f`` in ``[a, b]`` (``fa``, ``fb`` of opposite signs) by Brent's (1973, ch. 4)
    method: bisection safeguarding secant / inverse quadratic interpolation, stopping when the
    bracket is narrower than ``2 (2 eps |b| + tol / 2)``. Returns the end of the final bracket
    with the smaller ``|f|`` (the same iterates as R's ``uniroot``, which uses this algorithm)."""
    eps = np.finfo(float).eps
    if fa == 0:
        return a
    if fb == 0:
        return b
    c, fc = a, fa
    for _ in range(maxit + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):            # b is the best guess so far
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * eps * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:                   # secant
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:                        # inverse quadratic interpolation
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b = b + new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def _score_limits(y: np.ndarray, p: float, q_t: float, cdf_se) -> tuple[float, float]:
    """Francisco & Fuller's (1991) test-inversion limits for the ``p`` quantile, as R survey
    4.1-1 computes them (module docstring): the roots ``theta`` of ``z(theta) = -+ t`` with
    ``z(theta) = (F(theta) - p) / se(F(theta))``, searched by Brent's method on
    ``[min(y) + IQR/100, max(y) - IQR/100]`` with tolerance ``1 / (100 sqrt(n))``, each mapped
    to the *unweighted* share of rows ``y <= theta`` (the returned probabilities)."""
    n = len(y)
    lo_y, hi_y = float(np.min(y)), float(np.max(y))
    q1, q3 = np.quantile(y, [0.25, 0.75])           # R's IQR() (type 7, unweighted)
    a, b = lo_y + (q3 - q1) / 100, hi_y - (q3 - q1) / 100
    tol = 1 / (100 * np.sqrt(n))

    def z(theta):
        F, s = cdf_se(theta)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (F - p) / s

    out = []
    for sign in (-1.0, 1.0):
        def f(theta, sign=sign):
            return sign * q_t - z(theta)
        fa, fb = f(a), f(b)
        if not (np.isfinite(fa) and np.isfinite(fb)) or fa * fb > 0:
            raise EstimationError(
                f"interval_type='score': the score test for the {p:g} quantile does not change "
                "sign over the range of the data (R's uniroot error 'f() values at end points "
                "not of opposite sign'); the quantile is too extreme for this sample. Use "
                "interval_type='beta' or 'mean' instead.")
        root = _brent_zero(f, a, b, fa, fb, tol)
        out.append(float(np.mean(y <= root)))
    return out[0], out[1]


#: ``interval_type=`` of :func:`quantile`.
QuantileInterval = Literal["mean", "beta", "xlogit", "asin", "score", "quantile"]
#: ``qrule=`` of :func:`quantile` (R's quantile rules).
QuantileRule = Literal["math", "school", "hf1", "hf2", "hf3", "hf4", "hf5", "hf6", "hf7", "hf8",
                       "hf9"]
INTERVAL_TYPES: tuple[str, ...] = get_args(QuantileInterval)   # the one list: the Literal
QRULES: tuple[str, ...] = get_args(QuantileRule)


def quantile(
    design,
    variables: str | Sequence[str],
    quantiles: float | Sequence[float] = (0.5,),
    ci: bool = True,
    level: float = 0.95,
    interval_type: QuantileInterval = "mean",
    qrule: QuantileRule = "math",
    by: str | Sequence[str] | None = None,
    df: float | None = None,
) -> IntervalEstimate:
    """Quantiles of numeric variables, with Woodruff or replicate confidence intervals.

    ``q_p = Q(p)`` under the quantile rule ``qrule`` applied to the weighted empirical CDF ``F``
    (default ``"math"``: ``min{x : F(x) >= p}``). The Woodruff interval types find an interval
    for ``F(q_p)`` from the design standard error of the mean of ``I(y <= q_p)`` and map its
    ends back through ``Q``; ``se = (ci_high - ci_low) / (2 qt(1 - alpha/2, df))``. Replicate
    designs also have ``"quantile"``: the replicate standard error of ``q_p`` and
    ``q_p +- t se``. Formulas in :mod:`socialhealth.design.quantile`. Rows with a missing value
    in any of ``variables`` are left out (for all of them, as R's ``na.rm = TRUE``) with zero
    weight but keep their place in the design; ``df`` is then ``degf`` of the rows left in the
    domain, so PSUs whose rows are all missing no longer count (as R, which drops those rows
    first).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    variables : str or list of str
        Numeric columns.
    quantiles : float or sequence of floats in [0, 1]
    ci : bool, default True
        Compute intervals and standard errors (otherwise they are NaN); a switch, as R's
        ``ci = TRUE``. The confidence level is ``level``.
    level : float, default 0.95
        Confidence level of the intervals.
    interval_type : {"mean", "beta", "xlogit", "asin", "score", "quantile"}
        ``"mean"`` (R's default): Woodruff with a Wald interval for ``F(q_p)``; ``"beta"``
        (Korn-Graubard), ``"xlogit"``, ``"asin"``: Woodruff with that interval for ``F(q_p)``
        (Taylor designs; on replicate designs R 4.1-1 gives the ``"mean"`` interval for them,
        and so does this function, with a warning); ``"score"``: Francisco-Fuller test
        inversion, computed as R does (Taylor designs only, as R; module docstring);
        ``"quantile"``: replicate quantiles (replicate designs only).
    qrule : {"math", "school", "hf1", ..., "hf9"}
        Quantile rule (R ``qrule``): ``"math"`` = ``"hf1"`` (inverse CDF, R's default),
        ``"school"`` = ``"hf2"``, ``"hf3"`` (nearest even), ``"hf4"``-``"hf9"`` (weighted
        interpolating rules of Hyndman & Fan 1996). R's ``"shahvaish"`` is not implemented.
    by : str or list of str, optional
        Domains; each is analysed as ``subset(design, domain)`` with its own degrees of freedom
        (R ``svyby(..., svyquantile, ...)``).
    df : float, optional
        Degrees of freedom for the t quantile; default ``degf`` of the design restricted to
        the rows used (of the domain, with ``by``).

    Returns
    -------
    IntervalEstimate
        ``to_frame()`` columns: [by...], term, quantile, estimate, se, ci_low, ci_high, df
        (``to_frame(level=0.9)`` recomputes the limits at that level).
        ``vcov`` is diagonal (covariances between quantiles are not estimated).

    Raises
    ------
    EstimationError
        Unknown ``qrule`` or ``interval_type``, ``"quantile"`` on a Taylor design, ``"score"``
        on a replicate design or where its test statistic does not cross ``-+t`` (as R),
        non-numeric columns, probabilities outside [0, 1], or no non-missing values.

    References
    ----------
    Woodruff RS (1952) *JASA* 47:635-646. Francisco CA, Fuller WA (1991) *Annals of Statistics*
    19:454-469. Hyndman RJ, Fan Y (1996) *American Statistician* 50:361-365. Korn EL,
    Graubard BI (1998) *Survey Methodology* 24:193-201. Lumley T (2010) *Complex Surveys*, §2.4.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> d.quantile("api00", [0.25, 0.5, 0.75])
    Survey quantile (Woodruff): 1-stage cluster survey design (Taylor linearisation)
     term  quantile  estimate      se  ci_low  ci_high  df
    api00      0.25       591 20.2817     545      632  14
    api00       0.5       657 18.4167     621      700  14
    api00      0.75       715 17.7174     694      770  14
    119 rows used; 95% CIs: Woodruff method
    In R: svyquantile(~api00, design, quantiles = c(0.25, 0.5, 0.75), ci = TRUE, na.rm = TRUE)
    >>> med = d.quantile("api00", 0.5, by="stype")
    >>> print(med.to_frame()[["stype", "estimate", "ci_low", "ci_high", "df"]].to_string())
      stype  estimate  ci_low  ci_high    df
    0     E     668.0   628.0    700.0  14.0
    1     H     630.0   592.0    664.0   7.0
    2     M     662.0   517.0    850.0   7.0

    Other quantile rules and interval types (R ``qrule=``, ``interval.type=``):

    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"psu": np.repeat([1, 2, 3, 4], 3),
    ...                    "w": [1., 2, 1, 2, 1, 1, 3, 1, 2, 1, 1, 2],
    ...                    "y": [3., 5, 4, 6, 7, 5, 4, 4, 6, 8, 7, 9]})
    >>> d = sh.SurveyDesign(df, weights="w", psu="psu")
    >>> f = d.quantile("y", [0.25, 0.5], qrule="school", interval_type="beta").to_frame()
    >>> f[["estimate", "ci_low", "ci_high"]].to_numpy().tolist()   # R: 4, 4, 9; 5.5, 4, 9
    [[4.0, 4.0, 9.0], [5.5, 4.0, 9.0]]
    >>> strat = sh.SurveyDesign(sh.datasets.load_example("apistrat"), weights="pw",
    ...                         strata="stype", fpc="fpc")
    >>> s = strat.quantile("api00", 0.5, interval_type="score").to_frame()
    >>> s[["estimate", "ci_low", "ci_high"]].to_numpy().tolist()   # R: 649, 632, 669
    [[649.0, 632.0, 669.0]]

    In R: ``svyquantile(~api00, dclus1, quantiles = c(0.25, 0.5, 0.75), ci = TRUE)``;
    ``svyby(~api00, ~stype, dclus1, svyquantile, quantiles = 0.5, ci = TRUE)``;
    ``svyquantile(~y, design, c(0.25, 0.5), qrule = "school", interval.type = "beta")``;
    ``svyquantile(~api00, dstrat, 0.5, interval.type = "score")``.
    """
    replicate, level, probs, cols = _check_arguments(design, variables, quantiles, ci, level,
                                                     interval_type, qrule)
    from socialhealth.design.results import check_df

    df = check_df(df)
    inside = design.in_subset
    by_cols = as_list(by)
    codes, D, dom_table = subset_domains(design.data, inside, by_cols)

    rows_out = []
    w = design._w
    n_missing = 0
    n_used = 0
    # as R's svyquantile(na.rm = TRUE): rows missing any of the variables are dropped for all
    # of them, and the degrees of freedom are degf of the rows left (PSUs whose rows are all
    # missing no longer count)
    complete = np.ones(len(w), dtype=bool)
    for c in cols:
        complete &= ~np.isnan(design.data[c].to_numpy(dtype=float, na_value=np.nan))
    for dmn in range(D):
        in_dom = (codes == dmn) & complete
        if not in_dom.any() or (not replicate and np.array_equal(in_dom, inside)):
            sub = design        # the same weights: the design's cached counts serve
        else:
            sub = design._with_weights(np.where(in_dom, w, 0.0))
        dfd = sub.degf() if df is None else float(df)
        # rows of the domain with no missing value, as R's nrow(design) (svyquantile drops
        # the rows with NAs before its Woodruff interval)
        nrow_beta = int(in_dom.sum())
        q_t = float(stats.t.ppf(1 - (1 - level) / 2, dfd)) if np.isfinite(dfd) else float(
            stats.norm.ppf(1 - (1 - level) / 2))
        for c in cols:
            y = design.data[c].to_numpy(dtype=float, na_value=np.nan)
            ok = in_dom & ~np.isnan(y)
            if not ok.any():
                where = "" if dom_table is None else " in the by-group " + ", ".join(
                    f"{b}={show(dom_table.iloc[dmn][b], quote=False)}" for b in by_cols)
                raise EstimationError(f"no non-missing values of {c!r}{where}; cannot estimate a "
                                      f"quantile.")
            Q = _quantile_rule(y, w, qrule) if ok.all() else _quantile_rule(y[ok], w[ok], qrule)
            if ci and interval_type == "quantile":
                rep_rules = _replicate_rules(sub, y, ok, qrule)
            for p in probs:
                q = Q(p)
                lo = hi = se = np.nan
                if ci and interval_type == "quantile":
                    se, lo, hi = _replicate_interval(sub, rep_rules, p, q, q_t)
                elif ci and interval_type == "score":
                    se, lo, hi = _score_interval(sub, Q, y, ok, p, q_t)
                elif ci:
                    kind = interval_type if not replicate else "mean"
                    se, lo, hi = _woodruff_interval(sub, Q, y, ok, q, q_t, kind, level, dfd,
                                                    nrow_beta, qrule in ("math", "hf1"))
                rows_out.append((dmn, c, p, q, se, lo, hi, dfd))
        n_missing += int(((codes == dmn) & ~complete).sum())
        n_used += int(in_dom.sum())

    out = pd.DataFrame(rows_out,
                       columns=["dom", "term", "quantile", "estimate", "se", "lo", "hi", "df"])
    table = out[["term", "quantile", "estimate", "se"]].copy()
    if dom_table is not None:   # by= given
        by_rows = dom_table.loc[out["dom"].to_numpy()].reset_index(drop=True)
        table = pd.concat([by_rows, table], axis=1)
    se = table["se"].to_numpy(dtype=float)
    call = _r_call(cols, probs, ci, by_cols, qrule, interval_type, level, df)
    dfs = out["df"].to_numpy(dtype=float)

    def interval(lvl):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return quantile(design, variables, quantiles, True, lvl, interval_type, qrule, by,
                            df).ci_override

    return IntervalEstimate(
        table=table,
        vcov=np.diag(se**2),
        df=dfs if by_cols else float(dfs[0]),
        statistic="quantile",
        n_rows=n_used,
        n_missing=n_missing,
        method=_method(interval_type, replicate),
        design_label=design._short_label(),
        r_call=call,
        ci_override=(out["lo"].to_numpy(dtype=float), out["hi"].to_numpy(dtype=float)),
        level=level,
        extra={"interval": interval},
    )


# ----------------------------------------------------------------------------- steps of quantile()
def _check_arguments(design, variables, quantiles, ci, level, interval_type, qrule):
    """Validate the arguments; returns ``(replicate, level, probs, cols)``."""
    if not is_choice(qrule, QRULES):
        raise EstimationError(
            f"qrule={show_given(qrule)} is not supported; use one of {', '.join(QRULES)} (R's "
            "'shahvaish' rule is not implemented)."
        )
    if not is_choice(interval_type, INTERVAL_TYPES):
        raise EstimationError(
            f"interval_type={show_given(interval_type)} is not supported; use one of "
            f"{', '.join(INTERVAL_TYPES)}."
        )
    replicate = getattr(design, "kind", "") == "replicate"
    if interval_type == "quantile" and not replicate:
        raise EstimationError(
            "interval_type='quantile' uses replicate quantiles and needs a ReplicateDesign, as "
            "in R; Taylor designs have 'mean', 'beta', 'xlogit', 'asin' and 'score'.")
    if replicate and interval_type == "score":
        raise EstimationError(
            "interval_type='score' (Francisco & Fuller's test inversion) needs a Taylor design, "
            "as in R (svyquantile on a replicate design has no 'score'); use 'quantile', 'mean' "
            "or 'beta'.")
    if replicate and interval_type in ("beta", "xlogit", "asin"):
        warnings.warn(
            f"interval_type={interval_type!r} on a replicate-weight design gives the Woodruff "
            "('mean') interval, as R survey 4.1-1 does (it applies these transformations on "
            "Taylor designs only).", SocialHealthWarning, stacklevel=user_stacklevel())
    if not isinstance(ci, (bool, np.bool_)):
        raise EstimationError(
            f"ci={show_given(ci)}: ci= only switches the intervals on or off (True/False); give "
            "the confidence level as level= (e.g. level=0.9).")
    from socialhealth.design.results import check_level

    level = check_level(level)
    if any(isinstance(q, (bool, np.bool_, str, bytes))
           for q in (quantiles if isinstance(quantiles, (list, tuple)) else [quantiles])):
        raise EstimationError(
            f"quantiles must be probabilities between 0 and 1 (e.g. 0.5 for the median), "
            f"not {show_given(quantiles)}.")
    try:
        probs = [float(q) for q in np.atleast_1d(np.asarray(quantiles, dtype=float))]
    except (TypeError, ValueError):
        raise EstimationError(
            f"quantiles must be probabilities between 0 and 1 (e.g. 0.5 for the median), "
            f"not {show_given(quantiles)}."
        ) from None
    if not probs or any(not 0 <= q <= 1 for q in probs):
        raise EstimationError(f"quantiles must be probabilities between 0 and 1, not "
                              f"{show_given(quantiles)}.")
    cols = as_list(variables)
    if not cols:
        raise EstimationError("name at least one variable.")
    require_columns(design.data, cols, "the design data")
    for c in cols:
        s = design.data[c]
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            raise EstimationError(
                f"column {c!r} has dtype {s.dtype}; quantile() needs numeric columns."
            )
    return replicate, level, probs, cols


def _replicate_rules(sub, y: np.ndarray, ok: np.ndarray, qrule: str) -> list:
    """The quantile rule of each replicate (None where a replicate has no row)."""
    sub._refuse_negative_replicates(
        ok, "quantile() with interval_type='quantile'",
        "a replicate quantile inverts a cumulative weight that is not monotone (R "
        "svyquantile returns a number from it all the same); interval_type='mean' (the "
        "replicate variance of the estimated distribution function) uses them as given.")
    W = sub._W
    rep_rules = []
    for r in range(W.shape[1]):
        okr = ok & (W[:, r] > 0)
        rep_rules.append(_quantile_rule(y[okr], W[okr, r],
                                        qrule) if okr.any() else None)
    return rep_rules


def _replicate_interval(sub, rep_rules: list, p: float, q: float, q_t: float):
    """Replicate-quantile interval ``q -+ t se``; returns ``(se, lo, hi)``."""
    reps = np.array([[np.nan if f is None else f(p)] for f in rep_rules])
    se = float(np.sqrt(max(sub._rep_vcov(np.array([q]), reps)[0, 0], 0.0)))
    return se, q - q_t * se, q + q_t * se


def _score_interval(sub, Q, y: np.ndarray, ok: np.ndarray, p: float, q_t: float):
    """Francisco-Fuller score interval; returns ``(se, lo, hi)``."""
    yv = np.nan_to_num(y)

    def cdf_se(theta):
        u = np.where(ok, (yv <= theta).astype(float), 0.0)[:, None]
        F, V = sub._ratio_estimate(u, ok.astype(float)[:, None])
        return float(np.atleast_1d(F)[0]), float(np.sqrt(max(V[0, 0], 0.0)))
    p_lo, p_hi = _score_limits(y[ok], p, q_t, cdf_se)
    lo, hi = Q(p_lo), Q(p_hi)
    return (hi - lo) / (2 * q_t), lo, hi


def _woodruff_interval(sub, Q, y: np.ndarray, ok: np.ndarray, q: float, q_t: float, kind: str,
                       level: float, dfd: float, nrow_beta: int, step_rule: bool = False):
    """Woodruff interval (CDF interval of the kind given, mapped back); ``(se, lo, hi)``."""
    u = ((y <= q) & ok).astype(float)[:, None]      # NaN <= q is False: 0 off the rows used
    F, V = sub._ratio_estimate(u, ok.astype(float)[:, None])
    # numpy scalars: at F = 1 (or 0) the CDF has variance 0 and the "xlogit"/"beta" intervals
    # divide 0 by 0, which gives NaN limits and se (R's NaN) instead of a ZeroDivisionError
    s = np.float64(np.sqrt(max(V[0, 0], 0.0)))
    F = np.float64(np.atleast_1d(F)[0])
    if step_rule and s == 0 and 0 < F < 1:
        # no sampling variance (a census): both limits are F(q) exactly, a jump of the step
        # CDF, and the inverse-CDF rule maps it back to q itself; computed through Q, an ulp
        # between the two sums of F(q) can step to the next value (R does so at times)
        return 0.0, q, q
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "mean":
            p_lo, p_hi = F - q_t * s, F + q_t * s
        elif kind == "xlogit":
            p_lo, p_hi = _wald_logit(F, s / (F * (1 - F)), q_t)
        elif kind == "asin":
            p_lo, p_hi = _asin_ci(F, s, q_t)
        else:  # beta
            p_lo, p_hi, _ = _beta_ci(F, s**2, level, dfd, nrow_beta)
    lo, hi = Q(float(p_lo)), Q(float(p_hi))
    return (hi - lo) / (2 * q_t), lo, hi


def _r_call(cols, probs, ci, by_cols, qrule: str, interval_type: str, level: float = 0.95,
            df: float | None = None) -> str:
    """The equivalent R call (R's ``alpha`` is 1 - level; its standard errors come from the
    interval, so they depend on it)."""
    call = (f"svyquantile(~{' + '.join(cols)}, design, quantiles = "
            f"c({', '.join(f'{p:g}' for p in probs)}), ci = {'TRUE' if ci else 'FALSE'}, na.rm = "
            f"TRUE)")
    if by_cols:
        call = (f"svyby(~{' + '.join(cols)}, ~{' + '.join(map(str, by_cols))}, design, "
                f"svyquantile, quantiles = c({', '.join(f'{p:g}' for p in probs)}), ci = TRUE, "
                f"na.rm = TRUE)")
    opts = ""
    if qrule != "math":
        opts += f', qrule = "{qrule}"'
    if interval_type != "mean":
        opts += f', interval.type = "{interval_type}"'
    if level != 0.95:
        opts += f", alpha = {1 - level:.12g}"
    if df is not None:
        opts += ", df = " + ("Inf" if np.isinf(df) else f"{float(df):.12g}")
    call = call[:-1] + opts + ")"
    return call


def _method(interval_type: str, replicate: bool) -> str:
    """The interval method's name."""
    return ("replicate quantiles" if interval_type == "quantile" else
            "Francisco-Fuller score" if interval_type == "score" else
            "Woodruff"
            + ("" if interval_type == "mean" or replicate else f" ({interval_type})"))
