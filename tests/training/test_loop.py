"""The supervised loop: loss falls, budgets hold, metrics are JSONL, checkpoints round-trip, resume after a kill
gives bit-identical weights, and the CLI rejects bad input with one line and exit code 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from preattentive.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from preattentive.training.config import TrainConfig
from preattentive.training.loop import load_run, lr_factor, train_supervised
from preattentive.training.runs import read_metrics

TESTS = Path(__file__).resolve().parents[1]


def tiny(task: str, **kw) -> TrainConfig:
    base = dict(model="cnn-30k", task=task, size=16, batch_size=8, lr=3e-3, val_n=32, val_every=10, log_every=5,
                ckpt_every=10)
    return TrainConfig(**{**base, **kw})


def test_loss_falls_on_easy_task(tmp_path, toy_family):
    res = train_supervised(tiny(toy_family, steps=60, batch_size=16, size=24), tmp_path / "run",
                           show_progress=False)
    train = [r for r in read_metrics(tmp_path / "run") if r["split"] == "train"]
    first, last = train[0]["loss"], sum(r["loss"] for r in train[-3:]) / 3
    assert last < 0.5 * first, (first, last)
    assert res.val["acc"] > 0.75  # a red dot among blue ones: chance is 0.5


def test_budgets_and_metrics_jsonl(tmp_path, toy_family):
    res = train_supervised(tiny(toy_family, steps=7, log_every=2, val_every=3), tmp_path / "a", show_progress=False)
    assert res.steps == 7
    lines = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]  # every line parses on its own
    assert [r["step"] for r in recs if r["split"] == "train"] == [2, 4, 6]
    assert [r["step"] for r in recs if r["split"] == "val"] == [3, 6, 7]
    assert all({"loss", "wall", "cpu"} <= set(r) for r in recs)
    assert all({"lr", "images_per_s", "acc"} <= set(r) for r in recs if r["split"] == "train")
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["kind"] == "supervised" and run["status"] == "done" and run["steps"] == 7
    assert run["config"]["steps"] == 7 and run["task"]["family"] == "toy-dots-v1"
    # a time budget stops a run with a huge step budget
    res = train_supervised(tiny(toy_family, steps=10**6, minutes=0.02), tmp_path / "b", show_progress=False)
    assert 1 <= res.steps < 10**6 and res.elapsed["wall"] >= 1.2


def test_lr_schedule_warmup_then_cosine():
    assert lr_factor(0.0, 0.1) == 0.0 and lr_factor(0.05, 0.1) == pytest.approx(0.5)
    assert lr_factor(0.1, 0.1) == pytest.approx(1.0) and lr_factor(0.55, 0.1) == pytest.approx(0.5)
    assert lr_factor(1.0, 0.1) == pytest.approx(0.0)


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(5, 4)).sum().backward()
        opt.step()
    save_checkpoint(tmp_path, net, opt, step=3, elapsed={"wall": 1.5, "cpu": 1.0}, extra={"note": "x"})
    expect_rand = torch.rand(3)
    net2 = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt2 = torch.optim.AdamW(net2.parameters(), lr=1e-2)
    ck = load_checkpoint(tmp_path, net2, opt2)
    assert ck.step == 3 and ck.elapsed == {"wall": 1.5, "cpu": 1.0} and ck.extra == {"note": "x"}
    assert torch.equal(torch.rand(3), expect_rand)  # RNG state restored
    for a, b in zip(net.state_dict().values(), net2.state_dict().values()):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    for k in s1["state"]:
        for name in s1["state"][k]:
            assert torch.equal(s1["state"][k][name], s2["state"][k][name])
    assert s1["param_groups"] == s2["param_groups"]
    # an older checkpoint is pruned, `latest` points at the newest
    save_checkpoint(tmp_path, net, opt, step=4, elapsed={"wall": 2.0, "cpu": 1.2})
    assert latest_checkpoint(tmp_path).name == "step-00000004"
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-00000004"]


CHILD = """
import sys, torch
sys.path.insert(0, {tests!r})
import conftest
from preattentive import stimuli
from preattentive.training.config import TrainConfig
from preattentive.training.loop import train_supervised
torch.set_num_threads({threads})
stimuli.REGISTRY.register(conftest.ToyFamily.id, conftest.ToyFamily)
cfg = TrainConfig.from_dict({cfg!r})
train_supervised(cfg, {out!r}, resume={resume}, show_progress=False)
"""


def _spawn(cfg: TrainConfig, out: Path, resume: bool = False) -> subprocess.Popen:
    code = CHILD.format(tests=str(TESTS), threads=torch.get_num_threads(), cfg=cfg.to_dict(), out=str(out),
                        resume=resume)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_resume_after_kill_is_bit_identical(tmp_path, toy_family):
    # Dropout-free CNN, but the RNG, AdamW moments and schedule must all come back exactly.
    cfg = tiny(toy_family, steps=150, ckpt_every=5, val_every=50)
    killed = tmp_path / "killed"
    proc = _spawn(cfg, killed)
    deadline = time.time() + 300  # generous: the team machine is often heavily loaded
    while time.time() < deadline and proc.poll() is None:
        ck = latest_checkpoint(killed / "checkpoint")
        if ck is not None and int(ck.name.split("-")[1]) >= 20:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"the child ended before it could be killed: {proc.stderr.read().decode()[-500:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    at = int(latest_checkpoint(killed / "checkpoint").name.split("-")[1])
    assert 5 <= at < 150 and json.loads((killed / "run.json").read_text())["status"] == "running"

    train_supervised(cfg, killed, resume=True, show_progress=False)
    train_supervised(cfg, tmp_path / "straight", show_progress=False)
    a = load_file(str(killed / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "straight" / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k  # bit-identical, not merely close
    steps = [r["step"] for r in read_metrics(killed) if r["split"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == 150  # no duplicated lines after the resume


def test_load_run_gives_the_trained_net(tmp_path, toy_family):
    train_supervised(tiny(toy_family, steps=3), tmp_path / "r", show_progress=False)
    net, rec = load_run(tmp_path / "r")
    assert rec["kind"] == "supervised" and rec["model"].startswith("cnn-30k")
    x = torch.rand(2, 3, 16, 16)
    net.eval()
    again, _ = load_run(tmp_path / "r")
    again.eval()
    assert torch.equal(net(x).logits, again(x).logits)


def test_init_from_starts_from_a_finished_run(tmp_path, toy_family):
    train_supervised(tiny(toy_family, steps=3), tmp_path / "a", show_progress=False)
    first, _ = load_run(tmp_path / "a")
    # zero steps are impossible, so check the copy through a run whose learning rate is ~0
    train_supervised(tiny(toy_family, steps=1, lr=1e-12, weight_decay=0.0, init_from=str(tmp_path / "a")),
                     tmp_path / "b", show_progress=False)
    second, rec = load_run(tmp_path / "b")
    assert rec["config"]["init_from"] == str(tmp_path / "a")
    for (k, v), w in zip(first.named_parameters(), second.parameters()):  # (BatchNorm buffers move in train)
        assert torch.allclose(v, w, atol=1e-6), k
    fresh, _ = load_run(tmp_path / "a")
    train_supervised(tiny(toy_family, steps=1, lr=1e-12, weight_decay=0.0, seed=7), tmp_path / "c",
                     show_progress=False)
    other, _ = load_run(tmp_path / "c")
    assert not torch.allclose(next(fresh.parameters()), next(other.parameters()))
    # a resumed run continues from its own checkpoint: the source of its first weights is no longer needed
    import shutil

    shutil.copytree(tmp_path / "a", tmp_path / "a2")
    train_supervised(tiny(toy_family, steps=2, init_from=str(tmp_path / "a2")), tmp_path / "e", show_progress=False)
    shutil.rmtree(tmp_path / "a2")
    res = train_supervised(tiny(toy_family, steps=4, init_from=str(tmp_path / "a2")), tmp_path / "e", resume=True,
                           show_progress=False)
    assert res.steps == 4
    # another architecture's weights are refused before anything is written
    with pytest.raises(ValueError, match="do not fit this net"):
        train_supervised(tiny(toy_family, model="vit-30k", steps=1, init_from=str(tmp_path / "a")), tmp_path / "d",
                         show_progress=False)
    assert not (tmp_path / "d").exists()


def _cli(args):
    from preattentive.cli import app

    return CliRunner().invoke(app, args)


@pytest.mark.parametrize("args", [
    ["--model", "no-such-net", "--task", "{task}", "--steps", "2"],
    ["--model", "cnn-30k", "--task", "no-such-task", "--steps", "2"],
    ["--model", "cnn-30k", "--task", "{task}", "--param", "n_dots=many", "--steps", "2"],
    ["--model", "cnn-30k", "--task", "{task}", "--param", "colour=red", "--steps", "2"],
    ["--model", "cnn-30k", "--task", "{task}"],  # no budget
    ["--model", "cnn-30k", "--task", "{task}", "--steps", "0"],
    ["--model", "cnn-30k", "--task", "{task}", "--steps", "2", "--step-loss", "sometimes"],
    ["--model", "cnn-30k", "--task", "{task}", "--steps", "2", "--net-param", "width=oops"],
    ["--model", "cnn-30k", "--task", "{task}", "--steps", "2", "--batch-size", "0"],
    ["--task", "{task}", "--steps", "2"],  # no model
    ["--model", "cnn-30k", "--task", "{task}", "--steps", "2", "--init-from", "no/such/run"],
])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, toy_family, args):
    out = tmp_path / "run"
    r = _cli(["train", "supervised", *[a.format(task=toy_family) for a in args], "--out", str(out), "-q"])
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert not out.exists()  # nothing half-written


def test_cli_trains_refuses_overwrite_and_resumes(tmp_path, toy_family):
    out = tmp_path / "run"
    args = ["train", "supervised", "--model", "cnn-30k", "--task", toy_family, "--size", "16", "--steps", "4",
            "--batch-size", "4", "--val-n", "8", "--out", str(out), "-q"]
    r = _cli(args)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["steps"] == 4
    r = _cli(args)
    assert r.exit_code == 2 and "already exists" in r.output
    r = _cli(["train", "supervised", "--out", str(out), "--steps", "6", "--resume", "-q"])  # extend the budget
    assert r.exit_code == 0, r.output
    assert json.loads((out / "run.json").read_text())["steps"] == 6


@pytest.mark.parametrize("model,step_loss", [("recall-16", "mean"), ("recall-16", "progressive"),
                                             ("hgru-16", "final")])
def test_recurrent_step_losses_train(tmp_path, toy_family, model, step_loss):
    cfg = tiny(toy_family, model=model, steps=3, batch_size=4, step_loss=step_loss, train_iters=3,
               model_overrides={"steps": 3} if model == "recall-16" else {})
    res = train_supervised(cfg, tmp_path / "r", show_progress=False)
    train = [r for r in read_metrics(tmp_path / "r") if r["split"] == "train"]
    assert res.steps == 3 and all(r["loss"] == r["loss"] for r in train)  # finite, not NaN
    net, rec = load_run(tmp_path / "r")
    assert net(torch.rand(2, 3, 16, 16), steps=5).step_logits.shape[0] == 5  # more steps than trained


def test_query_ids_reach_question_conditioned_nets():
    from preattentive.training.data import StepBatches, net_inputs

    q = torch.tensor([0, 2, 1])
    assert torch.equal(net_inputs({"query_id": q})["query"], q)
    assert net_inputs({"query_id": torch.tensor([-1, -1, -1])}) == {}  # a fixed-question family
    # batch k of a run covers fixed indices; process r of W takes its own slice of the same global batch
    assert StepBatches(4, None, start_step=3).indices(3) == [12, 13, 14, 15]
    assert StepBatches(2, None, rank=1, world=2).indices(0) == [2, 3]
    perm = [StepBatches(3, 7, seed=5).indices(k) for k in range(7)]  # a finite set: each epoch a permutation
    assert sorted(sum(perm[:7], [])[:7]) == list(range(7))



def test_dataloader_workers_change_nothing_but_speed(tmp_path, toy_family):
    """Issue 14: worker processes draw the same per-step indices, so weights match a 0-worker run, and a resumed
    run's loader (``start_step`` > 0) serves the same batches with workers as without."""
    from preattentive import stimuli
    from preattentive.training.data import train_loader

    runs = {w: train_supervised(tiny(toy_family, steps=6, num_workers=w), tmp_path / f"w{w}", show_progress=False)
            for w in (0, 2)}
    assert runs[0].steps == runs[2].steps == 6
    a = load_file(str(tmp_path / "w0" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "w2" / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "w2" / "run.json").read_text())["config"]["num_workers"] == 2
    fam = stimuli.make(toy_family, seed=0, size=16)
    batches = {}
    for w in (0, 2):
        it = iter(train_loader(fam, None, 4, start_step=3, seed=0, num_workers=w))
        batches[w] = [next(it) for _ in range(3)]
    for x, y in zip(batches[0], batches[2]):
        assert x.keys() == y.keys()
        assert all(torch.equal(x[k], y[k]) if torch.is_tensor(x[k]) else x[k] == y[k] for k in x)
