"""Calibration to totals known for the sampled PSUs (R ``calibrate(..., stage = 1)``).

In a two-stage sample the totals of the auxiliary variables are sometimes known
for each sampled PSU (a district's number of schools and enrolment, a practice's list size by
age) but not for the population. Calibrating within each PSU ``i`` to its totals ``T_i`` gives
the linear (GREG) adjustments

    g_k = 1 + x_k' lambda_i,   sum_{k in i} w_k g_k x_k = T_i / pi_i,

``pi_i`` the first-stage inclusion probability of PSU ``i`` (``n_h / N_h`` from the first-stage
fpc, or the PPS probability), so that the PSU total of ``x`` estimated from its second-stage
sample is exactly ``T_i``. This is Sarndal, Swensson & Wretman's (1992, §8.9) calibration on
second-stage auxiliary totals (their "case C", Lumley 2010 §7.5).

Variance: the first-stage term is unchanged (the PSU totals of ``y`` are estimated as before,
only more precisely), and the second- and later-stage terms use the residuals of the influence
values from the within-PSU regression on ``x`` (weighted least squares with the input weights;
:class:`StageRegressionResidual`), so calibration removes the part of the within-PSU variance
that ``x`` explains. With ``ultimate_cluster=True`` (first stage only) the SEs are those of
the first stage, as in R. Two-stage designs only: R also calibrates within the PSUs of designs
with three or more stages, but its SEs there differ from these residuals (about 0.1% in a
synthetic three-stage test), so that case is refused rather than given different numbers.
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
    """Residuals from a within-cluster GREG calibration (R ``calibrate(stage = s)``).

    ``residualize(Z) = Z - w * X b_c`` in each cluster ``c`` of stage ``stage``, with ``u = Z / w``
    and ``b_c = (X_c' W0_c X_c)^-1 X_c' W0_c u_c`` (input weights ``W0``, calibrated weights
    ``w``). The variance kernel applies it below stage ``stage`` only (``stage`` is 1 for PSUs):
    the stage-``stage`` term uses the influence values themselves.
    """

    stage: int
    clusters: np.ndarray   # cluster code of each row
    X: np.ndarray          # n x q, 0 on rows outside the sample
    input_weights: np.ndarray
    weights: np.ndarray
    label: str = ""

    def residualize(self, Z: np.ndarray) -> np.ndarray:
        """Influence values ``Z`` minus ``w X b_c``, ``b_c`` the within-cluster WLS fit of
        ``Z / w`` on ``X`` (weights ``w0``)."""
        Z = np.asarray(Z, dtype=float)
        one = Z.ndim == 1
        Z2 = Z[:, None] if one else Z
        w, w0 = self.weights, self.input_weights
        out = Z2.copy()
        ok = w != 0
        with np.errstate(divide="ignore", invalid="ignore"):
            U = np.where(ok[:, None], Z2 / np.where(ok, w, 1.0)[:, None], 0.0)
        order = np.argsort(self.clusters, kind="stable")
        bounds = np.flatnonzero(np.diff(self.clusters[order])) + 1
        for rows in np.split(order, bounds):
            rows = rows[ok[rows]]
            if len(rows) == 0:
                continue
            Xc = self.X[rows]
            Xw = Xc * w0[rows, None]
            b, *_ = np.linalg.lstsq(Xw.T @ Xc, Xw.T @ U[rows], rcond=None)
            out[rows] = Z2[rows] - w[rows, None] * (Xc @ b)
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
    totals into a vector in column order. Returns ``(w, residualizer)``.
    """
    st = design.stages[0]
    psu_cols = design._spec["psu"]
    if not psu_cols:
        raise DesignError("stage=1 calibrates within PSUs, but this design has no PSUs (psu=); "
                          "give psu= (and the second stage) or calibrate to population totals "
                          "(stage=0).")
    if len(design.stages) != 2:
        raise DesignError(
            f"stage=1 is implemented for two-stage designs (psu= with two columns); this design "
            f"has {len(design.stages)} stage(s). With three or more stages R's variance "
            "differs from the within-PSU residuals used here (by about 0.1% in a test), so it "
            "is not offered; calibrate to population totals (stage=0) instead.")
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
    residual = StageRegressionResidual(1, codes.copy(), X, w0.copy(), w.copy(),
                                       label=" + ".join(names) + " within PSUs")
    return w, residual
