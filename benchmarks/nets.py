"""Vision-net costs: parameters, forward FLOPs per image and training throughput (forward + backward images/s).

For every registered net (or ``--nets``) at each ``--sizes`` px and each ``--threads`` count: one JSON line
``{"bench": "nets", "net": ..., "size": ..., "threads": ..., "params": ..., "mflops": ..., "train_img_s": ...,
"ratio_to_baseline": ...}`` where the ratio is images/s relative to the baseline net (``cnn-30k-v1``) measured
in the same run at the same size and threads. Throughput is the median over repeats of a batch's
forward + backward + no optimizer step, random images, 2 classes, default steps.

Usage: ``python benchmarks/nets.py [--quick] [--nets cnn-30k-v1,hgru-16-v1] [--sizes 32,64] [--threads 1,2]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from preattentive.models import count_params, flops_per_image, list_nets, make_net

BASELINE = "cnn-30k-v1"


def train_images_per_s(net, size: int, batch: int, min_s: float, repeats: int) -> float:
    """Median images/s of forward + backward on a random batch (after one warm-up batch)."""
    x = torch.rand(batch, 3, size, size)
    y = torch.randint(0, 2, (batch,))
    q = torch.zeros(batch, dtype=torch.long) if net.config.conditioning != "none" else None
    net.train()

    def once() -> None:
        net.zero_grad(set_to_none=True)
        sl = net(x, query=q).step_logits  # (T, B, C): all steps in the loss, as a progressive/deep-supervision run
        torch.nn.functional.cross_entropy(sl.flatten(0, 1), y.repeat(sl.shape[0])).backward()

    once()
    rates = []
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            once()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= min_s:
                break
        rates.append(n * batch / dt)
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default="", help="comma-separated ids (default: all)")
    ap.add_argument("--sizes", default="32,64")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--quick", action="store_true", help="one short repeat per point")
    args = ap.parse_args()
    nets = [n for n in args.nets.split(",") if n] or list_nets()
    nets = [BASELINE] + [n for n in nets if n != BASELINE]  # measured first at every size / thread count
    min_s, repeats = (0.3, 1) if args.quick else (1.0, 3)
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for size in [int(s) for s in args.sizes.split(",")]:
            base = None
            for id in nets:
                torch.manual_seed(0)
                net = make_net(id, num_classes=2, image_size=size)
                rate = train_images_per_s(net, size, args.batch, min_s, repeats)
                base = rate if id == BASELINE else base
                row = {
                    "bench": "nets", "net": id, "size": size, "threads": threads, "params": count_params(net),
                    "mflops": round(flops_per_image(net, size) / 1e6, 2), "steps": net.default_steps,
                    "train_img_s": round(rate, 1), "ratio_to_baseline": round(rate / base, 3), "baseline": BASELINE,
                }  # fmt: skip
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("\n| net | params | steps | " + " | ".join(f"MFLOPs {s}px" for s in args.sizes.split(",")) + " | img/s |")
    for id in nets:
        r = [x for x in rows if x["net"] == id]
        fl = " | ".join(str(next(x["mflops"] for x in r if x["size"] == int(s))) for s in args.sizes.split(","))
        rates = ", ".join(f'{x["size"]}px/{x["threads"]}t {x["train_img_s"]}' for x in r)
        print(f'| {id} | {r[0]["params"]} | {r[0]["steps"]} | {fl} | {rates} |')


if __name__ == "__main__":
    main()
