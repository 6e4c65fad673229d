"""socialhealth.models.mi.mi_combine against R mitools 2.4 MIcombine (fixture made by
tests/models/fixtures/mi/make_mi_reference.R) and a hand computation."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from socialhealth.errors import ModelError
from socialhealth.models.mi import MIResult, mi_combine

FIXTURE = Path(__file__).parent / "fixtures" / "mi" / "mi_reference.json"
REF = json.loads(FIXTURE.read_text())
TOL = 1e-10


class _FakeFit:
    """statsmodels-like fitted model: .params (Series) and .cov_params() (DataFrame)."""

    def __init__(self, params, cov, names):
        self.params = pd.Series(params, index=names)
        self._cov = pd.DataFrame(cov, index=names, columns=names)

    def cov_params(self):
        return self._cov


def _check(res: MIResult, ref: dict) -> None:
    np.testing.assert_allclose(res.params.to_numpy(), ref["coefficients"], rtol=TOL, atol=1e-14)
    np.testing.assert_allclose(res.vcov.to_numpy(), np.array(ref["variance"]), rtol=TOL, atol=1e-16)
    np.testing.assert_allclose(res.bse.to_numpy(), ref["se"], rtol=TOL)
    np.testing.assert_allclose(res.df.to_numpy(), ref["df"], rtol=1e-8)
    np.testing.assert_allclose(res.fmi.to_numpy(), ref["missinfo"], rtol=1e-8, atol=1e-14)
    fr = res.to_frame()
    np.testing.assert_allclose(fr["ci_low"].to_numpy(), ref["ci_lb"], rtol=1e-9)
    np.testing.assert_allclose(fr["ci_high"].to_numpy(), ref["ci_ub"], rtol=1e-9)
    assert list(fr["term"]) == ref["names"]
    assert res.m == ref["nimp"]


def test_generated_tuples_match_micombine_rubin_df():
    g = REF["generated"]
    res = mi_combine(list(zip(g["coefs"], g["vcovs"])), names=g["names"])
    _check(res, g["df_complete_inf"])
    assert math.isinf(res.df_complete)


def test_generated_small_sample_df_matches_micombine_df_complete():
    g = REF["generated"]
    res = mi_combine(list(zip(g["coefs"], g["vcovs"])), names=g["names"], df_complete=50)
    _check(res, g["df_complete_50"])


def test_statsmodels_like_fits_match_micombine_of_glms():
    g = REF["glm"]
    fits = [_FakeFit(c, v, g["names"]) for c, v in zip(g["coefs"], g["vcovs"])]
    res = mi_combine(fits)
    _check(res, g["combined"])
    assert list(res.params.index) == g["names"]


def test_real_statsmodels_results_are_accepted():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(1)
    fits = []
    for _ in range(3):
        x = rng.normal(size=50)
        y = 1 + 2 * x + rng.normal(size=50)
        fits.append(sm.OLS(y, sm.add_constant(x)).fit())
    res = mi_combine(fits)
    # Rubin's mean of estimates, by hand
    np.testing.assert_allclose(res.params.to_numpy(), np.mean([f.params for f in fits], axis=0), rtol=1e-13)
    assert list(res.params.index) == ["x0", "x1"]


def test_hand_computation_two_imputations():
    # Q = (0.40, 0.50), U = (0.010, 0.012): Qbar = 0.45, Ubar = 0.011, B = 0.005,
    # T = 0.011 + 1.5 * 0.005 = 0.0185; r = 1.5 * 0.005 / 0.011 = 0.681818;
    # df = (2 - 1) * (1 + 1/r)^2 = (1 + 1.466667)^2 = 6.084444;
    # fmi = (r + 2/(df + 3)) / (r + 1) = (0.681818 + 0.220156) / 1.681818 = 0.536308
    res = mi_combine([([0.40], [[0.010]]), ([0.50], [[0.012]])], names=["lonely"])
    assert float(res.params["lonely"]) == pytest.approx(0.45, abs=1e-15)
    assert float(res.vcov.iloc[0, 0]) == pytest.approx(0.0185, abs=1e-15)
    r = 1.5 * 0.005 / 0.011
    df = (1 + 1 / r) ** 2
    assert float(res.df.iloc[0]) == pytest.approx(df, rel=1e-12)
    assert df == pytest.approx(6.084444, abs=1e-6)
    assert float(res.fmi.iloc[0]) == pytest.approx((r + 2 / (df + 3)) / (r + 1), rel=1e-12)


def test_no_between_variance_gives_infinite_df_and_zero_fmi():
    # 0.5 and 0.25 are exact in binary, so B is exactly 0
    res = mi_combine([([0.5], [[0.25]]), ([0.5], [[0.25]]), ([0.5], [[0.25]])])
    assert math.isinf(float(res.df.iloc[0]))
    assert float(res.fmi.iloc[0]) == 0.0
    lo = res.to_frame()["ci_low"].iloc[0]
    assert lo == pytest.approx(0.5 - 1.959963984540054 * 0.5, rel=1e-12)


def test_exponentiate_and_repr():
    g = REF["glm"]
    res = mi_combine(list(zip(g["coefs"], g["vcovs"])), names=g["names"])
    e = res.to_frame(exponentiate=True)
    np.testing.assert_allclose(e["estimate"].to_numpy(), np.exp(g["combined"]["coefficients"]), rtol=1e-12)
    np.testing.assert_allclose(e["ci_low"].to_numpy(), np.exp(g["combined"]["ci_lb"]), rtol=1e-9)
    assert "m = 3 imputations" in repr(res)
    assert res.cov_params() is res.vcov


@pytest.mark.parametrize(
    "fits,kw,match",
    [
        ([([0.1], [[0.01]])], {}, "at least 2 imputations"),
        ([([0.1, 0.2], [[0.01]]), ([0.1, 0.2], [[0.01]])], {}, "shape"),
        ([([0.1], [[0.01]]), ([0.1, 0.2], np.eye(2))], {}, "same model"),
        ([([0.1], [[0.01]]), "not a fit"], {}, "expected a fitted model"),
        ([([0.1], [[0.01]]), ([0.2], [[float("nan")]])], {}, "NaN"),
        ([([0.1], [[0.01]]), ([0.2], [[0.01]])], {"df_complete": 0}, "df_complete"),
        ([([0.1], [[0.01]]), ([0.2], [[0.01]])], {"names": ["a", "b"]}, "names"),
        ([([0.1], [[0.0]]), ([0.2], [[0.0]])], {}, "not positive"),
    ],
)
def test_bad_input(fits, kw, match):
    with pytest.raises(ModelError, match=match):
        mi_combine(fits, **kw)


def test_mismatched_term_names_raise():
    a = _FakeFit([0.1, 0.2], np.eye(2) * 0.01, ["x", "y"])
    b = _FakeFit([0.1, 0.2], np.eye(2) * 0.01, ["x", "z"])
    with pytest.raises(ModelError, match="same terms"):
        mi_combine([a, b])
