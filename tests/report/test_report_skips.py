"""Sections a survey cannot support are skipped with the reason; bad requests are errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.datasets import SurveyData
from socialhealth.errors import ReportError


def _codebook(rows):
    return pd.DataFrame(rows, columns=["concept", "source_variables", "rule", "labels", "notes",
                                       "measured"])


def tiny_survey(with_lonely: bool = False, seed: int = 1) -> SurveyData:
    """200 respondents, 10 strata x 2 PSUs, one year, one country; UCLA-3 'isolated' item."""
    rng = np.random.default_rng(seed)
    n = 200
    df = pd.DataFrame({
        "respondent_id": [str(i) for i in range(n)],
        "year": 2020, "country": "GB",
        "weight": rng.uniform(0.5, 2.0, n),
        "strata": np.repeat(np.arange(10), 20),
        "psu": np.repeat(np.arange(20), 10),
        "age_group": pd.Categorical(rng.choice(["16-24", "25-34", "35-44"], n),
                                    categories=["16-24", "25-34", "35-44"], ordered=True),
        "sex": rng.choice(["female", "male"], n),
        "ucla3_isolated": rng.choice([1.0, 2.0, 3.0, np.nan], n, p=[0.5, 0.3, 0.15, 0.05]),
        "poor_health": pd.array(rng.random(n) < 0.3, dtype="boolean"),
    })
    rows = [("age_group", "agecat", "cut", "", "", True), ("sex", "gender", "1 male 2 female", "", "", True),
            ("ucla3_isolated", "q7", "1-3", "", "", True), ("poor_health", "srh", "fair/poor", "", "", True),
            ("smoker", "", "not measured", "", "no smoking question in this survey", False)]
    if with_lonely:
        df["lonely"] = pd.array(df["ucla3_isolated"] >= 3, dtype="boolean")
        df.loc[df["ucla3_isolated"].isna(), "lonely"] = pd.NA
        rows.append(("lonely", "q7", "q7 == 3", "", "", True))
    else:
        rows.append(("lonely", "", "not measured", "",
                     "no loneliness question was asked in this tiny survey", False))
    spec = {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
            "lonely_psu": "adjust"}
    prov = {"file": "tiny.csv", "wave": "2020", "warnings": []}
    return SurveyData("tiny", df, _codebook(rows), prov, spec)


def test_missing_exposure_skips_its_sections_with_the_codebook_reason():
    rep = sh.report.build(tiny_survey())
    st = {s.key: s for s in rep.sections}
    assert st["sample"].ok and st["methods"].ok
    for key in ("prevalence", "trend", "association", "risk_factors"):
        assert st[key].status.startswith("skipped: "), key
        assert "no loneliness question was asked in this tiny survey" in st[key].reason
        # hint at the loneliness item the survey does have
        assert "ucla3_isolated" in st[key].reason
        assert not st[key].tables and not st[key].figures
    html = rep.to_html()
    assert "Skipped:" in html and "SYNTHETIC DATA" not in html


def test_condition_exposure_prevalence_by_hand():
    sd = tiny_survey()
    rep = sh.report.build(sd, exposure="ucla3_isolated>=3")
    prev = rep["prevalence"]
    assert prev.ok
    df = sd.data
    ok = df["ucla3_isolated"].notna()
    w = df.loc[ok, "weight"].to_numpy()
    y = (df.loc[ok, "ucla3_isolated"] >= 3).to_numpy(dtype=float)
    p_hand = (w * y).sum() / w.sum()
    row = prev.tables[0].frame.iloc[0]
    assert row["estimate"] == pytest.approx(p_hand, rel=1e-12)
    assert row["n"] == int(ok.sum())
    # one year and one country: trend skipped, no country breakdown
    assert rep["trend"].status.startswith("skipped") and "1 interview year" in rep["trend"].reason
    assert any("one group" in n for n in prev.notes)
    # the R code derives the same indicator
    code = "\n".join(rep["methods"].r_code)
    assert "des <- update(des, ucla3_isolated_ge3 = as.numeric(ucla3_isolated >= 3))" in code
    # association runs (poor_health measured); comparators absent -> risk factors skipped
    assert rep["association"].ok
    assert rep["risk_factors"].status.startswith("skipped") and "smoking question" in rep["risk_factors"].reason


def test_outcome_not_measured_is_a_note_not_an_error():
    rep = sh.report.build(tiny_survey(with_lonely=True), outcomes=["poor_health", "depression"])
    assert rep["association"].ok
    # in words, not the column name
    assert any(n.startswith("Outcome left out: Depression is not")
               for n in rep["association"].notes), rep["association"].notes
    assert not any("'depression'" in n for n in rep["association"].notes)
    assert set(rep["association"].tables[0].frame["outcome"]) == {"poor_health"}


@pytest.mark.parametrize("kwargs, match", [
    ({"exposure": "lonelyy"}, "unknown exposure 'lonelyy'"),
    ({"exposure": "ucla3_isolated >> 3"}, "cannot read the exposure"),
    ({"outcomes": ["poor_helth"]}, "unknown outcome 'poor_helth'.*poor_health"),
    ({"outcomes": []}, "no outcomes given"),
    ({"exposure": "ucla3_isolated"}, "not binary"),
    ({"outcomes": ["ucla3_isolated"]}, "not binary"),
    ({"ci_method": "wald"}, "unknown ci_method"),
    ({"outcomes": ["lonely"]}, "both the exposure and an outcome"),
])
def test_bad_requests_raise_report_error(kwargs, match):
    with pytest.raises(ReportError, match=match):
        sh.report.build(tiny_survey(with_lonely=True), **kwargs)


def test_not_a_survey():
    with pytest.raises(ReportError, match="needs a loaded survey"):
        sh.report.build(pd.DataFrame({"a": [1]}))


def test_unknown_section_and_format(tmp_path):
    rep = sh.report.build(tiny_survey())
    with pytest.raises(ReportError, match="no section 'nope'"):
        rep["nope"]
    with pytest.raises(ReportError, match="unknown report format"):
        rep.save(tmp_path / "x.html", format="odt")
    with pytest.raises(ReportError, match="cannot write the report"):
        rep.to_html(tmp_path / "missing_dir" / "x.html")


def test_replicate_design_report_and_r_code():
    sd = tiny_survey(with_lonely=True)
    rng = np.random.default_rng(3)
    df = sd.data.copy()
    for k in range(1, 9):
        df[f"rw_{k}"] = df["weight"] * rng.uniform(0.5, 1.5, len(df))
    spec = {"kind": "replicate", "weights": "weight", "replicate_weights": "^rw_[0-9]+$",
            "method": "jk1"}
    rsd = SurveyData("tiny", df, sd.codebook, sd.provenance, spec)
    rep = sh.report.build(rsd, outcomes=["poor_health"])
    assert rep["prevalence"].ok and rep["association"].ok
    items = rep["sample"].tables[0].frame.set_index("item")["value"]
    assert items["Variance method"].startswith("replicate weights (jk1, 8 replicates")
    code = "\n".join(rep["methods"].r_code)
    assert ('des <- svrepdesign(data = df, weights = ~weight, repweights = "^rw_[0-9]+$", '
            'type = "JK1"') in code
    direct = rsd.design.proportion("lonely").to_frame().iloc[0]
    assert rep["prevalence"].tables[0].frame.iloc[0]["se"] == pytest.approx(float(direct["se"]), rel=1e-12)


def test_notebook_display_is_a_scoped_fragment():
    frag = sh.report.build(tiny_survey())._repr_html_()
    assert frag.startswith('<div class="socialhealth-report">')
    assert "<html" not in frag and "body {" not in frag and "body{" not in frag
    assert ".socialhealth-report h2 {" in frag


def test_outcome_without_events_is_left_out_with_a_note():
    sd = tiny_survey(with_lonely=True)
    sd.data["depression"] = pd.array([False] * len(sd.data), dtype="boolean")
    rep = sh.report.build(sd, outcomes=["depression"])
    sec = rep["association"]
    assert sec.status == "skipped: no model could be fitted (see the notes)."
    assert ("Depression: not modelled; no respondent in the analytic sample has the outcome, "
            "so there is nothing to compare.") in sec.notes, sec.notes
    assert rep["methods"].ok


def test_group_without_answers_is_left_out_not_the_section():
    sd = tiny_survey(with_lonely=True)
    sd.data.loc[sd.data["age_group"] == "35-44", "lonely"] = pd.NA
    rep = sh.report.build(sd, outcomes=["poor_health"])
    prev = rep["prevalence"]
    assert prev.ok
    rows = prev.tables[0].frame
    ages = rows[rows["group"] == "Age group"].set_index("level")
    assert list(ages.index) == ["16-24", "25-34"]
    # the other groups are unchanged: hand-computed weighted shares
    df = sd.data
    for level in ("16-24", "25-34"):
        m = (df["age_group"] == level) & df["lonely"].notna()
        w = df.loc[m, "weight"].to_numpy()
        y = df.loc[m, "lonely"].astype(float).to_numpy()
        assert ages.loc[level, "estimate"] == pytest.approx((w * y).sum() / w.sum(), rel=1e-9)
    code = "\n".join(rep["methods"].r_code)
    assert "svyby(~lonely, ~age_group, subset(des, !is.na(lonely)), svyciprop" in code
