"""PPS sampling without replacement: variance options of R ``svydesign(..., pps=)``.

A first stage drawn with unequal probabilities without replacement (PPS WOR) has the
Horvitz-Thompson variance of the estimated total ``sum_i x_i`` (``x_i = t_i / pi_i``, the
weighted PSU totals of the influence values, which are what the Taylor engine carries):

    V_HT = sum_i sum_j Dcheck_ij x_i x_j^T,     Dcheck_ij = (pi_ij - pi_i pi_j) / pi_ij,

(Horvitz & Thompson 1952) with ``pi_ii = pi_i`` (so ``Dcheck_ii = 1 - pi_i``). The
Sen-Yates-Grundy form (Yates & Grundy 1953; Sen 1953) of the same quantity,

    V_YG = -1/2 sum_i sum_j Dcheck_ij (x_i - x_j)(x_i - x_j)^T
         = V_HT - sum_i r_i x_i x_i^T,     r_i = sum_j Dcheck_ij,

is non-negative for designs with ``pi_i pi_j >= pi_ij`` and is exact (zero variance) when
``x_i`` is proportional to ``pi_i`` for a fixed-size design. Both need the joint inclusion
probabilities ``pi_ij``; R gives them with ``pps = ppsmat(pij)``
(:func:`ppsmat`). Without them, two approximations of ``pi_ij`` from the ``pi_i`` alone, within
a stratum of ``n`` sampled PSUs (PSUs of different strata are independent, ``Dcheck_ij = 0``):

* Overton (1985), ``pps = "overton"``:
  ``pi_ij ~ pi_i pi_j (n - 1) / (n - (pi_i + pi_j) / 2)``, so
  ``Dcheck_ij = ((pi_i + pi_j) / 2 - 1) / (n - 1)``;
* Hartley & Rao (1962), ``pps = HR(psum)``: to order ``1/n``,
  ``Dcheck_ij = (pi_i + pi_j - 1 - psum) / (n - 1)`` with
  ``psum = sum_{k in population} pi_k^2 / n`` (R's ``HR(psum)`` argument: the sum of squared
  inclusion probabilities in the population divided by the sample size), estimated without
  replacement-unbiasedly by the stratum mean of the sampled ``pi_i`` when not given (R
  ``HR()``).

Both keep ``Dcheck_ii = 1 - pi_i``. Brewer's approximation (``pps = "brewer"``, Brewer 2002,
ch. 9) is a with-replacement formula with the correction ``1 - pi_i`` and lives in
:func:`socialhealth.design.taylor_variance._brewer_stage`.

R survey 4.1-1 (checked in ``tests/design/test_pps.py`` against
``tests/fixtures/pps/make_pps_exact.R``): these options are one-stage only (R stops with
"Multistage PPS sampling not supported"), ignore ``weights=`` (the weights are ``1/pi_i``), take
``pi_i`` from ``probs=`` or else from ``fpc=``, ignore ``survey.lonely.psu`` (a stratum with one
PSU contributes ``(1 - pi_i) x_i^2``, the Horvitz-Thompson term) and accept ``variance = "YG"``
only with them. The joint probabilities of ``ppsmat`` are per sampled row in R; here they may also
be per PSU (order of first appearance in the data). R sets ``Dcheck_ij`` to 0 when
``|Dcheck_ij| < tolerance`` (``ppsmat(tolerance = 1e-4)``), kept here; pass ``tolerance=0`` for the
exact estimator.

Checked against R survey 4.1-1 at 1e-8 on Midzuno samples with exact ``pi_ij`` (one stratum,
three strata, a one-stage cluster sample, a stratum with a single PSU; each of ``"overton"``,
``HR()``, ``HR(psum)``, ``ppsmat`` with ``variance="HT"`` and ``"YG"``, and ``"brewer"``):
``svytotal``/``svymean``/``svyratio``/proportions, ``svyby``, ``subset`` and ``svyglm``
(``tests/design/test_pps.py``), and ``svyquantile`` (``qrule`` ``"math"`` and ``"hf7"``;
intervals ``"mean"``, ``"beta"``, ``"xlogit"``, ``"asin"``, ``"score"``; by domain),
``svyvar`` (one and two variables), ``svyttest``, ``svychisq`` (``"F"``, ``"Chisq"``,
``"Wald"``, ``"adjWald"``) and ``svytable`` (``tests/design/test_pps_stats.py``, fixtures
written by ``tests/fixtures/pps/make_pps_exact_stats.R``): all of these take their variances
from this module's Horvitz-Thompson / Yates-Grundy forms, as R's do from its ``ppsvar``. R's
``ppscov(probcov)`` (covariances of the inclusion indicators) is not offered: in R 4.1-1
``svydesign`` stops with it ("argument of length 0"), and its working ``weighted = TRUE`` form
is ``ppsmat`` with the joint probabilities.

References
----------
Horvitz DG, Thompson DJ (1952) A generalization of sampling without replacement from a finite
universe. JASA 47:663-685.
Yates F, Grundy PM (1953) Selection without replacement from within strata with probability
proportional to size. JRSS B 15:253-261.
Hartley HO, Rao JNK (1962) Sampling with unequal probabilities and without replacement. Ann
Math Stat 33:350-374.
Overton WS (1985) A sampling plan for streams in the National Stream Survey. Technical Report
114, Department of Statistics, Oregon State University.
Brewer KRW (2002) *Combined Survey Sampling Inference*, Arnold, ch. 9.
Berger YG (2004) A simple variance estimator for unequal probability sampling without
replacement. J Appl Stat 31:305-315.
Lumley T, "Describing PPS designs to R", vignette of the R survey package.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

from socialhealth._stack import user_stacklevel
from socialhealth._text import r_number, show, show_given
from socialhealth.errors import DesignError, ProbabilityError

#: spellings of ``pps=`` accepted as strings (case-insensitive)
PPS_STRINGS = {
    "brewer": "brewer",
    "overton": "overton",
    "hr": "hr",
    "hartley-rao": "hr",
    "hartley_rao": "hr",
    "hartleyrao": "hr",
}


@dataclass(frozen=True)
class HartleyRao:
    """Hartley-Rao approximation for ``pps=`` (R ``HR(psum)``); build it with :func:`HR`."""

    psum: object = None

    def r_code(self) -> str:
        """The R expression for ``pps=``."""
        if self.psum is None:
            return "HR()"
        if isinstance(self.psum, dict):     # R: HR(psum = per-stratum values, strata = names)
            keys = list(self.psum)
            lit = ", ".join(f'"{k}"' if isinstance(k, str) else f"{k}" for k in keys)
            vals = ", ".join(f"{r_number(float(self.psum[k]))}" for k in keys)
            return f"HR(data.frame(psum = c({vals})), data.frame(strata = c({lit})))"
        return f"HR({r_number(float(cast(float, self.psum)))})"


@dataclass(frozen=True, eq=False)
class JointInclusion:
    """Joint inclusion probabilities for ``pps=`` (R ``ppsmat(jointprob)``); see :func:`ppsmat`."""

    joint: np.ndarray
    tolerance: float = 1e-4

    def r_code(self) -> str:
        """The R expression for ``pps=``."""
        tol = "" if self.tolerance == 1e-4 else f", tolerance = {self.tolerance!r}"
        return f"ppsmat(jointprob{tol})"


def HR(psum=None) -> HartleyRao:  # noqa: N802 - R's name
    """Hartley-Rao variance approximation for a PPS-without-replacement first stage (R ``HR()``).

    Parameters
    ----------
    psum : float or dict, optional
        The population sum of squared inclusion probabilities divided by the sample size,
        ``sum_{k in U} pi_k^2 / n`` (R's ``psum``): one number for an unstratified design, or a
        dict ``{stratum label: value}`` with every first-stage stratum. ``None`` (default)
        estimates it by the mean of the sampled ``pi_i`` in the stratum (unbiased for it).

    Returns
    -------
    HartleyRao
        Pass it as ``SurveyDesign(..., pps=HR(...))`` (``pps="hartley-rao"`` is ``HR()``).

    Notes
    -----
    Within a stratum of ``n`` PSUs, ``Dcheck_ij = (pi_i + pi_j - 1 - psum) / (n - 1)`` for
    ``i != j`` and ``1 - pi_i`` on the diagonal; the variance is
    ``sum_ij Dcheck_ij x_i x_j`` (``variance="HT"``) or its Yates-Grundy form
    (``variance="YG"``). See :mod:`socialhealth.design.pps`. R 4.1-1 also zeroes the pair term
    when ``pi_i + pi_j`` equals 1 exactly; that is not done here.

    References
    ----------
    Hartley HO, Rao JNK (1962) Sampling with unequal probabilities and without replacement.
    Ann Math Stat 33:350-374.

    Examples
    --------
    Three PSUs, ``x = y / pi = (10, 12, 7.5)``; ``Dcheck`` has ``1 - pi`` = 0.8, 0.5, 0.6 on the
    diagonal and ``(pi_i + pi_j - 1.3) / 2`` = -0.3, -0.35, -0.2 for the pairs (1,2), (1,3),
    (2,3), so ``V = 80 + 72 + 33.75 + 2 (-36 - 26.25 - 18) = 25.25``:

    >>> import pandas as pd
    >>> import socialhealth as sh
    >>> df = pd.DataFrame({"p": [0.2, 0.5, 0.4], "y": [2.0, 6.0, 3.0]})
    >>> d = sh.SurveyDesign(df, fpc="p", pps=sh.design.HR(0.3))
    >>> round(float(d.total("y").table["se"][0] ** 2), 10)
    25.25

    In R: ``svydesign(id = ~1, fpc = ~p, pps = HR(0.3), data = df)``.
    """
    if psum is not None:
        if isinstance(psum, dict):
            vals = np.array(list(psum.values()), dtype=float)
        elif hasattr(psum, "to_dict"):
            psum = dict(psum.to_dict())
            vals = np.array(list(psum.values()), dtype=float)
        else:
            try:
                psum = float(psum)
            except (TypeError, ValueError):
                raise DesignError(
                    "HR(psum=) must be a number or a dict {stratum: number}, not "
                    f"{show_given(psum)}."
                ) from None
            vals = np.array([psum])
        if not np.all(np.isfinite(vals)) or np.any(vals <= 0) or np.any(vals > 1):
            raise ProbabilityError(
                "HR(psum=) is the population sum of squared inclusion probabilities divided by "
                f"the sample size, a number in (0, 1]; got {show_given(psum)}."
            )
    return HartleyRao(psum)


def ppsmat(jointprob, tolerance: float = 1e-4) -> JointInclusion:
    """Joint inclusion probabilities for the Horvitz-Thompson / Yates-Grundy variance
    (R ``ppsmat(jointprob, tolerance)``).

    Parameters
    ----------
    jointprob : array-like, square
        ``pi_ij`` for the sampled units: one row and column per data row (as R), or per
        first-stage PSU in the order the PSUs first appear in the data. The diagonal holds the
        inclusion probabilities ``pi_i`` (the same as ``fpc=``/``probs=``); ``0 < pi_ij <=
        min(pi_i, pi_j)``; symmetric. Two rows of one PSU (row-level matrix) have
        ``pi_ij = pi_i``. Checked when the design is built.
    tolerance : float, default 1e-4
        ``Dcheck_ij = (pi_ij - pi_i pi_j) / pi_ij`` with ``|Dcheck_ij| < tolerance`` is set to 0,
        as R does; ``tolerance=0`` gives the exact estimator.

    Returns
    -------
    JointInclusion
        Pass it as ``SurveyDesign(..., pps=ppsmat(...), variance="HT" | "YG")``.

    References
    ----------
    Horvitz DG, Thompson DJ (1952) JASA 47:663-685. Yates F, Grundy PM (1953) JRSS B
    15:253-261.

    Examples
    --------
    Simple random sampling of 2 out of 4 (``pi_i = 1/2``, ``pi_ij = 1/6``): the Horvitz-Thompson
    variance is the textbook ``N^2 (1 - f) s^2 / n = 16 * 0.5 * 2 / 2 = 8``.

    >>> import numpy as np, pandas as pd
    >>> import socialhealth as sh
    >>> df = pd.DataFrame({"p": [0.5, 0.5], "y": [1.0, 3.0]})
    >>> pij = np.array([[0.5, 1 / 6], [1 / 6, 0.5]])
    >>> d = sh.SurveyDesign(df, fpc="p", pps=sh.design.ppsmat(pij))
    >>> round(float(d.total("y").table["se"][0] ** 2), 10)
    8.0

    In R: ``svydesign(id = ~1, fpc = ~p, pps = ppsmat(pij), data = df)``.
    """
    try:
        joint = np.array(jointprob, dtype=float)
    except (TypeError, ValueError):
        raise DesignError("ppsmat(jointprob) must be a numeric square matrix.") from None
    if joint.ndim != 2 or joint.shape[0] != joint.shape[1]:
        raise DesignError(
            f"ppsmat(jointprob) must be a square matrix; got shape {joint.shape}. "
            "(R: jointprob must be a square matrix)"
        )
    tol = float(tolerance)
    if not np.isfinite(tol) or tol < 0:
        raise DesignError(f"ppsmat(tolerance=) must be >= 0; got {show_given(tolerance)}.")
    return JointInclusion(joint, tol)


def resolve_pps(pps):
    """``pps=`` argument as ``None``, ``"brewer"``, ``"overton"``, :class:`HartleyRao` or
    :class:`JointInclusion`; raises :class:`~socialhealth.errors.DesignError` otherwise.

    The accepted values are those of R ``svydesign(..., pps = "brewer" | "overton" | HR() |
    ppsmat(pij))``.

    Examples
    --------
    >>> resolve_pps("Hartley-Rao")
    HartleyRao(psum=None)
    """
    if pps is None or pps is False:
        return None
    if isinstance(pps, (HartleyRao, JointInclusion)):
        return pps
    if isinstance(pps, str) and pps.lower() in PPS_STRINGS:
        key = PPS_STRINGS[pps.lower()]
        return HR() if key == "hr" else key
    raise DesignError(
        f"pps={show_given(pps)} is not supported; use 'brewer', 'overton', 'hartley-rao' (= HR()), "
        "sh.design.HR(psum) or sh.design.ppsmat(joint_probabilities)."
    )


def method_label(spec) -> str:
    """Short label of a resolved ``pps=`` for descriptions (R prints the design's ``pps``
    method in ``print(svydesign(...))`` as well)."""
    if isinstance(spec, HartleyRao):
        return "Hartley-Rao"
    if isinstance(spec, JointInclusion):
        return "joint inclusion probabilities"
    return str(spec).capitalize()


class PPSVariance:
    """Horvitz-Thompson / Yates-Grundy variance of a PPS-WOR first stage from influence values.

    ``unit`` maps data rows to the units of the ``Dcheck`` matrix (PSUs, or rows for a row-level
    joint matrix); :meth:`vcov` sums the weighted influence values ``Z`` within units and applies
    the formulas of :mod:`socialhealth.design.pps` (R's internal ``ppsvar`` for a design built
    with ``svydesign(..., pps=)``). Overton and Hartley-Rao use their
    stratum-wise structure ``Dcheck_ij = (c_i + c_j)/(n_h - 1)`` (``i != j``) without building an
    ``n x n`` matrix; the joint-probability form uses the (tolerance-thresholded) matrix.
    """

    def __init__(self, unit, pi, stratum, variance: str, dcheck=None, c=None):
        self.unit = np.asarray(unit, dtype=np.int64)
        self.n_units = len(pi)
        self.pi = np.asarray(pi, dtype=float)
        self.stratum = np.asarray(stratum, dtype=np.int64)
        self.variance = variance
        self.dcheck = dcheck
        self.c = c

    @classmethod
    def structured(cls, method, unit, pi, stratum, variance, psum_per_stratum=None):
        """Overton (``method="overton"``) or Hartley-Rao (``"hr"``) from the ``pi_i``."""
        pi = np.asarray(pi, dtype=float)
        if method == "overton":
            c = (pi - 1.0) / 2.0
        else:
            if psum_per_stratum is None:           # estimated: stratum mean of the sampled pi
                H = int(stratum.max()) + 1
                psum_per_stratum = (np.bincount(stratum, weights=pi, minlength=H)
                                    / np.bincount(stratum, minlength=H))
            c = pi - (1.0 + np.asarray(psum_per_stratum)[stratum]) / 2.0
        return cls(unit, pi, stratum, variance, c=c)

    def vcov(self, Z) -> np.ndarray:
        """Covariance matrix (p x p) of the totals of the columns of ``Z``."""
        from socialhealth.design.taylor_variance import group_sum

        x = group_sum(self.unit, Z, self.n_units)
        if x.ndim == 1:
            x = x[:, None]
        if self.dcheck is not None:
            D = self.dcheck
            V = x.T @ (D @ x)
            if self.variance == "YG":
                V = V - x.T @ (D.sum(axis=1)[:, None] * x)
            return nan_negative_variances((V + V.T) / 2, np.sum(x * x, axis=0))
        h, c, pi = self.stratum, self.c, self.pi
        H = int(h.max()) + 1
        n_h = np.bincount(h, minlength=H).astype(float)
        with np.errstate(divide="ignore"):
            a_h = np.where(n_h > 1, 1.0 / (n_h - 1.0), 0.0)
        a = a_h[h]
        S = group_sum(h, x, H)                       # (H, p)
        C = group_sum(h, c[:, None] * x, H)          # (H, p)
        # sum_ij Dcheck_ij x_i x_j^T with Dcheck_ii = 1 - pi_i and (c_i + c_j) a_h off the diagonal
        e = (1.0 - pi) - 2.0 * a * c
        cross = (a_h[:, None] * C).T @ S
        V = x.T @ (e[:, None] * x) + cross + cross.T
        if self.variance == "YG":
            # row sums of Dcheck: r_i = (1 - pi_i) + a_h ((n_h - 1) c_i + sum_{j in h} c_j - c_i)
            csum = np.bincount(h, weights=c, minlength=H)
            r = (1.0 - pi) + a * ((n_h[h] - 2.0) * c + csum[h])
            V = V - x.T @ (r[:, None] * x)
        return nan_negative_variances((V + V.T) / 2, np.sum(x * x, axis=0))


def nan_negative_variances(V: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``V`` with negative diagonal entries (beyond rounding, relative to ``scale``) set to NaN,
    with a :class:`~socialhealth.errors.SocialHealthWarning`.

    Neither the Yates-Grundy form nor the Overton/Hartley-Rao approximations are guaranteed
    non-negative (e.g. for a small domain, whose size is random). R reports ``NaN`` for the
    square root of a negative variance (e.g. ``SE(svyglm(..., design))``); a standard error
    of 0 would be a wrong number. The
    off-diagonal entries are kept, as in R's ``vcov``.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     nan_negative_variances(np.array([[-1.0, 0.5], [0.5, 2.0]]), np.ones(2))
    array([[nan, 0.5],
           [0.5, 2. ]])
    """
    d = np.diag(V)
    neg = d < -1e-10 * np.maximum(np.asarray(scale, dtype=float), np.finfo(float).tiny)
    if neg.any():
        import warnings

        from socialhealth.errors import SocialHealthWarning

        warnings.warn(
            f"the estimated variance is negative for {int(neg.sum())} of {len(d)} "
            "estimate(s) (possible with the Yates-Grundy form or the Overton/Hartley-Rao "
            "approximations of a PPS design, e.g. in a small domain, and with the phase-1 term "
            "of a two-phase design with a clustered phase 1); their standard errors are NaN, "
            "as in R.",
            SocialHealthWarning, stacklevel=user_stacklevel(),
        )
        V = V.copy()
        V[np.flatnonzero(neg), np.flatnonzero(neg)] = np.nan
    return V


def joint_dcheck(spec: JointInclusion, pi: np.ndarray, same_psu=None) -> np.ndarray:
    """Validated ``Dcheck = (pi_ij - pi_i pi_j) / pi_ij`` from a joint-probability matrix whose
    rows match ``pi`` (thresholded at ``spec.tolerance`` as R ``ppsmat(pij, tolerance)``).

    ``same_psu`` (boolean matrix, row-level matrices of cluster designs) marks pairs of rows in
    one PSU, which must have ``pi_ij = pi_i``. Raises
    :class:`~socialhealth.errors.ProbabilityError` naming the first offending pair.

    Examples
    --------
    >>> import numpy as np
    >>> joint_dcheck(ppsmat([[0.5, 1 / 6], [1 / 6, 0.5]]), np.array([0.5, 0.5])).round(4)
    array([[ 0.5, -0.5],
           [-0.5,  0.5]])
    """
    P = spec.joint
    scale = max(1.0, float(np.max(np.abs(P))) if P.size else 1.0)
    tol = 1e-9 * scale

    def where(mask):
        i, j = np.argwhere(mask)[0]
        return f"row {i + 1}, column {j + 1} (value {show(P[i, j])})"

    if not np.all(np.isfinite(P)):
        raise ProbabilityError(
            f"the joint inclusion probabilities have missing or infinite values, e.g. at "
            f"{where(~np.isfinite(P))}."
        )
    asym = np.abs(P - P.T) > tol
    if asym.any():
        raise ProbabilityError(
            "the joint inclusion probability matrix is not symmetric (pi_ij must equal pi_ji), "
            f"e.g. at {where(asym)}."
        )
    diag = np.diag(P)
    off = np.abs(diag - pi) > 1e-8 * np.maximum(1.0, np.abs(pi))
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise ProbabilityError(
            "the diagonal of the joint inclusion probability matrix must equal the inclusion "
            f"probabilities given in fpc=/probs=; unit {i + 1} has {show(diag[i])} on the "
            f"diagonal but inclusion probability {show(pi[i])}."
        )
    if np.any(P <= 0):
        raise ProbabilityError(
            "joint inclusion probabilities must be > 0 (the Horvitz-Thompson variance divides by "
            f"them), e.g. at {where(P <= 0)}."
        )
    too_big = P > np.minimum.outer(pi, pi) + tol
    if too_big.any():
        raise ProbabilityError(
            "a joint inclusion probability exceeds a marginal one (pi_ij <= min(pi_i, pi_j) "
            f"must hold), e.g. at {where(too_big)}."
        )
    if same_psu is not None:
        bad = same_psu & (np.abs(P - pi[:, None]) > tol)
        if bad.any():
            raise ProbabilityError(
                "two rows of the same PSU must have joint inclusion probability equal to the "
                f"PSU's inclusion probability, e.g. at {where(bad)}; give the matrix per PSU or "
                "fix these entries."
            )
    D = (P - np.outer(pi, pi)) / P
    D[np.abs(D) < spec.tolerance] = 0.0
    return D
