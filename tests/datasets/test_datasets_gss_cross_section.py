"""GSS cross-section layout (NORC's single-year releases and the cumulative file).

Real-file tests on GSS2018.dta (skipped when ../shared/data is absent): expected values come
from a direct pyreadstat read of the file with every recode written out in this test (never
the loader's rules), and from R survey 4.1-1 (tests/fixtures/datasets/make_gss2018_reference.R
-> gss2018_reference.json). The synthetic tests write small Stata files in the same layout.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from socialhealth import datasets
from socialhealth.datasets._codebook import load_codebook
from socialhealth.errors import DatasetError, SurveyFileError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "datasets" / "gss2018_reference.json"
R = json.loads(FIX.read_text())


# ----------------------------------------------------------------------------- helpers
def _letters(col: pd.Series) -> dict:
    """Stata extended missing codes in a pyreadstat user_missing=True column, counted by hand."""
    if pd.api.types.is_numeric_dtype(col):
        return {}
    is_code = col.map(lambda v: isinstance(v, str) and len(v) == 1 and v.isalpha())
    return {"." + k: int(n) for k, n in Counter(col[is_code]).items()}


def _num(col: pd.Series) -> np.ndarray:
    is_code = col.map(lambda v: isinstance(v, str))
    return pd.to_numeric(col.where(~is_code), errors="coerce").to_numpy(dtype=float)


def _f(s: pd.Series) -> np.ndarray:
    """A harmonised column as floats (booleans 1/0), NaN where missing."""
    return pd.to_numeric(s.astype(object).where(s.notna()).map(
        lambda v: float(v) if v is not None and not pd.isna(v) else np.nan)).to_numpy(dtype=float)


def _ucla(x):            # GSS 5-point -> UCLA-3 codes, written out: 1-2 -> 1, 3 -> 2, 4-5 -> 3
    return np.select([(x == 1) | (x == 2), x == 3, (x == 4) | (x == 5)], [1.0, 2.0, 3.0], np.nan)


def _yesno(x):           # 1 yes -> 1, 2 no -> 0
    return np.select([x == 1, x == 2], [1.0, 0.0], np.nan)


@pytest.fixture(scope="module")
def gss2018(shared_data_dir):
    p = shared_data_dir / "gss" / "GSS2018.dta"
    if not p.exists():
        pytest.skip(f"{p} not available")
    return p


@pytest.fixture(scope="module")
def raw2018(gss2018):
    df, _ = pyreadstat.read_dta(str(gss2018), user_missing=True)
    return df


# ----------------------------------------------------------------------------- (a) real file
def test_rows_and_missing_codes_match_pyreadstat(gss2018, raw2018):
    sd = datasets.load("gss", path=gss2018, wave=2018, columns=["lonely1", "satsoc"])
    p = sd.provenance
    assert p["rows_read"] == 2348 == len(raw2018) and p["rows_kept"] == 2348 == len(sd.data)
    assert p["rows_dropped"] == {} and p["wave"] == "2018"
    assert p["sha256"] == hashlib.sha256(gss2018.read_bytes()).hexdigest()
    for c in p["columns_read"]:
        assert {k: v for k, v in p["missing_codes"].get(c, {}).items()} == _letters(raw2018[c]), c
    # the file's counts, as listed by NORC (gssrdoc lonely1: iap 1175, don't know 3, no answer 3)
    assert p["missing_codes"]["lonely1"] == {".i": 1175, ".d": 3, ".n": 3}
    d = sd.data
    assert d["strata"].nunique() == 78 == R["wtssnr"]["strata"]
    assert len(d[["strata", "psu"]].drop_duplicates()) == 156 == R["wtssnr"]["psus"]
    assert sd.design.degf() == R["wtssnr"]["degf"]


def test_harmonised_columns_agree_with_raw_rows(gss2018, raw2018):
    sd = datasets.load("gss", path=gss2018)
    d, r = sd.data, raw2018
    assert (d["respondent_id"].tolist()
            == [f"2018-{int(i)}" for i in _num(r["id"])])            # same row order
    l1, l2, l3 = _num(r["lonely1"]), _num(r["lonely2"]), _num(r["lonely3"])
    for col, raw in [("ucla3_companionship", l1), ("ucla3_isolated", l2), ("ucla3_left_out", l3)]:
        got = _f(d[col])
        np.testing.assert_array_equal(got, _ucla(raw))
        assert np.sum(~np.isnan(got)) == np.sum(~np.isnan(raw)) > 1160   # answers where answered
    score = _ucla(l1) + _ucla(l2) + _ucla(l3)
    np.testing.assert_array_equal(_f(d["ucla3_score"]), score)
    assert np.sum(~np.isnan(score)) == R["wtssnr"]["n_score"] == 1164
    lonely = np.where(np.isnan(score), np.nan, (score >= 6).astype(float))
    np.testing.assert_array_equal(_f(d["lonely_ucla3"]), lonely)
    np.testing.assert_array_equal(_f(d["lonely"]), lonely)   # 2018: headline = UCLA-3 rule
    cb = sd.codebook.set_index("concept")
    assert cb.loc["lonely", "measured"] and "lonely_ucla3" in cb.loc["lonely", "rule"]
    assert cb.loc["ucla3_score", "measured"]
    # social support: hlpdown 1-6 (someone) vs 7 (no one)
    h = _num(r["hlpdown"])
    np.testing.assert_array_equal(_f(d["social_support"]),
                                  np.select([(h >= 1) & (h <= 6), h == 7], [1.0, 0.0], np.nan))
    pv = _num(r["partvol"])
    np.testing.assert_array_equal(_f(d["social_activity"]),
                                  np.select([(pv >= 1) & (pv <= 4), pv == 5], [1.0, 0.0], np.nan))
    for col, src in [("depression", "depress"), ("hypertension", "hyperten"),
                     ("diabetes", "diabetes")]:
        np.testing.assert_array_equal(_f(d[col]), _yesno(_num(r[src])), err_msg=col)
    hl = _num(r["health"])
    want = pd.Series(hl).map({1.0: "excellent", 2.0: "good", 3.0: "fair", 4.0: "poor"})
    assert _vals(d["self_rated_health"]) == _vals(want)
    np.testing.assert_array_equal(_f(d["poor_health"]),
                                  np.where(np.isnan(hl), np.nan, (hl >= 3).astype(float)))
    # social evenings: the more frequent (smaller code) of socrel / socfrend; with one of the
    # two unanswered only a 1 (almost daily) settles it
    sr, sf = _num(r["socrel"]), _num(r["socfrend"])
    both = np.fmin(sr, sf)
    both[(np.isnan(sr) | np.isnan(sf)) & (both != 1)] = np.nan
    lab = {1: "daily", 2: "weekly", 3: "monthly", 4: "monthly", 5: "less than monthly",
           6: "less than monthly", 7: "never"}
    assert _vals(d["contact_in_person"]) == [None if np.isnan(v) else lab[int(v)] for v in both]
    # BMI from inches and pounds: kg / m^2 with 1 in = 0.0254 m, 1 lb = 0.45359237 kg
    bmi = _num(r["weight"]) * 0.45359237 / (_num(r["height"]) * 0.0254) ** 2
    np.testing.assert_allclose(_f(d["bmi"]), bmi, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(_f(d["cognitive_score"]), _num(r["wordsum"]))
    # concepts GSS 2018 lacks are all missing and said so
    for c in ["lonely_direct", "lonely_direct3", "smoker", "died", "contact_phone"]:
        assert not cb.loc[c, "measured"] and d[c].isna().all(), c


def test_extra_columns_agree_with_raw_rows(gss2018, raw2018):
    """Items without a schema concept come back as extra columns, recoded as written here."""
    a = datasets.load("gss", path=gss2018)
    b = datasets.load("gss", path=gss2018)
    assert (a.provenance["cache"], b.provenance["cache"]) == ("miss", "hit")
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.codebook, b.codebook)
    d, r = b.data, raw2018
    even = {1: "almost daily", 2: "once or twice a week", 3: "several times a month",
            4: "about once a month", 5: "several times a year", 6: "about once a year", 7: "never"}
    five = {1: "excellent", 2: "very good", 3: "good", 4: "fair", 5: "poor"}
    for col, src, lab in [("evenings_relatives", "socrel", even), ("evenings_neighbours", "socommun", even),
                          ("evenings_friends", "socfrend", even), ("evenings_bar", "socbar", even),
                          ("satisfaction_social", "satsoc", five), ("physical_health_5pt", "hlthphys", five),
                          ("mental_health_5pt", "hlthmntl", five), ("general_health_5pt", "health1", five)]:
        assert _vals(d[col]) == [None if np.isnan(v) else lab[int(v)] for v in _num(r[src])], col
    # gssrdoc's 2018 answer counts for these items
    assert [int(d[c].notna().sum()) for c in ["evenings_relatives", "satisfaction_social",
                                              "general_health_5pt", "contact_close_friend"]] \
        == [1556, 2327, 1415, 1168]
    f = _num(r["cntctfrd"])
    np.testing.assert_array_equal(_f(d["no_close_friends"]),
                                  np.select([f == 9, (f >= 1) & (f <= 10)], [1.0, 0.0], np.nan))
    np.testing.assert_array_equal(d["poor_mental_health_days"].to_numpy(dtype=float), _num(r["mntlhlth"]))
    cb = b.codebook.set_index("concept")
    assert all(cb.loc[c, "measured"] and "extra column" in cb.loc[c, "notes"]
               for c in b.provenance["extra_columns"])
    assert b.provenance["measured_by_year"]["satisfaction_social"] == {"2018": 2327}


def test_weights_selectable_and_recorded(gss2018, raw2018):
    sd = datasets.load("gss", path=gss2018)
    p = sd.provenance
    assert p["weights_in_file"] == ["wtssnr", "wtssall", "wtss"]
    assert p["weight_variable"] == "wtssnr" and p["weight_by_year"] == {"2018": "wtssnr"}
    np.testing.assert_array_equal(sd.data["weight"].to_numpy(), _num(raw2018["wtssnr"]))
    assert sd.codebook.set_index("concept").loc["weight", "source_variables"] == "wtssnr"
    for w in ["wtssall", "wtss", "wtssnr"]:
        sw = datasets.load("gss", path=gss2018, weight=w)
        assert sw.provenance["weight_variable"] == w and "weight=" in sw.provenance["weight_choice"]
        np.testing.assert_array_equal(sw.data["weight"].to_numpy(), _num(raw2018[w]))
    with pytest.raises(SurveyFileError, match="wtssnr"):        # this release has no PS weights
        datasets.load("gss", path=gss2018, weight="wtssnrps")
    with pytest.raises(DatasetError, match="choose one of"):
        datasets.load("gss", path=gss2018, weight="wtsx")


# ----------------------------------------------------------------------------- (b) vs R survey
@pytest.mark.parametrize("w", ["wtssnr", "wtssall"])
def test_prevalences_match_R(gss2018, w):
    sd = datasets.load("gss", path=gss2018, weight=None if w == "wtssnr" else w,
                       columns=["lonely1"])
    assert sd.provenance["weight_variable"] == w
    ref = R[w]
    des = sd.design.assign(often=lambda df: (df["lonely1"] >= 4).astype(float)
                           .where(df["lonely1"].notna()))
    for name, est in [("lonely1_often", des.mean("often")),
                      ("lonely_ucla3", sd.design.mean("lonely_ucla3")),
                      ("ucla3_score_mean", sd.design.mean("ucla3_score")),
                      ("poor_health", sd.design.mean("poor_health")),
                      ("social_support", sd.design.mean("social_support"))]:
        row = est.to_frame().iloc[0]
        assert row["estimate"] == pytest.approx(ref[name]["est"], rel=1e-10), name
        assert row["se"] == pytest.approx(ref[name]["se"], rel=1e-8), name


# ----------------------------------------------------------------------------- (c) synthetic
I, Y, D = "i", "y", "d"      # Stata extended missing letters as pyreadstat writes them

# The cross-section layout over five years. 2010 has none of the loneliness items (.y, not
# available in this year); 1996 has the days item 'lonely', 2016 cesd4, 2018 lonely1-3,
# 2004 numgiven. Expected outputs are written out in the tests.
CROSS = {
    "year":     [1996, 1996, 2004, 2010, 2010, 2016, 2016, 2018, 2018, 2018],
    "id":       [1, 2, 1, 1, 2, 1, 2, 1, 2, 3],
    "vstrat":   [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    "vpsu":     [1, 2, 1, 1, 2, 1, 2, 1, 2, 1],
    "wtssnr":   [1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.5, 0.5, 2.0],
    "wtssall":  [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    "lonely":   [6, 0, Y, Y, Y, Y, Y, Y, Y, Y],
    "cesd4":    [Y, Y, Y, Y, Y, 3, 2, Y, Y, Y],
    "lonely1":  [Y, Y, Y, Y, Y, Y, Y, 5, 1, 3],
    "lonely2":  [Y, Y, Y, Y, Y, Y, Y, 4, 2, D],
    "lonely3":  [Y, Y, Y, Y, Y, Y, Y, 3, 1, 3],
    "numgiven": [Y, Y, 0, Y, Y, Y, Y, Y, Y, Y],
    "hlpdown":  [Y, Y, Y, Y, Y, Y, Y, 7, 1, I],
    "health":   [1, 2, 3, 4, 1, 2, 3, 4, 1, 2],
}


def _write(path, cols):
    df = pd.DataFrame({k: pd.Series(v, dtype=object).map(
        lambda x: x if isinstance(x, str) else float(x)) for k, v in cols.items()})
    miss = {k: sorted({x for x in v if isinstance(x, str)}) for k, v in cols.items()}
    pyreadstat.write_dta(df, str(path), version=15,
                         missing_user_values={k: v for k, v in miss.items() if v})
    return path


def _vals(s):
    return [None if pd.isna(v) else v for v in s.astype(object)]


def test_year_without_loneliness_items_is_not_measured(tmp_path):
    # a single-year release for 2010 (NORC's GSS2010.dta has no lonely1-3 columns at all)
    only = {k: [v for v, y in zip(col, CROSS["year"]) if y == 2010] for k, col in CROSS.items()
            if k not in {"lonely", "cesd4", "lonely1", "lonely2", "lonely3", "numgiven",
                         "hlpdown"}}
    sd = datasets.load("gss", path=_write(tmp_path / "GSS2010.dta", only), wave=2010)
    cb = sd.codebook.set_index("concept")
    assert sd.provenance["rows_kept"] == 2
    for c in ["ucla3_companionship", "ucla3_isolated", "ucla3_left_out", "ucla3_score",
              "lonely_ucla3", "lonely", "lonely_direct", "lonely_direct3", "social_support"]:
        assert not cb.loc[c, "measured"] and sd.data[c].isna().all(), c
    assert "not in this file" in cb.loc["ucla3_companionship", "notes"]
    assert "2018 only" in cb.loc["ucla3_companionship", "notes"]
    assert cb.loc["self_rated_health", "measured"]
    # the same year inside a multi-year (cumulative-layout) file: .y for every 2010 row
    sd = datasets.load("gss", path=_write(tmp_path / "gss_cum.dta", CROSS), wave=2010)
    cb = sd.codebook.set_index("concept")
    for c in ["ucla3_companionship", "lonely", "lonely_direct3"]:
        assert not cb.loc[c, "measured"] and "NOT MEASURED HERE" in cb.loc[c, "notes"], c
    for c in ["ucla3_score", "lonely_ucla3"]:
        assert not cb.loc[c, "measured"] and sd.data[c].isna().all(), c
    assert sd.provenance["missing_codes"]["lonely1"] == {".y": 7}   # counted over all rows read


def test_cumulative_layout_by_year(tmp_path):
    sd = datasets.load("gss", path=_write(tmp_path / "gss_cum.dta", CROSS))
    d, p = sd.data, sd.provenance
    assert p["rows_kept"] == 10 and p["weight_by_year"] == {
        "1996": "wtssnr", "2004": "wtssnr", "2010": "wtssnr", "2016": "wtssnr", "2018": "wtssnr"}
    # years with the same weight share a range, which says how many survey years it holds
    assert "used in this file: 1996-2018 (5 survey years): wtssnr." in sd.design_spec["notes"]
    assert "used in this file: 2010: wtssnr." in datasets.load(
        "gss", path=_write(tmp_path / "gss_one.dta", CROSS), wave=2010).design_spec["notes"]
    one = datasets.load("gss", path=_write(tmp_path / "gss_w.dta", CROSS), weight="wtssall",
                        wave=[2016, 2018])
    assert "weight: wtssall (chosen with weight=); used in this file: 2016, 2018: wtssall" \
        in one.design_spec["notes"]
    # UCLA items (2018): 5 -> 3, 1 -> 1, 3 -> 2; 4 -> 3, 2 -> 1, .d; 3 -> 2, 1 -> 1, 3 -> 2
    assert _vals(d["ucla3_companionship"])[7:] == [3, 1, 2]
    assert _vals(d["ucla3_score"]) == [None] * 7 + [8, 3, None]
    assert _vals(d["lonely_ucla3"]) == [None] * 7 + [True, False, None]
    # headline: 1996 days item (6 of 7 days -> lonely, 0 -> not), 2016 cesd4 (3 most of the
    # time -> lonely, 2 some -> not), 2018 the UCLA-3 rule; 2004 and 2010 not measured
    assert _vals(d["lonely"]) == [True, False, None, None, None, True, False, True, False, None]
    assert _vals(d["lonely_direct3"]) == ["often or always", "hardly ever or never", None, None,
                                          None, "often or always", "some of the time",
                                          None, None, None]
    assert _vals(d["lonely_direct"])[5:7] == ["most of the time", "some of the time"]
    # support: 2004 numgiven 0 -> False; 2018 hlpdown 7 no one -> False, 1 -> True, .i
    assert _vals(d["social_support"]) == [None, None, False, None, None, None, None,
                                          False, True, None]
    # per-year status, from the data
    nm = p["not_measured_by_year"]
    assert nm["ucla3_companionship"] == [1996, 2004, 2010, 2016]
    assert nm["lonely"] == [2004, 2010]
    assert p["measured_by_year"]["lonely"] == {"1996": 2, "2016": 2, "2018": 2}
    assert "self_rated_health" not in nm
    # extra columns whose items this file lacks: all missing, "not measured" rows
    cbx = sd.codebook.set_index("concept")
    assert not cbx.loc["satisfaction_social", "measured"] and d["satisfaction_social"].isna().all()
    cb = sd.codebook.set_index("concept")
    assert cb.loc["lonely", "notes"].startswith("Not measured in 2004, 2010 (NORC asked it in "
                                                "1996, 2016, 2018)")
    # weighted headline share by hand over the 6 answered rows (wtssnr):
    # lonely rows 1996#1 (1.0), 2016#1 (1.0), 2018#1 (1.5); denominator 1+1+1+1+1.5+0.5
    est = sd.design.mean("lonely").to_frame().iloc[0]
    assert est["estimate"] == pytest.approx(3.5 / 6.0, rel=1e-14)


def test_ucla_rule_is_the_panels_rule():
    """One 5-point -> UCLA-3 rule, written once (gss_panel20.toml [maps]) and used by both."""
    cum, pan = load_codebook("gss"), load_codebook("gss_panel20")
    rule = {"1": 1, "2": 1, "3": 2, "4": 3, "5": 3}
    for c in ["ucla3_companionship", "ucla3_isolated", "ucla3_left_out"]:
        assert cum["concepts"][c]["map"] == pan["concepts"][c]["map"] == rule
        assert cum["concepts"][c]["map_ref"] == "gss_panel20:lonely_5pt_to_ucla3"
        assert pan["concepts"][c]["map_ref"] == "lonely_5pt_to_ucla3"


def test_shared_map_and_first_combine_errors():
    from socialhealth.datasets._codebook import _lookup_map, validate

    with pytest.raises(DatasetError, match=r"no \[maps.nope\]"):
        _lookup_map("gss_panel20:nope", "gss")
    spec = {"sources": ["a", "b"], "rule": "map", "maps": {"a": {"1": True}, "b": {"1": True}}}
    pop = {"min_age": 18, "description": "adults"}   # every codebook declares its population
    with pytest.raises(DatasetError, match="combine"):
        validate({"population": pop, "concepts": {"lonely": spec}}, "test")
    with pytest.raises(DatasetError, match="one entry per source"):
        validate({"population": pop, "concepts": {"lonely": {
            **spec, "combine": "first", "maps": {"a": {"1": True}}}}}, "test")
    with pytest.raises(DatasetError, match="not a level"):
        validate({"population": pop, "concepts": {"lonely_direct3": {
            "sources": ["a"], "rule": "map", "combine": "first",
            "maps": {"a": {"1": "sometimes"}}}}}, "test")


# ------------------------------------------------------------- provenance["wave"] (issue 14)
def _two_year_file(tmp_path, years=(2018, 2022)):
    path = tmp_path / f"gss_{'_'.join(map(str, years))}.dta"
    y = [years[0]] * 4 + [years[-1]] * 2
    pd.DataFrame({"year": y, "id": [1, 2, 3, 4, 1, 2], "vstrat": [1, 1, 2, 2, 1, 1],
                  "vpsu": [1, 2, 1, 2, 1, 2], "wtssnr": [1.5, 0.5, 1.2, 0.8, 1.0, 1.0],
                  "sex": [1, 2, 2, 1, 1, 2], "age": [30, 45, 60, 75, 41, 52],
                  "health": [1, 2, 4, 3, 2, 1]}).to_stata(path, write_index=False)
    return path


@pytest.mark.parametrize("cache", [False, True])
def test_provenance_wave_is_the_loaded_year(tmp_path, cache):
    path = _two_year_file(tmp_path)
    from socialhealth.datasets.gss import load_cumulative
    assert load_cumulative(path, wave=2018, cache=cache).provenance["wave"] == "2018"
    assert load_cumulative(path, wave=[2022], cache=cache).provenance["wave"] == "2022"
    assert load_cumulative(path, wave=[2018, 2022], cache=cache).provenance["wave"] is None
    assert load_cumulative(path, cache=cache).provenance["wave"] is None     # two years
    single = _two_year_file(tmp_path, years=(2018,))                       # like GSS2018.dta
    sd = load_cumulative(single, cache=cache)
    assert sd.provenance["wave"] == "2018" and set(sd.data["wave"]) == {"2018"}
    assert datasets.load("gss", path=single, cache=cache).provenance["wave"] == "2018"


def test_provenance_wave_real_gss2018(gss2018):
    # the single-year release without wave=: every row is 2018 (skipped without ../shared)
    assert datasets.load("gss", path=gss2018, cache=False).provenance["wave"] == "2018"
