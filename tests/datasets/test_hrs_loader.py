"""HRS loader on a small RAND-HRS-like Stata file (lower-case names, extended missing values)
written here; expected outputs worked out by hand in the comments."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialhealth import datasets
from socialhealth.datasets.hrs import load_hrs
from socialhealth.errors import DatasetError, LicensedDataError, SurveyFileError, UnknownWaveError

NA = np.nan
M, D = "m", "d"          # Stata extended missing .m / .d
RAND = {
    "hhidpn":      [1010, 1020, 1030, 1040, 1050, 1060, 1070, 1080],
    "raestrat":    [1, 1, 2, 2, 3, 3, 4, 4],
    "raehsamp":    [1, 2, 1, 2, 1, 2, 1, 1],
    "ragender":    [1, 2, 1, 2, 1, 2, 1, 2],
    "radyear":     [NA, 2007, 2010, NA, NA, NA, NA, 2005],
    "r8iwstat":    [1, 1, 1, 1, 1, 4, 1, 5],
    "r9iwstat":    [1, 5, 1, 4, 7, 1, 1, 6],
    "r10iwstat":   [1, 6, 5, 1, 0, 1, 9, 6],
    "r8iwendy":    [2006, 2006, 2007, 2006, 2006, NA, 2006, NA],
    "r9iwendy":    [2008, NA, 2008, NA, NA, 2008, 2009, NA],
    "r10iwendy":   [2010, NA, NA, 2010, NA, 2010, NA, NA],
    "r8lblonely3": [1.0, 2.3333333, 3.0, 1.6666667, M, 2.0, 2.0, 1.0],
    "r8lbwgtr":    [1000, 2000, 0, 1500, 0, 1000, 500, 0],
    "r8wtresp":    [2000, 3000, 1000, 0, 2500, 1500, 1000, 0],
    "r8agey_e":    [55, 62, 70, 81, 90, 66, 58, 77],
    "r8shlt":      [1, 5, 4, 2, D, 3, 2, 5],
    "r8cesd":      [0, 5, 4, 3, 1, 8, M, 2],
}


def _vals(s):
    return [None if pd.isna(v) else v for v in s.astype(object)]


def write_rand(path, drop=(), rows=RAND):
    import pyreadstat

    cols = {k: v for k, v in rows.items() if k not in drop}
    df = pd.DataFrame({k: pd.Series(v, dtype=object).map(
        lambda x: x if isinstance(x, str) else float(x)) for k, v in cols.items()})
    miss = {k: sorted({x for x in v if isinstance(x, str)}) for k, v in cols.items()}
    pyreadstat.write_dta(df, str(path), version=15,
                         missing_user_values={k: v for k, v in miss.items() if v},
                         variable_value_labels={"r8shlt": {1: "1.excellent", 2: "2.very good",
                                                           3: "3.good", 4: "4.fair", 5: "5.poor"}}
                         if "r8shlt" in cols else {})
    return path


@pytest.fixture
def rand(tmp_path):
    return write_rand(tmp_path / "randhrs1992_2022v1.dta")


def test_hrs_wave8_by_hand(rand):
    sd = datasets.load("hrs", path=rand, wave=8)
    p = sd.provenance
    # rows 6 (status 4) and 8 (status 5) are not wave-8 respondents; row 4 has weight 0
    assert p["rows_read"] == 8 and p["rows_kept"] == 5
    assert list(p["rows_dropped"].values()) == [2, 1]
    assert p["weight_variable"] == "r8wtresp" and p["variables"]["lonely3"] == "r8lblonely3"
    assert p["later_waves"] == [9, 10]
    mc = p["missing_codes"]
    assert mc["r8lblonely3"] == {".m": 1} and mc["r8shlt"] == {".d": 1} and mc["r8cesd"] == {".m": 1}
    d = sd.data   # rows 1, 2, 3, 5, 7
    assert _vals(d["respondent_id"]) == ["1010", "1020", "1030", "1050", "1070"]
    assert d["year"].tolist() == [2006, 2006, 2007, 2006, 2006]
    assert _vals(d["lonely"]) == [False, True, True, None, True]
    assert _vals(d["self_rated_health"]) == ["excellent", "poor", "fair", None, "very good"]
    assert _vals(d["depression"]) == [False, True, True, False, None]
    assert _vals(d["sex"]) == ["male", "female", "male", "male", "male"]
    # row 1 alive in 9 and 10; row 2 status 5 in wave 9; row 3 status 5 in wave 10;
    # row 5 dropped (7) then 0: no information; row 7 alive in 9, unknown (9) in 10
    assert _vals(d["died"]) == [False, True, True, None, False]
    # 2010 - 2006; RADYEAR 2007 - 2006; RADYEAR 2010 - 2007; -; r9iwendy 2009 - 2006
    assert _vals(d["followup_years"]) == [4.0, 1.0, 3.0, None, 3.0]
    cb = sd.codebook.set_index("concept")
    assert "[U]" in cb.loc["lonely", "notes"] and cb.loc["died", "measured"]
    assert d["strata"].nunique() == 4 and len(set(zip(d["strata"], d["psu"]))) == 5
    est = sd.design.mean("lonely").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx(5000 / 7000, rel=1e-14)    # rows 1 F 2000, 2 T 3000, 3 T 1000, 7 T 1000


def test_hrs_leave_behind_weight(rand):
    sd = load_hrs(rand, wave=8, weight="leave_behind")
    assert sd.provenance["weight_variable"] == "r8lbwgtr"
    assert _vals(sd.data["respondent_id"]) == ["1010", "1020", "1040", "1070"]
    # lonely: F 1000, T 2000, F (1.667) 1500, T 500
    est = sd.design.mean("lonely").to_frame().iloc[0]["estimate"]
    assert est == pytest.approx(2500 / 5000, rel=1e-14)


def test_hrs_wave_without_loneliness(tmp_path):
    rows = {k.replace("r8", "r7", 1) if k.startswith("r8") else k: v for k, v in RAND.items()}
    rows = {k: v for k, v in rows.items() if k != "r7lblonely3"}
    p = write_rand(tmp_path / "rand7.dta", rows=rows)
    sd = load_hrs(p, wave=7)
    cb = sd.codebook.set_index("concept")
    assert not cb.loc["lonely", "measured"] and sd.data["lonely"].isna().all()
    assert "wave 8" in cb.loc["lonely", "notes"]
    # no later waves in this file (r8.. absent, r9/r10 present): died uses waves 9 and 10
    assert sd.provenance["later_waves"] == [9, 10]


def test_hrs_bad_input(rand, tmp_path, ess_sav_file, cache_dir, leftovers):
    with pytest.raises(UnknownWaveError, match="1-16"):
        load_hrs(rand, wave=17)
    with pytest.raises(DatasetError, match="wave="):
        load_hrs(rand)
    with pytest.raises(DatasetError, match="weight"):
        load_hrs(rand, wave=8, weight="household")
    with pytest.raises(SurveyFileError, match="raestrat|RAESTRAT"):
        load_hrs(write_rand(tmp_path / "nostrat.dta", drop=("raestrat",)), wave=8)
    with pytest.raises(SurveyFileError, match="HHIDPN"):
        load_hrs(ess_sav_file, wave=8)
    bad = tmp_path / "rand_bad.dta"
    bad.write_bytes(b"\x01\x02not a dta" * 20)
    with pytest.raises(SurveyFileError):
        load_hrs(bad, wave=8)
    empty = tmp_path / "rand_empty.dta"
    empty.write_bytes(b"")
    with pytest.raises(SurveyFileError, match="empty"):
        load_hrs(empty, wave=8)
    with pytest.raises(LicensedDataError) as e:
        datasets.load("hrs", wave=8)
    assert "isr.umich.edu" in str(e.value) and "path=" in str(e.value)
    with pytest.raises(LicensedDataError, match="hrs.isr.umich.edu"):
        load_hrs(wave=8)
    assert leftovers(cache_dir) == []


# R survey 4.1-1 on the 5 wave-8 rows kept (rows 1, 2, 3, 5, 7; lonely and depression as
# worked out in test_hrs_wave8_by_hand; strata 2, 3 and 4 have one PSU each):
#   library(survey); options(survey.lonely.psu = "adjust")
#   d <- data.frame(raestrat = c(1, 1, 2, 3, 4), raehsamp = c(1, 2, 1, 1, 1),
#                   r8wtresp = c(2000, 3000, 1000, 2500, 1000),
#                   lonely = c(0, 1, 1, NA, 1), depression = c(0, 1, 1, 0, NA))
#   des <- svydesign(ids = ~raehsamp, strata = ~raestrat, weights = ~r8wtresp, nest = TRUE, data = d)
#   svymean(~lonely, des, na.rm = TRUE); svymean(~depression, des, na.rm = TRUE)
R_HRS = {"lonely": (0.714285714285714, 0.331593404270856),
         "depression": (0.470588235294118, 0.334048951865666)}


@pytest.mark.parametrize("var", sorted(R_HRS))
def test_hrs_design_matches_r(rand, var):
    """The loader's design (raestrat / raehsamp nested, lonely PSUs adjusted) gives R's SE."""
    est = datasets.load("hrs", path=rand, wave=8).design.mean(var).to_frame().iloc[0]
    assert est["estimate"] == pytest.approx(R_HRS[var][0], rel=1e-12)
    assert est["se"] == pytest.approx(R_HRS[var][1], rel=1e-10)


# --- direction of R{w}LBLONELY3 checked against the CES-D item R{w}FLONE -----------------
# RAND's construction of LBLONELY3 could not be verified (hrs.toml): if RAND averaged the raw
# leave-behind items (1 = often ... 3 = hardly ever) without reversing them, 'lonely' (score
# >= 2) would be silently inverted. The loader compares the scale with R8FLONE (felt lonely,
# 0/1): 40 respondents, scores 1, 4/3, 5/3, 2, 7/3, 8/3, 3 cycling; FLONE = 1 exactly when
# the score is >= 2 except two rows flipped (so the relation is strong but not perfect).
def _direction_rows(reverse=False, n=40):
    scores = [1.0, 4 / 3, 5 / 3, 2.0, 7 / 3, 8 / 3, 3.0]
    s = [scores[i % 7] for i in range(n)]
    flone = [1.0 if v >= 2 else 0.0 for v in s]
    flone[0], flone[3] = 1.0, 0.0                 # two discordant answers
    return {
        "hhidpn": [1000 + i for i in range(n)], "raestrat": [1 + i % 4 for i in range(n)],
        "raehsamp": [1 + i % 2 for i in range(n)], "r8iwstat": [1.0] * n,
        "r8wtresp": [1000.0] * n, "r8lbwgtr": [500.0] * n,
        "r8lblonely3": [4 - v for v in s] if reverse else s, "r8flone": flone,
    }


def test_lonely3_direction_consistent_with_flone(tmp_path):
    rows = _direction_rows()
    path = write_rand(tmp_path / "randhrs1992_2022v1.dta", rows=rows)
    import warnings as _w

    from socialhealth.errors import SocialHealthWarning
    with _w.catch_warnings(record=True) as got:
        _w.simplefilter("always")
        sd = load_hrs(path, wave=8, weight="leave_behind", cache=False)
    assert not [w for w in got if issubclass(w.category, SocialHealthWarning)]
    chk = sd.provenance["lonely3_direction_check"]
    assert chk["checked"] is True and chk["consistent"] is True
    assert chk["n"] == 40 and chk["against"] == "r8flone" and chk["correlation"] > 0.5
    # 'lonely' = score >= 2: 4 of every 7 rows (2, 7/3, 8/3, 3) in the 5 full cycles (35
    # rows), then rows 36-40 hold 1, 4/3, 5/3, 2, 7/3: 2 more -> 22
    assert int(sd.data["lonely"].sum()) == 5 * 4 + 2


def test_lonely3_reversed_scale_warns(tmp_path):
    """Regression: before this check a reversed RAND scale inverted 'lonely' silently."""
    from socialhealth.errors import SocialHealthWarning

    path = write_rand(tmp_path / "randhrs1992_2022v1.dta", rows=_direction_rows(reverse=True))
    with pytest.warns(SocialHealthWarning, match="NEGATIVELY.*r8flone.*inverted"):
        sd = load_hrs(path, wave=8, weight="leave_behind", cache=False)
    chk = sd.provenance["lonely3_direction_check"]
    assert chk["checked"] is True and chk["consistent"] is False and chk["correlation"] < -0.5
    assert any("NEGATIVELY" in n for n in sd.provenance["notes"])


def test_lonely3_direction_not_checked_without_flone_or_rows(tmp_path, rand):
    sd = load_hrs(rand, wave=8, cache=False)             # the hand file has no r8flone
    chk = sd.provenance["lonely3_direction_check"]
    assert chk["checked"] is False and "r8flone" in chk["reason"].lower()
    few = _direction_rows(n=12)
    sd = load_hrs(write_rand(tmp_path / "few.dta", rows=few), wave=8, cache=False)
    chk = sd.provenance["lonely3_direction_check"]
    assert chk["checked"] is False and chk["n"] == 12 and "fewer than 30" in chk["reason"]


def test_lonely3_reversed_scale_warns_again_from_the_cache(tmp_path, cache_dir):
    """Regression: the warning was raised by the load that read the file only; the same load
    from the Parquet cache (a notebook run again) was silent."""
    from socialhealth.errors import SocialHealthWarning

    path = write_rand(tmp_path / "randhrs1992_2022v1.dta", rows=_direction_rows(reverse=True))
    for expected in ("miss", "hit"):
        with pytest.warns(SocialHealthWarning, match="NEGATIVELY.*r8flone.*inverted") as rec:
            sd = load_hrs(path, wave=8, weight="leave_behind")
        assert sd.provenance["cache"] == expected
        assert sum("NEGATIVELY" in str(w.message) for w in rec) == 1
    assert any(cache_dir.rglob("*.parquet"))


def test_lonely3_warning_on_every_load_under_the_default_filter(tmp_path):
    """Python's default filter shows a warning once per code location: a notebook cell that
    loads the file again (same line) must still show it (each load warns with a registry of
    its own), attributed to the caller's line, not to socialhealth's code."""
    import warnings as _w

    from socialhealth.errors import SocialHealthWarning

    path = write_rand(tmp_path / "randhrs1992_2022v1.dta", rows=_direction_rows(reverse=True))
    with _w.catch_warnings(record=True) as got:
        _w.simplefilter("default")
        for _ in range(3):
            load_hrs(path, wave=8, weight="leave_behind")
    mine = [w for w in got if issubclass(w.category, SocialHealthWarning)
            and "NEGATIVELY" in str(w.message)]
    assert len(mine) == 3
    assert {w.filename for w in mine} == {__file__}
