"""Bundled published anchors: schema, internal consistency, and the published numbers
(expected values typed in from the papers' abstracts / tables, not read from the CSV)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialhealth.errors import ModelError
from socialhealth.models import anchors
from socialhealth.models._meta import i2_from_q, meta


@pytest.fixture(scope="module")
def a() -> pd.DataFrame:
    return anchors.load()


def _one(df: pd.DataFrame, **eq) -> pd.Series:
    m = np.ones(len(df), dtype=bool)
    for col, val in eq.items():
        m &= (df[col] == val).to_numpy()
    sub = df[m]
    assert len(sub) == 1, (eq, len(sub))
    return sub.iloc[0]


def test_schema_and_required_fields(a):
    assert tuple(a.columns) == anchors.REQUIRED_COLUMNS
    assert len(a) > 0
    for col in ("source_key", "kind", "exposure", "outcome", "measure", "direction",
                "adverse_rule", "status", "citation", "source_url", "location", "verified_via"):
        assert a[col].notna().all(), col
        assert (a[col].astype(str).str.strip() != "").all(), col
    assert set(a["kind"]) == {"social", "comparator"}
    assert set(a["status"]) <= {"verified", "[U]"}
    assert set(a["measure"]) <= {"OR", "HR", "RR", "RM", "ES"}
    assert set(a["direction"]) <= {"benefit of connection", "risk of deficit", "risk of exposure",
                                   "benefit of behaviour"}
    assert set(a["adverse_rule"]) <= {"as published", "reciprocal"}
    assert a["estimate"].notna().all() and (a["estimate"] > 0).all()
    assert a["source_url"].str.startswith("http").all()
    assert a["doi"].dropna().str.startswith("10.").all()
    assert (a["ci_level"] == 0.95).all()


def test_ci_contains_estimate_where_given(a):
    both = a.dropna(subset=["ci_low", "ci_high"])
    assert len(both) > 30
    assert (both["ci_low"] <= both["estimate"]).all()
    assert (both["estimate"] <= both["ci_high"]).all()
    # CI given on one side only would be a transcription error
    assert (a["ci_low"].isna() == a["ci_high"].isna()).all()


def test_reciprocal_rows_are_benefit_rows(a):
    assert ((a["adverse_rule"] == "reciprocal") == (a["direction"] == "benefit of behaviour")).all()


def test_holt_lunstad_2010_overall_and_table4(a):
    hl = a[a.source_key == "holt-lunstad_2010"]
    r = _one(hl, subgroup="overall")
    assert (r.estimate, r.ci_low, r.ci_high, r.k, r.n) == (1.50, 1.42, 1.59, 148, 308849)
    assert r.direction == "benefit of connection" and r.measure == "OR"
    # Table 4, typed in from the published table: measure -> (k, OR, low, high)
    table4 = {
        "received social support": (9, 1.22, 0.91, 1.63),
        "perceived social support": (73, 1.35, 1.22, 1.49),
        "loneliness (inversed)": (8, 1.45, 1.08, 1.94),
        "living alone (inversed)": (17, 1.19, 0.99, 1.44),
        "marital status (married vs other)": (62, 1.33, 1.20, 1.48),
        "social isolation (inversed)": (8, 1.40, 1.06, 1.86),
        "social networks": (71, 1.45, 1.32, 1.59),
        "social integration": (45, 1.52, 1.36, 1.69),
        "complex measures of social integration": (30, 1.91, 1.63, 2.23),
        "multifaceted measurement": (67, 1.47, 1.34, 1.60),
    }
    t4 = hl[hl.location == "Table 4"]
    assert len(t4) == 10
    for measure, (k, est, lo, hi) in table4.items():
        r = _one(t4, exposure=measure)
        assert (r.k, r.estimate, r.ci_low, r.ci_high) == (k, est, lo, hi), measure


def test_holt_lunstad_2015_has_no_invented_cis(a):
    hl = a[a.source_key == "holt-lunstad_2015"]
    got = dict(zip(hl.exposure, hl.estimate))
    assert got == {"social isolation": 1.29, "loneliness": 1.26, "living alone": 1.32}
    assert hl["ci_low"].isna().all() and hl["ci_high"].isna().all() and hl["k"].isna().all()
    assert (hl.direction == "risk of deficit").all()


@pytest.mark.parametrize(
    "key,filt,expected",
    [
        ("valtorta_2016", {"outcome": "incident coronary heart disease"}, (1.29, 1.04, 1.59)),
        ("valtorta_2016", {"outcome": "incident stroke"}, (1.32, 1.04, 1.68)),
        ("rico-uribe_2018", {"subgroup": "overall"}, (1.22, 1.10, 1.35)),
        ("rico-uribe_2018", {"subgroup": "women"}, (1.26, 1.07, 1.48)),
        ("rico-uribe_2018", {"subgroup": "men"}, (1.44, 1.19, 1.76)),
        ("naito_2023", {"subgroup": "overall"}, (1.33, 1.26, 1.41)),
        ("steptoe_2013", {"exposure": "loneliness"}, (0.92, 0.78, 1.09)),
        ("wang_2023", {"exposure": "loneliness", "outcome": "all-cause mortality"}, (1.14, 1.08, 1.20)),
        ("gellert_2012", {"exposure": "current smoking"}, (1.83, 1.65, 2.03)),
        ("flegal_2013", {"exposure": "obesity (all grades)"}, (1.18, 1.12, 1.25)),
        ("critchley_2003", {"subgroup": "all studies (crude RR)"}, (0.64, 0.58, 0.71)),
    ],
)
def test_published_values(a, key, filt, expected):
    r = _one(a[a.source_key == key], **filt)
    assert (r.estimate, r.ci_low, r.ci_high) == expected


def test_naito_heterogeneity_is_consistent_with_i2_formula(a):
    # published Chi2 and I2 (%): I2 = (Q - df)/Q with df = 27, 10, 16 (see test_meta)
    na = a[a.source_key == "naito_2023"].set_index("subgroup")
    for sub, df in [("overall", 27), ("Berkman-Syme Social Network Index", 10), ("other assessment tools", 16)]:
        assert round(i2_from_q(na.loc[sub, "q"], df)) == na.loc[sub, "i2"]


def test_ci_width_round_trips_through_meta_se(a):
    # a published pooled ratio with CI, fed back as a single "study" to a fixed-effect model,
    # returns the same CI up to two-decimal rounding of the published limits
    r = _one(a, source_key="naito_2023", subgroup="overall")
    res = meta([r.estimate], ci_low=[r.ci_low], ci_high=[r.ci_high], ratio=True, method="fe")
    s = res.summary.iloc[0]
    assert s["exp_ci_low"] == pytest.approx(r.ci_low, abs=0.01)
    assert s["exp_ci_high"] == pytest.approx(r.ci_high, abs=0.01)
    # exactly, by hand: se = (ln U - ln L) / (2 z), so the limits are est * exp(-+ (ln U - ln L) / 2)
    # = est * sqrt(L / U) and est * sqrt(U / L)
    assert s["exp_ci_low"] == pytest.approx(r.estimate * np.sqrt(r.ci_low / r.ci_high), rel=1e-12)
    assert s["exp_ci_high"] == pytest.approx(r.estimate * np.sqrt(r.ci_high / r.ci_low), rel=1e-12)


def test_kind_filter_and_bad_kind():
    soc = anchors.load("social")
    comp = anchors.load("comparator")
    assert len(soc) + len(comp) == len(anchors.load())
    assert set(comp["exposure"]) >= {"current smoking", "obesity (all grades)", "physical activity",
                                      "alcohol intake"}
    with pytest.raises(ModelError, match="unknown anchor kind"):
        anchors.load("smoking")


def test_adverse_scale_reciprocal_by_hand():
    df = anchors.adverse_scale(anchors.load("comparator"))
    r = _one(df, source_key="critchley_2003", subgroup="all studies (crude RR)")
    # continued smoking vs quitting: 1/0.64 = 1.5625, CI (1/0.71, 1/0.58) = (1.40845, 1.72414)
    assert r.adverse_estimate == pytest.approx(1.5625, abs=1e-12)
    assert r.adverse_ci_low == pytest.approx(1.408450704, abs=1e-9)
    assert r.adverse_ci_high == pytest.approx(1.724137931, abs=1e-9)
    g = _one(df, source_key="gellert_2012", exposure="current smoking")
    assert g.adverse_estimate == 1.83
    with pytest.raises(ModelError):
        anchors.adverse_scale(pd.DataFrame({"estimate": [1.0]}))


def test_citations_one_row_per_source():
    c = anchors.citations()
    assert c["source_key"].is_unique
    assert set(anchors.load()["source_key"]) < set(c["source_key"])
    assert c["citation"].str.len().gt(20).all()
    row = c.set_index("source_key").loc["holt-lunstad_2010_table1_partial"]
    assert "PARTIAL" in row["kind"]


def test_hl2010_table1_is_labelled_partial():
    t = anchors.hl2010_table1_partial()
    assert len(t) == 21
    assert t.attrs["partial"] is True
    assert t.attrs["rows_available"] == 21 and t.attrs["rows_in_published_table"] == 148
    assert "PARTIAL" in t.attrs["description"]
    # first and last transcribed rows, typed in from measures_and_datasets.md s3.1
    assert (t.iloc[0].study, t.iloc[0].year, t.iloc[0].ln_or, t.iloc[0].se) == ("Ahern", 1990, 0.27, 0.36)
    assert (t.iloc[-1].study, t.iloc[-1].year, t.iloc[-1].ln_or, t.iloc[-1].se) == ("Cassileth", 1988, -0.03, 0.26)
    assert (t["se"] > 0).all()
    assert list(t["row"]) == list(range(1, 22))
    assert "PARTIAL" in anchors.hl2010_table1_partial.__doc__


def test_partial_table_file_name_says_partial():
    from importlib import resources

    names = [p.name for p in resources.files("socialhealth.models.data").iterdir()]
    t1 = [n for n in names if n.startswith("holt_lunstad_2010_table1")]
    assert t1 == ["holt_lunstad_2010_table1_PARTIAL_21_of_148.csv"]
