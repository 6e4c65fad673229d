"""BRFSS loader on real rows: the complete 2016 LLCP rows of Tennessee, Louisiana and Rhode Island.

The data (../shared/data/brfss/brfss_{TN,LA,RI}_2016.RData, README section 8; CC0 copy of CDC's
public-use rows) are never committed: the tests skip when they or ``Rscript`` are absent.

How the files are made (once per session, in a temporary folder):

1. ``Rscript`` exports each .RData to CSV (doubles printed with 17 significant digits, so every
   weight comes back bit for bit). pyreadr is not a dependency; R is.
2. The rows are written back in the AGENCY's format, the way CDC distributes LLCP2016: SAS
   transport **version 5** (``pyreadstat.write_xport(file_format_version=5)``, 8-character
   names), the ``X_`` prefix that R gave the names turned back into CDC's leading ``_``
   (``X_LLCPWT`` -> ``_LLCPWT``), ``_PSU`` added equal to ``SEQNO`` (CDC: "Primary Sampling
   Unit (Equal to Annual Sequence Number)"; the R copy dropped it), the ``DUMMY_*`` filler
   columns dropped, and ``SEQNO``, ``IYEAR``, ``IMONTH``, ``IDAY`` written as character
   variables as in CDC's layout (2023 codebook "Type of Variable: Char"; the 2016 types [U]).
3. ``datasets.load("brfss", path=..., wave=2016)`` reads those XPT files.

Every harmonised column is checked against a computation on the raw rows written out below
(CDC's codes, not the loader's codebook rules), every 7/9/77/99/14 and blank count against the
raw counts, and weighted prevalences with their SEs against R survey 4.1-1
(tests/fixtures/datasets/make_brfss2016_reference.R -> brfss2016_reference.json).
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from socialhealth import datasets
from socialhealth.errors import DatasetError

STATES = {"TN": 47, "LA": 22, "RI": 44}
N_ROWS = {"TN": 6167, "LA": 5256, "RI": 5457}          # README section 8
REF = Path(__file__).resolve().parents[1] / "fixtures" / "datasets" / "brfss2016_reference.json"
CHAR_VARS = {"SEQNO": 10, "IYEAR": 4, "IMONTH": 2, "IDAY": 2}

R_EXPORT = r"""
args <- commandArgs(trailingOnly = TRUE)
e <- new.env()
nm <- load(args[1], envir = e)
d <- get(nm[1], envir = e)
chr <- names(d)[vapply(d, is.character, logical(1))]
dbl <- vapply(d, function(x) is.double(x), logical(1))
d[dbl] <- lapply(d[dbl], function(x) ifelse(is.na(x), NA, sprintf("%.17g", x)))
write.csv(d, args[2], row.names = FALSE, na = "")
writeLines(chr, paste0(args[2], ".chr"))
"""


@pytest.fixture(scope="session")
def brfss2016(shared_data_dir, tmp_path_factory):
    """``{state: (raw rows as R holds them, path of the agency-format XPT)}``."""
    src = shared_data_dir / "brfss"
    files = {st: src / f"brfss_{st}_2016.RData" for st in STATES}
    if not all(p.is_file() for p in files.values()):
        pytest.skip(f"BRFSS 2016 state files not found in {src}")
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript not found (needed to read the .RData files)")
    import pyreadstat

    out = tmp_path_factory.mktemp("brfss2016")
    script = out / "export.R"
    script.write_text(R_EXPORT)
    result = {}
    for st, rdata in files.items():
        csv = out / f"{st}.csv"
        subprocess.run([rscript, "--vanilla", str(script), str(rdata), str(csv)], check=True,
                       capture_output=True, timeout=300)
        chars = Path(f"{csv}.chr").read_text().split()      # free-text fields (DLYOTHER)
        raw = pd.read_csv(csv, dtype={**{c: str for c in chars}}, keep_default_na=False,
                          na_values={c: [""] for c in pd.read_csv(csv, nrows=0).columns
                                     if c not in chars})
        raw = raw.astype({c: float for c in raw.columns if c not in chars})
        csv.unlink()
        agency = raw.drop(columns=[c for c in raw.columns if c.startswith("DUMMY_")])
        agency.columns = ["_" + c[2:] if c.startswith("X_") else c for c in agency.columns]
        at = agency.columns.get_loc("SEQNO") + 1
        agency = pd.concat([agency.iloc[:, :at], agency["SEQNO"].rename("_PSU"),
                            agency.iloc[:, at:]], axis=1)
        for c, width in CHAR_VARS.items():
            agency[c] = agency[c].map(lambda v, w=width: f"{int(v):0{w}d}")
        xpt = out / f"LLCP2016_{st}.XPT"
        pyreadstat.write_xport(agency, str(xpt), file_format_version=5, table_name="LLCP2016")
        result[st] = (raw, xpt)
    return result


@pytest.fixture(scope="session")
def ref():
    return json.loads(REF.read_text())


def _tf(true, false, known=None):
    """Nullable boolean from masks: True / False / missing (neither)."""
    true, false = np.asarray(true, bool), np.asarray(false, bool)
    out = np.where(true, True, np.where(false, False, None))
    return pd.array(out, dtype="boolean")


def _same(col, expected) -> None:
    got = pd.array(col.astype(object).where(col.notna(), None), dtype="boolean")
    exp = pd.array(expected, dtype="boolean")
    assert (got.isna() == exp.isna()).all(), (int(got.isna().sum()), int(exp.isna().sum()))
    assert (got[~got.isna()] == exp[~exp.isna()]).all()


def _labels(col):
    return [None if pd.isna(v) else v for v in col.astype(object)]


def _mapped(x, mapping):
    return [mapping.get(v) if not np.isnan(v) else None for v in x]


# -------------------------------------------------------------------------- the agency format
def test_written_in_agency_format(brfss2016):
    import pyreadstat

    for st, (raw, xpt) in brfss2016.items():
        assert len(raw) == N_ROWS[st] and raw.shape[1] == 419
        head = xpt.read_bytes()[:80]
        # SAS transport version 5 library header (version 8 writes "LIBV8   HEADER RECORD")
        assert head.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!0000")
        df, meta = pyreadstat.read_xport(str(xpt), metadataonly=True)
        names = list(meta.column_names)
        n_dummy = sum(c.startswith("DUMMY_") for c in raw.columns)
        assert n_dummy >= 1 and not any(c.startswith("DUMMY_") for c in names)
        assert len(names) == 419 - n_dummy + 1                    # + _PSU
        assert max(len(c) for c in names) <= 8
        assert not any(c.startswith("X_") for c in names)
        assert {"_PSU", "_STSTR", "_LLCPWT", "_STATE", "_AGEG5YR", "_BMI5", "SEQNO"} <= set(names)
        assert meta.readstat_variable_types["SEQNO"] == "string"
        assert meta.readstat_variable_types["_PSU"] == "double"
        back, _ = pyreadstat.read_xport(str(xpt), usecols=["SEQNO", "_PSU", "_LLCPWT"])
        assert len(back) == N_ROWS[st]
        np.testing.assert_array_equal(back["_PSU"].to_numpy(), back["SEQNO"].astype(float).to_numpy())
        # IBM hex floats hold 56-bit fractions: the IEEE weights come back exactly
        np.testing.assert_array_equal(back["_LLCPWT"].to_numpy(), raw["X_LLCPWT"].to_numpy())


# ------------------------------------------------------------- every concept against raw rows
@pytest.mark.parametrize("st", sorted(STATES))
def test_harmonised_columns_equal_raw_computation(brfss2016, st):
    raw, xpt = brfss2016[st]
    sd = datasets.load("brfss", path=xpt, wave=2016, columns=["SMOKE100", "SMOKDAY2"])
    d, p = sd.data, sd.provenance
    n = len(raw)
    assert p["rows_read"] == n and p["rows_kept"] == n and p["rows_dropped"] == {}
    assert (raw["X_LLCPWT"] > 0).all()
    r = {c: raw[c].to_numpy(dtype=float) for c in raw.columns if raw[c].dtype.kind == "f"}

    # design: CDC's _LLCPWT, _STSTR (year-specific label), _PSU = SEQNO; ids carry the state
    np.testing.assert_array_equal(d["weight"].to_numpy(), r["X_LLCPWT"])
    assert _labels(d["strata"]) == [f"2016-{int(v)}" for v in r["X_STSTR"]]
    assert _labels(d["psu"]) == [str(int(v)) for v in r["SEQNO"]]
    assert _labels(d["respondent_id"]) == [f"2016-{STATES[st]}-{int(v)}" for v in r["SEQNO"]]
    assert d["respondent_id"].is_unique
    assert set(d["region"].astype(object)) == {st} and set(d["wave"]) == {"2016"}
    iy = r["IYEAR"]
    assert d["year"].astype(float).tolist() == iy.tolist() and set(iy) <= {2016.0, 2017.0}

    # emotional support (EMTSUPRT 1 always ... 5 never): social_support = always / usually
    e = r["EMTSUPRT"]
    _same(d["social_support"], _tf(np.isin(e, [1, 2]), np.isin(e, [3, 4, 5])))
    assert _labels(d["emotional_support"]) == _mapped(e, {1: "Always", 2: "Usually", 3: "Sometimes",
                                                          4: "Rarely", 5: "Never"})
    ls = r["LSATISFY"]
    assert _labels(d["life_satisfaction"]) == _mapped(ls, {1: "Very satisfied", 2: "Satisfied",
                                                           3: "Dissatisfied", 4: "Very dissatisfied"})
    g = r["GENHLTH"]
    assert _labels(d["self_rated_health"]) == _mapped(g, {1: "excellent", 2: "very good", 3: "good",
                                                          4: "fair", 5: "poor"})
    _same(d["poor_health"], _tf(np.isin(g, [4, 5]), np.isin(g, [1, 2, 3])))
    a = r["ADDEPEV2"]
    _same(d["depression"], _tf(a == 1, a == 2))

    # smoking from the two questions (never: SMOKE100 2; current: SMOKE100 1 and SMOKDAY2 1/2;
    # former: SMOKE100 1 and SMOKDAY2 3; anything else unknown), and CDC's _SMOKER3 agrees
    s100, sday = r["SMOKE100"], r["SMOKDAY2"]
    current = (s100 == 1) & np.isin(sday, [1, 2])
    not_current = (s100 == 2) | ((s100 == 1) & (sday == 3))
    _same(d["smoker"], _tf(current, not_current))
    _same(d["smoker"], _tf(np.isin(r["X_SMOKER3"], [1, 2]), np.isin(r["X_SMOKER3"], [3, 4])))

    # BMI: _BMI5 has two implied decimals; obese = BMI >= 30, the same as CDC's _BMI5CAT 4
    bmi = r["X_BMI5"] / 100
    np.testing.assert_array_equal(d["bmi"].to_numpy(dtype=float), bmi)
    _same(d["obese"], _tf(bmi >= 30, bmi < 30))
    _same(d["obese"], _tf(r["X_BMI5CAT"] == 4, np.isin(r["X_BMI5CAT"], [1, 2, 3])))

    # no leisure-time activity: _TOTINDA 2; EXERANY2 (1 yes, 2 no, 7/9) is its source
    t = r["X_TOTINDA"]
    _same(d["physically_inactive"], _tf(t == 2, t == 1))
    _same(d["physically_inactive"], _tf(r["EXERANY2"] == 2, r["EXERANY2"] == 1))

    # heavy drinking: > 14 drinks a week (men), > 7 (women); _DRNKWEK has 2 implied decimals,
    # 99900 = unknown; unknown sex -> unknown
    wk, sex = r["X_DRNKWEK"], r["SEX"]
    known = ~np.isnan(wk) & (wk != 99900) & np.isin(sex, [1, 2])
    heavy = known & (((sex == 1) & (wk > 1400)) | ((sex == 2) & (wk > 700)))
    _same(d["heavy_drinker"], _tf(heavy, known & ~heavy))
    _same(d["heavy_drinker"], _tf(r["X_RFDRHV5"] == 2, r["X_RFDRHV5"] == 1))

    # heart disease = angina/CHD or heart attack (CDC's _MICHD rule); stroke; diabetes
    chd, mi = r["CVDCRHD4"], r["CVDINFR4"]
    hd = (chd == 1) | (mi == 1)
    _same(d["heart_disease"], _tf(hd, ~hd & (chd == 2) & (mi == 2)))
    _same(d["heart_disease"], _tf(r["X_MICHD"] == 1, r["X_MICHD"] == 2))
    _same(d["stroke"], _tf(r["CVDSTRK3"] == 1, r["CVDSTRK3"] == 2))
    db = r["DIABETE3"]
    _same(d["diabetes"], _tf(db == 1, np.isin(db, [2, 3, 4])))

    # sex; age group by position of the ordered level (labels are being revised elsewhere):
    # _AGEG5YR 1 (18-24) -> first level, 2-3 -> second, ..., 12-13 -> seventh, 14 -> missing
    assert _labels(d["sex"]) == _mapped(sex, {1: "male", 2: "female"})
    ag = r["X_AGEG5YR"]
    pos = np.where(ag == 14, -1, np.floor(ag / 2)).astype(int)
    assert d["age_group"].cat.codes.tolist() == pos.tolist()
    np.testing.assert_array_equal(d["age"].to_numpy(dtype=float), r["X_AGE80"])
    mh = r["MENTHLTH"]
    np.testing.assert_array_equal(d["mental_health_days"].to_numpy(dtype=float),
                                  np.where(mh == 88, 0, np.where(mh <= 30, mh, np.nan)))

    # what the codebook says was measured
    cb = sd.codebook.set_index("concept")
    for c in ["social_support", "self_rated_health", "depression", "smoker", "bmi", "obese",
              "physically_inactive", "heavy_drinker", "heart_disease", "stroke", "diabetes",
              "age_group", "sex", "emotional_support", "life_satisfaction"]:
        assert cb.loc[c, "measured"], c
    assert "_RFDRHV5" in cb.loc["heavy_drinker", "source_variables"]
    for c in ["lonely", "lonely_direct", "isolated_feeling"]:     # 2016 has no such item
        assert not cb.loc[c, "measured"] and d[c].isna().all()


# every declared code counted per code, equal to the raw counts (over all rows read)
CODES = {"EMTSUPRT": [7, 9], "LSATISFY": [7, 9], "GENHLTH": [7, 9], "ADDEPEV2": [7, 9],
         "SEX": [7, 9], "CVDCRHD4": [7, 9], "CVDINFR4": [7, 9], "CVDSTRK3": [7, 9],
         "DIABETE3": [7, 9], "SMOKE100": [7, 9], "SMOKDAY2": [7, 9], "X_SMOKER3": [9],
         "X_TOTINDA": [9], "X_RFDRHV5": [9], "MARITAL": [9], "X_EDUCAG": [9], "EMPLOY1": [9],
         "MENTHLTH": [77, 99], "X_AGEG5YR": [14]}


def _raw_counts(raw: pd.DataFrame, var: str, codes) -> dict:
    x = raw[var].to_numpy(dtype=float)
    out = {str(c): int((x == c).sum()) for c in codes}
    out["."] = int(np.isnan(x).sum())
    return {k: v for k, v in out.items() if v}


def _name(v):
    return "_" + v[2:] if v.startswith("X_") else v


@pytest.mark.parametrize("st", sorted(STATES))
def test_missing_codes_counted_per_code(brfss2016, st):
    raw, xpt = brfss2016[st]
    sd = datasets.load("brfss", path=xpt, wave=2016, columns=["SMOKE100", "SMOKDAY2"])
    mc = sd.provenance["missing_codes"]
    for var, codes in CODES.items():
        assert mc.get(_name(var), {}) == _raw_counts(raw, var, codes), var
    # a few written out (TN, from CDC's codes in the .RData): EMTSUPRT 7 x52, 9 x24, blank x1032
    if st == "TN":
        assert mc["EMTSUPRT"] == {"7": 52, "9": 24, ".": 1032}
        assert mc["MENTHLTH"] == {"77": 108, "99": 21}
        assert mc["_RFDRHV5"] == {"9": 388} and mc["SEX"] == {"9": 3}
    assert sd.provenance["not_asked"]["EMTSUPRT"] == int(raw["EMTSUPRT"].isna().sum())
    # the source columns requested come back with their codes set missing
    s100 = raw["SMOKE100"]
    assert sd.data["SMOKE100"].isna().sum() == s100.isin([7, 9]).sum() + s100.isna().sum()


# ------------------------------------------------------------------- prevalences against R
def _est(design, var):
    row = design.mean(var).to_frame().iloc[0]
    return row["estimate"], row["se"]


def _check(sd, r_numbers):
    d = sd.data
    es = d["emotional_support"]
    no_support = np.where(es.isna(), np.nan, es.isin(["Rarely", "Never"]).astype(float))
    des = sd.assign(no_support=no_support).design
    for var in ["depression", "no_support", "social_support", "heavy_drinker"]:
        est, se = _est(des, var)
        assert est == pytest.approx(r_numbers[var]["est"], rel=1e-12), var
        assert se == pytest.approx(r_numbers[var]["se"], rel=1e-12), var
        n_valid = d[var].notna().sum() if var in d else np.isfinite(no_support).sum()
        assert int(n_valid) == r_numbers[var]["n"], var
    return des


@pytest.mark.parametrize("st", sorted(STATES))
def test_prevalences_match_r_by_state(brfss2016, ref, st):
    sd = datasets.load("brfss", path=brfss2016[st][1], wave=2016)
    assert sd.data["strata"].nunique() == ref[st]["strata"]
    _check(sd, ref[st])


def test_three_states_stacked_match_r(brfss2016, ref):
    paths = [brfss2016[st][1] for st in ["TN", "LA", "RI"]]
    sd = datasets.load("brfss", path=paths, wave=2016)
    d, p = sd.data, sd.provenance
    assert len(d) == sum(N_ROWS.values()) == ref["pooled_TN_LA_RI"]["n"] == 16880
    assert d["strata"].nunique() == ref["pooled_TN_LA_RI"]["strata"] == 42 + 30 + 14
    assert d["respondent_id"].is_unique
    # stacking one year's files leaves the weights alone
    np.testing.assert_array_equal(d["weight"].to_numpy(), np.concatenate(
        [brfss2016[st][0]["X_LLCPWT"].to_numpy() for st in ["TN", "LA", "RI"]]))
    # row accounting per file, and the totals
    assert [f["rows_read"] for f in p["files"]] == [N_ROWS["TN"], N_ROWS["LA"], N_ROWS["RI"]]
    assert [Path(f["file"]).name for f in p["files"]] == [x.name for x in paths]
    assert p["rows_read"] == p["rows_kept"] == 16880 and p["rows_dropped"] == {}
    assert p["wave"] == "2016" and "stacked" in p
    for var, codes in CODES.items():
        if var in ("SMOKE100", "SMOKDAY2"):
            continue                          # not read without columns=
        total: dict = {}
        for st in STATES:
            for k, v in _raw_counts(brfss2016[st][0], var, codes).items():
                total[k] = total.get(k, 0) + v
        assert p["missing_codes"].get(_name(var), {}) == total, var
        assert [f["missing_codes"].get(_name(var), {}) for f in p["files"]] == [
            _raw_counts(brfss2016[st][0], var, codes) for st in ["TN", "LA", "RI"]]
    des = _check(sd, ref["pooled_TN_LA_RI"])
    # by state inside the stacked design = R svyby(~y, ~state, svymean)
    fips = {v: k for k, v in STATES.items()}
    for var in ["depression", "no_support"]:
        got = des.mean(var, by="region").to_frame().set_index("region")
        rb = ref["by_state"][var]
        for code, est, se in zip(rb["state"], rb["est"], rb["se"]):
            assert got.loc[fips[code], "estimate"] == pytest.approx(est, rel=1e-12)
            assert got.loc[fips[code], "se"] == pytest.approx(se, rel=1e-12)


def test_two_states_stacked_match_r(brfss2016, ref):
    sd = datasets.load("brfss", path=[brfss2016["TN"][1], brfss2016["RI"][1]])
    assert len(sd.data) == N_ROWS["TN"] + N_ROWS["RI"] == ref["pooled_TN_RI"]["n"]
    _check(sd, ref["pooled_TN_RI"])


def test_same_state_twice_is_refused(brfss2016):
    ri = brfss2016["RI"][1]
    with pytest.raises(DatasetError, match="respondent"):
        datasets.load("brfss", path=[ri, ri], wave=2016)


def test_every_concept_answered_or_explained(brfss2016):
    """The issue-13 completeness check on the real rows: each harmonised concept has answers or
    a codebook reason for 2016, and no code of the file is left unmapped (per state and
    stacked)."""
    from socialhealth.datasets._concepts import concept_problems

    for paths in [[brfss2016[st][1]] for st in STATES] + [[brfss2016[st][1] for st in STATES]]:
        sd = datasets.load("brfss", path=paths if len(paths) > 1 else paths[0], wave=2016)
        problems = concept_problems(sd)
        assert problems == [], f"{[p.name for p in paths]}:\n" + "\n".join(problems)
