"""Training-loop overhead against a bare PyTorch loop, and whether on-the-fly generation keeps up with training.

1. Overhead: ``train_supervised`` (accelerate, DataLoader over TrialDataset, schedule, clipping, logging) against
   a bare ``for`` loop (forward, cross-entropy, backward, clip, AdamW step) on the same net, the same pre-drawn
   trials and the same number of steps. The trials are drawn once and served from memory to both, so only the
   loops differ. Target: loop time <= 1.10 x bare time (issue 4).
2. Keeping up: single-process generation rate of the task's trials (images/s) over the rate a net consumes them
   in training (images/s, bare loop). Target: >= 5 (issue 4).

One JSON line per measurement (``{"bench": "training", ...}``), medians over ``--repeats``. Both loops run in
this one process with one thread (``OMP_NUM_THREADS=1``) and are timed in process CPU seconds (wall seconds are
printed too), so the ratios hold on a loaded, shared machine; images/s are per CPU-second of one core.

Usage: ``python benchmarks/training.py [--quick] [--models cnn-30k,hgru-16-s2] [--task curve-tracing]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from preattentive import stimuli  # noqa: E402
from preattentive.datasets.torch_view import images_tensor  # noqa: E402
from preattentive.models import make_net  # noqa: E402
from preattentive.stimuli.base import StimulusFamily  # noqa: E402
from preattentive.training.config import TrainConfig  # noqa: E402
from preattentive.training.loop import train_supervised  # noqa: E402

OVERHEAD_TARGET = 0.10  # loop time / bare time - 1
KEEP_UP_TARGET = 5.0  # generated images/s over consumed images/s


def cached_family(family: StimulusFamily, n: int) -> str:
    """Register a family that serves ``family``'s first ``n`` trials from memory (item i -> trial i % n)."""
    trials = [family.trial(i) for i in range(n)]
    base = type(family)

    class Cached(base):  # type: ignore[misc, valid-type]
        id = "bench-cached-v1"

        def trial(self, index: int):
            return dataclasses.replace(trials[index % n], index=index)

    if Cached.id not in stimuli.REGISTRY:
        stimuli.REGISTRY.register(Cached.id, Cached)
    else:
        stimuli.REGISTRY._entries[Cached.id] = Cached
    return Cached.id


def bare_loop(model_id: str, trials, steps: int, batch: int, size: int, lr: float) -> dict[str, float]:
    """{"wall", "cpu"} seconds for ``steps`` plain PyTorch steps on the same trials (tensors built each step)."""
    torch.manual_seed(0)
    net = make_net(model_id, num_classes=2, image_size=size)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    net.train()
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(steps):
        chunk = [trials[(k * batch + j) % len(trials)] for j in range(batch)]
        x = images_tensor([t.image for t in chunk])
        y = torch.tensor([t.label for t in chunk])
        loss = F.cross_entropy(net(x).logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}


def our_loop(model_id: str, task: str, params: dict, steps: int, batch: int, size: int, lr: float) -> dict:
    """{"wall", "cpu"} training seconds of ``train_supervised`` (setup, final validation and save excluded)."""
    with tempfile.TemporaryDirectory() as d:
        cfg = TrainConfig(model=model_id, task=task, params=params, size=size, steps=steps, batch_size=batch,
                          lr=lr, val_n=batch, val_every=0, ckpt_every=0, log_every=10)
        return train_supervised(cfg, os.path.join(d, "run"), show_progress=False).elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="cnn-30k,hgru-16-s2")
    ap.add_argument("--task", default="curve-tracing")
    ap.add_argument("--param", action="append", default=["style=dashed", "length=6"])
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer steps and repeats (smoke run)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    steps, repeats = (8, 1) if a.quick else (a.steps, a.repeats)
    params = dict(p.split("=", 1) for p in a.param)
    fam = stimuli.make(a.task, seed=0, size=a.size, **params)

    # generation rate, single process
    gen_times = []
    for r in range(repeats):
        c0 = time.process_time()
        for i in range(a.batch):
            fam.trial(10_000 + r * a.batch + i)
        gen_times.append(a.batch / (time.process_time() - c0))
    gen_rate = statistics.median(gen_times)

    n_cache = a.batch * min(steps, 8)
    trials = [fam.trial(i) for i in range(n_cache)]
    cached = cached_family(fam, n_cache)
    for m in [x.strip() for x in a.models.split(",") if x.strip()]:
        m_steps = max(4, steps // 5) if m.startswith(("hgru", "blt", "recall", "rvit")) else steps
        bare_loop(m, trials, 2, a.batch, a.size, 1e-3)  # warm-up (allocator, kernels)
        bare, ours = [], []
        for r in range(repeats):  # interleaved, so drifting machine load hits both alike
            bare.append(bare_loop(m, trials, m_steps, a.batch, a.size, 1e-3))
            ours.append(our_loop(m, cached, params, m_steps, a.batch, a.size, 1e-3))
        b, o = statistics.median(x["cpu"] for x in bare), statistics.median(x["cpu"] for x in ours)
        bw, ow = statistics.median(x["wall"] for x in bare), statistics.median(x["wall"] for x in ours)
        print(json.dumps({"bench": "training", "what": "loop_overhead", "clock": "cpu", "model": m,
                          "steps": m_steps, "batch": a.batch, "size": a.size, "bare_s": round(b, 3),
                          "loop_s": round(o, 3), "ratio": round(o / b, 3), "overhead": round(o / b - 1, 3),
                          "target": OVERHEAD_TARGET, "ok": o / b - 1 <= OVERHEAD_TARGET, "repeats": repeats,
                          "bare_wall_s": round(bw, 3), "loop_wall_s": round(ow, 3), "wall_ratio": round(ow / bw, 3)}))
        consume = m_steps * a.batch / b
        print(json.dumps({"bench": "training", "what": "generator_keeps_up", "clock": "cpu", "model": m,
                          "task": fam.id, "params": params, "size": a.size, "generated_img_s": round(gen_rate, 1),
                          "consumed_img_s": round(consume, 1), "ratio": round(gen_rate / consume, 2),
                          "target": KEEP_UP_TARGET, "ok": gen_rate / consume >= KEEP_UP_TARGET}))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
