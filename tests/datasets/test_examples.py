"""sh.datasets.load_example: the synthetic example data are what make_examples.py writes (bit for
bit) and have the design structure its docstring and load_example's descriptions state (the R
parity fixtures in tests/fixtures/r_survey depend on it)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.datasets.examples import example_path, make_examples
from socialhealth.errors import DatasetError

NAMES = ["apipop", "apisrs", "apistrat", "apiclus1", "apiclus2", "nhanes", "scd"]


def test_listing():
    assert list(sh.datasets.list_examples()["name"]) == NAMES


def test_files_are_what_the_generator_writes(tmp_path):
    for p in make_examples.main(tmp_path):
        assert p.read_bytes() == example_path(p.name[:-len(".csv.gz")]).read_bytes(), p.name


def test_unknown_name():
    with pytest.raises(DatasetError, match="apistrat"):
        sh.datasets.load_example("api")


def test_api_structure():
    pop = sh.datasets.load_example("apipop")
    assert len(pop) == 6194 and pop["dnum"].nunique() == 757 and pop["cnum"].nunique() == 57
    assert pop.groupby("stype").size().to_dict() == {"E": 4421, "H": 755, "M": 1018}
    assert pop["enroll"].isna().sum() == 36
    # awards only where both sch.wide and comp.imp are Yes
    assert not ((pop["awards"] == "Yes") & (pop["both"] == "No")).any()
    assert ((pop["both"] == "Yes") == ((pop["sch.wide"] == "Yes") & (pop["comp.imp"] == "Yes"))).all()
    frame = pop.set_index("snum")
    for name in ("apisrs", "apistrat", "apiclus1", "apiclus2"):
        s = sh.datasets.load_example(name)
        cols = [c for c in pop.columns if c != "snum"]
        got, want = s.set_index("snum")[cols], frame.loc[s["snum"], cols]
        pd.testing.assert_frame_equal(got, want, check_dtype=False, obj=name)   # frame rows
    srs = sh.datasets.load_example("apisrs")
    assert len(srs) == 200 and np.allclose(srs["pw"], 6194 / 200) and (srs["fpc"] == 6194).all()
    st = sh.datasets.load_example("apistrat")
    assert st.groupby("stype").size().to_dict() == {"E": 100, "H": 50, "M": 50}
    assert np.allclose(st["pw"], st["fpc"] / st.groupby("stype")["stype"].transform("size"))
    c1 = sh.datasets.load_example("apiclus1")
    assert c1["dnum"].nunique() == 15 and (c1["fpc"] == 757).all() and np.allclose(c1["pw"], 757 / 15)
    assert len(c1) == pop["dnum"].isin(c1["dnum"]).sum()                 # whole districts
    assert c1["enroll"].notna().all() and st["enroll"].notna().all()
    assert c1.loc[c1["ell"] == 0, "dnum"].nunique() == 1                  # ell == 0 in one district
    c2 = sh.datasets.load_example("apiclus2")
    g = c2.groupby("dnum").agg(n=("snum", "size"), fpc2=("fpc2", "first"))
    assert len(g) == 40 and (c2["fpc1"] == 757).all()
    assert (g["n"] == np.minimum(5, g["fpc2"])).all() and (g["fpc2"] == 1).any()
    assert (g["fpc2"] == pop.groupby("dnum").size()[g.index]).all()
    assert np.allclose(c2["pw"], 757 / 40 * c2["fpc2"] / c2.groupby("dnum")["snum"].transform("size"))
    assert c2["enroll"].isna().sum() == 5


def test_nhanes_and_scd_structure():
    nh = sh.datasets.load_example("nhanes")
    psus = nh.groupby("SDMVSTRA")["SDMVPSU"].nunique()
    assert list(psus.index) == list(range(75, 90))
    assert psus.drop(86).eq(2).all() and psus[86] == 3
    assert nh["HI_CHOL"].isna().sum() > 0 and set(nh["HI_CHOL"].dropna()) == {0.0, 1.0}
    assert sorted(nh["agecat"].unique()) == ["(0,19]", "(19,39]", "(39,59]", "(59,Inf]"]
    assert set(nh["race"]) == {1, 2, 3, 4} and set(nh["RIAGENDR"]) == {1, 2}
    scd = sh.datasets.load_example("scd")
    assert list(scd.columns) == ["ESA", "ambulance", "arrests", "alive"] and len(scd) == 6
