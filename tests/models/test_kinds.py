"""The model-kind registry: every dispatcher reads it, and a new HF-loadable kind is one register_kind call."""

import json

import pytest
from typer.testing import CliRunner

from preattentive.models import kinds


def test_every_kind_resolves_and_declares_methods():
    from preattentive.evaluation.methods import METHODS

    for k in kinds.list_kinds():
        for path in (k.load, k.adapter, k.build, k.presets, k.recorder, k.trainer):
            if path:
                assert callable(kinds.resolve(path)), path  # nothing dangling
        assert set(k.methods) <= set(METHODS), k.name
        adapter = kinds.resolve(k.adapter)
        for m in k.methods:  # the adapter implements each declared method's capability
            need = {"zero-shot": "zero_shot", "generative": "generate", "choice-likelihood": "score_choices",
                    "probe": "features", "supervised": "classify"}[m]
            assert getattr(adapter, need) is not getattr(kinds.resolve(_BASE), need), (k.name, m)
    assert [k.name for k in kinds.list_kinds()][:4] == ["net", "hf-contrastive", "hf-vlm", "hf-vision"]


_BASE = "preattentive.evaluation.adapters:Adapter"


def test_lookups_and_one_line_errors():
    assert kinds.kind_for_scheme("hf-llava") is kinds.kind_for_scheme("hf-vlm")
    assert kinds.kind_for_run("clip").name == "hf-contrastive" and kinds.kind_for_run("supervised").name == "net"
    with pytest.raises(ValueError, match="run kind 'gan': expected one of"):
        kinds.kind_for_run("gan")
    with pytest.raises(ValueError, match="already registered"):
        kinds.register_kind(kinds.ModelKind("hf-clip", "dup", load="x:y", adapter="x:y", methods=("probe",)))
    with pytest.raises(ValueError, match="cannot be imported"):
        kinds.resolve("preattentive.nope:thing")
    with pytest.raises(ValueError, match="use hf-vision:DIR"):
        kinds.check_model_type(kinds.kind_for_scheme("hf-vlm"), "dinov2", "DIR")


def test_a_new_kind_is_one_register_call(hub_checkpoint, tmp_path, toy_family):
    """README's tour: a kind serving only ViT checkpoints, through the existing loader and adapter, is usable
    from the CLI by its scheme, with its declared methods only."""
    from preattentive.cli import app

    kind = kinds.register_kind(kinds.ModelKind(
        "hf-vit-only", "plain ViTs (a test kind)", load="preattentive.models.hf_vision:load_vision",
        adapter="preattentive.evaluation.adapters:VisionAdapter", methods=("probe",), model_types=("vit",)))
    try:
        suite = tmp_path / "toy.yaml"
        suite.write_text(f"name: toy\nseed: 0\nsize: 32\nn: 8\nfamilies:\n  - family: {toy_family}\n")
        run = CliRunner().invoke
        r = run(app, ["eval", "--model", f"hf-vit-only:{hub_checkpoint('vit')}", "--suite", str(suite), "--out",
                      str(tmp_path / "s"), "-q"])
        assert r.exit_code == 0 and "[probe]" in r.output, r.output
        r = run(app, ["eval", "--model", f"hf-vit-only:{hub_checkpoint('dinov2')}", "--suite", str(suite),
                      "--out", str(tmp_path / "s"), "-q"])
        assert r.exit_code == 2 and "use hf-vision:" in r.output
        r = run(app, ["eval", "--model", f"hf-vit-only:{hub_checkpoint('vit')}", "--suite", str(suite),
                      "--method", "zero-shot", "--out", str(tmp_path / "s"), "-q"])
        assert r.exit_code == 2 and "does not support method 'zero-shot'" in r.output
        listed = json.loads(run(app, ["models", "list", "--json"]).output)
        assert any(k["kind"] == "hf-vit-only" and k["model_types"] == ["vit"] for k in listed["kinds"])
    finally:
        kinds.unregister_kind(kind.name)


def test_run_dispatch_reads_the_registry(tmp_path, tiny_clip):
    """training.load_run and run:DIR specs both go through kind_for_run."""
    from preattentive.evaluation import load_model
    from preattentive.models.clip import Clip
    from preattentive.training import load_run

    tiny_clip.save(tmp_path / "model")
    (tmp_path / "run.json").write_text(json.dumps({"kind": "clip", "model_dir": "model", "status": "done"}))
    model, record = load_run(tmp_path)
    assert isinstance(model, Clip) and record["kind"] == "clip"
    a = load_model(f"run:{tmp_path}")
    assert a.kind == "hf-contrastive" and a.methods == ("zero-shot", "probe") and a.auto_method == "zero-shot"
