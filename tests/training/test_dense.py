"""Dense (per-pixel) targets: maze-path items carry the route mask, nets with a per-pixel head train on it, the
loss falls, "solved" is every pixel right, and nets or tasks without a dense side are refused with one line."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from preattentive import stimuli
from preattentive.datasets.torch_view import TrialDataset
from preattentive.models import make_net
from preattentive.stimuli.base import ParamError
from preattentive.training.config import TrainConfig
from preattentive.training.data import held_out
from preattentive.training.loop import load_run, predict, train_supervised
from preattentive.training.losses import solved
from preattentive.training.runs import read_metrics

torch.set_num_threads(1)
TASK = {"cells": 3, "cell_px": 2}  # "5x5" mazes: 16 px


def dense(**kw) -> TrainConfig:
    base = dict(model="recall-16", task="maze-path", params=TASK, size=16, batch_size=16, lr=3e-3, val_n=32,
                val_every=0, log_every=5, ckpt_every=0, target="mask", model_overrides={"steps": 4})
    return TrainConfig(**{**base, **kw})


def test_items_carry_the_route_mask_on_the_fly_and_from_parquet(tmp_path):
    from preattentive.datasets.parquet import generate_set

    fam = stimuli.make("maze-path", size=16, seed=0, **TASK)
    item = TrialDataset(fam, n=4)[1]
    t = fam.trial(1)
    assert item["target"].dtype == torch.int64 and item["target"].shape == (16, 16)
    assert torch.equal(item["target"].bool(), torch.from_numpy(t.meta["target_mask"]))
    generate_set("maze-path", 4, tmp_path / "set", seed=0, params={"size": 16, **TASK})
    assert torch.equal(TrialDataset(tmp_path / "set")[1]["target"], item["target"])
    assert "target" not in TrialDataset(stimuli.make("maze", size=16, cells=3, seed=0), n=1)[0]
    # other families' meta may name a "target" object (a shape, a colour): never mistaken for a dense target
    for fid in stimuli.list():
        if stimuli.get(fid).mask_classes == 0:
            assert "target" not in TrialDataset(stimuli.make(fid, size=32, seed=0), n=2)[1], fid


@pytest.mark.parametrize("model", ["recall-16", "recall-16-ff"])
def test_pixel_logits_match_the_last_recorded_map(model):
    net = make_net(model, num_classes=2, image_size=16).eval()
    with torch.no_grad():
        out = net(torch.rand(3, 3, 16, 16))
    assert out.pixel_logits.shape == (3, 2, 16, 16)
    assert torch.equal(out.pixel_logits, out.states[-1]["pixel_logits"])


def test_feedforward_control_is_the_recall_net_untied():
    rec = make_net("recall-16", num_classes=2, image_size=16)
    ff = make_net("recall-16-ff", num_classes=2, image_size=16, depth=3)
    per_step = sum(p.numel() for n, p in rec.named_parameters() if n.startswith(("recall", "blocks")))
    shared = sum(p.numel() for n, p in rec.named_parameters() if n.startswith(("project", "head")))
    assert sum(p.numel() for p in ff.parameters()) == shared + 3 * per_step
    assert not ff.recurrent and ff(torch.rand(1, 3, 16, 16), steps=9).step_logits.shape[0] == 1


def test_solved_needs_every_pixel():
    target = torch.zeros(2, 4, 4, dtype=torch.long)
    target[:, 1, 1] = 1
    logits = torch.zeros(2, 2, 4, 4)
    logits[:, 0] = 1.0  # everything "off"
    logits[0, 1, 1, 1] = 2.0  # image 0 gets the one route pixel too
    assert solved(logits, target).tolist() == [True, False]


@pytest.mark.parametrize("model,step_loss", [("recall-16", "progressive"), ("recall-16", "mean"),
                                             ("recall-16-ff", "final")])
def test_dense_loss_falls_and_runs_report_solved(tmp_path, model, step_loss):
    overrides = {"steps": 4} if model == "recall-16" else {"depth": 2}
    res = train_supervised(dense(model=model, steps=40, step_loss=step_loss, model_overrides=overrides,
                                 progressive_alpha=0.5), tmp_path / "r", show_progress=False)
    train = [r["loss"] for r in read_metrics(tmp_path / "r") if r["split"] == "train"]
    assert res.steps == 40 and train[-1] < 0.8 * train[0], train
    assert 0.0 <= res.val["acc"] <= 1.0 and res.val["n"] == 32
    net, rec = load_run(tmp_path / "r")
    assert rec["task"]["n_classes"] == 2  # the mask's classes, not the 4 first-move answers
    fam = stimuli.make("maze-path", size=16, seed=5, **TASK)
    p = predict(net, held_out(fam, 8, 4), target="mask")
    assert p["correct"].dtype == torch.bool and p["loss"].shape == (8,)
    # "correct" is exactly "every pixel right"
    with torch.no_grad():
        pix = net(torch.stack([TrialDataset(fam, n=8)[i]["image"] for i in range(8)])).pixel_logits
    want = [bool((pix[i].argmax(0).numpy() == fam.trial(i).meta["target_mask"]).all()) for i in range(8)]
    assert p["correct"].tolist() == want


def test_nets_and_tasks_without_a_dense_side_are_refused(tmp_path):
    with pytest.raises(ParamError, match="per-pixel head"):
        train_supervised(dense(model="cnn-30k", steps=2, model_overrides={}), tmp_path / "a", show_progress=False)
    with pytest.raises(ParamError, match="no dense target"):
        train_supervised(dense(task="maze", params={"cells": 3}, steps=2), tmp_path / "b", show_progress=False)
    with pytest.raises(ParamError, match="target='pixels'"):
        dense(target="pixels", steps=1)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_target_mask_and_compare(tmp_path):
    from preattentive.cli import app

    r = CliRunner().invoke(app, ["train", "supervised", "--model", "recall-16", "--task", "maze-path", "--param",
                                 "cells=3", "--param", "cell_px=2", "--size", "16", "--steps", "3", "--batch-size",
                                 "4", "--val-n", "8", "--target", "mask", "--net-param", "steps=2",
                                 "--out", str(tmp_path / "run"), "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"]["target"] == "mask"
    r = CliRunner().invoke(app, ["train", "supervised", "--model", "cnn-30k", "--task", "maze-path", "--steps", "2",
                                 "--target", "mask", "--out", str(tmp_path / "bad"), "-q"])
    assert r.exit_code == 2 and r.output.startswith("error: ") and "per-pixel head" in r.output
    assert not (tmp_path / "bad").exists()
    r = CliRunner().invoke(app, ["compare", "--models", "recall-16,recall-16-ff", "--task", "maze-path", "--param",
                                 "cells=3", "--param", "cell_px=2", "--size", "16", "--budget-steps", "2",
                                 "--batch-size", "4", "--test-n", "8", "--target", "mask", "--out",
                                 str(tmp_path / "cmp"), "-q"])
    assert r.exit_code == 0, r.output
    import pandas as pd

    table = pd.read_parquet(tmp_path / "cmp" / "results.parquet")
    assert set(table.model) == {"recall-16", "recall-16-ff"} and (table.n == 8).all()
