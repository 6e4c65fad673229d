"""socialhealth.models.compare_risk_factors: same rows and adjustment for every factor, equality
with design.glm, published anchors shown as published with explicit orientation, bad input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import MissingColumnError, ModelError
from socialhealth.models import anchors, compare_risk_factors


@pytest.fixture(scope="module")
def design():
    rng = np.random.default_rng(7)
    n = 4000
    df = pd.DataFrame({
        "strata": rng.integers(0, 20, n), "psu": rng.integers(0, 3, n),
        "weight": rng.uniform(0.5, 2.0, n), "age": rng.uniform(20, 85, n),
        "sex": rng.choice(["female", "male"], n),
        "lonely": rng.random(n) < 0.2, "isolation": rng.integers(0, 5, n).astype(float),
        "smoker": rng.random(n) < 0.25, "obese": (rng.random(n) < 0.3).astype(float),
        "physically_inactive": rng.random(n) < 0.35,
    })
    eta = -6 + 0.06 * df.age + 0.5 * df.lonely + 0.8 * df.smoker + 0.2 * df.obese + 0.4 * df.physically_inactive
    df["died"] = rng.random(n) < 1 / (1 + np.exp(-eta))
    df["smoker"] = df["smoker"].astype("boolean")
    df["lonely"] = df["lonely"].astype("boolean")
    df.loc[rng.choice(n, 200, replace=False), "smoker"] = pd.NA
    df.loc[rng.choice(n, 150, replace=False), "lonely"] = pd.NA
    return sh.SurveyDesign(df, weights="weight", strata="strata", psu="psu", nest=True)


def test_same_rows_and_equal_to_glm(design):
    t = compare_risk_factors(design, exposures=["lonely", "isolation >= 3"],
                             comparators=["smoker", "obese", "physically_inactive"],
                             outcome="died", adjust=["age", "sex"])
    s = t.survey()
    df = design.data
    n_cc = int(df[["died", "lonely", "isolation", "smoker", "obese", "physically_inactive", "age", "sex"]]
               .notna().all(axis=1).sum())
    assert t.n == n_cc and (s["n"] == n_cc).all()
    assert list(s["label"]) == ["lonely", "isolation >= 3", "smoker", "obese", "physically_inactive"]
    assert list(s["role"]) == ["exposure"] * 2 + ["comparator"] * 3
    sub = design.subset(df[["died", "lonely", "isolation", "smoker", "obese", "physically_inactive",
                            "age", "sex"]].notna().all(axis=1))
    m = sub.glm("died ~ smoker + age + sex", family="binomial")
    row = s[s["label"] == "smoker"].iloc[0]
    coef = [c for c in m.params.index if c.startswith("smoker")][0]
    assert row["estimate"] == pytest.approx(float(np.exp(m.params[coef])), rel=1e-12)
    lo = float(m.to_frame(exponentiate=True).set_index("term").loc[coef, "ci_low"])
    assert row["ci_low"] == pytest.approx(lo, rel=1e-12)
    mi = sub.glm("died ~ I(isolation >= 3) + age + sex", family="binomial")
    assert s[s["label"] == "isolation >= 3"]["estimate"].iloc[0] == pytest.approx(
        float(np.exp(mi.params.iloc[1])), rel=1e-12)


def test_mutual_adjustment_uses_one_model(design):
    t = compare_risk_factors(design, exposures=["lonely"], comparators=["smoker", "obese"],
                             outcome="died", adjust=["age"], mutual=True, anchors=False)
    assert len({id(m) for m in t.models.values()}) == 1
    assert (t.to_frame()["source"] == "survey").all()


def test_anchors_as_published_with_orientation(design):
    t = compare_risk_factors(design, exposures=["lonely"],
                             comparators=["smoker", "physically_inactive"], outcome="died")
    a = t.anchors()
    pa = a[a["anchor_key"] == "nocon_2008"].iloc[0]
    # published RR 0.67 (0.63-0.72) for most vs least active: shown as 1/0.67 for inactivity
    assert (pa["published_estimate"], pa["published_ci_low"], pa["published_ci_high"]) == (0.67, 0.63, 0.72)
    assert pa["estimate"] == pytest.approx(1 / 0.67)
    assert (pa["ci_low"], pa["ci_high"]) == (pytest.approx(1 / 0.72), pytest.approx(1 / 0.63))
    assert "inverted" in pa["orientation"]
    hl = a[(a["anchor_key"] == "holt-lunstad_2010") & (a["label"] == "lonely")].iloc[0]
    assert (hl["estimate"], hl["ci_low"], hl["ci_high"]) == (1.45, 1.08, 1.94)    # Table 4
    assert hl["published_estimate"] == 1.45 and "as published" in hl["orientation"]
    assert "survival" in hl["orientation"]
    # every anchor row comes from the bundled file unchanged
    src = anchors.load()
    for r in a.itertuples(index=False):
        hit = src[(src.source_key == r.anchor_key) & (src.exposure == r.anchor_exposure)
                  & (src.subgroup == r.anchor_subgroup) & (src.outcome == r.anchor_outcome)]
        assert len(hit) == 1 and hit["estimate"].iloc[0] == r.published_estimate
    assert (a["anchor_outcome"].str.startswith("all-cause mortality")).all()


def test_explicit_anchor_match(design):
    t = compare_risk_factors(design, exposures={"Feeling lonely": "lonely"}, comparators=[],
                             outcome="died", anchor_match={"Feeling lonely": "rico-uribe_2018"})
    a = t.anchors()
    assert set(a["anchor_key"]) == {"rico-uribe_2018"} and set(a["label"]) == {"Feeling lonely"}


def test_bad_input(design):
    with pytest.raises(MissingColumnError, match="heavy_drinker"):
        compare_risk_factors(design, exposures=["lonely"], comparators=["heavy_drinker"], outcome="died")
    with pytest.raises(MissingColumnError):
        compare_risk_factors(design, exposures=["lonely"], outcome="dead")
    with pytest.raises(MissingColumnError):
        compare_risk_factors(design, exposures=["lonely"], outcome="died", adjust=["income"])
    d = design.assign(const=1.0)
    with pytest.raises(ModelError, match="constant"):
        compare_risk_factors(d, exposures=["lonely"], comparators=["const"], outcome="died")
    with pytest.raises(ModelError, match="measure"):
        compare_risk_factors(design, exposures=["lonely"], outcome="died", measure="rd")
