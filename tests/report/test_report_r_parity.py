"""The report's numbers equal what its methods-note R code prints.

``fixtures/mini_survey.csv`` (synthetic, ``make_mini_survey.py``) was run through the R calls
the report prints (``make_report_r.R``, R survey 4.1-1) into ``report_r_reference.json``.
Here the report is built from the same CSV and every prevalence, CI, trend slope and nested
odds ratio is compared with R's.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.datasets import SurveyData

FIX = Path(__file__).with_name("fixtures")
REL = 1e-10       # proportions and their CIs (closed form; they agree with R to ~5e-15)
REL_GLM = 1e-5    # model-based numbers: R's IRLS stops at glm.control(epsilon = 1e-8), so its
                  # coefficients / SEs differ from fully converged ones by up to ~1e-8 / ~3e-6
ABS_GLM = 1e-6    # log-odds slopes near 0: compare absolutely


@pytest.fixture(scope="module")
def r():
    return json.loads((FIX / "report_r_reference.json").read_text())


@pytest.fixture(scope="module")
def rep():
    yes_no = ["lonely", "depression", "poor_health", "smoker", "obese", "physically_inactive"]
    df = pd.read_csv(FIX / "mini_survey.csv", dtype={c: "boolean" for c in yes_no})
    cb = pd.DataFrame(columns=["concept", "source_variables", "rule", "labels", "notes", "measured"])
    spec = {"weights": "weight", "strata": "strata", "psu": "psu", "nest": True,
            "lonely_psu": "adjust"}
    return sh.report.build(SurveyData("mini", df, cb, {}, spec),
                           outcomes=["depression", "poor_health"])


def close(a, b, rel=REL):
    return a == pytest.approx(b, rel=rel)


def test_design_counts(rep, r):
    items = rep["sample"].tables[0].frame.set_index("item")["value"]
    assert items["Strata"] == str(r["n_strata"])
    assert items["Primary sampling units (PSUs)"] == str(r["n_psu"])
    assert items["Design degrees of freedom"] == f"{r['degf']:g}"


def test_prevalence_equals_r(rep, r):
    t = rep["prevalence"].tables[0].frame
    all_row = t[t["group"] == "All"].iloc[0]
    for c in ("estimate", "se", "ci_low", "ci_high"):
        assert close(all_row[c], r["overall"][c]), c
    for group, key, col in (("Age group", "by_age_group", "age_group"), ("Sex", "by_sex", "sex"),
                            ("Country", "by_country", "country")):
        rows = t[t["group"] == group].set_index("level")
        assert len(rows) == len(r[key])
        for ref in r[key]:
            for c in ("estimate", "se", "ci_low", "ci_high"):
                assert close(rows.loc[ref[col], c], ref[c]), (group, ref[col], c)


def test_trend_equals_r(rep, r):
    t = rep["trend"].tables[0].frame.set_index(["year", "country"])
    for ref in r["by_year_country"]:
        for c in ("estimate", "se", "ci_low", "ci_high"):
            assert close(t.loc[(int(ref["year"]), ref["country"]), c], ref[c])
    slopes = rep["trend"].tables[1].frame.set_index("country")
    for country in ("GB", "US"):
        ref = {row["term"]: row for row in r[f"trend_{country}"]}["year"]
        for mine, theirs in (("log_odds_per_year", "estimate"), ("se", "se"),
                             ("ci_low", "ci_low"), ("ci_high", "ci_high")):
            assert slopes.loc[country, mine] == pytest.approx(ref[theirs], rel=REL_GLM, abs=ABS_GLM)
        assert slopes.loc[country, "df"] == ref["df"]


@pytest.mark.parametrize("outcome", ["depression", "poor_health"])
@pytest.mark.parametrize("model", [1, 2, 3])
def test_nested_odds_ratios_equal_r(rep, r, outcome, model):
    t = rep["association"].tables[0].frame
    row = t[(t["outcome"] == outcome) & (t["model"] == f"Model {model}")].iloc[0]
    ref = {x["term"]: x for x in r[f"{outcome}_{model}"]}["lonely"]
    assert close(row["odds_ratio"], np.exp(ref["estimate"]), REL_GLM)
    assert close(row["ci_low"], np.exp(ref["ci_low"]), REL_GLM)
    assert close(row["ci_high"], np.exp(ref["ci_high"]), REL_GLM)
    assert row["df"] == ref["df"]


def test_comparators_equal_r(rep, r):
    """The risk-factor table reuses Model 3: smoking, obesity, inactivity odds ratios."""
    t = rep["risk_factors"].tables[1].frame
    for outcome in ("depression", "poor_health"):
        ref = {x["term"]: x for x in r[f"{outcome}_3"]}
        for factor in ("smoker", "obese", "physically_inactive"):
            row = t[(t["outcome"] == outcome) & (t["factor"] == factor)].iloc[0]
            assert close(row["odds_ratio"], np.exp(ref[factor]["estimate"]), REL_GLM)
            assert close(row["ci_high"], np.exp(ref[factor]["ci_high"]), REL_GLM)


def test_printed_r_code_is_the_code_that_made_the_fixture(rep):
    script = (FIX / "make_report_r.R").read_text()
    checked = []
    for line in rep["methods"].r_code:
        if line.startswith(("svyciprop", "svyby", "svyglm", "des_", "des <-", "options(", "df[]")):
            assert line in script, line
            checked.append(line)
    # not vacuous: the design, the lonely-PSU option, the prevalence calls and the models
    assert any(c.startswith("des <-") for c in checked)
    assert any(c.startswith("options(") for c in checked)
    assert any(c.startswith("svyciprop") for c in checked)
    assert sum(c.startswith("svyglm") for c in checked) >= 1
