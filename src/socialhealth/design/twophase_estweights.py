"""Estimated phase-2 weights of a two-phase design (R ``estWeights``).

The phase-2 sampling (or response) probabilities are estimated by a logistic regression of
phase-2 membership ``R_i`` on phase-1 predictors ``z_i`` over the phase-1 rows (Robins,
Rotnitzky & Zhao 1994):

    logit pi2_i = z_i' alpha,   sum_{i in s1} (R_i - pi2_i(alpha)) z_i = 0,

and the phase-2 weights become ``1 / pihat2_i``. Rows of phase-2 strata taken completely
(every phase-1 row in phase 2, e.g. all cases) keep ``pi2 = 1`` and are left out of the fit.

Rows of every phase-1 stratum and cluster enter the fit alike: the model is fitted unweighted
over the phase-1 rows (as R), so the phase-1 design does not change ``pihat2``; the analysis
weights are ``w_i = w1_i / pihat2_i`` (``w1`` the phase-1 weights, from ``phase1_fpc`` or
``phase1_probs``).

Variance (Robins et al. 1994; Breslow et al. 2009; Lumley, Shaw & Dai 2011): estimating
``alpha`` acts like calibrating the phase-2 sample to the phase-1 totals of ``z``, so the
phase-2 term is that of the residuals of the weighted influence values ``Z_i = w_i u_i``
from a regression on ``z``,

    e_i = Z_i - z_i' b / pihat2_i,
    b = (sum_{s2} z_i z_i' / pi2_i)^-1 sum_{s2} z_i (pihat2_i Z_i) / pi2_i,

a least-squares fit of ``pihat2_i Z_i = w1_i u_i`` on ``z`` weighted by the phase-2 design
weights ``1 / pi2_i = n1_h / n2_h``, with ``z`` set to 0 on the rows of complete strata and
an indicator of those rows added (so they do not enter ``b``), as R survey 4.1-1. The
phase-1 term is that of ``Z`` itself (module ``socialhealth.design.twophase``), as for a
calibrated two-phase design: for ``method="full"`` with the design's phase-2 probabilities
``pi2`` (``sum (1 - pi1) pi2 Z Z'`` for an element phase 1, the double sum over phase-2
pairs for a stratified and/or clustered one), for ``method="approx"`` with ``pihat2`` in
place of ``pi2``. When ``z`` are the indicators of the phase-2 strata (a saturated model)
the weights are the design weights and only the SEs change; in general the result is close
to calibrating to the phase-1 totals of ``z`` (:meth:`TwoPhaseDesign.calibrate
<socialhealth.TwoPhaseDesign.calibrate>`).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from socialhealth.errors import ConvergenceError, DesignError


def logistic_fit(X: np.ndarray, y: np.ndarray, max_iter: int = 100,
                 tol: float = 1e-12) -> np.ndarray:
    """Maximum-likelihood logistic regression coefficients by Newton's method (IRLS).

    Stops when the largest change of the linear predictor is below ``tol`` times (1 + its size).
    Columns that are linear combinations of earlier ones (on these rows) get coefficient 0, as
    R's ``glm`` aliases them (the fitted probabilities do not depend on which are dropped).
    """
    keep = independent_columns(X)
    full = np.zeros(X.shape[1])
    full[keep] = _logistic(X[:, keep], y, max_iter, tol)
    return full


def independent_columns(X: np.ndarray, tol: float = 1e-11) -> np.ndarray:
    """Indices of the columns of ``X`` not in the span of the earlier columns (R's pivoting)."""
    keep: list[int] = []
    Q = np.zeros((X.shape[0], 0))
    for j in range(X.shape[1]):
        v = X[:, j] - Q @ (Q.T @ X[:, j])
        norm = np.linalg.norm(X[:, j])
        if norm > 0 and np.linalg.norm(v) > tol * norm:
            keep.append(j)
            Q = np.column_stack([Q, v / np.linalg.norm(v)])
    return np.asarray(keep, dtype=np.int64)


def _logistic(X: np.ndarray, y: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    b = np.zeros(X.shape[1])
    eta = np.zeros(len(y))
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-eta))
        W = p * (1.0 - p)
        M = (X * W[:, None]).T @ X
        b = b + np.linalg.solve(M, X.T @ (y - p))
        new = X @ b
        if np.max(np.abs(new - eta)) < tol * (1.0 + np.max(np.abs(new))):
            eta = new
            p = 1.0 / (1.0 + np.exp(-eta))
            if p.min() < 1e-8 or p.max() > 1 - 1e-8:
                break
            return b
        eta = new
    raise ConvergenceError(
        "the logistic model for phase-2 membership did not converge (fitted probabilities "
        "near 0 or 1: some predictor separates phase-2 rows from the others). Use fewer or "
        "coarser predictors, or put the rows that are always sampled in phase-2 strata of "
        "their own (strata taken completely keep weight 1).")


def predictors_r_formula(data: pd.DataFrame, predictors) -> str:
    """R's ``formula =`` for ``predictors=``: the names of the data's columns when the predictors
    are columns of the data (same names, same values), otherwise ``~predictors``, an R matrix of
    the same numbers the user must create (R's ``estWeights`` looks it up in the global
    environment; ``working.model =`` would need R's own model object)."""
    P = predictors.to_frame() if isinstance(predictors, pd.Series) else predictors
    if isinstance(P, pd.DataFrame) and len(P) == len(data) and all(
            c in data.columns for c in P.columns):
        same = all(np.array_equal(pd.to_numeric(data[c], errors="coerce").to_numpy(float),
                                  P[c].to_numpy(float), equal_nan=True) for c in P.columns)
        if same:
            return "~" + " + ".join(
                str(c) if re.fullmatch(r"[A-Za-z.][A-Za-z0-9._]*", str(c)) else f"`{c}`"
                for c in P.columns)
    return "~predictors"


def predictor_matrix(design, formula, predictors) -> tuple[np.ndarray, list[str]]:
    """``z`` for every phase-1 row: the model matrix of ``formula`` or the given columns."""
    from socialhealth.design.calibration import model_matrix

    if (formula is None) == (predictors is None):
        raise DesignError("give the predictors of phase-2 membership as formula= (e.g. "
                          "'~age + C(stage)') or as predictors= (an array or DataFrame with one "
                          "row per phase-1 row, e.g. the score contributions of a working "
                          "model), one of the two (R estWeights(formula=) or working.model=).")
    if formula is not None:
        X, names = model_matrix(design.data, formula)
    else:
        P = predictors
        if isinstance(P, pd.Series):
            P = P.to_frame()
        if isinstance(P, pd.DataFrame):
            names = ["(Intercept)"] + [str(c) for c in P.columns]
            P = P.to_numpy(dtype=float)
        else:
            P = np.asarray(P, dtype=float)
            if P.ndim == 1:
                P = P[:, None]
            names = ["(Intercept)"] + [f"predictor{j + 1}" for j in range(P.shape[1])]
        if P.ndim != 2 or P.shape[0] != len(design.data):
            raise DesignError(f"predictors= must have one row per phase-1 row "
                              f"({len(design.data)}), not shape {P.shape}.")
        X = np.column_stack([np.ones(len(P)), P])
    bad = np.isnan(X).any(axis=1)
    if bad.any():
        raise DesignError(
            f"the predictors of phase-2 membership are missing in {int(bad.sum())} phase-1 "
            "row(s); they must be phase-1 variables, known for every row (impute them first, "
            "or leave the variable out).")
    return X, names
