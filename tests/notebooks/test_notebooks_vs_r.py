"""Every number the example notebooks show equals R's, and their outputs read as words.

R's numbers: ``fixtures/notebooks_r.json`` (``make_notebooks_r.R``: R survey 4.1-1 and
metafor on the demo survey export and on the RAW GSS/ESS files, harmonised in R from the raw
variables) for notebooks 01-04; notebook 05 against the R numbers already committed for the
same models on the same files (``tests/models/fixtures/prospective`` and ``longitudinal``).

The notebooks are executed (``conftest.executed``) and the results they displayed are compared
at full precision: ``RTOL`` for design-based estimates and their SEs (closed-form Taylor
linearisation; R and socialhealth agree to rounding), ``GLM_RTOL`` for quantities from an
iterative fit (R's IRLS and metafor run with tightened convergence in the R script). Printed
text (``print(res)`` etc.) is compared at its printed precision. Real-data notebooks skip when
../shared/data is absent.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
FIX = HERE / "fixtures"
MODELS = HERE.parent / "models" / "fixtures"
RTOL = 1e-9
GLM_RTOL = 1e-7
CHECKED: dict[str, int] = {}


@pytest.fixture(scope="module")
def r():
    return json.loads((FIX / "notebooks_r.json").read_text())


def close(name, got, want, rtol=RTOL):
    CHECKED[name] = CHECKED.get(name, 0) + 1
    assert np.isclose(float(got), float(want), rtol=rtol, atol=rtol * 1e-3), \
        f"{name}: notebook {got!r}, R {want!r}"


def printed(name, text, want):
    """``text`` (as printed) is R's ``want`` rounded to the printed decimals."""
    CHECKED[name] = CHECKED.get(name, 0) + 1
    mant = text.lower().split("e")[0]
    d = len(mant.split(".")[1]) if "." in mant else 0
    scale = 10 ** int(text.lower().split("e")[1]) if "e" in text.lower() else 1
    assert abs(float(text) - want) <= (0.5 * 10 ** -d) * scale * (1 + 1e-9), \
        f"{name}: printed {text}, R {want!r}"


def check_props(tag, frame, by, ref, cols=("estimate", "se", "ci_low", "ci_high", "df")):
    assert sorted(frame[by].astype(str)) == sorted(ref), tag
    for row in frame.itertuples(index=False):
        want = ref[str(getattr(row, by))]
        for c in cols:
            tol = GLM_RTOL if c.startswith("ci") else RTOL   # svyciprop's logit CI: a GLM fit
            close(f"{tag} {getattr(row, by)} {c}", getattr(row, c), want[c], tol)


def check_nested(tag, frame, ref, cols=("estimate", "ci_low", "ci_high", "n")):
    assert len(frame) == len(ref), tag
    for k, (row, want) in enumerate(zip(frame.itertuples(index=False), ref, strict=True)):
        for c in cols:
            close(f"{tag} model {k} {c}", getattr(row, c), want[c], GLM_RTOL)


def check_shares(tag, frame, by, ref):
    n = 0
    for row in frame.itertuples(index=False):
        close(f"{tag} {getattr(row, by)} {row.level}", row.estimate,
              ref[str(getattr(row, by))][str(row.level)])
        n += 1
    assert n == sum(len(v) for v in ref.values()), tag


def check_design(tag, text, want):
    # counts and the weight sum are printed with thousands separators ("19,602")
    m = re.search(r"rows: ([\d,]+)\n  strata: ([\d,]+), PSUs: ([\d,]+), degrees of freedom: "
                  r"([\d,]+)\n  weights: weight, sum ([\d,.e+]+)", text)
    assert m, text
    for k, g in zip(("n", "strata", "psus", "degf"), m.groups()[:4], strict=True):
        if k in want:
            close(f"{tag} {k}", int(g.replace(",", "")), want[k])
    printed(f"{tag} weight sum", m.group(5).replace(",", ""), want["weight_sum"])


# ------------------------------------------------------------------------------------- 01
def test_01_quickstart(executed, r):
    nb, R = executed("01_quickstart.ipynb"), r["demo"]
    check_design("01 design", nb.stdout("d.describe()"), R)
    overall = nb.shown("overall.to_frame()")
    check_props("01 overall", overall.assign(all="all"), "all", {"all": R["overall"]})
    by_country = nb.shown('by_country[["country"')
    check_props("01 by country", by_country, "country", R["by_country"],
                cols=("estimate", "ci_low", "ci_high"))
    check_props("01 by age group", nb.results["by_age"], "age_group", R["by_age_group"])
    check_nested("01 association", nb.shown("sh.models.association"), R["association"])
    rf = nb.results["rf"]
    assert list(rf["label"]) == list(R["risk_factors"]), rf["label"]
    for row in rf.itertuples(index=False):
        for c in ("estimate", "ci_low", "ci_high", "n"):
            close(f"01 risk factors {row.label} {c}", getattr(row, c),
                  R["risk_factors"][row.label][c], GLM_RTOL)
    assert CHECKED_IN("01") >= 70


def CHECKED_IN(prefix):
    return sum(v for k, v in CHECKED.items() if k.startswith(prefix))


# ------------------------------------------------------------------------------------- 02
def test_02_gss(executed, r):
    nb, R = executed("02_gss_loneliness_and_health.ipynb"), r["gss2020"]
    check_design("02 design", nb.stdout("d.describe()"), R)
    check_shares("02 isolated shares", nb.results["shares"], "age_group",
                 R["isolated_by_age_group"])
    check_props("02 isolated often by sex", nb.shown('d.proportion("isolated_often"'), "sex",
                R["isolated_often_by_sex"])
    check_nested("02 association", nb.results["assoc"], R["association"],
                 cols=("estimate", "ci_low", "ci_high", "p", "n"))
    assert CHECKED_IN("02") >= 50


# ------------------------------------------------------------------------------------- 03
def test_03_ess(executed, r):
    nb = executed("03_uk_loneliness.ipynb")
    R7, R9 = r["ess7"], r["ess9"]
    check_design("03 ESS7 design", nb.stdout("d7.describe()"), R7)
    check_props("03 ESS7 lonely by age", nb.shown('d7.proportion("lonely"'), "age_group",
                R7["lonely_by_age_group"])
    direct = nb.results["lonely_direct"]
    # lonely_direct's levels are the ESS answer labels; R's are the codes 1-4
    codes = {"None or almost none of the time": "1", "Some of the time": "2",
             "Most of the time": "3", "All or almost all of the time": "4"}
    check_shares("03 ESS7 felt lonely shares", direct.assign(level=direct["level"].map(codes)),
                 "age_group", R7["lonely_direct_by_age_group"])
    check_nested("03 ESS7 association", nb.shown("sh.models.association"), R7["association"])
    check_design("03 ESS9 design", nb.stdout("d9.describe()"), R9)
    check_shares("03 ESS9 contact shares", nb.results["contact"], "age_group",
                 R9["contact_by_age_group"])
    check_props("03 ESS9 social support by age", nb.shown('d9.proportion("social_support"'),
                "age_group", R9["social_support_by_age_group"])
    assert CHECKED_IN("03") >= 150


# ------------------------------------------------------------------------------------- 04
def test_04_meta(executed, r):
    nb, R = executed("04_evidence.ipynb"), r["meta_reml"]
    res = nb.results["res"]
    # pooled log odds ratio and its interval on the analysis scale; tau^2 by REML
    # (metafor: threshold 1e-12) and its Q-profile interval (uniroot tol 1e-12)
    pairs = [("estimate", "b"), ("ci_low", "ci_low"), ("ci_high", "ci_high"), ("se", "se"),
             ("statistic", "z"), ("p_value", "p"), ("pi_low", "pi_low"), ("pi_high", "pi_high"),
             ("tau2", "tau2"), ("tau", "tau"), ("Q", "Q"), ("Q_p", "Q_p"), ("I2", "I2"),
             ("H2", "H2"), ("tau2_ci_low", "tau2_ci_low"), ("tau2_ci_high", "tau2_ci_high"),
             ("I2_ci_low", "I2_ci_low"), ("I2_ci_high", "I2_ci_high"),
             ("H2_ci_low", "H2_ci_low"), ("H2_ci_high", "H2_ci_high")]
    for mine, theirs in pairs:
        close(f"04 meta {mine}", getattr(res, mine), R[theirs], GLM_RTOL)
    assert res.k == R["k"] and res.Q_df == R["Q_df"]
    text = repr(res)
    num = r"(-?[\d.]+(?:e-?\d+)?)"
    m = re.search(rf"pooled estimate .*?: {num} \[95% CI {num}, {num}\]; z = {num}, p = {num}",
                  text)
    assert m, text
    for k, (s, want) in enumerate(zip(m.groups(), [np.exp(R["b"]), np.exp(R["ci_low"]),
                                                   np.exp(R["ci_high"]), R["z"], R["p"]],
                                      strict=True)):
        printed(f"04 printed pooled {k}", s, want)
    m = re.search(rf"se \(analysis scale\) = {num}", text)
    printed("04 printed se", m.group(1), R["se"])
    m = re.search(rf"prediction interval: \[{num}, {num}\]", text)
    printed("04 printed pi low", m.group(1), np.exp(R["pi_low"]))
    printed("04 printed pi high", m.group(2), np.exp(R["pi_high"]))
    m = re.search(rf"tau\^2 = {num} \[95% CI {num}, {num}\], tau = {num}", text)
    for s, want in zip(m.groups(), [R["tau2"], R["tau2_ci_low"], R["tau2_ci_high"], R["tau"]],
                       strict=True):
        printed("04 printed tau", s, want)
    m = re.search(rf"Q\((\d+)\) = {num}, p = {num}; I\^2 = {num}%, H\^2 = {num}", text)
    assert int(m.group(1)) == R["Q_df"]
    for s, want in zip(m.groups()[1:], [R["Q"], R["Q_p"], R["I2"], R["H2"]], strict=True):
        printed("04 printed heterogeneity", s, want)
    assert CHECKED_IN("04") == 36


# ------------------------------------------------------------------------------------- 05
def test_05_longitudinal(executed):
    nb = executed("05_longitudinal.ipynb")
    pros_r = json.loads((MODELS / "prospective" / "prospective_reference.json").read_text())
    lon_r = json.loads((MODELS / "longitudinal" / "longitudinal_reference.json").read_text())
    P6, P20 = lon_r["results"]["panel06_2006"], lon_r["results"]["panel20_2016"]
    pros = nb.shown("sh.models.prospective")
    check_nested("05 prospective", pros, pros_r["results"]["panel06_rare_contact"]["models"],
                 cols=("estimate", "ci_low", "ci_high", "p", "n"))
    ch = nb.results["ch"]
    for k in range(2):
        for c in ("coef", "se", "ci_low", "ci_high"):
            close(f"05 change {k} {c}", ch[{"coef": "estimate"}.get(c, c)].iloc[k],
                  P6["change"][c][k], GLM_RTOL)
        close(f"05 change {k} df", ch["df"].iloc[k], P6["change"]["df"])
    km = nb.results["km"]
    groups = {"excellent/good": "0", "fair/poor": "1"}
    for row in km.itertuples(index=False):
        g = next(x for x in P20["km_by"] if x["group"] == groups[row.health])
        close(f"05 km {row.health} surv", row.surv, g["surv"][-1])
        close(f"05 km {row.health} se_log", row.se_log, np.sqrt(g["var_log"][-1]), 1e-6)
    cox = nb.results["cox"]
    names = {"age": "`age@2016`", "male": "`sex@2016`male", "poor_health": "`poor_health@2016`"}
    for row in cox.itertuples(index=False):
        close(f"05 cox {row.term} hr", row.estimate, np.exp(P20["cox"]["coef"][names[row.term]]),
              1e-6)
        close(f"05 cox {row.term} se", row.se, P20["cox"]["se"][names[row.term]], 1e-6)
        close(f"05 cox {row.term} n", row.n, P20["cox"]["n"])
        close(f"05 cox {row.term} events", row.n_events, P20["cox"]["events"])
    w = nb.results["att_weights"].set_index("weight")
    for label, key in [("baseline weight", "baseline"), ("baseline / P(retained)", "ipw"),
                       ("panel weight", "panel")]:
        for c in ("n", "sum", "min", "max", "ratio", "n_eff"):
            close(f"05 attrition weights {key} {c}", w.loc[label, c], P6["weights"][key][c],
                  GLM_RTOL)
    out = nb.results["att_outcome"]
    for label, key in [("baseline weight", "baseline"), ("baseline / P(retained)", "ipw")]:
        rows = out[out["weighting"] == label]
        for k, want in enumerate(P6["outcome"][key]):
            close(f"05 attrition outcome {key} {k}", np.log(rows["estimate"].iloc[k]),
                  want["coef"], GLM_RTOL)
            close(f"05 attrition outcome {key} {k} se", rows["se"].iloc[k], want["se"],
                  GLM_RTOL)
    out20 = nb.results["att20_outcome"]
    for label, key in [("baseline weight", "baseline"), ("baseline / P(retained)", "ipw")]:
        rows = out20[out20["weighting"] == label]
        for k, want in enumerate(P20["outcome"][key]):
            close(f"05 replicate outcome {key} {k}", np.log(rows["estimate"].iloc[k]),
                  want["coef"], GLM_RTOL)
            close(f"05 replicate outcome {key} {k} se", rows["se"].iloc[k],
                  want["se_replicate"], 1e-6)
    assert CHECKED_IN("05") >= 80
