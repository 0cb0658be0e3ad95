"""Stimulus generation speed: ms per trial for every rung of every family at 32, 64 and 224 px on one core.

For each (family, rung, size) it times generation alone (``gen.trial``) and generation + PNG + Parquet (the
project's own writer, :func:`preattentive.datasets.parquet.chunk_bytes`, as ``preattentive stimuli generate``
runs it, minus the disk write), each the median over repeats of the mean over a batch of fresh trial indices.
The target (issue 14) is <= 0.5 ms per trial per core at 32 and 64 px and <= 1 ms at 224 px, PNG + Parquet
included. Per family it reports the worst rung (largest ratio of gen + PNG + Parquet to the target) and the
speed-up of 2 worker processes over 1 writing the same chunks of that rung (ideal 2.0 on 2 free cores).

Output: a table, then one JSON line per (family, rung, size) (``{"bench": "stimuli", ...}``; a size the family
cannot draw at gives ``"skipped": "<reason>"``) and one per family (``{"bench": "stimuli-family", ...}``).

Usage: ``python benchmarks/stimuli.py [--quick] [--families maze,curve-tracing-v1] [--sizes 32,64,224]``
(default: the newest version of every registered family; curve-tracing is timed in both styles).
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
from preattentive.datasets.parquet import chunk_bytes  # noqa: E402
from preattentive.stimuli.base import ParamError  # noqa: E402


def target_ms(size: int) -> float:
    """Issue 14: <= 0.5 ms per trial per core up to 64 px, <= 1 ms at 224 px (generation + PNG + Parquet)."""
    return 0.5 if size <= 64 else 1.0


# Parameter variants timed besides the defaults: designs a study can pick that draw differently.
VARIANTS: dict[str, tuple[dict, ...]] = {"curve-tracing": ({"style": "dashed"}, {"style": "solid"})}


def _variants(fid: str) -> tuple[dict, ...]:
    from preattentive.registry import split_id

    return VARIANTS.get(split_id(stimuli.REGISTRY.resolve(fid))[0], ({},))


def ms_per_trial(fn, budget_s: float, repeats: int, start: int) -> float:
    """Median over ``repeats`` of the mean ms per trial of ``fn(lo, hi)`` on fresh indices; batches last ~budget_s."""
    t0 = time.perf_counter()
    fn(start, start + 2)  # warm-up (imports, caches) and a first estimate
    per = max((time.perf_counter() - t0) / 2, 1e-5)
    n = int(min(max(budget_s / per, 3), 2000))
    times, lo = [], start + 2
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(lo, lo + n)
        times.append((time.perf_counter() - t0) / n * 1e3)
        lo += n
    return statistics.median(times)


def _gen_only(gen):
    def run(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            gen.trial(i)
    return run


def _with_io(gen):
    return lambda lo, hi: chunk_bytes(gen, lo, hi)


def _work(args) -> int:
    fid, params, lo, hi = args
    chunk_bytes(stimuli.make(fid, **params), lo, hi)
    return hi - lo


def worker_speedup(fid: str, params: dict, n: int) -> float:
    """Wall time of 1 process over wall time of 2 processes writing the same ``n`` trials (fork, warm pools)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    walls = {}
    for w in (1, 2):
        with ProcessPoolExecutor(max_workers=w, mp_context=ctx) as ex:
            list(ex.map(_work, [(fid, params, 0, 2)] * w))  # start and warm the workers
            chunks = [(fid, params, 50_000 + k * n // w, 50_000 + (k + 1) * n // w) for k in range(w)]
            t0 = time.perf_counter()
            assert sum(ex.map(_work, chunks)) == n
            walls[w] = time.perf_counter() - t0
    return walls[1] / walls[2]


def _label(params: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items())


def bench_family(fid: str, sizes: list[int], budget_s: float, repeats: int, n_par: int) -> list[dict]:
    """Rows for every (variant, rung, size) of ``fid`` plus one summary row."""
    full = stimuli.REGISTRY.resolve(fid)
    rungs = range(len(stimuli.get(full).ladder)) or [None]
    rows, worst = [], None
    for variant in _variants(full):
        for level in rungs:
            for size in sizes:
                params = {**variant, "size": size, **({} if level is None else {"level": level})}
                row = {"bench": "stimuli", "family": full, "variant": _label(variant), "rung": level, "size": size}
                try:
                    gen = stimuli.make(full, **params)
                    gen.trial(0)
                except ParamError as e:  # a size this family (rung) cannot draw at
                    rows.append({**row, "skipped": str(e)})
                    continue
                gen_ms = ms_per_trial(_gen_only(gen), budget_s, repeats, 1000)
                io_ms = ms_per_trial(_with_io(gen), budget_s, repeats, 20_000)
                ratio = io_ms / target_ms(size)
                row.update({"ms_gen": round(gen_ms, 4), "ms_gen_png_parquet": round(io_ms, 4),
                            "target_ms": target_ms(size), "ratio_to_target": round(ratio, 3),
                            "meets_target": bool(ratio <= 1.0)})
                rows.append(row)
                if worst is None or ratio > worst[0]:
                    worst = (ratio, row, params)
    summary = {"bench": "stimuli-family", "family": full, "cpus": os.cpu_count()}
    if worst is None:
        summary["skipped"] = "no size could be drawn"
    else:
        ratio, row, params = worst
        summary.update({"worst_variant": row["variant"], "worst_rung": row["rung"], "worst_size": row["size"],
                        "worst_ms_gen_png_parquet": row["ms_gen_png_parquet"], "worst_ratio_to_target": row[
                            "ratio_to_target"], "meets_target": bool(ratio <= 1.0),
                        "speedup_2_workers": round(worker_speedup(full, params, n_par), 3)})
    return rows + [summary]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter batches and fewer repeats (smoke run)")
    ap.add_argument("--families", default="", help="comma-separated ids (default: newest version of each)")
    ap.add_argument("--sizes", default="32,64,224", help="image sides in px")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    families = [f for f in args.families.split(",") if f] or stimuli.REGISTRY.names()
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    except ValueError:
        ap.error(f"--sizes={args.sizes!r}: expected comma-separated integers, e.g. 32,64,224")
    budget_s, repeats, n_par = (0.03, 3, 60) if args.quick else (0.12, 5, 400)
    print(f"{'family':22s}{'variant':14s}{'rung':>5s}{'px':>5s}{'ms gen':>9s}{'ms +io':>9s}{'x target':>9s}")
    rows = []
    for fid in families:
        for r in bench_family(fid, sizes, budget_s, repeats, n_par):
            rows.append(r)
            if r["bench"] == "stimuli-family":
                if "skipped" not in r:
                    print(f"{'':22s}worst: rung {r['worst_rung']} {r['worst_variant']} at {r['worst_size']} px, "
                          f"x{r['worst_ratio_to_target']:.2f} of target; 2 workers x{r['speedup_2_workers']:.2f}")
            elif "skipped" in r:
                print(f"{r['family']:22s}{r['variant']:14s}{r['rung']!s:>5s}{r['size']:5d}  skipped: {r['skipped']}")
            else:
                print(f"{r['family']:22s}{r['variant']:14s}{r['rung']!s:>5s}{r['size']:5d}{r['ms_gen']:9.3f}"
                      f"{r['ms_gen_png_parquet']:9.3f}{r['ratio_to_target']:9.2f}")
            sys.stdout.flush()
    timed = [r for r in rows if r["bench"] == "stimuli" and "skipped" not in r]
    for size in sizes:  # the three worst (family, rung) per size, the headline for the issue
        worst = sorted((r for r in timed if r["size"] == size), key=lambda r: -r["ratio_to_target"])[:3]
        print(f"worst at {size} px: " + "; ".join(f"{r['family']} {r['variant']} rung {r['rung']}: "
                                                  f"{r['ms_gen']:.3f} gen / {r['ms_gen_png_parquet']:.3f} +io ms"
                                                  for r in worst))
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
