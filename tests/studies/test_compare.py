"""`compare`: every model trained under the same budget, one table with the documented columns."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from preattentive.studies.compare import COLUMNS, CompareConfig, CurriculumStage, compare
from preattentive.studies.compare import TestCondition as Cond
from preattentive.training.runs import read_run


def test_compare_writes_table_with_expected_columns(tmp_path, toy_family):
    cfg = CompareConfig(models=("cnn-30k", "vit-30k"), task=toy_family, size=16, budget_steps=4, batch_size=4,
                        val_n=8, test_n=12, tests=(Cond("few", {"n_dots": 2}),
                                                   Cond("mixed", {"mix_levels": True})))
    table = compare(cfg, tmp_path / "cmp", show_progress=False)
    assert tuple(table.columns) == COLUMNS
    on_disk = pd.read_parquet(tmp_path / "cmp" / "results.parquet")
    assert tuple(on_disk.columns) == COLUMNS and len(on_disk) == len(table)
    assert set(table["model"]) == {"cnn-30k", "vit-30k"}
    assert (table["train_steps"] == 4).all()  # equal steps
    assert (table["n_params"] > 0).all() and (table["flops_per_image"] > 0).all()
    mixed = table[table["condition"] == "mixed"]
    assert sorted(set(mixed["level"])) == [0, 1]  # accuracy per difficulty rung
    assert (mixed.groupby("model")["n"].sum() == 12).all()
    assert ((table["ci_low"] <= table["accuracy"]) & (table["accuracy"] <= table["ci_high"])).all()
    md = (tmp_path / "cmp" / "results.md").read_text()
    assert md.count("| cnn-30k |") == 3 and "accuracy [95 % CI]" in md
    # a second call reuses the finished runs instead of training again
    mtime = (tmp_path / "cmp" / "cnn-30k" / "model" / "model.safetensors").stat().st_mtime_ns
    compare(cfg, tmp_path / "cmp", show_progress=False)
    assert (tmp_path / "cmp" / "cnn-30k" / "model" / "model.safetensors").stat().st_mtime_ns == mtime


def test_curriculum_stages_chain_and_sum_into_the_table(tmp_path, toy_family):
    cfg = CompareConfig(models=("cnn-30k",), task=toy_family, params={"n_dots": 6}, size=16, budget_steps=3,
                        batch_size=4, val_n=8, test_n=8,
                        curriculum=(CurriculumStage("easy", {"n_dots": 2}, budget_steps=2),
                                    CurriculumStage("mid", {"n_dots": 4}, budget_steps=4)))
    table = compare(cfg, tmp_path / "cmp", show_progress=False)
    easy = read_run(tmp_path / "cmp" / "curriculum" / "cnn-30k" / "1-easy")
    mid = read_run(tmp_path / "cmp" / "curriculum" / "cnn-30k" / "2-mid")
    main = read_run(tmp_path / "cmp" / "cnn-30k")
    assert easy["task"]["params"]["n_dots"] == 2 and easy["config"]["init_from"] is None
    assert mid["config"]["init_from"] == str(tmp_path / "cmp" / "curriculum" / "cnn-30k" / "1-easy")
    assert main["config"]["init_from"] == str(tmp_path / "cmp" / "curriculum" / "cnn-30k" / "2-mid")
    assert main["task"]["params"]["n_dots"] == 6
    assert (table["train_steps"] == 2 + 4 + 3).all()  # the table counts every stage's steps...
    cpu = easy["elapsed"]["cpu"] + mid["elapsed"]["cpu"] + main["elapsed"]["cpu"]
    assert table["train_cpu_s"].iloc[0] == pytest.approx(cpu)  # ...and seconds
    assert "easy {'n_dots': 2} for 2 steps, then mid" in (tmp_path / "cmp" / "results.md").read_text()
    with pytest.raises(ValueError, match="give budget_steps"):
        CurriculumStage("x")
    with pytest.raises(ValueError, match="its own name"):
        CompareConfig.from_dict({"models": ["a"], "task": "maze", "budget_steps": 1,
                                 "curriculum": [{"name": "s", "budget_steps": 1}, {"name": "s", "budget_steps": 1}]})


def test_compare_cli_and_bad_input(tmp_path, toy_family):
    from preattentive.cli import app

    out = tmp_path / "c"
    r = CliRunner().invoke(app, ["compare", "--models", "cnn-30k", "--task", toy_family, "--size", "16",
                                 "--budget-steps", "2", "--batch-size", "4", "--test-n", "8", "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert (out / "results.parquet").is_file() and "| cnn-30k |" in r.output
    for bad in (["--models", "cnn-30k"], ["--models", "cnn-30k", "--task", toy_family],
                ["--models", "nope-net", "--task", toy_family, "--budget-steps", "2"]):
        r = CliRunner().invoke(app, ["compare", *bad, "--out", str(tmp_path / "bad"), "-q"])
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
        assert r.output.startswith("error: ")


def test_study_yaml_round_trip(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("models: [cnn-30k, hgru-16]\ntask: maze\nbudget_steps: 10\n"
                 "tests:\n  - {name: big, params: {cells: 13, size: 32}, steps: [8, 16]}\n")
    cfg = CompareConfig.from_yaml(p)
    assert cfg.models == ("cnn-30k", "hgru-16") and cfg.tests[0].steps == (8, 16)
    # every training option a study sets reaches each model's run config
    cfg = CompareConfig.from_dict({"models": ["hgru-16"], "task": "maze", "budget_steps": 5, "step_loss": "progressive",
                                   "progressive_alpha": 0.01, "model_overrides": {"hgru-16": {"kernel": 3}}})
    run = cfg.train_config("hgru-16")
    assert (run.step_loss, run.progressive_alpha, dict(run.model_overrides)) == ("progressive", 0.01, {"kernel": 3})
    with pytest.raises(ValueError, match="unknown study option"):
        CompareConfig.from_dict({"models": ["a"], "task": "maze", "budget_steps": 1, "colour": 1})
