"""Speed of socialhealth.models: nested association models and the design-based Cox model.

Targets (issue 7), on the synthetic stratified cluster sample of ``gen.py`` (seed 42; columns
``stratum, psu, w, x1..x10, y``; 50 strata, up to 20 PSUs per stratum):

* ``models.association`` with 3 nested logistic models (exposure ``x7``; blocks
  ``x1..x5`` and ``x6, x8, x9, x10``) on 1,000,000 rows: at most 3x one logistic
  ``design.glm("y ~ x1 + ... + x10")`` on the same data;
* ``models.coxph`` on 100,000 rows of the same generator (design strata = the 50 strata,
  clusters = PSUs; also with the 50 strata as baseline-hazard strata): under 10 s on 2 cores.
  Survival times are simulated here from the covariates (seed 1): exponential with rate
  ``0.1 exp(0.3 x1 - 0.2 x2 + 0.4 x7)``, administrative censoring at 5, rounded to 0.01 (ties).

Median of ``--reps`` runs. Usage::

    python benchmarks/bench_models.py                 # full sizes
    python benchmarks/bench_models.py --rows 200000   # quicker association run

Writes ``benchmarks/results/models.json``. Data go to ``benchmarks/data/`` (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
X = [f"x{i}" for i in range(1, 11)]


def reference_dir() -> Path:
    env = os.environ.get("SOCIALHEALTH_REFERENCE")
    return Path(env) if env else ROOT.parent / "shared" / "reference"


def ensure_data(rows: int, strata: int = 50, psus: int = 20) -> Path:
    out = HERE / "data" / f"bench_{rows}_{strata}_{psus}.csv"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        gen = reference_dir() / "bench" / "gen.py"
        subprocess.run([sys.executable, str(gen), str(rows), str(strata), str(psus), str(out)], check=True)
    return out


def timed(fn, reps):
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def bench_association(rows: int, reps: int) -> dict:
    import socialhealth as sh
    from socialhealth import models

    df = pd.read_csv(ensure_data(rows))
    d = sh.SurveyDesign(df, psu="psu", strata="stratum", weights="w")
    blocks = [["x1", "x2", "x3", "x4", "x5"], ["x6", "x8", "x9", "x10"]]
    t_glm, glm_times, m = timed(lambda: d.glm("y ~ " + " + ".join(X), family="binomial"), reps)
    t_assoc, assoc_times, t = timed(
        lambda: models.association(d, exposure="x7", outcome="y", adjust=blocks, measure="or"), reps)
    # the most adjusted association model is the full GLM: same estimate
    full = float(np.exp(m.params["x7"]))
    last = float(t.to_frame()["estimate"].iloc[-1])
    return {"rows": rows, "reps": reps, "glm_seconds": t_glm, "glm_all": glm_times,
            "association_3_models_seconds": t_assoc, "association_all": assoc_times,
            "ratio": t_assoc / t_glm, "target_ratio": 3.0, "pass": t_assoc / t_glm <= 3.0,
            "check_or_x7_equal_full_glm": abs(full - last) / full}


def bench_coxph(rows: int, reps: int) -> dict:
    import socialhealth as sh
    from socialhealth import models

    df = pd.read_csv(ensure_data(rows))
    rng = np.random.default_rng(1)
    rate = 0.1 * np.exp(0.3 * df["x1"] - 0.2 * df["x2"] + 0.4 * df["x7"])
    t = rng.exponential(1 / rate)
    df["time"] = np.round(np.minimum(t, 5.0), 2) + 0.01
    df["event"] = (t < 5.0).astype(int)
    d = sh.SurveyDesign(df, psu="psu", strata="stratum", weights="w")
    cov = ["x1", "x2", "x7", "x8"]
    t_cox, all_cox, m = timed(lambda: models.coxph(d, "time", "event", cov), reps)
    t_cox_s, all_cox_s, ms = timed(lambda: models.coxph(d, "time", "event", cov, strata="stratum"), reps)
    return {"rows": rows, "reps": reps, "events": int(df["event"].sum()),
            "design_strata": int(df["stratum"].nunique()), "covariates": cov,
            "coxph_seconds": t_cox, "coxph_all": all_cox,
            "coxph_baseline_strata_seconds": t_cox_s, "coxph_baseline_strata_all": all_cox_s,
            "target_seconds": 10.0, "pass": max(t_cox, t_cox_s) < 10.0,
            "log_hr": dict(zip(cov, map(float, m.params))),
            "log_hr_true": {"x1": 0.3, "x2": -0.2, "x7": 0.4, "x8": 0.0}}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows for the association benchmark")
    ap.add_argument("--cox-rows", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    res = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "association": bench_association(args.rows, args.reps),
        "coxph": bench_coxph(args.cox_rows, args.reps),
    }
    out = HERE / "results" / "models.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
