"""Strata with a single PSU are counted and the design's rule for them is stated.

The GSS 2006-2010 panel file itself has half its strata with one PSU (wave 1: 74 of 148
``vstrat`` strata have one ``vpsu``); the loader keeps ``lonely_psu="adjust"`` (R
``options(survey.lonely.psu = "adjust")``) and now says so: ``provenance["single_psu_strata"]``
(count, number of strata, rule, note), a provenance note, the codebook's strata/psu rows and
the report's "Sample and design" table. Counts are checked against hand counts (generated file)
and pandas on the raw file (real files, skipped without ../shared).
"""
from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from socialhealth import datasets, report
from socialhealth.datasets._engine import single_psu_strata
from socialhealth.datasets._panel import write_example_long


def test_count_on_a_hand_made_frame():
    df = pd.DataFrame({"s": ["a", "a", "b", "b", "c", "c", "c"],
                       "p": [1, 2, 1, 1, 1, 2, 2],
                       "w": [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]})
    # a: PSUs 1, 2; b: PSU 1 only; c: PSU 2 has weight 0 only, so one PSU among weighted rows
    out = single_psu_strata(df, {"strata": "s", "psu": "p", "weights": "w",
                                 "lonely_psu": "adjust"})
    assert (out["count"], out["strata"], out["lonely_psu"]) == (2, 3, "adjust")
    assert out["note"].startswith("2 of 3 strata have a single PSU")
    assert 'survey.lonely.psu = "adjust"' in out["note"]
    assert single_psu_strata(df, {"psu": "p", "weights": "w"}) is None     # no strata
    two = single_psu_strata(df[df["s"] == "a"], {"strata": "s", "psu": "p", "weights": "w"})
    assert two["count"] == 0 and two["note"] == "All 1 strata have two or more PSUs."


def test_generated_long_file_states_its_lonely_psu(tmp_path):
    path = write_example_long(tmp_path / "p.dta")
    sd = datasets.load("gss_panel06", path=path, wave=2006, cache=False)
    # by hand: wtpannr123 > 0 for persons 1, 2, 4; vstrat = 100 + id % 2, vpsu = 1 + (id//2) % 2
    # -> stratum 101: person 1 (PSU 1) = one PSU; stratum 100: persons 2 (PSU 2), 4 (PSU 1)
    lonely = sd.provenance["single_psu_strata"]
    assert (lonely["count"], lonely["strata"], lonely["lonely_psu"]) == (1, 2, "adjust")
    assert sd.design_spec["lonely_psu"] == "adjust"
    assert any("1 of 2 strata have a single PSU" in n for n in sd.provenance["notes"])
    cb = sd.codebook.set_index("concept")
    for concept in ("strata", "psu"):
        assert "1 of 2 strata have a single PSU" in cb.loc[concept, "notes"]
    assert "uses the 'adjust' rule" in sd.provenance["design"]
    assert "lonely_psu=" not in sd.provenance["design"]
    rep = report.build(sd)
    shown = rep["sample"].tables[0].frame.set_index("item")["value"]
    assert shown["Strata with a single PSU"].startswith('1 of 2; single-PSU rule "adjust": ')
    assert "lonely_psu" not in shown["Strata with a single PSU"]


def _raw(shared_data_dir, tmp_path, fname):
    z = shared_data_dir / "gss" / fname
    if not z.exists():
        pytest.skip(f"{z} not available")
    with zipfile.ZipFile(z) as zf:
        member = zf.namelist()[0]
        out = tmp_path / member
        out.write_bytes(zf.read(member))
    df, _ = pyreadstat.read_dta(str(out), usecols=["firstid", "wave", "year", "vstrat", "vpsu",
                                                   "wtpannr123", "wtpannr12"])
    return z, df.apply(pd.to_numeric, errors="coerce")


def _hand(df, wvar):
    r = df[(df["wave"] == 1) & df["year"].notna() & (df[wvar] > 0)]
    per = r.groupby("vstrat")["vpsu"].nunique()
    return int((per == 1).sum()), int(len(per))


def test_real_panel06_counts_and_the_documented_raw_numbers(shared_data_dir, tmp_path):
    z, df = _raw(shared_data_dir, tmp_path, "gss_panel06_long.dta.zip")
    w1 = df[df["wave"] == 1].groupby("vstrat")["vpsu"].nunique()
    assert (int((w1 == 1).sum()), int((w1 == 2).sum()), len(w1)) == (74, 74, 148)  # codebook
    for wvar in ("wtpannr123", "wtpannr12"):
        sd = datasets.load("gss_panel06", path=z, wave=2006, weight=wvar, cache=False)
        lonely = sd.provenance["single_psu_strata"]
        assert (lonely["count"], lonely["strata"]) == _hand(df, wvar)
        assert lonely["count"] > 0 and lonely["lonely_psu"] == "adjust"
        assert any(n == lonely["note"] for n in sd.provenance["notes"])
    p = datasets.load_panel("gss_panel06", path=z, waves=[2006, 2008])
    j = df[(df["wave"] == 1) & df["year"].notna()].merge(
        df[(df["wave"] == 2) & df["year"].notna()][["firstid"]], on="firstid")
    j = j[j["wtpannr12"] > 0]
    per = j.groupby("vstrat")["vpsu"].nunique()
    assert (p.provenance["single_psu_strata"]["count"],
            p.provenance["single_psu_strata"]["strata"]) == (int((per == 1).sum()), len(per))


def test_real_panel10_strata_lose_a_psu_only_through_the_weight(shared_data_dir, tmp_path):
    z, df = _raw(shared_data_dir, tmp_path, "gss_panel10_long.dta.zip")
    w1 = df[df["wave"] == 1].groupby("vstrat")["vpsu"].nunique()
    assert (int((w1 == 2).sum()), len(w1)) == (134, 134)       # raw file: all have 2 PSUs
    for wvar, expect in (("wtpannr123", (12, 133)), ("wtpannr12", (8, 134))):  # codebook note
        sd = datasets.load("gss_panel10", path=z, wave=2010, weight=wvar, cache=False)
        lonely = sd.provenance["single_psu_strata"]
        assert (lonely["count"], lonely["strata"]) == _hand(df, wvar) == expect
        assert any(n == lonely["note"] for n in sd.provenance["notes"])
        assert np.isfinite(sd.design.mean("age").to_frame()["se"].iloc[0])


@pytest.mark.parametrize("name,rel,expect", [
    # from the data README of ../shared: ESS9 GB 192 strata (191 with 2 PSUs, 1 with 3);
    # GSS 2018 78 strata with 2 PSUs each
    ("ess", "ess/ESS9GB.sav", (0, 192)),
    ("gss", "gss/GSS2018.dta", (0, 78)),
])
def test_real_cross_sections_without_single_psu_strata(shared_data_dir, name, rel, expect):
    f = shared_data_dir / rel
    if not f.exists():
        pytest.skip(f"{f} not available")
    sd = datasets.load(name, path=f)
    lonely = sd.provenance["single_psu_strata"]
    assert (lonely["count"], lonely["strata"]) == expect
    assert lonely["note"] == f"All {expect[1]} strata have two or more PSUs."
    assert not any("single PSU" in str(n) for n in sd.provenance["notes"])
