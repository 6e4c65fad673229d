"""Audit of the report's words: labels say what the numbers are (regressions of the audit).

* a Model 3 that lost comparators was labelled with column names ("+ obese");
* a separation note said "age group (75+) predict";
* the longitudinal transition table had headers "Row ci low (%)", "Row ci high (%)", a note
  speaking of ``row_share`` / ``from_state``, and a note on "Model 3" although its table
  labels the models by what they add;
* on the real GSS 2018 file (skipped without ../shared/data): every prevalence equals the
  weighted mean of the raw 0/1 column at the printed precision, every n the raw count, and no
  nan / None / inf / 0.0% is printed.
"""
from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mini_report import mini_report as _mini

import socialhealth as sh
from socialhealth.datasets import SurveyData
from socialhealth.errors import SeparationError
from socialhealth.report.sections.association import separation_in_words

FIX = Path(__file__).with_name("fixtures")
YES_NO = ["lonely", "depression", "poor_health", "smoker", "obese", "physically_inactive"]




def test_model_label_names_comparators_in_words():
    md = _mini(drop=("smoker", "physically_inactive")).to_markdown()
    assert "Model 3: + obesity." in md
    assert "+ obese" not in md.split("```r")[0]   # the R code has the column, rightly


def test_separation_note_agrees_in_number():
    e = SeparationError("separation")
    e.terms, e.n_rows = ["C(age_group)[T.75+]"], 3
    assert "age group (75+) predicts the outcome perfectly for 3 respondents" in \
        separation_in_words(e)
    e.terms = ["C(age_group)[T.65-74]", "C(age_group)[T.75+]"]
    assert "age group (65-74, 75+) predict the outcome" in separation_in_words(e)


def test_separation_note_names_a_yes_no_covariate_in_words():
    e = SeparationError("separation")
    e.terms, e.n_rows = ["obese[T.True]", "physically_inactive[T.True]"], 12
    said = separation_in_words(e)
    assert "obesity (yes); physical inactivity (yes) predict the outcome perfectly" in said
    assert "obese[" not in said and "True" not in said and "physically_inactive" not in said


def test_transition_table_headers_and_notes_in_words():
    sys.path.insert(0, str(Path(__file__).parent))
    from test_report_longitudinal import _build, _panel

    rep = _build(_panel())
    sec = rep["longitudinal"]
    trans = sec.tables[-1]
    cols = list(trans.display().columns)
    assert cols == ["Loneliness at 2006", "Loneliness at 2010", "n", "Weighted n",
                    "Share of the 2006 state (%)", "95% CI of the share of the 2006 state (%)",
                    "Share of all (%)", "95% CI of the share of all (%)"]
    assert "row_share" not in trans.full_note() and "from_state" not in trans.full_note()
    # the interval column is the row share's interval, rounded as printed
    f = trans.frame.reset_index(drop=True)
    shown = trans.display()
    for i in range(len(f)):
        assert shown.iloc[i, 5] == f"{100 * f.loc[i, 'row_ci_low']:.1f} to " \
                                   f"{100 * f.loc[i, 'row_ci_high']:.1f}"
    assert not any("Model 3" in n for n in sec.notes)
    assert "Not adjusted for smoking, obesity, physical inactivity (not measured at wave " \
           "2006)." in sec.notes


@pytest.mark.realdata
def test_gss2018_report_numbers_against_raw_data(shared_data_dir):
    path = shared_data_dir / "gss" / "GSS2018.dta"
    if not path.exists():
        pytest.skip(f"{path} not present")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd = sh.datasets.load("gss", path=path)
        rep = sh.report.build(sd)
    md = rep.to_markdown()
    body = re.sub(r"\(data:image[^)]*\)", "", md)
    for bad in (r"\bnan\b", r"\bNone\b", r"\binf\b", r"(?<![\d.])[+-]?0\.0+%", r"<NA>"):
        assert re.search(bad, body) is None, bad
    df = sd.data
    w = sd.design_spec["weights"]
    x = df[df["lonely"].notna()]
    t = rep["prevalence"].tables[0].display()
    groups = {"All": None, "Age group": "age_group", "Sex": "sex"}
    checked = 0
    for row in t.itertuples(index=False):
        col = groups[row.Group]
        sub = x if col is None else x[x[col].astype(str) == row.Level]
        p = np.average(sub["lonely"].astype(float), weights=sub[w])
        assert row.n == f"{len(sub):,}"
        assert abs(float(row._3) - 100 * p) <= 0.05 + 1e-9, (row, 100 * p)
        checked += 1
    assert checked == 10
    # the analytic sample of each outcome: complete cases of the largest model
    a = rep["association"].tables[0].frame
    for o, g in a.groupby("outcome"):
        cols = [o, "lonely", "age_group", "sex", "obese"]
        keep = df[cols].notna().all(axis=1)
        assert set(g["n"]) == {int(keep.sum())}
        assert set(g["events"]) == {int(df.loc[keep, o].astype(bool).sum())}
    assert "Model 3: + obesity." in md


def test_separation_note_names_the_reference_category_that_has_no_cases():
    """Regression (ESS round 7 GB, diabetes): no case among the youngest (reference) age group
    made every other age coefficient diverge, and the note blamed "age group (25-34, ..., 75+)"
    for respondents who were all 15-24."""
    df = pd.read_csv(FIX / "mini_survey.csv", dtype={c: "boolean" for c in YES_NO})
    levels = sorted(df["age_group"].dropna().unique())
    assert len(levels) > 2
    young = df["age_group"] == levels[0]
    df.loc[young, "depression"] = False
    cb = pd.DataFrame(columns=["concept", "source_variables", "rule", "labels", "notes",
                               "measured"])
    spec = {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
            "lonely_psu": "adjust"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(SurveyData("mini", df, cb, {}, spec), outcomes=["depression"])
    cols = ["depression", "lonely", "age_group", "sex", "smoker", "obese", "physically_inactive"]
    n_young = int((young & df[cols].notna().all(axis=1)).sum())
    notes = [n for n in rep["association"].notes if "separation" in n]
    assert notes, rep["association"].notes
    for n in notes:
        assert f"age group ({levels[0]}, the reference category) predicts the outcome " \
               f"perfectly for {n_young} respondents" in n, n


def _generated_panel_report():
    sys.path.insert(0, str(Path(__file__).parent))
    from test_report_longitudinal import _build, _panel

    p = _panel()
    return p, _build(p)["longitudinal"]


def test_transition_states_in_words_not_true_false():
    """Regression: the transition table printed a yes/no exposure's states as True/False."""
    p, sec = _generated_panel_report()
    trans = sec.tables[-1]
    shown = trans.display()
    assert set(shown.iloc[:, 0]) == set(shown.iloc[:, 1]) == {"no", "yes"}
    assert not shown.astype(str).isin(["True", "False"]).any().any()
    # the worded cells are the right ones: counted by hand on the raw columns
    d = p.data
    f = trans.frame.set_index(["from_state", "to_state"])
    assert f.loc[("yes", "no"), "n"] == int((d["lonely@2006"] & ~d["lonely@2010"]).sum())
    assert f.loc[("no", "yes"), "n"] == int((~d["lonely@2006"] & d["lonely@2010"]).sum())
    assert "True" not in trans.display().to_string()


def test_longitudinal_model_labels_in_words_as_the_association_table():
    """Regression: the prospective models were labelled "+ age_group@2006, sex@2006"."""
    _p, sec = _generated_panel_report()
    pros = sec.tables[0]
    assert pros.frame["model"].tolist() == [
        "unadjusted", "+ age group, sex", "+ fair or poor self-rated health at 2006"]
    assert pros.display()["Model"].tolist() == pros.frame["model"].tolist()
    assert "covariates measured at 2006" in pros.full_note()
    # the same words as the association section's label of the same model (content.toml)
    assert "Model 2: + age group, sex;" in _mini().to_markdown()


def test_published_estimates_note_says_which_factors_this_survey_does_not_measure():
    """Regression: the published-estimates table listed all four risk factors without saying
    that the survey measures only some (GSS 2018: no smoking, no physical inactivity)."""
    def note(rep):
        t = [t for t in rep["risk_factors"].tables if t.title.startswith("Published")]
        assert len(t) == 1
        return t[0].full_note()

    part = note(_mini(drop=("smoker", "physically_inactive")))
    assert "Smoking and physical inactivity are not measured in this survey: their published " \
           "estimates are shown for scale only" in part
    one = note(_mini(drop=("obese",)))
    assert "Obesity is not measured in this survey: its published estimate is shown" in one
    assert "not measured in this survey" not in note(_mini())


def test_plain_exposure_column_and_notes_named_in_words():
    """Regression: a plain exposure column without a display name titled the report's sections
    by its column ("lives_alone over time"), and the association notes said "Model 3 leaves out
    smoker, physically_inactive" and "poor_health, Model 2: not estimable"."""
    from socialhealth.report.exposure import parse

    e = parse("lives_alone")
    # the title name is content.toml's ("Prevalence of living alone"), the sentence words the
    # schema's ("respondents who live alone")
    assert (e.column, e.name, e.who) == ("lives_alone", "Living alone", "who live alone")
    assert parse("lonely").name == "Loneliness"              # a display name is kept
    notes = _mini(drop=("smoker", "physically_inactive"))["association"].notes
    assert "Model 3 leaves out smoking, physical inactivity (not measured in this survey)." \
        in notes
    assert not any("_" in n for n in notes), notes


def test_published_loneliness_row_keeps_its_name_when_the_exposure_is_not_loneliness():
    """Regression: with exposure poor_health the published loneliness meta-analysis row
    (Rico-Uribe 2018) was labelled with the exposure's name, as if it were a pooled estimate
    for poor health; with a loneliness exposure it is labelled as the exposure (paired in the
    figure)."""
    def labels(rep):
        t = [t for t in rep["risk_factors"].tables if t.title.startswith("Published")][0]
        return dict(zip(t.frame["source"], t.frame["label"], strict=True))

    other = labels(_mini(exposure="poor_health"))
    assert other["Rico-Uribe et al. 2018"] == "Loneliness"
    assert labels(_mini())["Rico-Uribe et al. 2018"] == "Loneliness"


def test_measured_how_says_nothing_empty_about_a_column_that_is_its_own_source():
    """Regression: the demo's prevalence text read "In this survey (codebook), lonely." (the
    column is its own source and its rule is 'synthetic'), a sentence with nothing in it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(sh.datasets.load("demo"))
    text = " ".join(rep["prevalence"].text)
    assert "(codebook), lonely." not in text
    assert ("Codebook note: Synthetic: generated by socialhealth's documented demo model, not "
            "answers of real people.") in text
    assert "socialhealth.datasets.demo." not in text      # a module path is not a sentence
