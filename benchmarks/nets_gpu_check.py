"""GPU check of every vision net, then a short learnability race on dashed curve tracing (needs CUDA to be quick).

Part 1, per registered net: forward + backward on CUDA, bf16 autocast finite, save -> load on the GPU gives
identical outputs, more steps than trained stay finite. Part 2: ``--train`` dashed curve-tracing trials
(``--size`` px, ``--length`` paddles) generated once with a process pool, then each of ``--nets`` trained for
``--seconds`` (AdamW 1e-3, batch 128, bf16 autocast, final-step loss) and scored on ``--val`` held-out trials.
One JSON line per result (``{"bench": "nets_gpu", "part": ...}``); part 2's ratio is accuracy over chance.

Usage: ``python benchmarks/nets_gpu_check.py [--skip-cuda-checks] [--size 32 --length 9 --seconds 30]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from multiprocessing import Pool

import numpy as np
import torch
import torch.nn.functional as F

from preattentive import stimuli
from preattentive.models import count_params, list_nets, load_net, make_net, save_net

DEFAULT_NETS = (
    "hgru-16-v1,hgru-16-s2-v1,blt-100k-v1,recall-16-v1,rvit-100k-v1,vlstm-100k-v1,"
    "cnn-100k-v1,cnn-1m-v1,vit-100k-v1,vit-1m-v1"
)


def emit(d: dict) -> None:
    print(json.dumps({"bench": "nets_gpu", **d}), flush=True)


def cuda_checks(dev: str) -> None:
    for id in list_nets():
        torch.manual_seed(0)
        net = make_net(id, num_classes=3, image_size=32).to(dev)
        x = torch.rand(4, 3, 32, 32, device=dev)
        q = torch.arange(4, device=dev) % 2 if net.config.conditioning != "none" else None
        out = net(x, query=q)
        out.step_logits.float().pow(2).mean().backward()
        grad_ok = all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in net.parameters())
        with torch.autocast(dev, dtype=torch.bfloat16):
            ob = net(x, query=q)
        net.eval()
        with tempfile.TemporaryDirectory() as d, torch.no_grad():
            save_net(net, d)
            back = load_net(d, map_location=dev).eval()
            same = torch.equal(net(x, query=q).step_logits, back(x, query=q).step_logits)
            more = net(x, query=q, steps=net.default_steps + 4)
        emit({"part": "cuda", "net": id, "grad_ok": grad_ok, "bf16_finite": bool(torch.isfinite(ob.logits).all()),
              "bf16_maxdiff": float((ob.logits.float() - out.logits).abs().max()), "saveload_equal": same,
              "steps_more": more.steps, "more_finite": bool(torch.isfinite(more.logits).all())})  # fmt: skip


def _gen(args: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    start, n, size, length = args
    g = stimuli.make("curve-tracing-v1", seed=0, style="dashed", length=length, size=size)
    ts = [g.trial(i) for i in range(start, start + n)]
    return np.stack([t.image for t in ts]), np.array([t.label for t in ts])


def learnability(args: argparse.Namespace, dev: str) -> None:
    t0 = time.time()
    n_all, chunk = args.train + args.val, 250
    with Pool(args.workers) as p:
        parts = p.map(_gen, [(i, min(chunk, n_all - i), args.size, args.length) for i in range(0, n_all, chunk)])
    x = torch.from_numpy(np.concatenate([a for a, _ in parts])).permute(0, 3, 1, 2).to(dev).float().div_(255)
    y = torch.from_numpy(np.concatenate([b for _, b in parts])).to(dev)
    xtr, ytr, xva, yva = x[: args.train], y[: args.train], x[args.train :], y[args.train :]
    emit({"part": "data", "size": args.size, "length": args.length, "train": args.train, "val": args.val,
          "gen_s": round(time.time() - t0, 1), "pos_frac": float(ytr.float().mean())})  # fmt: skip
    for id in args.nets.split(","):
        torch.manual_seed(0)
        net = make_net(id, num_classes=2, image_size=args.size).to(dev)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
        g = torch.Generator(device=dev).manual_seed(0)
        t0, n, step = time.time(), 0, 0
        while time.time() - t0 < args.seconds:
            idx = torch.randint(0, args.train, (128,), device=dev, generator=g)
            with torch.autocast(dev, dtype=torch.bfloat16):
                loss = F.cross_entropy(net(xtr[idx]).logits.float(), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n, step = n + 128, step + 1
        if dev == "cuda":
            torch.cuda.synchronize()
        dt = time.time() - t0
        net.eval()
        correct = 0
        with torch.no_grad(), torch.autocast(dev, dtype=torch.bfloat16):
            for i in range(0, args.val, 500):
                correct += (net(xva[i : i + 500]).logits.argmax(-1) == yva[i : i + 500]).sum().item()
        acc = correct / args.val
        emit({"part": "learn", "net": id, "params": count_params(net), "steps": step, "images": n,
              "img_s": round(n / dt), "val_acc": acc, "ratio_to_chance": round(acc / 0.5, 3)})  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-cuda-checks", action="store_true")
    ap.add_argument("--nets", default=DEFAULT_NETS)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--length", type=int, default=9)
    ap.add_argument("--train", type=int, default=24000)
    ap.add_argument("--val", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=16)
    args = ap.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if dev == "cuda" else "cpu"
    emit({"part": "device", "device": name, "torch": torch.__version__})
    if not args.skip_cuda_checks:
        cuda_checks(dev)
    learnability(args, dev)


if __name__ == "__main__":
    main()
