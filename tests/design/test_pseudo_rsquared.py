"""Design-based pseudo-R^2 of survey GLMs (Cox-Snell, Nagelkerke; Lumley 2017) against R
survey 4.1-1 ``psrsq()``: logistic and probit models, a subset, poisson with and without an
offset, a binomial count response, a model without an intercept, and a replicate design.

Reference: ``fixtures/pseudo_rsquared/make_pseudo_rsquared.R`` (seeded synthetic data; fits
with ``glm.control(epsilon = 1e-12)``, socialhealth's default ``tol=1e-12``). Closed forms of
the deviances: 1e-9 relative. R warns "Weights appear to be scaled: rsquared may be wrong" for
every model; its statistic uses the sum of the rescaled prior weights as N, as here.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import ArgumentError, ModelError

REF = json.loads((Path(__file__).parent / "fixtures" / "pseudo_rsquared"
                  / "pseudo_rsquared.json").read_text())
DATA = pd.DataFrame(REF["data"]).astype({"x": float})
DATA["grp"] = DATA["grp"].astype(str)
DATA["dom"] = DATA["dom"].astype(bool)


def fit(name):
    case = REF["models"][name]
    d = sh.SurveyDesign(DATA, psu="psu", strata="st", weights="w")
    family = "poisson" if case["formula"].startswith("k ~") else "binomial"
    link = "probit" if name == "probit" else None
    if name == "logit_subset":
        d = d.subset(DATA["dom"])
    if name.startswith("replicate"):
        d = d.to_replicate("jkn")
    kw = {"link": link} if link else {}
    return d.glm(case["formula"], family=family, **kw), case


@pytest.mark.parametrize("name", sorted(REF["models"]))
def test_pseudo_rsquared_matches_r(name):
    m, case = fit(name)
    np.testing.assert_allclose(m.deviance, case["deviance"], rtol=1e-9)
    np.testing.assert_allclose(m.pseudo_rsquared(), case["cox_snell"], rtol=1e-9)
    np.testing.assert_allclose(m.pseudo_rsquared("Nagelkerke"), case["nagelkerke"], rtol=1e-9)
    np.testing.assert_allclose(m.pseudo_rsquared("cox-snell"), case["cox_snell"], rtol=1e-9)


def test_pseudo_rsquared_by_hand():
    """Cox-Snell from the two deviances R reports and the sum of its prior weights."""
    case = REF["models"]["logit"]
    m, _ = fit("logit")
    N = case["sum_prior_weights"]
    cs = 1 - np.exp((case["deviance"] - case["null_deviance"]) / N)
    np.testing.assert_allclose(m.pseudo_rsquared(), cs, rtol=1e-9)
    nk = cs / (1 - np.exp(-case["null_deviance"] / N))
    np.testing.assert_allclose(m.pseudo_rsquared("Nagelkerke"), nk, rtol=1e-9)


def test_gaussian_and_unknown_method_refused():
    d = sh.SurveyDesign(DATA, psu="psu", strata="st", weights="w")
    assert "discrete data" in REF["gaussian_message"]
    with pytest.raises(ModelError, match="discrete outcomes"):
        d.glm("z ~ x").pseudo_rsquared()
    with pytest.raises(ArgumentError, match="'Cox-Snell', 'Nagelkerke'"):
        fit("logit")[0].pseudo_rsquared("McFadden")
