"""Differential test: socialhealth's loaders on the REAL files vs an independent R harmonisation.

``fixtures/loaders_vs_r/make_loaders_vs_r.R`` reads every real file in ../shared/data with haven
(read_dta / read_sav / load) and harmonises it from the published codebooks (NORC value labels,
the ESS codebook, the CDC BRFSS 2016 codebook), not from socialhealth's TOML. It writes summary
numbers only (``loaders_vs_r.json``; no row of any file): rows read / kept / dropped by reason,
the design (rows, sum of weights, strata, PSUs, degrees of freedom) and, for every harmonised
column, the unweighted count of every value (missing included), the weighted count, and the
design-based mean or proportion of every level with its SE (R survey 4.1-1 ``svymean`` with
``na.rm = TRUE`` on ``svydesign(ids=~psu, strata=~strata, weights=~weight, nest=TRUE)``,
``survey.lonely.psu = "adjust"``; ESS round 7 ``ids=~1``).

Here each file is loaded with ``socialhealth.datasets.load`` and every number is compared:
counts exactly, weighted counts, means and SEs at 1e-8 (relative). Skipped, naming the file,
when ../shared/data (or one file) is absent.

Judgement calls where the codebook is ambiguous, kept as socialhealth documents them (the R
script makes the same choice and says why):

* education: GSS "junior college" and ESS ES-ISCED IV "advanced vocational, sub-degree" are
  middle (ISCED 0-2 / 3-5 / 6-8 grouping, short-cycle tertiary in the middle group); BRFSS
  _EDUCAG 4 "graduated from college or technical school" is high although technical-school
  graduates may be ISCED 4-5 (the variable does not separate them).
* GSS weight: wtssnr (non-response adjusted) rather than wtssall in the 2018 cross-section and
  the 2016-2020 panel; both are NORC weights, wtssall "suitable for most analyses".
* age_group: the youngest band starts at the population's minimum age, which the loaders raise
  in later panel waves (20 / 21); R writes that band as "lowest-24" and the test checks that
  the loader's lower bound is not above the youngest age kept (nobody left out).
* BRFSS MARITAL 6 "member of an unmarried couple" -> missing (no legal marital status asked).
* ESS self-rated health: ESS has no "excellent"; 1 very good -> "very good", bad / very bad ->
  "poor".
* GSS panel20 panstat 3 "selected, but not eligible" (no reason given; deaths are coded 33
  separately) -> alive (died False).
* GSS long panels: every wave is weighted with wtpannr123 (persons interviewed in all three
  waves; the files have no cross-sectional weight), so a wave keeps only three-wave completers
  (documented; weight='wtpannr12' keeps the wave-2 respondents lost in wave 3).

Defects found by this comparison and fixed (regression tests at the end of this file):

* ``combine = "min"`` (GSS contact_in_person = the more frequent of socrel / socfrend) took the
  answered code when the other item was unanswered: socrel 7 "never" with socfrend missing
  became "never" (GSS 2018: 3 rows, panel20 2016: 2, 2018: 3, 2020: 4, panel06 2008: 1).
* GSS long panels: ``died`` was False for every kept row under the default three-wave weight
  (nobody re-interviewed in the last wave can have died): a 0% mortality artefact. Now missing
  with the reason in the codebook; with weight='wtpannr12' it keeps the deaths.
"""
from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from r_compare import canonical_drops, scalar_close, value_key

from socialhealth import datasets

HERE = Path(__file__).resolve().parent
REF = HERE / "fixtures" / "loaders_vs_r" / "loaders_vs_r.json"
TOL = 1e-8

# the BRFSS loader reads the agency's SAS transport files: reuse the fixture that writes the
# three 2016 state files back to that format (test_brfss_real_2016.py, module docstring)
_spec = importlib.util.spec_from_file_location("_brfss_real_2016", HERE / "test_brfss_real_2016.py")
_brfss_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_brfss_mod)
brfss2016 = _brfss_mod.brfss2016

# R key -> (registry name, file under ../shared/data, loader options)
CASES = {
    "gss2018": ("gss", "gss/GSS2018.dta", {"wave": 2018}),
    "gss_panel20_2016": ("gss_panel20", "gss/gss_panel20.dta", {"wave": 2016}),
    "gss_panel20_2018": ("gss_panel20", "gss/gss_panel20.dta", {"wave": 2018}),
    "gss_panel20_2020": ("gss_panel20", "gss/gss_panel20.dta", {"wave": 2020}),
    "gss_panel06_2006": ("gss_panel06", "gss/gss_panel06_long.dta.zip", {"wave": 2006}),
    "gss_panel06_2008": ("gss_panel06", "gss/gss_panel06_long.dta.zip", {"wave": 2008}),
    "gss_panel06_2010": ("gss_panel06", "gss/gss_panel06_long.dta.zip", {"wave": 2010}),
    "gss_panel10_2010": ("gss_panel10", "gss/gss_panel10_long.dta.zip", {"wave": 2010}),
    "gss_panel10_2012": ("gss_panel10", "gss/gss_panel10_long.dta.zip", {"wave": 2012}),
    "gss_panel10_2014": ("gss_panel10", "gss/gss_panel10_long.dta.zip", {"wave": 2014}),
    "ess7": ("ess", "ess/ESS7GB.sav", {}),
    "ess9": ("ess", "ess/ESS9GB.sav", {}),
}
BRFSS = ["TN", "LA", "RI"]

# the loader's drop reasons, by the words that name them, and the R script's keys
REASONS = [("other cross-section", "other_cross_section"),
           ("not re-interviewed", "not_reinterviewed"),
           ("other waves", "other_waves"), ("not interviewed in this wave", "not_interviewed"),
           ("weight", "no_weight")]


@pytest.fixture(scope="module")
def ref():
    return json.loads(REF.read_text())





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

    # missing codes of the source variables, per code, over all rows read
    for var, counts in (r.get("missing_codes") or {}).items():
        # the ESS loader names SPSS system missing "sysmis" (R: ".")
        got = {("." if k == "sysmis" else k): v
               for k, v in p["missing_codes"].get(var, {}).items()}
        exp = {k: int(v) for k, v in counts.items()}
        if got != exp:
            bad.append(f"missing codes of {var}: socialhealth {got}, R {exp}")

    for col, e in r["columns"].items():
        if col not in d:
            bad.append(f"{col}: not returned by the loader")
            continue
        x = d[col]
        alias: dict = {}
        if col == "age_group":
            # the youngest band "<lower bound>-24" is "lowest-24" in R (see the R script); the
            # lower bound must leave nobody out: at most the youngest age kept
            lowest = str(x.cat.categories[0])
            if int(lowest.split("-")[0]) > rd["age_min"]:
                bad.append(f"age_group: youngest band {lowest} above the youngest age "
                           f"{rd['age_min']}")
            x = x.cat.rename_categories({lowest: "lowest-24"})
            alias = {"lowest-24": lowest}
        miss = x.isna().to_numpy()
        keys = np.array(["NA" if m else value_key(v)
                         for v, m in zip(x.astype(object), miss, strict=True)], dtype=object)
        continuous = e["type"] == "num" and set(e["counts"]) == {"NA"} and e["n"] > 0
        if continuous:
            keys = np.where(miss, "NA", "value")
        got_counts = {k: int(n) for k, n in pd.Series(keys).value_counts().items()
                      if k != "value"}
        if got_counts != {k: int(v) for k, v in e["counts"].items()}:
            diff = {k: (got_counts.get(k, 0), e["counts"].get(k, 0))
                    for k in set(got_counts) | set(e["counts"])
                    if got_counts.get(k, 0) != e["counts"].get(k, 0)}
            bad.append(f"{col}: counts differ (socialhealth, R): {diff}")
            continue
        for k, wr in e["wcounts"].items():
            wg = float(w[keys == k].sum())
            if not scalar_close(wg, wr):
                bad.append(f"{col}={k}: weighted count socialhealth {wg!r}, R {wr!r}")
        if e["type"] == "num":
            vals = x.to_numpy(dtype=float, na_value=np.nan)
            ok = ~np.isnan(vals)
            for what, got, exp in [("sum", vals[ok].sum(), e["sum"]),
                                   ("weighted sum", (w[ok] * vals[ok]).sum(), e["wsum"])]:
                if not scalar_close(got, exp):
                    bad.append(f"{col}: {what} socialhealth {got!r}, R {exp!r}")
            if continuous and not (scalar_close(vals[ok].min(), e["min"])
                                   and scalar_close(vals[ok].max(), e["max"])):
                bad.append(f"{col}: range differs")
            if "mean" in e:
                est = des.mean(col).to_frame().iloc[0]
                for what in ("est", "se"):
                    got = est["estimate" if what == "est" else "se"]
                    if not scalar_close(got, e["mean"][what]):
                        bad.append(f"{col}: mean {what} socialhealth {got!r}, "
                                   f"R {e['mean'][what]!r}")
            continue
        for level, pr in (e.get("prop") or {}).items():
            if e["type"] == "bool":
                if level != "True":
                    continue
                est = des.mean(col).to_frame().iloc[0]
            else:
                fr = des.mean(col).to_frame()
                fr = fr[fr["level"].astype(str) == alias.get(level, level)]
                if len(fr) != 1:
                    bad.append(f"{col}={level}: no proportion from socialhealth")
                    continue
                est = fr.iloc[0]
            for what, name in (("est", "estimate"), ("se", "se")):
                if not scalar_close(est[name], pr[what]):
                    bad.append(f"{col}={level}: proportion {what} socialhealth {est[name]!r}, "
                               f"R {pr[what]!r}")
    return bad


def _load(path, name, options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return datasets.load(name, path=path, **options)


@pytest.mark.realdata
@pytest.mark.parametrize("key", list(CASES))
def test_loader_equals_independent_r_harmonisation(shared_data_dir, ref, key):
    name, rel, options = CASES[key]
    path = shared_data_dir / rel
    if not path.exists():
        pytest.skip(f"{rel} is not in {shared_data_dir} (third-party survey file, not "
                    "redistributable: see ../shared/data/README.md)")
    sd = _load(path, name, options)
    bad = compare(sd, ref[key])
    assert bad == [], f"{key}: {len(bad)} disagreements with R\n" + "\n".join(bad)


@pytest.mark.realdata
@pytest.mark.parametrize("st", BRFSS)
def test_brfss_loader_equals_independent_r_harmonisation(brfss2016, ref, st):
    sd = _load(brfss2016[st][1], "brfss", {"wave": 2016})
    bad = compare(sd, ref[f"brfss2016_{st}"])
    assert bad == [], f"brfss2016 {st}: {len(bad)} disagreements with R\n" + "\n".join(bad)


def test_the_comparison_catches_a_wrong_value(ref):
    """The comparison itself fails on a doctored loader output (on the synthetic demo survey,
    against a summary written by hand here), so a green run means agreement."""
    sd = datasets.load("demo")
    d = sd.data
    n = len(d)
    w = d["weight"].to_numpy(dtype=float)
    sex = d["sex"].astype(object)
    counts = {k: int(v) for k, v in sex.fillna("NA").value_counts().items()}
    r = {"rows_read": sd.provenance["rows_read"], "rows_kept": n,
         "rows_dropped": {}, "design": {"weight_sum": float(w.sum())},
         "columns": {"sex": {"type": "cat", "n": int(sex.notna().sum()), "counts": counts,
                             "wcounts": {}}}}
    r["design"]["degf"] = float(sd.design.mean("weight").to_frame()["df"].iloc[0])
    if sd.data["strata"].notna().any():
        r["design"]["n_strata"] = int(d["strata"].astype(str).nunique())
        r["design"]["n_psu"] = len(set(zip(d["strata"].astype(str), d["psu"].astype(str),
                                                 strict=True)))
    if sd.provenance["rows_dropped"]:
        r["rows_dropped"] = canonical_drops(sd.provenance["rows_dropped"], REASONS)
    assert compare(sd, r) == []
    first = next(iter(counts))
    r["columns"]["sex"]["counts"] = dict(counts, **{first: counts[first] + 1})
    assert any(line.startswith("sex: counts differ") for line in compare(sd, r))


# ------------------------------------------------------------------ regression: found by the R run
def test_combined_contact_is_missing_when_a_source_is_unanswered(tmp_path):
    """contact_in_person = the more frequent of socrel / socfrend (codes 1 almost daily ..
    7 never). With one of the two unanswered the more frequent is unknown, unless the answered
    one is already 1: the loader used to take the answered code (socrel 7 with socfrend
    unanswered became "never"; 3 such rows in GSS 2018, 4 in the 2020 panel wave)."""
    import pyreadstat

    socrel = [1, "i", 7, "i", 2, "i", 4, "d"]
    socfrend = ["i", 1, "i", 3, 5, "i", 4, 6]
    expect = ["daily", "daily", None, None, "weekly", None, "monthly", None]
    n = len(socrel)
    cols = {"year": [2018] * n, "id": list(range(1, n + 1)), "vstrat": [1, 1, 2, 2] * 2,
            "vpsu": [1, 2] * 4, "wtssnrps": [1.0] * n, "wtssps": [1.0] * n,
            "wtssall": [1.0] * n, "health": [1] * n, "sex": [1] * n, "age": [40] * n,
            "socrel": socrel, "socfrend": socfrend, "hompop": [1] * n}
    df = pd.DataFrame({k: pd.Series(v, dtype=object).map(
        lambda x: x if isinstance(x, str) else float(x)) for k, v in cols.items()})
    miss = {k: sorted({x for x in v if isinstance(x, str)}) for k, v in cols.items()}
    path = tmp_path / "gss_synthetic.dta"
    pyreadstat.write_dta(df, str(path), version=15,
                         missing_user_values={k: v for k, v in miss.items() if v})
    sd = _load(path, "gss", {})
    got = [None if pd.isna(v) else str(v) for v in sd.data["contact_in_person"].astype(object)]
    assert got == expect
    rule = sd.codebook.set_index("concept").loc["contact_in_person", "rule"]
    assert "missing when one is unanswered" in rule


def test_panel_long_died_is_not_an_artefact_of_the_three_wave_weight(shared_data_dir, tmp_path):
    """Under wtpannr123 every kept person was re-interviewed in 2010, so ``died`` used to be
    False for all 1276 rows (0% mortality). Now missing; with wtpannr12 the deaths before the
    last wave are kept and equal a count from the raw rows (panstat strings)."""
    import zipfile

    import pyreadstat

    path = shared_data_dir / "gss/gss_panel06_long.dta.zip"
    if not path.exists():
        pytest.skip(f"gss/gss_panel06_long.dta.zip is not in {shared_data_dir}")
    sd = _load(path, "gss_panel06", {"wave": 2006})
    assert sd.data["died"].isna().all()
    assert "three-wave weight" in sd.codebook.set_index("concept").loc["died", "rule"]
    sd12 = _load(path, "gss_panel06", {"wave": 2006, "weight": "wtpannr12"})
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp_path)
    raw, _ = pyreadstat.read_dta(str(tmp_path / "gss_panel06_long.dta"),
                                 usecols=["firstid", "wave", "panstat", "wtpannr12"])
    dead = set(raw.loc[raw["panstat"].str.contains("Deceased"), "firstid"])
    kept = raw[(raw["wave"] == 1) & raw["wtpannr12"].notna()]
    n_dead = int(kept["firstid"].isin(dead).sum())
    assert n_dead > 0
    assert int((sd12.data["died"] == True).sum()) == n_dead      # noqa: E712
    assert len(sd12.data) == len(kept)
