"""Evaluation at the model's own speed (issue 14): the harness against bare model loops, and a cached re-run.

0. Model speed: CLIP zero-shot ``evaluate(...)`` of N trials (generation, preprocessing, text encoding, rows, Parquet)
   against a bare ``model.get_image_features`` loop over the same images preprocessed once, in batches of the
   same size. Ratio = bare time / harness time (the harness's share of the model's own speed; target >= 0.9).
   Per-trial harness overhead = (harness - bare) / N, split into its parts measured alone: trial generation,
   preprocessing, text encoding, rows + Parquet. Measured for ``clip-tiny`` at 64 px and a randomly initialised
   ViT-B/32-shaped CLIP at 224 px (the cost profile of ``openai/clip-vit-base-patch32``, no download).
1. Overhead: ``evaluate(...)`` (trial generation, batching, argmax, per-trial rows, Parquet written after every block)
   against a bare loop that draws the same trials and calls ``Clip.zero_shot`` on the same batches. Both generate
   the trials, so only the harness's bookkeeping differs. Ratio = harness time / bare time.
2. Cache: a second ``evaluate`` into the same study directory (nothing left to compute) against the first run.
3. Generative answers (tiny random LLaVA): trials/s at batch 16 over batch 1 (target >= 3) with identical
   answers (batch invariance).

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
from preattentive.models.vlm_common import encode_unique  # noqa: E402


def model_speed(name: str, clip, family: str, size: int, n: int, bs: int, repeats: int) -> dict:
    """Item 0: harness against the bare image encoder on the same, once-preprocessed images (CPU seconds)."""
    suite = Suite("speed", (SuiteEntry(family, [0]),), seed=0, size=size, n=n)
    block = suite.blocks()[0]
    gen = block.generator()
    trials = [gen.trial(i) for i in range(n)]
    pixels = [clip.pixel_values([t.image for t in trials[s:s + bs]]) for s in range(0, n, bs)]
    prompts = [list(t.prompts) for t in trials]

    def bare() -> None:
        with torch.no_grad():
            for x in pixels:
                clip.model.get_image_features(pixel_values=x)

    def harness() -> None:
        evaluate(ClipAdapter(clip, name=name), suite, batch_size=bs, progress=False, out=tempfile.mkdtemp())

    def generation() -> None:
        for i in range(n):
            gen.trial(i)

    def preprocessing() -> None:
        for s in range(0, n, bs):
            clip.pixel_values([t.image for t in trials[s:s + bs]])

    def text() -> None:
        for s in range(0, n, bs):
            encode_unique(clip.encode_text, [p for ps in prompts[s:s + bs] for p in ps])  # as zero_shot does

    parts = {"bare": bare, "harness": harness, "generation": generation, "preprocessing": preprocessing,
             "text_encoding": text}
    times = {k: [] for k in parts}
    bare()  # warm-up
    for _ in range(repeats):  # interleaved, so drifting machine load hits all alike
        for k, fn in parts.items():
            c0 = time.process_time()
            fn()
            times[k].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in times.items()}
    per = {k: round(med[k] / n * 1e3, 3) for k in parts}
    rest = med["harness"] - med["bare"] - med["generation"] - med["preprocessing"] - med["text_encoding"]
    return {"bench": "evaluation", "what": "model_speed", "model": name, "family": family, "size": size,
            "trials": n, "batch": bs, "clock": "cpu", "bare_s": round(med["bare"], 3),
            "harness_s": round(med["harness"], 3), "ratio": round(med["bare"] / med["harness"], 3),
            "target": 0.9, "ok": med["bare"] / med["harness"] >= 0.9,
            "ms_per_trial": per, "ms_per_trial_rows_parquet_other": round(rest / n * 1e3, 3),
            "harness_overhead_ms_per_trial": round((med["harness"] - med["bare"]) / n * 1e3, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="trials per level")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--family", default="figure-ground")
    ap.add_argument("--quick", action="store_true", help="fewer trials and repeats (smoke run)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = stimuli.make(args.family)
    texts = sorted({s for t in gen.trials(16) for s in (t.question, *t.choices, *t.prompts)})
    n_speed, rep = (32, 1) if args.quick else (128, args.repeats)
    for name, clip_m, size in (("clip-tiny", build_clip("clip-tiny", texts=texts, seed=0), 64),
                               ("clip-b32-shaped", build_clip("clip-tiny", texts=texts, seed=0, image_size=224,
                                                              patch_size=32, width=768, vision_layers=12,
                                                              text_layers=12, heads=12, projection_dim=512), 224)):
        clip_m.model.to(args.device)
        print(json.dumps(model_speed(name, clip_m, args.family, size, n_speed if size < 224 else n_speed // 2,
                                     32, rep)), flush=True)
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
    tiny = Suite("b", (SuiteEntry(args.family, "all"),), seed=0, size=32, n=16 if args.quick else 32)
    answers, secs = {}, {1: [], 16: []}
    for _ in range(max(1, rep)):
        for b in (1, 16):
            c0 = time.process_time()
            answers[b] = evaluate(la, tiny, batch_size=b, progress=False, max_new_tokens=6)["raw"].tolist()
            secs[b].append(time.process_time() - c0)
    r1, r16 = answers[1], answers[16]
    same = sum(x == y for x, y in zip(r1, r16))
    speed = statistics.median(secs[1]) / statistics.median(secs[16])
    print(json.dumps({"bench": "evaluation", "what": "generative_batch16_vs_1", "clock": "cpu", "trials": len(r1),
                      "batch1_s": round(statistics.median(secs[1]), 3), "batch16_s": round(statistics.median(secs[16]), 3),
                      "ratio": round(speed, 2), "target": 3.0, "identical_answers": same,
                      "distinct_answers": len(set(r1)), "ok": speed >= 3.0 and same == len(r1)}))


if __name__ == "__main__":
    main()
