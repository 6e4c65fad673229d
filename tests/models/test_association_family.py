"""models.association with continuous and count outcomes (issue 12): family= and the family
chosen from the outcome, against R survey 4.1-1 svyglm (fixture written by
tests/models/fixtures/association/make_association_family.R on socialhealth's synthetic demo
survey, which R reads from a CSV exported at generation time)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import ModelError
from socialhealth.models import association

FIX = json.loads((Path(__file__).parent / "fixtures" / "association"
                  / "association_family_reference.json").read_text())
REF, META = FIX["results"], FIX["meta"]
ADJ = ["age", "sex"]


@pytest.fixture(scope="module")
def demo():
    return sh.datasets.load("demo").design


def test_demo_data_is_what_r_read(demo):
    df = demo.data
    assert len(df) == META["rows"]
    assert df["bmi"].sum() == pytest.approx(META["sum_bmi"], rel=1e-12)
    assert int(df["lonely"].sum()) == META["n_lonely"]
    assert demo.degf() == META["degf"]


def _compare(t, ref):
    f = t.to_frame()
    for k, r in enumerate(ref["models"]):
        row = f[f["model"] == k]
        assert len(row) == 1
        np.testing.assert_allclose(row["estimate"], r["estimate"], rtol=1e-9)
        np.testing.assert_allclose(row["se"], r["se"], rtol=1e-9)
        np.testing.assert_allclose(row["ci_low"], r["ci_low"], rtol=1e-9)
        np.testing.assert_allclose(row["ci_high"], r["ci_high"], rtol=1e-9)
        np.testing.assert_allclose(row["p"], r["p"], rtol=1e-7)
        assert int(row["n"].iloc[0]) == r["n"] and float(row["df"].iloc[0]) == r["df"]


def test_continuous_outcome_is_gaussian_by_default(demo):
    # the reported papercut: outcome="bmi" was refused (measure "or" needs 0/1)
    t = association(demo, "lonely", "bmi", adjust=ADJ)
    assert t.family == "gaussian" and t.measure == "coef"
    assert t.estimate_label == "difference in means"
    assert "gaussian" in t.family_chosen and "not 0/1" in t.family_chosen
    assert "Family: gaussian" in repr(t) and "difference in means" in repr(t)
    assert (t.to_frame()["family"] == "gaussian").all()
    _compare(t, REF["bmi_gaussian"])
    # the same with family= given
    _compare(association(demo, "lonely", "bmi", adjust=ADJ, family="gaussian"), REF["bmi_gaussian"])


def test_binary_outcome_is_binomial_by_default(demo):
    t = association(demo, "lonely", "obese", adjust=ADJ)
    assert t.family == "binomial" and t.measure == "or" and t.estimate_label == "odds ratio"
    assert "0/1" in t.family_chosen
    _compare(t, REF["obese_binomial"])
    _compare(association(demo, "lonely", "obese", adjust=ADJ, family="binomial"), REF["obese_binomial"])


def test_count_outcome_with_poisson_family_gives_rate_ratios(demo):
    t = association(demo, "lonely", "social_isolation_index", adjust=ADJ, family="poisson")
    assert t.family == "poisson" and t.measure == "rr" and t.estimate_label == "rate ratio"
    _compare(t, REF["isolation_poisson"])
    # measure="rr" alone means the same model
    _compare(association(demo, "lonely", "social_isolation_index", adjust=ADJ, measure="rr"),
             REF["isolation_poisson"])


def test_family_and_measure_must_agree(demo):
    with pytest.raises(ModelError, match="does not go with"):
        association(demo, "lonely", "bmi", family="gaussian", measure="or")
    with pytest.raises(ModelError, match="family="):
        association(demo, "lonely", "bmi", family="gamma")
    # a binary measure asked for a continuous outcome: a clear message with the way out
    with pytest.raises(ModelError, match=r"needs a 0/1.*family='gaussian'"):
        association(demo, "lonely", "bmi", measure="or")


def test_coef_se_and_float(demo):
    # issue 12: R-like coef() / SE() and float() for a single estimate
    t = association(demo, "lonely", "obese", adjust=ADJ)
    r = REF["obese_binomial"]["models"]
    np.testing.assert_allclose(t.coef().to_numpy(), [m["coef"] for m in r], rtol=1e-9)   # log OR
    np.testing.assert_allclose(t.se().to_numpy(), [m["se"] for m in r], rtol=1e-9)
    assert list(t.coef().index.get_level_values("model")) == [0, 1]
    with pytest.raises(sh.errors.EstimationError, match="single estimate; this one has 2"):
        float(t)
    one = association(demo, "lonely", "bmi")
    assert float(one) == pytest.approx(REF["bmi_gaussian"]["models"][0]["estimate"], rel=1e-9)


def test_design_and_model_results_convert_like_r(demo):
    # issue 12: float(d.mean("age").estimate) failed (a one-element Series)
    m = demo.mean("bmi")
    r = REF["svymean_bmi"]
    assert float(m) == pytest.approx(r["coef"], rel=1e-12)
    assert float(m.estimate) == pytest.approx(r["coef"], rel=1e-12)
    assert m.coef().to_dict() == pytest.approx({"bmi": r["coef"]}, rel=1e-12)
    assert float(m.se()) == pytest.approx(r["se"], rel=1e-9)       # R SE(est)
    assert float(m.se) == float(m.se())                              # property still works
    assert isinstance(m.coef(), pd.Series) and isinstance(m.se(), pd.Series)
    assert type(m.se() * 2) is pd.Series                             # arithmetic: plain Series
    with pytest.raises(sh.errors.EstimationError, match=r"single estimate; this one has 2 \('bmi', 'age'\)"):
        float(demo.mean(["bmi", "age"]))
    # a fitted survey GLM: coef() / se() indexed by term (R coef(m), SE(m))
    t = association(demo, "lonely", "bmi", adjust=ADJ)
    fit = t.models[1]
    term = [n for n in fit.names if n.startswith("lonely")][0]
    assert fit.coef()[term] == pytest.approx(REF["bmi_gaussian"]["models"][1]["coef"], rel=1e-9)
    assert fit.se()[term] == pytest.approx(REF["bmi_gaussian"]["models"][1]["se"], rel=1e-9)
    assert list(fit.coef().index) == fit.names
    with pytest.raises(sh.errors.EstimationError, match="single coefficient"):
        float(fit)
