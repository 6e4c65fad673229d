"""Speed and memory of replicate-weight designs: socialhealth ``ReplicateDesign`` against svy.

Data: the synthetic stratified cluster sample of ``gen.py`` (N rows, H strata, up to P PSUs per
stratum, seed 42) plus ``--replicates`` bootstrap replicate weight columns ``rw1..rwR`` built
once here (Rao-Wu rescaling bootstrap: in every stratum ``n_h - 1`` PSUs are drawn with
replacement, a PSU drawn ``k`` times gets ``w * k * n_h / (n_h - 1)``; seed 20261206). The same
columns go to both tools through one Parquet file in ``benchmarks/data/`` (git-ignored).

Tasks (both tools told that the columns are bootstrap replicates, scale 1/(R-1), centred at the
mean of the replicates):

* ``design``: ``ReplicateDesign(df, weights="w", replicate_weights=[rw1..rwR],
  method="bootstrap")`` / ``svy.Sample(df, svy.Design(wgt="w",
  rep_wgts=svy.BootstrapWgts(prefix="rw", n_reps=R, scale=1 / (R - 1))))``
  (svy's default bootstrap scale is 1/R; R ``survey``'s and socialhealth's 1/(R-1));
* ``mean_first``: the first ``mean("score")`` on the design just defined;
* ``mean``: the same mean again on the same design;
* ``domain_mean_first``: the first ``mean("score", by="dom")`` on a design just defined;
* ``domain_mean``: the same domain mean again on the same design (socialhealth keeps the
  domains' replicate totals of the last domain table, as it keeps the last products of single
  columns);
* ``proportion``: proportion of ``y`` (socialhealth ``proportion("y")``, logit interval, R
  ``svyciprop``; svy ``prop("y")``);
* ``glm``: logistic ``y ~ x1 + ... + x10`` with the model refitted under every replicate.

Timings: both tools in one process, interleaved task by task (the order alternates between
repetitions), median of ``--reps``. Peak memory: each tool runs every task once in a fresh
subprocess that reads the Parquet file with its own reader (socialhealth.datasets.read_parquet,
or pandas.read_parquet with ``--sh-reader pandas`` / polars) and reports its
``VmHWM``. ``--fresh`` also times every task once per tool in fresh subprocesses (first call in
a new process, as a user script would).

Usage::

    python benchmarks/bench_replicate.py                          # 1,000,000 rows x 80 replicates
    python benchmarks/bench_replicate.py --rows 100000 --reps 3   # quick run
    python benchmarks/bench_replicate.py --tool socialhealth --only glm   # one tool, no svy

Writes ``benchmarks/results/replicate.json`` (or ``--out``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_engine import ensure_data, machine, max_rel, peak_rss_mb, versions  # noqa: E402

FORMULA_X = [f"x{i}" for i in range(1, 11)]
TASKS = ("design", "mean_first", "mean", "domain_mean_first", "domain_mean", "proportion",
         "glm")
TARGETS = {t: 0.5 for t in TASKS} | {"peak_memory": 1.0}   # max ratio socialhealth / svy


def ensure_replicate_data(rows: int, strata: int, psus: int, R: int) -> Path:
    out = HERE / "data" / f"rep_{rows}_{strata}_{psus}_{R}.parquet"
    if out.exists():
        return out
    import numpy as np
    import pandas as pd

    df = pd.read_csv(ensure_data(rows, strata, psus))
    st = df["stratum"].to_numpy()
    pc, pu = pd.factorize(df["psu"])
    # stratum of every PSU, and the PSUs of every stratum
    psu_st = np.zeros(len(pu), dtype=st.dtype)
    psu_st[pc] = st
    rng = np.random.default_rng(20261206)
    w = df["w"].to_numpy()
    cols = {}
    groups = pd.Series(np.arange(len(pu))).groupby(psu_st).apply(lambda s: s.to_numpy())
    for r in range(R):
        mult = np.zeros(len(pu))
        for ids in groups:
            nh = len(ids)
            draws = rng.choice(ids, size=nh - 1, replace=True)
            mult[ids] = np.bincount(draws, minlength=len(pu))[ids] * nh / (nh - 1)
        cols[f"rw{r + 1}"] = w * mult[pc]
    df = pd.concat([df, pd.DataFrame(cols)], axis=1)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out, index=False)
    return out


# ----------------------------------------------------------------------------- the tools
class SocialHealth:
    name = "socialhealth"

    def __init__(self, path, R):
        import pandas as pd

        import socialhealth.design.glm  # noqa: F401  (imports are not part of the timings)
        import socialhealth.design.proportion  # noqa: F401

        if READER["socialhealth"] == "pandas":
            self.df = pd.read_parquet(path)
        else:   # socialhealth's own reader: float columns read one by one into one block
            import socialhealth as sh

            self.df = sh.datasets.read_parquet(path)
        self.cols = [f"rw{r + 1}" for r in range(R)]

    def design(self):
        import socialhealth as sh

        self.d = sh.ReplicateDesign(self.df, weights="w", replicate_weights=self.cols,
                                    method="bootstrap")

    def mean_first(self):
        return self.mean()

    def mean(self):
        t = self.d.mean("score").to_frame()
        return list(t["estimate"]), list(t["se"])

    def domain_mean(self):
        t = self.d.mean("score", by="dom").to_frame()
        return list(t["estimate"]), list(t["se"])

    def domain_mean_first(self):
        return self.domain_mean()

    def proportion(self):
        t = self.d.proportion("y").to_frame()
        return list(t["estimate"]), list(t["se"])

    def glm(self):
        m = self.d.glm("y ~ " + " + ".join(FORMULA_X), family="binomial")
        return list(m.params), list(m.bse)


class Svy:
    name = "svy"

    def __init__(self, path, R):
        import polars as pl
        import svy  # noqa: F401

        self.df = pl.read_parquet(path)
        self.R = R

    def design(self):
        import svy

        self.s = svy.Sample(self.df, svy.Design(
            wgt="w", rep_wgts=svy.BootstrapWgts(prefix="rw", n_reps=self.R, scale=1 / (self.R - 1))))

    def mean_first(self):
        return self.mean()

    def mean(self):
        t = self.s.estimation.mean("score", method="replication").to_polars()
        return list(t["est"]), list(t["se"])

    def domain_mean(self):
        t = self.s.estimation.mean("score", by="dom", method="replication").to_polars().sort("dom")
        return list(t["est"]), list(t["se"])

    def domain_mean_first(self):
        return self.domain_mean()

    def proportion(self):
        import polars as pl

        t = self.s.estimation.prop("y", method="replication").to_polars().filter(
            pl.col("y") == 1)
        return list(t["est"]), list(t["se"])

    def glm(self):
        m = self.s.glm.fit(y="y", x=FORMULA_X, family="binomial", method="replication",
                           tol=1e-10).to_polars()
        return list(m["estimate"]), list(m["std_err"])


TOOLS = {"socialhealth": SocialHealth, "svy": Svy}
# how each tool reads the Parquet file: svy with polars; socialhealth with
# socialhealth.datasets.read_parquet (default) or pandas.read_parquet (--sh-reader pandas)
READER = {"socialhealth": "socialhealth", "svy": "polars"}


# ----------------------------------------------------------------------------- timing
def run_tasks(tool, tasks, times, results):
    for task in tasks:
        t0 = time.perf_counter()
        value = getattr(tool, task)()
        times[task].append(time.perf_counter() - t0)
        if value is not None:
            results[task] = value


def time_tools(path: Path, R: int, reps: int, names, tasks) -> tuple[dict, dict]:
    tools = {name: TOOLS[name](path, R) for name in names}
    times = {name: {t: [] for t in tasks} for name in tools}
    results = {name: {} for name in tools}
    for rep in range(reps):
        for task in tasks:
            order = list(tools) if rep % 2 == 0 else list(tools)[::-1]
            for name in order:
                if task not in ("design",) and not hasattr(tools[name], "d" if name ==
                                                           "socialhealth" else "s"):
                    tools[name].design()
                if task in ("mean_first", "domain_mean_first"):
                    tools[name].design()      # a new design: the first (domain) mean on it
                run_tasks(tools[name], [task], times[name], results[name])
        print(f"rep {rep + 1}/{reps}: " + "; ".join(
            f"{n} " + " ".join(f"{t}={times[n][t][-1]:.3f}s" for t in tasks) for n in tools),
            flush=True)
    return times, results


def child(tool: str, path: str, R: int, tasks) -> None:
    """Run every task once in this fresh process; print the times and the peak RSS in MB."""
    start = peak_rss_mb()
    t = TOOLS[tool](path, R)
    loaded = peak_rss_mb()
    order = ["design"] + [k for k in tasks if k != "design"]
    times = {k: [] for k in order}
    run_tasks(t, order, times, {})
    times = {k: v[0] for k, v in times.items() if k in tasks}
    print(json.dumps({"tool": tool, "peak_mb": peak_rss_mb(), "after_load_mb": loaded,
                      "start_mb": start, "times_s": times}))


def fresh_runs(path: Path, R: int, names, tasks) -> dict:
    out = {}
    for tool in names:
        proc = subprocess.run([sys.executable, __file__, "--child", tool, "--data", str(path),
                               "--replicates", str(R), "--only", ",".join(tasks),
                               "--sh-reader", READER["socialhealth"]],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            proc.check_returncode()
        out[tool] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"fresh {tool}: {out[tool]}", flush=True)
    return out


def agreement(results: dict) -> dict:
    sh, sv = results.get("socialhealth", {}), results.get("svy", {})
    out = {}
    for task in ("mean", "domain_mean", "glm"):
        if task in sh and task in sv:
            out[f"{task}_est_vs_svy"] = max_rel(sh[task][0], sv[task][0])
            out[f"{task}_se_vs_svy"] = max_rel(sh[task][1], sv[task][1])
    if "proportion" in sh and "proportion" in sv:
        out["proportion_est_vs_svy"] = max_rel(sh["proportion"][0], sv["proportion"][0])
        out["proportion_se_vs_svy"] = max_rel(sh["proportion"][1], sv["proportion"][1])
    return out


# ----------------------------------------------------------------------------- main
def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--strata", type=int, default=50)
    ap.add_argument("--psus", type=int, default=20)
    ap.add_argument("--replicates", type=int, default=80)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--data", type=str, default=None)
    ap.add_argument("--tool", type=str, default="socialhealth,svy")
    ap.add_argument("--only", type=str, default=",".join(TASKS))
    ap.add_argument("--no-memory", action="store_true", help="skip the fresh-process runs")
    ap.add_argument("--out", type=str, default=str(HERE / "results" / "replicate.json"))
    ap.add_argument("--sh-reader", choices=["socialhealth", "pandas"], default="socialhealth",
                    help="how socialhealth's side reads the file (svy always uses polars)")
    ap.add_argument("--child", type=str, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    READER["socialhealth"] = args.sh_reader
    tasks = [t for t in TASKS if t in args.only.split(",")]
    if args.child:
        child(args.child, args.data, args.replicates, tasks)
        return {}
    names = args.tool.split(",")
    path = (Path(args.data) if args.data
            else ensure_replicate_data(args.rows, args.strata, args.psus, args.replicates))
    info = {"machine": machine(), "versions": versions(), "data": {
        "rows": args.rows, "strata": args.strata, "psus_per_stratum": args.psus,
        "replicates": args.replicates, "file": path.name}, "reps": args.reps,
        "readers": dict(READER),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    fresh = {} if args.no_memory else fresh_runs(path, args.replicates, names, tasks)
    times, results = time_tools(path, args.replicates, args.reps, names, tasks)
    med = {tool: {t: statistics.median(v) for t, v in tt.items()} for tool, tt in times.items()}
    out = {**info, "times_s": times, "median_s": med, "fresh_process": fresh,
           "agreement": agreement(results),
           "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "load_average_at_end": os.getloadavg()}
    if len(names) == 2:
        ratios = {t: med["socialhealth"][t] / med["svy"][t] for t in tasks}
        if fresh:
            ratios["peak_memory"] = fresh["socialhealth"]["peak_mb"] / fresh["svy"]["peak_mb"]
            ratios["fresh"] = {t: fresh["socialhealth"]["times_s"][t] / fresh["svy"]["times_s"][t]
                               for t in tasks}
        out["ratio_socialhealth_over_svy"] = ratios
        out["targets"] = {k: {"target_max_ratio": v, "ratio": ratios[k], "met": ratios[k] <= v}
                          for k, v in TARGETS.items() if k in ratios}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=float))
    print(json.dumps({k: out[k] for k in ("median_s", "agreement") if k in out}
                     | {k: out[k] for k in ("ratio_socialhealth_over_svy",) if k in out},
                     indent=1, default=float))
    return out


if __name__ == "__main__":
    main()
