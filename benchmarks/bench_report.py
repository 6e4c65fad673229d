"""Whole-process timing of ``socialhealth report --dataset demo`` (imports included).

Target (issue 8): under 20 s end to end on 2 cores. Each run is a fresh interpreter started
with ``subprocess``, so Python start-up, imports, generating the demo survey, every estimate,
the figures and writing the HTML are all counted. Wall time and the CPU time of the child
(user + system) are reported; the CPU time is the better guide on a busy machine.

Usage::

    python benchmarks/bench_report.py [--runs 3] [--format html] [--limit 20] [--json out.json]

Exit status 1 when the median wall time exceeds ``--limit`` seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(fmt: str, workdir: Path) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one report run."""
    out = workdir / f"report.{fmt}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "socialhealth", "report", "--dataset", "demo",
                           "--output", str(out)], capture_output=True, text=True,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or not out.exists():
        sys.exit(f"report failed (exit {proc.returncode}):\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--format", default="html", choices=("html", "md", "pdf"))
    ap.add_argument("--limit", type=float, default=20.0, help="seconds (median wall time)")
    ap.add_argument("--json", type=Path, help="write the timings here")
    args = ap.parse_args(argv)
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            w, c = one_run(args.format, Path(tmp))
            walls.append(w)
            cpus.append(c)
            print(f"run {i + 1}: wall {w:.2f} s, cpu {c:.2f} s")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    result = {"benchmark": "socialhealth report --dataset demo (whole process)",
              "format": args.format, "runs": args.runs, "wall_s": walls, "cpu_s": cpus,
              "wall_median_s": statistics.median(walls), "wall_min_s": min(walls),
              "cpu_median_s": statistics.median(cpus), "limit_s": args.limit,
              "cores": os.cpu_count(), "load_average_1min": load,
              "python": platform.python_version(), "machine": platform.machine()}
    print(f"median wall {result['wall_median_s']:.2f} s (min {result['wall_min_s']:.2f} s), "
          f"median cpu {result['cpu_median_s']:.2f} s; limit {args.limit:g} s; "
          f"{os.cpu_count()} cores, load average {load:.1f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["wall_median_s"] <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
