"""socialhealth's reader layer (``open_source(...).read``) against R haven on 30 small files.

Files: 10 .sav, 8 .dta (dta 119, 118 and 115, the last read by the pyreadstat fallback), 6 .xpt,
6 .csv; synthetic and seeded, written by fixtures/fuzz_readers/make_files.py (pyreadstat 1.3.8)
into a temporary folder here, and into fixtures/fuzz_readers/files/ (git-ignored) for R: the
same cell values, no real data and no binary file committed. Expected values:
fixtures/fuzz_readers/fuzz_readers_reference.json, written by make_fuzz_readers.R (R 4.2,
haven 2.5.1: read_sav(user_na = TRUE), read_dta, read_xpt; base read.csv). The test runs without R.

Per column it checks (exactly, no tolerance):
* which cells are missing (SPSS user-missing codes and ranges, Stata ``.``/``.a``-``.z``, NaN);
* every non-missing value (doubles to the last bit: 1e300, 5e-324, 2**53, -0.0 ...; strings
  with non-ASCII characters; dates, converted to days);
* the per-code missing counts (``RawTable.missing``) against the codes / tags haven keeps;
* value labels, including labels on Stata extended missing values and non-ASCII labels.

Deliberate differences (each asserted by its own test below):
* CSV: an empty cell of a text column is missing for socialhealth (counted as ``"blank"``),
  the empty string ``""`` for read.csv (read.csv only treats ``NA`` as missing in text).
* Stata text keeps its trailing blanks here (``" x "``, as Stata and pyreadstat keep it);
  haven's read_dta returns ``" x"``. (SPSS pads strings with blanks, so both trim there.)
* Dates come back as numbers in the file's own unit (Stata: days since 1960-01-01; SPSS:
  seconds since 1582-10-14), haven as ``Date`` (days since 1970-01-01).
"""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import importlib.util

import numpy as np
import pytest

from socialhealth.datasets._readers import open_source

HERE = Path(__file__).parent / "fixtures" / "fuzz_readers"
REF = json.loads((HERE / "fuzz_readers_reference.json").read_text(encoding="utf-8"))
FILES = sorted(k for k in REF if not k.startswith("_"))
# days from each format's date origin to 1970-01-01 (R's Date origin)
_DAYS_TO_1970 = {"dta": 3653, "xpt": 3653, "sav": 141428}


_spec = importlib.util.spec_from_file_location("fuzz_readers_make_files",
                                               HERE / "make_files.py")
_make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_make)


@pytest.fixture(scope="module")
def files_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz_readers")
    assert sorted(_make.write_all(out)) == FILES
    return out


def _num(v):
    return math.nan if v is None else float(v)


def _read(files_dir: Path, name: str):
    src = open_source(files_dir / name)
    cols = list(REF[name])
    assert src.columns == cols
    return src.read(cols)


def _as_days(x: np.ndarray, ext: str) -> np.ndarray:
    """A date column as socialhealth returns it, in days since 1970-01-01 (R's Date)."""
    if ext == "sav":                                   # seconds since 1582-10-14
        x = x / 86400.0
    return x - _DAYS_TO_1970[ext]


def test_thirty_files_four_formats():
    assert Counter(f.rsplit(".", 1)[1] for f in FILES) == {"sav": 10, "dta": 8, "xpt": 6,
                                                           "csv": 6}


@pytest.mark.parametrize("name", FILES)
def test_values_and_missing_match_haven(files_dir, name):
    ext = name.rsplit(".", 1)[1]
    raw = _read(files_dir, name)
    assert raw.n_rows == len(next(iter(REF[name].values()))["values"])
    for col, r in REF[name].items():
        s = raw.data[col]
        if r["type"] == "character":
            ours = [v if isinstance(v, str) else None for v in s.astype(object).tolist()]
            theirs = list(r["values"])
            if ext == "csv":   # deliberate: blank text cell is missing here, "" in read.csv
                theirs = [None if v == "" else v for v in theirs]
            if ext == "dta":   # deliberate: haven drops trailing blanks of Stata strings
                ours = [o if o is None else o.rstrip(" ") for o in ours]
            mask_r = [t is None or m for t, m in zip(theirs, r["missing"], strict=True)]
            assert [o is None for o in ours] == mask_r, (name, col)
            assert [o for o, m in zip(ours, mask_r, strict=True) if not m] == \
                [t for t, m in zip(theirs, mask_r, strict=True) if not m], (name, col)
            continue
        x = s.to_numpy(dtype=float)
        miss = np.array(r["missing"], bool)
        assert np.array_equal(np.isnan(x), miss), (name, col, np.isnan(x).sum(), miss.sum())
        want = np.array([_num(v) for v in r["values"]])
        got = x[~miss]
        if r["type"] == "date":
            got = _as_days(got, ext)
        assert np.array_equal(got, want[~miss]), (name, col)
        assert np.array_equal(np.signbit(got), np.signbit(want[~miss])), (name, col)  # -0.0


def _haven_counts(r: dict, ext: str) -> dict[str, int]:
    c: Counter = Counter()
    for v, m, t in zip(r["values"], r["missing"], r["tag"], strict=True):
        if not m:
            continue
        if t is not None:
            c["." + t] += 1
        elif v is not None:                         # an SPSS user-missing code
            fv = float(v)
            c[str(int(fv)) if fv.is_integer() else repr(fv)] += 1
        else:
            c[{"sav": "sysmis", "csv": "blank"}.get(ext, ".")] += 1
    return dict(c)


@pytest.mark.parametrize("name", FILES)
def test_missing_code_counts_match_haven(files_dir, name):
    ext = name.rsplit(".", 1)[1]
    raw = _read(files_dir, name)
    for col, r in REF[name].items():
        if r["type"] == "character" and ext == "csv":
            want = Counter(v for v in r["values"] if v == "")    # blank cells, see module doc
            want = {"blank": want[""]} if want else {}
        elif r["type"] == "character":
            want = Counter(v for v, m in zip(r["values"], r["missing"], strict=True) if m)
            want = dict(want)
        else:
            want = _haven_counts(r, ext)
        assert raw.missing.get(col, {}) == want, (name, col)


@pytest.mark.parametrize("name", [f for f in FILES if f.endswith((".sav", ".dta"))])
def test_value_labels_match_haven(files_dir, name):
    raw = _read(files_dir, name)
    for col, r in REF[name].items():
        if not r["labels"]:
            assert col not in raw.value_labels, (name, col)
            continue
        want = {}
        for lab in r["labels"]:
            if lab["tag"] is not None:
                key = "." + lab["tag"]
            else:
                v = float(lab["value"])
                key = int(v) if v.is_integer() else v
            want[key] = lab["label"]
        assert raw.value_labels[col] == want, (name, col)


def test_csv_blank_text_cell_is_missing_not_empty_string(files_dir):
    """Deliberate difference: read.csv keeps "" in a text column; socialhealth counts it missing."""
    name = "f00.csv"
    r = REF[name]["s"]
    n_empty = sum(v == "" for v in r["values"])
    assert n_empty == 1 and not any(r["missing"])      # haven/read.csv: "" is a value
    raw = _read(files_dir, name)
    assert raw.missing["s"] == {"blank": 1}
    assert int(raw.data["s"].isna().sum()) == 1


def test_dta_trailing_blank_kept_where_haven_drops_it(files_dir):
    """Deliberate difference: the file holds " x " (Stata str#, NUL-padded); haven returns " x"."""
    raw = _read(files_dir, "f00.dta")
    ours = raw.data["s"].astype(object).tolist()
    theirs = REF["f00.dta"]["s"]["values"]
    diff = [(o, t) for o, t in zip(ours, theirs, strict=True) if o != t]
    assert diff == [(" x ", " x"), (" x ", " x")]
    assert b" x \0" in (files_dir / "f00.dta").read_bytes()


def test_sav_date_column_is_read_not_dropped(tmp_path):
    """Regression: a date column of a .sav came back all NaN, counted as system missing.

    SPSS stores a date as seconds since 1582-10-14; 2000-01-01 is 152385 days after it
    (141428 days to 1970-01-01 plus 10957 to 2000-01-01), i.e. 13166064000 seconds.
    """
    import datetime

    import pandas as pd
    import pyreadstat

    path = tmp_path / "dates.sav"
    df = pd.DataFrame({"when": [datetime.date(2000, 1, 1), None, datetime.date(2000, 1, 2)]})
    pyreadstat.write_sav(df, str(path))
    raw = open_source(path).read(["when"])
    assert raw.missing == {"when": {"sysmis": 1}}
    got = raw.data["when"].tolist()
    assert got[0] == 152385 * 86400.0 and math.isnan(got[1]) and got[2] == 152386 * 86400.0
