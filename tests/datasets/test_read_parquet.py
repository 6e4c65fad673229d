"""socialhealth.datasets.read_parquet equals pandas.read_parquet, column by column.

The expected frame is pandas' own reader on the same file; the files are written here with
every kind of column a survey table holds (floats with missing values, integers, nullable
integers, booleans, strings, categoricals, dates, float32)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import ArgumentError, MissingColumnError, WrongFileFormatError


def survey_frame(n=500, seed=1):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "id": np.arange(n),
        "w": rng.uniform(1, 3, n),
        "sex": pd.Categorical(rng.choice(["f", "m"], n)),
        "agegrp": pd.Categorical(rng.choice(["18-34", "35-64", "65+"], n),
                                 categories=["18-34", "35-64", "65+"], ordered=True),
        "region": rng.choice(["north", "south", None], n),
        "lonely": pd.array(rng.choice([0, 1, None], n), dtype="Int64"),
        "smoker": rng.random(n) < 0.2,
        "date": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
        "f32": rng.random(n).astype(np.float32),
        "nullable_float": pd.array(np.where(rng.random(n) < 0.1, None, rng.random(n)),
                                   dtype="Float64"),
    })
    for r in range(1, 6):
        rw = df["w"] * rng.uniform(0, 2, n)
        rw[rng.random(n) < 0.05] = np.nan
        df[f"rw{r}"] = rw
    return df


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "survey.parquet"
    survey_frame().to_parquet(p)
    return p


def test_equals_pandas_reader(path):
    pd.testing.assert_frame_equal(sh.datasets.read_parquet(path), pd.read_parquet(path))


@pytest.mark.parametrize("cols", [["rw3", "id", "w", "rw1"], ["sex", "region"], ["w", "rw2"],
                                  ["w"]])
def test_equals_pandas_reader_on_chosen_columns(path, cols):
    got = sh.datasets.read_parquet(path, columns=cols)
    pd.testing.assert_frame_equal(got, pd.read_parquet(path, columns=cols))
    assert list(got.columns) == cols


def test_float_columns_share_one_block(path):
    df = sh.datasets.read_parquet(path)
    cols = ["w"] + [f"rw{r}" for r in range(1, 6)]
    addr = [df[c].to_numpy().__array_interface__["data"][0] for c in cols]
    steps = set(np.diff(addr))
    assert len(steps) == 1 and steps.pop() > 0
    # so a replicate design views them without copying
    d = sh.ReplicateDesign(df.fillna({c: 0.0 for c in cols}), weights="w",
                           replicate_weights="^rw[0-9]+$", method="bootstrap")
    assert d.n_replicates == 5


def test_stored_index_falls_back_to_pandas(tmp_path):
    df = survey_frame(50).set_index("id")
    p = tmp_path / "indexed.parquet"
    df.to_parquet(p)
    pd.testing.assert_frame_equal(sh.datasets.read_parquet(p), pd.read_parquet(p))


def test_range_index_is_kept(tmp_path):
    df = survey_frame(40)
    df.index = pd.RangeIndex(100, 140, name="row")
    p = tmp_path / "ranged.parquet"
    df.to_parquet(p)
    pd.testing.assert_frame_equal(sh.datasets.read_parquet(p), pd.read_parquet(p))


def test_bad_input_is_named(path, tmp_path):
    with pytest.raises(MissingColumnError, match="rw9"):
        sh.datasets.read_parquet(path, columns=["w", "rw9"])
    with pytest.raises(ArgumentError, match="more than once"):
        sh.datasets.read_parquet(path, columns=["w", "w"])
    with pytest.raises(ArgumentError, match="list"):
        sh.datasets.read_parquet(path, columns="w")
    with pytest.raises(WrongFileFormatError, match="not a file"):
        sh.datasets.read_parquet(tmp_path / "absent.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_text("id,w\n1,2\n")
    with pytest.raises(WrongFileFormatError, match="not a Parquet file"):
        sh.datasets.read_parquet(bad)
