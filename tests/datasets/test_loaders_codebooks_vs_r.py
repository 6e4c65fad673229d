"""Differential test: the loaders WITHOUT real files here (NHIS, RAND HRS, ELSA, UKHLS, BHPS, ONS
OPN and CLS) on synthetic native-format files vs an independent R harmonisation.

``fixtures/loaders_codebooks/make_loaders_codebooks.R`` (R 4.2, haven 2.5.1, survey 4.1-1)
writes, from a fixed seed, one small synthetic file per survey in the agency's own format (NHIS
``adult24.csv`` with blank cells; RAND ``randhrs1992_2022v1.dta`` with Stata extended missings
.d/.r/.m/.s and value labels; ELSA ``wave_9_elsa_data_eul_v1.dta``, UKHLS ``i_indresp.dta``,
BHPS ``bj_indresp.dta`` with negative codes stored as values; OPN / CLS SPSS ``.sav`` with value
labels), covering every valid code, every documented missing code and out-of-range values. It
then harmonises each file in R from the published documentation listed below (never from
socialhealth's TOML) and writes ``codebooks_vs_r.json``: rows read / kept / dropped by reason,
missing-code counts per variable, and for every harmonised column the count of every value,
weighted counts and the design-based proportion or mean with its SE (``svymean``, ``na.rm =
TRUE``; ``svydesign(ids=~psu, strata=~strata, weights=~weight, nest=TRUE)``, lonely PSU
"adjust"; ``ids=~1`` for the weights-only designs). The project never commits .dta/.sav
files, so the script also writes ``synthetic_files.json``, the exact content of every .dta /
.sav it wrote with haven (every cell, with null for system missing and ".d" / ".r" / ... for a
Stata extended missing; storage type and display format; value labels; extended-missing
letters; SPSS user-missing values, ranges and measure), and the fixture ``synthetic`` here
rebuilds each file from it with pyreadstat in tmp_path
(``test_rebuilt_file_holds_exactly_what_r_wrote`` checks every cell and label of the rebuilt
file against that description). ``adult24.csv``
(text), ``synthetic_files.json`` and ``codebooks_vs_r.json`` are committed (synthetic data only,
no survey row); rerun the script to regenerate them.

Each file is loaded here with ``socialhealth.datasets.load`` and compared: counts exactly,
weighted counts, estimates and SEs at 1e-8 (relative); every harmonised column the loader
fills must be one R computed (nothing escapes the comparison).

What was checked against which source (S = verified there; U = could not be verified):

* NHIS (2019+ Sample Adult CSV): missing codes 7 refused / 8 not ascertained / 9 don't know and
  97/98/99 for AGEP_A (S: published analysis scripts of adult23/24 csv recoding AGEP_A %in%
  c(97, 98, 99) and LONELY_A/SMKEV_A/DEPEV_A != 7, 8, 9); variable names LONELY_A, SUPPORT_A,
  DEPFREQ_A, ANXFREQ_A, HYPEV_A, CHDEV_A, STREV_A, DIBEV_A, SMKCIGST_A, PHSTAT_A, AGEP_A,
  SEX_A, WTFA_A, PSTRAT, PPSU (S: 2024 analysis scripts listing these columns of adult24.csv,
  NCHS Stata/SAS input programs for the adult file); DEPFREQ_A/ANXFREQ_A 1 daily, 2 weekly,
  3 monthly, 4 a few times a year, 5 never (S: a 2019+ survey instrument transcription and a
  recoding script); SMKCIGST_A 1 every day / 2 some days (current), 3 former, 4 never,
  5 smoker with unknown current status and 9 unknown -> missing (S: two published NHIS 2019+
  analysis scripts recode 1-2 current, 3 former, 4 never, 5/9 NA); LONELY_A 1 = most
  lonely .. 5 = never (S, secondary: a published 2024
  analysis recodes LONELY_A 5 -> 0 .. 1 -> 4 as increasing loneliness; the NCHS codebook
  itself was not reachable: U for the exact labels "always/usually"; re-searched 2026-12:
  still not found, consistent with the CDC BRFSS SDOH item SDLONELY 1 Always .. 5 Never);
  SUPPORT_A wording and read order "always, usually, sometimes, rarely, or never" and
  always/usually = sufficient support (S: IPUMS NHIS EMOSUPPORT page), its codes 1 always ..
  5 never U (inferred from the read order and BRFSS EMTSUPRT). Both LONELY_A and SUPPORT_A
  are now checked on the data (nhis.toml [direction_checks]: warning if the end code expected
  to be rare is weighted-more-common than the other end, test_nhis_loader.py); design
  svydesign(ids=~PPSU, strata=~PSTRAT, weights=~WTFA_A, nest=TRUE) (S: asdfree NHIS).
* RAND HRS: r{w}lblonely3 and the leave-behind weight r{w}lbwgtr exist under those names (S:
  several published RAND-HRS analysis scripts, Stata reshape stubs ``lblonely3 ... lbwgtr``);
  R{w}IWSTAT 0/1/4/5/6/7/9 (S: public RAND-based code quoted in hrs.toml); extended missings
  .d/.r/.m/.s read as missing and counted per code (S: RAND conventions; also system missing
  "." for blank years). U: RAND's construction of LBLONELY3 (mean of 3 items rescored 1-3 so
  that higher = lonelier; the raw HRS leave-behind items run the other way, 1 often .. 3
  hardly ever): neither the RAND codebook nor the HRS Psychosocial and Lifestyle
  Questionnaire documentation (Smith et al. 2017, whose table of contents the search found)
  could be read, so ">= 2 == summed score >= 6" stays [U] and a reversed RAND scale would
  invert ``lonely`` (hrs.toml says so). Re-searched 2026-12 (RAND/HRS/g2aging pages, code
  and file indexes): still U; raw item coding 1 often .. 3 hardly ever S (secondary: public
  do-files quoting the item labels); RAND's sister scale r{w}lblonely11 is described in a
  public do-file as "average of the 11 items, 1-3, higher = more loneliness" (indirect
  support only). Safeguard added: load_hrs checks LBLONELY3 against the CES-D item R{w}FLONE
  when present and warns if they correlate negatively (test_hrs_loader.py).
* ELSA: w2wgt / scw2wgt wave-2 weights, w9xwgt / w9scwt (S: ELSA analysis do-files reading
  wave_2_core_data_v4.dta and wave_9_elsa_data_eul_v1.dta); scfeela/b/c 1 hardly ever or
  never, 2 some of the time, 3 often, -9 not answered, -1 item not applicable (S: Gateway to
  Global Aging ELSA item page, g2aging.org item 287125); PScedA-H 1 yes / 2 no (public ELSA
  do-files); negative codes missing. **indager -7 = "collapsed at
  90 plus"** (S: many published ELSA scripts, e.g. "Replace age = 90 if participant is aged
  90+ years (collapsed in ELSA and coded as -7 at Wave 5-9)"; waves 2-4 code 90+ as 99).
  scorg96 = 1 "none of these" -> no-membership point (S, secondary: two public ELSA do-files
  by different authors read scorg96 = 1 as no membership: "not a member of any social
  organisation: isomember = 1 if scorg96 == 1"; "member = 0 if scorg96 == 1"). U: marstat codes
  for "not partnered" [1, 2]: re-searched 2026-12, the one public script (cited before) is
  self-contradictory (its indicator NAMED married is 0 for 1-2 and 1 for 3-6 but is added to
  an isolation score), so the rule may be inverted; safeguard added: load_elsa compares the
  codes with the file's marstat value labels and warns on a conflict (test_elsa_loader.py);
  yrdeath.
* UKHLS: sclonely / sclackcom / scleftout / scisolate three options 1 hardly ever or never,
  2 some of the time, 3 often (S: Understanding Society questionnaire module
  scaloneliness_w14, understandingsociety.ac.uk; the same codes in waves 9-11 per
  measures_and_datasets.md; waves 12-13 U, re-searched 2026-12: no w12/w13 module page or
  script found); mastat_dv 1 never married .. 9 surviving civil
  partner (S: public
  UKHLS do-files pooling BHPS and UKHLS, "inlist(marstat,2,3) married incl. civil partner,
  4,7 separated, 5,8 divorced, 6,9 widowed, 1 never married"); negative codes -1 .. -9
  missing; i_psu / i_strata / i_indscui_xw. U: -10/-11/-20/-21 meanings.
* BHPS (harmonised bX_indresp): bX_xrwght (S: measures_and_datasets.md); HLGHQ2 (GHQ
  caseness 0-12, negative codes missing), AGE, SEX 1 male 2 female (S: public BHPS scripts on
  the original wave-lettered files); hlstat 1 excellent, 2 good, 3 fair, 4 poor, 5 very poor,
  and the bX_-prefixed names in the harmonised files are U (no BHPS codebook reached).
* ONS OPN / CLS: the five ONS direct-question options and the UCLA-3 with ONS labels (S: ONS
  guidance, measures_and_datasets.md); microdata names (MCZ_*, WLack ...) and the code order
  1 Often/always .. 5 Never are U (no OPN/CLS codebook reachable; LonOft seen in one CLS
  2014-15 script; re-searched 2026-12 without result).

Defects found by this comparison and fixed (regression tests at the end of this file):

* ELSA ``indager`` -7 "collapsed at 90 plus" (waves 5+) was treated as a missing code by the
  negative-code rule: every respondent aged 90+ had no age and no age band (2 of 78 kept rows
  in the synthetic wave 9 file; in the real EUL files every person aged 90+, about 1-2% of a
  wave, all in the 75+ band, which was biased towards the younger old). Waves 2-4 code 90+ as
  99, which was read as age 99. Both are now age 90 (``[top_code]`` in elsa.toml), counted in
  ``provenance["top_coded"]`` instead of ``missing_codes``.
* Every loader (the shared engine) returned an EMPTY table, silently, when no row was usable
  (e.g. a file whose weight column is blank, or HRS weight='leave_behind' in a wave without
  the leave-behind): estimates then failed later with an unrelated message. Now a
  SurveyFileError names the file, the drop reasons with counts and the weight variable, and
  says to check file / wave / weight= (``test_bad_input_gives_a_socialhealth_error...``).
"""
from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from r_compare import canonical_drops, scalar_close, value_key

from socialhealth import datasets

HERE = Path(__file__).resolve().parent
FIX = HERE / "fixtures" / "loaders_codebooks"
REF = FIX / "codebooks_vs_r.json"
FILES = FIX / "synthetic_files.json"      # the content of each .dta / .sav R wrote
TOL = 1e-8

# R key -> (registry name, synthetic file, loader options)
CASES = {
    "nhis2024": ("nhis", "adult24.csv", {"wave": 2024}),
    "hrs8": ("hrs", "randhrs1992_2022v1.dta", {"wave": 8}),
    "hrs8lb": ("hrs", "randhrs1992_2022v1.dta", {"wave": 8, "weight": "leave_behind"}),
    "elsa9": ("elsa", "wave_9_elsa_data_eul_v1.dta", {"wave": 9}),
    "elsa2sc": ("elsa", "wave_2_core_data_v4.dta", {"wave": 2, "weight": "sc"}),
    "ukhls9": ("ukhls", "i_indresp.dta", {"wave": 9}),
    "bhps10": ("bhps", "bj_indresp.dta", {"wave": 10}),
    "opn": ("opn", "opn_synthetic.sav", {}),
    "cls": ("cls", "cls_synthetic.sav", {}),
}
REASONS = [("not a wave", "not_respondent"), ("weight", "no_weight"), ("no ", "no_design")]
NOT_HARMONISED = {"respondent_id", "survey", "wave", "country", "weight", "strata", "psu"}


@pytest.fixture(scope="module")
def ref():
    return json.loads(REF.read_text())




def _rkey(k: str) -> str:
    """R's format() of a discrete numeric value, in Python's spelling ("2" / "1.5")."""
    try:
        return value_key(float(k))
    except ValueError:
        return k



def compare(sd, r: dict) -> list[str]:
    """Every disagreement between a loaded SurveyData and the R summary, as readable lines."""
    bad: list[str] = []
    d, p = sd.data, sd.provenance
    for what, got, exp in [("rows_read", p["rows_read"], r["rows_read"]),
                           ("rows_kept", p["rows_kept"], r["rows_kept"]),
                           ("rows_kept = len(data)", len(d), r["rows_kept"])]:
        if got != exp:
            bad.append(f"{what}: socialhealth {got}, R {exp}")
    got_drop = canonical_drops(p["rows_dropped"], REASONS)
    if got_drop != (r["rows_dropped"] or {}):
        bad.append(f"rows_dropped: socialhealth {p['rows_dropped']}, R {r['rows_dropped']}")
    if p["rows_read"] != p["rows_kept"] + sum(p["rows_dropped"].values()):
        bad.append("rows_read != rows_kept + dropped in the loader's own report")
    if not d["respondent_id"].is_unique:
        bad.append("respondent_id is not unique")
    w = d["weight"].to_numpy(dtype=float)
    rd = r["design"]
    if not scalar_close(w.sum(), rd["weight_sum"]):
        bad.append(f"sum of weights: socialhealth {w.sum()!r}, R {rd['weight_sum']!r}")
    if "n_strata" in rd:
        strata = d["strata"].astype(str)
        if strata.nunique() != rd["n_strata"]:
            bad.append(f"strata: socialhealth {strata.nunique()}, R {rd['n_strata']}")
        n_psu = len(set(zip(strata, d["psu"].astype(str), strict=True)))
        if n_psu != rd["n_psu"]:
            bad.append(f"PSUs: socialhealth {n_psu}, R {rd['n_psu']}")
    elif "strata" in d and d["strata"].notna().any():
        bad.append("socialhealth has strata where the R design has none")
    des = sd.design
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = float(des.mean("weight").to_frame()["df"].iloc[0])
    if df != rd["degf"]:
        bad.append(f"design df: socialhealth {df}, R {rd['degf']}")

    got_missing = {v: c for v, c in p["missing_codes"].items() if c}
    exp_missing = {v: {k: int(n) for k, n in c.items()}
                   for v, c in (r.get("missing_codes") or {}).items()}
    for var in sorted(set(got_missing) | set(exp_missing)):
        got = got_missing.get(var, {})
        if got != exp_missing.get(var, {}):
            bad.append(f"missing codes of {var}: socialhealth {got}, R {exp_missing.get(var)}")

    if "top_coded" in r and p.get("top_coded") != r["top_coded"]:
        bad.append(f"top-coded ages: socialhealth {p.get('top_coded')}, R {r['top_coded']}")

    filled = {c for c in d.columns if c not in NOT_HARMONISED and d[c].notna().any()}
    for c in sorted(filled - set(r["columns"])):
        bad.append(f"{c}: filled by the loader but not harmonised in R (not compared)")
    for col, e in r["columns"].items():
        if col not in d:
            bad.append(f"{col}: not returned by the loader")
            continue
        x = d[col]
        miss = x.isna().to_numpy()
        keys = np.array(["NA" if m else value_key(v)
                         for v, m in zip(x.astype(object), miss, strict=True)], dtype=object)
        rcounts = {_rkey(k): int(v) for k, v in e["counts"].items()}
        rw = {_rkey(k): v for k, v in e["wcounts"].items()}
        continuous = e["type"] == "num" and set(rcounts) <= {"NA"}
        if continuous:
            keys = np.where(miss, "NA", "value")
        got_counts = {k: int(n) for k, n in pd.Series(keys).value_counts().items()
                      if k != "value"}
        if got_counts != rcounts:
            diff = {k: (got_counts.get(k, 0), rcounts.get(k, 0))
                    for k in set(got_counts) | set(rcounts)
                    if got_counts.get(k, 0) != rcounts.get(k, 0)}
            bad.append(f"{col}: counts differ (socialhealth, R): {diff}")
            continue
        for k, wr in rw.items():
            wg = float(w[keys == k].sum())
            if not scalar_close(wg, wr):
                bad.append(f"{col}={k}: weighted count socialhealth {wg!r}, R {wr!r}")
        if e["type"] == "num":
            vals = x.to_numpy(dtype=float, na_value=np.nan)
            ok = ~np.isnan(vals)
            if ok.sum() < 2:
                continue
            for what, got, exp in [("sum", vals[ok].sum(), e["sum"]),
                                   ("weighted sum", (w[ok] * vals[ok]).sum(), e["wsum"]),
                                   ("min", vals[ok].min(), e["min"]),
                                   ("max", vals[ok].max(), e["max"])]:
                if not scalar_close(got, exp):
                    bad.append(f"{col}: {what} socialhealth {got!r}, R {exp!r}")
            est = des.mean(col).to_frame().iloc[0]
            for what, name in (("est", "estimate"), ("se", "se")):
                if not scalar_close(est[name], e["mean"][what]):
                    bad.append(f"{col}: mean {what} socialhealth {est[name]!r}, "
                               f"R {e['mean'][what]!r}")
            continue
        for level, pr in (e.get("prop") or {}).items():
            if e["type"] == "bool":
                est = des.mean(col).to_frame().iloc[0]
            else:
                fr = des.mean(col).to_frame()
                fr = fr[fr["level"].astype(str) == level]
                if len(fr) != 1:
                    bad.append(f"{col}={level}: no proportion from socialhealth")
                    continue
                est = fr.iloc[0]
            for what, name in (("est", "estimate"), ("se", "se")):
                if not scalar_close(est[name], pr[what]):
                    bad.append(f"{col}={level}: proportion {what} socialhealth "
                               f"{est[name]!r}, R {pr[what]!r}")
    return bad


def _load(path, name, options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return datasets.load(name, path=path, cache=False, **options)


def _frame(spec: dict) -> pd.DataFrame:
    """The cells of one described file: int32 / float64 columns, or object columns holding
    floats, NaN (system missing) and the letters of Stata extended missings ("d" for .d)."""
    cols = {}
    for name, c in spec["columns"].items():
        vals = c["values"]
        if c["type"] == "int32":
            cols[name] = pd.Series(vals, dtype="int32")
        elif any(isinstance(v, str) for v in vals):
            cols[name] = pd.Series([v[1:] if isinstance(v, str) else
                                    (np.nan if v is None else float(v)) for v in vals],
                                   dtype=object)
        else:
            cols[name] = pd.Series([np.nan if v is None else float(v) for v in vals],
                                   dtype="float64")
    return pd.DataFrame(cols)


def _value_labels(c: dict) -> dict:
    cast = int if c["type"] == "int32" else float
    return {cast(lab["value"]): lab["label"] for lab in c["value_labels"] or []}


def _user_missing(c: dict) -> list:
    out: list = [float(v) for v in c["user_missing_values"]]
    if c.get("user_missing_range"):
        lo, hi = c["user_missing_range"]
        out.append({"lo": float(lo), "hi": float(hi)})
    return out


def build_native(spec: dict, path: Path) -> Path:
    """Write the file ``spec`` (one entry of synthetic_files.json) with pyreadstat."""
    import pyreadstat

    df = _frame(spec)
    cols = spec["columns"]
    labels = {n: _value_labels(c) for n, c in cols.items() if c["value_labels"]}
    formats = {n: c["format"] for n, c in cols.items()}
    if spec["format"] == "dta":
        tags = {n: list(c["extended_missing"]) for n, c in cols.items() if c["extended_missing"]}
        pyreadstat.write_dta(df, str(path), version=spec["version"],
                             variable_value_labels=labels or None,
                             missing_user_values=tags or None, variable_format=formats)
    else:
        ranges = {n: _user_missing(c) for n, c in cols.items() if _user_missing(c)}
        pyreadstat.write_sav(df, str(path), variable_value_labels=labels or None,
                             missing_ranges=ranges or None, variable_format=formats,
                             variable_measure={n: c["measure"] for n, c in cols.items()})
    return path


@pytest.fixture(scope="module")
def file_specs():
    return json.loads(FILES.read_text())


@pytest.fixture
def synthetic(tmp_path, file_specs):
    """A synthetic file under its distributed name in tmp_path: adult24.csv copied, a .dta /
    .sav rebuilt with pyreadstat from its description in synthetic_files.json."""
    def get(file):
        dst = tmp_path / file
        if file.endswith(".csv"):
            shutil.copy(FIX / file, dst)
        else:
            build_native(file_specs[file], dst)
        return dst
    return get


@pytest.mark.parametrize("file", sorted({f for _, f, _ in CASES.values()} - {"adult24.csv"}))
def test_rebuilt_file_holds_exactly_what_r_wrote(synthetic, file_specs, file):
    """The pyreadstat-written file, read back, has every cell, extended-missing letter,
    storage type, format, value label and user-missing declaration R described: the loaders
    are compared with R on the data R harmonised."""
    import pyreadstat

    spec = file_specs[file]
    path = synthetic(file)
    reader = pyreadstat.read_dta if spec["format"] == "dta" else pyreadstat.read_sav
    df, meta = reader(str(path), user_missing=True)
    assert list(df.columns) == list(spec["columns"])
    assert len(df) == spec["rows"]
    for name, c in spec["columns"].items():
        got = [None if (isinstance(v, float) and math.isnan(v)) else
               f".{v}" if isinstance(v, str) else float(v) for v in df[name].astype(object)]
        exp = [v if v is None or isinstance(v, str) else float(v) for v in c["values"]]
        assert got == exp, name
        assert meta.readstat_variable_types[name] == c["type"], name
        assert meta.original_variable_types[name] == c["format"], name
        labels = meta.value_labels.get(meta.variable_to_label.get(name), {})
        assert {float(k): v for k, v in labels.items()} == {
            float(k): v for k, v in _value_labels(c).items()}, name
        if spec["format"] == "dta":
            assert sorted(meta.missing_user_values.get(name, [])) == c["extended_missing"], name
        else:
            def key(m):
                return (m["lo"], m["hi"])

            assert sorted(meta.missing_ranges.get(name, []), key=key) == sorted(
                ({"lo": m, "hi": m} if not isinstance(m, dict) else m
                 for m in _user_missing(c)), key=key), name
            assert meta.variable_measure[name] == c["measure"], name


@pytest.mark.parametrize("key", list(CASES))
def test_loader_equals_independent_r_harmonisation(ref, synthetic, key):
    name, file, options = CASES[key]
    sd = _load(synthetic(file), name, options)
    bad = compare(sd, ref[key])
    assert bad == [], f"{key}: {len(bad)} disagreements with R\n" + "\n".join(bad)


def test_the_comparison_catches_a_wrong_value(ref, synthetic):
    """The comparison fails on a doctored R summary (one count, one SE), so green means
    agreement and not a comparison that cannot fail."""
    name, file, options = CASES["ukhls9"]
    sd = _load(synthetic(file), name, options)
    r = json.loads(json.dumps(ref["ukhls9"]))
    r["columns"]["lonely_direct"]["counts"]["Often"] += 1
    r["columns"]["depression"]["prop"]["True"]["se"] *= 1 + 1e-6
    bad = compare(sd, r)
    assert any(b.startswith("lonely_direct: counts differ") for b in bad)
    assert any(b.startswith("depression=True: proportion se") for b in bad)


# ------------------------------------------------------------------ regression: found by the R run
def _elsa_file(path, indager):
    import pyreadstat

    n = len(indager)
    df = pd.DataFrame({"idauniq": list(range(1, n + 1)), "w9xwgt": [1.0] * n,
                       "w3xwgt": [1.0] * n, "indager": indager})
    pyreadstat.write_dta(df, str(path), version=15)
    return path


@pytest.mark.parametrize("wave, indager, ages", [
    (9, [52, -7, 89, -9, -8, 99], [52, 90, 89, None, None, 99]),   # -7: 90+; 99 a real 99
    (3, [52, 99, 89, -9, -7, 60], [52, 90, 89, None, 90, 60]),     # waves 2-4: 99 = 90+
])
def test_elsa_age_90_plus_is_kept(tmp_path, wave, indager, ages):
    """ELSA EUL files collapse ages 90+ ("collapsed at 90 plus": -7 from wave 5, 99 in waves
    2-4). The loader used to set -7 missing like a refusal, dropping every 90+ respondent
    from age and age_group; now they are age 90 in the 75+ band and counted as top-coded."""
    path = _elsa_file(tmp_path / f"wave_{wave}_elsa_data.dta", indager)
    sd = _load(path, "elsa", {"wave": wave})
    got = [None if pd.isna(v) else float(v) for v in sd.data["age"]]
    assert got == [None if a is None else float(a) for a in ages]
    groups = [None if pd.isna(v) else str(v) for v in sd.data["age_group"].astype(object)]
    band = {52: "50-54", 60: "55-64", 89: "75+", 90: "75+", 99: "75+"}
    assert groups == [None if a is None else band[a] for a in ages]
    top = {str(c): indager.count(c) for c in ((-7, 99) if wave in (2, 3, 4) else (-7,))
           if c in indager}
    assert sd.provenance["top_coded"] == {"indager": top}
    assert "-7" not in sd.provenance["missing_codes"].get("indager", {})


# ------------------------------------------------------------------------- bad input, per loader
WEIGHT = {"nhis2024": "WTFA_A", "hrs8": "r8wtresp", "elsa9": "w9xwgt", "ukhls9": "i_indscui_xw",
          "bhps10": "bj_xrwght", "opn": "weight", "cls": "rimweight"}
UNKNOWN_WAVE = {"nhis2024": 2015, "hrs8": 17, "elsa9": 11, "ukhls9": 15, "bhps10": 19,
                "opn": 2010, "cls": 2010}


def _rewrite(src: Path, dst: Path, change) -> Path:
    """``src`` read, changed by ``change(frame)`` and written to ``dst`` in its own format."""
    import pyreadstat

    if src.suffix == ".csv":
        df = pd.read_csv(src)
        change(df)
        df.to_csv(dst, index=False)
        return dst
    df, _ = (pyreadstat.read_dta if src.suffix == ".dta" else pyreadstat.read_sav)(str(src))
    change(df)
    (pyreadstat.write_dta if src.suffix == ".dta" else pyreadstat.write_sav)(df, str(dst))
    return dst


@pytest.mark.parametrize("key", list(WEIGHT))
def test_bad_input_gives_a_socialhealth_error_saying_what_to_do(synthetic, tmp_path, key):
    from socialhealth.errors import SurveyFileError, UnknownWaveError

    name, file, options = CASES[key]
    path = synthetic(file)
    # another survey's file
    other = synthetic("adult24.csv" if name != "nhis" else "i_indresp.dta")
    with pytest.raises(SurveyFileError, match="file|weight"):
        _load(other, name, options)
    # a wave / year the codebook does not cover
    with pytest.raises(UnknownWaveError, match=str(UNKNOWN_WAVE[key])):
        _load(path, name, {**options, "wave": UNKNOWN_WAVE[key]})
    # the weight variable removed: the message names it
    sub = tmp_path / "without_weight"
    sub.mkdir()
    no_w = _rewrite(path, sub / file, lambda df: df.pop(WEIGHT[key]))
    with pytest.raises(SurveyFileError, match=f"(?i){WEIGHT[key]}"):
        _load(no_w, name, options)
    # every weight missing: no row is usable, said at once (it used to return 0 rows silently)
    sub = tmp_path / "no_weights"
    sub.mkdir()

    def blank(df):
        df[WEIGHT[key]] = np.nan

    all_missing = _rewrite(path, sub / file, blank)
    with pytest.raises(SurveyFileError, match=f"none of its .* rows can be used.*{WEIGHT[key]}"):
        _load(all_missing, name, options)
