"""The mean of a constant column is that constant exactly (numerator and denominator summed
alike), also when the column is one of several analysis columns (a strided column) and for a
categorical level that holds every row (its proportion is exactly 1, so no interval method
treats it as 0 < p < 1)."""
import numpy as np
import pandas as pd
import pytest

import socialhealth as sh


@pytest.fixture(params=[1000, 54321, 200_003])
def design(request):
    rng = np.random.default_rng(request.param)
    n = request.param
    df = pd.DataFrame({
        "w": rng.uniform(0.5, 30.0, n) * rng.choice([1.0, 1e3, 1e-3]),
        "x": rng.normal(size=n),
        "one": 1.0,
        "two": 2.0,
        "g": pd.Categorical(["a"] * n, categories=["a"]),
        "h": rng.choice(["p", "q"], size=n),
        "st": rng.integers(0, 10, n),
    })
    df["psu"] = np.arange(n) % 40
    return sh.SurveyDesign(df, weights="w", strata="st", psu="psu", nest=True)


def test_constant_mean_exact_alone(design):
    assert float(design.mean("one").estimate.iloc[0]) == 1.0
    assert float(design.mean("two").estimate.iloc[0]) == 2.0


def test_constant_mean_exact_among_several_columns(design):
    est = design.mean(["x", "one", "two", "h"]).to_frame()
    assert est.loc[est.term == "one", "estimate"].item() == 1.0
    assert est.loc[est.term == "two", "estimate"].item() == 2.0
    both = est.loc[est.term == "h", "estimate"].sum()
    assert abs(both - 1.0) < 1e-14


def test_level_holding_every_row_is_exactly_one(design):
    est = design.mean(["x", "g"]).to_frame()
    assert est.loc[est.term == "g", "estimate"].item() == 1.0
