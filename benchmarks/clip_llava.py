"""CLIP and LLaVA on this CPU: training speed, accuracy after a fixed budget, generation tokens/s.

JSON lines (``"bench": "clip_llava"``):

- ``clip_train``: clip-tiny training steps/s (the default batch, forward + backward + AdamW) per thread count,
  with the ratio to one thread.
- ``clip_zero_shot``: the default recipe (``train_clip``, as the demo uses it) with and without swap hard
  negatives after the default CPU budget: held-out exact zero-shot accuracy (``acc_heldout``: among held-out
  caption classes; ``acc_all``: among all classes; ``acc_swap``: caption vs its swapped twin, 0.5 = bag of
  words) and the ratio hard / none.
- ``llava_qa``: two-stage ``train_llava`` (defaults) on the hard-negative tower after its default budget: exact
  accuracy on held-out scenes questions, by type.
- ``generate``: greedy tokens/s of llava-tiny at batch 1 and 16 (16 new tokens each) and the ratio 16 / 1.

Budgets are CPU-minutes (process CPU time), so results are comparable on a shared, loaded machine.
Usage: ``python benchmarks/clip_llava.py [--quick] [--out DIR] [--threads 1] [--seed 0] [--clip-preset P]
[--llava-preset P]``. ``--clip-preset clip-tiny-v1`` (learned patch positions) shows the bag-of-words contrast:
on the default v2 tower (fixed 2D sin-cos positions) random batches read relations too, and hard / none is ~1.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def emit(**row) -> None:
    print(json.dumps({"bench": "clip_llava", **row}), flush=True)


def clip_steps_per_s(threads: int, steps: int, batch: int, preset: str = "clip-tiny") -> float:
    from preattentive.models.clip import build_clip
    from preattentive.training.clip import clip_step_loss
    from preattentive.training.vlm_data import SceneCaptions

    torch.set_num_threads(threads)
    data = SceneCaptions(seed=0)
    clip = build_clip(preset, texts=data.texts())
    opt = torch.optim.AdamW(clip.model.parameters(), lr=1e-4)
    batches = [data.batch(s, batch // 2, hard_negatives=True) for s in range(steps + 1)]  # scenes + swap twins

    def step(images, captions) -> None:
        loss = clip_step_loss(clip.model, clip.pixel_values(images), clip.tokens(captions), captions)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(*batches[0])  # warm-up
    t0 = time.perf_counter()
    for b in batches[1:]:
        step(*b)
    return steps / (time.perf_counter() - t0)


def generation_tokens_per_s(llava, batch: int, new_tokens: int, repeats: int) -> float:
    rng = np.random.default_rng(0)
    ims = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(batch)]
    b = llava.batch(ims, ["what color is the circle left of the blue square?"] * batch)
    tok = llava.tokenizer
    kw = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    with torch.no_grad():
        llava.model.generate(**b.inputs, **kw)  # warm-up
        t0 = time.perf_counter()
        for _ in range(repeats):
            llava.model.generate(**b.inputs, **kw)
    return repeats * batch * new_tokens / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke-test budgets (0.25 CPU-min per model)")
    ap.add_argument("--out", default=None, help="keep the runs here (default: a temporary directory)")
    ap.add_argument("--threads", type=int, default=1, help="threads for the training runs")
    ap.add_argument("--seed", type=int, default=0, help="seed of the training runs (weights and data)")
    ap.add_argument("--clip-preset", default="clip-tiny", help="CLIP preset (clip-tiny-v1: the bag-of-words contrast)")
    ap.add_argument("--llava-preset", default="llava-tiny", help="LLaVA preset (llava-tiny-v1: the paper's features)")
    args = ap.parse_args()
    from preattentive.models.llava import load_llava
    from preattentive.training.clip import ClipTrainConfig, train_clip
    from preattentive.training.llava import LlavaTrainConfig, train_llava

    q = args.quick
    root = Path(args.out or tempfile.mkdtemp(prefix="bench-clip-llava-"))
    clip_cfg, llava_cfg = ClipTrainConfig(), LlavaTrainConfig()  # the default recipes and budgets
    rates = {t: clip_steps_per_s(t, 3 if q else 20, clip_cfg.batch_size, args.clip_preset) for t in (1, 2)}
    for t, r in rates.items():
        emit(metric="clip_train", threads=t, batch=clip_cfg.batch_size, steps_per_s=round(r, 3),
             ratio_to_1_thread=round(r / rates[1], 2))

    minutes = 0.25 if q else clip_cfg.minutes
    acc = {}
    for hn in (True, False):
        run = train_clip(out=root / f"clip-{'hn' if hn else 'bow'}", preset=args.clip_preset, hard_negatives=hn,
                         minutes=minutes, clock="cpu", threads=args.threads, seed=args.seed, eval_every=0,
                         eval_n=96 if q else 288)
        rec = json.loads((run / "run.json").read_text())
        acc[hn] = rec["metrics"]
        emit(metric="clip_zero_shot", preset=rec["config"]["preset"], hard_negatives=hn, seed=args.seed,
             cpu_minutes=minutes, steps=rec["steps"], wall_s=rec["wall_s"], **rec["metrics"])
    emit(metric="clip_zero_shot_ratio", hard_over_none=round(acc[True]["acc_heldout"] / max(acc[False]["acc_heldout"],
                                                                                         1e-9), 2),
         swap_hard=acc[True]["acc_swap"], swap_none=acc[False]["acc_swap"])

    s1, s2 = (0.1, 0.25) if q else (llava_cfg.stage1_minutes, llava_cfg.stage2_minutes)
    run = train_llava(out=root / "llava", preset=args.llava_preset, vision=str(root / "clip-hn"),
                      stage1_minutes=s1, stage2_minutes=s2, clock="cpu", threads=args.threads, seed=args.seed,
                      eval_n=64 if q else 256)
    rec = json.loads((run / "run.json").read_text())
    emit(metric="llava_qa", preset=rec["config"]["preset"], seed=args.seed, stage1_cpu_minutes=s1,
         stage2_cpu_minutes=s2, steps=[s["steps"] for s in rec["stages"]], **rec["metrics"])

    torch.set_num_threads(args.threads)
    llava = load_llava(run, device="cpu")
    tps = {b: generation_tokens_per_s(llava, b, 16, 1 if q else 3) for b in (1, 16)}
    emit(metric="generate", threads=args.threads, new_tokens=16, tokens_per_s_b1=round(tps[1], 1),
         tokens_per_s_b16=round(tps[16], 1), ratio_b16_over_b1=round(tps[16] / tps[1], 2))


if __name__ == "__main__":
    main()
