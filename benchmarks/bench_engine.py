"""Speed and memory of the socialhealth design engine against svy (and R survey when present).

Tasks (issue 3), on a synthetic stratified cluster sample (``gen.py``: N rows, H strata, up to
P PSUs per stratum, seed 42):

* design set-up: ``SurveyDesign(df, psu="psu", strata="stratum", weights="w")``;
* logistic GLM ``y ~ x1 + ... + x10`` (quasibinomial, design-based SEs);
* domain mean of ``score`` by ``dom``;
* overall mean of ``score``: the first call on a new design (``mean``) and the same call
  again on that design (``mean_repeat``; issue 14: per-design work is cached between calls);
* linear GLM ``score ~ x1 + ... + x10`` (gaussian, design-based SEs);
* proportion of ``y`` with its logit interval (R ``svyciprop``; svy ``estimation.prop``);
* median of ``score`` with its Woodruff interval (R ``svyquantile``; svy ``estimation.median``).

Timings: socialhealth and svy run side by side in one process, interleaved task by task (so
that background load hits both alike), median of ``--reps`` runs; R survey (when ``Rscript`` is
found) runs ``bench_R.R`` from the shared reference folder in a subprocess. The estimates are
compared between tools (GLM coefficients to 1e-8 relative). Peak memory: each tool runs every
task once in a fresh subprocess that also reads the CSV with its own reader, and reports
its peak resident set size; the peak is reset after the data are read (``/proc/self/clear_refs``)
so that "memory above the input" is the estimation's own peak minus the resident size holding
the imports and the data frame. ``import`` memory: the resident size of a fresh interpreter
after ``import socialhealth`` (and after importing the estimation modules), against
``import svy``.

Usage::

    python benchmarks/bench_engine.py                      # 1,000,000 rows, 50 strata, 20 PSUs
    python benchmarks/bench_engine.py --rows 100000 --no-r # quick run

Writes ``benchmarks/results/engine.json``. The data go to ``benchmarks/data/`` (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# max ratio socialhealth / svy (issue 14: every verb at most half of svy's time; the
# estimation's memory above the input frame at most svy's)
TARGETS = {"design": 0.5, "glm": 0.5, "linear_glm": 0.5, "domain_mean": 0.5, "mean": 0.5,
           "mean_repeat": 0.5, "proportion": 0.5, "median": 0.5, "memory_above_input": 1.0}
FORMULA_X = [f"x{i}" for i in range(1, 11)]


def reference_dir() -> Path:
    env = os.environ.get("SOCIALHEALTH_REFERENCE")
    return Path(env) if env else ROOT.parent / "shared" / "reference"


def ensure_data(rows: int, strata: int, psus: int) -> Path:
    out = HERE / "data" / f"bench_{rows}_{strata}_{psus}.csv"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        gen = reference_dir() / "bench" / "gen.py"
        subprocess.run([sys.executable, str(gen), str(rows), str(strata), str(psus), str(out)], check=True)
    return out


# ----------------------------------------------------------------------------- the tools
class SocialHealth:
    name = "socialhealth"

    def __init__(self, path):
        import pandas as pd

        import socialhealth.design.glm  # noqa: F401  (imports are not part of the timings)

        self.df = pd.read_csv(path)

    def design(self):
        import socialhealth as sh

        self.d = sh.SurveyDesign(self.df, psu="psu", strata="stratum", weights="w")

    def glm(self):
        m = self.d.glm("y ~ " + " + ".join(FORMULA_X), family="binomial")
        return list(m.params), list(m.bse)

    def domain_mean(self):
        t = self.d.mean("score", by="dom").to_frame()
        return list(t["estimate"]), list(t["se"])

    def mean(self):
        t = self.d.mean("score").to_frame()
        return list(t["estimate"]), list(t["se"])

    mean_repeat = mean

    def linear_glm(self):
        m = self.d.glm("score ~ " + " + ".join(FORMULA_X))
        return list(m.params), list(m.bse)

    def proportion(self):
        t = self.d.proportion("y").to_frame()
        return list(t["estimate"]), list(t["se"]), list(t["ci_low"]), list(t["ci_high"])

    def median(self):
        t = self.d.quantile("score", 0.5).to_frame()
        return list(t["estimate"]), list(t["se"]), list(t["ci_low"]), list(t["ci_high"])


class Svy:
    name = "svy"

    def __init__(self, path):
        import polars as pl
        import svy  # noqa: F401

        self.df = pl.read_csv(path)

    def design(self):
        import svy

        self.s = svy.Sample(self.df, svy.Design(stratum="stratum", psu="psu", wgt="w"))

    def glm(self):
        m = self.s.glm.fit(y="y", x=FORMULA_X, family="binomial").to_polars()
        return list(m["estimate"]), list(m["std_err"])

    def domain_mean(self):
        t = self.s.estimation.mean("score", by="dom").to_polars().sort("dom")
        return list(t["est"]), list(t["se"])

    def mean(self):
        t = self.s.estimation.mean("score").to_polars()
        return list(t["est"]), list(t["se"])

    mean_repeat = mean

    def linear_glm(self):
        m = self.s.glm.fit(y="score", x=FORMULA_X, family="gaussian").to_polars()
        return list(m["estimate"]), list(m["std_err"])

    def proportion(self):
        t = self.s.estimation.prop("y").to_polars().filter(pl_col("y") == 1)
        return list(t["est"]), list(t["se"]), list(t["lci"]), list(t["uci"])

    def median(self):
        t = self.s.estimation.median("score").to_polars()
        return list(t["est"]), list(t["se"]), list(t["lci"]), list(t["uci"])


def pl_col(name):
    import polars as pl

    return pl.col(name)


TOOLS = {"socialhealth": SocialHealth, "svy": Svy}
TASKS = ("design", "mean", "mean_repeat", "domain_mean", "glm", "linear_glm", "proportion",
         "median")


def versions() -> dict:
    out = {"python": platform.python_version()}
    for mod in ("numpy", "pandas", "scipy", "polars", "svy", "formulaic"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - optional
            pass
    try:
        import socialhealth

        out["socialhealth"] = getattr(socialhealth, "__version__", "dev")
    except Exception:  # pragma: no cover
        pass
    return out


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024**2:.1f} GB"
    except OSError:
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(), "memory": mem,
            "load_average_at_start": os.getloadavg()}


# ----------------------------------------------------------------------------- timing
def time_tools(path: Path, reps: int) -> tuple[dict, dict]:
    tools = {name: cls(path) for name, cls in TOOLS.items()}
    times = {name: {t: [] for t in TASKS} for name in tools}
    results = {name: {} for name in tools}
    for rep in range(reps):
        for task in TASKS:
            order = list(tools) if rep % 2 == 0 else list(tools)[::-1]
            for name in order:
                fn = getattr(tools[name], task)
                t0 = time.perf_counter()
                value = fn()
                times[name][task].append(time.perf_counter() - t0)
                if value is not None:
                    results[name][task] = value
        print(f"rep {rep + 1}/{reps}: " + "; ".join(
            f"{n} " + " ".join(f"{t}={times[n][t][-1]:.3f}s" for t in TASKS) for n in tools), flush=True)
    return times, results


def run_r(path: Path, reps: int) -> dict | None:
    script = reference_dir() / "bench" / "bench_R.R"
    if shutil.which("Rscript") is None or not script.exists():
        return None
    out = HERE / "data" / "bench_R_out.json"
    t0 = time.perf_counter()
    proc = subprocess.run(["Rscript", str(script), str(path), str(reps), str(out)], capture_output=True, text=True)
    if proc.returncode != 0:
        print("R benchmark failed:", proc.stderr[-2000:], file=sys.stderr)
        return None
    res = json.loads(out.read_text())
    res["wall_total_s"] = time.perf_counter() - t0
    return res


# ----------------------------------------------------------------------------- memory
def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    ``VmHWM`` from /proc (reset at exec, unlike ``ru_maxrss``, which Linux carries over from
    the parent process through fork + exec); ``ru_maxrss`` where /proc is not available.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current resident memory of this process in MB (``VmRSS``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> bool:
    """Reset the peak resident size (``VmHWM``) to the current one (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def memory_child(tool: str, path: str) -> None:
    """Run every task once in this (fresh) process; print the peaks in MB.

    ``peak_mb`` is the peak of the whole process (reading the CSV included);
    ``above_input_mb`` the estimation's peak (after a reset of the peak once the data are
    read) minus the resident size holding the imports and the data frame.
    """
    before = peak_rss_mb()
    t = TOOLS[tool](path)
    loaded = peak_rss_mb()
    import gc

    gc.collect()
    resident = rss_mb()
    was_reset = reset_peak()
    per_task = {}
    for task in TASKS:
        getattr(t, task)()
        per_task[task] = peak_rss_mb() - resident
    est_peak = peak_rss_mb()
    print(json.dumps({"tool": tool, "peak_mb": max(loaded, est_peak), "after_load_mb": loaded,
                      "start_mb": before, "resident_with_data_mb": resident,
                      "estimation_peak_mb": est_peak, "peak_reset": was_reset,
                      "above_input_mb": est_peak - resident,
                      "above_input_cumulative_by_task_mb": per_task}))


def measure_memory(path: Path) -> dict:
    out = {}
    for tool in TOOLS:
        proc = subprocess.run([sys.executable, __file__, "--memory-child", tool, "--data", str(path)],
                              capture_output=True, text=True, check=True)
        out[tool] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


IMPORTS = {
    "import socialhealth": "import socialhealth",
    "socialhealth + SurveyDesign": "import socialhealth as sh; sh.SurveyDesign",
    "socialhealth + estimation verbs": ("import socialhealth as sh; sh.SurveyDesign; "
                                        "import socialhealth.design.glm, "
                                        "socialhealth.design.proportion, "
                                        "socialhealth.design.quantile"),
    "import svy": "import svy",
    "import pandas": "import pandas",
}
HEAVY = ("matplotlib", "reportlab", "svglib", "docx", "formulaic", "statsmodels", "scipy.stats",
         "pandas", "polars")


def measure_imports() -> dict:
    """Resident size (MB) of a fresh interpreter after each import statement of IMPORTS."""
    probe = ("import json, sys\n{stmt}\n"
             "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0]\n"
             "print(json.dumps({{'rss_mb': int(rss.split()[1]) / 1024, 'modules': len(sys.modules),"
             " 'heavy_loaded': [m for m in {heavy!r} if m in sys.modules]}}))")
    out = {}
    for name, stmt in IMPORTS.items():
        runs = []
        for _ in range(3):
            proc = subprocess.run([sys.executable, "-c", probe.format(stmt=stmt, heavy=HEAVY)],
                                  capture_output=True, text=True, check=True)
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        out[name] = {**runs[-1], "rss_mb": statistics.median(r["rss_mb"] for r in runs)}
    return out


# ----------------------------------------------------------------------------- agreement
def max_rel(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def agreement(results: dict, r: dict | None) -> dict:
    sh, sv = results["socialhealth"], results["svy"]
    out = {
        "glm_coef_vs_svy": max_rel(sh["glm"][0], sv["glm"][0]),
        "glm_se_vs_svy": max_rel(sh["glm"][1], sv["glm"][1]),
        "domain_mean_vs_svy": max_rel(sh["domain_mean"][0], sv["domain_mean"][0]),
        "domain_se_vs_svy": max_rel(sh["domain_mean"][1], sv["domain_mean"][1]),
        "mean_se_vs_svy": max_rel(sh["mean"][1], sv["mean"][1]),
    }
    if r is not None:
        out.update({
            "glm_coef_vs_R": max_rel(sh["glm"][0], r["glm_coef"]),
            "glm_se_vs_R": max_rel(sh["glm"][1], r["glm_se"]),
            "domain_mean_vs_R": max_rel(sh["domain_mean"][0], r["by_est"]),
            "domain_se_vs_R": max_rel(sh["domain_mean"][1], r["by_se"]),
            "mean_se_vs_R": max_rel(sh["mean"][1], r["mean_se"]),
        })
    out.update({
        "linear_glm_coef_vs_svy": max_rel(sh["linear_glm"][0], sv["linear_glm"][0]),
        "linear_glm_se_vs_svy": max_rel(sh["linear_glm"][1], sv["linear_glm"][1]),
        "proportion_vs_svy": max_rel(sh["proportion"][0], sv["proportion"][0]),
        "proportion_se_vs_svy": max_rel(sh["proportion"][1], sv["proportion"][1]),
        "proportion_ci_vs_svy": max_rel(sh["proportion"][2] + sh["proportion"][3],
                                        sv["proportion"][2] + sv["proportion"][3]),
        "median_vs_svy": max_rel(sh["median"][0], sv["median"][0]),
        "median_ci_vs_svy": max_rel(sh["median"][2] + sh["median"][3],
                                    sv["median"][2] + sv["median"][3]),
    })
    out["glm_coef_agree_1e-8"] = out["glm_coef_vs_svy"] <= 1e-8 and out.get("glm_coef_vs_R", 0) <= 1e-8
    return out


# ----------------------------------------------------------------------------- main
def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--strata", type=int, default=50)
    ap.add_argument("--psus", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--data", type=str, default=None, help="CSV made by gen.py (default: generate)")
    ap.add_argument("--no-r", action="store_true", help="skip R survey")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    ap.add_argument("--memory-only", action="store_true",
                    help="only the memory subprocesses (e.g. at 10,000,000 rows)")
    ap.add_argument("--out", type=str, default=str(HERE / "results" / "engine.json"))
    ap.add_argument("--memory-child", type=str, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.data)
        return {}
    if args.memory_only:
        path = Path(args.data) if args.data else ensure_data(args.rows, args.strata, args.psus)
        memory = measure_memory(path)
        out = {"machine": machine(), "versions": versions(), "data": {
            "rows": args.rows, "strata": args.strata, "psus_per_stratum": args.psus,
            "file": path.name}, "peak_memory_mb": memory,
            "ratio_memory_above_input": memory["socialhealth"]["above_input_mb"]
            / memory["svy"]["above_input_mb"],
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2, default=float))
        print(json.dumps(out["peak_memory_mb"], indent=1), out["ratio_memory_above_input"])
        return out
    try:
        import svy  # noqa: F401
    except ImportError:
        sys.exit("svy is not installed: pip install svy==0.35.0 (the targets are ratios to svy).")
    path = Path(args.data) if args.data else ensure_data(args.rows, args.strata, args.psus)
    info = {"machine": machine(), "versions": versions(), "data": {
        "rows": args.rows, "strata": args.strata, "psus_per_stratum": args.psus, "file": path.name},
        "reps": args.reps, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    memory = {} if args.no_memory else measure_memory(path)   # before the parent holds the data
    imports = measure_imports()
    times, results = time_tools(path, args.reps)
    r = None if args.no_r else run_r(path, args.reps)
    med = {tool: {t: statistics.median(v) for t, v in tt.items()} for tool, tt in times.items()}
    if r is not None:
        med["R survey"] = {"design": statistics.median(r["times"]["design"]), "glm": statistics.median(r["times"]["glm"]),
                           "domain_mean": statistics.median(r["times"]["by"]), "mean": statistics.median(r["times"]["mean"])}
        memory["R survey"] = {"peak_mb": r.get("peak_mem_mb"), "note": "R gc() 'max used' (R heap only)"}
    ratios = {t: med["socialhealth"][t] / med["svy"][t] for t in TASKS}
    # interleaved ratio per repetition (both tools ran back to back), then its median
    ratios_per_rep = {t: [a / b for a, b in zip(times["socialhealth"][t], times["svy"][t],
                                                strict=True)] for t in TASKS}
    if "socialhealth" in memory and "svy" in memory:
        ratios["peak_memory"] = memory["socialhealth"]["peak_mb"] / memory["svy"]["peak_mb"]
        ratios["memory_above_input"] = (memory["socialhealth"]["above_input_mb"]
                                        / memory["svy"]["above_input_mb"])
    targets = {k: {"target_max_ratio": v, "ratio": ratios[k], "met": ratios[k] <= v}
               for k, v in TARGETS.items() if k in ratios}
    out = {**info, "times_s": times, "median_s": med, "peak_memory_mb": memory,
           "import_memory": imports, "interleaved_ratios": ratios_per_rep,
           "ratio_socialhealth_over_svy": ratios, "targets": targets, "agreement": agreement(results, r),
           "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "load_average_at_end": os.getloadavg()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=float))
    print(table(out))
    return out


def table(out: dict) -> str:
    med, mem = out["median_s"], out["peak_memory_mb"]
    lines = ["| tool | " + " | ".join(TASKS) + " | memory above input |",
             "| --- |" + " --- |" * (len(TASKS) + 1)]
    for tool in med:
        m = med[tool]
        pk = mem.get(tool, {}).get("above_input_mb")
        lines.append(f"| {tool} | " + " | ".join(
            f"{m[t]:.3f} s" if t in m else "-" for t in TASKS)
            + f" | {'-' if pk is None else f'{pk:.0f} MB'} |")
    lines.append("")
    lines.append("| target (socialhealth / svy) | ratio | met |")
    lines.append("| --- | --- | --- |")
    for k, v in out["targets"].items():
        lines.append(f"| {k} <= {v['target_max_ratio']} | {v['ratio']:.2f} | {'yes' if v['met'] else 'no'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
