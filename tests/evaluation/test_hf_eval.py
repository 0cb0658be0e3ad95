"""``preattentive eval --suite quick`` on a tiny hub-format checkpoint of each architecture (issue 18's "done
when"), through the CLI, plus choice likelihood through the harness at batch sizes 1 and 8."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from preattentive.cli import app
from preattentive.evaluation import evaluate, read_results
from preattentive.evaluation.suites import Suite, SuiteEntry

runner = CliRunner()


def quick(spec, out, *extra, n="2"):
    r = runner.invoke(app, ["eval", "--model", spec, "--suite", "quick", "--n", n, "--out", str(out), "-q", *extra])
    assert r.exit_code == 0, r.output
    df = read_results(out / "eval")
    return r, df


def families_in(df):
    return set(df["family"])


@pytest.mark.parametrize("arch,scheme", [
    ("llava", "hf-vlm"), ("llava", "hf-llava"), ("llava_next", "hf-vlm"), ("qwen2_vl", "hf-vlm"),
    ("idefics3", "hf-vlm"), ("paligemma", "hf-vlm")])
def test_quick_suite_vlm(arch, scheme, hub_checkpoint, tmp_path):
    d = hub_checkpoint(arch)
    r, df = quick(f"{scheme}:{d}", tmp_path)
    assert (df["method"] == "generative").all() and len(families_in(df)) == 9 and len(df) == 9 * 2 * 2
    assert df["prompt_format"].iloc[0].startswith("known format" if arch == "paligemma" else "processor chat")
    assert df["prompt"].str.len().gt(0).all() and df["question"].iloc[0].split(" Answer")[0] in df["prompt"].iloc[0]


@pytest.mark.parametrize("arch,scheme", [("clip", "hf-contrastive"), ("clip", "hf-clip"), ("siglip", "hf-contrastive")])
def test_quick_suite_contrastive(arch, scheme, hub_checkpoint, tmp_path):
    r, df = quick(f"{scheme}:{hub_checkpoint(arch)}", tmp_path)
    assert (df["method"] == "zero-shot").all() and len(families_in(df)) == 9
    probs = df["raw"].map(json.loads)
    sums = probs.map(sum)
    if arch == "clip":
        assert sums.between(1 - 1e-4, 1 + 1e-4).all()  # softmax over the trial's prompts
    else:
        assert not sums.between(1 - 1e-3, 1 + 1e-3).all()  # independent sigmoids
    assert (df["prompt_format"] == "").all()


@pytest.mark.parametrize("arch", ["dinov2", "convnext"])
def test_quick_suite_vision(arch, hub_checkpoint, tmp_path):
    r, df = quick(f"hf-vision:{hub_checkpoint(arch)}", tmp_path, n="8")
    assert df["method"].str.startswith("probe").all() and (df["parse"] == "cv-argmax").all()
    assert len(families_in(df)) >= 5  # blocks whose labels are too rare at n=8 are skipped, and said so
    assert "skipped:" in r.output


def test_choice_likelihood_batch_1_equals_8(hub_checkpoint, toy_family):
    suite = Suite("toy", (SuiteEntry(toy_family, "all"),), seed=0, size=32, n=8)
    spec = f"hf-vlm:{hub_checkpoint('qwen2_vl')}"
    one = evaluate(spec, suite, method="choice-likelihood", batch_size=1, progress=False)
    eight = evaluate(spec, suite, method="choice-likelihood", batch_size=8, progress=False)
    assert len(one) == 16 and (one["parse"] == "loglik-mean").all()
    assert one["prediction"].tolist() == eight["prediction"].tolist()
    a, b = (pd.Series(x["raw"].map(json.loads).tolist()) for x in (one, eight))
    assert all(abs(u - v) < 1e-4 for ra, rb in zip(a, b) for u, v in zip(ra, rb))
    assert len(set(one["raw"])) > 1  # scores depend on the image and question
    total = evaluate(spec, suite, method="choice-likelihood", reduce="sum", progress=False)
    assert (total["parse"] == "loglik-sum").all() and json.loads(total["options"].iloc[0])["reduce"] == "sum"


def test_models_list_cli():
    r = runner.invoke(app, ["models", "list"])
    assert r.exit_code == 0, r.output
    for needle in ("hf-vlm:ID_OR_DIR (aliases: hf-llava:)", "hf-contrastive:ID_OR_DIR (aliases: hf-clip:)",
                   "hf-vision:ID_OR_DIR", "choice-likelihood", "run kinds: llava", "clip-tiny-v2", "hgru-16-v1",
                   "clip-b32-v1"):
        assert needle in r.output, needle
    cat = json.loads(runner.invoke(app, ["models", "list", "--json"]).output)
    kinds = {k["kind"]: k for k in cat["kinds"]}
    assert set(kinds) >= {"hf-vlm", "hf-contrastive", "hf-vision", "net"}
    assert {"qwen2_vl", "paligemma", "idefics3", "llava_next"} <= set(kinds["hf-vlm"]["model_types"])
    assert {"dinov2", "convnext", "resnet", "swin", "vit"} <= set(kinds["hf-vision"]["model_types"])
    assert kinds["net"]["methods"] == ["supervised", "probe"]
