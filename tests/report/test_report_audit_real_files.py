"""Regressions of the report audit on the real survey files (GSS 2018, GSS panels, ESS 7/9,
BRFSS 2016), each reproduced here on a small generated survey:

* the title repeated the years its survey title already names ("General Social Survey
  2006-2010 panel, 2006-2010, US");
* the sample table named the exposure by its column ("Respondents answering the exposure
  (lives_alone)") and, for an exposure the survey does not measure, printed "0" answering and
  everyone missing;
* a long panel file with its waves pooled counted interviews as "Respondents";
* several stacked files (BRFSS state extracts) left the sample table without any file;
* the prevalence text took its count from the codebook of the file as loaded ("taken from
  lonely_ucla3 for the 1,164 respondents" after ``min_age=50`` kept 567), named harmonised
  columns as survey variables ("coded from the variables ucla3_companionship, ..."), lacked
  the score's article and ended in "Codebook note: Derived.";
* an outcome that could not be modelled was named by its column with a Python bool
  ("poor_health: ... every respondent ... has the same value (True)");
* the linked-panel text read "1304 persons interviewed at every wave 2010, 2014";
* the risk-factor figure was titled "Risk factors for depression: this survey and published
  estimates" although the published estimates are for all-cause mortality.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from mini_report import MINI, YES_NO
from mini_report import mini_report as _mini

import socialhealth as sh
from socialhealth.datasets import PanelData, SurveyData
from socialhealth.report._build import survey_edition

SPEC = {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
        "lonely_psu": "adjust"}
CB = ["concept", "source_variables", "rule", "labels", "notes", "measured"]


def _frame() -> pd.DataFrame:
    return pd.read_csv(MINI, dtype={c: "boolean" for c in YES_NO})


def _build(df, codebook_rows=(), provenance=None, name="mini", **kw):
    cb = pd.DataFrame(list(codebook_rows), columns=CB)
    kw.setdefault("outcomes", ["depression"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sh.report.build(SurveyData(name, df, cb, dict(provenance or {}), SPEC), **kw)


def _items(rep) -> dict:
    return dict(rep["sample"].tables[0].frame[["item", "value"]].itertuples(index=False))


def test_title_does_not_repeat_years_that_the_survey_title_names():
    class S:
        name, provenance = "gss_panel06", {}
        data = pd.DataFrame({"year": [2006, 2008, 2010], "country": ["US"] * 3})

    assert survey_edition(S(), "General Social Survey 2006-2010 panel (long)") == \
        "General Social Survey 2006-2010 panel, US"
    S.name = "gss"
    assert survey_edition(S(), "General Social Survey, cross-section") == \
        "General Social Survey, cross-section, 2006-2010, US"


def test_sample_table_names_the_exposure_in_words():
    items = _items(_mini(exposure="smoker"))
    assert items["Exposure"] == "Smoking"
    assert "Respondents answering the exposure" in items
    assert not any("(smoker)" in k for k in items), items


def test_sample_table_says_an_unmeasured_exposure_is_not_measured_instead_of_zero():
    df = _frame()
    df["lonely"] = pd.array([pd.NA] * len(df), dtype="boolean")
    items = _items(_build(df))
    assert items["Exposure"] == "Loneliness: not measured in this survey"
    assert "Respondents answering the exposure" not in items
    assert "Respondents with the exposure missing (left out of its estimates)" not in items


def test_pooled_waves_of_a_long_panel_count_persons_and_interviews():
    df = _frame()
    n = len(df)
    df["respondent_id"] = [f"p{i // 2}" for i in range(n)]     # two interviews per person
    # a repeated id in a repeated cross-section (ESS idno across countries) is not a person
    assert _items(_build(df, name="ess"))["Respondents"] == f"{n:,}"
    rep = _build(df, name="gss_panel10")
    persons = df["respondent_id"].nunique()
    assert _items(rep)["Respondents"] == \
        f"{persons:,} persons, {n:,} interviews (several waves)"
    assert any("a person counts once for each wave" in x for x in rep["sample"].notes)
    # one row per person: a plain count, no note
    assert _items(_mini())["Respondents"] == f"{n:,}"
    assert not any("several waves" in x for x in _mini()["sample"].notes)


def test_stacked_files_are_listed_in_the_sample_table():
    files = [{"file": "/data/LLCP2016_TN.XPT", "sha256": "ab" * 32},
             {"file": "/data/LLCP2016_LA.XPT", "sha256": "cd" * 32}]
    items = _items(_build(_frame(), provenance={"files": files}))
    assert items["Files (2)"] == ("/data/LLCP2016_TN.XPT (SHA-256 begins abababababab); "
                                  "/data/LLCP2016_LA.XPT (SHA-256 begins cdcdcdcdcdcd)")


def _ucla_frame():
    df = _frame()
    rng = np.random.default_rng(3)
    items = ["ucla3_companionship", "ucla3_left_out", "ucla3_isolated"]
    for c in items:
        df[c] = rng.integers(1, 4, len(df)).astype(float)
    df["ucla3_score"] = df[items].sum(axis=1)
    df["lonely_ucla3"] = pd.array(df["ucla3_score"] >= 6, dtype="boolean")
    df.loc[df.index[:40], ["ucla3_score", "lonely_ucla3"]] = np.nan
    df["lonely"] = df["lonely_ucla3"]
    return df


def test_measured_how_counts_the_analysed_respondents_and_names_items_in_words():
    df = _ucla_frame()
    loaded = 9_999                      # what the codebook counted in the file as loaded
    rows = [("lonely", "cesd4, lonely, lonely_ucla3",
             f"no direct item in this file; otherwise lonely_ucla3 ({loaded} rows)", "", "", True),
            ("ucla3_score", "ucla3_companionship, ucla3_left_out, ucla3_isolated",
             "sum of the three items (3-9); missing if any item is missing", "", "derived", True)]
    text = " ".join(_build(df, rows)["prevalence"].text)
    answered = int(df["lonely_ucla3"].notna().sum())
    assert (f"loneliness is taken from the UCLA-3 items (a score of 6 or more) for the "
            f"{answered:,} respondents who answered them: this file has none of the direct "
            "items (cesd4 and lonely).") in text
    assert f"{loaded:,}" not in text and "lonely_ucla3 for" not in text
    text = " ".join(_build(df, rows, exposure="ucla3_score>=6")["prevalence"].text)
    assert ("In this survey, the UCLA-3 loneliness score is derived from the items lacking "
            "companionship, feeling left out and feeling isolated from others: sum of the "
            "three items (3-9); missing if any item is missing.") in text
    assert "Codebook note: Derived" not in text
    assert "the variables ucla3_companionship" not in text


def test_unmodelled_outcome_note_in_words():
    df = _frame()
    df.loc[df["lonely"].notna(), "obese"] = pd.NA     # obesity never answered with the exposure
    sec = _build(df)["association"]
    # a covariate never answered with the outcome and the exposure (asked in another wave of a
    # pooled panel) is left out of that outcome's models, as an unmeasured one: the models
    # that can be fitted are (regression: every model of the outcome was dropped)
    assert sec.notes == ["Depression: Model 3 leaves out obesity (never answered together with "
                         "the outcome and the exposure)."], sec.notes
    rows = sec.tables[0].frame
    assert rows["model"].tolist() == ["Model 1", "Model 2", "Model 3"]
    assert rows["adjusted_for"].iloc[2] == "+ smoking, physical inactivity"
    assert rows["n"].nunique() == 1 and rows["n"].iloc[0] > 0
    # answered with the outcome and the exposure each, but never together: nothing to fit
    df = _frame()
    half = df.index < len(df) // 2
    df.loc[half, "smoker"] = pd.NA
    df.loc[~half, "physically_inactive"] = pd.NA
    notes = _build(df)["association"].notes
    assert ("Depression: not modelled; no respondent has the outcome, the exposure and age "
            "group, sex, smoking, obesity, physical inactivity all answered.") in notes, notes
    df = _frame()
    df["depression"] = pd.array([True] * len(df), dtype="boolean")
    notes = _build(df)["association"].notes
    assert ("Depression: not modelled; every respondent in the analytic sample has the "
            "outcome, so there is nothing to compare.") in notes, notes
    assert not any("True" in x or "depression:" in x for x in notes)


def _panel(n=1200):
    rng = np.random.default_rng(5)
    lon06 = rng.random(n) < 0.3
    data = pd.DataFrame({
        "respondent_id": np.arange(n).astype(str), "weight": rng.uniform(0.5, 2.0, n),
        "strata": np.repeat(["a", "b"], n // 2), "psu": np.tile(["1", "2", "3", "4", "5"], n // 5),
        "lonely@2006": lon06, "lonely@2010": np.where(rng.random(n) < 0.7, lon06,
                                                      rng.random(n) < 0.3),
        "poor_health@2006": rng.random(n) < 0.25,
        "poor_health@2010": rng.random(n) < 0.15 + 0.2 * lon06})
    return PanelData("generated", data, pd.DataFrame(),
                     {"panel": {"weight_variable": "wtpan12", "accounting": {"baseline": 1500}}},
                     {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True},
                     waves=[2006, 2010])


def test_linked_panel_counts_with_thousands_separators_and_both_waves_in_words():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = sh.report.build(sh.datasets.load("demo"), outcomes=["poor_health"],
                              panel=_panel())
    sec = rep["longitudinal"]
    assert sec.status == "ok", sec.status
    assert ("1,200 persons interviewed at both waves, 2006 and 2010, and carrying the panel "
            "weight wtpan12 (of 1,500 interviewed at 2006).") in " ".join(sec.text)
    assert "1200" not in " ".join(sec.text)
    trans = [t for t in sec.tables if t.title.startswith("Transitions")][0]
    assert "share of the 1,200 persons answering at both waves" in trans.note


def test_risk_factor_figure_does_not_call_mortality_estimates_risk_factors_of_the_outcome():
    df = _frame()
    rep = _build(df, outcomes=["depression", "poor_health"])
    fig = rep["risk_factors"].figures[0]
    assert fig.caption.startswith("Filled: this survey, mutually adjusted odds ratios for "
                                  "depression (the first outcome of the tables); the tables "
                                  "give every outcome. Open: published pooled estimates of "
                                  "all-cause mortality")


def test_codebook_notes_read_for_the_file_they_describe():
    """Regression: the BRFSS design note, shown whole in the sample table, opened with R code
    and said that single-PSU strata "occur" (none does in a state extract); the GSS headline
    note read "where a direct question was asked, 2016 cesd4 ... Otherwise (2018) lonely_ucla3"
    in a report on the 2018 file, as if 2016 were part of it."""
    from socialhealth.datasets._codebook import load_codebook

    brfss = load_codebook("brfss")["design"]["notes"]
    assert brfss.startswith("_PSU equals the annual sequence number")
    assert "single-PSU strata occur" not in brfss
    assert "where they occur" in brfss
    gss = load_codebook("gss")["concepts"]["lonely"]["notes"]
    assert gss.startswith("Headline indicator, by GSS year.")
    assert "Otherwise (2018)" not in gss
    # "its source variable smoke is not in this file. smoke 'does r smoke': 1 yes, 2 no."
    smoke = load_codebook("gss")["concepts"]["smoker"]["notes"]
    assert smoke == "The GSS asked smoke ('does r smoke': 1 yes, 2 no) in 1977-1994 only."


def test_cli_report_text_gives_codebook_instructions_as_flags():
    """Regression (GSS 2016-2020 panel, 2020 wave): the prevalence text quoted the codebook
    note "the raw item is lonely1_2 (columns=['lonely1_2'])" in a report made on the command
    line, where the notes and skip reasons already read "--columns"."""
    from socialhealth import cli

    rep = _mini(codebook_rows=[("lonely", "lonely1_2", "yes if lonely1_2 >= 4", "",
                                "the raw item is lonely1_2 (columns=['lonely1_2']).", True)])
    cli._cli_instructions(rep)
    text = " ".join(rep["prevalence"].text)
    assert "Codebook note: The raw item is lonely1_2 (--columns lonely1_2)." in text, text
    assert "columns=[" not in text


def test_describe_prints_the_design_note_once_and_counts_with_separators(shared_data_dir,
                                                                        capsys):
    """Regression (GSS 2018, GSS panels, BRFSS): ``describe`` printed the design note four
    times (at the top and again as the note of weight, strata and psu; the single-PSU load note
    twice more) and counts as "2348 answered" beside "2,348 rows" in its own header."""
    from socialhealth import cli

    path = shared_data_dir / "gss" / "GSS2018.dta"
    if not path.is_file():
        import pytest

        pytest.skip(f"{path} not found")
    assert cli.main(["describe", "--dataset", "gss", "--path", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("PSUs: vpsu; strata: year x vstrat") == 1, out
    assert "weight: 2,348 answered, 0 missing  (from wtssnr)" in out
    assert "among the 2,348 rows kept" in out
    assert "ucla3_companionship: 1,167 answered, 1,181 missing" in out
    assert "missing codes: lonely1 .i: 1,175, .d: 3, .n: 3" in out


def test_population_of_stacked_files_comes_from_the_codebook():
    """Regression (BRFSS 2016, TN + LA stacked, --min-age 50): the stacked load's provenance
    has no population description, and the report read "The estimates describe , restricted to
    those aged 50 and over (restricted with min_age=50)."; without --min-age it had no
    population at all."""
    def build(pop):
        df = _frame()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rep = sh.report.build(SurveyData("brfss", df, pd.DataFrame(columns=CB),
                                             {"wave": "2016", "population": pop}, SPEC),
                                  outcomes=["depression"])
        return rep["sample"].text[0], _items(rep)["Population"]

    text, cell = build({"description": ", restricted to those aged 50 and over", "min_age": 50,
                        "restricted_by": "min_age=50"})
    assert text.startswith("The estimates describe adults aged 50 and over living in private "
                           "residences or college housing in the United States"), text
    assert cell.endswith("; respondents under 50 left out") and not cell.startswith(",")
    text, _ = build(None)
    assert text.startswith("The estimates describe adults aged 18 and over living in private "
                           "residences"), text


def test_variance_method_names_the_single_psu_rule_only_when_a_stratum_has_one_psu():
    """Regression (GSS 2018, ESS 9: no stratum has a single PSU): the sample table's variance
    method ended "; single-PSU strata: adjust", which reads as if there were such strata."""
    method = _items(_mini())["Variance method"]
    assert method == ("Taylor series linearisation, first-stage PSUs treated as sampled with "
                      "replacement")
    df = _frame()
    df.loc[df["strata"] == "s0", "psu"] = "0-0"           # stratum s0 now has a single PSU
    items = _items(_build(df))
    assert items["Variance method"].endswith("; single-PSU strata: adjust")
    assert items["Strata with a single PSU"].startswith("1 of 12")


def test_trend_over_the_waves_of_one_panel_is_not_called_a_population_trend():
    """Regression (GSS 2010-2014 panel, waves pooled, --exposure lives_alone): the trend
    section showed 2010, 2012 and 2014 as a trend in the population, although every year is
    the same persons again."""
    df = _frame()
    text = " ".join(_build(df)["trend"].text)
    assert "same persons" not in text
    df["respondent_id"] = [f"p{i % 240}" for i in range(len(df))]   # 240 persons, 3 interviews
    assert "same persons" not in " ".join(_build(df, name="ess")["trend"].text)
    sec = _build(df, name="gss_panel10")["trend"]
    assert sec.ok, sec.status
    assert ("The years are interviews of the same persons (a panel), so this is the change "
            "within one cohort as it ages, not a trend in the population.") in sec.text


def test_model_left_out_for_unmeasured_and_never_together_covariates_has_one_note():
    """A model whose covariates are partly not measured and partly never answered with the
    outcome gets one note naming both reasons (GSS 2010-14 panel: obesity not measured;
    smoking and inactivity asked in 2012 only)."""
    df = _frame().drop(columns=["obese"])
    df.loc[df["lonely"].notna(), ["smoker", "physically_inactive"]] = pd.NA
    sec = _build(df)["association"]
    said = [n for n in sec.notes if "Model 3" in n]
    assert said == ["Depression: Model 3 (+ smoking, obesity, physical inactivity) is not fitted: "
                    "obesity is not measured in this survey, and smoking, physical inactivity "
                    "are never answered together with the outcome and the exposure."], sec.notes
    assert sec.tables[0].frame["model"].tolist() == ["Model 1", "Model 2"]
