"""Bad input to the design constructors and verbs raises a clear socialhealth exception."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth import errors


@pytest.fixture
def df():
    rng = np.random.default_rng(1)
    n = 40
    return pd.DataFrame({
        "stratum": np.repeat(["a", "b", "c", "d"], 10),
        "psu": np.tile(np.repeat([1, 2], 5), 4),                # 1/2 within each stratum
        "psu_global": np.repeat(np.arange(8), 5),
        "w": rng.uniform(1, 3, n),
        "y": rng.normal(size=n),
        "fpc": np.repeat([10, 10, 10, 10], 10),
    })


def test_missing_column_names_it_and_suggests(df):
    with pytest.raises(errors.MissingColumnError) as e:
        sh.SurveyDesign(df, weights="wt", strata="stratum", psu="psu_global")
    assert "'wt'" in str(e.value) and "'w'" in str(e.value)
    d = sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu_global")
    with pytest.raises(errors.MissingColumnError, match="'yy'"):
        d.mean("yy")
    assert not isinstance(e.value, KeyError)


def test_weights_non_numeric(df):
    df["w"] = df["w"].astype(str)
    df.loc[3, "w"] = "heavy"
    with pytest.raises(errors.WeightError, match="not numeric"):
        sh.SurveyDesign(df, weights="w")


def test_weights_non_positive(df):
    df.loc[[2, 5], "w"] = [0.0, -1.0]
    with pytest.raises(errors.WeightError, match="2 non-positive"):
        sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu_global")


def test_weights_all_missing(df):
    df["w"] = np.nan
    with pytest.raises(errors.WeightError, match="missing for every row"):
        sh.SurveyDesign(df, weights="w")


def test_weights_some_missing(df):
    df.loc[0, "w"] = np.nan
    with pytest.raises(errors.WeightError, match="missing for 1 of 40"):
        sh.SurveyDesign(df, weights="w")


def test_lonely_psu_fail_names_stratum_and_options(df):
    lonely = df[~((df.stratum == "c") & (df.psu == 2))].reset_index(drop=True)
    d = sh.SurveyDesign(lonely, weights="w", strata="stratum", psu="psu", nest=True)
    with pytest.raises(errors.LonelyPSUError) as e:
        d.mean("y")
    msg = str(e.value)
    assert "'c'" in msg
    for option in ("adjust", "average", "remove", "certainty"):
        assert option in msg
    # every other option gives an answer
    for option in ("adjust", "average", "remove", "certainty"):
        est = sh.SurveyDesign(lonely, weights="w", strata="stratum", psu="psu", nest=True,
                              lonely_psu=option).mean("y")
        assert np.isfinite(est.table["se"][0])


def test_unknown_lonely_option(df):
    with pytest.raises(errors.DesignError, match="lonely_psu"):
        sh.SurveyDesign(df, weights="w", lonely_psu="ignore")


def test_psus_not_nested_without_nest(df):
    with pytest.raises(errors.NestingError, match="nest=True"):
        sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu")
    # with nest=True the same codes are fine: 8 PSUs, 4 strata
    d = sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu", nest=True)
    assert d.degf() == 4


def test_fpc_smaller_than_sample(df):
    df["fpc"] = 5  # 5 units in the population but 10 rows (each its own PSU) per stratum
    with pytest.raises(errors.FPCError, match="not smaller than the sample"):
        sh.SurveyDesign(df, weights="w", strata="stratum", fpc="fpc")


def test_fpc_not_constant_within_stratum(df):
    df.loc[0, "fpc"] = 11
    with pytest.raises(errors.FPCError, match="not constant"):
        sh.SurveyDesign(df, weights="w", strata="stratum", fpc="fpc")


@pytest.mark.parametrize("bad", [0.0, 1.5, -0.2])
def test_probabilities_outside_unit_interval(df, bad):
    df["p"] = 0.5
    df.loc[4, "p"] = bad
    with pytest.raises(errors.ProbabilityError, match=r"\(0, 1\]"):
        sh.SurveyDesign(df, probs="p")


def test_missing_stratum_codes(df):
    df.loc[1, "stratum"] = None
    with pytest.raises(errors.DesignError, match="missing value"):
        sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu_global")


def test_replicate_weights_wrong_shape(df):
    with pytest.raises(errors.ReplicateWeightsError, match="shape"):
        sh.ReplicateDesign(df, weights="w", replicate_weights=np.ones((10, 4)), method="jk1")
    with pytest.raises(errors.ReplicateWeightsError, match="no column matches"):
        sh.ReplicateDesign(df, weights="w", replicate_weights="^rep_", method="jk1")
    with pytest.raises(errors.ReplicateWeightsError, match="rscales"):
        sh.ReplicateDesign(df, weights="w", replicate_weights=np.ones((40, 4)), method="jkn")
    with pytest.raises(errors.ReplicateWeightsError, match="method"):
        sh.ReplicateDesign(df, weights="w", replicate_weights=np.ones((40, 4)), method="jackknife")


def test_subset_mask_wrong_length_and_empty(df):
    d = sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu_global")
    with pytest.raises(errors.DesignError, match="40 rows"):
        d.subset(np.ones(10, dtype=bool))
    with pytest.raises(errors.EstimationError, match="empty"):
        d.subset(df.y > 100)


def test_not_a_dataframe():
    with pytest.raises(errors.DesignError, match="DataFrame"):
        sh.SurveyDesign({"w": [1, 2]}, weights="w")


def test_missing_values_are_left_out_and_counted(df):
    d = sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu_global")
    df2 = df.copy()
    df2.loc[[0, 7, 12], "y"] = np.nan
    d2 = sh.SurveyDesign(df2, weights="w", strata="stratum", psu="psu_global")
    est = d2.mean("y")
    assert est.n_missing == 3 and est.n_rows == 37
    assert "3 rows with missing values left out" in repr(est)
    # equals the domain estimate over the non-missing rows with the full design kept
    dom = d.subset(df2.y.notna()).mean("y")
    np.testing.assert_allclose(est.table[["estimate", "se"]], dom.table[["estimate", "se"]], rtol=1e-13)


def test_all_missing_variable(df):
    df["y"] = np.nan
    d = sh.SurveyDesign(df, weights="w")
    with pytest.raises(errors.EstimationError, match="no rows left"):
        d.mean("y")


def test_errors_share_one_base_class():
    for name in ("MissingColumnError", "WeightError", "LonelyPSUError", "NestingError", "FPCError",
                 "ProbabilityError", "FormulaError", "ConvergenceError", "ReplicateWeightsError"):
        assert issubclass(getattr(errors, name), errors.SocialHealthError)
