"""Timing of the synthetic demo generator (``socialhealth.datasets.demo.generate_demo``).

Moved here from the test suite (tests must not assert on wall-clock time). Target: under 2 s
(best of ``--runs``) on one core.

Usage::

    python benchmarks/bench_demo.py [--runs 3] [--limit 2.0]

Prints the best and median times; exit status 1 when the best time exceeds ``--limit``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--limit", type=float, default=2.0)
    a = ap.parse_args()
    from socialhealth.datasets.demo import generate_demo

    times = []
    for _ in range(max(1, a.runs)):
        t0 = time.perf_counter()
        generate_demo()
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(f"generate_demo: best {best:.2f} s, median {statistics.median(times):.2f} s "
          f"({len(times)} runs); limit {a.limit:g} s: {'met' if best <= a.limit else 'NOT met'}")
    return 0 if best <= a.limit else 1


if __name__ == "__main__":
    sys.exit(main())
