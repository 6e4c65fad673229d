r"""Design-based survival curves: weighted Kaplan-Meier and Aalen estimators (R ``svykm``).

Estimators
----------
For the rows used (inside the design's subset, time and event not missing) with analysis
weights ``w_i``, follow-up ``T_i`` and event indicator ``delta_i``, at each distinct event time
``t_1 < ... < t_m`` the weighted number at risk and of events are

    Y(t_j) = sum_i w_i 1{T_i >= t_j},        D(t_j) = sum_i w_i delta_i 1{T_i = t_j}.

* Product-limit (Kaplan-Meier): ``S(t) = prod_{t_j <= t} (1 - D(t_j) / Y(t_j))``.
* Aalen (Nelson-Aalen / Fleming-Harrington): ``S(t) = exp(-H(t))`` with
  ``H(t) = sum_{t_j <= t} D(t_j) / Y(t_j)``.

R's ``svykm`` returns the product-limit curve with ``se = FALSE`` and, as its help page says,
"when standard errors are computed, the survival curve is actually the Aalen (hazard-based)
estimator". ``estimator="auto"`` (default) follows the same rule so the numbers are R's;
``estimator="km"`` or ``"aalen"`` chooses explicitly.

Variance (Williams 1995; Lumley 2010, ch. 9)
--------------------------------------------
Both curves are smooth functions of weighted totals, so ``log S(t)`` is linearised: the weighted
influence value of row ``k`` (``log S_hat - log S ~ sum_k z_k``) is, with ``l_k`` the index of
the event time ``T_k`` and ``r_k`` the number of event times ``<= T_k``,

* Aalen: ``z_k(t_j) = -w_k [ delta_k 1{l_k <= j} / Y(t_{l_k})
  - sum_{l <= min(j, r_k)} D(t_l) / Y(t_l)^2 ]``
* product-limit: ``z_k(t_j) = -w_k [ delta_k 1{l_k <= j} / (Y - D)(t_{l_k})
  - sum_{l <= min(j, r_k)} D(t_l) / (Y(t_l) (Y(t_l) - D(t_l))) ]``
  (the design-based analogue of Greenwood's formula; undefined once ``S`` reaches 0).

``Var(log S(t))`` is the design variance of the total ``sum_k z_k(t)`` (strata, clusters, fpc,
lonely PSUs, calibration), R's ``varlog``. Replicate-weight designs re-estimate the curve with
every replicate's weights at the full-sample event times and use the replicate variance of
``log S(t)`` (R ``svykm`` has no standard errors for replicate designs; the reference is
``withReplicates`` around ``survival::survfit``).

Intervals are computed on the log scale, as R's ``confint.svykm`` (after Link 1984):
``exp(log S -+ z_{1-alpha/2} se_log)``, the upper limit capped at 1, with the normal quantile.
``se`` in the tables is the standard error of ``S`` itself, ``S * se_log`` (the convention of
``summary(survfit)``).

Quantiles (median survival) follow ``quantile.svykm``: the first event time at which
``S(t) <= p``; their intervals use Woodruff's method, the first times at which the lower and the
upper confidence limits are ``<= p``. ``inf`` means the curve never falls that far.

References
----------
Kaplan EL, Meier P (1958) Nonparametric estimation from incomplete observations. *JASA*
53:457-481.
Williams RL (1995) Product-limit survival functions with correlated survival times. *Lifetime
Data Analysis* 1:171-186.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, ch. 9.
Link CL (1984) Confidence intervals for the survival function using Cox's proportional hazards
model with covariates. *Biometrics* 40:601-610.
Woodruff RS (1952) Confidence intervals for medians and other position measures. *JASA*
47:635-646.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from socialhealth._text import show, show_given, show_list
from socialhealth.design.result_protocol import Result, Summary
from socialhealth.design.results import check_level, t_quantile
from socialhealth.design.structure import as_list, check_flag
from socialhealth.design.extension import refuse_negative_replicate_weights
from socialhealth.design.variables import domains
from socialhealth.errors import DesignError, EstimationError, MissingColumnError, ModelError
from socialhealth.models._args import check_column

__all__ = ["KaplanMeierResult", "kaplan_meier"]

_ESTIMATORS = ("auto", "km", "aalen")
# influence values are built this many cells (rows x event times) at a time
_CHUNK_CELLS = 4_000_000


# ----------------------------------------------------------------------------- one curve
@dataclass
class _Curve:
    time: np.ndarray       # distinct event times
    n_risk: np.ndarray     # weighted number at risk Y(t)
    n_event: np.ndarray    # weighted events D(t)
    surv: np.ndarray
    varlog: np.ndarray     # Var(log S); NaN when not computed
    rows_used: int
    events_used: int       # unweighted events among the rows used


def _risk_tables(t: np.ndarray, d: np.ndarray, w: np.ndarray, etimes: np.ndarray):
    """Y(t_j), D(t_j) at the given event times, from rows (t, d, w)."""
    order = np.argsort(t, kind="stable")
    ts, ws = t[order], w[order]
    tail = np.concatenate([np.cumsum(ws[::-1])[::-1], [0.0]])     # sum of w with T >= ts[i]
    Y = tail[np.searchsorted(ts, etimes, side="left")]
    ev = d > 0
    pos = np.searchsorted(etimes, t[ev])
    D = np.zeros(len(etimes))
    hit = (pos < len(etimes))
    hit[hit] = etimes[pos[hit]] == t[ev][hit]
    np.add.at(D, pos[hit], w[ev][hit])
    return Y, D


def _log_surv(Y: np.ndarray, D: np.ndarray, estimator: str) -> np.ndarray:
    """log S at the event times (risk sets with no weight contribute nothing)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(Y > 0, D / np.where(Y > 0, Y, 1.0), 0.0)
        if estimator == "aalen":
            return -np.cumsum(h)
        return np.cumsum(np.log1p(-h))


def _influence(t, d, w, etimes, Y, D, estimator, cols: slice) -> np.ndarray:
    """Weighted influence values of log S(t_j) for the columns ``cols`` (rows x columns)."""
    j = np.arange(len(etimes))[cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        if estimator == "aalen":
            jump = 1.0 / Y
            comp = D / Y**2
        else:
            jump = 1.0 / (Y - D)
            comp = D / (Y * (Y - D))
    A = np.concatenate([[0.0], np.cumsum(comp)])                 # A[r] = sum_{l < r} comp_l
    r = np.searchsorted(etimes, t, side="right")                  # event times <= T_k
    l = np.searchsorted(etimes, t, side="left")                   # index of T_k if an event time
    is_ev = (d > 0) & (l < len(etimes))
    is_ev[is_ev] = etimes[l[is_ev]] == t[is_ev]
    first = np.where(is_ev[:, None] & (l[:, None] <= j[None, :]),
                     np.where(is_ev, jump[np.minimum(l, len(etimes) - 1)], 0.0)[:, None], 0.0)
    second = A[np.minimum(j[None, :] + 1, r[:, None])]
    return -w[:, None] * (first - second)


def _fit_curve(design_g, rows: np.ndarray, t_all, d_all, estimator: str, se: bool) -> _Curve:
    t, d = t_all[rows], d_all[rows]
    w = design_g.weights[rows]
    etimes = np.unique(t[(d > 0) & (w > 0)])
    Y, D = _risk_tables(t, d, w, etimes)
    logS = _log_surv(Y, D, estimator)
    surv = np.exp(logS)
    varlog = np.full(len(etimes), np.nan)
    if se and len(etimes):
        varlog = _variance(design_g, rows, t, d, w, etimes, Y, D, logS, estimator)
    return _Curve(etimes, Y, D, surv, varlog, len(rows), int((d > 0).sum()))


def _variance(design_g, rows, t, d, w, etimes, Y, D, logS, estimator) -> np.ndarray:
    n_all, m = len(design_g.weights), len(etimes)
    finite = np.isfinite(logS)
    if estimator == "km":
        # the product-limit log curve is undefined from the time S reaches 0 on
        finite &= np.cumsum(Y - D <= 0) == 0

    def refit(w_r):
        wr = np.asarray(w_r, dtype=float)[rows]
        Yr, Dr = _risk_tables(t, d, wr, etimes)
        return _log_surv(Yr, Dr, estimator)

    out = np.full(m, np.nan)
    if design_g.kind != "taylor":
        def no_influence():
            raise ModelError("this design kind has no linearisation; use a replicate design.")

        with np.errstate(invalid="ignore"):
            V = design_g.estimator_vcov(logS, influence=no_influence, refit=refit)
        out = np.diag(np.asarray(V, dtype=float)).copy()
        out[~finite] = np.nan
        return out
    keep = np.flatnonzero(finite)
    step = max(1, _CHUNK_CELLS // max(len(rows), 1))
    for start in range(0, len(keep), step):
        cols = keep[start:start + step]
        sl = slice(cols[0], cols[-1] + 1)

        def influence(sl=sl):
            Z = np.zeros((n_all, sl.stop - sl.start))
            Z[rows] = _influence(t, d, w, etimes, Y, D, estimator, sl)
            return Z

        V = design_g.estimator_vcov(logS[sl], influence=influence, refit=refit)
        out[sl] = np.diag(np.asarray(V, dtype=float))
    return out


# ----------------------------------------------------------------------------- result
class _SeFlag:
    """``km.se``: true when standard errors were computed (as before); ``km.se()`` returns them
    (the result protocol's ``se()``)."""

    def __init__(self, result, flag: bool):
        self._result, self._flag = result, bool(flag)

    def __bool__(self) -> bool:
        return self._flag

    def __eq__(self, other) -> bool:
        return self._flag == other

    def __hash__(self) -> int:
        return hash(self._flag)

    def __repr__(self) -> str:
        return repr(self._flag)

    def __call__(self) -> pd.Series:
        return Result.se(self._result)


class KaplanMeierResult(Result):
    """Survival curves estimated from a survey design (see :func:`kaplan_meier`).

    Result protocol: ``coef()`` is ``surv`` and ``se()`` its standard error, labelled by group
    and time; ``confint(level=)`` the log-scale interval of :meth:`to_frame`; ``vcov`` does not
    apply (the covariance of a curve across times is not computed). ``km.se`` is true when
    standard errors were computed (``if km.se:`` as before) and ``km.se()`` returns them.

    Attributes
    ----------
    estimator : ``"km"`` (product-limit), ``"aalen"`` (exp of minus the cumulative hazard) or
        ``"cox"`` (curves predicted from a Cox model, ``CoxResult.predict_curve``; then
        ``newdata`` holds the covariate rows of the curves).
    level : confidence level of the intervals.
    by : list of by-columns (empty for one curve); groups : DataFrame of the by-levels.
    n_rows : rows used; n_events : events among them (unweighted);
    n_missing : rows of the subset left out (missing time, event or by-value).
    r_call : the matching R call.
    marginpred : for curves from :func:`~socialhealth.models.marginpred`, the calibration
        (factors ``g``, adjustment columns used and dropped, iterations); else None.

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> km = models.kaplan_meier(sd.design, "followup_years", "died", by="lonely", se=True)
    >>> list(km.to_frame().columns)
    ['lonely', 'time', 'n_risk', 'n_event', 'surv', 'se', 'se_log', 'ci_low', 'ci_high']
    >>> print(km.at([5, 10])[["lonely", "time", "surv", "ci_low", "ci_high"]].round(3).to_string())
       lonely  time   surv  ci_low  ci_high
    0   False   5.0  0.933   0.929    0.938
    1   False  10.0  0.887   0.879    0.895
    2    True   5.0  0.893   0.871    0.915
    3    True  10.0  0.843   0.810    0.877
    >>> print(km.quantile([0.9]).round(2).to_string())      # time by which 10% have died
       lonely    p  time  ci_low  ci_high
    0   False  0.9  8.12    7.74     8.96
    1    True  0.9  4.73    3.70     6.49

    In R: ``km <- svykm(Surv(followup_years, died > 0) ~ lonely, design, se = TRUE)``;
    ``confint(km[[1]], parm = c(5, 10))``; ``quantile(km[[1]], probs = 0.9, ci = TRUE)``.
    """

    # km.se is a _SeFlag: true/false as before, and callable (the protocol's se()), which is
    # how it stands in for the inherited method
    se: _SeFlag

    def __init__(self, *, curves, groups, by, estimator, se, level, n_rows, n_events, n_missing,
                 design_label, r_call, time, event, design=None):
        self._curves = curves
        self.groups = groups
        self.by = by
        self.estimator = estimator
        self.se = _SeFlag(self, se)
        self.level = level
        self.n_rows = n_rows
        self.n_events = n_events
        self.n_missing = n_missing
        self.design_label = design_label
        self.r_call = r_call
        self.time_column, self.event_column = time, event
        self._design = design          # kept for models.marginpred (R: the call's design)
        #: set by models.marginpred: the calibration (factors g, columns used)
        self.marginpred: dict | None = None
        #: curves predicted from a Cox model: the covariate rows, the SE method and the
        #: Cox model (for marginpred, the refit on the calibrated design)
        self.newdata: pd.DataFrame | None = None
        self.se_method: str | None = None
        self.model = None

    _not_applicable = {
        "vcov": "the covariance of a survival curve across times is not computed (nor by R's "
                "svykm); use se() or to_frame() for the pointwise standard errors.",
    }

    def _check(self, member: str) -> None:
        if member in ("se", "confint") and not self.se:
            from socialhealth.design.result_protocol import not_applicable

            not_applicable(self, member + "()", "the curve was estimated without standard "
                           "errors; call kaplan_meier(..., se=True).")
        super()._check(member)

    def _estimates(self, level: float) -> pd.DataFrame:
        frame = self.to_frame(level)
        labels = [", ".join([f"{b}={r[b]}" for b in self.by] + [f"time={r['time']:g}"])
                  for r in frame.to_dict("records")]
        return pd.DataFrame({"estimate": frame["surv"].to_numpy(), "se": frame["se"].to_numpy(),
                             "ci_low": frame["ci_low"].to_numpy(),
                             "ci_high": frame["ci_high"].to_numpy()}, index=labels)

    # ------------------------------------------------------------------ helpers
    def _z(self, level: float | None) -> float:
        level = self.level if level is None else check_level(level, ModelError)
        return t_quantile(level, float("inf"))

    def _bands(self, surv, varlog, z):
        se_log = np.sqrt(varlog)
        with np.errstate(divide="ignore", invalid="ignore"):
            logS = np.log(surv)
            lo = np.exp(logS - z * se_log)
            hi = np.minimum(1.0, np.exp(logS + z * se_log))
        return se_log, lo, hi

    def _frame(self, parts: list[pd.DataFrame]) -> pd.DataFrame:
        out = []
        for g, part in enumerate(parts):
            if self.by:
                ids = self.groups.iloc[[g] * len(part)].reset_index(drop=True)
                part = pd.concat([ids, part.reset_index(drop=True)], axis=1)
            out.append(part)
        return pd.concat(out, ignore_index=True) if out else pd.DataFrame()

    # ------------------------------------------------------------------ tables
    def to_frame(self, level: float | None = None) -> pd.DataFrame:
        """One row per distinct event time and group.

        Columns: [by columns...], ``time``, ``n_risk`` and ``n_event`` (weighted, the estimated
        population at risk and with the event), ``surv``, ``se`` (of ``surv``: ``surv *
        se_log``), ``se_log`` (of ``log surv``; ``sqrt(varlog)`` in R), ``ci_low``,
        ``ci_high`` (log-scale interval, upper limit capped at 1). Without ``se=True`` the
        last four are NaN.

        In R: ``s$time``, ``s$surv``, ``sqrt(s$varlog)`` and ``confint(s, parm = s$time)`` for
        each curve ``s`` (R lists tied deaths one by one; the last of them is the value here).
        """
        z = self._z(level)
        parts = []
        for c in self._curves:
            se_log, lo, hi = self._bands(c.surv, c.varlog, z)
            parts.append(pd.DataFrame({
                "time": c.time, "n_risk": c.n_risk, "n_event": c.n_event, "surv": c.surv,
                "se": c.surv * se_log, "se_log": se_log, "ci_low": lo, "ci_high": hi}))
        return self._frame(parts)

    def at(self, times: float | Sequence[float], level: float | None = None) -> pd.DataFrame:
        """Survival (and interval) at given times: the step function ``S(t)`` (right-continuous).

        ``S(t)`` is the value at the last event time ``<= t`` and 1 before the first event;
        beyond the last event time it stays at its last value. Before the first event the
        standard error is 0 and, as R's ``confint.svykm`` (which returns NA there), the interval
        is NaN.

        Returns
        -------
        DataFrame: [by columns...], ``time``, ``surv``, ``se``, ``se_log``, ``ci_low``, ``ci_high``.

        In R: ``confint(s, parm = times)`` for each curve ``s`` (limits).
        """
        message = (f"times must be a number >= 0 or a list of such numbers without missing "
                   f"values (e.g. times=[1, 5, 10]; follow-up time starts at 0), not "
                   f"{show_given(times)}.")
        if isinstance(times, (str, bytes, bool, np.bool_)):
            raise ModelError(message)
        try:
            tt = np.atleast_1d(np.asarray(times, dtype=float))
        except (TypeError, ValueError):
            raise ModelError(message) from None
        # a negative time (before follow-up began) was read as survival 1
        if tt.ndim != 1 or np.isnan(tt).any() or (tt < 0).any():
            raise ModelError(message)
        z = self._z(level)
        parts = []
        for c in self._curves:
            idx = np.searchsorted(c.time, tt, side="right") - 1
            before = idx < 0
            i = np.clip(idx, 0, None)
            if len(c.time):
                surv = np.where(before, 1.0, c.surv[i])
                varlog = np.where(before, np.nan, c.varlog[i])
            else:
                surv, varlog = np.ones(len(tt)), np.full(len(tt), np.nan)
            se_log, lo, hi = self._bands(surv, varlog, z)
            if self.se:
                se_log = np.where(before, 0.0, se_log)
            parts.append(pd.DataFrame({"time": tt, "surv": surv, "se": surv * se_log,
                                       "se_log": se_log, "ci_low": lo, "ci_high": hi}))
        return self._frame(parts)

    def quantile(self, p: float | Sequence[float] = (0.75, 0.5, 0.25),
                 level: float | None = None) -> pd.DataFrame:
        """Survival quantiles: the first event time at which ``S(t) <= p`` (``p=0.5``: median).

        ``p`` is the proportion *surviving* (as R's ``quantile.svykm``: 0.75 is the time by
        which a quarter have died). With standard errors, Woodruff's interval is
        [first time with lower limit ``<= p``, first time with upper limit ``<= p``]. ``inf``
        when the curve (or limit) never falls to ``p``.

        Returns
        -------
        DataFrame: [by columns...], ``p``, ``time`` [, ``ci_low``, ``ci_high``].

        Notes
        -----
        R lists tied deaths one by one, each with its own partial curve value and variance;
        these intermediate values can in rare cases put an interval end at a tied time where the
        complete value (used here) is still above ``p``. The point quantile is not affected.

        In R: ``quantile(s, probs = p, ci = TRUE)``.
        """
        message = (f"p must be survival proportions strictly between 0 and 1 (e.g. p=0.5 "
                   f"for the median); got {show_given(p)}.")
        if isinstance(p, (str, bytes, bool, np.bool_)):
            raise ModelError(message)
        try:
            pp = np.atleast_1d(np.asarray(p, dtype=float))
        except (TypeError, ValueError):
            raise ModelError(message) from None
        if pp.ndim != 1 or pp.size == 0 or np.any(~((pp > 0) & (pp < 1))):
            raise ModelError(message)
        z = self._z(level)

        def first_below(values, times, q):
            hit = np.flatnonzero(values <= q)
            return float(times[hit[0]]) if len(hit) else float("inf")

        parts = []
        for c in self._curves:
            row = {"p": pp, "time": [first_below(c.surv, c.time, q) for q in pp]}
            if self.se:
                _, lo, hi = self._bands(c.surv, c.varlog, z)
                row["ci_low"] = [first_below(lo, c.time, q) for q in pp]
                row["ci_high"] = [first_below(hi, c.time, q) for q in pp]
            parts.append(pd.DataFrame(row))
        return self._frame(parts)

    # ------------------------------------------------------------------ printing
    def summary(self) -> Summary:
        """Short text: estimator, rows, events, median survival per group and the R call."""
        name = {"km": "Kaplan-Meier (product-limit)",
                "cox": "predicted from a Cox model (Breslow baseline hazard)"}.get(
                    self.estimator, "Aalen (exp(-cumulative hazard))")
        lines = [f"Design-based survival curve: {name}",
                 f"Design: {self.design_label}",
                 f"{self.n_rows} rows, {self.n_events} events"
                 + (f"; {self.n_missing} rows with missing values left out" if self.n_missing
                    else "")]
        med = self.quantile([0.5])
        for r in med.to_dict("records"):
            label = ", ".join(f"{b}={r[b]}" for b in self.by)
            txt = f"  median survival{' (' + label + ')' if label else ''}: {r['time']:g}"
            if self.se:
                txt += f" ({self.level:.0%} CI {r['ci_low']:g} - {r['ci_high']:g})"
            lines.append(txt)
        lines.append(f"In R: {self.r_call}")
        return Summary("\n".join(lines), frame=med)

    def __repr__(self) -> str:
        return str(self.summary())


# ----------------------------------------------------------------------------- entry point
def _numeric(data: pd.DataFrame, col: str, what: str, mask: np.ndarray) -> np.ndarray:
    s = data[col]
    if pd.api.types.is_bool_dtype(s):     # also the nullable "boolean" dtype (NA -> NaN)
        return pd.to_numeric(s).to_numpy(dtype=float, na_value=np.nan)
    vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = s.notna().to_numpy() & np.isnan(vals) & mask
    if bad.any():
        raise ModelError(f"{what} column {col!r} must be numeric; it has non-numeric values "
                         f"such as {show(s[bad].iloc[0])}.")
    return vals


def kaplan_meier(
    design,
    time: str,
    event: str,
    by: str | Sequence[str] | None = None,
    se: bool = False,
    estimator: Literal["auto", "km", "aalen"] = "auto",
    level: float = 0.95,
) -> KaplanMeierResult:
    r"""Design-based survival curve (weighted Kaplan-Meier or Aalen), as R ``svykm``.

    ``S(t) = prod_{t_j <= t} (1 - D(t_j)/Y(t_j))`` (product-limit) or ``exp(-sum_{t_j <= t}
    D(t_j)/Y(t_j))`` (Aalen), with ``Y`` and ``D`` the weighted numbers at risk and of events
    (design weights; rows outside a subset have weight 0). With ``se=True`` the variance of
    ``log S(t)`` is the design variance of its linearisation (Williams 1995; Lumley 2010,
    ch. 9) or, for replicate designs, the replicate variance of the re-estimated curve; intervals
    are on the log scale (upper limit capped at 1). Formulas in the module docstring.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign (a subset design gives a domain analysis).
    time : follow-up time column (>= 0).
    event : event indicator column (1/True = event, 0/False = censored).
    by : column(s) giving one curve per level (R ``~ group``), in R ``svyby`` order.
    se : compute standard errors and confidence intervals (R ``se = TRUE``).
    estimator : ``"auto"`` (default; as R ``svykm``: product-limit without ``se``, Aalen with
        ``se``), ``"km"`` (product-limit, with ``se`` its linearised variance) or ``"aalen"``.
    level : confidence level of the intervals (normal quantile, as ``confint.svykm``).

    Returns
    -------
    KaplanMeierResult
        ``to_frame()`` (one row per event time and group: time, n_risk, n_event, surv, se,
        se_log, ci_low, ci_high), ``at(times)``, ``quantile(p)``.

    Raises
    ------
    MissingColumnError : time, event or by column not in the data.
    ModelError : negative or non-numeric times, event not 0/1, bad ``estimator`` or ``level``.
    EstimationError : no rows with positive weight and non-missing time and event.
    ReplicateWeightsError : ``se=True`` on a replicate design with a negative replicate weight
        on the rows used.

    Notes
    -----
    Rows with a missing time, event or by-value are left out (weight 0, the design kept; R drops
    them through ``model.frame``) and counted in ``n_missing``. R ``svykm`` 4.1-1 gives no
    standard errors for replicate designs and fails for ``~ group`` on them; here both work
    (checked against ``withReplicates`` around ``survival::survfit``).

    Negative replicate weights (ACS-style successive-difference replicates, see
    :class:`~socialhealth.design.replicate.ReplicateDesign`): the curve (``se=False``) uses
    only the full-sample weights and is unaffected; ``se=True`` raises
    :class:`~socialhealth.errors.ReplicateWeightsError` naming the replicates, because a
    replicate's curve is not a survival curve there (it can rise or leave [0, 1]).
    In R: ``svykm(..., se = TRUE)`` stops ("SE not yet available") and ``withReplicates(design,
    function(w, data) survfit(Surv(time, status) ~ 1, data = data, weights = w))`` stops
    ("weights must be non-negative").

    References
    ----------
    Kaplan & Meier (1958) JASA 53:457-481; Williams (1995) Lifetime Data Anal 1:171-186;
    Lumley (2010) *Complex Surveys*, ch. 9; Link (1984) Biometrics 40:601-610.

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth.models import kaplan_meier
    >>> sd = sh.datasets.load("demo")
    >>> km = kaplan_meier(sd.design, time="followup_years", event="died", by="sex", se=True)
    >>> curve = km.to_frame()           # survival, SE and 95% CI at every event time
    >>> print(km.at([10])[["sex", "time", "surv", "se", "ci_low", "ci_high"]].round(3).to_string())
          sex  time   surv     se  ci_low  ci_high
    0  female  10.0  0.889  0.005   0.879     0.90
    1    male  10.0  0.878  0.006   0.866     0.89

    In R: ``svykm(Surv(time, status > 0) ~ group, design, se = TRUE)``.
    """
    if not isinstance(estimator, str) or estimator not in _ESTIMATORS:
        raise ModelError(f"estimator={show_given(estimator)} is not one of "
                         f"{', '.join(map(repr, _ESTIMATORS))}.")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ModelError(f"level must be between 0 and 1 (e.g. 0.95); got {show_given(level)}.")
    se = check_flag(se, "se", "kaplan_meier")
    check_column(time, "time", "kaplan_meier")
    check_column(event, "event", "kaplan_meier")
    if not all(hasattr(design, a) for a in ("data", "weights", "estimator_vcov")):
        raise DesignError("design must be a socialhealth SurveyDesign or ReplicateDesign, "
                          f"not {type(design).__name__}.")
    est = ("aalen" if se else "km") if estimator == "auto" else estimator
    data = design.data
    by_cols = as_list(by) if by is not None else []
    if any(isinstance(c, (list, tuple, set, dict, pd.Series, pd.Index, np.ndarray))
           for c in by_cols):
        given = ("a column of values (add it to the design data and pass its name)"
                 if isinstance(by, (pd.Series, pd.Index, np.ndarray)) else show_given(by))
        raise ModelError(f"kaplan_meier: by= takes a column name or a list of column names, not "
                         f"{given}.")
    missing = [c for c in [time, event, *by_cols] if c not in data.columns]
    if missing:
        raise MissingColumnError(missing, data.columns, "the design data")

    w_all = np.asarray(design.weights, dtype=float)
    in_subset = design.in_subset     # (weight != 0: negative after a linear calibration)
    t_all = _numeric(data, time, "time", in_subset)
    d_all = _numeric(data, event, "event", in_subset)
    ok = in_subset & ~np.isnan(t_all) & ~np.isnan(d_all)
    if np.any(np.isinf(t_all[ok])):
        raise ModelError(f"time column {time!r} has infinite values; use a finite follow-up time.")
    if np.any(t_all[ok] < 0):
        raise ModelError(
            f"time column {time!r} has {int((t_all[ok] < 0).sum())} negative value(s); follow-up "
            "times must be >= 0 (check the time origin or drop those rows with "
            "design.subset(...)).")
    if (w_all[ok] < 0).any():
        raise ModelError(
            f"{int((w_all[ok] < 0).sum())} row(s) have negative weights (from a linear "
            "calibration): a weighted survival curve can then rise above 1 (R's svykm returns "
            "such a curve). Calibrate with bounds=(L, U), L >= 0, or calfun='raking' / "
            "'logit', which keep the weights positive.")
    bad_ev = ok & ~np.isin(d_all, (0.0, 1.0))
    if bad_ev.any():
        vals = np.unique(d_all[bad_ev])
        raise ModelError(f"event column {event!r} must be 0/1 or boolean (1 = event, 0 = "
                         f"censored); found values {show_list(vals, limit=5)}. Recode it, e.g. "
                         "(status > 0).")
    if by_cols:
        dom = domains(data, by_cols)
        codes = dom.codes
        ok &= codes >= 0
        groups = dom.table
        n_groups = dom.n_domains
    else:
        codes = np.zeros(len(data), dtype=np.int64)
        groups, n_groups = pd.DataFrame(), 1
    n_missing = int((in_subset & ~ok).sum())
    if not ok.any() or w_all[ok].sum() <= 0:
        raise EstimationError(
            "no rows left for a survival curve: every row of the subset has zero weight or a "
            f"missing {time!r}/{event!r}" + (f"/{'/'.join(map(repr, by_cols))}" if by_cols else "")
            + ". Check the weights and the subset.")
    if se:
        # a replicate's curve with negative weights (ACS-style replicates) can rise or leave
        # [0, 1]: its log is not defined, nor is R's reference (survfit refuses such weights)
        refuse_negative_replicate_weights(
            design, np.flatnonzero(ok), "kaplan_meier(se=True)",
            "a replicate's weighted numbers at risk and of events with negative weights give "
            "a curve that can increase or leave [0, 1] (R svykm has no replicate standard "
            "errors, and survival::survfit, used through withReplicates, stops: 'weights must "
            "be non-negative'). se=False (the curve from the full-sample weights) still works.")
    curves, keep_groups = [], []
    for g in range(n_groups):
        rows = np.flatnonzero(ok & (codes == g))
        if len(rows) == 0:
            continue
        design_g = design.restrict_to_rows(rows)
        curves.append(_fit_curve(design_g, rows, t_all, d_all, est, se))
        keep_groups.append(g)
    if by_cols:
        groups = groups.iloc[keep_groups].reset_index(drop=True)
    rhs = " + ".join(by_cols) if by_cols else "1"
    r_call = f"svykm(Surv({time}, {event} > 0) ~ {rhs}, design" + (", se = TRUE" if se
                                                                   else "") + ")"
    notes = []
    if estimator != "auto" and est != ("aalen" if se else "km"):
        notes.append(f"estimator={est!r} differs from svykm's default for se={se}, so R's "
                     "curve differs")
    if getattr(design, "kind", "") == "replicate":
        if by_cols:
            notes.append("R survey 4.1-1's svykm stops for groups on replicate designs")
        elif se:
            notes.append("R survey 4.1-1's svykm has no standard errors for replicate designs "
                         "(\"SE not yet available\")")
    if notes:
        r_call += "  # " + "; ".join(notes)
    return KaplanMeierResult(
        curves=curves, groups=groups, by=by_cols, estimator=est, se=se, level=level,
        n_rows=int(ok.sum()), n_events=int((d_all[ok] > 0).sum()), n_missing=n_missing,
        design_label=design.label,
        r_call=r_call, time=time, event=event, design=design)
