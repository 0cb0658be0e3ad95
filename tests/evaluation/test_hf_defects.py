"""Issue 18's defects, each on a real hub-format checkpoint (tiny, offline); every test here failed before the fix."""

import json
import os
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from preattentive.cli import app
from preattentive.evaluation import evaluate, load_model, read_results
from preattentive.evaluation.suites import Suite, SuiteEntry

runner = CliRunner()


def one_line_error(args, needle):
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    err = r.output.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], r.output
    return err[0]


@pytest.mark.parametrize("scheme,arch,fits", [
    ("hf-clip", "llava", "hf-vlm"), ("hf-contrastive", "qwen2_vl", "hf-vlm"), ("hf-vlm", "dinov2", "hf-vision"),
    ("hf-vision", "siglip", "hf-contrastive"), ("hf-llava", "clip", "hf-contrastive")])
def test_scheme_checks_model_type(scheme, arch, fits, hub_checkpoint, tmp_path):
    """A LLaVA directory passed as hf-clip: used to evaluate a random CLIP built from the LLaVA config (exit 0)."""
    d = hub_checkpoint(arch)
    msg = one_line_error(["eval", "--model", f"{scheme}:{d}", "--suite", "quick", "--n", "2", "--out",
                          str(tmp_path), "-q"], f"model_type is '{arch}'")
    assert f"use {fits}:{d}" in msg
    assert not (tmp_path / "eval").exists()  # nothing written


def test_template_from_tokenizer_is_used_and_recorded(hub_checkpoint, tmp_path, toy_family):
    d = hub_checkpoint("llava_next", chat_template="tokenizer")  # as older LLaVA-NeXT snapshots
    suite = Suite("toy", (SuiteEntry(toy_family, "all"),), seed=0, size=32, n=2)
    df = evaluate(f"hf-vlm:{d}", suite, progress=False, max_new_tokens=2)
    assert df["prompt_format"].str.startswith("tokenizer chat template sha1:").all()
    assert df["prompt"].str.startswith("[INST] <image>\n").all() and "USER:" not in df["prompt"].iloc[0]


def test_no_template_is_an_error_naming_template_option(hub_checkpoint, tmp_path):
    """A checkpoint with no chat template used to be prompted in llava-1.5's USER: ... ASSISTANT: format, silently."""
    d = hub_checkpoint("llava_next", chat_template="none")
    base = ["eval", "--model", f"hf-llava:{d}", "--suite", "quick", "--n", "2", "--family", "counting",
            "--out", str(tmp_path), "-q"]
    one_line_error(base, "--template")
    one_line_error([*base, "--method", "choice-likelihood"], "no chat template")
    r = runner.invoke(app, [*base, "--template", "[INST] {image}\n{question} [/INST]", "--max-new-tokens", "2"])
    assert r.exit_code == 0, r.output
    df = read_results(tmp_path / "eval")
    assert (df["prompt_format"] == "--template with {image} (the whole prompt)").all()
    assert df["prompt"].str.lower().str.startswith("[inst] <image>\nhow many").all()


def _fake_cache(root, repo, src, *, weights=True):
    """A Hugging Face cache entry laid out as huggingface_hub writes it: refs/main -> snapshots/<commit>/files."""
    base = root / f"models--{repo.replace('/', '--')}"
    snap = base / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    (base / "refs").mkdir()
    (base / "refs" / "main").write_text("a" * 40)
    for f in src.iterdir():
        if weights or not f.name.endswith(".safetensors"):
            shutil.copy(f, snap / f.name)
    return snap


def test_cached_hub_id_resolves_to_its_snapshot(hub_checkpoint, tmp_path, monkeypatch, toy_family):
    """locate() used to return the bare id: with HF_HUB_OFFLINE unset and no network, transformers then retried
    the network for minutes before reading the cache."""
    from preattentive.models.vlm_common import locate

    snap = _fake_cache(tmp_path / "hub", "tiny-org/tiny-clip", hub_checkpoint("clip"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert locate("tiny-org/tiny-clip", "CLIP") == str(snap)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    suite = Suite("toy", (SuiteEntry(toy_family, "all"),), seed=0, size=32, n=2)
    df = evaluate("hf-contrastive:tiny-org/tiny-clip", suite, progress=False)
    assert len(df) == 4 and (df["model"] == "hf-contrastive:tiny-org/tiny-clip").all()


def test_partial_cache_entry_is_one_line(hub_checkpoint, tmp_path, monkeypatch):
    """config.json present, no weights (an interrupted download): used to end in an OSError traceback."""
    snap = _fake_cache(tmp_path / "hub", "tiny-org/half-clip", hub_checkpoint("clip"), weights=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    msg = one_line_error(["eval", "--model", "hf-clip:tiny-org/half-clip", "--suite", "quick", "--out",
                          str(tmp_path / "study"), "-q"], "only partly in the Hugging Face cache")
    assert str(snap) in msg and "hf download tiny-org/half-clip" in msg


def test_image_tokens_come_from_the_processor(hub_checkpoint, toy_family):
    """A 32 px llava-format tower whose config keeps image_seq_length's default (576): images already at 32 px
    took a shortcut expanding <image> 576 times ("tokens: 576, features: 16")."""
    d = hub_checkpoint("llava", config={"image_seq_length": 576})
    assert json.loads((d / "config.json").read_text())["image_seq_length"] == 576
    adapter = load_model(f"hf-llava:{d}")
    suite = Suite("toy", (SuiteEntry(toy_family, "all"),), seed=0, size=32, n=2)  # 32 px: the fast path
    df = evaluate(adapter, suite, progress=False, max_new_tokens=2)
    assert len(df) == 4
    enc = adapter.model.encode([np.zeros((32, 32, 3), np.uint8)], [adapter.model.prompt("hi")], "left")
    assert int((enc["input_ids"] == adapter.model.model.config.image_token_id).sum()) == 16  # (32 / 8)^2


@pytest.mark.parametrize("option,needle", [
    (["--device", "cuda"], "no CUDA support"), (["--device", "cuda:3"], "device="),
    (["--device", "tpu9"], "expected cpu, cuda"), (["--dtype", "fp8"], "dtype='fp8'")])
def test_device_and_dtype_checked_up_front(option, needle, hub_checkpoint, tmp_path):
    """--device cuda without CUDA used to end in "AssertionError: Torch not compiled with CUDA enabled"; eval had
    no --dtype."""
    import torch

    if torch.cuda.is_available() and option[-1].startswith("cuda"):
        pytest.skip("this machine has CUDA")
    one_line_error(["eval", "--model", f"hf-clip:{hub_checkpoint('clip')}", "--suite", "quick", "--out",
                    str(tmp_path), "-q", *option], needle)


def test_dtype_reaches_the_model(hub_checkpoint, toy_family):
    adapter = load_model(f"hf-vision:{hub_checkpoint('convnext')}", dtype="bfloat16")
    assert str(adapter.model.dtype) == "torch.bfloat16"


def test_probe_on_mixed_choice_sets(hub_checkpoint, tmp_path):
    """scenes-v1 mixes 2- and 3-choice questions: the probe used to crash (IndexError: tuple index out of range).
    At --n 16 every answer occurs once (nothing to cross-validate: one line); at --n 64 most answers repeat."""
    base = ["eval", "--model", f"hf-clip:{hub_checkpoint('clip')}", "--method", "probe", "--family", "scenes",
            "--suite", "quick", "--out", str(tmp_path), "-q"]
    one_line_error([*base, "--n", "16"], "needs >= 2 trials of each of >= 2 answers")
    r = runner.invoke(app, [*base, "--n", "64"])
    assert r.exit_code == 0, r.output
    assert "trials left out (their answer occurs only once" in r.output
    df = read_results(tmp_path / "eval")
    assert len(df) > 0 and (df["prediction"] < df["n_choices"]).all() and (df["prediction"] >= 0).all()
    assert df["n_choices"].nunique() > 1  # both kinds of question were probed ...
    for _, g in df.groupby(["level", "n_choices"]):  # ... each against its own labels
        assert set(g["prediction"]) <= set(range(int(g["n_choices"].iloc[0])))


def test_probe_with_every_block_skipped_is_one_line(hub_checkpoint, tmp_path):
    one_line_error(["eval", "--model", f"hf-clip:{hub_checkpoint('clip')}", "--method", "probe", "--n", "2",
                    "--suite", "quick", "--out", str(tmp_path), "-q"], "nothing evaluated, all")


def test_processor_loads_without_its_video_part(hub_checkpoint):
    """Without torchvision AutoProcessor cannot build Qwen2-VL's processor (its video processor needs it)."""
    from transformers import AutoProcessor

    from preattentive.models.vlm_common import load_processor

    d = hub_checkpoint("qwen2_vl")
    try:
        import torchvision  # noqa: F401
    except ImportError:
        with pytest.raises(Exception):
            AutoProcessor.from_pretrained(str(d))
    proc = load_processor(d)
    assert type(proc).__name__ == "Qwen2VLProcessor" and proc.chat_template
    enc = proc(images=[np.zeros((32, 32, 3), np.uint8)], text=["<|vision_start|><|image_pad|><|vision_end|>hi"],
               return_tensors="pt")
    assert int((enc["input_ids"] == proc.image_token_id).sum()) == 4  # (32/8)^2 patches, 2 x 2 merged


def test_fingerprint_changes_with_the_chat_template(hub_checkpoint, tmp_path):
    from preattentive.evaluation.specs import fingerprint

    d = tmp_path / "m"
    shutil.copytree(hub_checkpoint("llava"), d)
    before = fingerprint(d)
    (d / "chat_template.jinja").write_text("{{ messages[0]['content'][1]['text'] }}")
    os.utime(d / "chat_template.jinja", ns=(1, 1))
    assert fingerprint(d) != before  # cached rows of another prompt format are not reused
