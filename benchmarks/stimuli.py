"""Stimulus generation speed: ms per image per family at 64 and 224 px on one core, and the 2-worker speed-up.

Prints a table, then one JSON line per family (``{"bench": "stimuli", ...}``) with the median ms/image over
repeats, its ratio to the 0.5 ms target (issue 2; the upstream Pathfinder generator takes ~140 ms per 32 px
image), and the speed-up of 2 worker processes over 1 on the same trials (ideal 2.0 on 2 free cores).

Usage: ``python benchmarks/stimuli.py [--quick] [--families maze,counting] [--sizes 64,224]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402

from preattentive import stimuli  # noqa: E402

TARGET_MS = 0.5  # issue 2: <= 0.5 ms per 64 px image per core


def ms_per_image(gen, n: int, repeats: int, start: int = 0) -> float:
    """Median over ``repeats`` of the mean ms per trial over ``n`` consecutive trials."""
    for i in range(3):
        gen.trial(start + i)  # warm-up (imports, caches)
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        for i in range(n):
            gen.trial(start + 1000 + r * n + i)
        times.append((time.perf_counter() - t0) / n * 1e3)
    return statistics.median(times)


def _work(args) -> int:
    family, size, lo, hi = args
    gen = stimuli.make(family, size=size)
    for i in range(lo, hi):
        gen.trial(i)
    return hi - lo


def worker_speedup(family: str, size: int, n: int) -> float:
    """Wall time of 1 process over wall time of 2 processes for the same ``n`` trials (fork, warm pools)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    walls = {}
    for w in (1, 2):
        with ProcessPoolExecutor(max_workers=w, mp_context=ctx) as ex:
            list(ex.map(_work, [(family, size, 0, 2)] * w))  # start and warm the workers
            chunks = [(family, size, 10_000 + k * n // w, 10_000 + (k + 1) * n // w) for k in range(w)]
            t0 = time.perf_counter()
            assert sum(ex.map(_work, chunks)) == n
            walls[w] = time.perf_counter() - t0
    return walls[1] / walls[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer trials and repeats (smoke run)")
    ap.add_argument("--families", default="", help="comma-separated ids (default: all registered)")
    ap.add_argument("--sizes", default="64,224", help="image sides in px")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    families = [f for f in args.families.split(",") if f] or stimuli.list()
    sizes = [int(s) for s in args.sizes.split(",")]
    n, repeats, n_par = (20, 3, 200) if args.quick else (100, 5, 2000)
    rows = []
    print(f"{'family':22s}" + "".join(f"{f'ms@{s}px':>10s}" for s in sizes) + f"{'x target':>10s}{'2-worker':>10s}")
    for fid in families:
        ms = {}
        for s in sizes:
            gen = stimuli.make(fid, size=s)
            ms[s] = ms_per_image(gen, n if s <= 128 else max(n // 4, 5), repeats)
        speedup = worker_speedup(fid, sizes[0], n_par)
        ratio = ms[sizes[0]] / TARGET_MS
        print(f"{fid:22s}" + "".join(f"{ms[s]:10.3f}" for s in sizes) + f"{ratio:10.2f}{speedup:10.2f}")
        rows.append({"bench": "stimuli", "family": fid, **{f"ms_per_image_{s}px": round(ms[s], 4) for s in sizes},
                     "target_ms_64px": TARGET_MS, "ratio_to_target": round(ratio, 3),
                     "meets_target": bool(ratio <= 1.0), "speedup_2_workers": round(speedup, 3),
                     "cpus": os.cpu_count()})
        sys.stdout.flush()
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
