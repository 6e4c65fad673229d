"""Hostile inputs, second round: gaps found in the review of tests/test_hostile_inputs.py.

Each test failed before the fix that came with it:

1. non-bool flags of the design constructors (``nest="yes"``, ``mse="no"``) were taken as
   truthy and silently changed the design; now an ArgumentError says to pass True or False;
2. NaN / inf replicate weights: the message now names the columns and counts the rows;
3. a numeric variable with very many distinct values used as a set of categories (kappa, the
   ordinal model's outcome, chisq / loglin / table factors) is refused above a limit that an
   argument lifts; with the limit lifted the numbers are R's
   (``tests/fixtures/hostile_inputs_2/hostile_inputs_2.R``, R survey 4.1-1, written to
   ``hostile_inputs_2.json`` on the data of :func:`many_values`).

The loaders' warnings on a cache hit (the fourth gap) are tested next to each loader's tests
(tests/datasets/test_{hrs,nhis,elsa}_loader.py).
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth import models
from socialhealth.errors import ArgumentError, ReplicateWeightsError

R_REF = Path(__file__).parent / "fixtures" / "hostile_inputs_2" / "hostile_inputs_2.json"


@cache
def r_ref() -> dict:
    return json.loads(R_REF.read_text(encoding="utf-8"))


@cache
def many_values() -> pd.DataFrame:
    """The data of hostile_inputs_2.R (same formulas, no random numbers): 2000 rows, 10 strata
    of 10 PSUs (codes repeat across strata), x a number with 120 values, g 0/1, a and b with
    60 and 45 categories, o an outcome with 35 ordered values related to z."""
    i = np.arange(2000)
    df = pd.DataFrame({"st": i % 10, "psu": (i // 10) % 10, "w": 1.0 + i % 5,
                       "x": (i * 37) % 120})
    df["g"] = (((i * i) % 7 < 3) | ((i * 37) % 120 < 30)).astype(int)
    df["a"] = (i * 37) % 60
    df["b"] = np.where(i % 4 == 0, ((i * 37) % 60 + i % 3 + 1) % 60, (i * 37) % 60)
    df["z"] = (i % 11) / 10
    df["o"] = ((i % 11) * 3 + (i * 13) % 20) % 35
    df["id"] = i                                   # 2000 distinct numbers
    df["label"] = [f"r{k}" for k in i]             # 2000 distinct strings
    return df


def design() -> sh.SurveyDesign:
    return sh.SurveyDesign(many_values(), weights="w", strata="st", psu="psu", nest=True)


def test_the_data_are_those_of_the_r_script():
    df, meta = many_values(), r_ref()["meta"]
    assert len(df) == meta["n"]
    assert [df[c].nunique() for c in "xabo"] == [meta["x_levels"], meta["a_levels"],
                                                 meta["b_levels"], meta["o_levels"]]


# ----------------------------------------------------------------------------- 1. flags
def _rep_frame() -> pd.DataFrame:
    df = pd.DataFrame({"y": np.arange(10.0), "w": 1.0})
    for j in range(8):
        df[f"rw{j}"] = np.where(np.arange(10) % 8 == j, 0.0, 8 / 7)
    return df


@pytest.mark.parametrize("flag", ["nest", "adjust_domain_lonely", "ultimate_cluster"])
@pytest.mark.parametrize("value", ["yes", "no", "True", "False", 1, 0, None, [True]])
def test_survey_design_flags_must_be_bool(flag, value):
    """Defect: nest="no" was truthy and turned nest on (a PSU code repeated across strata was
    then silently accepted as nested)."""
    with pytest.raises(ArgumentError, match=rf"{flag}= must be True or False.*Pass {flag}=True "
                                            rf"or {flag}=False"):
        sh.SurveyDesign(many_values(), weights="w", strata="st", psu="psu", **{flag: value})


def test_survey_design_numpy_bool_flags_accepted():
    nhanes = sh.datasets.load_example("nhanes")
    d = sh.SurveyDesign(nhanes, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU",
                        nest=np.True_, adjust_domain_lonely=np.False_)
    # R: svydesign(id = ~SDMVPSU, strata = ~SDMVSTRA, weights = ~WTMEC2YR, nest = TRUE):
    # 15 strata, 31 PSUs, degf 16 (the SurveyDesign docstring example)
    assert (d.n_strata, d.n_psu, d.degf()) == (15, 31, 16.0)


def test_r_refuses_a_string_nest_too():
    assert r_ref()["nest_yes"] != "accepted"      # R: invalid 'x' type in 'x && y'


@pytest.mark.parametrize("flag", ["mse", "combined_weights"])
@pytest.mark.parametrize("value", ["yes", "no", 1, None])
def test_replicate_design_flags_must_be_bool(flag, value):
    """Defect: mse="no" (truthy) gave MSE variances; the error is now an ArgumentError."""
    with pytest.raises(ArgumentError, match=rf"ReplicateDesign: {flag}= must be True or False"):
        sh.ReplicateDesign(_rep_frame(), "w", "^rw", method="jk1", **{flag: value})


def test_replicate_design_numpy_bool_flags_accepted():
    d = sh.ReplicateDesign(_rep_frame(), "w", "^rw", method="jk1", mse=np.True_,
                           combined_weights=np.True_)
    assert d.mse is True


def test_to_replicate_mse_must_be_bool():
    """Defect: to_replicate(mse="no") took bool("no") = True."""
    apistrat = sh.datasets.load_example("apistrat")
    d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
    with pytest.raises(ArgumentError, match="mse= must be True or False"):
        d.to_replicate("jkn", mse="no")


# ----------------------------------------------------------------------------- 2. NaN weights
def test_nan_replicate_weights_named_with_rows():
    df = _rep_frame()
    df.loc[[2, 5], "rw3"] = np.nan
    df.loc[5, "rw6"] = np.nan
    with pytest.raises(ReplicateWeightsError) as e:
        sh.ReplicateDesign(df, "w", "^rw", method="jk1")
    msg = str(e.value)
    assert "3 missing value(s) in 2 of 10 row(s)" in msg
    assert "row positions 2, 5)" in msg
    assert "2 of 8 replicate weight column(s): 'rw3' (2 row(s)), 'rw6' (1 row(s))" in msg
    assert "fill them" in msg and "dropna" in msg


def test_inf_replicate_weights_many_columns():
    df = _rep_frame()
    for j in range(7):
        df.loc[j, f"rw{j}"] = np.inf
    with pytest.raises(ReplicateWeightsError) as e:
        sh.ReplicateDesign(df, "w", [f"rw{j}" for j in range(8)], method="jk1")
    msg = str(e.value)
    assert "7 infinite value(s) in 7 of 10 row(s) (row positions 0, 1, 2, 3, 4 ...)" in msg
    assert "'rw0' (1 row(s))" in msg and "'rw4'" in msg and "'rw5'" not in msg
    assert "and 2 more column(s)" in msg


def test_nan_replicate_weights_matrix_names_column_positions():
    df = _rep_frame()
    W = df[[f"rw{j}" for j in range(8)]].to_numpy()
    W[4, 1] = np.nan
    with pytest.raises(ReplicateWeightsError, match=r"in 1 of 10 row\(s\) \(row positions 4"
                                                     r"\), in 1 of 8 .*column 1 \(0-based\)"):
        sh.ReplicateDesign(df, "w", W, method="jk1")


# ----------------------------------------------------------------------------- 3. many values
def test_kappa_refuses_many_categories():
    """Defect: 60 + 45 distinct numbers were compared as 60 categories without a word."""
    d = design()
    with pytest.raises(ArgumentError, match=r"'a' and 'b' take 60 distinct values together "
                                            r"\(more than max_categories=50\).*Cut"):
        sh.measures.survey_kappa(d, "a", "b")
    with pytest.raises(ArgumentError, match="max_categories=1 must be"):
        sh.measures.survey_kappa(d, "g", "x", max_categories=1)


def test_kappa_override_matches_a_hand_computation():
    """R's svykappa stops here ("number of categories is different": a and b hold 60 and 45
    distinct values), so the point estimate is checked against the weighted shares."""
    assert r_ref()["kappa_60"] == "number of categories is different"
    df = many_values()
    k = sh.measures.survey_kappa(design(), "a", "b", max_categories=None)
    w = df["w"].to_numpy()
    po = w[df["a"] == df["b"]].sum() / w.sum()
    pa = np.array([w[df["a"] == c].sum() for c in range(60)]) / w.sum()
    pb = np.array([w[df["b"] == c].sum() for c in range(60)]) / w.sum()
    pe = pa @ pb
    assert k.kappa == pytest.approx((po - pe) / (1 - pe), rel=1e-12)
    assert len(k.categories) == 60 and k.kappa_se > 0


def test_ordinal_refuses_many_outcome_levels():
    """Defect: 35 values became 35 levels (34 thresholds) silently."""
    with pytest.raises(ArgumentError, match=r"'o' has 35 distinct values .*max_levels=30.*34 "
                                            r"thresholds.*max_levels=None"):
        models.ordinal(design(), "o ~ z")


def test_ordinal_override_matches_r():
    r = r_ref()["olr"]
    m = models.ordinal(design(), "o ~ z", max_levels=None)
    assert len(m.params) - 1 == r["n_zeta"]
    # R fitted with control = list(reltol = 1e-15): optim's answer, to about 1e-7
    assert m.params["z"] == pytest.approx(r["z"], rel=1e-6)
    assert m.bse["z"] == pytest.approx(r["z_se"], rel=1e-5)
    assert m.params.iloc[1] == pytest.approx(r["zeta_first"], rel=1e-6)


def test_chisq_refuses_a_measurement_and_override_matches_r():
    d = design()
    with pytest.raises(ArgumentError, match=r"numeric column 'x' has 120 distinct values "
                                            r"\(more than max_levels=100\)"):
        d.chisq("x", "g")
    r = r_ref()["chisq"]
    f = d.chisq("x", "g", max_levels=None).to_frame()
    for key in ("statistic", "ndf", "ddf", "p"):
        assert f[key].iloc[0] == pytest.approx(r[key], rel=1e-8), key
    f2 = d.chisq("x", "g", max_levels=120).to_frame()
    assert f2["statistic"].iloc[0] == f["statistic"].iloc[0]


def test_loglin_refuses_a_measurement_and_override_matches_r():
    d = design()
    with pytest.raises(ArgumentError, match=r"'x' has 120 distinct values.*a loglinear model"):
        d.loglin("~x + g")
    r = r_ref()["loglin"]
    f = d.loglin("~x + g", max_levels=None).to_frame()
    assert len(f) == r["n_coef"]
    assert f["estimate"].iloc[0] == pytest.approx(r["first"], rel=1e-8)
    assert f["se"].iloc[0] == pytest.approx(r["first_se"], rel=1e-8)
    assert f["estimate"].iloc[-1] == pytest.approx(r["last"], rel=1e-8)
    assert f["se"].iloc[-1] == pytest.approx(r["last_se"], rel=1e-8)


def test_table_refuses_only_the_absurd_numeric_column():
    d = design()
    r = r_ref()["table"]
    t = d.table("x")                      # 120 values: allowed by default, as R
    assert len(t) == r["n_cells"]
    assert [t["x"].iloc[0], t["x"].iloc[-1]] == [r["x_first"], r["x_last"]]
    assert [t["n"].iloc[0], t["n"].iloc[-1]] == [r["first"], r["last"]]
    with pytest.raises(ArgumentError, match=r"'id' has 2000 distinct values \(more than "
                                            r"max_levels=1000\).*table\(\)"):
        d.table("id")
    with pytest.raises(ArgumentError, match="'x' has 120 distinct values"):
        d.table("x", max_levels=100)
    assert len(d.table("id", max_levels=None)) == 2000
    # text and categorical columns are taken as they are
    assert len(d.table("label")) == 2000
    with pytest.raises(ArgumentError, match="max_levels=True must be"):
        d.table("x", max_levels=True)
