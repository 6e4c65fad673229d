"""socialhealth.models.margins against R survey 4.1-1 svypredmeans / svyby (fixture written by
tests/models/fixtures/margins/make_margins.R) and hand computations. Data: the synthetic nhanes
example data (sh.datasets.load_example("nhanes"), the same file the R script reads)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import socialhealth as sh
from socialhealth.errors import MissingColumnError, ModelError
from socialhealth.models import margins

REF = json.loads((Path(__file__).parent / "fixtures" / "margins" / "margins_reference.json").read_text())
CASES = {c["id"]: c for c in REF["cases"]}
TOL = 1e-8      # R fitted with glm.control(epsilon = 1e-13)


@pytest.fixture(scope="module")
def nhanes(r_survey):
    return r_survey.data("nhanes")


@pytest.fixture(scope="module")
def design(nhanes):
    return sh.SurveyDesign(nhanes, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU", nest=True)


@pytest.fixture(scope="module")
def logit_model(design):
    return design.glm("HI_CHOL ~ agecat + RIAGENDR + C(race)", family="binomial")


def _by_level(mg, levels):
    idx = [mg.levels.index(int(l)) for l in levels]
    M = mg.to_frame()
    M = M[M["kind"] == "margin"]["estimate"].to_numpy()[idx]
    return M, mg.vcov[np.ix_(idx, idx)]


def test_svypredmeans_parity(logit_model):
    c = CASES["nhanes_race_logit"]
    mg = margins(logit_model, "race", variance="svypredmeans")
    M, V = _by_level(mg, c["levels"])
    np.testing.assert_allclose(M, c["margin"], rtol=TOL)
    np.testing.assert_allclose(V, np.array(c["vcov"]), rtol=1e-7)
    # svycontrast differences against the first level in R's order ("2")
    ref = c["levels"][0]
    d = mg.to_frame()
    d = d[(d["kind"] == "difference")]
    mg2 = margins(logit_model, "race", variance="svypredmeans", reference=int(ref))
    d2 = mg2.to_frame()
    d2 = d2[d2["kind"] == "difference"].set_index("level")
    for lv, est, se in zip(c["levels"][1:], c["diff"], c["diff_se"]):
        assert d2.loc[int(lv), "estimate"] == pytest.approx(est, rel=TOL)
        assert d2.loc[int(lv), "se"] == pytest.approx(se, rel=1e-7)


def test_gaussian_binary_group(design):
    c = CASES["nhanes_sex_gaussian"]
    m = design.glm("HI_CHOL ~ agecat + C(race) + RIAGENDR")
    mg = margins(m, "RIAGENDR", at=[1, 2], variance="svypredmeans")
    M, V = _by_level(mg, c["levels"])
    np.testing.assert_allclose(M, c["margin"], rtol=TOL)
    np.testing.assert_allclose(V, np.array(c["vcov"]), rtol=1e-7)
    diff = mg.to_frame().query("kind == 'difference'")
    # R's svypredmeans orders the groups as they first appear in the data and the script's
    # contrast is c(-1, 1) on that order; ours is level 2 minus level 1 (reference = at[0])
    sign = 1.0 if [str(x) for x in c["levels"]] == ["1", "2"] else -1.0
    assert diff["estimate"].iloc[0] == pytest.approx(sign * c["diff"], rel=TOL)
    assert diff["se"].iloc[0] == pytest.approx(np.ravel(c["diff_se"])[0], rel=1e-7)


@pytest.mark.parametrize("variance", ["linearisation", "svypredmeans"])
def test_saturated_model_gives_domain_means(design, variance):
    # with the group as the only covariate every prediction in a group is its weighted mean,
    # so margins = svyby(~HI_CHOL, ~race, svymean) (R) and so are the SEs
    c = CASES["nhanes_race_domain_means"]
    m = design.glm("HI_CHOL ~ C(race)", family="binomial")
    mg = margins(m, "race", variance=variance)
    M, V = _by_level(mg, c["levels"])
    np.testing.assert_allclose(M, c["margin"], rtol=1e-10)
    np.testing.assert_allclose(np.sqrt(np.diag(V)), c["se"], rtol=1e-9)


def test_full_linearisation_agrees_with_replicate_reestimation(design, logit_model):
    # JKn replicates of the same design re-estimate model and margins together, so they include
    # the covariance between the covariate distribution and the coefficients that the
    # svypredmeans variance leaves out
    lin = np.sqrt(np.diag(margins(logit_model, "race").vcov))
    pm = np.sqrt(np.diag(margins(logit_model, "race", variance="svypredmeans").vcov))
    rep = design.to_replicate("jkn")
    mr = rep.glm("HI_CHOL ~ agecat + RIAGENDR + C(race)", family="binomial")
    jk = np.sqrt(np.diag(margins(mr, "race").vcov))
    assert np.max(np.abs(jk / lin - 1)) < 0.01
    assert np.max(np.abs(jk / pm - 1)) > 0.02


def test_ratio_and_difference_rules(logit_model):
    mg = margins(logit_model, "race")
    t = mg.to_frame()
    M = t[t.kind == "margin"].set_index("level")["estimate"]
    V = mg.vcov
    lv = mg.levels
    r = t[(t.kind == "ratio") & (t.level == 3)].iloc[0]
    d = t[(t.kind == "difference") & (t.level == 3)].iloc[0]
    i, j = lv.index(3), lv.index(1)
    assert d.estimate == pytest.approx(M[3] - M[1], rel=1e-12)
    assert d.se == pytest.approx(np.sqrt(V[i, i] + V[j, j] - 2 * V[i, j]), rel=1e-12)
    g = np.zeros(len(lv)); g[i], g[j] = 1 / M[3], -1 / M[1]
    se_log = np.sqrt(g @ V @ g)
    q = stats.t.ppf(0.975, mg.df)
    assert r.estimate == pytest.approx(M[3] / M[1], rel=1e-12)
    assert r.ci_low == pytest.approx(M[3] / M[1] * np.exp(-q * se_log), rel=1e-12)
    assert r.ci_high == pytest.approx(M[3] / M[1] * np.exp(q * se_log), rel=1e-12)
    assert mg.df == logit_model.design.degf()     # t intervals with the design df


def test_bad_input(logit_model, design):
    with pytest.raises(ModelError, match="not a covariate"):
        margins(logit_model, "SDMVPSU")
    with pytest.raises(MissingColumnError):
        margins(logit_model, "nothere")
    m = design.glm("HI_CHOL ~ WTMEC2YR + C(race)", family="binomial")
    with pytest.raises(ModelError, match="at="):
        margins(m, "WTMEC2YR")
    with pytest.raises(ModelError, match="variance"):
        margins(logit_model, "race", variance="bootstrap")
