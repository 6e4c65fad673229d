r"""Predicted survival curves from a design-based Cox model (R ``predict(svycoxph, type =
"curve")``).

Curve (Breslow 1972; Lumley 2010, §7.4)
---------------------------------------
With the fitted log hazard ratios ``beta``, risk scores ``r_i = exp((x_i - c)' beta)`` (``c``
the centring of R's ``coxph``, below), the weighted risk-set sums ``y_j = sum_{T_i >= t_j} w_i
r_i`` and weighted deaths ``N_j`` at the distinct event times ``t_j`` (rows with positive
weight), the baseline cumulative hazard is ``h(t) = sum_{t_j <= t} N_j / y_j`` and the curve for
covariates ``z`` is

    S(t | z) = exp(-h(t) r_z),   r_z = exp((z - c)' beta).

This is the Breslow estimator whatever the ties of the fit (R's ``se = TRUE`` curve). In a model
with baseline strata the sums run over the rows of ``z``'s stratum.

Standard errors, ``se_method="r"`` (R survey 4.1-1's ``predict.svycoxph``)
--------------------------------------------------------------------------
R's variance of ``H(t | z) = h(t) r_z`` (its ``varlog``, the variance of ``-log S``) is

    V(t) = r_z^2 (Vh(t) + Vb(t)) + r_z^2 h(t)^2 (z - c)' V (z - c) + 2 C(t)

* ``Vh(t)``: the design variance of ``h(t)`` at fixed ``beta``, by the delta method on the
  design totals of the death indicators and risk-set sums (here: the design variance of the
  linearised total ``sum_i w_i [ sum_{t_j <= t} dN_i(t_j) / y_j - r_i sum_{t_j <= min(t, T_i)}
  N_j / y_j^2 ]``, which is the same);
* ``Vb(t) = sum_{deaths k, t_k <= t} (w_k / y_k)^2 e_k' V e_k`` with ``V`` the design covariance
  of ``beta`` and ``e_k = xbar(t_k) - c``, ``xbar`` the risk-set mean of the covariates as R's
  ``coxph.detail`` gives it (with Efron ties, the mean over the tied deaths of Efron's
  adjusted means);
* ``C(t) = - r_z^2 h(t) (w_k / y_k) e_k' V (z - c)`` with ``k`` the *last* death at or before
  ``t`` (in the data's row order among tied deaths).

Two terms are not those of the delta method: the variance from ``beta`` adds the squares of
the increments (``Vb``) instead of taking the square of their sum, and the covariance between
``h`` and ``beta`` uses the increment at ``t`` only. The result depends on the centring ``c``,
so ``c`` is R's: the weighted mean of each covariate column over the rows used, except 0 for a
column whose values are all -1, 0 or 1 (``survival::coxph``'s ``nocenter``). The values can be
smaller than the delta method's and are not always increasing in ``t``.

Standard errors, ``se_method="linearization"``
----------------------------------------------
The delta method in full (Lin 2000; Binder 1992): the influence value of row ``i`` on
``H(t | z)`` is ``r_z [ u_i(t) + (sum_{t_j <= t} (N_j / y_j)(z - xbar_j))' z_i ]``, ``u_i(t)`` the
bracket of ``Vh`` above, ``xbar_j = sum w r x / y_j`` and ``z_i`` the influence values of
``beta`` (``CoxResult.influence``); the variance is the design variance of their total
(strata, clusters, fpc, calibration). It does not depend on ``c``. There is no R reference.

Replicate-weight designs
------------------------
With ``se=True`` the model is refitted with every replicate's weights (Newton from the
full-sample estimate) and ``H(t | z)`` recomputed at the full-sample event times; the variance
is the design's replicate variance of those values. R survey 4.1-1 has no such method.

References
----------
Breslow NE (1972) Discussion of Professor Cox's paper. *JRSS B* 34:216-217.
Binder DA (1992) Fitting Cox's proportional hazards models from survey data. *Biometrika*
79:139-147.
Lin DY (2000) On fitting Cox's proportional hazards models to survey data. *Biometrika*
87:37-47.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, ch. 7.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from socialhealth._text import show_given
from socialhealth.errors import MissingColumnError, ModelError


@dataclass
class FitData:
    """What a :class:`CoxResult` keeps of its fit for predicted curves and refits."""

    time: np.ndarray        # follow-up time of the rows used
    event: np.ndarray       # 0/1
    X: np.ndarray           # covariate columns (not centred)
    weights: np.ndarray     # weights of the rows used
    strata: np.ndarray      # baseline-stratum codes (0 without strata)
    frame: object           # the model frame (rhs_matrix for new data)
    spec: dict              # coxph() arguments: time, event, covariates, strata, ties, ...


def r_centre(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """R ``coxph``'s ``means``: weighted column means, 0 for columns with values in {-1, 0, 1}."""
    c = (w @ X) / w.sum()
    flag = np.all(np.isin(X, (-1.0, 0.0, 1.0)), axis=0)
    return np.where(flag, 0.0, c)


@dataclass
class StratumCurve:
    """Breslow baseline pieces for one baseline stratum, at its distinct event times."""

    time: np.ndarray        # distinct event times t_j
    n_risk: np.ndarray      # weighted number at risk
    n_event: np.ndarray     # weighted deaths N_j
    h: np.ndarray           # baseline cumulative hazard at c
    dH: np.ndarray          # increments N_j / y_j
    dH_last: np.ndarray     # w_k / y_j for the last death k at t_j (R's order)
    vb_inc: np.ndarray      # sum over deaths at t_j of (w_k / y_j)^2 (times e_j' V e_j later)
    e_r: np.ndarray         # xbar_j - c as R's coxph.detail (J x p)
    xbar: np.ndarray        # S1 / S0 at t_j (J x p)
    U: np.ndarray           # m x J: weighted linearised values of h(t_j) (0 outside stratum)


def stratum_curve(fit: FitData, beta: np.ndarray, c: np.ndarray, ties: str, stratum: int,
                  want_se: bool) -> StratumCurve:
    t, d, X, w = fit.time, fit.event, fit.X, fit.weights
    sel = fit.strata == stratum
    r = np.exp((X - c) @ beta)
    ev = np.flatnonzero(sel & (d == 1) & (w > 0))
    ev = ev[np.argsort(t[ev], kind="stable")]          # R: order(time, -status), stable
    times, first = np.unique(t[ev], return_index=True)
    J = len(times)
    last = np.r_[first[1:], len(ev)] - 1
    # risk-set sums at each distinct time
    srt = np.flatnonzero(sel)
    o = srt[np.argsort(-t[srt], kind="stable")]
    cw = np.cumsum(w[o] * r[o])
    cn = np.cumsum(w[o])
    cx = np.cumsum((w[o] * r[o])[:, None] * X[o], axis=0)
    # number of rows with time >= t_j among sel (sorted descending)
    k = np.searchsorted(-t[o], -times, side="right")
    y = cw[k - 1]
    n_risk = cn[k - 1]
    S1 = cx[k - 1]
    N = np.add.reduceat(w[ev], first) if J else np.zeros(0)
    dH = N / y
    h = np.cumsum(dH)
    dH_last = w[ev[last]] / y
    vb_inc = np.add.reduceat(w[ev] ** 2, first) / y ** 2 if J else np.zeros(0)
    xbar = S1 / y[:, None]
    # R's coxph.detail means: Breslow S1/S0; Efron the mean over the tied deaths (all deaths
    # at t_j in the stratum, weight 0 included) of (S1 - f S1_D) / (S0 - f S0_D)
    if ties == "efron":
        e_r = np.empty_like(xbar)
        alld = np.flatnonzero(sel & (d == 1))
        for j, tj in enumerate(times):
            dj = alld[t[alld] == tj]
            nd = len(dj)
            D0 = float(w[dj] @ r[dj])
            D1 = (w[dj] * r[dj]) @ X[dj]
            f = np.arange(nd) / nd
            den = y[j] - f * D0
            e_r[j] = np.mean((S1[j][None, :] - f[:, None] * D1[None, :]) / den[:, None], axis=0)
        e_r = e_r - c
    else:
        e_r = xbar - c
    U = np.zeros((len(t), J))
    if want_se and J:
        # events: + w_i / y at their own time, for every t_j >= it
        jev = np.searchsorted(times, t[ev])
        G = np.cumsum(N / y ** 2)
        rows_sel = np.flatnonzero(sel)
        # index of the last distinct time <= T_i
        ji = np.searchsorted(times, t[rows_sel], side="right") - 1
        cols = np.arange(J)
        lim = np.minimum(ji[:, None], cols[None, :])
        Gm = np.where(lim >= 0, G[np.clip(lim, 0, None)], 0.0)
        U[rows_sel] = -(w[rows_sel] * r[rows_sel])[:, None] * Gm
        add = np.zeros((len(ev), J))
        add[:] = (cols[None, :] >= jev[:, None]) * (w[ev] / y[jev])[:, None]
        U[ev] += add
    return StratumCurve(times, n_risk, N, h, dH, dH_last, vb_inc, e_r, xbar, U)


def newdata_matrix(fit: FitData, names, data: pd.DataFrame, newdata) -> np.ndarray:
    """Covariate rows of ``newdata`` (checked: every variable, known levels, no NaN)."""
    if not isinstance(newdata, pd.DataFrame) or len(newdata) == 0:
        raise ModelError("newdata= must be a DataFrame with at least one row giving the "
                         "covariate values of each curve, e.g. pd.DataFrame({'lonely': [0, 1], "
                         "'age': [70, 70], 'sex': ['female', 'female']}).")
    frame = fit.frame
    needed = sorted({v for vs in frame.term_variables.values() for v in vs})   # type: ignore
    missing = [v for v in needed if v not in newdata.columns]
    if missing:
        raise MissingColumnError(missing, newdata.columns,
                                 "newdata (it needs every variable of the Cox model's "
                                 "right-hand side)")
    used = data.iloc[frame.rows]                                                 # type: ignore
    import re

    coded = set(re.findall(r"\b(?:C|factor)\(\s*`?([^`,()\s]+)", str(fit.spec["covariates"])))
    for v in needed:
        col = used[v]
        if (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
                and v not in coded):
            continue
        known = set(col.dropna().unique().tolist())
        new = newdata[v]
        bad = [x for x in new.dropna().unique().tolist() if x not in known]
        if bad:
            raise ModelError(
                f"newdata has value(s) {', '.join(map(repr, map(str, bad)))} of {v!r} that the "
                f"model was not fitted with (its levels: "
                f"{', '.join(repr(str(x)) for x in sorted(known, key=str))}); predict only at "
                "levels the model has.")
    Xn, ok = frame.rhs_matrix(newdata)                                          # type: ignore
    if not np.all(ok):
        raise ModelError(f"{int((~np.asarray(ok)).sum())} row(s) of newdata have a missing "
                         "covariate value; give every covariate on every row.")
    keep = [list(frame.columns).index(n) for n in names]                        # type: ignore
    return np.asarray(Xn, dtype=float)[:, keep]


def curve_labels(newdata: pd.DataFrame, cols) -> list[str]:
    labels = [", ".join(f"{c}={r[c]}" for c in cols) for r in newdata.to_dict("records")]
    if len(set(labels)) < len(labels):
        labels = [f"{i + 1}: {lab}" for i, lab in enumerate(labels)]
    return labels


def predict_curve(result, newdata, *, se: bool, level: float, se_method: str):
    """The work of :meth:`CoxResult.predict_curve`."""
    from socialhealth.errors import DesignError
    from socialhealth.models._kaplan_meier import _Curve as Curve

    fit: FitData | None = getattr(result, "_cox_fit_data", None)
    if fit is None:
        raise ModelError("this Cox result does not keep the data of its fit; fit it again with "
                         "models.coxph(design, ...).")
    if not isinstance(se_method, str) or se_method not in ("r", "linearization"):
        raise ModelError(f"se_method={show_given(se_method)} must be 'r' (R survey's formula) or "
                         "'linearization' (the full delta method).")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ModelError(f"level must be between 0 and 1 (e.g. 0.95); got {show_given(level)}.")
    design = result.design
    data = design.data
    spec = fit.spec
    Z = newdata_matrix(fit, result.names, data, newdata)
    strata_col = spec["strata"]
    if strata_col:
        if strata_col not in newdata.columns:
            raise MissingColumnError(
                [strata_col], newdata.columns,
                f"newdata (the model has a separate baseline hazard for each value of "
                f"{strata_col!r}, so each curve needs its stratum)")
        levels = pd.Index(pd.unique(data[strata_col].dropna()))
        levels = levels.sort_values()
        codes = []
        for v in newdata[strata_col].tolist():
            if v not in levels:
                raise ModelError(
                    f"newdata has {strata_col}={v!r}, not a stratum of the model (its strata: "
                    f"{', '.join(repr(str(x)) for x in levels)}); give one of them.")
            codes.append(int(levels.get_loc(v)))
    else:
        codes = [0] * len(newdata)
    replicate = se and design.kind == "replicate"
    if se and hasattr(design, "phase_variances"):
        raise ModelError(
            "standard errors of predicted Cox curves are not available on two-phase designs "
            "(R stops too: 'replicate-weight designs not supported yet'); use se=False, or a "
            "replicate-weight version of the design.")
    beta = np.asarray(result.params, dtype=float)
    V = np.asarray(result.cov_params(), dtype=float)
    c = r_centre(fit.X, fit.weights)
    rows = np.asarray(result.influence.index, dtype=np.int64)
    infl = result.influence.to_numpy()
    if replicate:
        return _replicate_curves(result, fit, newdata, Z, codes, beta, c, level)
    cache: dict[int, tuple] = {}
    curves = []
    for i in range(len(Z)):
        s = codes[i]
        if s not in cache:
            sc = stratum_curve(fit, beta, c, spec["ties"], s, se)
            Vh = None
            if se and se_method == "r" and len(sc.time):
                try:
                    Vh = np.diag(design.variance_from_influence(sc.U, rows=rows))
                except DesignError as e:
                    raise ModelError(f"standard errors of the predicted curves: {e}") from None
            cache[s] = (sc, Vh)
        sc, Vh = cache[s]
        zc = Z[i] - c
        rz = float(np.exp(zc @ beta))
        surv = np.exp(-sc.h * rz)
        varlog = np.full(len(sc.time), np.nan)
        if se and len(sc.time):
            if se_method == "r":
                eVe = np.einsum("jp,pq,jq->j", sc.e_r, V, sc.e_r)
                Vb = np.cumsum(sc.vb_inc * eVe)
                Vz = float(zc @ V @ zc) * rz ** 2 * sc.h ** 2
                Cz = -(rz ** 2) * sc.h * sc.dH_last * (sc.e_r @ V @ zc)
                varlog = rz ** 2 * (Vh + Vb) + Vz + 2 * Cz
            else:
                D = np.cumsum(sc.dH[:, None] * (Z[i][None, :] - sc.xbar), axis=0)   # J x p
                IF = rz * (sc.U[rows] + infl @ D.T)
                try:
                    varlog = np.diag(design.variance_from_influence(IF, rows=rows))
                except DesignError as e:
                    raise ModelError(f"standard errors of the predicted curves: {e}") from None
        curves.append(Curve(time=sc.time, n_risk=sc.n_risk, n_event=sc.n_event, surv=surv,
                            varlog=varlog, rows_used=int((fit.strata == s).sum()),
                            events_used=int(((fit.strata == s) & (fit.event == 1)).sum())))
    return _as_result(result, fit, newdata, curves, se, level, se_method)


def _as_result(result, fit, newdata, curves, se, level, se_method):
    from socialhealth.models._kaplan_meier import KaplanMeierResult

    spec = fit.spec
    strata_col = spec["strata"]
    design = result.design
    label_cols = [col for col in newdata.columns
                  if col in {v for vs in fit.frame.term_variables.values() for v in vs}
                  or col == strata_col]
    labels = curve_labels(newdata, label_cols)
    r_fit = result.r_call
    out = KaplanMeierResult(
        curves=curves, groups=pd.DataFrame({"curve": labels}), by=["curve"], estimator="cox",
        se=se, level=float(level), n_rows=result.nobs, n_events=result.n_events,
        n_missing=result.n_missing, design_label=design.label,
        r_call=('predict(m, newdata = newdata, type = "curve"' + (", se = TRUE" if se else "")
                + f")  # m <- {r_fit}" + (f"; se_method={se_method!r} has no R counterpart"
                                          if se and se_method != "r" else "")),
        time=spec["time"], event=spec["event"], design=None)
    out.newdata = newdata.reset_index(drop=True).copy()
    out.se_method = se_method if se else None
    return out


def _replicate_curves(result, fit, newdata, Z, codes, beta, c, level):
    """Replicate-weight standard errors: the model refitted and the curves recomputed with
    every replicate's weights (at the full-sample event times); no R reference (R stops)."""
    from socialhealth.design.extension import refuse_negative_replicate_weights
    from socialhealth.errors import ConvergenceError
    from socialhealth.models._coxph import _newton, _prepare
    from socialhealth.models._kaplan_meier import _Curve as Curve

    design = result.design
    rows = np.asarray(result.influence.index, dtype=np.int64)
    spec = fit.spec
    refuse_negative_replicate_weights(
        design, rows, "predict_curve(se=True)",
        "the refitted curves are not defined with negative weights.")
    full = {s: stratum_curve(fit, beta, c, spec["ties"], s, False) for s in set(codes)}
    rz = np.exp((Z - c) @ beta)
    sizes = [len(full[s].time) for s in codes]

    def cumhaz(w_all):
        w = np.asarray(w_all, dtype=float)[rows]
        if np.array_equal(w, np.asarray(design.weights, dtype=float)[rows]):
            b = beta
        else:
            Xc = fit.X - c
            P = _prepare(fit.time, fit.event, Xc, fit.strata)
            b, _, _, _, status, _ = _newton(P, w[P.order] / w.mean(), spec["ties"], beta,
                                            spec["tol"], spec["max_iter"])
            if status != "converged":
                raise ConvergenceError("the Cox model did not converge for a replicate's "
                                       "weights, so the replicate standard errors of the "
                                       "curves are not available; use se=False.")
        fr = FitData(fit.time, fit.event, fit.X, w, fit.strata, fit.frame, spec)
        out = []
        cache = {}
        for i, s in enumerate(codes):
            if s not in cache:
                cache[s] = stratum_curve(fr, b, c, spec["ties"], s, False)
            sc = cache[s]
            k = np.searchsorted(sc.time, full[s].time, side="right") - 1
            h = np.where(k >= 0, sc.h[np.clip(k, 0, None)] if len(sc.h) else 0.0, 0.0)
            out.append(h * np.exp((Z[i] - c) @ b))
        return np.concatenate(out) if out else np.zeros(0)

    _, V = design.with_replicates(cumhaz)
    var = np.diag(V)
    curves, start = [], 0
    for i, s in enumerate(codes):
        sc = full[s]
        J = sizes[i]
        curves.append(Curve(time=sc.time, n_risk=sc.n_risk, n_event=sc.n_event,
                            surv=np.exp(-sc.h * rz[i]), varlog=var[start:start + J],
                            rows_used=int((fit.strata == s).sum()),
                            events_used=int(((fit.strata == s) & (fit.event == 1)).sum())))
        start += J
    return _as_result(result, fit, newdata, curves, True, level, "replicate")
