"""Wald F tests of model terms (R ``regTermTest(method = "Wald")``): the result type.

``SurveyGLMResult.wald_test`` (:mod:`socialhealth.design.glm_result`) computes
``F = b' V^{-1} b / q`` on ``F(q, df_resid)`` and returns a :class:`WaldTest`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from socialhealth.design.formula import split_top_level
from socialhealth.design.result_protocol import TEST_REASONS, Result


# relative size of the smallest eigenvalue of the correlation matrix below which a covariance
# is treated as singular (rank-deficient up to rounding): a design-based covariance has rank at
# most degf (PSUs minus strata), so testing more coefficients than that jointly is undefined
_SINGULAR_RTOL = 1e-10


def _quadratic_form(b, V, error, message: str) -> float:
    """``b' V^{-1} b``, raising ``error(message)`` when ``V`` is singular.

    ``np.linalg.solve`` raises only for exactly singular matrices; a design-based covariance
    whose rank is below its size (fewer design degrees of freedom than tested coefficients)
    is singular only up to rounding and would give an arbitrary huge (or negative) statistic.
    It is judged on the correlation matrix: smallest eigenvalue below ``_SINGULAR_RTOL``
    times the largest (R's ``solve`` stops there too: "system is computationally singular").
    """
    b = np.asarray(b, dtype=float)
    V = np.asarray(V, dtype=float)
    d = np.sqrt(np.diag(V)) if V.ndim == 2 else np.array([])
    if V.ndim != 2 or not np.all(np.isfinite(V)) or not np.all(d > 0):
        raise error(message)
    C = V / np.outer(d, d)
    ev = np.linalg.eigvalsh((C + C.T) / 2)
    if not ev[0] > _SINGULAR_RTOL * ev[-1]:
        raise error(message)
    try:
        return float(b @ np.linalg.solve(V, b))
    except np.linalg.LinAlgError:
        raise error(message) from None


# ----------------------------------------------------------------------------- results
def _split_terms(text: str) -> list[str]:
    """``"~agecat + C(race)"`` -> ``["agecat", "C(race)"]`` (splits on top-level ``+``)."""
    return [p for p in split_top_level(text.strip().lstrip("~").strip(), "+") if p]


@dataclass
class WaldTest(Result):
    """Wald F test that a set of coefficients is zero (R ``regTermTest(method = "Wald")``).

    ``statistic = b' V^{-1} b / q`` with ``q`` coefficients, referred to ``F(q, ddf)`` with
    ``ddf`` the model's residual degrees of freedom.
    """

    _not_applicable = TEST_REASONS

    terms: list[str]
    columns: list[str]
    statistic: float
    df: int
    ddf: float
    p: float

    def to_frame(self) -> pd.DataFrame:
        """One row: ``term, statistic, df, ddf, p``."""
        return pd.DataFrame({"term": [" + ".join(self.terms)], "statistic": [self.statistic],
                             "df": [self.df], "ddf": [self.ddf], "p": [self.p]})

    def __repr__(self) -> str:
        return (f"Wald test for {' + '.join(self.terms)} ({', '.join(self.columns)})\n"
                f"  F = {self.statistic:.6g} on {self.df} and {self.ddf:g} df: p = {self.p:.4g}\n"
                f"  In R: regTermTest(model, ~{' + '.join(self.terms)}, method = \"Wald\")")
