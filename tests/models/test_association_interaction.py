"""socialhealth.models.interaction against R survey 4.1-1 (svyglm with a product term,
svycontrast, regTermTest; fixture tests/models/fixtures/association/make_interaction.R on the
synthetic nhanes example data, sh.datasets.load_example) and bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import socialhealth as sh
from socialhealth.errors import MissingColumnError, ModelError
from socialhealth.models import interaction

REF = json.loads((Path(__file__).parent / "fixtures" / "association" / "interaction_reference.json").read_text())


@pytest.fixture(scope="module")
def design(r_survey):
    nh = r_survey.data("nhanes")
    nh["female"] = (nh["RIAGENDR"] == 2) * 1.0
    return sh.SurveyDesign(nh, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU", nest=True)


def test_stratum_effects_and_wald_test_match_r(design):
    r = interaction(design, "female", "HI_CHOL", by="race", adjust=["agecat"])
    f = r.to_frame()
    assert list(f["modifier_level"]) == REF["race"]
    np.testing.assert_allclose(f["estimate"], REF["or"], rtol=1e-9)
    np.testing.assert_allclose(f["se"], REF["se"], rtol=1e-8)
    np.testing.assert_allclose(f["ci_low"], REF["ci_low"], rtol=1e-9)
    np.testing.assert_allclose(f["ci_high"], REF["ci_high"], rtol=1e-9)
    np.testing.assert_allclose(f["p"], REF["p"], rtol=1e-8)
    assert (f["df"] == REF["df_residual"]).all()
    w = REF["wald"]
    assert r.wald.statistic == pytest.approx(np.ravel(w["F"])[0], rel=1e-8)
    assert r.wald.p == pytest.approx(np.ravel(w["p"])[0], rel=1e-8)
    assert (r.wald.df, r.wald.ddf) == (w["df"], w["ddf"])
    assert (f["interaction_p"] == r.wald.p).all()


def test_reference_stratum_equals_main_effect(design):
    # in the reference stratum the exposure effect is the main-effect coefficient (hand fact)
    r = interaction(design, "female", "HI_CHOL", by="race", adjust=["agecat"])
    b = r.model.params["female"]
    assert r.to_frame()["estimate"].iloc[0] == pytest.approx(np.exp(b), rel=1e-13)


def test_bad_input(design):
    with pytest.raises(MissingColumnError):
        interaction(design, "female", "HI_CHOL", by="sex")
    with pytest.raises(ModelError, match="level"):
        interaction(design.subset(design.data["race"] == 1), "female", "HI_CHOL", by="race")
    d = design.assign(female2=np.where(design.data["race"] == 4, 0.0, design.data["female"]))
    with pytest.raises(ModelError, match="does not vary"):
        interaction(d, "female2", "HI_CHOL", by="race")
