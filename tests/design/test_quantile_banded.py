"""The banded "math" quantile rule equals the full-sort rule, value for value.

``_BandedInverseCdf`` sorts only the rows near the quantile when the answer is clear-cut and
hands every close call (a running weight sum within 1e-9 of ``p C_n``, R's rule below the
smallest row's share, ``p`` at 0 or 1) to the full-sort rule that matches R. These tests
compare the two on data built to have close calls: equal weights with ``p n`` whole numbers,
integer weights, heavy ties, a few distinct values, tiny and huge weights, and every
probability at which the weighted CDF steps.
"""
from __future__ import annotations

import numpy as np
import pytest

from socialhealth.design import quantile as qmod


def _full(y, w):
    order = qmod._stable_order(y)
    ys, C = y[order], qmod._r_cumsum(w[order])
    return lambda p: qmod._inverse_cdf(ys, C, p)


def _cases():
    rng = np.random.default_rng(2026)
    n = 4000
    yield "continuous", rng.normal(50, 10, n), rng.uniform(0.5, 3, n)
    yield "equal weights", rng.normal(0, 1, n), np.full(n, 2.5)
    yield "equal weights, ties", rng.integers(0, 30, n).astype(float), np.ones(n)
    yield "integer weights", rng.normal(0, 1, n), rng.integers(1, 5, n).astype(float)
    yield "five values", rng.integers(1, 6, n).astype(float), rng.uniform(1, 100, n)
    yield "one value", np.full(n, 3.0), rng.uniform(1, 2, n)
    yield "huge and tiny weights", rng.normal(0, 1, n), np.exp(rng.uniform(-20, 20, n))
    yield "sorted input", np.sort(rng.normal(0, 1, n)), rng.uniform(1, 2, n)
    yield "ucla3 scores", rng.integers(3, 10, n).astype(float), rng.choice([0.7, 1.3, 2.1], n)
    # a linear calibration can leave a few negative weights: the running sums then fall too
    yield "some negative weights", rng.normal(0, 1, n), np.where(rng.uniform(size=n) < 0.01,
                                                                 -0.5, rng.uniform(1, 2, n))


def _probabilities(y, w):
    order = qmod._stable_order(y)
    C = np.cumsum(w[order])
    steps = C / C[-1]                               # every F(x_k): the exact-tie candidates
    grid = np.linspace(0, 1, 201)
    k_over_n = np.arange(len(y) + 1) / len(y)       # p n whole numbers
    near = np.concatenate([steps[::37] + 1e-12, steps[::41] - 1e-12])
    return np.unique(np.concatenate([steps[::7], grid, k_over_n[::13], near,
                                     [0.0, 1.0, 1e-9, 1 - 1e-9, 0.5]]))


@pytest.mark.parametrize("name,y,w", list(_cases()), ids=[c[0] for c in _cases()])
def test_banded_rule_equals_the_full_sort_rule(monkeypatch, name, y, w):
    monkeypatch.setattr(qmod, "_BAND_MIN_ROWS", 0)
    full = _full(y, w)
    probs = _probabilities(y, w)
    banded = qmod._quantile_rule(y, w, "math")
    assert isinstance(banded, qmod._BandedInverseCdf)
    got = np.array([banded(p) for p in probs])
    want = np.array([full(p) for p in probs])
    np.testing.assert_array_equal(got, want)
    # a fresh rule per probability (no band or full sort carried over from other calls)
    for p in probs[:: max(len(probs) // 60, 1)]:
        assert qmod._BandedInverseCdf(y, w)(p) == full(p) or (np.isnan(full(p)) and np.isnan(
            qmod._BandedInverseCdf(y, w)(p)))
    for p in (-0.1, 1.1, np.nan):
        assert np.isnan(banded(p))


def test_a_median_of_continuous_data_sorts_only_the_band(monkeypatch):
    """The common case takes the fast path: no full sort for a median and its Woodruff
    limits."""
    monkeypatch.setattr(qmod, "_BAND_MIN_ROWS", 0)
    rng = np.random.default_rng(7)
    y, w = rng.normal(0, 1, 100_000), rng.uniform(1, 3, 100_000)
    rule = qmod._BandedInverseCdf(y, w)
    full = _full(y, w)
    for p in (0.5, 0.497, 0.503):
        assert rule(p) == full(p)
    assert rule._full is None
    assert len(rule._band[0]) < 0.1 * len(y)


def test_design_quantile_is_the_same_with_and_without_the_band(monkeypatch):
    """quantile() end to end (estimate, Woodruff interval, se) with the band and with the full
    sort, on a stratified cluster design with unequal weights."""
    import pandas as pd

    import socialhealth as sh

    rng = np.random.default_rng(11)
    n = 6000
    df = pd.DataFrame({"h": rng.integers(0, 10, n), "psu": rng.integers(0, 8, n),
                       "w": rng.uniform(1, 5, n), "y": rng.gamma(2, 10, n).round(1),
                       "g": rng.integers(0, 3, n)})
    d = sh.SurveyDesign(df, strata="h", psu="psu", weights="w", nest=True)
    monkeypatch.setattr(qmod, "_BAND_MIN_ROWS", 10**12)
    want = d.quantile("y", [0.1, 0.5, 0.9], by="g").to_frame()
    monkeypatch.setattr(qmod, "_BAND_MIN_ROWS", 0)
    got = d.quantile("y", [0.1, 0.5, 0.9], by="g").to_frame()
    pd.testing.assert_frame_equal(got, want, check_exact=True)
