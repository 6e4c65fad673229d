"""The replicate-weight value checks split across threads give the same maxima and errors."""
import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
import socialhealth.design.replicate as rp
from socialhealth.errors import ReplicateWeightsError


@pytest.fixture
def two_idle_cores(monkeypatch):
    monkeypatch.setattr(rp, "idle_cores", lambda: 2)


def test_column_maxima_threads_equal_numpy(two_idle_cores):
    rng = np.random.default_rng(3)
    cols = [rng.integers(0, 2**62, size=900_000, dtype=np.uint64) for _ in range(5)]
    assert rp._column_maxima(cols) == [int(np.max(c)) for c in cols]


@pytest.mark.parametrize("bad, message", [(np.nan, "missing"), (np.inf, "infinite")])
def test_threaded_checks_refuse_bad_weights(two_idle_cores, bad, message):
    rng = np.random.default_rng(4)
    n, R = 500_000, 9                    # 4.5 million weights: the threaded path
    df = pd.DataFrame({f"r{j}": rng.uniform(0.5, 2.0, n) for j in range(R)})
    df["w"] = 1.0
    df["y"] = rng.normal(size=n)
    df.loc[n - 7, "r7"] = bad            # in a column the second thread reads (odd)
    with pytest.raises(ReplicateWeightsError, match=message):
        sh.ReplicateDesign(df, weights="w", replicate_weights=[f"r{j}" for j in range(R)],
                           method="bootstrap")


def test_threaded_checks_keep_the_largest_weight(two_idle_cores):
    rng = np.random.default_rng(5)
    n, R = 500_000, 9
    df = pd.DataFrame({f"r{j}": rng.uniform(0.5, 2.0, n) for j in range(R)})
    df.loc[123, "r7"] = 17.25
    df["w"] = 1.0
    d = sh.ReplicateDesign(df, weights="w", replicate_weights=[f"r{j}" for j in range(R)],
                           method="bootstrap")
    assert d._Wsrc.largest() == 17.25


def test_threaded_checks_accept_a_negative_weight(two_idle_cores):
    """A finite negative replicate weight passes (R svrepdesign accepts them) and is found."""
    rng = np.random.default_rng(6)
    n, R = 500_000, 9
    df = pd.DataFrame({f"r{j}": rng.uniform(0.5, 2.0, n) for j in range(R)})
    df.loc[n - 7, "r7"] = -3.5           # in a column the second thread reads (odd)
    df["w"] = 1.0
    d = sh.ReplicateDesign(df, weights="w", replicate_weights=[f"r{j}" for j in range(R)],
                           method="bootstrap")
    assert d._Wsrc.smallest() == -3.5
    assert d._Wsrc.largest() == max(float(df[f"r{j}"].max()) for j in range(R))
    assert d._negative_replicates() == [8]
