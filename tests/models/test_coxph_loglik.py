"""CoxResult.loglik against R survey 4.1-1 ``svycoxph(...)$ll`` on every kind of design.

Reference: tests/models/fixtures/coxph/make_coxph_loglik.R (coxph_loglik_reference.json), on
the synthetic cohort of make_coxph.R and the synthetic case-cohort data of
tests/fixtures/twophase/make_twophase_cox.R. Each domain is fitted in R both with
``svycoxph(..., design = d, subset = cond)`` and ``svycoxph(..., design = subset(d, cond))``;
the two give the same ``ll`` in every case (recorded in the fixture and checked below).

svycoxph divides the weights by their mean over the rows of R's design object. R's subset
drops the other rows of an uncalibrated svydesign and of a replicate design, but keeps them
(weight 0) for calibrated and PPS svydesigns, ``method = "full"`` and calibrated two-phase
designs, so on domains of those the rescaled weights do not have mean 1 over the domain.
``by_hand_ll`` in the fixture is R's ``coxph(weights = w / (sum(w_domain) / n_kept))``, the
rule written out; the R script shows it equals ``ll``. On replicate designs svycoxph reports
no ``ll`` (``$loglik`` is ``NA``): there loglik is compared with ``by_hand_ll``, the log partial
likelihood of R's own full-sample fit (weights / their mean over the domain rows).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.models import coxph

FIX = Path(__file__).parent / "fixtures" / "coxph"
REF = {c["id"]: c for c in json.loads((FIX / "coxph_loglik_reference.json").read_text())["cases"]}
REP = json.loads((FIX / "coxph_reference.json").read_text())["replicate"][0]
TWOPHASE = Path(__file__).resolve().parents[1] / "fixtures" / "twophase" / "twophase_cox_data.csv"
RHS = "logbili + protime + albumin"
TOL = 1e-10          # R fitted with coxph.control(eps = 1e-11); we agree to ~1e-15
POP_TRT = pd.DataFrame({"trt": [1, 2], "Freq": [260, 240]})
POP_SEX = pd.DataFrame({"sex": ["f", "m"], "Freq": [430, 70]})


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    df = pd.read_csv(FIX / "cohort_synthetic.csv")
    df["w"] = 1 / df["randprob"]
    return df


@pytest.fixture(scope="module")
def casecohort() -> pd.DataFrame:
    return pd.read_csv(TWOPHASE)


def _designs(coh: pd.DataFrame) -> dict:
    fem, young = coh["sex"] == "f", coh["age"] < 60
    dcoh = sh.SurveyDesign(coh, weights="w", strata="edema")
    dclus = sh.SurveyDesign(coh, weights="w", strata="edema", psu="clus", nest=True)
    dps = dcoh.post_stratify("trt", POP_TRT)
    dcal = dcoh.calibrate("~age + C(trt)", [500, 25500, 240])
    drk = dcoh.rake([("trt", POP_TRT), ("sex", POP_SEX)])
    dyps = dcoh.subset(young).post_stratify("trt", pd.DataFrame({"trt": [1, 2],
                                                                 "Freq": [190, 170]}))
    dpps = sh.SurveyDesign(coh, fpc="randprob", pps="brewer")
    return {
        "plain": dcoh, "plain_female": dcoh.subset(fem), "cluster_young": dclus.subset(young),
        "poststrat": dps, "poststrat_female": dps.subset(fem),
        "calibrated_young": dcal.subset(young), "raked_young": drk.subset(young),
        "young_poststrat_female": dyps.subset(fem), "pps_female": dpps.subset(fem),
    }


def _replicate(coh: pd.DataFrame):
    rw = pd.read_csv(FIX / "cohort_jkn_repweights.csv.gz")
    assert (rw["id"].to_numpy() == coh["id"].to_numpy()).all()
    return sh.ReplicateDesign(coh, weights="w", replicate_weights=rw.drop(columns="id").to_numpy(),
                              method=REP["type"].lower(), scale=REP["scale"],
                              rscales=REP["rscales"], mse=REP["mse"])


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


TAYLOR_CASES = ["plain", "plain_female", "cluster_young", "poststrat", "poststrat_female",
                "calibrated_young", "raked_young", "young_poststrat_female", "pps_female"]


def test_r_routes_agree_and_rule_holds_in_r():
    # what R itself says: both routes give one ll, and it is coxph with w / (sum(w_dom) / n_R)
    for case in REF.values():
        if case["subset_arg"]["ll"] is None:
            continue
        if "subset_design" in case:
            assert case["routes_agree_ll"], case["id"]
            assert _rel(case["subset_design"]["ll"], case["subset_arg"]["ll"]) < 1e-12
        assert _rel(case["by_hand_ll"], case["subset_arg"]["ll"]) < 1e-10, case["id"]
    # R keeps the out-of-domain rows exactly for calibrated / pps / twophase2 / calibrated
    # two-phase designs
    kept = {k: c["rows_kept"] for k, c in REF.items()}
    assert kept["plain_female"] == 310 and kept["cluster_young"] < 362
    assert kept["poststrat_female"] == kept["calibrated_young"] == kept["pps_female"] == 362
    assert kept["young_poststrat_female"] == kept["cluster_young"]
    assert kept["twophase_approx_young"] < kept["twophase_approx_calibrated_young"]
    assert kept["twophase_full_young"] == kept["twophase_approx_calibrated_young"]


@pytest.mark.parametrize("case", TAYLOR_CASES)
def test_loglik_matches_r_svydesign(cohort, case):
    m = coxph(_designs(cohort)[case], "time", "dead", RHS)
    r = REF[case]["subset_arg"]
    assert m.nobs == r["n"] and m.n_events == r["nevent"]
    assert _rel(m.params.to_numpy(), r["coef"]) < 1e-8
    # the SEs are those of R's subset= route (R's subset(design) route differs for calibrated
    # and PPS domains: see the coxph module docstring)
    assert _rel(m.bse.to_numpy(), r["se"]) < 1e-8
    assert len(m.loglik) == 2
    assert _rel(m.loglik, r["ll"]) < TOL


def test_calibrated_domain_loglik_is_not_the_uncalibrated_ones(cohort):
    # hand check of the scaling: with weights c * w the log partial likelihood is
    # c * ll(w) - c * log(c) * (weighted events); the calibrated domain's R weights are the
    # mean-1 domain weights times c = n_R / n_domain
    fem = cohort["sex"] == "f"
    d = sh.SurveyDesign(cohort, weights="w", strata="edema").post_stratify("trt", POP_TRT)
    dom = d.subset(fem)
    m = coxph(dom, "time", "dead", RHS)
    w = dom.weights
    ev = cohort["dead"].to_numpy() == 1
    c = len(cohort) / fem.sum()
    # the same fit, as an uncalibrated design with the calibrated weights (R drops the rows)
    plain = sh.SurveyDesign(cohort.assign(wc=np.where(fem, w, 1.0)), weights="wc").subset(fem)
    m1 = coxph(plain, "time", "dead", RHS)
    np.testing.assert_allclose(m1.params, m.params, rtol=1e-12)
    d_w = (w[ev] / w[fem.to_numpy()].mean()).sum()
    expected = [c * ll - c * np.log(c) * d_w for ll in m1.loglik]
    np.testing.assert_allclose(m.loglik, expected, rtol=1e-12)
    np.testing.assert_allclose(m.loglik, REF["poststrat_female"]["subset_arg"]["ll"], rtol=TOL)


@pytest.mark.parametrize("case", ["jkn", "jkn_female", "jkn_poststrat_female"])
def test_replicate_loglik_is_r_full_sample_fit(cohort, case):
    rc = _replicate(cohort)
    fem = cohort["sex"] == "f"
    d = {"jkn": rc, "jkn_female": rc.subset(fem),
         "jkn_poststrat_female": rc.post_stratify("trt", POP_TRT).subset(fem)}[case]
    m = coxph(d, "time", "dead", RHS)
    r = REF[case]
    # R: no ll, loglik NA (svycoxph.svyrep.design)
    assert r["subset_arg"]["ll"] is None
    assert r["subset_arg"]["loglik"] == [None, None]
    assert _rel(m.params.to_numpy(), r["subset_arg"]["coef"]) < 1e-8
    assert _rel(m.loglik, r["by_hand_ll"]) < TOL


@pytest.mark.parametrize("method", ["full", "approx"])
@pytest.mark.parametrize("what", ["young", "calibrated", "calibrated_young"])
def test_loglik_matches_r_twophase(casecohort, method, what):
    cc = sh.TwoPhaseDesign(casecohort, subset="in_phase2", strata="event", method=method)
    young = casecohort["age"] < 60
    d = {"young": lambda: cc.subset(young),
         "calibrated": lambda: cc.calibrate("~age + sex"),
         "calibrated_young": lambda: cc.calibrate("~age + sex").subset(young)}[what]()
    m = coxph(d, "time", "event", "C(grade) + sex")
    r = REF[f"twophase_{method}_{what}"]["subset_arg"]
    assert m.nobs == r["n"] and m.n_events == r["nevent"]
    assert _rel(m.params.to_numpy(), r["coef"]) < 1e-8
    if not (method == "full" and what == "calibrated_young"):
        # (R's calibrated full-design domain differs: socialhealth.design.twophase docstring)
        assert _rel(m.bse.to_numpy(), r["se"]) < 1e-8
    assert _rel(m.loglik, r["ll"]) < TOL


def _r_design_rows(d) -> int:
    """Rows of R's design object, from the weight total over the rows used and the mean weight
    R divides by (model_weight_mean: the zero-weight rows R keeps included)."""
    return round(float(d.weights[d.in_subset].sum()) / d.model_weight_mean())


def test_model_weight_mean_counts_the_rows_r_keeps(cohort, casecohort):
    for case, d in _designs(cohort).items():
        assert _r_design_rows(d) == REF[case]["rows_kept"], case
    rc = _replicate(cohort)
    fem = cohort["sex"] == "f"
    assert _r_design_rows(rc.post_stratify("trt", POP_TRT).subset(fem)) == \
        REF["jkn_poststrat_female"]["rows_kept"] == int(fem.sum())
    young = casecohort["age"] < 60
    for method in ["full", "approx"]:
        cc = sh.TwoPhaseDesign(casecohort, subset="in_phase2", strata="event", method=method)
        assert _r_design_rows(cc.subset(young)) == REF[f"twophase_{method}_young"]["rows_kept"]
        cal = cc.calibrate("~age + sex").subset(young)
        assert _r_design_rows(cal) == REF[f"twophase_{method}_calibrated_young"]["rows_kept"]
