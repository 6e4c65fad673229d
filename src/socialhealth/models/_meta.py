"""Fixed- and random-effects meta-analysis of study-level estimates.

:func:`meta` pools per-study log effects (log OR/HR/RR, or any estimate on an additive scale)
with inverse-variance weights, estimating the between-study variance tau^2 by
DerSimonian-Laird, REML or Paule-Mandel, optionally with the Knapp-Hartung (HKSJ) adjustment.
It reproduces R ``metafor::rma()`` (version 3.8) numerically; :func:`se_from_ci` turns a
published ratio and its confidence interval into the log-scale standard error.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from socialhealth._options import is_number
from socialhealth._text import show_given, show_list
from socialhealth._deprecation import renamed_parameter
from socialhealth.design.result_protocol import Result, ScalarValue, SummaryFrame, analysis_scale
from socialhealth.design.structure import check_flag
from socialhealth.errors import ConvergenceError, ModelError

__all__ = ["MetaResult", "i2_from_q", "meta", "se_from_ci"]

_METHODS = {"fe": "FE", "dl": "DL", "reml": "REML", "pm": "PM"}
_METHOD_NAMES = {
    "FE": "Fixed-effect (inverse variance)",
    "DL": "Random-effects, DerSimonian-Laird tau^2",
    "REML": "Random-effects, REML tau^2",
    "PM": "Random-effects, Paule-Mandel tau^2",
}
_TOL = 1e-12  # convergence threshold on tau^2 (REML Fisher scoring, PM and Q-profile roots)
_MAXITER = 1000


# ----------------------------------------------------------------------------- helpers
def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) \
            or not 0.0 < float(level) < 1.0:
        raise ModelError(f"level must be a number between 0 and 1 (e.g. 0.95), got "
                         f"{show_given(level)}.")
    return float(level)


def _as_vector(x: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{what} must be numeric ({exc}).") from exc
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ModelError(f"{what} must be one-dimensional, got shape {arr.shape}.")
    return arr


def se_from_ci(
    lower: Any, upper: Any, level: float = 0.95, log: bool = True
) -> np.ndarray:
    r"""Standard error recovered from a symmetric confidence interval.

    .. math::

        SE = \frac{g(U) - g(L)}{2\, z_{(1+level)/2}}, \qquad
        g = \ln \text{ if } log \text{ else identity}.

    Use ``log=True`` for ratios (OR, HR, RR) whose CI is symmetric on the log scale: the SE is
    then the SE of the log ratio, ready for :func:`meta`.

    Parameters
    ----------
    lower, upper : array-like
        Lower and upper confidence limits (ratios when ``log=True``).
    level : float, default 0.95
        Confidence level of the published interval.
    log : bool, default True
        Take logs of the limits first.

    Returns
    -------
    numpy.ndarray
        Standard errors (one per interval).

    References
    ----------
    Higgins JPT et al. (eds), *Cochrane Handbook for Systematic Reviews of Interventions*,
    section 6.3.2 (obtaining standard errors from confidence intervals).

    Examples
    --------
    >>> from socialhealth.models import se_from_ci
    >>> # Naito et al. 2023 pooled HR 1.33 (1.26-1.41)
    >>> round(float(se_from_ci(1.26, 1.41)[0]), 6)
    0.028694

    In R: ``(log(upper) - log(lower)) / (2 * qnorm(0.975))``.
    """
    level = _check_level(level)
    log = check_flag(log, "log", "se_from_ci()")
    lo = _as_vector(lower, "lower")
    hi = _as_vector(upper, "upper")
    if lo.shape != hi.shape:
        raise ModelError(f"lower has {lo.size} values but upper has {hi.size}; pass one pair per "
                         f"study.")
    if np.any(~np.isfinite(lo)) or np.any(~np.isfinite(hi)):
        raise ModelError("confidence limits contain missing or infinite values.")
    if log:
        if np.any(lo <= 0) or np.any(hi <= 0):
            raise ModelError(
                "ratio confidence limits must be positive with log=True; pass log=False for "
                "limits on an additive scale."
            )
        lo, hi = np.log(lo), np.log(hi)
    if np.any(hi <= lo):
        raise ModelError("every upper confidence limit must exceed its lower limit.")
    return (hi - lo) / (2.0 * stats.norm.ppf(0.5 + level / 2.0))


def i2_from_q(q: float, df: float) -> float:
    r"""Higgins-Thompson I^2 (in percent) from Cochran's Q and its degrees of freedom.

    .. math:: I^2 = 100 \cdot \max\!\left(0, \frac{Q - df}{Q}\right)

    This is the I^2 that RevMan and ``metafor`` (fixed-effect and DerSimonian-Laird models)
    report.

    References
    ----------
    Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a meta-analysis.
    *Stat Med* 21:1539-1558.

    Examples
    --------
    >>> from socialhealth.models import i2_from_q
    >>> round(i2_from_q(112.51, 27), 1)   # Naito et al. 2023: Chi2 = 112.51, I2 = 76%
    76.0

    In R: ``max(0, 100 * (QE - df) / QE)`` (``rma(..., method="FE")$I2``).
    """
    try:
        if not (is_number(q) and is_number(df)):     # "10" and True were read as numbers
            raise ValueError
        q = float(q)
        df = float(df)
    except (TypeError, ValueError):
        raise ModelError(f"i2_from_q() takes Cochran's Q and its degrees of freedom as numbers, "
                         f"not q={show_given(q)}, df={show_given(df)}.") from None
    if not (np.isfinite(q) and q >= 0):
        raise ModelError(f"Q must be a non-negative number, got {show_given(q)}.")
    if not df > 0:
        raise ModelError(f"df must be positive, got {show_given(df)}.")
    if q == 0:
        return 0.0
    return 100.0 * max(0.0, (q - df) / q)


def _pooled(yi: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * yi) / np.sum(w))


def _gen_q(tau2: float, yi: np.ndarray, vi: np.ndarray) -> float:
    """Generalised Q: sum w_i (y_i - mu(w))^2 with w_i = 1/(v_i + tau2)."""
    w = 1.0 / (vi + tau2)
    mu = _pooled(yi, w)
    return float(np.sum(w * (yi - mu) ** 2))


def _tr_p(w: np.ndarray) -> float:
    s = w.sum()
    return float(s - np.sum(w**2) / s)


def _sum_pp(w: np.ndarray) -> float:
    """sum_{ij} P_ij^2 for P = W - w w'/sum(w) (intercept-only model)."""
    s = w.sum()
    s2 = np.sum(w**2)
    return float(s2 - 2.0 * np.sum(w**3) / s + s2**2 / s**2)


def _tau2_dl(yi: np.ndarray, vi: np.ndarray) -> float:
    w = 1.0 / vi
    q = _gen_q(0.0, yi, vi)
    return max(0.0, (q - (yi.size - 1)) / _tr_p(w))


def _reml_loglik(tau2: float, yi: np.ndarray, vi: np.ndarray) -> float:
    w = 1.0 / (vi + tau2)
    mu = _pooled(yi, w)
    k = yi.size
    return float(
        -0.5 * (k - 1) * np.log(2 * np.pi)
        - 0.5 * np.sum(np.log(vi + tau2))
        - 0.5 * np.log(np.sum(w))
        - 0.5 * np.sum(w * (yi - mu) ** 2)
    )


def _tau2_reml(yi: np.ndarray, vi: np.ndarray) -> tuple[float, int]:
    k = yi.size
    # starting value: Hedges (HE) estimator, truncated at 0
    rss = float(np.sum((yi - yi.mean()) ** 2))
    tau2 = max(0.0, (rss - (k - 1) / k * float(np.sum(vi))) / (k - 1))
    for it in range(1, _MAXITER + 1):  # noqa: B007 - returned after the loop
        w = 1.0 / (vi + tau2)
        py = w * (yi - _pooled(yi, w))  # P y
        adj = (float(np.sum(py**2)) - _tr_p(w)) / _sum_pp(w)
        while tau2 + adj < 0.0:
            adj /= 2.0
        old = tau2
        tau2 = tau2 + adj
        if abs(tau2 - old) <= _TOL:
            break
    else:
        raise ConvergenceError(
            f"REML Fisher scoring for tau^2 did not converge in {_MAXITER} iterations; "
            "try method='pm' or method='dl'."
        )
    tau2 = max(0.0, tau2)
    # as metafor (ll0check): fall back to 0 when tau^2 = 0 has the higher restricted likelihood
    if tau2 > 0 and _reml_loglik(0.0, yi, vi) - _reml_loglik(tau2, yi, vi) > 1e-10:
        tau2 = 0.0
    return tau2, it


def _upper_bracket(f, start: float) -> float:
    """Smallest of start * 2^j (j >= 0) where the decreasing function f is negative."""
    hi = max(start, 1.0)
    for _ in range(200):
        if f(hi) < 0:
            return hi
        hi *= 2.0
    raise ConvergenceError("could not bracket the tau^2 root; the effects may be extreme.")


def _solve_q(target: float, yi: np.ndarray, vi: np.ndarray) -> float:
    """tau^2 >= 0 with generalised Q(tau^2) = target (0 when Q(0) <= target)."""

    def f(t: float) -> float:
        return _gen_q(t, yi, vi) - target

    if f(0.0) <= 0:
        return 0.0
    hi = _upper_bracket(f, 100.0 * float(np.max(vi)) + float(np.var(yi)))
    return float(optimize.brentq(f, 0.0, hi, xtol=_TOL, rtol=4 * np.finfo(float).eps,
                                 maxiter=_MAXITER))


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False, kw_only=True)
class MetaResult(Result):
    """Result of :func:`meta`.

    Result protocol: ``coef()``, ``se()`` and ``confint(level=)`` have one row per study and
    the pooled row, as :meth:`to_frame`, on the analysis scale (study intervals
    ``y_i +- z se_i``; the pooled interval t with ``df`` under HKSJ, else z); ``float(res)`` is
    the pooled estimate; ``res.se`` is still the pooled standard error (a float), ``res.se()`` the
    Series; ``res.summary`` is still the one-row DataFrame and ``res.summary()`` the text;
    ``vcov`` does not apply.

    Scalars are on the analysis (log) scale; the ``exp_*`` columns of :attr:`summary` and
    :meth:`to_frame` with ``exponentiate=True`` give the ratio scale.  ``I2`` and ``weights`` are
    percentages, as in metafor.  ``df`` is the t degrees of freedom of the test and intervals
    (``k - 1`` with ``hksj=True``) and ``inf`` for normal-based (``test="z"``) inference.

    Examples
    --------
    >>> from socialhealth.models import meta
    >>> res = meta([0.27, 0.06, 0.44, 0.00, 0.40], [0.36, 0.15, 0.09, 0.18, 0.16], method="reml")
    >>> res.k, res.method
    (5, 'REML')
    >>> print(res.to_frame().round(4).to_string())
            label    kind  estimate      se  ci_low  ci_high    weight  pi_low  pi_high
    0           1   study     0.270  0.3600 -0.4356   0.9756    6.9925     NaN      NaN
    1           2   study     0.060  0.1500 -0.2340   0.3540   22.2134     NaN      NaN
    2           3   study     0.440  0.0900  0.2636   0.6164   31.4046     NaN      NaN
    3           4   study     0.000  0.1800 -0.3528   0.3528   18.4925     NaN      NaN
    4           5   study     0.400  0.1600  0.0864   0.7136   20.8968     NaN      NaN
    5  REML model  pooled     0.254  0.1045  0.0491   0.4589  100.0000 -0.1262   0.6342
    >>> round(res.tau2, 4), round(res.I2, 1)
    (0.0267, 52.4)

    In R: ``metafor::rma(yi = c(0.27, 0.06, 0.44, 0, 0.40), sei = c(0.36, 0.15, 0.09, 0.18,
    0.16), method = "REML")``.
    """

    method: str
    hksj: bool
    level: float
    k: int
    estimate: float
    # field(): keeps the protocol's se() off the default. A float when constructed;
    # __post_init__ makes it a ScalarValue (the float, and callable: se() is the protocol's
    # Series), so it is typed Any: neither float nor the inherited method describes both.
    se: Any = field()
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    df: float
    pi_low: float
    pi_high: float
    tau2: float
    se_tau2: float
    tau2_ci_low: float
    tau2_ci_high: float
    I2: float
    I2_ci_low: float
    I2_ci_high: float
    H2: float
    H2_ci_low: float
    H2_ci_high: float
    Q: float
    Q_df: int
    Q_p: float
    s2w: float
    iterations: int
    exponentiate: bool
    studies: pd.DataFrame

    _label_columns = ("label",)
    _not_applicable = {
        "vcov": "a meta-analysis has no joint covariance of the studies and the pooled estimate; "
                "use se() (the pooled variance is se**2).",
    }

    def __post_init__(self):
        # res.se stays the pooled float; res.se() is the protocol's Series
        object.__setattr__(self, "se", ScalarValue(float(self.se), self, "se"))

    def __setstate__(self, state):
        # pickle / copy: the callable se again
        self.__dict__.update(state)
        object.__setattr__(self, "se", ScalarValue(float(state["se"]), self, "se"))

    def _estimates(self, level: float) -> pd.DataFrame:
        # analysis (log) scale, where the se is
        st = self.studies
        labels = [str(v) for v in st["label"]] + [f"{self.method} model"]
        est = np.append(st["yi"].to_numpy(dtype=float), self.estimate)
        se = np.append(st["se"].to_numpy(dtype=float), float(self.se))
        lo = np.append(st["ci_low"].to_numpy(dtype=float), self.ci_low)
        hi = np.append(st["ci_high"].to_numpy(dtype=float), self.ci_high)
        df = np.append(np.full(len(st), np.inf), self.df)
        return analysis_scale(labels, est, se, lo, hi, False, df, level, self.level)

    def __float__(self) -> float:
        """The pooled estimate (analysis scale, as :attr:`estimate`)."""
        return float(self.estimate)

    @property
    def tau(self) -> float:
        """Square root of tau^2."""
        return float(np.sqrt(self.tau2))

    @property
    def weights(self) -> pd.Series:
        """Study weights in percent (``100 w_i / sum w``), as ``weights(rma_fit)``."""
        return self.studies.set_index("label")["weight"]

    @property
    def summary(self) -> pd.DataFrame:
        """One-row DataFrame of the pooled estimate and heterogeneity statistics.

        Columns: method, test, k, estimate, se, statistic, p_value, df, ci_low, ci_high,
        pi_low, pi_high (analysis/log scale), exp_estimate, exp_ci_low, exp_ci_high,
        exp_pi_low, exp_pi_high (exp scale: ratios when the analysis scale is a log ratio),
        tau2, tau, se_tau2, tau2_ci_low, tau2_ci_high, I2, I2_ci_low, I2_ci_high, H2, Q, Q_df,
        Q_p.  Both scales are always present, whatever ``exponentiate`` was.
        """
        row = {
            "method": self.method,
            "test": "knha" if self.hksj else "z",
            "k": self.k,
            "estimate": self.estimate,
            "se": self.se,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "df": self.df,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "pi_low": self.pi_low,
            "pi_high": self.pi_high,
            "exp_estimate": float(np.exp(self.estimate)),
            "exp_ci_low": float(np.exp(self.ci_low)),
            "exp_ci_high": float(np.exp(self.ci_high)),
            "exp_pi_low": float(np.exp(self.pi_low)),
            "exp_pi_high": float(np.exp(self.pi_high)),
            "tau2": self.tau2,
            "tau": self.tau,
            "se_tau2": self.se_tau2,
            "tau2_ci_low": self.tau2_ci_low,
            "tau2_ci_high": self.tau2_ci_high,
            "I2": self.I2,
            "I2_ci_low": self.I2_ci_low,
            "I2_ci_high": self.I2_ci_high,
            "H2": self.H2,
            "Q": self.Q,
            "Q_df": self.Q_df,
            "Q_p": self.Q_p,
        }
        out = SummaryFrame([row])
        out.attrs["text"] = repr(self)
        return out

    def to_frame(self, exponentiate: bool | None = None) -> pd.DataFrame:
        """Forest-plot table: one row per study plus a pooled row.

        Columns: label, kind (``"study"`` / ``"pooled"``), estimate, se, ci_low, ci_high,
        weight (percent), pi_low, pi_high (pooled row only).  Study CIs are
        ``y_i ± z_{(1+level)/2} se_i``.  ``exponentiate`` defaults to the value given to
        :func:`meta`.
        """
        exponentiate = (self.exponentiate if exponentiate is None
                        else check_flag(exponentiate, "exponentiate", "to_frame()"))
        g = np.exp if exponentiate else (lambda x: x)
        st = self.studies
        studies = pd.DataFrame(
            {
                "label": st["label"].astype(object),
                "kind": "study",
                "estimate": g(st["yi"].to_numpy()),
                "se": st["se"].to_numpy(),
                "ci_low": g(st["ci_low"].to_numpy()),
                "ci_high": g(st["ci_high"].to_numpy()),
                "weight": st["weight"].to_numpy(),
                "pi_low": np.nan,
                "pi_high": np.nan,
            }
        )
        pooled = pd.DataFrame(
            {
                "label": [f"{self.method} model"],
                "kind": ["pooled"],
                "estimate": [g(self.estimate)],
                "se": [self.se],
                "ci_low": [g(self.ci_low)],
                "ci_high": [g(self.ci_high)],
                "weight": [100.0],
                "pi_low": [g(self.pi_low)],
                "pi_high": [g(self.pi_high)],
            }
        )
        return pd.concat([studies, pooled], ignore_index=True)

    def __repr__(self) -> str:
        g = np.exp if self.exponentiate else (lambda x: x)
        scale = "ratio scale (exp)" if self.exponentiate else "analysis scale"
        pct = round(100 * self.level)
        lines = [
            f"{_METHOD_NAMES[self.method]}"
            + (", Knapp-Hartung (HKSJ) t-based inference" if self.hksj else "")
            + f"; k = {self.k}",
            f"  pooled estimate ({scale}): {g(self.estimate):.4f} "
            f"[{pct}% CI {g(self.ci_low):.4f}, {g(self.ci_high):.4f}]; "
            f"{'t' if self.hksj else 'z'} = {self.statistic:.4f}"
            + (f" (df = {self.df:g})" if self.hksj else "")
            + f", p = {self.p_value:.4g}",
            f"  se (analysis scale) = {self.se:.4f}",
        ]
        if self.method != "FE":
            lines.append(
                f"  {pct}% prediction interval: [{g(self.pi_low):.4f}, {g(self.pi_high):.4f}]"
            )
            lines.append(
                f"  tau^2 = {self.tau2:.4f} [{pct}% CI {self.tau2_ci_low:.4f}, "
                f"{self.tau2_ci_high:.4f}], tau = {self.tau:.4f}"
            )
        lines.append(
            f"  heterogeneity: Q({self.Q_df}) = {self.Q:.4f}, p = {self.Q_p:.4g}; "
            f"I^2 = {self.I2:.2f}%, H^2 = {self.H2:.4f}"
        )
        return "\n".join(lines)


# ----------------------------------------------------------------------------- main function
def _study_inputs(estimates, se, vi, ci_low, ci_high, ratio, input_level, labels, m, hksj):
    """Validated per-study effects ``yi`` (log scale when ``ratio``), their SEs and labels."""
    if labels is None and isinstance(estimates, pd.Series):
        labels = [str(i) for i in estimates.index]
    yi = _as_vector(estimates, "estimates")
    given = [name for name, val in (("se", se), ("vi", vi), ("ci_low", ci_low)) if val is not None]
    if ci_high is not None and "ci_low" not in given:
        raise ModelError("ci_high was given without ci_low; pass both confidence limits.")
    if len(given) != 1:
        raise ModelError(
            "give exactly one of se=, vi= or ci_low= with ci_high= for the study precision "
            f"(got {', '.join(given) if given else 'none'})."
        )
    if ratio:
        if np.any(yi <= 0):
            raise ModelError("with ratio=True every estimate must be a positive ratio.")
        yi = np.log(yi)
    if se is not None:
        sei = _as_vector(se, "se")
        name = "se"
    elif vi is not None:
        v = _as_vector(vi, "vi")
        if v.shape != yi.shape:
            raise ModelError(f"estimates has {yi.size} values but vi has {v.size}; pass one per "
                             f"study.")
        if np.any(~np.isfinite(v)) or np.any(v <= 0):
            raise ModelError("every sampling variance vi must be positive and finite.")
        sei = np.sqrt(v)
        name = "vi"
    else:
        if ci_high is None:
            raise ModelError("ci_low was given without ci_high; pass both confidence limits.")
        lo = _as_vector(ci_low, "ci_low")
        hi = _as_vector(ci_high, "ci_high")
        if lo.shape != yi.shape or hi.shape != yi.shape:
            raise ModelError(
                f"estimates has {yi.size} values but ci_low/ci_high have {lo.size}/{hi.size}; "
                "pass one interval per study."
            )
        sei = se_from_ci(lo, hi, level=input_level, log=ratio)
        name = "se"
    if sei.shape != yi.shape:
        raise ModelError(f"estimates has {yi.size} values but {name} has {sei.size}; pass one per "
                         f"study.")
    if np.any(~np.isfinite(yi)):
        raise ModelError("estimates contain missing or infinite values; drop those studies first.")
    if np.any(~np.isfinite(sei)) or np.any(sei <= 0):
        bad = np.flatnonzero(~np.isfinite(sei) | (sei <= 0))
        raise ModelError(
            f"standard errors must be positive and finite; study position(s) {show_list(bad)} are "
            f"not."
        )
    k = yi.size
    if k == 0:
        raise ModelError("no studies given.")
    if m != "FE" and k < 2:
        raise ModelError(f"a random-effects model needs at least 2 studies, got {k}; use "
                         f"method='fe'.")
    if hksj and k < 2:
        raise ModelError("Knapp-Hartung inference needs at least 2 studies (t with k-1 df).")
    if labels is None:
        lab = [str(i + 1) for i in range(k)]
    else:
        if isinstance(labels, (str, bytes, dict)) or np.ndim(labels) != 1:
            raise ModelError(f"labels= takes one label per study, as a list (e.g. ['Smith 2020', "
                             f"'Lee 2021']), not {show_given(labels)}.")
        lab = list(labels)
        if len(lab) != k:
            raise ModelError(f"labels has {len(lab)} entries but there are {k} studies.")
    return yi, sei, lab


def _tau2(m: str, k: int, yi: np.ndarray, vi_: np.ndarray) -> tuple[float, int]:
    """The between-study variance of method ``m`` and the iterations it took."""
    # tau^2
    iterations = 0
    if m == "FE":
        tau2 = 0.0
    elif m == "DL":
        tau2 = _tau2_dl(yi, vi_)
    elif m == "REML":
        tau2, iterations = _tau2_reml(yi, vi_)
    else:
        tau2 = _solve_q(k - 1.0, yi, vi_)
    return tau2, iterations


def _pooled_inference(m, k, yi, vi_, tau2, hksj, level):
    """Pooled estimate, its SE (Knapp-Hartung scaled when ``hksj``), test, CI and PI."""
    # pooled estimate
    w = 1.0 / (vi_ + tau2)
    mu = _pooled(yi, w)
    var_mu = 1.0 / float(np.sum(w))
    s2w = 1.0
    if hksj:
        rss = float(np.sum(w * (yi - mu) ** 2))
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - 1)
    se_mu = float(np.sqrt(s2w * var_mu))
    if hksj:
        df = float(k - 1)
        crit = float(stats.t.ppf(0.5 + level / 2.0, df))
        stat = mu / se_mu if se_mu > 0 else np.sign(mu) * np.inf
        p = float(2.0 * stats.t.sf(abs(stat), df))
    else:
        df = float("inf")
        crit = float(stats.norm.ppf(0.5 + level / 2.0))
        stat = mu / se_mu
        p = float(2.0 * stats.norm.sf(abs(stat)))
    ci = (mu - crit * se_mu, mu + crit * se_mu)
    if m == "FE":  # no prediction interval for a common-effect model (as predict.rma)
        pi = (float("nan"), float("nan"))
    else:
        half_pi = crit * np.sqrt(se_mu**2 + tau2)
        pi = (mu - half_pi, mu + half_pi)
    return mu, se_mu, s2w, df, stat, p, ci, pi, w


def _heterogeneity(m, k, yi, vi_, w, w_fe, Q, vt, tau2, level):
    """I^2, H^2, the SE of tau^2 and the Q-profile CIs of tau^2, I^2 and H^2."""
    # I2, H2
    if k == 1:
        I2, H2 = 0.0, 1.0
    elif m == "FE":
        I2 = i2_from_q(Q, k - 1) if Q > 0 else 0.0
        H2 = Q / (k - 1)
    else:
        I2 = 100.0 * tau2 / (vt + tau2)
        H2 = tau2 / vt + 1.0

    # se of tau2 and Q-profile CI
    nan = float("nan")
    se_tau2 = nan
    t_ci = (nan, nan)
    i2_ci = (nan, nan)
    h2_ci = (nan, nan)
    if m != "FE":
        if m == "DL":
            trp = _tr_p(w_fe)
            se_tau2 = float(
                np.sqrt(2 * (k - 1) + 4 * tau2 * trp + 2 * tau2**2 * _sum_pp(w_fe)) / trp
            )
        elif m == "REML":
            se_tau2 = float(np.sqrt(2.0 / _sum_pp(w)))
        else:
            se_tau2 = float(np.sqrt(2.0 * k**2 / (k - 1)) / np.sum(w))
        alpha = 1.0 - level
        q_hi = float(stats.chi2.ppf(1.0 - alpha / 2.0, k - 1))
        q_lo = float(stats.chi2.ppf(alpha / 2.0, k - 1))
        t_ci = (_solve_q(q_hi, yi, vi_), _solve_q(q_lo, yi, vi_))
        i2_ci = tuple(100.0 * t / (vt + t) for t in t_ci)
        h2_ci = tuple(t / vt + 1.0 for t in t_ci)
    return I2, H2, se_tau2, t_ci, i2_ci, h2_ci


@renamed_parameter("ci_level", "input_level", since="0.1.0")
def meta(
    estimates: Any,
    se: Any = None,
    method: Literal["reml", "dl", "pm", "fe"] = "reml",
    hksj: bool = False,
    *,
    vi: Any = None,
    ci_low: Any = None,
    ci_high: Any = None,
    ratio: bool = False,
    input_level: float = 0.95,
    labels: Sequence[Any] | None = None,
    level: float = 0.95,
    exponentiate: bool | None = None,
) -> MetaResult:
    r"""Fixed- or random-effects meta-analysis with inverse-variance weights.

    Parameters
    ----------
    estimates : array-like
        Per-study effects :math:`y_i` on an additive scale (log OR/HR/RR), or ratios when
        ``ratio=True`` (they are log-transformed).
    se : array-like, optional
        Standard errors :math:`s_i` of ``estimates`` (log scale).  Give exactly one of ``se``,
        ``vi`` (sampling variances) or ``ci_low`` + ``ci_high``.
    method : {"reml", "dl", "pm", "fe"}, default "reml"
        tau^2 estimator (case-insensitive); ``"fe"`` is the fixed-effect (common-effect) model.
    hksj : bool, default False
        Knapp-Hartung (Hartung-Knapp-Sidik-Jonkman) inference: scaled SE and t(k-1) intervals,
        tests and prediction interval, as ``rma(..., test="knha")``; no truncation of the scale
        factor at 1 (metafor 3.8 default).
    vi : array-like, optional
        Sampling variances instead of ``se``.
    ci_low, ci_high : array-like, optional
        Published confidence limits instead of ``se`` (ratios when ``ratio=True``); the SE is
        obtained with :func:`se_from_ci` at ``input_level``.
    ratio : bool, default False
        ``estimates`` (and CI limits) are ratios; take logs.
    input_level : float, default 0.95
        Confidence level of the published ``ci_low``/``ci_high`` (an input; ``level`` is the
        level of the output intervals). Until 0.2 ``ci_level``.
    labels : sequence, optional
        Study labels (default: the index of ``estimates`` if it is a Series, else ``"1"``,
        ``"2"``, ...).
    level : float, default 0.95
        Level of the pooled CI, study CIs and prediction interval.
    exponentiate : bool, optional
        Default scale of ``to_frame()`` and the repr: exp scale (ratios) when True
        (default: ``ratio``).  ``summary`` always has both scales.

    Returns
    -------
    MetaResult
        ``.estimate``, ``.se``, ``.ci_low``, ``.ci_high``, ``.pi_low``, ``.pi_high``,
        ``.tau2`` (+ Q-profile CI), ``.I2`` (percent), ``.H2``, ``.Q``, ``.Q_p``,
        ``.weights`` (percent); ``.summary`` (one row, log and exp scale) and ``.to_frame()``
        (studies + pooled).

    Notes
    -----
    With :math:`v_i = s_i^2`, fixed-effect weights :math:`w_i = 1/v_i` and
    :math:`\hat\mu_{FE} = \sum w_i y_i / \sum w_i`:

    * Cochran's :math:`Q = \sum w_i (y_i - \hat\mu_{FE})^2` on :math:`k-1` df.
    * **DL** (DerSimonian & Laird 1986):
      :math:`\hat\tau^2 = \max\{0, (Q - (k-1)) / (\sum w_i - \sum w_i^2/\sum w_i)\}`.
    * **REML** (Viechtbauer 2005): the root of the restricted-likelihood estimating equation
      :math:`y^\top P P y = \operatorname{tr}(P)`, with
      :math:`W = \operatorname{diag}(1/(v_i + \tau^2))` and
      :math:`P = W - W 1 (1^\top W 1)^{-1} 1^\top W`, found by Fisher scoring
      :math:`\tau^2 \leftarrow \tau^2 + (y^\top PPy - \operatorname{tr}P)/\operatorname{tr}(PP)`
      from the Hedges estimator, halving steps that would make :math:`\tau^2 < 0`, until the change
      is below 1e-12 (metafor stops at 1e-5; the two agree to ~1e-7).  If :math:`\tau^2 = 0` has the
      higher restricted likelihood, :math:`\hat\tau^2 = 0` (metafor's ``ll0check``).
    * **PM** (Paule & Mandel 1982): the root of
      :math:`\sum_i (y_i - \hat\mu(\tau^2))^2 / (v_i + \tau^2) = k - 1` (0 if the left side at
      0 is already below :math:`k-1`), by Brent's method to 1e-12 (metafor uses ``uniroot`` with
      tol ~1e-4 by default, so its PM tau^2 can differ in the 5th decimal).
    * Pooled estimate :math:`\hat\mu = \sum w_i^* y_i / \sum w_i^*`,
      :math:`w_i^* = 1/(v_i + \hat\tau^2)`, :math:`SE = (\sum w_i^*)^{-1/2}`; CI and test use
      the normal distribution.
    * **Knapp-Hartung** (Knapp & Hartung 2003): :math:`SE_{KH}^2 = q\,/\sum w_i^*` with
      :math:`q = \sum w_i^*(y_i - \hat\mu)^2/(k-1)` (not truncated at 1), and t(k-1) for CI,
      test and prediction interval.
    * Prediction interval: :math:`\hat\mu \pm c\sqrt{SE^2 + \hat\tau^2}` with :math:`c` the
      normal quantile, or the t(k-1) quantile under Knapp-Hartung (``predict.rma``); NaN for the
      fixed-effect model, where metafor gives none.
    * :math:`I^2 = 100\,\hat\tau^2/(\hat\tau^2 + \tilde v)`, :math:`H^2 = \hat\tau^2/\tilde v + 1`,
      :math:`\tilde v = (k-1)/(\sum w_i - \sum w_i^2/\sum w_i)`; for DL this equals
      :math:`100 (Q - (k-1))/Q`.  For the fixed-effect model :math:`I^2 = 100\max(0, (Q-(k-1))/Q)`,
      :math:`H^2 = Q/(k-1)`.
    * CI for :math:`\tau^2` by the Q-profile method (Viechtbauer 2007): the :math:`\tau^2` where the
      generalised Q equals the :math:`\chi^2_{k-1}` quantiles (``confint(rma_fit)``); mapped to
      :math:`I^2` and :math:`H^2` with :math:`\tilde v`.  The search for the upper limit is not
      capped; metafor's ``confint()`` stops at a search limit (10 x the tau^2 estimate in the
      dat.normand1999 DL fixture) and then prints ``>limit`` instead of the root.
    * ``se_tau2`` is the SE metafor prints: DL, :math:`\sqrt{(2(k-1) + 4\tau^2 \operatorname{tr}P
      + 2\tau^4 \operatorname{tr}(PP))}/\operatorname{tr}P` with fixed-effect :math:`P`; REML,
      :math:`\sqrt{2/\operatorname{tr}(PP)}`; PM, :math:`\sqrt{2k^2/(k-1)}/\sum w_i^*`.

    References
    ----------
    DerSimonian R, Laird N (1986). Meta-analysis in clinical trials. *Control Clin Trials*
    7:177-188.
    Paule RC, Mandel J (1982). Consensus values and weighting factors. *J Res Natl Bur Stand*
    87:377-385.
    Knapp G, Hartung J (2003). Improved tests for a random effects meta-regression with a single
    covariate. *Stat Med* 22:2693-2710.
    Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. *J Educ Behav Stat* 30:261-293.
    Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity in meta-analysis.
    *Stat Med* 26:37-52.
    Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a meta-analysis. *Stat Med*
    21:1539-1558.

    Examples
    --------
    >>> from socialhealth.models import meta
    >>> res = meta([0.27, 0.06, 0.44, 0.00, 0.40], [0.36, 0.15, 0.09, 0.18, 0.16], method="dl")
    >>> round(res.estimate, 4), round(res.tau2, 4), round(res.I2, 2)
    (0.2549, 0.0251, 50.92)
    >>> hr = meta([1.33, 1.20], ci_low=[1.26, 1.05], ci_high=[1.41, 1.37], ratio=True, method="fe")
    >>> round(float(hr.summary["exp_estimate"].iloc[0]), 4)
    1.3094

    In R: ``metafor::rma(yi, sei=sei, method="DL")`` (``method="REML"``, ``"PM"``, ``"FE"``;
    ``test="knha"`` for ``hksj=True``); prediction interval ``predict(fit)``, tau^2 CI
    ``confint(fit)``, weights ``weights(fit)``.
    """
    level = _check_level(level)
    input_level = _check_level(input_level)
    if not isinstance(method, str) or method.lower() not in _METHODS:
        raise ModelError(
            f"unknown meta-analysis method {show_given(method)}; use one of "
            f"{', '.join(repr(m) for m in _METHODS)} (Knapp-Hartung is hksj=True)."
        )
    m = _METHODS[method.lower()]
    if not isinstance(hksj, (bool, np.bool_)):
        raise ModelError(f"hksj must be True or False, got {show_given(hksj)}.")
    hksj = bool(hksj)
    ratio = check_flag(ratio, "ratio", "meta()")
    if exponentiate is not None:
        exponentiate = check_flag(exponentiate, "exponentiate", "meta()")
    if exponentiate is None:
        exponentiate = bool(ratio)

    yi, sei, lab = _study_inputs(estimates, se, vi, ci_low, ci_high, ratio, input_level,
                                 labels, m, hksj)
    k = yi.size

    vi_ = sei**2
    w_fe = 1.0 / vi_

    # heterogeneity (always from fixed-effect weights)
    if k > 1:
        Q = max(0.0, _gen_q(0.0, yi, vi_))
        Q_p = float(stats.chi2.sf(Q, k - 1))
        vt = (k - 1) / _tr_p(w_fe)
    else:
        Q, Q_p, vt = 0.0, 1.0, 0.0

    tau2, iterations = _tau2(m, k, yi, vi_)

    mu, se_mu, s2w, df, stat, p, ci, pi, w = _pooled_inference(m, k, yi, vi_, tau2, hksj,
                                                               level)

    I2, H2, se_tau2, t_ci, i2_ci, h2_ci = _heterogeneity(m, k, yi, vi_, w, w_fe, Q, vt, tau2,
                                                         level)

    z = float(stats.norm.ppf(0.5 + level / 2.0))
    studies = pd.DataFrame(
        {
            "label": lab,
            "yi": yi,
            "se": sei,
            "ci_low": yi - z * sei,
            "ci_high": yi + z * sei,
            "weight": 100.0 * w / np.sum(w),
        }
    )
    return MetaResult(
        method=m,
        hksj=hksj,
        level=level,
        k=k,
        estimate=float(mu),
        se=se_mu,
        statistic=float(stat),
        p_value=p,
        ci_low=float(ci[0]),
        ci_high=float(ci[1]),
        df=df,
        pi_low=float(pi[0]),
        pi_high=float(pi[1]),
        tau2=float(tau2),
        se_tau2=se_tau2,
        tau2_ci_low=float(t_ci[0]),
        tau2_ci_high=float(t_ci[1]),
        I2=float(I2),
        I2_ci_low=float(i2_ci[0]),
        I2_ci_high=float(i2_ci[1]),
        H2=float(H2),
        H2_ci_low=float(h2_ci[0]),
        H2_ci_high=float(h2_ci[1]),
        Q=float(Q),
        Q_df=k - 1,
        Q_p=Q_p,
        s2w=float(s2w),
        iterations=iterations,
        exponentiate=bool(exponentiate),
        studies=studies,
    )
