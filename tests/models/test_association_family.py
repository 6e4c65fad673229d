"""models.association with continuous and count outcomes (issue 12): family= and the family
chosen from the outcome, against R survey 4.1-1 svyglm (fixture written by
tests/models/fixtures/association/make_association_family.R on socialhealth's synthetic demo
survey, which R reads from a CSV exported at generation time)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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
