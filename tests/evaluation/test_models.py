"""Specs resolve and fail clearly; real tiny CLIP / LLaVA plug in through their adapters; generative answers are
identical at batch size 1 and 8 (left padding done right)."""

import json

import pytest

from preattentive.evaluation import evaluate, load_model, parse_spec
from preattentive.evaluation.specs import ModelSpecError
from preattentive.evaluation.suites import Suite, SuiteEntry

TEXTS = ["is there a red dot ?", "no", "yes", "blue dots", "a red dot", "answer with one of : no or yes ."]


@pytest.mark.parametrize("spec,needle", [
    ("bogus", "unknown model spec 'bogus'"),
    ("hf-clip:", "no target"),
    ("run:/nonexistent/run", "no run.json in /nonexistent/run"),
    ("hf-clip:/nonexistent/clip", "weights"),
    ("hf-llava:nobody/not-a-model", "not in the Hugging Face cache"),
])
def test_spec_errors_are_one_line(spec, needle):
    with pytest.raises(ValueError) as e:
        load_model(spec)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_run_json_kind_is_checked(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"kind": "diffusion"}))
    with pytest.raises(ModelSpecError, match="kind='diffusion'; expected one of: supervised, clip, llava"):
        load_model(f"run:{tmp_path}")
    assert parse_spec(str(tmp_path)).scheme == "run"  # a bare run directory is a run spec
    assert parse_spec("clip-b32").target == "openai/clip-vit-base-patch32"  # preset


@pytest.fixture(scope="module")
def tiny_vlms():
    from preattentive.models.clip import build_clip
    from preattentive.models.llava import build_llava

    clip = build_clip("clip-micro", texts=TEXTS, seed=0)
    return clip, build_llava("llava-micro", vision=clip, texts=TEXTS, seed=0)


def test_hf_clip_dir_zero_shot(tmp_path, tiny_vlms, toy_family):
    clip, _ = tiny_vlms
    clip.save(tmp_path / "clip")
    suite = Suite("toy", (SuiteEntry(toy_family, "all"),), seed=0, size=32, n=4)
    df = evaluate(f"hf-clip:{tmp_path / 'clip'}", suite, method="auto", progress=False)
    assert (df["method"] == "zero-shot").all() and len(df) == 8
    probs = df["raw"].map(json.loads)
    assert all(abs(sum(p) - 1) < 1e-4 for p in probs)
    probe = evaluate(f"hf-clip:{tmp_path / 'clip'}", suite, method="probe", layer="layers.1", progress=False,
                     folds=2)
    assert len(probe) == 8 and json.loads(probe["options"].iloc[0])["layer"] == "layers.1"
    assert (probe["method"] == "probe:layers.1").all()  # probes of different layers never pool


def test_generative_batch_invariance(tmp_path, tiny_vlms, toy_family):
    _, llava = tiny_vlms
    llava.save(tmp_path / "llava")
    (tmp_path / "run.json").write_text(json.dumps({"kind": "llava", "model_dir": "llava", "task": {}, "config": {}}))
    adapter = load_model(f"run:{tmp_path}")
    suite = Suite("toy", (SuiteEntry(toy_family, "all"),), seed=0, size=32, n=8)
    one = evaluate(adapter, suite, batch_size=1, progress=False, max_new_tokens=5)
    eight = evaluate(adapter, suite, batch_size=8, progress=False, max_new_tokens=5)
    assert (one["method"] == "generative").all() and len(one) == 16
    assert one["raw"].tolist() == eight["raw"].tolist()
    assert len(set(one["raw"])) > 1  # the random model does say different things to different images


def test_zero_shot_mixed_prompt_lists_match_one_by_one(tiny_vlms):
    import numpy as np

    from preattentive.evaluation.adapters import ClipAdapter

    clip, _ = tiny_vlms
    a = ClipAdapter(clip, name="tiny")
    ims = [np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8) for i in range(4)]
    prompts = [["a red dot", "blue dots"], ["no", "blue dots"], ["no", "yes", "a red dot"], ["a red dot", "blue dots"]]
    batched = a.zero_shot(ims, prompts)
    single = [a.zero_shot([im], [p])[0] for im, p in zip(ims, prompts)]
    assert [len(p) for p in batched] == [2, 2, 3, 2]
    assert all(np.allclose(x, y, atol=1e-5) for x, y in zip(batched, single))
