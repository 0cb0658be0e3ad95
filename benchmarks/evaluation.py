"""Evaluation-harness overhead against a bare model loop, and the cost of a cached re-run.

1. Overhead: ``evaluate(...)`` (trial generation, batching, argmax, per-trial rows, Parquet written after every block)
   against a bare loop that draws the same trials and calls ``Clip.zero_shot`` on the same batches. Both generate
   the trials, so only the harness's bookkeeping differs. Ratio = harness time / bare time.
2. Cache: a second ``evaluate`` into the same study directory (nothing left to compute) against the first run.
3. Batch invariance of generative answers (tiny random LLaVA): answers identical at batch 1 and 8.

One JSON line per measurement (``{"bench": "evaluation", ...}``), medians over ``--repeats``; one thread. On the
shared team machine absolute times are noisy: compare only ratios measured in the same run.

Usage: ``python benchmarks/evaluation.py [--n 64] [--repeats 3] [--device cpu]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from preattentive import stimuli  # noqa: E402
from preattentive.evaluation import ClipAdapter, LlavaAdapter, evaluate  # noqa: E402
from preattentive.evaluation.suites import Suite, SuiteEntry  # noqa: E402
from preattentive.models.clip import build_clip  # noqa: E402
from preattentive.models.llava import build_llava  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="trials per level")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--family", default="figure-ground")
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = stimuli.make(args.family)
    texts = sorted({s for t in gen.trials(16) for s in (t.question, *t.choices, *t.prompts)})
    clip = build_clip("clip-tiny", texts=texts, seed=0)
    clip.model.to(args.device)
    suite = Suite("bench", (SuiteEntry(args.family, [0, 2]),), seed=0, size=64, n=args.n)
    bs = 32

    def bare() -> None:
        for b in suite.blocks():
            g = b.generator()
            for s in range(0, b.n, bs):
                trials = [g.trial(i) for i in range(s, min(s + bs, b.n))]
                clip.zero_shot([t.image for t in trials], [list(t.prompts) for t in trials]).argmax(1)

    def harness() -> None:
        evaluate(ClipAdapter(clip, name="bench"), suite, batch_size=bs, progress=False, out=tempfile.mkdtemp())

    times = {"bare": [], "harness": []}
    for _ in range(args.repeats):
        for name, fn in (("bare", bare), ("harness", harness)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    trials = args.n * 2
    print(json.dumps({"bench": "evaluation", "what": "harness_overhead", "device": args.device, "trials": trials,
                      "bare_s": round(med["bare"], 3), "harness_s": round(med["harness"], 3),
                      "harness_trials_per_s": round(trials / med["harness"], 1),
                      "ratio": round(med["harness"] / med["bare"], 3)}))

    out = tempfile.mkdtemp()
    a = ClipAdapter(clip, name="bench")
    t0 = time.perf_counter()
    evaluate(a, suite, batch_size=bs, progress=False, out=out)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    df = evaluate(a, suite, batch_size=bs, progress=False, out=out)
    again = time.perf_counter() - t0
    print(json.dumps({"bench": "evaluation", "what": "cached_rerun", "trials": len(df), "computed": df.attrs["computed"],
                      "first_s": round(first, 3), "rerun_s": round(again, 3), "ratio": round(again / first, 4)}))

    small = build_clip("clip-micro", texts=texts, seed=0)
    llava = build_llava("llava-micro", vision=small, texts=texts, seed=0)
    llava.model.to(args.device)
    la = LlavaAdapter(llava, name="bench-llava")
    tiny = Suite("b", (SuiteEntry(args.family, "all"),), seed=0, size=32, n=16)
    r1 = evaluate(la, tiny, batch_size=1, progress=False, max_new_tokens=6)["raw"].tolist()
    r8 = evaluate(la, tiny, batch_size=8, progress=False, max_new_tokens=6)["raw"].tolist()
    print(json.dumps({"bench": "evaluation", "what": "generative_batch_invariance", "trials": len(r1),
                      "identical": sum(x == y for x, y in zip(r1, r8)), "distinct_answers": len(set(r1)),
                      "ratio": round(sum(x == y for x, y in zip(r1, r8)) / len(r1), 4)}))


if __name__ == "__main__":
    main()
