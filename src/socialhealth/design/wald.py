"""Wald F tests of model terms (R ``regTermTest(method = "Wald")``): the result type.

``SurveyGLMResult.wald_test`` (:mod:`socialhealth.design.glm_result`) computes
``F = b' V^{-1} b / q`` on ``F(q, df_resid)`` and returns a :class:`WaldTest`.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from socialhealth.design.formula import split_top_level
from socialhealth.design.result_protocol import TEST_REASONS, Result


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
