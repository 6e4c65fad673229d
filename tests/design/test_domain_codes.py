"""Domain codes of integer by-variables (coded by counting when their range is short) are the
codes ``pandas.factorize(sort=True)`` gives, and domain estimates do not depend on whether the
by-variable is stored as integers or as the same values in words."""
import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.design.variables import domains

RNG = np.random.default_rng(20261207)

CASES = {
    "every value 1-5": RNG.integers(1, 6, 2000),
    "gaps": np.array([1, 2, 3, 5, 5, 1, 9]),
    "negative": np.array([-3, -1, -3, 0, 2]),
    "large offset": np.array([20160101, 20160103, 20160101, 20160102]),
    "int32": RNG.integers(0, 7, 500).astype(np.int32),
    "uint8": RNG.integers(0, 3, 50).astype(np.uint8),
    "one value": np.array([7, 7, 7]),
    "wide range": np.array([0, 70000, 3, 3]),
    "huge values": np.array([2**40, 2**40 + 2, 2**40]),
    # unsigned 64-bit values above the largest signed one (e.g. hashed identifiers)
    "uint64 top": np.array([2**64 - 1, 2**64 - 3, 2**64 - 1], dtype=np.uint64),
    "uint64 across 2**63": np.array([2**63 + 1, 2**63 - 1, 2**63], dtype=np.uint64),
}


@pytest.mark.parametrize("name", list(CASES))
def test_integer_domain_codes_are_factorize_codes(name):
    x = CASES[name]
    codes, levels = pd.factorize(pd.Series(x), sort=True)
    dom = domains(pd.DataFrame({"g": x}), "g")
    assert dom.codes.dtype == np.int64
    np.testing.assert_array_equal(dom.codes, codes)
    assert dom.table["g"].tolist() == list(levels)
    assert [type(v) for v in dom.table["g"]] == [type(v) for v in levels]
    assert dom.n_domains == len(levels)


def test_domain_means_same_for_integer_and_word_by_variable():
    n = 3000
    g = RNG.choice(np.array([2, 4, 5, 9]), n)        # gaps between the observed values
    df = pd.DataFrame({"y": RNG.normal(size=n), "w": RNG.uniform(1, 3, n), "g": g,
                       "g_words": pd.Series(g).map({2: "a", 4: "b", 5: "c", 9: "d"}),
                       "st": RNG.integers(0, 4, n), "psu": RNG.integers(0, 40, n)})
    d = sh.SurveyDesign(df, weights="w", strata="st", psu="psu", nest=True)
    by_int = d.mean("y", by="g").to_frame()
    by_words = d.mean("y", by="g_words").to_frame()
    assert by_int["g"].tolist() == [2, 4, 5, 9]
    np.testing.assert_allclose(by_int["estimate"], by_words["estimate"], rtol=0, atol=0)
    np.testing.assert_allclose(by_int["se"], by_words["se"], rtol=1e-13)
    r = d.to_replicate("jkn")
    np.testing.assert_allclose(r.mean("y", by="g").to_frame()["se"],
                               r.mean("y", by="g_words").to_frame()["se"], rtol=1e-13)
