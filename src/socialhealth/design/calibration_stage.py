"""Calibration to totals known for the sampled PSUs (R ``calibrate(..., stage = 1)``).

In a multistage sample the totals of the auxiliary variables are sometimes known
for each sampled PSU (a district's number of schools and enrolment, a practice's list size by
age) but not for the population. Calibrating within each PSU ``i`` to its totals ``T_i`` gives
the linear (GREG) adjustments

    g_k = 1 + x_k' lambda_i,   sum_{k in i} w_k g_k x_k = T_i / pi_i,

``pi_i`` the first-stage inclusion probability of PSU ``i`` (``n_h / N_h`` from the first-stage
fpc, or the PPS probability), so that the PSU total of ``x`` estimated from the sample within
the PSU (its second and any later stages) is exactly ``T_i``. This is Sarndal, Swensson &
Wretman's (1992, §8.9) calibration on second-stage auxiliary totals (their "case C", Lumley
2010 §7.5).

Variance (R survey 4.1-1's, for any number of stages): with ``z_k`` the weighted influence
values of an estimate (on the calibrated weights ``w_k``), ``u_k = z_k / w_k``, and
``c_k = w0_k pi_i`` the within-PSU input weight of row ``k`` (``1 / pi(k | i)``, the product of
the inverse selection probabilities of its stages below the first), the within-PSU residuals
are

    r_k = w_k (u_k - sqrt(c_k) x_k' b_i),
    b_i = (sum_{k in i} c_k x_k x_k')^-1 sum_{k in i} sqrt(c_k) x_k u_k,

the ordinary least-squares residual of ``u`` on ``sqrt(c) x`` within PSU ``i``, times ``w``
(:class:`StageRegressionResidual`). The first-stage term of the multistage variance uses ``z``
(the PSU totals of ``y`` are estimated as before, only more precisely); every later term
uses ``r``:

    V = V_1(z) + sum_i pi_i V_(i)(r),

``V_(i)(r)`` the multistage variance within PSU ``i`` (stages 2, 3, ..., each with its own fpc
and the sampling fractions ``n/N`` of the stages above it, as without calibration) of the
total of ``r``, which carries the factor ``1 / pi_i``; so calibration removes the part of the
within-PSU variance that ``x`` explains (Sarndal, Swensson & Wretman 1992, §8.9; Lumley 2010,
§7.5). When ``c_k`` is constant within each PSU (a two-stage design with a simple random
sample of second-stage units in each PSU) ``r`` is the GREG residual ``w_k (u_k - x_k' B_i)``
with ``B_i`` the ``c``-weighted least-squares coefficients. When ``c_k`` varies within a PSU
(three or more stages, a stratified second stage) the two differ, and R's, the one above, is
used: checked against R for three and four stages, with and without fpc at each later stage,
and a stratified second stage (tests/design/test_calibration_stage3.py); the ``c``-weighted
residual differs from R there by 0.01% to 0.6% of the SE. With ``ultimate_cluster=True``
(first stage only) the SEs are those of the first stage, as in R.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from socialhealth._text import show, show_list
from socialhealth.errors import DesignError


@dataclass(frozen=True)
class StageRegressionResidual:
    """Residuals from a within-cluster linear calibration (R ``calibrate(stage = s)``).

    In each cluster ``c`` of stage ``stage``, with ``u = Z / w`` (``w`` the calibrated weights)
    and ``A_c = C_c^(1/2) X_c`` (``C`` the within-cluster input weights, 1 over the conditional
    inclusion probability of the row given its cluster),

        residualize(Z) = Z - w * A_c b_c,   b_c = (A_c' A_c)^-1 A_c' u_c,

    the least-squares residual of ``u`` on ``A_c``, times ``w`` (see the module docstring). The
    variance kernel applies it below stage ``stage`` only (``stage`` is 1 for PSUs): the
    stage-``stage`` term uses the influence values themselves.
    """

    stage: int
    clusters: np.ndarray   # cluster code of each row
    X: np.ndarray          # n x q, 0 on rows outside the sample
    within_weights: np.ndarray   # C: input weight x inclusion probability of the cluster
    weights: np.ndarray
    label: str = ""

    def residualize(self, Z: np.ndarray) -> np.ndarray:
        """Influence values ``Z`` minus ``w A_c b_c``, ``b_c`` the least-squares fit of ``Z / w``
        on ``A_c = sqrt(C) X`` within each cluster."""
        Z = np.asarray(Z, dtype=float)
        one = Z.ndim == 1
        Z2 = Z[:, None] if one else Z
        w = self.weights
        out = Z2.copy()
        ok = (w != 0) & (self.within_weights > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            U = np.where(ok[:, None], Z2 / np.where(ok, w, 1.0)[:, None], 0.0)
        order = np.argsort(self.clusters, kind="stable")
        bounds = np.flatnonzero(np.diff(self.clusters[order])) + 1
        for rows in np.split(order, bounds):
            rows = rows[ok[rows]]
            if len(rows) == 0:
                continue
            A = self.X[rows] * np.sqrt(self.within_weights[rows])[:, None]
            b, *_ = np.linalg.lstsq(A, U[rows], rcond=None)
            out[rows] = Z2[rows] - w[rows, None] * (A @ b)
        return out[:, 0] if one else out


def _psu_totals(population_totals, labels: list, names: list[str], vector) -> dict:
    """``{psu label: totals vector}`` from a mapping of PSU ids or a DataFrame indexed by them."""
    if isinstance(population_totals, pd.DataFrame):
        items = [(k, population_totals.loc[k]) for k in population_totals.index]
        if population_totals.index.has_duplicates:
            raise DesignError("the population totals per PSU have a repeated PSU id; give one row "
                              "for each sampled PSU.")
    elif isinstance(population_totals, Mapping):
        items = list(population_totals.items())
    else:
        raise DesignError(
            "with stage=1, population_totals gives the totals of each sampled PSU: a dict "
            "{PSU id: totals} (each a dict by calibration column, or values in column order) or "
            "a DataFrame with one row per PSU id (index) and one column per calibration column. "
            "(R takes a list in the order the PSUs first appear in the data.)")
    by_key = {}
    for k, v in items:
        by_key[k] = v
        by_key.setdefault(str(k), v)
    out, missing = {}, []
    for lab in labels:
        v = by_key.get(lab, by_key.get(str(lab)))
        if v is None:
            missing.append(lab)
            continue
        out[lab] = vector(v, names)
    if missing:
        raise DesignError(
            f"population totals are missing for {len(missing)} sampled PSU(s) "
            f"({show_list(missing[:5])}{', ...' if len(missing) > 5 else ''}); stage=1 needs the "
            "totals of every sampled PSU.")
    known = {str(lab) for lab in labels}
    extra = [k for k, _ in items if str(k) not in known]
    if extra:
        raise DesignError(
            f"population totals are given for {len(extra)} id(s) that are not sampled PSUs "
            f"({show_list(extra[:5])}); give the totals of the sampled PSUs, keyed by the values "
            "of the PSU column.")
    return out


def calibrate_within_psus(design, X: np.ndarray, names: list[str], population_totals, vector):
    """Weights and residualizer of a linear calibration within each PSU (see module docstring).

    ``X``: model matrix (0 on rows outside the sample); ``vector(totals, names)`` turns one PSU's
    totals into a vector in column order. Returns ``(w, residualizer, totals)``, ``totals`` the
    vectors of the PSUs in the order they first appear in the data (R's ``population`` list).
    """
    st = design.stages[0]
    psu_cols = design._spec["psu"]
    if not psu_cols:
        raise DesignError("stage=1 calibrates within PSUs, but this design has no PSUs (psu=); "
                          "give psu= (and the second stage) or calibrate to population totals "
                          "(stage=0).")
    col = psu_cols[0]
    raw = design.data[col].to_numpy()
    codes = st.unit
    _, first = np.unique(codes, return_index=True)     # first row of each PSU code
    first = np.sort(first)                               # (in the order of the data)
    seen = {int(codes[i]): raw[i] for i in first}
    labels = list(seen.values())
    if len({str(v) for v in labels}) != st.n_psu:
        raise DesignError(
            f"the values of the PSU column {col!r} repeat across strata (nest=True), so they do "
            "not identify the PSUs; give the design a PSU column with one id per PSU to "
            "calibrate within PSUs.")
    if st.inclusion_prob is not None:
        pi_unit = np.asarray(st.inclusion_prob, dtype=float)
    else:
        pop = st.pop_units[st.unit_stratum]
        if not np.all(np.isfinite(pop)):
            raise DesignError(
                "stage=1 needs the first-stage sampling fractions (the PSU totals are scaled by "
                "1 / pi of each PSU): give the design fpc= for the first stage. R takes them from "
                "the first-stage fpc as well.")
        pi_unit = st.n_units[st.unit_stratum] / pop
    totals = _psu_totals(population_totals, labels, names, vector)
    w0 = design.weights.astype(float)
    active = w0 != 0
    w = w0.copy()
    q = len(names)
    for code, lab in seen.items():
        rows = np.flatnonzero((codes == code) & active)
        Xc = X[rows]
        target = totals[lab] / pi_unit[code]
        M = (Xc * w0[rows, None]).T @ Xc
        if len(rows) < q or np.linalg.matrix_rank(M) < q:
            raise DesignError(
                f"PSU {show(lab)} has {len(rows)} respondent(s) whose calibration variables do "
                f"not determine the {q} calibration column(s) ({', '.join(names)}); calibrating "
                "to PSU totals needs, in every PSU, at least as many respondents as columns and "
                "no column that is constant or zero there. Use fewer calibration variables, or "
                "calibrate to population totals (stage=0).")
        lam = np.linalg.solve(M, target - Xc.T @ w0[rows])
        w[rows] = w0[rows] * (1.0 + Xc @ lam)
    within = np.where(active, w0 * pi_unit[codes], 0.0)   # 1 / pi(k | i)
    residual = StageRegressionResidual(1, codes.copy(), X, within, w.copy(),
                                       label=" + ".join(names) + " within PSUs")
    return w, residual, [totals[lab] for lab in seen.values()]
