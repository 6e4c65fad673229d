"""Cell totals and proportions of chisq() and loglin() without the (rows x cells) indicator
matrix (socialhealth.design.loglin.cell_estimate).

Before, both built the dense indicator matrix and a denominator matrix of the same size: a
10 x 10 table of 1,000,000 rows peaked at about 3 GB (tracemalloc; 49 MB after). The
numbers must not change: they are compared here with the old computation (the design's
general ratio estimator on the dense matrices, written out below) on Taylor designs (one and
two stages, fpc, single-PSU strata under each rule, a subset) and replicate designs (JK1,
JKn with mse, bootstrap, a subset); tests/design/test_loglin_vs_r.py and the chisq tests
compare both with R survey 4.1-1.
"""
from __future__ import annotations

import tracemalloc
import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.design.loglin import cell_estimate


def dense(design, key, n_cells, proportions):
    """The computation before: the dense indicator matrix through _ratio_estimate."""
    ok = key >= 0
    M = np.zeros((len(key), n_cells))
    M[np.flatnonzero(ok), key[ok]] = 1.0
    den = np.repeat(ok.astype(float)[:, None], n_cells, axis=1) if proportions else None
    theta, V = design._ratio_estimate(M, den)
    return np.asarray(theta, dtype=float), np.asarray(V, dtype=float)


@cache
def designs() -> dict:
    a = sh.datasets.load_example("apiclus1")
    s = sh.datasets.load_example("apistrat")
    c2 = sh.datasets.load_example("apiclus2")
    s = s.assign(st2=s["stype"].astype(str))
    s.loc[0, "st2"] = "lone"                     # a stratum with one PSU
    clus1 = sh.SurveyDesign(a, weights="pw", psu="dnum", fpc="fpc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jk1 = sh.SurveyDesign(a, weights="pw", psu="dnum").to_replicate("jk1")
        out = {
            "clus1": clus1,
            "strat": sh.SurveyDesign(s, weights="pw", strata="stype", fpc="fpc"),
            "clus2": sh.SurveyDesign(c2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"]),
            "lonely-adjust": sh.SurveyDesign(s, weights="pw", strata="st2", lonely_psu="adjust"),
            "lonely-adjust-domain": sh.SurveyDesign(s, weights="pw", strata="st2",
                                                    lonely_psu="adjust",
                                                    adjust_domain_lonely=True),
            "lonely-remove": sh.SurveyDesign(s, weights="pw", strata="st2", lonely_psu="remove"),
            "lonely-average": sh.SurveyDesign(s, weights="pw", strata="st2",
                                              lonely_psu="average"),
            "subset": clus1.subset(a["api00"] > 600),
            "jk1": jk1,
            "jk1-subset": jk1.subset(a["api00"] > 600),
            "jkn-mse": sh.SurveyDesign(s, weights="pw", strata="stype").to_replicate(
                "jkn", mse=True),
            "bootstrap": sh.SurveyDesign(a, weights="pw", psu="dnum").to_replicate(
                "bootstrap", replicates=30, seed=1),
        }
    return out


@pytest.mark.parametrize("name", list(designs()))
@pytest.mark.parametrize("proportions", [True, False])
def test_same_numbers_as_the_dense_computation(name, proportions):
    d = designs()[name]
    data = d.data
    r, _ = pd.factorize(data["stype"], sort=True)
    c, _ = pd.factorize(data["awards"] if "awards" in data else data["sch.wide"], sort=True)
    used = np.asarray(d.in_subset) & (r >= 0) & (c >= 0)
    used[5] = False                              # a row missing a factor
    R = int(r.max()) + 1
    key = np.where(used, r + R * c, -1)
    n_cells = R * (int(c.max()) + 1)
    t0, V0 = dense(d, key, n_cells, proportions)
    t1, V1 = cell_estimate(d, key, n_cells, proportions)
    np.testing.assert_allclose(t1, t0, rtol=1e-13, atol=0)
    np.testing.assert_allclose(V1, V0, rtol=1e-12, atol=1e-13 * np.abs(V0).max())


@pytest.mark.parametrize("kind", ["taylor", "replicate"])
def test_no_rows_by_cells_matrix(kind):
    """Peak memory (tracemalloc) of loglin() and chisq() on a 10 x 10 table of 200,000 rows:
    610 MiB before (the dense indicator and denominator matrices, 160 MB each, and their
    products), about 10 MiB now; the bound is a quarter of one such matrix."""
    n = 200_000
    i = np.arange(n)
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"st": i % 20, "psu": (i // 20) % 5, "w": 1.0 + i % 3,
                       "a": rng.integers(0, 10, n), "b": rng.integers(0, 10, n)})
    d = sh.SurveyDesign(df, weights="w", strata="st", psu="psu", nest=True)
    if kind == "replicate":
        d = d.to_replicate("jkn")
    d.loglin("~a + b")                           # the design's caches filled
    d.chisq("a", "b")
    tracemalloc.start()
    try:
        d.loglin("~a + b")
        d.chisq("a", "b")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < n * 100 * 8 / 4, f"peak {peak / 2**20:.0f} MiB"
