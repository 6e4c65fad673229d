"""The column-selective Stata reader against pyreadstat / pandas on files written here."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from socialhealth.datasets import _stata
from socialhealth.datasets._readers import open_source


@pytest.mark.parametrize("version", [13, 14, 15])          # dta 117, 118, 119
def test_extended_missing_and_strings(tmp_path, version):
    df = pd.DataFrame({
        "a": pd.Series([1.0, "d", 3.0, "i", np.nan, "z"], dtype=object),
        "b": [1, 2, 3, 4, 5, 6],
        "s": ["x", "yy", "", "z", "wé", "v"],
        "c": [1.5, 2.5, np.nan, 4.5, -5.5, 1e300],
    })
    p = tmp_path / f"t{version}.dta"
    pyreadstat.write_dta(df, str(p), version=version, missing_user_values={"a": ["d", "i", "z"]},
                         variable_value_labels={"a": {1: "one", 3: "three"}})
    src = open_source(p)
    assert src.kind == "dta" and src.n_rows == 6
    raw = src.read(["c", "a", "s", "b"])
    assert "_stata numpy slice reader" in raw.reader
    np.testing.assert_array_equal(raw.data["a"].to_numpy(), [1.0, np.nan, 3.0, np.nan, np.nan, np.nan])
    assert raw.missing["a"] == {".d": 1, ".i": 1, ".": 1, ".z": 1}
    np.testing.assert_array_equal(raw.data["c"].to_numpy(), [1.5, 2.5, np.nan, 4.5, -5.5, 1e300])
    assert raw.missing["c"] == {".": 1}
    assert raw.data["b"].tolist() == [1, 2, 3, 4, 5, 6]
    assert list(raw.data["s"]) == ["x", "yy", "", "z", "wé", "v"]
    assert raw.value_labels["a"] == {1: "one", 3: "three"}
    assert list(raw.data.columns) == ["c", "a", "s", "b"]


def test_byte_int_float_types(tmp_path):
    """pandas writes int8/int16/float32 as Stata byte/int/float; values must round-trip."""
    df = pd.DataFrame({"i8": np.array([1, -5, 100], dtype=np.int8),
                       "i16": np.array([300, -2, 32740], dtype=np.int16),
                       "i32": np.array([70000, -1, 5], dtype=np.int32),
                       "f32": np.array([1.5, np.nan, -2.25], dtype=np.float32),
                       "f64": [0.1, np.nan, 3.0]})
    p = tmp_path / "types.dta"
    df.to_stata(p, version=118, write_index=False)
    sf = _stata.parse(p.read_bytes())
    assert [sf.types[sf.names.index(c)] for c in df.columns] == [65530, 65529, 65528, 65527, 65526]
    ref, _ = pyreadstat.read_dta(str(p))
    for c in df.columns:
        v, _ = sf.read_column(c)
        np.testing.assert_allclose(v, ref[c].to_numpy(dtype=float), rtol=0, equal_nan=True)


def test_old_format_falls_back_to_pyreadstat(tmp_path):
    df = pd.DataFrame({"a": pd.Series([1.0, "d", 3.0], dtype=object), "b": [1.0, 2.0, np.nan]})
    p = tmp_path / "old.dta"
    pyreadstat.write_dta(df, str(p), version=12, missing_user_values={"a": ["d"]})   # dta 115
    raw = open_source(p).read(["a", "b"])
    assert raw.reader.startswith("pyreadstat")
    np.testing.assert_array_equal(raw.data["a"].to_numpy(), [1.0, np.nan, 3.0])
    assert raw.missing == {"a": {".d": 1}, "b": {".": 1}}


def test_sav_user_missing(ess_sav_file):
    raw = open_source(ess_sav_file).read(["fltlnl", "agea", "cntry"])
    assert raw.missing == {"fltlnl": {"8": 1}, "agea": {"999": 1}}
    assert raw.data["fltlnl"].isna().tolist() == [False, False, True, False, False, False]
    assert list(raw.data["cntry"]) == ["GB"] * 5 + ["FR"]


def test_csv(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,x\n,y\n3,\n")
    raw = open_source(p).read(["a", "b"])
    assert raw.missing == {"a": {"blank": 1}, "b": {"blank": 1}}
    assert raw.data["a"].tolist()[0] == 1.0


def test_xport_and_zip_member_with_trailing_space(tmp_path):
    import zipfile

    df = pd.DataFrame({"SDLONELY": [1.0, 5.0, np.nan, 3.0], "X": [1.0, 2.0, 3.0, 4.0]})
    p = tmp_path / "LLCP.xpt"
    pyreadstat.write_xport(df, str(p))
    raw = open_source(p).read(["SDLONELY", "X"])
    np.testing.assert_array_equal(raw.data["SDLONELY"].to_numpy(), [1.0, 5.0, np.nan, 3.0])
    assert raw.missing == {"SDLONELY": {".": 1}}
    z = tmp_path / "LLCPXPT.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(p, "LLCP2023.XPT ")           # as CDC ships it, with a trailing space
    src = open_source(z)
    assert src.member == "LLCP2023.XPT " and src.kind == "xpt"
    pd.testing.assert_frame_equal(src.read(["SDLONELY", "X"]).data, raw.data)
