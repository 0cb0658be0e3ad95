"""CLIP contrastive and two-stage LLaVA training: losses fall, run layout, resume, budgets, data streams."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from preattentive.training.clip import clip_loss, clip_step_loss, train_clip
from preattentive.training.vlm_data import QAStream, SceneCaptions, normalize_answer

SMALL: dict = {}  # scenes at their default 64 px, the micro presets' input size


def _metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_clip_loss_is_infonce_and_handles_duplicate_captions():
    logits = torch.randn(4, 4)
    eye = torch.eye(4, dtype=torch.bool)
    labels = torch.arange(4)
    want = (torch.nn.functional.cross_entropy(logits, labels) + torch.nn.functional.cross_entropy(logits.T, labels)) / 2
    assert torch.allclose(clip_loss(logits, eye), want)
    same = eye.clone()
    same[0, 1] = same[1, 0] = True  # captions 0 and 1 are equal: both are right for images 0 and 1
    assert clip_loss(logits, same) != clip_loss(logits, eye)


def test_hard_negative_batches_bring_each_scene_its_relation_twins():
    data = SceneCaptions(SMALL, seed=0)
    n = 16
    images, captions = data.batch(0, n, hard_negatives=True, twins=("swap", "transpose", "swap+transpose"))
    assert len(images) == len(captions)
    other = {"left of": "above", "above": "left of"}
    train = set(data.classes) - set(data.test_classes)
    rest, dropped = list(captions[n:]), 0
    for kind in range(3):
        for k, a in enumerate(captions[:n]):
            x, rel, y = _split(a)
            # swapped (NegCLIP word order), the other relation, both: all four relations of the same two objects
            want = [f"{y} {rel} {x}", f"{x} {other[rel]} {y}", f"{y} {other[rel]} {x}"][kind]
            if want not in train:  # a transposed twin can land in a held-out swap pair: left out
                dropped += 1
                continue
            assert rest.pop(0) == want
    assert not rest and len(captions) == 4 * n - dropped
    assert kind == 2 and 0 < dropped < 2 * n  # swap twins are always kept; some transposed ones are not
    assert not np.array_equal(images[0], images[n])
    assert set(captions) <= train  # training never reads a test caption
    _, test_caps = data.test_set(8)
    assert set(test_caps) <= set(data.test_classes)


def _split(caption):
    for rel in ("left of", "above"):
        if f" {rel} " in caption:
            a, b = caption.split(f" {rel} ")
            return a, rel, b
    raise AssertionError(caption)


def test_clip_loss_falls_on_a_fixed_batch():
    from preattentive.models.clip import build_clip

    data = SceneCaptions(SMALL, seed=0)
    clip = build_clip("clip-micro", texts=data.texts(), seed=0)
    images, captions = data.batch(0, 8, hard_negatives=True)
    pv, tok = clip.pixel_values(images), clip.tokens(captions)
    opt = torch.optim.AdamW(clip.model.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        loss = clip_step_loss(clip.model, pv, tok, captions)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-3:]) < 0.9 * np.mean(losses[:3]), losses


def test_train_clip_run_layout_resume_and_zero_shot_beats_chance(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    scenes = {**SMALL, "n_objects": 1}  # 9 one-object caption classes: colour x shape
    run = train_clip(preset="clip-micro", scenes=scenes, holdout_fraction=0.5, batch_size=32,
                     hard_negatives=False, steps=60, minutes=None, lr=2e-3, warmup_steps=5, eval_every=0,
                     eval_n=32, out=tmp_path / "clip")
    record = json.loads((run / "run.json").read_text())
    assert record["kind"] == "clip" and record["status"] == "done" and record["steps"] == 60
    assert record["config"]["preset"] == "clip-micro-v1" and record["task"]["family"] == "scenes-v1"
    rows = _metrics(run)
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 61))
    from preattentive.models.clip import load_clip
    from preattentive.stimuli import make

    clip = load_clip(run)  # the run directory resolves to run/model
    gen = make("scenes", seed=7, split="train", question="caption", **scenes)
    trials = list(gen.trials(90))
    classes = sorted({c for c in SceneCaptions(scenes, holdout_fraction=0.5, seed=0).classes})
    p = clip.zero_shot([t.image for t in trials], classes)
    acc = float(np.mean([classes[k] == t.meta["caption"] for k, t in zip(p.argmax(1), trials)]))
    assert acc > 2.5 / len(classes), acc  # chance is 1/9
    with pytest.raises(FileExistsError):
        train_clip(preset="clip-micro", scenes=scenes, holdout_fraction=0.5, steps=2, minutes=None, out=run)
    again = train_clip(preset="clip-micro", scenes=scenes, holdout_fraction=0.5, batch_size=32,
                       hard_negatives=False, steps=64, minutes=None, lr=2e-3, warmup_steps=5, eval_every=0,
                       eval_n=32, out=run, resume=True)
    steps = [r["step"] for r in _metrics(again) if "loss" in r]
    assert steps[-4:] == [61, 62, 63, 64] and json.loads((run / "run.json").read_text())["steps"] == 64


def test_clip_time_budget_stops_early(tmp_path):
    run = train_clip(preset="clip-micro", scenes=SMALL, batch_size=8, steps=10_000, minutes=1e-4, clock="wall",
                     eval_every=0, eval_n=8, out=tmp_path / "c")
    assert json.loads((run / "run.json").read_text())["steps"] < 10


def test_qa_stream_mixes_families():
    qa = QAStream(SMALL, other_fraction=0.25, seed=0)
    images, questions, answers = qa.qa_batch_fn(8)(0)
    assert len(images) == len(questions) == len(answers) == 8
    if qa.others:  # every other registered family that generates contributes its own questions
        assert len(set(questions[6:]) - set(qa.qa_batch_fn(8)(0)[1][:6])) >= 1
    imgs, qs, caps = qa.caption_batch_fn(4)(3)
    assert qs == ["describe the image."] * 4 and all(" " in c for c in caps)
    assert normalize_answer(" Left of. ") == "left of"


def test_train_overrides_change_the_training_scenes_only():
    qa = QAStream(SMALL, other_fraction=0.0, seed=0, train_overrides={"mix_levels": True})
    assert qa.questions.params.mix_levels and qa.captions.params.mix_levels
    sizes = {qa.questions.trial(i).difficulty["obj_size"] for i in range(400)}
    assert len(sizes) > 1  # the ladder's rungs, not one object size
    assert not QAStream(SMALL, other_fraction=0.0, seed=0).questions.params.mix_levels  # `overrides` alone: as before


def test_llava_two_stages_each_lower_the_loss(tmp_path, monkeypatch):
    from preattentive.models.clip import build_clip
    from preattentive.models.llava import load_llava
    from preattentive.training.llava import train_llava

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = SceneCaptions(SMALL, seed=0)
    build_clip("clip-micro", texts=data.texts(), seed=0).save(tmp_path / "clip")
    run = train_llava(vision=str(tmp_path / "clip"), preset="llava-micro", scenes=SMALL, other_fraction=0.0,
                      batch_size=16, stage1_steps=25, stage2_steps=25, stage1_minutes=None, stage2_minutes=None,
                      stage1_lr=1e-2, stage2_lr=1e-2, warmup_steps=3, eval_n=16, max_new_tokens=8,
                      out=tmp_path / "llava")
    record = json.loads((run / "run.json").read_text())
    assert record["kind"] == "llava" and record["status"] == "done" and "acc" in record["metrics"]
    assert record["config"]["preset"] == "llava-micro-v1"  # the version trained, not the alias
    s1, s2 = record["stages"]
    projector = sum(p.numel() for p in load_llava(run).model.model.multi_modal_projector.parameters())
    assert s1["trainable"] == projector < s2["trainable"]  # stage 1: projector only; stage 2: + the LM
    for s in (s1, s2):
        assert s["loss_last10"] < s["loss_first10"], s


def test_qa_mix_gives_each_question_type_its_share_of_training_classes():
    from preattentive.stimuli.scenes import caption_classes, caption_split
    from preattentive.training.vlm_data import mix_counts

    assert mix_counts({"a": 1, "b": 1}, 3) in ({"a": 2, "b": 1}, {"a": 1, "b": 2})
    assert mix_counts({"count": 3, "relation": 1}, 8) == {"count": 6, "relation": 2}
    qa = QAStream(SMALL, other_fraction=0.0, seed=0, qa_mix={"count": 3, "relation": 1})
    _, questions, answers = qa.qa_batch_fn(8)(5)
    assert sum(q.startswith("how many") for q in questions) == 6
    assert sum(q.startswith("where") for q in questions) == 2
    assert set(answers) <= {"zero", "one", "left of", "right of", "above", "below"}
    assert qa.qa_batch_fn(8)(5)[1] == questions and qa.qa_batch_fn(8)(6)[1] != questions  # item = f(seed, step)
    train, _ = caption_split(caption_classes(qa.questions.params), 0.25, 0)
    assert all(qa.by_type["count"].trial(i).meta["caption"] in train for i in range(40))
    with pytest.raises(ValueError, match="qa_mix"):
        QAStream(SMALL, other_fraction=0.0, qa_mix={"colour": 1, "size": 1})


def test_stage1_lm_trains_the_language_model_with_the_projector():
    from preattentive.models.clip import build_clip
    from preattentive.models.llava import build_llava
    from preattentive.training.llava import LlavaTrainConfig, _trainable

    clip = build_clip("clip-micro", texts=["a red circle"], seed=0)
    llava = build_llava("llava-micro", vision=clip, texts=["describe the image. a red circle"], seed=0)
    projector = sum(p.numel() for p in llava.model.model.multi_modal_projector.parameters())
    stage2 = sum(p.numel() for p in _trainable(llava, 2, True))
    assert sum(p.numel() for p in _trainable(llava, 1, True)) == projector < stage2
    assert sum(p.numel() for p in _trainable(llava, 1, True, stage1_lm=True)) == stage2
    with pytest.raises(ValueError, match="qa_mix"):
        LlavaTrainConfig(qa_mix={"colour": -1})


def test_train_llava_cli_rejects_a_pool_that_does_not_fit_before_writing(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from preattentive.cli import app
    from preattentive.models.clip import build_clip

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    build_clip("clip-micro", texts=["a red circle"], seed=0).save(tmp_path / "clip")
    res = CliRunner().invoke(app, ["train", "llava", "--vision", str(tmp_path / "clip"), "--pool", "3",
                                   "--out", str(tmp_path / "run")])
    assert res.exit_code == 2, res.output
    assert "pool=3: expected a divisor of the tower's 8 x 8 patch grid" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "run").exists()


def test_unknown_presets_fail_before_a_run_is_written(tmp_path):
    from preattentive.registry import UnknownIdError
    from preattentive.training.llava import train_llava

    with pytest.raises(UnknownIdError, match="clip-huge"):
        train_clip(preset="clip-huge", out=tmp_path / "clip")
    with pytest.raises(UnknownIdError, match="llava-huge"):
        train_llava(preset="llava-huge", out=tmp_path / "llava")
    assert not (tmp_path / "clip").exists() and not (tmp_path / "llava").exists()
