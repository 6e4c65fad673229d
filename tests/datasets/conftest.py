"""Every datasets test gets its own empty cache folder (SOCIALHEALTH_CACHE)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    cache = tmp_path / "shcache"
    monkeypatch.setenv("SOCIALHEALTH_CACHE", str(cache))
    return cache


@pytest.fixture
def cache_dir(_tmp_cache):
    return _tmp_cache


@pytest.fixture
def leftovers():
    """``leftovers(cache)``: files left in the cache besides the sha index."""
    return _leftovers


def _leftovers(cache):
    """Files in the cache other than the sha index (tables, temporary files).

    The sha index is written by a background hashing thread (atomically, through its own
    temporary file ``.sha256-index.json.*.tmp``) that may still be running when a load fails;
    that memo is not a table, so neither it nor its temporary file counts.
    """
    if not cache.exists():
        return []
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")
                  if p.is_file() and p.name != "sha256-index.json"
                  and not p.name.startswith(".sha256-index.json"))


# ----------------------------------------------------------------------------- synthetic files
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

I, D, N, Y = "i", "d", "n", "y"   # Stata extended missing letters as pyreadstat writes them

# GSS cumulative-file structure, 7 rows; expected outputs are written out in the tests.
GSS_CUM = {
    "year":     [2018, 2018, 2018, 2022, 2022, 2022, 1978],
    "id":       [1, 2, 3, 1, 2, 3, 5],
    "vstrat":   [1, 1, 2, 1, 1, I, 1],
    "vpsu":     [1, 2, 1, 1, 2, 1, 1],
    "wtssnrps": [1.5, 0.5, I, 1.2, I, 0.8, Y],
    "wtssps":   [1.4, 0.6, 2.0, 1.1, I, 0.8, Y],
    "wtssall":  [1.0, 1.0, 1.0, Y, Y, 1.0, 1.2],
    "health":   [1, D, 4, 2, 1, 1, 3],
    "sex":      [1, 2, 2, 1, 1, 2, 1],
    "age":      [30, N, 89, 17, 40, 41, 50],
    "socrel":   [1, 7, I, 5, 1, 1, 2],
    "socfrend": [3, I, I, 6, 1, 1, 4],
    "hompop":   [1, 3, 2, D, 1, 1, 1],
}


def _obj(col):
    return pd.Series(col, dtype=object).map(lambda v: v if isinstance(v, str) else float(v))


def write_gss_cum(path, drop=()):
    """Write the GSS_CUM rows (minus the columns in ``drop``) as a Stata 15 file."""
    import pyreadstat

    cols = {k: v for k, v in GSS_CUM.items() if k not in drop}
    df = pd.DataFrame({k: _obj(v) for k, v in cols.items()})
    miss = {k: sorted({x for x in v if isinstance(x, str)}) for k, v in cols.items()}
    miss = {k: v for k, v in miss.items() if v}
    labels = {k: v for k, v in {"health": {1: "excellent", 2: "good", 3: "fair", 4: "poor"},
                                "sex": {1: "male", 2: "female"}}.items() if k in cols}
    pyreadstat.write_dta(df, str(path), version=15, missing_user_values=miss,
                         variable_value_labels=labels)
    return path


@pytest.fixture
def gss_cum_writer():
    return write_gss_cum


@pytest.fixture
def gss_cum_file(tmp_path):
    """A small Stata file with the GSS cumulative structure and extended missing values."""
    return write_gss_cum(tmp_path / "gss7224_synthetic.dta")


# ESS-like SPSS file, 6 rows, with declared user-missing codes
ESS_SYN = {
    "idno":     [101, 102, 103, 104, 105, 106],
    "cntry":    ["GB", "GB", "GB", "GB", "GB", "FR"],
    "essround": [7, 7, 7, 7, 7, 7],
    "pspwght":  [1.0, 2.0, 0.5, 1.5, 1.0, 1.0],
    "pweight":  [2.0, 2.0, 2.0, 2.0, 2.0, 9.0],
    "dweight":  [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    "fltlnl":   [1, 3, 8, 4, 2, 1],
    "sclmeet":  [7, 1, 5, 88, 2, 3],
    "inprdsc":  [0, 2, 77, 6, 1, 1],
    "health":   [1, 5, 3, 7, 2, 2],
    "agea":     [16, 999, 80, 45, 30, 50],
    "gndr":     [1, 2, 2, 9, 1, 2],
    "hhmmb":    [1, 2, 1, 3, 99, 2],
}


@pytest.fixture
def ess_sav_file(tmp_path):
    import pyreadstat

    df = pd.DataFrame(ESS_SYN)
    path = tmp_path / "ESS7XX.sav"
    pyreadstat.write_sav(df, str(path), missing_ranges={
        "fltlnl": [7, 8, 9], "sclmeet": [77, 88, 99], "inprdsc": [77, 88, 99],
        "health": [7, 8, 9], "agea": [999], "gndr": [9], "hhmmb": [77, 88, 99]},
        variable_value_labels={"fltlnl": {1: "None or almost none of the time", 2: "Some of the time",
                                          3: "Most of the time", 4: "All or almost all of the time",
                                          7: "Refusal", 8: "Don't know", 9: "No answer"}})
    return path
