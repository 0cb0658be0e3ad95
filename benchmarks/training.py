"""Training-loop overhead against a bare PyTorch loop, and whether on-the-fly generation keeps up with training.

1. Overhead: ``train_supervised`` (accelerate, DataLoader over TrialDataset, schedule, clipping, logging) against
   a bare ``for`` loop (forward, cross-entropy, backward, clip, AdamW step) on the same net, the same pre-drawn
   trials and the same number of steps. The trials are drawn once and served from memory to both, so only the
   loops differ. Target: loop time <= 1.10 x bare time (issue 4).
2. Keeping up (issue 14): for every registered net (newest version of each) at 32 and 64 px, the rate it consumes
   images in training (bare loop: forward, backward, AdamW step, batch 32) against the rate one core generates
   the trials of every family (newest version, every rung mixed, as ``mix_levels`` sets train on). Target: >= 5.
   Where one core is not enough it prints the workers needed (``--workers`` / ``TrainConfig.num_workers``: the
   DataLoader's worker processes draw the same per-step indices, so batches, seeding and resume are unchanged),
   and, per family, the images/s ``--cores`` cores would supply, from the 2-worker DataLoader scaling measured
   here (the scaling above 2 cores is extrapolated linearly from it and printed as such).

One JSON line per measurement (``{"bench": "training", ...}``), medians over ``--repeats``. Both loops run in
this one process with one thread (``OMP_NUM_THREADS=1``) and are timed in process CPU seconds (wall seconds are
printed too), so the ratios hold on a loaded, shared machine; images/s are per CPU-second of one core.

Usage: ``python benchmarks/training.py [--quick] [--models cnn-30k,hgru-16-s2] [--task curve-tracing]
[--nets all] [--sizes 32,64] [--families all] [--cores 1,2,4,8,16]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
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
from preattentive.models import list_nets, make_net  # noqa: E402
from preattentive.stimuli.base import StimulusFamily  # noqa: E402
from preattentive.training.config import TrainConfig  # noqa: E402
from preattentive.training.data import train_loader  # noqa: E402
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


def generation_rate(family: StimulusFamily, budget_s: float) -> float:
    """Images per CPU-second one process generates (fresh indices, until ``budget_s`` CPU seconds have passed)."""
    family.trial(0)  # warm-up
    n, c0, i = 0, time.process_time(), 50_000
    while n < 4 or time.process_time() - c0 < budget_s:
        family.trial(i + n)
        n += 1
    return n / (time.process_time() - c0)


def consumption_rate(model_id: str, size: int, batch: int, budget_s: float) -> float:
    """Images per CPU-second the bare loop trains ``model_id`` on (random images: the net's cost is content-free)."""
    torch.manual_seed(0)
    net = make_net(model_id, num_classes=2, image_size=size)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
    x, y = torch.rand(batch, 3, size, size), torch.randint(0, 2, (batch,))

    def step() -> None:
        loss = F.cross_entropy(net(x).logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    n, c0 = 0, time.process_time()
    while n < 2 or time.process_time() - c0 < budget_s:
        step()
        n += 1
    return n * batch / (time.process_time() - c0)


def loader_scaling(family: StimulusFamily, batch: int, n_batches: int) -> float:
    """Wall images/s of the training DataLoader with 2 workers over that with 0 (same batches; ideal 2.0)."""
    rates = {}
    for w in (0, 2):
        it = iter(train_loader(family, None, batch, start_step=0, seed=0, num_workers=w))
        next(it)  # start the workers, fill the prefetch queue's first slot
        t0 = time.perf_counter()
        for _ in range(n_batches):
            next(it)
        rates[w] = n_batches * batch / (time.perf_counter() - t0)
        del it
    return rates[2] / rates[0]


def keep_up(nets: list[str], families: list[str], sizes: list[int], cores: list[int], quick: bool) -> None:
    """Issue 14, item 3: generation against consumption for every net and family at every size; JSON lines."""
    gen_budget, net_budget, batch = (0.2, 0.3, 16) if quick else (1.0, 1.5, 32)
    for size in sizes:
        gen = {}
        for fid in families:
            try:
                fam = stimuli.make(fid, seed=0, size=size, mix_levels=True)
                gen[fam.id] = (generation_rate(fam, gen_budget), fam)
            except Exception as e:  # a family that cannot draw at this size is reported, not fatal
                print(json.dumps({"bench": "training", "what": "generation_rate", "family": fid, "size": size,
                                  "skipped": f"{type(e).__name__}: {e}"}))
        slowest = min(gen, key=lambda f: gen[f][0])
        scaling = loader_scaling(gen[slowest][1], batch, 4 if quick else 12)
        for fid, (rate, _) in sorted(gen.items()):
            supply = {str(c): round(rate * (1 if c == 1 else scaling * c / 2), 1) for c in cores}
            print(json.dumps({"bench": "training", "what": "generation_rate", "family": fid, "size": size,
                              "mix_levels": True, "img_per_cpu_s": round(rate, 1),
                              "loader_2_worker_scaling": round(scaling, 3), "scaling_measured_on": slowest,
                              "img_s_by_cores": supply, "img_s_by_cores_note": "2 measured, others extrapolated"}))
        sys.stdout.flush()
        for m in nets:
            consume = consumption_rate(m, size, batch, net_budget)
            ratios = {f: round(r / consume, 2) for f, (r, _) in sorted(gen.items())}
            need = {f: math.ceil(KEEP_UP_TARGET * consume / r) for f, (r, _) in gen.items()}
            worst = min(ratios, key=ratios.get)
            print(json.dumps({"bench": "training", "what": "generator_keeps_up", "clock": "cpu", "model": m,
                              "size": size, "batch": batch, "consumed_img_per_cpu_s": round(consume, 1),
                              "worst_family": worst, "worst_ratio": ratios[worst], "target": KEEP_UP_TARGET,
                              "ok_one_core": ratios[worst] >= KEEP_UP_TARGET,
                              "generator_cores_needed_worst": need[worst], "ratio_by_family": ratios,
                              "generator_cores_needed_by_family": {f: need[f] for f in sorted(need)}}))
            sys.stdout.flush()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="cnn-30k,hgru-16-s2", help="nets for the loop-overhead measurement")
    ap.add_argument("--task", default="curve-tracing")
    ap.add_argument("--param", action="append", default=["style=dashed", "length=6"])
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--nets", default="all", help="nets for the keep-up measurement (default: every registered)")
    ap.add_argument("--families", default="all", help="families for the keep-up measurement (default: every one)")
    ap.add_argument("--sizes", default="32,64", help="image sides for the keep-up measurement")
    ap.add_argument("--cores", default="1,2,4,8,16", help="core counts to print the generation supply for")
    ap.add_argument("--skip-overhead", action="store_true", help="only the keep-up measurement")
    ap.add_argument("--quick", action="store_true", help="fewer steps and repeats (smoke run)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    steps, repeats = (8, 1) if a.quick else (a.steps, a.repeats)
    try:
        sizes = [int(s) for s in a.sizes.split(",") if s]
        cores = [int(c) for c in a.cores.split(",") if c]
    except ValueError:
        ap.error(f"--sizes={a.sizes!r} / --cores={a.cores!r}: expected comma-separated integers")
    nets = list_nets(newest=True) if a.nets == "all" else [x.strip() for x in a.nets.split(",") if x.strip()]
    families = stimuli.latest() if a.families == "all" else [x.strip() for x in a.families.split(",") if x.strip()]
    if not a.skip_overhead:
        overhead(a, steps, repeats)
    keep_up(nets, families, sizes, cores, a.quick)
    return 0


def overhead(a, steps: int, repeats: int) -> None:
    """Issue 4: ``train_supervised`` against the bare loop on the same cached trials."""
    params = dict(p.split("=", 1) for p in a.param)
    fam = stimuli.make(a.task, seed=0, size=a.size, **params)
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
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
