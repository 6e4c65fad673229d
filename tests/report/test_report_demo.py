"""The report on the synthetic demo survey: every section filled, numbers equal to direct
engine calls, true values of the demo recovered, outputs self-contained."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import socialhealth as sh
from socialhealth.datasets.demo import DEMO_TRUTH

SECTION_KEYS = ["sample", "prevalence", "trend", "association", "risk_factors", "methods"]


@pytest.fixture(scope="module")
def demo():
    return sh.datasets.load("demo")


@pytest.fixture(scope="module")
def rep(demo):
    return sh.report.build(demo)


def test_every_section_present_and_filled(rep):
    assert [s.key for s in rep.sections] == SECTION_KEYS
    for s in rep.sections:
        assert s.status == "ok", (s.key, s.status)
        assert s.text, s.key
    for key in ("sample", "prevalence", "trend", "association", "risk_factors"):
        assert rep[key].tables and all(len(t.frame) > 0 for t in rep[key].tables), key
    for key in ("prevalence", "trend", "association", "risk_factors"):
        figs = rep[key].figures
        assert figs, key
        assert all(f.png[:8] == b"\x89PNG\r\n\x1a\n" and len(f.png) > 5000 for f in figs), key
    assert rep.synthetic and "SYNTHETIC" in rep.title.upper()


def test_sample_section_reports_design(rep, demo):
    t = rep["sample"].tables[0].frame.set_index("item")["value"]
    d = demo.design
    assert t["Strata"] == f"{d.n_strata:,}"
    assert t["Primary sampling units (PSUs)"] == f"{d.n_psu:,}"
    assert t["Respondents"] == f"{len(demo.data):,}"
    assert t["Weight"].startswith("weight ")
    assert "Taylor series linearisation" in t["Variance method"]


def test_overall_and_group_prevalence_equal_engine(rep, demo):
    table = rep["prevalence"].tables[0].frame
    direct = demo.design.proportion("lonely", method="logit").to_frame().iloc[0]
    row = table[table["group"] == "All"].iloc[0]
    for c in ("estimate", "se", "ci_low", "ci_high"):
        assert row[c] == pytest.approx(float(direct[c]), rel=1e-12)
    by_age = demo.design.proportion("lonely", method="logit", by="age_group").to_frame()
    rows = table[table["group"] == "Age group"].set_index("level")
    for _, r in by_age.iterrows():
        assert rows.loc[str(r["age_group"]), "estimate"] == pytest.approx(float(r["estimate"]), rel=1e-12)
        assert rows.loc[str(r["age_group"]), "ci_low"] == pytest.approx(float(r["ci_low"]), rel=1e-12)
    # unweighted n is a plain count of answers in the group
    n_age = demo.data.loc[demo.data["lonely"].notna()].groupby("age_group", observed=True).size()
    for level, n in n_age.items():
        assert rows.loc[str(level), "n"] == n


def test_prevalence_recovers_demo_truth(rep):
    table = rep["prevalence"].tables[0].frame
    truth = DEMO_TRUTH["lonely_prevalence"]
    overall = table[table["group"] == "All"].iloc[0]
    assert overall["ci_low"] < truth["overall"] < overall["ci_high"]
    by_country = table[table["group"] == "Country"].set_index("level")
    for country, p in truth["by_country"].items():
        assert by_country.loc[country, "ci_low"] < p < by_country.loc[country, "ci_high"], country


def test_nested_odds_ratios_equal_engine(rep, demo):
    """Model 3 for depression, refitted here by hand on the complete cases."""
    table = rep["association"].tables[0].frame
    d = demo.design
    cols = ["depression", "lonely", "age_group", "sex", "smoker", "obese", "physically_inactive"]
    complete = d.in_subset & demo.data[cols].notna().all(axis=1).to_numpy()
    m = d.subset(complete).glm("depression ~ lonely + C(age_group) + C(sex) + smoker + obese + "
                               "physically_inactive", family="binomial")
    b = float(m.params["lonely"])
    se = float(m.bse["lonely"])
    q = stats.t.ppf(0.975, m.df_resid)
    row = table[(table["outcome"] == "depression") & (table["model"] == "Model 3")].iloc[0]
    assert row["odds_ratio"] == pytest.approx(np.exp(b), rel=1e-10)
    assert row["ci_low"] == pytest.approx(np.exp(b - q * se), rel=1e-10)
    assert row["ci_high"] == pytest.approx(np.exp(b + q * se), rel=1e-10)
    assert row["n"] == int(complete.sum())
    m1 = d.subset(complete).glm("depression ~ lonely", family="binomial")
    row1 = table[(table["outcome"] == "depression") & (table["model"] == "Model 1")].iloc[0]
    assert row1["odds_ratio"] == pytest.approx(np.exp(float(m1.params["lonely"])), rel=1e-10)


def test_fully_adjusted_odds_ratios_recover_demo_truth(rep):
    """The demo's outcome model is exactly Model 3's adjustment set, so Model 3 estimates the
    true conditional odds ratios (DEMO_TRUTH). Each estimate must lie within 3.29 standard
    errors (99.9%) of the truth; the SE is read back from the 95% CI on the log scale."""
    t = rep["risk_factors"].tables[1].frame
    truths = DEMO_TRUTH["odds_ratios"]
    checked = 0
    for _, r in t.iterrows():
        if r["outcome"] not in truths:
            continue
        true = truths[r["outcome"]][r["factor"]]
        se = (np.log(r["ci_high"]) - np.log(r["ci_low"])) / (2 * 1.9634)   # t(700) ~ 1.9634
        z = (np.log(r["odds_ratio"]) - np.log(true)) / se
        assert abs(z) < 3.29, (r["outcome"], r["factor"], r["odds_ratio"], true)
        checked += 1
    assert checked == 4 * 7


def test_trend_slope_equals_engine_and_covers_census_trend(rep, demo):
    slopes = rep["trend"].tables[1].frame.set_index("country")
    d = demo.design
    for country, census in DEMO_TRUTH["lonely_trend_census"].items():
        m = d.subset((demo.data["country"] == country).to_numpy()).glm("lonely ~ year", family="binomial")
        assert slopes.loc[country, "log_odds_per_year"] == pytest.approx(float(m.params["year"]), rel=1e-10)
        assert slopes.loc[country, "ci_low"] < census < slopes.loc[country, "ci_high"]


def test_methods_note_has_matching_r_calls(rep):
    code = "\n".join(rep["methods"].r_code)
    assert "library(survey)" in code
    assert ('des <- svydesign(id = ~psu, strata = ~strata, weights = ~weight, nest = TRUE, '
            'data = df)') in code
    assert 'options(survey.lonely.psu = "adjust")' in code
    assert 'svyciprop(~lonely, des, method = "logit", na.rm = TRUE)' in code
    assert "svyby(~lonely, ~age_group, des, svyciprop" in code
    assert ("svyglm(depression ~ lonely + factor(age_group) + factor(sex) + smoker + obese + "
            "physically_inactive, design = des_depression, family = quasibinomial())") in code
    assert "des_depression <- subset(des, !is.na(depression) & !is.na(lonely)" in code


def test_html_is_self_contained_and_labelled_synthetic(rep, tmp_path):
    path = tmp_path / "report.html"
    text = rep.to_html(path)
    assert path.read_text(encoding="utf-8") == text
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text, re.I)
    assert "<link" not in text.lower() and "<script" not in text.lower()
    assert "@import" not in text
    n_img = len(re.findall(r'<img [^>]*src="data:image/png;base64,', text))
    assert n_img == sum(len(s.figures) for s in rep.sections)
    assert "SYNTHETIC DATA" in text
    for s in rep.sections:
        assert f'id="{s.key}"' in text


def test_markdown_and_pdf_outputs(rep, tmp_path):
    md = rep.to_markdown(tmp_path / "r.md")
    assert md.startswith("# Loneliness")
    assert "## Sample and design" in md and "```r" in md and "SYNTHETIC DATA" in md
    pdf = rep.to_pdf(tmp_path / "r.pdf")
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 50_000
    assert rep.save(tmp_path / "x.markdown").read_text(encoding="utf-8").startswith("# ")


def test_status_frame_and_repr(rep):
    st = rep.status
    assert list(st.columns) == ["key", "title", "status"]
    assert (st["status"] == "ok").all()
    assert "Sample and design" in repr(rep)


def test_nested_models_agree_with_models_association(rep, demo):
    """The report's nested models and socialhealth.models.association (same complete cases,
    same blocks) give the same odds ratios."""
    assoc = sh.models.association(demo.design, exposure="lonely", outcome="poor_health",
                                  adjust=[["age_group", "sex"],
                                          ["smoker", "obese", "physically_inactive"]]).to_frame()
    t = rep["association"].tables[0].frame
    mine = t[t["outcome"] == "poor_health"].reset_index(drop=True)
    assert len(assoc) == len(mine) == 3
    for k in range(3):
        assert mine.loc[k, "odds_ratio"] == pytest.approx(float(assoc.loc[k, "estimate"]), rel=1e-10)
        assert mine.loc[k, "ci_low"] == pytest.approx(float(assoc.loc[k, "ci_low"]), rel=1e-10)
        assert mine.loc[k, "n"] == int(assoc.loc[k, "n"])


def test_every_nested_model_is_models_association(rep, demo):
    """One implementation of the nested models: every row of the report's table (all outcomes,
    all three models) equals socialhealth.models.association's on the same complete cases."""
    table = rep["association"].tables[0].frame
    covs = ["age_group", "sex", "smoker", "obese", "physically_inactive"]
    assert set(table["outcome"]) >= {"poor_health", "depression"}
    for outcome, mine in table.groupby("outcome", sort=False):
        assoc = sh.models.association(demo.design, exposure="lonely", outcome=outcome,
                                      adjust=[covs[:2], covs[2:]], measure="or").to_frame()
        mine = mine.reset_index(drop=True)
        assert list(mine["model"]) == ["Model 1", "Model 2", "Model 3"]
        for k in range(3):
            for mcol, acol in [("odds_ratio", "estimate"), ("ci_low", "ci_low"),
                               ("ci_high", "ci_high"), ("p", "p"), ("df", "df"), ("n", "n")]:
                assert mine.loc[k, mcol] == assoc.loc[k, acol], (outcome, k, mcol)


def test_a_separated_model_becomes_a_note_and_the_others_stay(demo):
    """Model 3 of depression separates (every smoker made depressed): its row is replaced by a
    note, Models 1 and 2 keep the complete cases of Model 3 and equal direct design.glm fits."""
    data = demo.data
    dep = data["depression"].copy()
    smoker = data["smoker"].fillna(False).to_numpy(dtype=bool)
    dep[smoker & dep.notna().to_numpy()] = True
    sd = demo.assign(depression=dep)
    sec = sh.report.build(sd, outcomes=["depression"])["association"]
    t = sec.tables[0].frame
    assert list(t["model"]) == ["Model 1", "Model 2"]
    assert any(n.startswith("Depression, Model 3: not estimable. Perfect or quasi-complete "
                            "separation: smoking predicts") for n in sec.notes)
    cols = ["depression", "lonely", "age_group", "sex", "smoker", "obese", "physically_inactive"]
    complete = sd.design.in_subset & sd.data[cols].notna().all(axis=1).to_numpy()
    sub = sd.design.subset(complete)
    for k, formula in enumerate(["depression ~ lonely",
                                 "depression ~ lonely + C(age_group) + C(sex)"]):
        m = sub.glm(formula, family="binomial")
        assert t.loc[k, "odds_ratio"] == pytest.approx(np.exp(float(m.params["lonely"])),
                                                       rel=1e-10)
        assert t.loc[k, "n"] == int(complete.sum())
