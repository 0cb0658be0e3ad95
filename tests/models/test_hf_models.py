"""The generic Hugging Face wrappers on tiny hub-format checkpoints of every architecture (random weights,
offline): forward, generation, batch 1 = batch 8, choice likelihood, features; SigLIP's own scale and bias."""

import numpy as np
import pytest
import torch

VLMS = ["llava", "llava_next", "llava_onevision", "qwen2_vl", "qwen2_5_vl", "idefics3", "smolvlm", "paligemma"]
# what each architecture's prompt must contain: its hub chat template's markers (PaliGemma: its task prefix)
MARKERS = {"llava": "USER: <image>\n", "llava_next": "[INST] <image>\n", "llava_onevision": "<|im_start|>user <image>",
           "qwen2_vl": "<|vision_start|><|image_pad|><|vision_end|>", "qwen2_5_vl": "<|im_start|>assistant\n",
           "idefics3": "User:<image>", "smolvlm": "<|im_start|>User:<image>", "paligemma": "answer en "}
CHOICES = [["no", "yes"], ["red", "green", "blue"], ["2", "3", "4", "5"], ["left", "right"]] * 2


def images(n, size=64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


@pytest.mark.parametrize("arch", VLMS)
def test_vlm_api(arch, hub_checkpoint):
    from preattentive.models.hf_vlm import load_vlm

    vlm = load_vlm(hub_checkpoint(arch))
    assert vlm.model_type == arch and MARKERS[arch] in vlm.prompt("Is it red?")
    assert vlm.prompt_format.startswith("known format" if arch == "paligemma" else "processor chat template")
    ims, qs = images(8), [f"Question {i}?" for i in range(8)]
    one = [vlm.generate([im], [q], max_new_tokens=3)[0] for im, q in zip(ims, qs)]
    assert vlm.generate(ims, qs, max_new_tokens=3) == one  # left padding done right
    s1 = [vlm.score_choices([im], [q], [c])[0] for im, q, c in zip(ims, qs, CHOICES)]
    s8 = vlm.score_choices(ims, qs, CHOICES, batch_size=8)
    assert [len(s) for s in s8] == [len(c) for c in CHOICES]
    assert all(np.allclose(a, b, atol=1e-4) for a, b in zip(s1, s8))
    assert [int(np.argmax(a)) for a in s1] == [int(np.argmax(b)) for b in s8]
    assert all((s < 0).all() for s in s8)  # log-probabilities
    total = vlm.score_choices(ims[:2], qs[:2], CHOICES[:2], reduce="sum")
    assert all((t <= m + 1e-6).all() for t, m in zip(total, s8[:2]))  # a sum of <= 0 terms is <= their mean
    f = vlm.features(ims[:3], layers=["lm.0", vlm.layer_names[-1]])
    (b, n, d), = {tuple(v.shape) for v in f.values()}
    assert (b, d) == (3, 32) and n > 0 and not torch.equal(f["lm.0"], f[vlm.layer_names[-1]])


def test_choice_score_is_the_models_own_log_probability(hub_checkpoint):
    """An independent check of the scoring: the log-probability of 'yes' after the prompt, from one plain
    forward pass of prompt + ' yes' (no padding), equals score_choices' sum for that choice."""
    from preattentive.models.hf_vlm import load_vlm

    vlm = load_vlm(hub_checkpoint("llava"))
    im, q = images(1)[0], "Is it red?"
    prompt = vlm.prompt(q)
    enc = vlm.processor(images=[im], text=[prompt + " yes"], return_tensors="pt")
    n_prompt = vlm.processor(images=[im], text=[prompt], return_tensors="pt")["input_ids"].shape[1]
    with torch.no_grad():
        logp = torch.log_softmax(vlm.model(**enc).logits[0].float(), -1)
    ids = enc["input_ids"][0]
    want = sum(float(logp[t - 1, ids[t]]) for t in range(n_prompt, len(ids)))
    got = vlm.score_choices([im], [q], [["yes", "no"]], reduce="sum")[0][0]
    assert got == pytest.approx(want, abs=1e-4)


@pytest.mark.parametrize("arch", ["clip", "siglip", "siglip2"])
def test_contrastive_scores_are_the_checkpoints_own(arch, hub_checkpoint):
    """zero_shot = softmax (CLIP) / sigmoid (SigLIP) of transformers' own logits_per_image, which carry the
    checkpoint's logit scale (and SigLIP's bias: the tiny checkpoints set scale e^2, bias -3)."""
    from preattentive.models.hf_contrastive import load_contrastive

    m = load_contrastive(hub_checkpoint(arch))
    ims, prompts = images(8), ["a red dot", "two blue squares", "a green circle"]
    p = m.zero_shot(ims, prompts)
    with torch.no_grad():  # transformers' own forward on the same inputs
        logits = m.model(**m.image_inputs(ims), **m.tokens(prompts)).logits_per_image.float()  # (8, 3)
    want = logits.softmax(-1) if arch == "clip" else logits.sigmoid()
    assert np.allclose(p, want.numpy(), atol=1e-5)
    if arch != "clip":
        assert float(m.model.logit_bias) == pytest.approx(-3.0) and not np.allclose(p.sum(1), 1.0)
    single = np.concatenate([m.zero_shot([im], prompts) for im in ims])
    assert np.allclose(single, p, atol=1e-5)  # batch 1 = batch 8
    f = m.features(ims[:2], layers=["layers.1"])
    assert tuple(f.maps["layers.1"].shape) == (2, 32, 4, 4)  # 32 px / patch 8; CLS (CLIP only) dropped
    assert ("layers.1" in f.cls) == (arch == "clip")


@pytest.mark.parametrize("arch,layer,shape,dropped", [
    ("dinov2", "layers.1", (32, 4, 4), 1), ("dinov2_with_registers", "layers.1", (32, 4, 4), 5),
    ("vit", "layers.0", (32, 4, 4), 1), ("convnext", "stages.3", (64, 1, 1), 0),
    ("resnet", "stages.1", (16, 4, 4), 0), ("swin", "stages.0", (16, 4, 4), 0)])
def test_vision_backbone_maps_and_geometry(arch, layer, shape, dropped, hub_checkpoint):
    from preattentive.models.hf_vision import load_vision

    vb = load_vision(hub_checkpoint(arch))
    ims = images(8)
    f = vb.features(ims)
    assert list(f) == vb.layer_names and tuple(f[layer].shape) == (8, *shape)
    one = vb.features(ims[:1], layers=[layer])[layer]
    assert torch.allclose(one, f[layer][:1], atol=1e-5)  # batch 1 = batch 8
    g = vb.geometry
    assert g.model_type == arch and g.input_size == (32, 32) and g.dropped_tokens == dropped
    assert g.grids[layer] == shape[1:] and g.strides[layer] == (32 / shape[1], 32 / shape[2])
    y0, x0, y1, x1 = g.stimulus_box((64, 64))
    if arch in ("dinov2", "dinov2_with_registers", "convnext", "resnet"):  # resize, then centre crop
        assert 0 < y0 == x0 and y1 == x1 == pytest.approx(64 - y0)
    else:
        assert (y0, x0, y1, x1) == (0, 0, 64, 64)


def test_dinov2_tokens_land_on_their_patch(hub_checkpoint):
    """Control: the embeddings map is the patch embedding of each 8 x 8 patch, in raster order — a patch whose
    pixels change changes only its own map cell (position embeddings are added equally)."""
    from preattentive.models.hf_vision import load_vision

    vb = load_vision(hub_checkpoint("dinov2"))
    vb.image_processor.do_resize = vb.image_processor.do_center_crop = False  # 32 px in = 32 px seen
    a = np.full((32, 32, 3), 128, np.uint8)
    b = a.copy()
    b[8:16, 16:24] = 255  # patch (row 1, col 2)
    fa, fb = (vb.features([x], layers=["embeddings"])["embeddings"][0] for x in (a, b))
    changed = (fa - fb).abs().sum(0) > 1e-6  # (4, 4)
    assert changed.nonzero().tolist() == [[1, 2]]
