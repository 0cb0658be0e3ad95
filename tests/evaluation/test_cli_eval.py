"""``preattentive eval`` end to end on a toy suite; bad input is one line and exit code 2."""

import json

import pytest
from typer.testing import CliRunner

from preattentive.cli import app

runner = CliRunner()


@pytest.fixture
def clip_dir(tmp_path):
    from preattentive.models.clip import build_clip

    d = tmp_path / "clip"
    build_clip("clip-micro", texts=["is there a red dot ?", "blue dots", "a red dot"], seed=0).save(d)
    return d


def test_eval_cli_caches(tmp_path, clip_dir, toy_family):
    suite = tmp_path / "toy.yaml"
    suite.write_text(f"# toy suite\nname: toy\nseed: 0\nsize: 32\nn: 4\nfamilies:\n  - family: {toy_family}\n")
    args = ["eval", "--model", f"hf-clip:{clip_dir}", "--suite", str(suite), "--out", str(tmp_path / "study"), "-q"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "8 new of 8 trials" in r.output and "toy-dots-v1" in r.output
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and "0 new of 8 trials" in r.output
    assert len(list((tmp_path / "study" / "eval").glob("*.parquet"))) == 1


@pytest.mark.parametrize("args,needle", [
    (["--model", "nope"], "unknown model spec 'nope'"),
    (["--model", "run:/no/such/run"], "no run.json"),
    (["--model", "clip-b32", "--suite", "nosuch"], None),  # either the suite or the weights are reported
    (["--model", "clip-b32", "--n", "0"], "--n 0: expected >= 1"),
])
def test_eval_cli_errors(tmp_path, args, needle):
    r = runner.invoke(app, ["eval", *args, "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    if needle:
        assert needle in lines[0]
    assert not (tmp_path / "o" / "eval").exists()
