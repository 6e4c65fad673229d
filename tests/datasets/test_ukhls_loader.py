"""UKHLS / BHPS loaders on small indresp files written here (Stata with value labels, SPSS with
user-missing negatives), real variable names and codes; expected values written out by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from socialhealth import datasets
from socialhealth.datasets import DesignFallbackWarning
from socialhealth.datasets.ukhls import load_bhps, load_ukhls
from socialhealth.errors import LicensedDataError, SurveyFileError, UnknownWaveError

W9 = {
    "pidp":         [101, 102, 103, 104, 105, 106, 107, 108, 109, 110],
    "i_psu":        [1, 1, 2, 2, 3, 3, 4, 4, 5, 5],
    "i_strata":     [1, 1, 1, 1, 2, 2, 2, 2, 3, 3],
    "i_indscui_xw": [1.0, 2.0, 0.5, 1.5, 0.0, 1.0, 2.5, 1.0, 1.0, 3.0],
    "i_indscui_lw": [1.1, 0.0, 0.6, 1.4, 0.0, 0.9, 2.0, 1.0, 1.0, 2.0],
    "i_dvage":      [16, 24, 35, 50, 60, 70, 80, -9, 45, 30],
    "i_sex":        [1, 2, 2, 1, 2, 1, 2, 1, 2, 1],
    "i_sclonely":   [1, 3, 2, -7, 3, -1, -2, -8, 1, 2],
    "i_sclackcom":  [1, 3, 2, -7, 3, 2, 1, -9, -10, 3],
    "i_scleftout":  [1, 3, 2, -7, 2, 2, 1, 1, 1, 3],
    "i_scisolate":  [1, 2, 3, -7, 3, 1, 1, 1, 1, 3],
    "i_scsf1":      [1, 5, 4, -7, 3, 2, -1, 3, 2, 1],
    "i_scghq2_dv":  [0, 6, 4, -7, 3, 12, 1, -9, 2, 4],
    "i_gor_dv":     [7, 7, 1, 12, 11, 10, 2, 3, -9, 8],
}
NEG = {-1: "don't know", -2: "refused", -7: "proxy", -8: "inapplicable", -9: "missing",
       -10: "not available for IEMB"}
LABELS = {"i_sclonely": {1: "Hardly ever or never", 2: "Some of the time", 3: "Often", **NEG},
          "i_scsf1": {1: "Excellent", 2: "Very good", 3: "Good", 4: "Fair", 5: "Poor", **NEG},
          "i_sex": {1: "male", 2: "female"}}


def _vals(s):
    return [None if pd.isna(v) else v for v in s.astype(object)]


def write_w9(path, drop=(), prefix="i_"):
    import pyreadstat

    rows = {(k.replace("i_", prefix, 1) if k.startswith("i_") else k): v
            for k, v in W9.items() if k not in drop}
    df = pd.DataFrame(rows)
    labels = {k.replace("i_", prefix, 1): v for k, v in LABELS.items() if k not in drop}
    if str(path).endswith(".sav"):
        pyreadstat.write_sav(df, str(path), variable_value_labels=labels,
                             missing_ranges={c: [{"lo": -21, "hi": -1}] for c in df.columns
                                             if c not in ("pidp",)})
    else:
        pyreadstat.write_dta(df, str(path), version=15, variable_value_labels=labels)
    return path


@pytest.fixture
def w9(tmp_path):
    return write_w9(tmp_path / "i_indresp.dta")


EXPECTED_MISSING = {"i_sclonely": {"-7": 1, "-1": 1, "-2": 1, "-8": 1},
                    "i_sclackcom": {"-7": 1, "-9": 1, "-10": 1},
                    "i_scleftout": {"-7": 1}, "i_scisolate": {"-7": 1},
                    "i_scsf1": {"-7": 1, "-1": 1}, "i_scghq2_dv": {"-7": 1, "-9": 1},
                    "i_dvage": {"-9": 1}, "i_gor_dv": {"-9": 1}}


def _sorted(mc):
    return {k: dict(sorted(v.items())) for k, v in mc.items()}


def test_ukhls_wave9_by_hand(w9):
    sd = datasets.load("ukhls", path=w9, columns=["i_sclonely"])
    p = sd.provenance
    assert p["rows_read"] == 10 and p["rows_kept"] == 9
    assert list(p["rows_dropped"].values()) == [1]             # row 5: weight 0
    assert p["weight_variable"] == "i_indscui_xw" and p["wave_prefix"] == "i_"
    assert p["lonely_direct_options"] == ["Hardly ever or never", "Some of the time", "Often"]
    assert p["missing_code_meanings"]["-7"] == "proxy respondent"
    assert _sorted(p["missing_codes"]) == _sorted(EXPECTED_MISSING)
    d = sd.data
    assert d["wave"].tolist() == ["9"] * 9 and d["year"].tolist() == [2017] * 9
    assert d["weight"].tolist() == [1.0, 2.0, 0.5, 1.5, 1.0, 2.5, 1.0, 1.0, 3.0]
    assert _vals(d["lonely_direct"]) == ["Hardly ever or never", "Often", "Some of the time", None,
                                         None, None, None, "Hardly ever or never", "Some of the time"]
    assert _vals(d["lonely"]) == [False, True, False, None, None, None, None, False, False]
    assert _vals(d["lonely_direct3"])[:3] == ["hardly ever or never", "often or always",
                                              "some of the time"]
    assert _vals(d["ucla3_companionship"]) == [1, 3, 2, None, 2, 1, None, None, 3]
    assert _vals(d["ucla3_score"]) == [3, 8, 7, None, 5, 3, None, None, 9]
    assert _vals(d["lonely_ucla3"]) == [False, True, True, None, False, False, None, None, True]
    assert _vals(d["self_rated_health"]) == ["excellent", "poor", "fair", None, "very good", None,
                                             "good", "very good", "excellent"]
    assert _vals(d["poor_health"]) == [False, True, True, None, False, None, False, False, False]
    assert _vals(d["depression"]) == [False, True, True, None, True, False, None, False, True]
    assert _vals(d["age"]) == [16.0, 24.0, 35.0, 50.0, 70.0, 80.0, None, 45.0, 30.0]
    assert _vals(d["age_group"]) == ["16-24", "16-24", "35-44", "45-54", "65-74", "75+", None,
                                     "45-54", "25-34"]
    assert _vals(d["region"]) == ["London", "London", "North East", "Northern Ireland", "Wales",
                                  "North West", "Yorkshire and the Humber", None, "South East"]
    assert d["i_sclonely"].isna().sum() == 4
    cb = sd.codebook.set_index("concept")
    assert "THREE options" in cb.loc["lonely_direct", "notes"]
    # design: 3 strata, 5 PSUs; stratum 3 has one PSU
    assert d["strata"].nunique() == 3 and d["psu"].nunique() == 5
    est = sd.design.mean("lonely").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx(2.0 / 7.5, rel=1e-14)         # rows 1, 2, 3, 9, 10
    est = sd.design.mean("lonely_ucla3").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx(5.5 / 10.0, rel=1e-14)        # rows 1, 2, 3, 6, 7, 10


def test_ukhls_sav_user_missing_same_result(w9, tmp_path):
    s = write_w9(tmp_path / "i_indresp.sav")
    a, b = datasets.load("ukhls", path=w9), datasets.load("ukhls", path=s, wave="i")
    pd.testing.assert_frame_equal(a.data, b.data)
    assert _sorted(b.provenance["missing_codes"]) == _sorted(EXPECTED_MISSING)


def test_ukhls_longitudinal_weight(w9):
    sd = load_ukhls(w9, wave=9, weight="lw")
    assert sd.provenance["weight_variable"] == "i_indscui_lw"
    assert sd.provenance["rows_kept"] == 8                      # rows 2 and 5 have lw = 0
    sd = load_ukhls(w9, weight="indscui_xw")                     # stem: prefix added
    assert sd.provenance["weight_variable"] == "i_indscui_xw"


def test_ukhls_wave_without_loneliness_items(tmp_path):
    # wave 8 (h_) carries none of the loneliness items: "not measured", not silently missing
    p = write_w9(tmp_path / "h_indresp.dta", prefix="h_",
                 drop=("i_sclonely", "i_sclackcom", "i_scleftout", "i_scisolate"))
    sd = datasets.load("ukhls", path=p)
    assert sd.provenance["wave"] == "8" and sd.data["year"].iloc[0] == 2016
    cb = sd.codebook.set_index("concept")
    for c in ["lonely", "lonely_direct", "ucla3_companionship", "ucla3_score", "lonely_ucla3"]:
        assert not cb.loc[c, "measured"] and sd.data[c].isna().all()
    assert "not asked in this wave" in cb.loc["lonely_direct", "notes"]
    assert cb.loc["lonely", "rule"] == "not measured"
    # a wave-9 file that lacks sclonely: not measured, saying the variable is absent
    q = write_w9(tmp_path / "x_indresp.dta", drop=("i_sclonely",))
    sd = datasets.load("ukhls", path=q, wave=9)
    cb = sd.codebook.set_index("concept")
    assert not cb.loc["lonely_direct", "measured"] and "i_sclonely" in cb.loc["lonely_direct", "notes"]
    assert cb.loc["lonely_ucla3", "measured"]


def test_ukhls_bad_input(tmp_path, w9, ess_sav_file, cache_dir, leftovers):
    with pytest.raises(UnknownWaveError, match="1-14"):
        datasets.load("ukhls", path=w9, wave=15)
    with pytest.raises(UnknownWaveError):
        datasets.load("ukhls", path=w9, wave="z")
    with pytest.raises(SurveyFileError, match="i_indscui_xw"):
        load_ukhls(write_w9(tmp_path / "nowt_indresp.dta", drop=("i_indscui_xw",)), wave=9)
    with pytest.raises(SurveyFileError, match="i_strata"):
        load_ukhls(write_w9(tmp_path / "ns_indresp.dta", drop=("i_strata",)), wave=9)
    with pytest.raises(SurveyFileError, match="pidp"):
        datasets.load("ukhls", path=ess_sav_file, wave=9)
    with pytest.raises(SurveyFileError, match="j_indscui_xw"):     # wrong wave asked
        datasets.load("ukhls", path=w9, wave=10)
    bad = tmp_path / "k_indresp.dta"
    bad.write_bytes(b"not stata" * 40)
    with pytest.raises(SurveyFileError):
        datasets.load("ukhls", path=bad)
    empty = tmp_path / "l_indresp.dta"
    empty.write_bytes(b"")
    with pytest.raises(SurveyFileError, match="empty"):
        datasets.load("ukhls", path=empty)
    for name in ("ukhls", "bhps"):
        with pytest.raises(LicensedDataError) as e:
            datasets.load(name)
        assert "6614" in str(e.value) and "path=" in str(e.value)
    with pytest.raises(LicensedDataError, match="ukdataservice"):
        load_ukhls()
    assert leftovers(cache_dir) == []


def test_bhps_weights_only_fallback(tmp_path):
    import pyreadstat

    df = pd.DataFrame({"pidp": [1, 2, 3, 4], "bj_xrwght": [1.0, 2.0, 0.0, 1.0],
                       "bj_age": [30, 40, 50, -9], "bj_sex": [1, 2, 1, 2],
                       "bj_hlstat": [1, 5, 2, -1], "bj_hlghq2": [0, 5, 3, -7]})
    p = tmp_path / "bj_indresp.dta"
    pyreadstat.write_dta(df, str(p), version=15)
    with pytest.warns(DesignFallbackWarning, match="weights-only"):
        sd = load_bhps(p)
    assert sd.provenance["wave"] == "10" and sd.provenance["rows_kept"] == 3
    assert _vals(sd.data["self_rated_health"]) == ["excellent", "poor", None]   # 5 very poor -> poor
    assert _vals(sd.data["depression"]) == [False, True, None]
    assert sd.design_spec == {"weights": "weight", "notes": sd.design_spec["notes"]}
    cb = sd.codebook.set_index("concept")
    assert not cb.loc["lonely", "measured"]


# R survey 4.1-1 on the 9 kept rows (run by hand):
#   library(survey); options(survey.lonely.psu = "adjust")
#   d <- data.frame(strata = c(1, 1, 1, 1, 2, 2, 2, 3, 3), psu = c(1, 1, 2, 2, 3, 4, 4, 5, 5),
#                   w = c(1.0, 2.0, 0.5, 1.5, 1.0, 2.5, 1.0, 1.0, 3.0),
#                   lonely = c(0, 1, 0, NA, NA, NA, NA, 0, 0),
#                   ucla = c(0, 1, 1, NA, 0, 0, NA, NA, 1))
#   des <- svydesign(ids = ~psu, strata = ~strata, weights = ~w, nest = TRUE, data = d)
#   svymean(~lonely, des, na.rm = TRUE); svymean(~ucla, des, na.rm = TRUE)
R_UKHLS = {"lonely": (0.266666666666667, 0.227666639553168),
           "lonely_ucla3": (0.55, 0.158705702481039)}


@pytest.mark.parametrize("var", sorted(R_UKHLS))
def test_ukhls_design_matches_r(w9, var):
    est = datasets.load("ukhls", path=w9).design.mean(var).to_frame().iloc[0]
    assert est["estimate"] == pytest.approx(R_UKHLS[var][0], rel=1e-12)
    assert est["se"] == pytest.approx(R_UKHLS[var][1], rel=1e-10)
