"""GSS panels on the real files (skipped when ../shared/data is absent).

Expected values: a direct pyreadstat read of the same file in this test, R survey 4.1-1
(tests/fixtures/datasets/make_reference.R -> r_reference.json) and the linearisation variance
written out in numpy below.
"""
from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from socialhealth import datasets
from socialhealth.errors import UnknownWaveError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "datasets" / "r_reference.json"
R = json.loads(FIX.read_text())


def _file(shared_data_dir, rel):
    p = shared_data_dir / rel
    if not p.exists():
        pytest.skip(f"{p} not available")
    return p


def _letters(col: pd.Series) -> dict:
    """Stata extended missing codes in a pyreadstat user_missing=True column, counted by hand."""
    if pd.api.types.is_numeric_dtype(col):
        return {}
    is_code = col.map(lambda v: isinstance(v, str) and len(v) == 1 and v.isalpha())
    return {"." + k: int(n) for k, n in Counter(col[is_code]).items()}


def _numeric(col: pd.Series) -> np.ndarray:
    is_code = col.map(lambda v: isinstance(v, str) and len(v) == 1 and v.isalpha())
    return pd.to_numeric(col.where(~is_code), errors="coerce").to_numpy(dtype=float)


def lin_se_ratio(y, w, strata, psu, domain):
    """SE of the weighted mean of y over `domain` (Taylor linearisation, with-replacement PSUs,
    nest=TRUE, lonely PSUs centred at the grand mean of PSU totals: R lonely.psu='adjust').

    z_i = w_i (y_i - p) / sum_domain(w) for rows in the domain, 0 elsewhere;
    V = sum_h n_h/(n_h-1) sum_j (z_hj - zbar_h)^2 over strata with n_h >= 2 PSUs,
      + sum over single-PSU strata of (z_h1 - zbar)^2, zbar = mean of all PSU totals.
    """
    w_d = np.where(domain, w, 0.0)
    p = np.sum(w_d * np.where(domain, y, 0.0)) / np.sum(w_d)
    z = np.where(domain, w * (np.where(domain, y, 0.0) - p), 0.0) / np.sum(w_d)
    df = pd.DataFrame({"h": strata, "j": [f"{a}|{b}" for a, b in zip(strata, psu)], "z": z})
    tot = df.groupby(["h", "j"])["z"].sum().reset_index()
    zbar_all = tot["z"].mean()
    v = 0.0
    for _, g in tot.groupby("h"):
        nh = len(g)
        if nh >= 2:
            v += nh / (nh - 1) * np.sum((g["z"] - g["z"].mean()) ** 2)
        else:
            v += float((g["z"].iloc[0] - zbar_all) ** 2)
    return p, np.sqrt(v)


# ----------------------------------------------------------------------------- 2016-2020 panel
@pytest.fixture(scope="module")
def panel20(shared_data_dir):
    return _file(shared_data_dir, "gss/gss_panel20.dta")


def test_panel20_wave2020_rows_and_design(panel20):
    sd = datasets.load("gss_panel20", path=panel20, wave=2020, columns=["lonely1_2"])
    p = sd.provenance
    assert p["rows_read"] == 5215
    assert p["rows_kept"] == 1823 == len(sd.data)
    assert p["rows_dropped"] == {"no 2020 weight (not re-interviewed)": 5215 - 1823}
    assert p["rows_read"] == p["rows_kept"] + sum(p["rows_dropped"].values())
    d = sd.data
    assert d["strata"].nunique() == 143 == R["gss_panel20_2020"]["strata"]
    assert len(d[["strata", "psu"]].drop_duplicates()) == 283 == R["gss_panel20_2020"]["psus"]
    per = d.groupby("strata")["psu"].nunique()
    assert sorted(per[per == 1].index.tolist()) == ["3211", "3228", "3355"]
    assert sd.design.degf() == R["gss_panel20_2020"]["degf"] == 140
    import hashlib

    assert p["sha256"] == hashlib.sha256(panel20.read_bytes()).hexdigest()


def test_panel20_missing_codes_match_pyreadstat(panel20):
    sd = datasets.load("gss_panel20", path=panel20, wave=2020, columns=["lonely1_2"])
    cols = sd.provenance["columns_read"]
    raw, _ = pyreadstat.read_dta(str(panel20), usecols=cols, user_missing=True)
    assert len(raw) == sd.provenance["rows_read"]
    for c in cols:
        mine = {k: v for k, v in sd.provenance["missing_codes"].get(c, {}).items() if k != "."}
        assert mine == _letters(raw[c]), c
    # the README's worked example
    assert sd.provenance["missing_codes"]["lonely1_2"] == {".i": 3431, ".s": 5, ".n": 3, ".d": 1}


def test_panel20_prevalence_matches_hand_and_R(panel20):
    sd = datasets.load("gss_panel20", path=panel20, wave=2020, columns=["lonely1_2"])
    des = sd.design.assign(often=lambda df: (df["lonely1_2"] >= 4).astype(float)
                           .where(df["lonely1_2"].notna()))
    est = des.mean("often").to_frame().iloc[0]
    # by hand on the raw columns, read independently
    raw, _ = pyreadstat.read_dta(str(panel20), usecols=["vstrat_2", "vpsu_2", "wtssnr_2", "lonely1_2"],
                                 user_missing=True)
    w = _numeric(raw["wtssnr_2"])
    keep = ~np.isnan(w)
    y = _numeric(raw["lonely1_2"])[keep]
    p, se = lin_se_ratio((y >= 4).astype(float), w[keep], _numeric(raw["vstrat_2"])[keep],
                         _numeric(raw["vpsu_2"])[keep], ~np.isnan(y))
    ref = R["gss_panel20_2020"]["lonely1_often"]
    assert est["estimate"] == pytest.approx(p, rel=1e-12)
    assert est["se"] == pytest.approx(se, rel=1e-10)
    assert est["estimate"] == pytest.approx(ref["est"], rel=1e-10)
    assert est["se"] == pytest.approx(ref["se"], rel=1e-8)
    # a harmonised column through the same design: poor_health = health_2 fair/poor
    ph = sd.design.mean("poor_health").to_frame().iloc[0]
    assert ph["estimate"] == pytest.approx(R["gss_panel20_2020"]["poor_health"]["est"], rel=1e-10)
    assert ph["se"] == pytest.approx(R["gss_panel20_2020"]["poor_health"]["se"], rel=1e-8)


def test_panel20_alternative_weight(panel20):
    sd = datasets.load("gss_panel20", path=panel20, wave=2020, weight="wtssall",
                       columns=["lonely1_2"])
    assert sd.provenance["weight_variable"] == "wtssall_2"
    des = sd.design.assign(often=lambda df: (df["lonely1_2"] >= 4).astype(float)
                           .where(df["lonely1_2"].notna()))
    est = des.mean("often").to_frame().iloc[0]
    ref = R["gss_panel20_2020"]["lonely1_often_wtssall"]
    assert est["estimate"] == pytest.approx(ref["est"], rel=1e-10)
    assert est["se"] == pytest.approx(ref["se"], rel=1e-8)


def test_panel20_waves_2016_2018(panel20):
    raw, _ = pyreadstat.read_dta(str(panel20), usecols=["samptype", "panstat", "cesd4_1a",
                                                        "lonely3_1b"], user_missing=True)
    for wave, n in [(2016, 2867), (2018, 2348)]:
        sd = datasets.load("gss_panel20", path=panel20, wave=wave)
        assert sd.provenance["rows_kept"] == n
        assert sd.provenance["rows_read"] == n + sum(sd.provenance["rows_dropped"].values())
        rows = raw[_numeric(raw["samptype"]) == wave]
        # died = panstat 33 (a proxy); 0 / 2 -> missing
        pan = _numeric(rows["panstat"])
        assert int(sd.data["died"].sum()) == int((pan == 33).sum())
        assert int(sd.data["died"].isna().sum()) == int(np.isin(pan, [0, 2]).sum())
    sd16 = datasets.load("gss_panel20", path=panel20, wave=2016)
    c = _numeric(raw.loc[_numeric(raw["samptype"]) == 2016, "cesd4_1a"])
    assert int(sd16.data["lonely"].sum()) == int(np.isin(c, [3, 4]).sum())
    assert int(sd16.data["lonely"].notna().sum()) == int((~np.isnan(c)).sum())
    sd18 = datasets.load("gss_panel20", path=panel20, wave=2018)
    lo = _numeric(raw.loc[_numeric(raw["samptype"]) == 2018, "lonely3_1b"])
    got = sd18.data["ucla3_left_out"].to_numpy(dtype=float, na_value=np.nan)
    want = np.select([np.isin(lo, [1, 2]), lo == 3, np.isin(lo, [4, 5])], [1, 2, 3], np.nan)
    np.testing.assert_array_equal(got, want)
    cb = sd18.codebook.set_index("concept")
    assert not cb.loc["lonely", "measured"] and "no headline" in cb.loc["lonely", "notes"]
    assert sd18.data["lonely"].isna().all()


def test_panel20_ucla_mapping_documented(panel20):
    sd = datasets.load("gss_panel20", path=panel20, wave=2020, columns=["lonely1_2"])
    cb = sd.codebook.set_index("concept")
    assert "NOT the UCLA-3 response format" in cb.loc["ucla3_companionship", "notes"]
    assert cb.loc["ucla3_companionship", "rule"].startswith("1→1, 2→1, 3→2, 4→3, 5→3")
    raw = sd.data["lonely1_2"].to_numpy(dtype=float)
    got = sd.data["ucla3_companionship"].to_numpy(dtype=float, na_value=np.nan)
    want = np.select([np.isin(raw, [1, 2]), raw == 3, np.isin(raw, [4, 5])], [1, 2, 3], np.nan)
    np.testing.assert_array_equal(got, want)
    # two of three items in 2020: no score, no headline indicator, and the codebook says so
    assert sd.data["ucla3_score"].isna().all() and sd.data["lonely"].isna().all()
    assert not cb.loc["ucla3_score", "measured"]
    # hompop_2 is .x (not available) for everyone: not measured here, said so
    assert not cb.loc["lives_alone", "measured"] and "NOT MEASURED HERE" in cb.loc["lives_alone", "notes"]
    # (pyreadstat: hompop_2 is .x on the 1823 re-interviewed rows, .i elsewhere)
    assert sd.provenance["missing_codes"]["hompop_2"] == {".i": 3392, ".x": 1823}


# ----------------------------------------------------------------------------- long panels
@pytest.mark.parametrize("name,fname,rows,nwave1", [
    ("gss_panel06", "gss_panel06_long.dta.zip", 6000, 2000),
    ("gss_panel10", "gss_panel10_long.dta.zip", 6132, 2044),
])
def test_long_panels_rows_and_missing(shared_data_dir, tmp_path, name, fname, rows, nwave1):
    zpath = _file(shared_data_dir, f"gss/{fname}")
    with zipfile.ZipFile(zpath) as z:
        member = z.namelist()[0]
        z.extract(member, tmp_path)
    years = {"gss_panel06": [2006, 2008, 2010], "gss_panel10": [2010, 2012, 2014]}[name]
    sd = datasets.load(name, path=zpath, wave=years[0], weight="wtpannr12")
    p = sd.provenance
    assert p["member"] == member and p["rows_read"] == rows
    raw, _ = pyreadstat.read_dta(str(tmp_path / member), usecols=p["columns_read"])
    assert len(raw) == rows
    wave = pd.to_numeric(raw["wave"]).to_numpy()
    year = pd.to_numeric(raw["year"]).to_numpy(dtype=float)
    w = pd.to_numeric(raw["wtpannr12"]).to_numpy(dtype=float)
    expect = int(((wave == 1) & ~np.isnan(year) & ~np.isnan(w)).sum())
    assert p["rows_kept"] == expect == len(sd.data)
    assert p["rows_read"] == p["rows_kept"] + sum(p["rows_dropped"].values())
    # no extended missing in these files: the only code is '.', one per NaN of the direct read
    for c in p["columns_read"]:
        col = raw[c]
        if pd.api.types.is_numeric_dtype(col) or col.dtype == object:
            nan = int(pd.to_numeric(col, errors="coerce").isna().sum()) if c != "panstat" else 0
            assert p["missing_codes"].get(c, {}).get(".", 0) == nan, c
    # factor level positions: degree 1 'Lt High School' -> low, 4-5 -> high
    kept = raw[(wave == 1) & ~np.isnan(year) & ~np.isnan(w)]
    deg = pd.to_numeric(kept["degree"]).to_numpy(dtype=float)
    edu = sd.data["education"].astype(object).to_numpy()
    assert all(e == "low" for e in edu[deg == 1])
    assert all(e == "high" for e in edu[np.isin(deg, [4, 5])])
    assert all(pd.isna(e) for e in edu[np.isnan(deg)])
    assert sd.design.degf() > 0


def test_panel10_isolated_2014(shared_data_dir, tmp_path):
    zpath = _file(shared_data_dir, "gss/gss_panel10_long.dta.zip")
    sd = datasets.load("gss_panel10", path=zpath, wave=2014, columns=["isolated"])
    iso = sd.data["isolated"].to_numpy(dtype=float)
    got = sd.data["ucla3_isolated"].to_numpy(dtype=float, na_value=np.nan)
    # level positions 1 Often, 2 Sometimes, 3 Rarely, 4 Never -> UCLA 3, 2, 1, 1
    want = np.select([iso == 1, iso == 2, np.isin(iso, [3, 4])], [3, 2, 1], np.nan)
    np.testing.assert_array_equal(got, want)
    # rows kept, counted on a direct read: wave 3 (2014), interviewed (year present) and with
    # the default panel weight wtpannr123
    with zipfile.ZipFile(zpath) as z:
        member = z.namelist()[0]
        z.extract(member, tmp_path)
    raw, _ = pyreadstat.read_dta(str(tmp_path / member), usecols=["wave", "year", "wtpannr123"])
    expect = int(((pd.to_numeric(raw["wave"]) == 3) & raw["year"].notna() & raw["wtpannr123"].notna()).sum())
    assert sd.provenance["rows_kept"] == expect == len(sd.data)
    with pytest.raises(UnknownWaveError, match="2010, 2012, 2014"):
        datasets.load("gss_panel10", path=zpath, wave=2016)


def test_panel20_extract_equals_full_file(shared_data_dir, panel20):
    """The 80-column extract lacks wrkstat/hompop (optional sources): those concepts become
    'not measured' with a note; every other column equals the full file's."""
    ext = _file(shared_data_dir, "gss/gss_panel20_extract.dta")
    a = datasets.load("gss_panel20", path=panel20, wave=2020, columns=["lonely1_2"])
    b = datasets.load("gss_panel20", path=ext, wave=2020, columns=["lonely1_2"])
    assert a.provenance["rows_kept"] == b.provenance["rows_kept"] == 1823
    cb = b.codebook.set_index("concept")
    assert not cb.loc["employment", "measured"] and "not in this file" in cb.loc["employment", "notes"]
    same = [c for c in a.data.columns if c not in ("employment", "lives_alone")]
    pd.testing.assert_frame_equal(a.data[same], b.data[same])
    assert b.data["employment"].isna().all()


def test_panel06_many_lonely_psus_against_R(shared_data_dir):
    """2006 wave with wtpannr12: 75 of 145 strata have a single PSU (lonely_psu='adjust')."""
    zpath = _file(shared_data_dir, "gss/gss_panel06_long.dta.zip")
    sd = datasets.load("gss_panel06", path=zpath, wave=2006, weight="wtpannr12")
    ref = R["gss_panel06_2006"]
    d = sd.data
    assert len(d) == ref["n"] and d["strata"].nunique() == ref["strata"]
    per = d.groupby("strata")["psu"].nunique()
    assert int((per == 1).sum()) == ref["single_psu_strata"]
    assert sd.design.degf() == ref["degf"]
    est = sd.design.mean("poor_health").to_frame().iloc[0]
    assert est["estimate"] == pytest.approx(ref["poor_health"]["est"], rel=1e-10)
    assert est["se"] == pytest.approx(ref["poor_health"]["se"], rel=1e-8)
    # and by hand with the same linearisation formula
    h = d["self_rated_health"]
    y = h.isin(["fair", "poor"]).to_numpy(dtype=float)
    p, se = lin_se_ratio(y, d["weight"].to_numpy(), d["strata"].astype(str).to_numpy(),
                         d["psu"].astype(str).to_numpy(), h.notna().to_numpy())
    assert est["estimate"] == pytest.approx(p, rel=1e-12)
    assert est["se"] == pytest.approx(se, rel=1e-10)
