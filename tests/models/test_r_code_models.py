"""The R code socialhealth prints for its models (Cox, Kaplan-Meier, parametric survival,
log-rank, proportional odds, loglinear) against R.

``tests/fixtures/r_code_models/r_code_models_reference.json`` records, for every case of
``tests/fixtures/r_code_models/cases.py`` (models on Taylor and replicate designs of synthetic
data), the exact R code socialhealth printed when R last checked it, whether R parsed and ran
it, and R's numbers (model fits refitted to convergence). No R is needed here: the cases are
rebuilt and compared with the fixture.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from r_compare import fixture_cases, r_code_close  # tests/_support

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "r_code_models"
RERUN = ("the printed R code changed, so it must be checked in R again: run "
         "`PYTHONPATH=src python tests/fixtures/make_r_code_fixtures.py r_code_models` (R 4.2 + "
         "survey 4.1-1), look at the cases it reports as not agreeing, and commit the new "
         "r_code_models_reference.json")


@pytest.fixture(scope="module")
def built():
    cases = fixture_cases(FIXTURES, "r_code_models_cases")
    return cases.build()[1]


@pytest.fixture(scope="module")
def reference():
    return json.loads((FIXTURES / "r_code_models_reference.json").read_text())["cases"]


def test_same_cases(built, reference):
    assert sorted(built) == sorted(reference), RERUN
    assert len(reference) >= 140 and sum(v["call"] is not None for v in reference.values()) >= 130


def test_printed_r_code_is_the_code_r_checked(built, reference):
    changed = [k for k, c in built.items()
               if (c["design_code"], c["call"]) != (reference[k]["design_code"],
                                                    reference[k]["call"])]
    assert not changed, f"{len(changed)} cases, e.g. {changed[:5]}: {RERUN}"


def test_every_printed_r_code_parses_in_r(reference):
    bad = [k for k, v in reference.items()
           if v["call"] is not None and not (v["design_parses"] and v["call_parses"])]
    assert not bad


def test_our_numbers_equal_r_where_r_agrees(built, reference):
    n = 0
    for k, v in reference.items():
        if v["call"] is None or not v["agrees"]:
            continue
        ours, r = built[k]["ours"], v["r"]
        assert len(ours) == len(r), (k, built[k].get("refusal"))
        assert all(r_code_close(a, b) for a, b in zip(ours, r, strict=True)), (k, ours, r)
        n += 1
    assert n >= 110


# R survey 4.1-1 cannot run these; the printed call's comment says so ("# R survey 4.1-1 ...")
R_STOPS = {
    # svykm(~ group) on a replicate design: "dims [product ...] do not match the length of
    # object"
    "demo_rep/km_by", "demo_rep/km_by_education", "cohort_jkn/km_by_sex",
    # svykm(se = TRUE) on a replicate design: "SE not yet available"
    "cohort_jkn/km_se", "cohort_jkn/km_by_se", "cohort_jkn/km_estimator_km",
    # svysurvreg has no method for replicate designs
    "demo_rep/survreg", "demo_rep/survreg_education", "demo_rep/survreg_exponential",
    "demo_rep/survreg_lognormal", "demo_rep/survreg_loglogistic", "cohort_jkn/survreg",
    "cohort_jkn/survreg_gaussian", "cohort_jkn/survreg_logistic",
}
# R stops for a reason of the data, not said in the printed call: svyolr's replicate fits
# (MASS::polr from the full-sample estimate, without control=) fail on one bootstrap replicate
# ("attempt to find suitable starting values failed")
R_STOPS_DATA = {"demo_rep/ordinal_education"}
# R runs, and the printed comment says why its numbers are not ours: estimator="km" with
# se=True (svykm's se = TRUE curve is Aalen's), svyolr(method = "probit") on a replicate design
# (R fits the replicates with the logistic link)
R_DIFFERS_SAID = {"cohort/km_estimator_km", "cohort_clus/km_estimator_km",
                  "demo_rep/ordinal_probit"}
# R's numbers differ from ours only by its convergence (relative tolerance: estimates, SEs):
# svyolr's BFGS and numerical Hessian even with reltol 1e-15 and ndeps 1e-6 (tests/models/
# test_ordinal.py: ~1e-7); on replicate designs svyolr's and svycoxph's replicate fits at
# their default precision (control= is not passed to them). demo_rep/ordinal: our standard
# errors equal those of R's replicate fits refitted with polr(control = list(reltol =
# 1e-15)) (withReplicates by hand, R 4.2.2: 0.0778448388 for lonely, ours 0.07784483875)
R_PRECISION = {
    "demo/ordinal_probit": (1e-5, 1e-5), "clus1/ordinal": (1e-7, 1e-7),
    "clus1_jk1/ordinal": (1e-7, 1e-5), "cohort_jkn/ordinal": (1e-5, 1e-5),
    "cohort_jkn/coxph_factor": (1e-8, 1e-7), "demo_rep/ordinal": (1e-7, 1e-2),
}
# stype is the stratification variable of apistrat: its loglinear coefficients have no
# sampling variance; R's standard errors and ours are both 0 up to rounding (ours NaN from the
# square root of -1e-19)
ZERO_SE = {"strat/loglin": [0, 1]}      # (positions among the standard errors)


def test_known_disagreements(reference):
    bad = {k for k, v in reference.items() if v["call"] is not None and not v["agrees"]}
    assert bad == R_STOPS | R_STOPS_DATA | R_DIFFERS_SAID | set(R_PRECISION) | set(ZERO_SE)
    for k in R_STOPS:
        v = reference[k]
        assert not v["ran"] and "R survey 4.1-1" in v["call"].split("  # ", 1)[1], k
    for k in R_DIFFERS_SAID:
        assert reference[k]["ran"] and "  # " in reference[k]["call"], k


def test_r_precision_cases_are_close(built, reference):
    for k, (ctol, stol) in R_PRECISION.items():
        ours, r = built[k]["ours"], reference[k]["r"]
        half = len(ours) // 2
        assert len(r) == len(ours) and reference[k]["ran"], k
        assert all(r_code_close(a, b, ctol) for a, b in zip(ours[:half], r[:half], strict=True)), k
        assert all(r_code_close(a, b, stol) for a, b in zip(ours[half:], r[half:], strict=True)), k
    for k, zero in ZERO_SE.items():
        ours, r = built[k]["ours"], reference[k]["r"]
        half = len(ours) // 2
        for j, (a, b) in enumerate(zip(ours, r, strict=True)):
            if j - half in zero:
                assert (math.isnan(a) or abs(a) < 1e-7) and abs(b) < 1e-7, k
            else:
                assert r_code_close(a, b), k


def test_printed_calls_name_r_objects_only():
    """The fixes the checker found: factor levels in our order, numpy functions in R's
    spelling, method = "breslow", complete cases where R needs them, update() of the model."""
    import socialhealth as sh
    from socialhealth import models

    demo = sh.datasets.load("demo").design
    m = models.ordinal(demo, "self_rated_health ~ lonely")
    assert m.r_call.startswith('svyolr(factor(self_rated_health, levels = c("excellent", '
                               '"very good", "good", "fair", "poor")) ~ lonely')
    c = models.coxph(demo, "followup_years", "died", "lonely + np.log(age) + education",
                     ties="breslow")
    assert c.r_call == ('svycoxph(Surv(followup_years, died) ~ lonely + log(age) + factor('
                        'education, levels = c("low", "middle", "high")), design = design, '
                        'method = "breslow")')
    lr = models.logrank(demo, "followup_years", "died", "sex")
    assert "~ sex, subset(design, !is.na(followup_years)" in lr.r_call
    apiclus1 = sh.datasets.load_example("apiclus1")
    d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    up = d.loglin("~stype + sch.wide").update("~. + stype:sch.wide")
    assert up.r_call == "update(svyloglin(~stype + sch.wide, design), ~. + stype:sch.wide)"
