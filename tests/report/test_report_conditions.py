"""User-typed conditions (exposure and outcomes): no silent wrong answer (issue 12).

A value the column cannot hold is a one-line ReportError naming the labels or the observed
range; missing values stay missing and are counted; a condition true for all or none of the
respondents who answered is an error. Expected values are computed here from the raw columns
with pandas/numpy (weighted means by hand), not by the code under test.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import ReportError, SocialHealthWarning
from socialhealth.report import exposure as ex


@pytest.fixture(scope="module")
def demo():
    return sh.datasets.load("demo")


def _weighted_share(df: pd.DataFrame, y: pd.Series) -> float:
    ok = y.notna().to_numpy()
    w = df["weight"].to_numpy()[ok]
    return float((w * y.to_numpy(dtype=float)[ok]).sum() / w.sum())


@pytest.mark.parametrize("spec, must_contain", [
    ("sex==Fem", ["'Fem' is not a label", "'female', 'male'"]),
    ("ucla3_score>=nan", ["number column", "observed 3 to 9"]),
    ("ucla3_score==high", ["number column", "observed 3 to 9"]),
    ("ucla3_score<inf", ["number column", "observed 3 to 9"]),
    ("ucla3_isolated==often", ["3 = often", "observed 1 to 3", "'ucla3_isolated>=3'"]),
    ("lonely>=1", ["yes/no column", "only == and !="]),
    ("lonely==maybe", ["yes/no column", "yes or no"]),
    ("sex>=female", ["no order", "only == and !="]),
    ("ucla3_score>=100", ["true for none", "respondents who answered"]),
    ("age>=0", ["true for all", "respondents who answered"]),
])
def test_hostile_exposure_conditions_are_errors(demo, spec, must_contain):
    with pytest.raises(ReportError) as e:
        sh.report.build(demo, exposure=spec)
    msg = str(e.value)
    for text in must_contain:
        assert text in msg, msg
    assert "nan%" not in msg


def test_hostile_outcome_conditions_are_errors(demo):
    with pytest.raises(ReportError, match="'Fem' is not a label"):
        sh.report.build(demo, outcomes="sex==Fem")
    with pytest.raises(ReportError, match="observed 3 to 9"):
        sh.report.build(demo, outcomes=["depression", "ucla3_score>=nan"])
    with pytest.raises(ReportError, match="outcome 'ucla3_score>=100' is true for none"):
        sh.report.build(demo, outcomes="ucla3_score>=100")


def test_label_in_another_case_is_an_error_with_a_suggestion(demo):
    """sex==Female (the label is 'female'): an error listing the labels, never a silent
    substitution and never a 0% headline (issue 12)."""
    with pytest.raises(ReportError, match=r"'Female' is not a label of 'sex'; its labels are "
                                          r".*'female'.*'male'.*Did you mean 'sex==female'\?"):
        sh.report.build(demo, exposure="sex==Female", outcomes="depression")
    rep = sh.report.build(demo, exposure="sex==female", outcomes="depression")
    df = demo.data
    expected = _weighted_share(df, (df["sex"].astype(str) == "female").astype(float))
    row = rep["prevalence"].tables[0].frame.iloc[0]
    assert row["estimate"] == pytest.approx(expected, rel=1e-12)
    code = "\n".join(rep["methods"].r_code)
    assert 'des <- update(des, sex_eqfemale = as.numeric(sex == "female"))' in code


def test_labels_differing_only_in_case_are_matched_exactly():
    df = pd.DataFrame({"answer": ["Yes", "yes", "no", None]})
    with pytest.raises(ReportError, match="'YES' is not a label of 'answer'"):
        ex.derive(ex.parse("answer==YES"), df)
    e, x = ex.derive(ex.parse("answer==yes"), df)   # exact match
    assert list(x.iloc[:3]) == [0.0, 1.0, 0.0] and np.isnan(x.iloc[3])


@pytest.mark.parametrize("spec", ["lonely==yes", "lonely==True", "lonely==1", "lonely!=no",
                                  "lonely==YES"])
def test_yes_words_on_a_boolean_column_keep_missing_values(demo, spec):
    df = demo.data
    assert df["lonely"].isna().sum() > 0               # the demo has missing answers
    e, x = ex.derive(ex.parse(spec), df)
    raw = df["lonely"]
    assert x.isna().equals(raw.isna())
    assert (x[raw.notna()] == raw[raw.notna()].astype(float)).all()
    assert e.n_missing == int(raw.isna().sum())


def test_no_on_a_boolean_column_is_the_complement(demo):
    df = demo.data
    rep = sh.report.build(demo, exposure="lonely==no", outcomes="depression")
    y = 1.0 - df["lonely"].astype("Float64")
    row = rep["prevalence"].tables[0].frame.iloc[0]
    assert row["estimate"] == pytest.approx(_weighted_share(df, y.astype(float)), rel=1e-12)
    n_missing = int(df["lonely"].isna().sum())
    text = " ".join(rep["prevalence"].text)
    assert f"{n_missing:,} with the exposure missing are left out" in text
    items = rep["sample"].tables[0].frame.set_index("item")["value"]
    assert items["Respondents with the exposure missing (left out of its estimates)"] == \
        f"{n_missing:,}"
    assert row["n"] == len(df) - n_missing


def test_yes_no_on_a_zero_one_number_column():
    df = pd.DataFrame({"smoker": [0.0, 1.0, np.nan, 1.0]})
    _, x = ex.derive(ex.parse("smoker==yes"), df)
    assert list(x.fillna(-1)) == [0.0, 1.0, -1.0, 1.0]
    _, x = ex.derive(ex.parse("smoker>=1"), df)          # numbers work as on any number column
    assert list(x.fillna(-1)) == [0.0, 1.0, -1.0, 1.0]


def test_missing_values_in_object_columns_do_not_crash():
    """The 'boolean value of NA is ambiguous' crash: pd.NA in nullable / object columns."""
    df = pd.DataFrame({"item": pd.array([1, 3, pd.NA, 2], dtype="Int64"),
                       "word": pd.array(["often", pd.NA, "never", "often"], dtype="string"),
                       "obj": pd.Series(["often", pd.NA, "never", None], dtype=object)})
    with pytest.raises(ReportError, match="observed 1 to 3"):
        ex.derive(ex.parse("item==often"), df)
    _, x = ex.derive(ex.parse("item>=3"), df)
    assert list(x.fillna(-1)) == [0.0, 1.0, -1.0, 0.0]
    for col in ("word", "obj"):
        e, x = ex.derive(ex.parse(f"{col}==often"), df)
        assert x.isna().tolist() == df[col].isna().tolist()
        assert x[df[col].notna()].tolist() == [1.0, 0.0] + ([1.0] if col == "word" else [])


def test_ordered_labels_compare_in_label_order(demo):
    df = demo.data
    cats = list(df["lonely_direct"].cat.categories)
    e, x = ex.derive(ex.parse("lonely_direct>=Some of the time"), df)
    top = set(cats[cats.index("Some of the time"):])
    hand = df["lonely_direct"].astype(object).map(
        lambda v: np.nan if pd.isna(v) else float(v in top))
    assert x.fillna(-1).tolist() == hand.fillna(-1).tolist()
    assert e.r_update.startswith(
        "des <- update(des, lonely_direct_geSome_of_the_time = "
        "ifelse(is.na(lonely_direct), NA, as.numeric(lonely_direct %in% c(")


def test_outcome_condition_is_modelled_with_its_r_line(demo):
    rep = sh.report.build(demo, outcomes="ucla3_score>=7")
    assoc = rep["association"]
    assert assoc.ok
    assert set(assoc.tables[0].frame["outcome"]) == {"ucla3_score_ge7"}
    code = "\n".join(rep["methods"].r_code)
    assert "des <- update(des, ucla3_score_ge7 = as.numeric(ucla3_score >= 7))" in code


@pytest.mark.parametrize("spec, text", [
    ("sex", "not binary (labels: 'female', 'male'); odds ratios need a yes/no variable. Give a "
            "condition instead, e.g. 'sex==male'"),
    ("ucla3_isolated", "not binary (numbers from 1 to 3)"),
])
def test_non_binary_column_suggests_a_condition_that_fits(demo, spec, text):
    with pytest.raises(ReportError) as e:
        sh.report.build(demo, exposure=spec)
    assert text in str(e.value)
