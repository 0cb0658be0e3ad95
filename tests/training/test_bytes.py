"""Byte-stable files (issue 17, item 5): the same weights give the same ``model.safetensors`` in every process, and a
resumed run ends with the uninterrupted run's RNG state, optimiser state and weights, byte for byte."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from safetensors.torch import load_file

from preattentive.training import TrainConfig, train_supervised
from preattentive.training.losses import supervised_loss

SAVE = """
import hashlib, json, sys, torch
torch.manual_seed(0)
from preattentive.models import make_net, save_net
raw = (save_net(make_net("cnn-30k", num_classes=2, image_size=32), sys.argv[1]) / "model.safetensors").read_bytes()
meta = list(json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])["__metadata__"])
print(hashlib.sha256(raw).hexdigest(), meta == sorted(meta))
"""


def test_save_net_writes_the_same_bytes_in_every_process(tmp_path):
    # safetensors keeps metadata in a per-process-seeded hash map: each process lists the two keys in either
    # order, so without sorting 5 processes all agreeing on the sorted order has probability 1/32.
    procs = [subprocess.Popen([sys.executable, "-c", SAVE, str(tmp_path / f"n{k}")], stdout=subprocess.PIPE,
                              text=True) for k in range(5)]
    results = {p.communicate()[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(results) == 1 and results.pop().endswith(" True")  # same bytes, metadata keys sorted


def _last_step(run: Path) -> Path:
    return sorted((run / "checkpoint").glob("step-*"))[-1]


def test_resumed_run_ends_with_the_uninterrupted_runs_rng_and_state(tmp_path, toy_family):
    cfg = TrainConfig(model="cnn-30k", task=toy_family, size=16, steps=20, batch_size=4, val_n=8, val_every=5,
                      ckpt_every=5, log_every=1)
    base, calls = supervised_loss(cfg), {"n": 0}

    def interrupted(net, batch):  # stands in for kill -9 at step 13 (the last checkpoint is step 10)
        calls["n"] += 1
        if calls["n"] == 13:
            raise KeyboardInterrupt
        return base(net, batch)

    try:
        train_supervised(cfg, tmp_path / "resumed", loss_fn=interrupted, show_progress=False)
    except KeyboardInterrupt:
        pass
    assert _last_step(tmp_path / "resumed").name == "step-00000010"
    train_supervised(cfg, tmp_path / "resumed", resume=True, show_progress=False)
    train_supervised(cfg, tmp_path / "straight", show_progress=False)
    a, b = _last_step(tmp_path / "resumed"), _last_step(tmp_path / "straight")
    assert a.name == b.name == "step-00000020"
    ra, rb = load_file(str(a / "optimizer.safetensors")), load_file(str(b / "optimizer.safetensors"))
    assert bytes(ra["rng/torch"].numpy()) == bytes(rb["rng/torch"].numpy())  # the RNG stream continued exactly
    for name in ("optimizer.safetensors", "model.safetensors"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    sha = [hashlib.sha256((r / "model" / "model.safetensors").read_bytes()).hexdigest()
           for r in (tmp_path / "resumed", tmp_path / "straight")]
    assert sha[0] == sha[1]
