"""datasets.load_panel: linking panel waves into one row per person.

Real files (skipped without ../shared/data): the linked persons and their weights equal a hand
linkage of the raw file written here with pyreadstat (rows of the baseline and the later wave
joined on the person id, kept where the panel weight is > 0), and the row accounting equals
panstat counted by hand. Generated files: small Stata files in the long and the wide layouts
written with pyreadstat, with the expected outputs worked out by hand in the comments.
"""
from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from socialhealth import datasets
from socialhealth.errors import DatasetError, UnknownWaveError


# ----------------------------------------------------------------------------- real files
def _raw_long(shared_data_dir, tmp_path, fname, cols):
    z = shared_data_dir / "gss" / fname
    if not z.exists():
        pytest.skip(f"{z} not available")
    with zipfile.ZipFile(z) as zf:
        member = zf.namelist()[0]
        out = tmp_path / member
        out.write_bytes(zf.read(member))
    df, _ = pyreadstat.read_dta(str(out), usecols=cols)
    return z, df


def _hand_link_long(df, k_base, k_later, wvar):
    """Rows of wave k_base and wave k_later joined on firstid, interviewed at both (year
    present), panel weight > 0."""
    b = df[(df["wave"] == k_base) & df["year"].notna()]
    l = df[(df["wave"] == k_later) & df["year"].notna()]
    j = b.merge(l, on="firstid", suffixes=("_b", "_l"))
    j = j[(j[f"{wvar}_b"] > 0) & (j[f"{wvar}_l"] > 0)]
    return j


@pytest.mark.parametrize("name,fname,waves,k,wvar,expect", [
    # expect: linked, deceased, ineligible, attrited (counted from panstat below as well)
    ("gss_panel06", "gss_panel06_long.dta.zip", [2006, 2010], (1, 3), "wtpannr123", 1276),
    ("gss_panel06", "gss_panel06_long.dta.zip", [2006, 2008], (1, 2), "wtpannr12", 1536),
    ("gss_panel10", "gss_panel10_long.dta.zip", [2010, 2014], (1, 3), "wtpannr123", 1304),
])
def test_real_long_panels_equal_hand_linkage(shared_data_dir, tmp_path, name, fname, waves, k,
                                              wvar, expect):
    cols = ["firstid", "wave", "year", "panstat", "wtpannr12", "wtpannr123", "vstrat", "vpsu",
            "health"]
    path, df = _raw_long(shared_data_dir, tmp_path, fname, cols)
    hand = _hand_link_long(df, k[0], k[1], wvar)
    p = datasets.load_panel(name, path, waves=waves)
    assert len(hand) == expect
    assert len(p.data) == len(hand)
    assert p.provenance["panel"]["weight_variable"] == wvar
    ids = p.data["respondent_id"].astype(int).to_numpy()
    h = hand.set_index("firstid").loc[ids]
    np.testing.assert_array_equal(p.data["weight"].to_numpy(), h[f"{wvar}_b"].to_numpy())
    # baseline design: the baseline row's vstrat/vpsu
    assert p.data["strata"].astype(int).tolist() == h["vstrat_b"].astype(int).tolist()
    assert p.data["psu"].astype(int).tolist() == h["vpsu_b"].astype(int).tolist()
    # outcome at the later wave: health level positions 3 fair, 4 poor -> poor_health
    hl = pd.to_numeric(h["health_l"]).to_numpy()
    got = p.data[f"poor_health@{waves[1]}"].astype("boolean")
    ok = ~np.isnan(hl)
    assert got[ok].astype(bool).tolist() == np.isin(hl[ok], [3, 4]).tolist()
    assert got[~ok].isna().all()
    # accounting: persons interviewed at baseline; later-wave panstat strings counted by hand
    base_ids = set(df.loc[(df["wave"] == k[0]) & df["year"].notna(), "firstid"])
    after = df[(df["wave"] > k[0]) & (df["wave"] <= k[1]) & df["firstid"].isin(base_ids)]
    s = after["panstat"].str.lower()
    dead = set(after.loc[s.str.contains("deceased"), "firstid"])
    inel = set(after.loc[s.str.contains("not eligible"), "firstid"]) - dead
    acc = p.provenance["panel"]["accounting"]
    assert acc["baseline"] == len(base_ids)
    assert acc["linked"] == len(hand)
    assert acc["deceased"] == len(dead)
    assert acc["ineligible"] == len(inel)
    assert acc["attrited"] == len(base_ids) - len(hand) - len(dead) - len(inel)
    assert p.design.data.shape[0] == len(hand)


@pytest.mark.parametrize("base,linked,not_sel,dead,inel,attr", [
    # samptype x panstat in gss_panel20 (data README: 2016 sample 721 not selected, 809
    # re-interviewed, 61 deceased, 15 ineligible, 1261 not re-interviewed)
    (2016, 809, 721, 61, 15, 1261),
    (2018, 1014, 0, 45, 22, 1267),
])
def test_real_panel20_equals_hand_linkage(shared_data_dir, base, linked, not_sel, dead, inel, attr):
    path = shared_data_dir / "gss" / "gss_panel20_extract.dta"
    if not path.exists():
        pytest.skip(f"{path} not available")
    s = {2016: "1a", 2018: "1b"}[base]
    df, _ = pyreadstat.read_dta(str(path), usecols=[
        "yearid", "samptype", "panstat", "wtssnr_2", f"vstrat_{s}", f"vpsu_{s}", "health_2",
        f"wtssnr_{s}"])
    b = df[(df["samptype"] == base) & df[f"wtssnr_{s}"].notna()]
    hand = b[b["wtssnr_2"] > 0]
    assert len(hand) == linked
    ps = b["panstat"]
    assert [(ps == 0).sum(), (ps == 33).sum(), ps.isin([3, 31, 32, 34]).sum(), (ps == 2).sum()] \
        == [not_sel, dead, inel, attr]
    p = datasets.load_panel("gss_panel20", path, waves=[base, 2020])
    acc = p.provenance["panel"]["accounting"]
    assert acc["baseline"] == len(b) and acc["linked"] == linked
    assert acc.get("not selected for follow-up", 0) == not_sel
    assert (acc["deceased"], acc["ineligible"], acc["attrited"]) == (dead, inel, attr)
    h = hand.set_index("yearid").loc[p.data["respondent_id"].tolist()]
    np.testing.assert_array_equal(p.data["weight"].to_numpy(), h["wtssnr_2"].to_numpy())
    assert p.data["strata"].astype(int).tolist() == h[f"vstrat_{s}"].astype(int).tolist()
    assert p.data["psu"].astype(int).tolist() == h[f"vpsu_{s}"].astype(int).tolist()
    hv = h["health_2"].to_numpy()
    got = p.data["poor_health@2020"].astype("boolean")
    ok = ~np.isnan(hv)
    assert got[ok].astype(bool).tolist() == np.isin(hv[ok], [3, 4]).tolist()
    assert got[~ok].isna().all()


def test_real_user_weight_recorded(shared_data_dir):
    path = shared_data_dir / "gss" / "gss_panel20_extract.dta"
    if not path.exists():
        pytest.skip(f"{path} not available")
    p = datasets.load_panel("gss_panel20", path, waves=[2016, 2020], weight="wtssall_2")
    assert p.provenance["panel"]["weight_variable"] == "wtssall_2"
    assert p.provenance["panel"]["weight_default"] is False
    df, _ = pyreadstat.read_dta(str(path), usecols=["yearid", "wtssall_2"])
    w = df.set_index("yearid").loc[p.data["respondent_id"].tolist(), "wtssall_2"].to_numpy()
    np.testing.assert_array_equal(p.data["weight"].to_numpy(), w)


# ----------------------------------------------------------------------------- generated files
RE = "Selected, Eligible, and Reinterviewed"
NR = "Selected, Eligible, but not Reinterviewed"
DEAD = "Selected, but not Eligible and not Reinterviewd Because r Was Deceased"
INST = "Selected, but not Eligible and not Reinterviewd Because r Was in Institution"


def _write_long(path):
    """7 persons x 3 waves in the GSS long layout (health level positions 1-4).

    id  w12  w123  wave1 (2006)     wave2 (2008)      wave3 (2010)
    10  2.0  3.0   health 1         health 2          health 4       -> linked 1-2 and 1-3
    11  1.0  1.0   health 3         health 3          health 3       -> linked 1-2 and 1-3
    12  0.5  -     health 2         health 2          not reint.     -> 1-2 only; 1-3 attrited
    13  -    -     health 1         deceased          Attrited       -> deceased
    14  1.0  -     health 4         health 4          institution    -> 1-2; 1-3 ineligible
    15  -    -     health 2         not reint.        Attrited       -> attrited
    16  -    -     (not interviewed at baseline: year missing on every row; not counted)
    """
    rows = []
    spec = {
        10: (2.0, 3.0, [(2006, "", 1), (2008, RE, 2), (2010, RE, 4)]),
        11: (1.0, 1.0, [(2006, "", 3), (2008, RE, 3), (2010, RE, 3)]),
        12: (0.5, None, [(2006, "", 2), (2008, RE, 2), (None, NR, None)]),
        13: (None, None, [(2006, "", 1), (None, DEAD, None), (None, "Attrited", None)]),
        14: (1.0, None, [(2006, "", 4), (2008, RE, 4), (None, INST, None)]),
        15: (None, None, [(2006, "", 2), (None, NR, None), (None, "Attrited", None)]),
        16: (None, None, [(None, "", None), (None, "", None), (None, "", None)]),
    }
    for pid, (w12, w123, waves) in spec.items():
        for k, (yr, ps, h) in enumerate(waves, start=1):
            rows.append({"firstid": pid, "wave": k, "year": yr, "panstat": ps, "vstrat": 7,
                         "vpsu": 1 + pid % 2, "wtpannr12": w12, "wtpannr123": w123,
                         "wtpan12": w12, "wtpan123": w123, "health": h, "socrel": 2,
                         "socfrend": 3, "age": 40 + 2 * k, "sex": 1 + pid % 2, "marital": 1,
                         "degree": 2, "region": 3})
    df = pd.DataFrame(rows)
    for c in df.columns:
        if c != "panstat":
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    pyreadstat.write_dta(df, str(path))
    return path


def test_generated_long_waves_1_3(tmp_path):
    path = _write_long(tmp_path / "long.dta")
    p = datasets.load_panel("gss_panel06", path, waves=[2006, 2010], cache=False)
    # 1-3: ids 10, 11 linked (wtpannr123 3.0, 1.0); 13 deceased; 14 ineligible; 12, 15 attrited
    assert p.data["respondent_id"].tolist() == ["10", "11"]
    assert p.data["weight"].tolist() == [3.0, 1.0]
    assert p.provenance["panel"]["weight_variable"] == "wtpannr123"
    assert p.provenance["panel"]["accounting"] == {
        "baseline": 6, "linked": 2, "deceased": 1, "ineligible": 1, "attrited": 2, "followed": 2}
    assert p.data["poor_health@2006"].tolist() == [False, True]
    assert p.data["poor_health@2010"].tolist() == [True, True]
    assert p.data["self_rated_health@2010"].astype(str).tolist() == ["poor", "fair"]
    assert p.data["age@2006"].tolist() == [42.0, 42.0] and p.data["age@2010"].tolist() == [46.0, 46.0]
    assert p.data["strata"].tolist() == ["7", "7"] and p.data["psu"].tolist() == ["1", "2"]
    assert "poor_health" not in p.data.columns and "wave" not in p.data.columns
    assert set(p.status["status"]) == {"linked", "deceased", "ineligible", "attrited"}
    assert p.waves == [2006, 2010] and p.column("poor_health", 2010).tolist() == [True, True]


def test_generated_long_waves_1_2_and_user_weight(tmp_path):
    path = _write_long(tmp_path / "long.dta")
    p = datasets.load_panel("gss_panel06", path, waves=[2006, 2008], cache=False)
    # 1-2: 10, 11, 12, 14 followed with wtpannr12; 13 deceased; 15 attrited
    assert p.data["respondent_id"].tolist() == ["10", "11", "12", "14"]
    assert p.data["weight"].tolist() == [2.0, 1.0, 0.5, 1.0]
    assert p.provenance["panel"]["accounting"] == {
        "baseline": 6, "linked": 4, "deceased": 1, "ineligible": 0, "attrited": 1, "followed": 4}
    # a weight for all three waves on a 1-2 link: 12 and 14 are followed but have no wtpannr123
    q = datasets.load_panel("gss_panel06", path, waves=[2006, 2008], weight="wtpannr123",
                            cache=False)
    assert q.data["respondent_id"].tolist() == ["10", "11"]
    assert q.provenance["panel"]["accounting"] == {
        "baseline": 6, "linked": 2, "followed, no wtpannr123 weight": 2, "deceased": 1,
        "ineligible": 0, "attrited": 1, "followed": 4}
    # three waves
    r = datasets.load_panel("gss_panel06", path, waves=[2006, 2008, 2010], cache=False)
    assert r.data["respondent_id"].tolist() == ["10", "11"]
    assert r.data["poor_health@2008"].tolist() == [False, True]


def _write_wide(path):
    """The 2016-2020 wide layout: 3 persons from the 2016 sample, 2 from 2018.

    yearid    samptype panstat  w_1a/1b  wtssnr_2  health_1a/_1b  health_2
    20160001  2016     1        1.0      2.0       2 good         3 fair    -> linked
    20160002  2016     0        1.0      -         1              -         -> not selected
    20160003  2016     33       1.0      -         4              -         -> deceased
    20180001  2018     1        1.0      0.5       4              4         -> linked (2018)
    20180002  2018     2        1.0      -         2              -         -> attrited
    """
    nan = np.nan
    d = {
        "yearid": ["20160001", "20160002", "20160003", "20180001", "20180002"],
        "samptype": [2016, 2016, 2016, 2018, 2018],
        "panstat": [1, 0, 33, 1, 2],
        "id_1a": [1, 2, 3, nan, nan], "id_1b": [nan, nan, nan, 1, 2], "id_2": [1, nan, nan, 2, nan],
    }
    for s, present in [("1a", [1, 1, 1, 0, 0]), ("1b", [0, 0, 0, 1, 1]), ("2", [1, 0, 0, 1, 0])]:
        m = np.array(present, bool)
        d[f"vstrat_{s}"] = np.where(m, 3201.0, nan)
        d[f"vpsu_{s}"] = np.where(m, [1, 2, 1, 2, 1], nan)
        for f in ("wtssnr", "wtssall", "wtss"):
            d[f"{f}_{s}"] = np.where(m, 1.0, nan)
        for v, val in [("age", 50.0), ("sex", 2.0), ("marital", 1.0), ("degree", 3.0),
                       ("region", 5.0), ("socrel", 2.0), ("socfrend", 4.0)]:
            d[f"{v}_{s}"] = np.where(m, val, nan)
    d["wtssnr_2"] = np.array([2.0, nan, nan, 0.5, nan])
    d["health_1a"] = [2.0, 1.0, 4.0, nan, nan]
    d["health_1b"] = [nan, nan, nan, 4.0, 2.0]
    d["health_2"] = [3.0, nan, nan, 4.0, nan]
    d["cesd4_1a"] = [3.0, 1.0, 2.0, nan, nan]
    d["lonely1_2"] = [4.0, nan, nan, 1.0, nan]
    d["lonely2_2"] = [2.0, nan, nan, 5.0, nan]
    d["lonely3_1b"] = [nan, nan, nan, 3.0, 1.0]
    d["depress_1b"] = [nan, nan, nan, 2.0, 1.0]
    df = pd.DataFrame(d)
    pyreadstat.write_dta(df, str(path))
    return path


def test_generated_wide_2016_2020(tmp_path):
    path = _write_wide(tmp_path / "wide.dta")
    p = datasets.load_panel("gss_panel20", path, waves=[2016, 2020], cache=False)
    assert p.data["respondent_id"].tolist() == ["20160001"]
    assert p.data["weight"].tolist() == [2.0]
    assert p.provenance["panel"]["weight_variable"] == "wtssnr_2"
    assert p.provenance["panel"]["accounting"] == {
        "baseline": 3, "linked": 1, "not selected for follow-up": 1, "deceased": 1,
        "ineligible": 0, "attrited": 0, "followed": 1}
    assert p.data["poor_health@2016"].tolist() == [False]
    assert p.data["poor_health@2020"].tolist() == [True]
    assert p.data["lonely@2016"].tolist() == [True]            # cesd4_1a 3 = most of the time
    assert p.data["ucla3_companionship@2020"].tolist() == [3]  # lonely1_2 4 often -> 3
    assert p.data["contact_in_person@2016"].astype(str).tolist() == ["weekly"]


def test_generated_wide_2018_2020(tmp_path):
    path = _write_wide(tmp_path / "wide.dta")
    p = datasets.load_panel("gss_panel20", path, waves=[2018, 2020], cache=False)
    assert p.data["respondent_id"].tolist() == ["20180001"]
    assert p.data["weight"].tolist() == [0.5]
    assert p.provenance["panel"]["accounting"] == {
        "baseline": 2, "linked": 1, "deceased": 0, "ineligible": 0, "attrited": 1, "followed": 1}
    assert p.data["ucla3_left_out@2018"].tolist() == [2]       # lonely3_1b 3 sometimes -> 2
    assert p.data["poor_health@2018"].tolist() == [True]


def test_errors(tmp_path):
    path = _write_wide(tmp_path / "wide.dta")
    with pytest.raises(DatasetError, match="different people"):
        datasets.load_panel("gss_panel20", path, waves=[2016, 2018, 2020])
    with pytest.raises(DatasetError, match="two or more"):
        datasets.load_panel("gss_panel20", path, waves=[2016])
    with pytest.raises(UnknownWaveError):
        datasets.load_panel("gss_panel20", path, waves=[2014, 2020])
    with pytest.raises(DatasetError, match="not a gss_panel20 weight"):
        datasets.load_panel("gss_panel20", path, waves=[2016, 2020], weight="wtpannr123")
    with pytest.raises(DatasetError, match="not linked"):
        datasets.load_panel("gss_panel20", path, waves=[2016, 2020], weight="wtssnr_1b")
    with pytest.raises(DatasetError, match="increasing"):
        datasets.load_panel("gss_panel06", path, waves=[2010, 2006])
    with pytest.raises(DatasetError, match="not a linked-panel"):
        datasets.load_panel("ess", path, waves=[2014, 2018])


def test_generated_weight_family_and_source_columns(tmp_path):
    wide = _write_wide(tmp_path / "wide.dta")
    p = datasets.load_panel("gss_panel20", wide, waves=[2016, 2020], weight="wtssall", cache=False)
    assert p.provenance["panel"]["weight_variable"] == "wtssall_2"
    # wtssall_2 is 1.0 on both re-interviewed rows (the 2016 one links)
    assert p.data["weight"].tolist() == [1.0]
    long = _write_long(tmp_path / "long.dta")
    q = datasets.load_panel("gss_panel06", long, waves=[2006, 2010], columns=["health"],
                            cache=False)
    # source columns are named <variable>@<year>: ids 10, 11 have health 1, 3 (2006), 4, 3 (2010)
    assert q.data["health@2006"].tolist() == [1.0, 3.0]
    assert q.data["health@2010"].tolist() == [4.0, 3.0]
