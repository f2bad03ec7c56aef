#!/usr/bin/env python3
"""Held-out evaluation cases for authstorm: realistic auth-service access logs
with ground truth.  Written without reading authstorm's code, tests,
simulator or docs.

usage: generate.py OUTDIR [--seed N] [--quick] [--only NAME,...] [--jobs N]
"""
import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hsim.cases import CASES  # noqa: E402
from hsim.build import build  # noqa: E402


def one(args):
    name, seed, quick, outdir = args
    fn = dict(CASES)[name]
    case = fn(seed, quick)
    return build(case, outdir)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="small cases (under ~30k lines each)")
    ap.add_argument("--only", default="", help="comma-separated case names (prefixes) to generate")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    names = [n for n, _ in CASES]
    if a.only:
        want = a.only.split(",")
        names = [n for n in names if any(n.startswith(w) for w in want)]
    os.makedirs(a.outdir, exist_ok=True)
    t0 = time.time()
    work = [(n, a.seed, a.quick, a.outdir) for n in names]
    if a.jobs > 1 and len(work) > 1:
        with ProcessPoolExecutor(a.jobs) as ex:
            results = list(ex.map(one, work))
    else:
        results = [one(w) for w in work]
    total = 0
    for r in results:
        total += r["lines"]
        print("%-44s %8d lines  %d storm(s)  %6.1fs" % (r["name"], r["lines"], r["storms"], r["total_s"]))
    print("%d cases, %d lines, %.1fs" % (len(results), total, time.time() - t0))


if __name__ == "__main__":
    main()
