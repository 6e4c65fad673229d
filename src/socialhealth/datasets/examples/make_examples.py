"""Write the synthetic example data sets shipped with socialhealth (numpy only, seeded).

Run ``python -m socialhealth.datasets.examples.make_examples`` (or this file) to rewrite the
``*.csv.gz`` files next to it. The output is fully determined by ``SEED``; re-running gives
byte-identical data (the gzip header carries no time stamp).

The data are synthetic stand-ins modelled on the *structure* of the example data of R's
``survey`` package (Lumley): same column names, types and factor levels, and the same kind of
sampling design, but every value is drawn here from made-up distributions. No value is copied
from the R data sets. Licence: the same as socialhealth (MIT).

Data sets
---------
apipop    frame of 6194 schools (4421 E, 755 H, 1018 M) in 757 districts in 57 counties
apisrs    simple random sample of 200 schools (pw = 6194/200, fpc = 6194)
apistrat  stratified SRS by school type: 100 E, 50 H, 50 M (pw = N_h/n_h, fpc = N_h)
apiclus1  one-stage cluster sample: 15 of 757 districts, every school in them (fpc = 757)
apiclus2  two-stage sample: 40 of 757 districts (fpc1), then up to 5 schools in each
          (fpc2 = schools in the district; districts with one school are certainty units);
          enroll is missing for some sampled schools
nhanes    3000 people in 15 masked strata (75-89) with 2 PSUs each and 3 in stratum 86;
          HI_CHOL (0/1) missing for some; race 1-4; agecat (0,19] (19,39] (39,59] (59,Inf];
          RIAGENDR 1/2; WTMEC2YR examination weight
scd       6 rows of a cardiac-arrest style table: ESA (3 areas), ambulance (1/2), arrests, alive
"""
from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np

SEED = 20261414
HERE = Path(__file__).resolve().parent

N_SCHOOLS = 6194
TYPE_COUNTS = {"E": 4421, "H": 755, "M": 1018}
N_DISTRICTS = 757
N_COUNTIES = 57

API_COLUMNS = ["stype", "snum", "dnum", "cname", "cnum", "api00", "api99",
               "target", "growth", "sch.wide", "comp.imp", "both", "awards", "meals", "ell",
               "mobility", "avg.ed", "enroll", "api.stu"]


# ----------------------------------------------------------------------------- helpers
def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if np.isnan(v):
            return ""
        return repr(float(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    s = str(v)
    return '"' + s.replace('"', '""') + '"'


def _write(name: str, columns: list[str], table: dict[str, list], out_dir: Path = HERE) -> Path:
    """CSV (header quoted, strings quoted, NA empty), gzip without a time stamp."""
    out = io.StringIO()
    out.write(",".join(f'"{c}"' for c in columns) + "\n")
    n = len(table[columns[0]])
    for i in range(n):
        out.write(",".join(_fmt(table[c][i]) for c in columns) + "\n")
    path = Path(out_dir) / f"{name}.csv.gz"
    with open(path, "wb") as fh:
        with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
            gz.write(out.getvalue().encode("utf-8"))
    return path


def _py(x):
    """numpy array -> list of Python scalars, NaN kept as float nan."""
    if x.dtype.kind in "iu":
        return [int(v) for v in x]
    if x.dtype.kind == "f":
        return [float(v) for v in x]
    return [v for v in x]


# ----------------------------------------------------------------------------- api population
def _make_apipop(rng: np.random.Generator) -> dict[str, np.ndarray]:
    # district sizes: skewed (many one-school districts, one very large district)
    size = np.maximum(1, np.round(rng.lognormal(mean=1.15, sigma=1.25,
                                                size=N_DISTRICTS))).astype(int)
    size = np.minimum(size, 150)
    size[0] = 552                                             # one big-city district
    while size.sum() != N_SCHOOLS:                            # adjust to the frame size
        j = rng.integers(1, N_DISTRICTS)
        if size.sum() < N_SCHOOLS and size[j] > 3:            # grow the larger districts
            size[j] += 1
        elif size.sum() > N_SCHOOLS and size[j] > 3:
            size[j] -= 1
    # counties: Zipf-like shares; the big district lies in the largest county (19)
    share = 1.0 / np.arange(1, N_COUNTIES + 1) ** 1.1
    order = rng.permutation(N_COUNTIES) + 1
    order = np.concatenate([[19], order[order != 19]])        # county 19 gets the largest share
    county_of = np.empty(N_DISTRICTS, dtype=int)
    county_of[:N_COUNTIES] = order                            # every county has a district
    county_of[N_COUNTIES:] = rng.choice(order, size=N_DISTRICTS - N_COUNTIES, p=share / share.sum())
    county_of[0] = 19
    dnum_ids = rng.choice(np.arange(1, 820), size=N_DISTRICTS, replace=False)
    # sort districts by county, then district number; schools numbered in that order
    dorder = np.lexsort((dnum_ids, county_of))
    size, county_of, dnum_ids = size[dorder], county_of[dorder], dnum_ids[dorder]
    dist = np.repeat(np.arange(N_DISTRICTS), size)
    dnum = dnum_ids[dist]
    cnum = county_of[dist]
    n = N_SCHOOLS
    snum = np.arange(1, n + 1)
    stype = np.array(["E"] * TYPE_COUNTS["E"] + ["H"] * TYPE_COUNTS["H"] + ["M"] * TYPE_COUNTS["M"])
    stype = stype[rng.permutation(n)]
    # one-school districts are mostly elementary: swap types to make that so more often
    single = np.flatnonzero(size[dist] == 1)
    for i in single:
        if stype[i] != "E" and rng.random() < 0.7:
            j = rng.choice(np.flatnonzero((stype == "E") & (size[dist] > 1)))
            stype[i], stype[j] = stype[j], stype[i]
    # school variables: a district effect and a county effect make the cluster samples clustered
    u_d = rng.normal(size=N_DISTRICTS)[dist]
    u_c = rng.normal(size=N_COUNTIES + 1)[cnum]
    is_h, is_m = stype == "H", stype == "M"
    pov = 0.55 * u_d + 0.25 * u_c + 0.8 * rng.normal(size=n)
    meals = np.clip(np.round(50 + 28 * pov - 12 * is_h - 5 * is_m), 0, 100).astype(int)
    ell = np.clip(np.round(22 + 0.35 * (meals - 48) + 14 * rng.normal(size=n)), 1, 95).astype(int)
    # (schools without English learners, ell == 0, are placed by _make_samples)
    mobility = np.clip(np.round(rng.gamma(4.0, 4.2, size=n) + 2 * is_h), 0, 100).astype(int)
    avg_ed = np.clip(np.round(2.8 - 0.022 * (meals - 48) + 0.3 * rng.normal(size=n), 2), 1.0, 5.0)
    avg_ed[rng.random(n) < 0.03] = np.nan
    api99 = np.clip(np.round(640 - 2.6 * (meals - 48) - 0.9 * (ell - 22) - 25 * is_h
                             + 20 * u_d + 55 * rng.normal(size=n)), 302, 966).astype(int)
    growth = np.round(32 + 8 * u_d + 24 * rng.normal(size=n) - 6 * is_h).astype(int)
    api00 = np.clip(api99 + growth, 346, 969).astype(int)
    growth = api00 - api99
    target = np.where(api99 < 800, np.maximum(1, np.round(0.05 * (800 - api99))), np.nan)
    sch_wide = np.where(growth >= np.nan_to_num(target, nan=0) - 4 + 8 * rng.random(n), "Yes", "No")
    comp_imp = np.where(rng.random(n) < np.where(sch_wide == "Yes", 0.82, 0.3), "Yes", "No")
    both = np.where((sch_wide == "Yes") & (comp_imp == "Yes"), "Yes", "No")
    awards = np.where((both == "Yes") & (rng.random(n) < 0.94), "Yes", "No")   # only with both
    base = np.where(is_h, 1350, np.where(is_m, 850, 430))
    enroll = np.maximum(101, np.round(base * rng.lognormal(0, 0.45, size=n))).astype(float)
    api_stu = np.maximum(100, np.round(enroll * rng.uniform(0.72, 0.95, size=n))).astype(int)
    return {"stype": stype, "snum": snum, "dnum": dnum,
            "cname": np.array([f"County {c}" for c in cnum]), "cnum": cnum,
            "api00": api00, "api99": api99, "target": target, "growth": growth,
            "sch.wide": sch_wide, "comp.imp": comp_imp, "both": both, "awards": awards,
            "meals": meals, "ell": ell, "mobility": mobility, "avg.ed": avg_ed,
            "enroll": enroll, "api.stu": api_stu}


def _rows(pop: dict, idx: np.ndarray) -> dict:
    return {k: v[idx] for k, v in pop.items()}


def _make_samples(rng: np.random.Generator, pop: dict) -> dict[str, dict]:
    """Draw the four samples from the frame (the frame's enroll is blanked for a few schools of
    the two-stage sample before any row is copied, so frame and samples agree)."""
    n = len(pop["snum"])
    districts = np.unique(pop["dnum"])
    D = len(districts)
    # apisrs: SRS of 200
    srs = np.sort(rng.choice(n, 200, replace=False))
    # apistrat: stratified by stype, 100 E, 50 H, 50 M
    nh = {"E": 100, "H": 50, "M": 50}
    strat = np.concatenate([np.sort(rng.choice(np.flatnonzero(pop["stype"] == h), k, replace=False))
                            for h, k in nh.items()])
    # apiclus1: 15 districts, all their schools (drawn again while the sample would exceed 300
    # schools, i.e. while it holds the one 552-school district)
    while True:
        ds = rng.choice(districts, 15, replace=False)
        clus1 = np.flatnonzero(np.isin(pop["dnum"], ds))
        if len(clus1) <= 300:
            break
    # apiclus2: 40 districts, then up to 5 schools in each (all of them when the district has
    # 5 or fewer: one-school districts are certainty units at stage 2)
    parts, fpc2, n2 = [], [], []
    for d in np.sort(rng.choice(districts, 40, replace=False)):
        units = np.flatnonzero(pop["dnum"] == d)
        k = min(5, len(units))
        parts.append(np.sort(rng.choice(units, k, replace=False)))
        fpc2 += [len(units)] * k
        n2 += [k] * k
    clus2 = np.concatenate(parts)
    # enrolment is missing for 36 schools of the frame, 5 of them in the two-stage sample and
    # none in the other samples (as in R's data, where only apiclus2 has missing enroll);
    # blanked in the frame before any row is copied
    other = np.setdiff1d(np.arange(n), np.concatenate([srs, strat, clus1, clus2]))
    only2 = np.setdiff1d(clus2, np.concatenate([srs, strat, clus1]))
    blank = np.concatenate([rng.choice(only2, 5, replace=False),
                            rng.choice(other, 31, replace=False)])
    pop["enroll"][blank] = np.nan
    # ell == 0 (no English learners) is rare and clustered: every school of 4% of the districts
    # outside apiclus1, 3 schools of one apiclus1 district (so some jackknife replicates of
    # apiclus1 hold no such school, as with R's apiclus1) and 3% of the other schools
    in1 = np.isin(pop["dnum"], pop["dnum"][clus1])
    far = np.setdiff1d(districts, pop["dnum"][clus1])
    pop["ell"][np.isin(pop["dnum"], rng.choice(far, int(0.04 * D), replace=False))] = 0
    pop["ell"][np.flatnonzero(~in1)[rng.random(int((~in1).sum())) < 0.03]] = 0
    sizes1 = {d: int((pop["dnum"][clus1] == d).sum()) for d in np.unique(pop["dnum"][clus1])}
    d0 = rng.choice(sorted(d for d, k in sizes1.items() if k >= 6))
    pop["ell"][rng.choice(np.flatnonzero(pop["dnum"] == d0), 3, replace=False)] = 0

    out = {}
    s = _rows(pop, srs)
    s["pw"], s["fpc"] = np.full(200, n / 200), np.full(200, n)
    out["apisrs"] = s
    s = _rows(pop, strat)
    Nh = np.array([TYPE_COUNTS[t] for t in s["stype"]])
    s["pw"], s["fpc"] = Nh / np.array([nh[t] for t in s["stype"]]), Nh
    out["apistrat"] = s
    s = _rows(pop, clus1)
    s["fpc"], s["pw"] = np.full(len(clus1), D), np.full(len(clus1), D / 15)
    out["apiclus1"] = s
    s = _rows(pop, clus2)
    fpc2_a, n2_a = np.array(fpc2), np.array(n2)
    s["pw"], s["fpc1"], s["fpc2"] = D / 40 * fpc2_a / n2_a, np.full(len(clus2), D), fpc2_a
    out["apiclus2"] = s
    return out


# ----------------------------------------------------------------------------- nhanes-like
def _make_nhanes(rng: np.random.Generator, n: int = 3000) -> dict[str, np.ndarray]:
    strata = np.arange(75, 90)
    cells = [(h, p) for h in strata for p in ((1, 2, 3) if h == 86 else (1, 2))]
    sizes = rng.multinomial(n, np.full(len(cells), 1 / len(cells)))
    cell = np.repeat(np.arange(len(cells)), sizes)
    sdmvstra = np.array([cells[c][0] for c in cell])
    sdmvpsu = np.array([cells[c][1] for c in cell])
    u = rng.normal(size=len(cells))[cell]
    race = rng.choice([1, 2, 3, 4], size=n, p=[0.28, 0.42, 0.22, 0.08])
    ages = np.array(["(0,19]", "(19,39]", "(39,59]", "(59,Inf]"])
    agecat = ages[rng.choice(4, size=n, p=[0.29, 0.24, 0.24, 0.23])]
    gender = rng.choice([1, 2], size=n)
    w = rng.lognormal(np.log(30000) + 0.3 * u + 0.25 * (race == 2) - 0.35 * (race == 4), 0.55)
    w = np.round(w, 6)
    a = np.searchsorted(ages, agecat)
    lin = -3.6 + 0.75 * a + 0.2 * (race == 2) - 0.15 * (gender == 2) + 0.35 * u
    hi = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(float)
    hi[rng.random(n) < np.where(a == 0, 0.16, 0.06)] = np.nan
    order = np.lexsort((rng.random(n),))                 # rows in random order, as a survey file
    return {"SDMVPSU": sdmvpsu[order], "SDMVSTRA": sdmvstra[order], "WTMEC2YR": w[order],
            "HI_CHOL": hi[order], "race": race[order], "agecat": agecat[order],
            "RIAGENDR": gender[order]}


def _make_scd(rng: np.random.Generator) -> dict[str, np.ndarray]:
    # BRR example table: 3 areas (ESA) x 2 ambulance services, counts of arrests and survivors
    arrests = rng.integers(60, 160, size=6)
    alive = np.round(arrests * rng.uniform(0.1, 0.35, size=6)).astype(int)
    return {"ESA": np.array([1, 1, 2, 2, 3, 3]), "ambulance": np.array([1, 2, 1, 2, 1, 2]),
            "arrests": arrests, "alive": alive}


def _intlike(table: dict) -> dict:
    """Float columns that hold whole numbers (with NA) are written as integers."""
    out = {}
    for k, v in table.items():
        lst = _py(np.asarray(v))
        if np.asarray(v).dtype.kind == "f" and k not in ("pw", "avg.ed", "WTMEC2YR"):
            arr = np.asarray(v, dtype=float)
            if np.all(np.isnan(arr) | (arr == np.round(arr))):
                lst = [None if np.isnan(x) else int(x) for x in arr]
        out[k] = lst
    return out


def main(out_dir: str | Path | None = None) -> list[Path]:
    """Write every example data set (``<name>.csv.gz``) and return the paths.

    ``out_dir`` defaults to this file's folder (the files the package ships).

    The draws come from ``numpy.random.default_rng([SEED, k])`` streams (k = 1 frame, 2 samples,
    3 nhanes, 4 scd) in a fixed order, so the files are reproducible bit for bit.
    """
    out = HERE if out_dir is None else Path(out_dir)
    pop = _make_apipop(np.random.default_rng([SEED, 1]))
    samples = _make_samples(np.random.default_rng([SEED, 2]), pop)
    written = [_write("apipop", API_COLUMNS, _intlike(pop), out)]
    for name, cols in (("apisrs", ["pw", "fpc"]), ("apistrat", ["pw", "fpc"]),
                       ("apiclus1", ["fpc", "pw"]), ("apiclus2", ["pw", "fpc1", "fpc2"])):
        written.append(_write(name, API_COLUMNS + cols, _intlike(samples[name]), out))
    nh = _make_nhanes(np.random.default_rng([SEED, 3]))
    written.append(_write("nhanes", list(nh), _intlike(nh), out))
    scd = _make_scd(np.random.default_rng([SEED, 4]))
    written.append(_write("scd", list(scd), _intlike(scd), out))
    return written


if __name__ == "__main__":
    for p in main():
        print(p)
