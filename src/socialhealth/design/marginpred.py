r"""Standardised predictions by calibration: R ``survey::marginpred`` (Graubard & Korn 1999).

A model of an outcome on variables ``x`` (a Kaplan-Meier curve per group, a Cox model or a GLM)
is refitted on a design whose weights make the adjustment variables ``a`` (e.g. age and sex)
uncorrelated with ``x``; predictions from the refit are then standardised for ``a``: each
group's curve or prediction is for a population with the same distribution of ``a`` (to first
order, the whole sample's).

Method (Lumley 2010, §7.5; R survey 4.1-1 ``marginpred``)
--------------------------------------------------------
On the rows used, with weights ``w_i``:

1. ``m_i`` = the model-matrix columns of ``x`` without the intercept (for a survival curve by
   group, the treatment indicators of the groups), ``a_i`` = those of the adjustment formula
   without the intercept; both centred at their weighted means,
   ``m_i <- m_i - sum_j w_j m_j / sum_j w_j`` (likewise ``a_i``).
2. Adjustment columns collinear with the model columns (or with earlier adjustment columns)
   are dropped, by R's rule: a column whose residual norm after the columns before it is below
   ``1e-7`` times its own norm. None left: the adjustment variables are all in the model.
3. The weights are calibrated by raking, ``w_i g_i`` with ``g_i = exp(c_i' lambda)``, so that
   every weighted cross-product of a centred adjustment column and a centred model column
   equals its target,

       sum_i w_i g_i a_ik m_il = (sum_i w_i a_ik) (sum_i w_i m_il / sum_i w_i)   (= 0),

   ``c_i`` the products ``a_ik m_il`` (model column outer, adjustment column inner). Newton's
   method from ``lambda = 0`` with R's ``grake`` path and controls (bounds ``(0, Inf)``,
   ``epsilon = 1e-4``, at most 100 iterations; R's raking derivative is ``exp(u)`` where
   ``u > -1``, else 0).
4. The model is refitted on the calibrated design. Its Taylor variance uses the residuals of
   the influence values ``z`` from the calibration model, as R's ``svyrecvar`` does for this
   design: ``z - g w* C b`` with ``b`` the least-squares coefficients of
   ``z / (g sqrt(w*))`` on ``C sqrt(w*)`` (``w* = w g``, the calibrated weights). Replicate
   designs calibrate every replicate's weights to the same targets.

References
----------
Graubard BI, Korn EL (1999) Predictive margins with survey data. *Biometrics* 55:652-659.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, §7.
Deville JC, Sarndal CE, Sautory O (1993) Generalized raking procedures in survey sampling.
*JASA* 88:1013-1020.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from socialhealth._options import is_choice, is_number
from socialhealth._stack import user_stacklevel
from socialhealth._text import show_given
from socialhealth.design.calibration import _all_weights, _new_design, _solve_g, model_matrix
from socialhealth.design.result_protocol import Result, Summary
from socialhealth.design.results import t_quantile
from socialhealth.design.structure import as_list, check_flag
from socialhealth.errors import (
    ConvergenceError,
    DesignError,
    MissingColumnError,
    ModelError,
    SocialHealthWarning,
)

__all__ = ["MarginPredResult", "marginpred"]

#: R marginpred's controls of the raking (grake): bounds (0, Inf), epsilon, maxit
EPSILON = 1e-4
MAX_ITER = 100
#: warn when a calibration factor is below 1 / EXTREME or above EXTREME
EXTREME = 100.0
#: R's qr() tolerance for collinear columns (LINPACK dqrdc2)
QR_TOL = 1e-7


# ----------------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class MarginpredResidual:
    """Residuals of influence values from marginpred's calibration (R ``svyrecvar``, stage 0).

    ``residualize(Z) = Z - g s (C s) b`` with ``s = sqrt(w*)`` (calibrated weights), ``g`` the
    calibration factors and ``b`` the least-squares coefficients of ``Z / (g s)`` on ``C s``.
    Rows with zero weight are left as they are (their influence values are 0).
    """

    C: np.ndarray           # n x q calibration products (0 on rows not used)
    g: np.ndarray           # calibration factors (1 on rows not used)
    weights: np.ndarray     # calibrated weights w g
    label: str = ""

    def residualize(self, Z: np.ndarray) -> np.ndarray:
        """Influence values ``Z`` (n or n x p) minus their fit on the calibration products."""
        Z = np.asarray(Z, dtype=float)
        one = Z.ndim == 1
        Z2 = Z[:, None] if one else Z
        s = np.sqrt(np.clip(self.weights, 0.0, None))
        gs = self.g * s
        used = gs > 0
        A = self.C[used] * s[used, None]
        u = Z2[used] / gs[used, None]
        b, *_ = np.linalg.lstsq(A, u, rcond=None)
        out = Z2.copy()
        out[used] = Z2[used] - gs[used, None] * (A @ b)
        return out[:, 0] if one else out


def _r_dF(u: np.ndarray) -> np.ndarray:
    # R survey 4.1-1 cal.raking with bounds (0, Inf): derivative exp(u) where -1 < u, else 0
    return np.exp(u) * (u > -1.0)


def _independent(M: np.ndarray) -> list[int]:
    """Columns of ``M`` kept by R's qr() (LINPACK dqrdc2, tol 1e-7): in order, a column whose
    residual after the kept columns before it is below tol times its own norm is dropped
    (zero columns too)."""
    kept: list[int] = []
    for j in range(M.shape[1]):
        col = M[:, j]
        norm = float(np.linalg.norm(col))
        if norm == 0.0:
            continue
        if kept:
            B = M[:, kept]
            coef, *_ = np.linalg.lstsq(B, col, rcond=None)
            resid = float(np.linalg.norm(col - B @ coef))
        else:
            resid = norm
        if resid >= QR_TOL * norm:
            kept.append(j)
    return kept


def _adjustment_matrix(data: pd.DataFrame, adjustfor, used: np.ndarray):
    """Adjustment model matrix (no intercept) and its column names; checks missing values."""
    formula: str | list[str]
    cols: list[str] | None
    if isinstance(adjustfor, str):
        formula = adjustfor if adjustfor.strip().startswith("~") else "~" + adjustfor
        cols = None
    else:
        cols = [str(c) for c in as_list(adjustfor)]
        if not cols:
            raise ModelError("adjustfor= names no variables; give e.g. adjustfor=['age', 'sex'] "
                             "or '~age + sex'.")
        formula = cols
    if cols is None:
        import re

        variables = [v for v in re.findall(r"[A-Za-z_.][A-Za-z0-9_.]*", str(formula))
                     if v in data.columns]
    else:
        variables = cols
    for v in (cols or []):
        if v not in data.columns:
            raise MissingColumnError([v], data.columns, "the design data (adjustfor=)")
    try:
        X, names = model_matrix(data, formula)
    except MissingColumnError:
        raise
    except DesignError as e:    # (a formula the calibration engine cannot build)
        raise ModelError(f"adjustfor= could not be built: {e}") from None
    keep = [k for k, n in enumerate(names) if n != "(Intercept)"]
    X, names = X[:, keep], [names[k] for k in keep]
    if not names:
        raise ModelError("adjustfor= has no adjustment variables (only an intercept).")
    bad = np.isnan(X).any(axis=1) & used
    if bad.any():
        which = [v for v in variables if data[v].isna().to_numpy()[used].any()]
        raise ModelError(
            f"{int(bad.sum())} row(s) used by the model have a missing value in the adjustment "
            f"variable(s) {', '.join(map(repr, which)) or str(formula)}; marginpred needs every "
            "adjustment variable on every row (R stops too). Impute them, or fit the model on "
            "a design subset without those rows (design.subset(...)).")
    return np.where(used[:, None], np.nan_to_num(X), 0.0), names, variables


def _calibrated_design(design, Mmodel: np.ndarray, Aadj: np.ndarray, used: np.ndarray,
                       model_names: list[str], adj_names: list[str], epsilon: float,
                       max_iter: int, in_variance: bool = True,
                       adj_variables: Sequence[str] = (), centre: bool = True):
    """The design reweighted so that the adjustment columns are uncorrelated with the model
    columns (step 1-4 of the module docstring). Returns (design, info dict).

    ``centre=False``: the columns are used as given (R's Cox method: model columns centred by
    the fit's ``means``, adjustment columns with an intercept, not centred)."""
    w = np.where(used, np.asarray(design.weights, dtype=float), 0.0)
    wsum = w.sum()
    if centre:
        Mc = np.where(used[:, None], Mmodel - (w @ Mmodel) / wsum, 0.0)
        Ac = np.where(used[:, None], Aadj - (w @ Aadj) / wsum, 0.0)
    else:
        Mc = np.where(used[:, None], Mmodel, 0.0)
        Ac = np.where(used[:, None], Aadj, 0.0)
    p = Mc.shape[1]
    if p == 0:
        raise ModelError("the model has no variables besides the intercept, so there is "
                         "nothing to standardise; fit the model with the variables whose "
                         "predictions you want (e.g. by='lonely').")
    if len(_independent(Mc[used])) < p:
        raise ModelError(f"the model is singular: its columns {_show_names(model_names)} are "
                         "collinear on the rows used; drop a redundant variable.")
    kept = _independent(np.column_stack([Mc, Ac])[used])
    adj_kept = [k - p for k in kept if k >= p]
    if not adj_kept:
        raise ModelError(f"the adjustment variables ({_show_names(adj_variables or adj_names)}) "
                         "are all in the "
                         "model (collinear with its variables), so there is nothing to adjust "
                         "for; adjust for variables that are not in the model.")
    Ac = Ac[:, adj_kept]
    C = np.column_stack([Ac * Mc[:, [i]] for i in range(p)])
    target = np.outer(Mc.T @ w / wsum, Ac.T @ w).ravel()     # (model column, adjustment column)
    W = _all_weights(design)
    out = W.copy()
    g_full = np.ones(len(w))
    iterations = 0
    for j in range(W.shape[1]):
        wj = np.where(used, W[:, j], 0.0)
        sol = _solve_g(C, wj, target, np.exp, _r_dF, max_iter, epsilon)
        if not sol.converged:
            what = "the full sample" if j == 0 else f"replicate {j}"
            raise ConvergenceError(
                f"the calibration that makes the adjustment variables uncorrelated with the "
                f"model's did not converge for {what} in {max_iter} iterations (raking, "
                f"bounds (0, inf), largest relative misfit {sol.misfit:.3g} > epsilon "
                f"{epsilon:g}; R: 'Calibration failed'). Raise max_iter= or epsilon=, or "
                "adjust for fewer (or coarser) variables: sparse groups of the model with "
                "extreme adjustment values cannot always be balanced.")
        g = np.where(used, sol.g, 1.0)
        out[:, j] = W[:, j] * g
        if j == 0:
            g_full, iterations = g, sol.iterations
    gu = g_full[used]
    if len(gu) and (gu.min() < 1 / EXTREME or gu.max() > EXTREME):
        warnings.warn(
            f"the calibration changed some weights by factors from {float(gu.min()):.3g} to "
            f"{float(gu.max()):.3g}: the adjustment variables are nearly determined by the "
            f"model's ({_show_names(model_names)}), so the standardised predictions rest on few "
            "rows and their standard errors are unreliable. Adjust for variables that are not "
            "(nearly) functions of the model's variables.", SocialHealthWarning,
            stacklevel=user_stacklevel())
    residual = (MarginpredResidual(C, g_full, out[:, 0].copy(), label="marginpred")
                if in_variance else None)
    info = dict(g=g_full, iterations=iterations,
                adjustment_columns=[adj_names[k] for k in adj_kept],
                dropped_columns=[n for k, n in enumerate(adj_names) if k not in adj_kept],
                model_columns=list(model_names))
    # (to_replicate(recalibrate=True) redoes the same calibration on the replicate design)
    if residual is None and design.kind != "replicate":
        new = _new_design(design, np.column_stack([out[:, 0]]))   # weights only, as R's svyglm
        return new, info
    return _new_design(design, out, residual,
                       lambda d: _calibrated_design(d, Mmodel, Aadj, used, model_names,
                                                    adj_names, epsilon, max_iter,
                                                    centre=centre)[0]), info


def _show_names(names: Sequence[str]) -> str:
    """``a, b and c`` for a message."""
    names = [str(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# ----------------------------------------------------------------------------- result (GLM)
class MarginPredResult(Result):
    """Standardised predictions of a survey GLM at given rows (see :func:`marginpred`).

    Result protocol: ``coef()`` / ``se()`` / ``confint(level=)`` have one row per row of
    ``predictat`` (labelled by its values); ``vcov`` is the covariance of the predictions.

    Attributes
    ----------
    table : see :meth:`to_frame`. vcov : covariance matrix of the predictions.
    type : ``"link"`` or ``"response"``. level : confidence level of ``ci_low`` / ``ci_high``.
    model : the GLM refitted on the calibrated design (a
        :class:`~socialhealth.design.glm_result.SurveyGLMResult`).
    design : the calibrated design. g : the calibration factors (new weight / old weight).
    adjustment_variables : the variables adjusted for; adjustment_columns : their model-matrix
        columns calibrated on; dropped_columns : columns left out as collinear with the
        model's. iterations : Newton iterations of the calibration.
    r_call : the matching R call.
    """

    def __init__(self, *, table, vcov, type, level, model, design, info, r_call, label_columns):
        self.table = table
        self.vcov = vcov
        self.type = type
        self.level = level
        self.model = model
        self.design = design
        self.g = info["g"]
        self.iterations = info["iterations"]
        self.adjustment_columns = info["adjustment_columns"]
        self.dropped_columns = info["dropped_columns"]
        self.adjustment_variables = info["variables"]
        self.r_call = r_call
        self._label_columns = tuple(label_columns)

    def to_frame(self) -> pd.DataFrame:
        """One row per row of ``predictat``: its model columns, then ``estimate`` (on the
        ``type`` scale), ``se``, ``ci_low``, ``ci_high`` (Wald, normal quantile, as R's
        ``confint`` of the prediction)."""
        return self.table.copy()

    def _estimates(self, level: float) -> pd.DataFrame:
        t = self.table
        z = t_quantile(level, float("inf"))
        est, se = t["estimate"].to_numpy(dtype=float), t["se"].to_numpy(dtype=float)
        out = pd.DataFrame({"estimate": est, "se": se}, index=self._labels_of(t))
        if np.isclose(level, self.level):
            out["ci_low"], out["ci_high"] = t["ci_low"].to_numpy(), t["ci_high"].to_numpy()
        else:
            out["ci_low"], out["ci_high"] = est - z * se, est + z * se
        return out

    def summary(self) -> Summary:
        """Text: the predictions with SEs, what was adjusted for, and the R call."""
        scale = "mean" if self.type == "response" else "linear predictor"
        lines = [f"Standardised predictions ({scale} scale) from {self.model.formula}",
                 f"Adjusted for: {', '.join(self.adjustment_variables)}"
                 + (f" (indicators left out as collinear with the model: "
                    f"{', '.join(self.dropped_columns)})" if self.dropped_columns else ""),
                 f"Calibration: raking in {self.iterations} iteration(s); weights changed by "
                 f"factors {float(np.min(self.g)):.3g} to {float(np.max(self.g)):.3g}"]
        cols = [c for c in self._label_columns]
        for r in self.table.to_dict("records"):
            label = ", ".join(f"{c}={r[c]}" for c in cols)
            lines.append(f"  {label:<30}{r['estimate']:>12.5g} (se {r['se']:.4g}; "
                         f"{self.level:.0%} CI {r['ci_low']:.5g} to {r['ci_high']:.5g})")
        lines.append(f"In R: {self.r_call}")
        return Summary("\n".join(lines), frame=self.to_frame())

    def __repr__(self) -> str:
        return str(self.summary())


# ----------------------------------------------------------------------------- entry point
def _formula_text(adjustfor) -> str:
    if isinstance(adjustfor, str):
        return adjustfor if adjustfor.strip().startswith("~") else "~" + adjustfor
    return "~" + " + ".join(str(c) for c in as_list(adjustfor))


def _marginpred_km(km, adjustfor, se: bool, epsilon: float, max_iter: int, in_variance: bool):
    from socialhealth.models._kaplan_meier import kaplan_meier

    design = getattr(km, "_design", None)
    if design is None:
        raise ModelError("this Kaplan-Meier result does not keep its design; fit it again "
                         "with models.kaplan_meier(design, ...).")
    if not km.by:
        raise ModelError("the survival curve has no groups (by=), so there is nothing to "
                         "standardise; fit it with by=, e.g. kaplan_meier(design, time, event, "
                         "by='lonely').")
    data = design.data
    t = pd.to_numeric(data[km.time_column], errors="coerce")
    d = pd.to_numeric(data[km.event_column], errors="coerce")
    used = (np.asarray(design.weights, dtype=float) != 0) & t.notna().to_numpy() \
        & d.notna().to_numpy() & data[km.by].notna().all(axis=1).to_numpy()
    Mm, mnames = model_matrix(data, km.by)
    Mm, mnames = Mm[:, 1:], mnames[1:]
    Mm = np.where(used[:, None], np.nan_to_num(Mm), 0.0)
    A, anames, avars = _adjustment_matrix(data, adjustfor, used)
    cal, info = _calibrated_design(design, Mm, A, used, mnames, anames, epsilon, max_iter,
                                   in_variance, avars)
    info["variables"] = avars
    out = kaplan_meier(cal, km.time_column, km.event_column, by=km.by, se=se, level=km.level)
    out.r_call = (f"marginpred(km, adjustfor = {_formula_text(adjustfor)}, predictat = newdata"
                  + (", se = TRUE" if se else "") + f")  # km <- {km.r_call.split('  #')[0]}")
    out.design_label = f"{design.label}, calibrated for marginpred"
    out.marginpred = info
    return out


def _marginpred_cox(model, adjustfor, predictat, se: bool, level: float, epsilon: float,
                    max_iter: int, in_variance: bool, se_method: str):
    from socialhealth.models._coxcurve import r_centre

    if predictat is None or not isinstance(predictat, pd.DataFrame) or len(predictat) == 0:
        raise ModelError("predictat= must be a DataFrame with at least one row giving the "
                         "values of the Cox model's variables for each curve, e.g. "
                         "pd.DataFrame({'lonely': ['no', 'yes']}).")
    design = model.design
    n = len(design.data)
    used = np.zeros(n, dtype=bool)
    rows = np.asarray(model.influence.index, dtype=np.int64)
    used[rows] = True
    used &= np.asarray(design.weights, dtype=float) != 0
    Xall, _ = model.model_matrix(design.data)
    # R marginpred.svycoxph: the model columns centred by the fit's means (survival::coxph:
    # weighted means, 0 for columns of -1/0/1), the adjustment columns with an intercept and
    # not centred
    w_used = np.asarray(design.weights, dtype=float)[rows]
    c = r_centre(Xall[rows], w_used)
    Mm = np.where(used[:, None], np.nan_to_num(Xall - c), 0.0)
    A, anames, avars = _adjustment_matrix(design.data, adjustfor, used)
    A = np.column_stack([np.where(used, 1.0, 0.0), A])
    anames = ["(Intercept)"] + list(anames)
    if len(_independent(np.column_stack([Mm, A[:, 1:]])[used])) <= Mm.shape[1] \
            and len(_independent(Mm[used])) == Mm.shape[1]:
        raise ModelError(f"the adjustment variables ({_show_names(avars or anames[1:])}) are all "
                         "in the model (collinear with its variables), so there is nothing to "
                         "adjust for; adjust for variables that are not in the model (R "
                         "returns the unadjusted curves).")
    cal, info = _calibrated_design(design, Mm, A, used, list(model.names), anames, epsilon,
                                   max_iter, in_variance, avars, centre=False)
    info["variables"] = avars
    refit = model.refit(cal)
    out = refit.predict_curve(predictat, se=se, level=level, se_method=se_method)
    out.r_call = (f"marginpred(m, adjustfor = {_formula_text(adjustfor)}, predictat = newdata"
                  + (", se = TRUE" if se else "") + f")  # m <- {model.r_call}")
    out.design_label = f"{design.label}, calibrated for marginpred"
    out.marginpred = info
    out.model = refit
    return out


def _marginpred_glm(model, adjustfor, predictat, type: str, level: float, epsilon: float,
                    max_iter: int, in_variance: bool):
    from socialhealth.design.glm_families import LINKS

    if not is_choice(type, ("link", "response")):
        raise ModelError(f"type={show_given(type)} must be 'link' or 'response' (R predict's "
                         "type=).")
    if predictat is None or not isinstance(predictat, pd.DataFrame) or len(predictat) == 0:
        raise ModelError("predictat= must be a DataFrame with at least one row giving the "
                         "values of the model's variables to predict at, e.g. "
                         "pd.DataFrame({'lonely': ['no', 'yes'], 'age': [70, 70]}).")
    if getattr(model, "_offset_array", False):
        raise ModelError("the model has an array offset; give the offset as a column name "
                         "(offset='col') or as offset(expr) in the formula and refit.")
    design = model.design
    frame = model.frame
    needed = sorted({v for vs in frame.term_variables.values() for v in vs})
    if model._offset_name is not None:
        needed.append(model._offset_name)
    missing = [v for v in needed if v not in predictat.columns]
    if missing:
        raise MissingColumnError(missing, predictat.columns,
                                 "predictat (it needs every variable of the model's right-hand "
                                 "side)")
    n = len(design.data)
    used = np.zeros(n, dtype=bool)
    used[frame.rows] = True
    used &= np.asarray(design.weights, dtype=float) != 0
    Xall, ok = frame.rhs_matrix(design.data)
    keep = [k for k, nm in enumerate(model.names) if nm != "Intercept"]
    Mm = np.where(used[:, None], np.nan_to_num(Xall[:, keep]), 0.0)
    A, anames, avars = _adjustment_matrix(design.data, adjustfor, used)
    cal, info = _calibrated_design(design, Mm, A, used, [model.names[k] for k in keep], anames,
                                   epsilon, max_iter, in_variance, avars)
    info["variables"] = avars
    max_it, tol = model._control
    refit = cal.glm(model.formula, family=model.family, link=model.link, max_iter=max_it,
                    tol=tol, offset=model._offset_name)
    Xn, okn = refit.frame.rhs_matrix(predictat)
    if not okn.all():
        raise ModelError(f"{int((~okn).sum())} row(s) of predictat have a missing value in a "
                         "model variable; give every variable of the model on every row.")
    eta = Xn @ refit._beta
    if refit._offset_name is not None or refit._offset_exprs:
        eta = refit.predict(predictat, type="link").to_numpy()
    V = np.asarray(refit.cov_params(), dtype=float)
    Vlink = Xn @ V @ Xn.T
    if type == "response":
        lk = LINKS[refit.link]
        est = lk.linkinv(eta)
        J = lk.mu_eta(eta)
        Vp = J[:, None] * Vlink * J[None, :]
    else:
        est, Vp = eta, Vlink
    se = np.sqrt(np.diag(Vp))
    z = t_quantile(level, float("inf"))
    label_cols = [c for c in predictat.columns if c in needed]
    table = predictat[label_cols].reset_index(drop=True).copy()
    table["estimate"], table["se"] = est, se
    table["ci_low"], table["ci_high"] = est - z * se, est + z * se
    r_call = (f"marginpred(m, adjustfor = {_formula_text(adjustfor)}, predictat = newdata"
              + (', type = "response"' if type == "response" else "")
              + f")  # m <- {model.r_call}")
    return MarginPredResult(table=table, vcov=Vp, type=type, level=level, model=refit,
                            design=cal, info=info, r_call=r_call, label_columns=label_cols)


def marginpred(
    model,
    adjustfor: str | Sequence[str],
    predictat: pd.DataFrame | None = None,
    *,
    se: bool = False,
    type: Literal["link", "response"] = "link",
    level: float = 0.95,
    epsilon: float = EPSILON,
    max_iter: int = MAX_ITER,
    calibration_in_variance: bool = True,
    se_method: Literal["r", "linearization"] = "r",
):
    r"""Standardised predictions (predictive margins) by calibration, as R ``marginpred``.

    Reweights the model's design by raking so that the adjustment variables are uncorrelated
    with the model's variables, refits the model on the reweighted design and predicts from
    it (Graubard & Korn 1999; Lumley 2010, §7). With centred model columns ``m`` (intercept
    left out) and centred adjustment columns ``a``, the calibrated weights ``w_i g_i``,
    ``g_i = exp(c_i' lambda)``, ``c_i = (a_ik m_il)``, satisfy

        sum_i w_i g_i a_ik m_il = (sum_i w_i a_ik)(sum_i w_i m_il / sum_i w_i) = 0

    for every adjustment column ``k`` and model column ``l``. For survival curves by group
    this standardises every group's curve to the adjustment-variable distribution of the whole
    sample: e.g. survival by loneliness standardised for age and sex. The variance of the refit
    accounts for the calibration (module docstring).

    Parameters
    ----------
    model : KaplanMeierResult (from :func:`kaplan_meier` with ``by=``; R ``svykm``, method
        ``marginpred.svykmlist``), CoxResult (from :func:`coxph`; R ``svycoxph``, method
        ``marginpred.svycoxph``) or SurveyGLMResult (from ``design.glm(...)``; R ``svyglm``).
    adjustfor : adjustment variables, ``"~age + sex"`` or ``["age", "sex"]`` (categorical
        columns give treatment indicators, as R's ``model.matrix``).
    predictat : DataFrame of the model's right-hand-side variables at which to predict
        (GLM and Cox model: required; one curve per row for a Cox model). For Kaplan-Meier
        curves R only checks that it has rows; it may be omitted here.
    se : survival curves only: compute standard errors (R ``se = TRUE``; as ``svykm``, the
        Kaplan-Meier curve is then the Aalen estimator; Cox curves are always Breslow's).
    type : GLM only: ``"link"`` (linear predictor, R's default) or ``"response"`` (mean).
    level : confidence level of the intervals.
    epsilon, max_iter : convergence of the raking: the largest
        ``abs(misfit) / (1 + abs(target))`` below ``epsilon``, within ``max_iter`` steps;
        R's fixed values 1e-4 and 100 by default.
    calibration_in_variance : Taylor designs: the variance of the refit accounts for the
        calibration (default, as R's svykm method). ``False`` treats the new weights as fixed,
        which is what R survey 4.1-1's ``marginpred.svyglm`` does (see Notes): use it to
        reproduce R's GLM standard errors. (Replicate designs always recalibrate every
        replicate.)
    se_method : Cox models only: ``"r"`` (R's standard-error formula, default) or
        ``"linearization"`` (the full delta method); see ``CoxResult.predict_curve``.

    Returns
    -------
    KaplanMeierResult (survival curves: the curves of the calibrated design, or for a Cox
    model the curves predicted at ``predictat`` from the model refitted on it (``.model``),
    usable with ``sh.plot.survival``; ``.marginpred`` holds the calibration factors ``g`` and
    the columns used) or :class:`MarginPredResult` (GLM: ``to_frame()`` with ``estimate``, ``se``,
    ``ci_low``, ``ci_high`` per row of ``predictat``; ``vcov``; ``model`` the refit).

    Raises
    ------
    ModelError : adjustment variables all in the model; singular model; missing values in an
        adjustment variable on rows the model uses (R stops; the count and the variables are
        named); a curve without groups; bad ``type``; ``predictat`` empty or with missing
        values.
    MissingColumnError : ``predictat`` lacks a model variable, or an adjustment column is not in
        the data.
    ConvergenceError : the raking did not converge (R: "Calibration failed").

    Warns
    -----
    SocialHealthWarning : some calibration factors are below 1/100 or above 100 (adjustment
        variables nearly determined by the model's, e.g. age groups with age in the model).

    Notes
    -----
    Differences from R survey 4.1-1:

    * ``marginpred.svyglm`` in R refits on the reweighted design but attaches the calibration
      to a copy it does not use, so its standard errors treat the new weights as fixed (the
      svykm and svycoxph methods do include it). Here the refit's variance always includes
      the calibration (``calibration_in_variance=False`` gives R's SEs); the point predictions
      equal R's. The tests compare both with R, the first with R's function corrected to
      use the calibration.
    * Replicate-weight designs: R's ``marginpred`` stops ("non-conformable arrays"), and R's
      ``svykm(~ group)`` fails on them too. Here every replicate's weights are raked to the
      same targets and the replicate variance follows.
    * Rows used: those with non-zero weight and every model variable (R drops rows with a
      missing model variable for a GLM and stops for a survival curve); a missing adjustment
      value on such a row is an error, as in R.
    * Cox models (``marginpred.svycoxph``): R calibrates on the model columns centred by the
      fit's ``means`` (``survival::coxph`` leaves columns of -1/0/1 uncentred) times the
      adjustment columns *with* an intercept, not centred; the same is done here, so the
      weights and curves equal R's. When the adjustment variables are all in the model R
      returns the unadjusted curves; here that is an error. R's ``se = FALSE`` curve treats
      tied event times differently from its ``se = TRUE`` curve (see
      ``CoxResult.predict_curve``); here both are Breslow's, R's ``se = TRUE`` one.

    References
    ----------
    Graubard BI, Korn EL (1999) Predictive margins with survey data. *Biometrics* 55:652-659.
    Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, §7.

    Examples
    --------
    >>> import pandas as pd
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> km = models.kaplan_meier(sd.design, "followup_years", "died", by="lonely")
    >>> adj = models.marginpred(km, adjustfor=["age", "sex"])
    >>> print(adj.at([10])[["lonely", "time", "surv"]].round(3).to_string())
       lonely  time   surv
    0   False  10.0  0.888
    1    True  10.0  0.826
    >>> m = sd.design.glm("poor_health ~ C(lonely)", family="binomial")
    >>> p = models.marginpred(m, adjustfor="~age + sex",
    ...                       predictat=pd.DataFrame({"lonely": [False, True]}), type="response")
    >>> print(p.to_frame()[["lonely", "estimate", "se"]].round(3).to_string())
       lonely  estimate     se
    0   False     0.194  0.004
    1    True     0.367  0.016

    Survival by loneliness from a Cox model, standardised for age and sex:

    >>> cox = models.coxph(sd.design, "followup_years", "died", ["lonely"])
    >>> cp = models.marginpred(cox, adjustfor=["age", "sex"],
    ...                        predictat=pd.DataFrame({"lonely": [False, True]}), se=True)
    >>> print(cp.at([10])[["curve", "surv", "ci_low", "ci_high"]].round(3).to_string())
              curve   surv  ci_low  ci_high
    0  lonely=False  0.888   0.880    0.895
    1   lonely=True  0.811   0.779    0.844

    In R: ``marginpred(km, adjustfor = ~age + sex, predictat = newdf, se = TRUE)`` for
    ``km <- svykm(Surv(time, status > 0) ~ lonely, design)``;
    ``marginpred(m, adjustfor = ~age + sex, predictat = newdf, type = "response")`` for
    ``m <- svyglm(poor_health ~ lonely, design, family = quasibinomial())``;
    ``marginpred(cox, adjustfor = ~age + sex, predictat = newdf, se = TRUE)`` for
    ``cox <- svycoxph(Surv(followup_years, died) ~ lonely, design)``.
    """
    from socialhealth.design.glm_result import SurveyGLMResult
    from socialhealth.models._coxph import CoxResult
    from socialhealth.models._kaplan_meier import KaplanMeierResult

    if not (is_number(level) and 0 < level < 1):
        raise ModelError(f"level must be between 0 and 1 (e.g. 0.95); got {show_given(level)}.")
    if not (is_number(epsilon) and epsilon > 0):
        raise ModelError(f"epsilon must be a positive number (R uses 1e-4); got "
                         f"{show_given(epsilon)}.")
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ModelError(f"max_iter must be a whole number >= 1 (R uses 100); got "
                         f"{show_given(max_iter)}.")
    se = check_flag(se, "se", "marginpred()")
    calibration_in_variance = check_flag(calibration_in_variance, "calibration_in_variance",
                                         "marginpred()")
    if not is_choice(se_method, ("r", "linearization")):
        raise ModelError(f"se_method={show_given(se_method)} must be 'r' (R survey's formula) or "
                         "'linearization' (used by Cox models only).")
    if isinstance(model, KaplanMeierResult):
        if predictat is not None and len(predictat) == 0:
            raise ModelError("predictat= has no rows (R returns NULL); omit it for survival "
                             "curves.")
        return _marginpred_km(model, adjustfor, bool(se), float(epsilon), int(max_iter),
                              bool(calibration_in_variance))
    if isinstance(model, CoxResult):
        return _marginpred_cox(model, adjustfor, predictat, bool(se), float(level),
                               float(epsilon), int(max_iter), bool(calibration_in_variance),
                               se_method)
    if isinstance(model, SurveyGLMResult):
        return _marginpred_glm(model, adjustfor, predictat, type, float(level), float(epsilon),
                               int(max_iter), bool(calibration_in_variance))
    raise ModelError("marginpred() works on a survival curve by group (models.kaplan_meier(..., "
                     "by=...)), a Cox model (models.coxph(...)) or a survey GLM "
                     f"(design.glm(...)); got {model.__class__.__name__}.")
