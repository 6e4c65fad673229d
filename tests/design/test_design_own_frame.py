"""A design keeps its own data frame, as R's svydesign keeps its own copy of the data.

An in-place edit of an analysis column of the user's frame after the design was defined
(``df.loc[:10, "y"] = 0``) used to reach the design's later estimates, while its weights,
strata and PSUs stayed as defined. Under pandas copy-on-write (pandas >= 3, or the option in
pandas 2) the design now holds a shallow copy, which the edit does not reach; without
copy-on-write the values are shared (documented in SurveyDesign), so these tests are skipped.
Expected values: NumPy on a deep copy of the frame taken before the edit, and the design's
own results before the edit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.design.structure import copy_on_write

pytestmark = pytest.mark.skipif(not copy_on_write(),
                                reason="pandas without copy-on-write shares the values")


def frame(n=240, seed=7):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "st": np.repeat([1, 2, 3], n // 3),
        "psu": np.arange(n) // 6,
        "w": rng.uniform(1, 4, n),
        "y": rng.normal(10, 2, n),
        "x": rng.normal(0, 1, n),
        "g": rng.integers(0, 2, n),
        "p2": rng.random(n) < 0.6,
        "pi": (np.arange(n) // 6 % 5 + 2) / 200,      # PSU inclusion probabilities (PPS)
    })


def edit(df):
    """In-place edits of analysis columns only (weights, strata, PSUs untouched)."""
    df.loc[:10, "y"] = 0.0
    df.loc[df.index[-20:], "x"] = 50.0
    df.loc[:30, "g"] = 1


def numbers(d):
    g = d.glm("y ~ x + g")
    return np.concatenate([d.mean("y").estimate, d.mean("y").se, d.total("y").estimate,
                           d.total("y").se, g.params, g.bse, d.mean("x").estimate])


def plain(df):
    return sh.SurveyDesign(df, weights="w", strata="st", psu="psu", nest=True)


BUILDERS = {
    "taylor": plain,
    "brewer": lambda df: sh.SurveyDesign(df, psu="psu", fpc="pi", pps="brewer"),
    "subset": lambda df: plain(df).subset("st != 2"),
    "post_stratified": lambda df: plain(df).post_stratify("st", {1: 200, 2: 250, 3: 300}),
    "calibrated": lambda df: plain(df).calibrate("~x", {"(Intercept)": 800, "x": 10}),
    "replicate_from_taylor": lambda df: plain(df).to_replicate("jkn"),
    "replicate": lambda df: sh.ReplicateDesign(
        df, weights="w", replicate_weights=np.outer(df["w"], np.linspace(0.5, 1.5, 6))
        + np.arange(len(df))[:, None] % 3, method="bootstrap"),
    "two_phase": lambda df: sh.TwoPhaseDesign(df, subset="p2", strata="g"),
}


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_in_place_edit_of_the_users_frame_leaves_the_design_as_defined(kind):
    df = frame()
    if kind == "two_phase":
        # g is the phase-2 stratum there: edit y and x only
        d = BUILDERS[kind](df)
        before = np.concatenate([d.mean("y").estimate, d.mean("y").se,
                                 d.glm("y ~ x").params])
        df.loc[:10, "y"] = 0.0
        df.loc[df.index[-20:], "x"] = 50.0
        after = np.concatenate([d.mean("y").estimate, d.mean("y").se, d.glm("y ~ x").params])
    else:
        d = BUILDERS[kind](df)
        before = numbers(d)
        edit(df)
        after = numbers(d)
    np.testing.assert_array_equal(after, before)
    assert (df["y"].iloc[:11] == 0).all()            # the user's frame did change


def test_estimates_are_those_of_the_data_as_defined():
    df = frame()
    kept = df.copy(deep=True)
    d = plain(df)
    edit(df)
    w, y = kept["w"].to_numpy(), kept["y"].to_numpy()
    assert d.mean("y").estimate.iloc[0] == pytest.approx((w * y).sum() / w.sum(), rel=1e-13)
    assert d.total("y").estimate.iloc[0] == pytest.approx((w * y).sum(), rel=1e-13)
    # and a design defined after the edit sees it
    assert plain(df).total("y").estimate.iloc[0] == pytest.approx(
        (df["w"] * df["y"]).sum(), rel=1e-13)


def test_columns_added_to_the_users_frame_later_do_not_reach_the_design():
    df = frame()
    d = plain(df)
    df["later"] = 1.0
    assert "later" not in d.data.columns
    assert d.data is not df


def test_defining_a_design_copies_no_data_column():
    # the shallow copy shares the frame's blocks: the design's frame reads the very memory
    df = frame()
    d = plain(df)
    assert np.shares_memory(d.data["y"].to_numpy(), df["y"].to_numpy())


def test_the_kept_frame_costs_no_copy_of_a_million_rows():
    import tracemalloc

    from socialhealth.design.structure import design_frame

    n = 1_000_000
    df = pd.DataFrame({"y": np.zeros(n), "x": np.ones(n), "k": np.arange(n)})
    tracemalloc.start()
    try:
        kept = design_frame(df)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024                 # a copy of one column would be 8 MB
    assert np.shares_memory(kept["y"].to_numpy(), df["y"].to_numpy())
