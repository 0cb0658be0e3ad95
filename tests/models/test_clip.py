"""CLIP adapter: presets, tokenizer/EOS pooling, save → load, zero-shot, features, clean loading errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from preattentive.models.clip import Clip, build_clip, list_presets, load_clip
from preattentive.models.vlm_common import ModelNotFoundError


def test_presets_registered_and_tiny_size():
    assert {"clip-tiny-v1", "clip-tiny-v2", "clip-micro-v1"} <= set(list_presets())
    clip = build_clip("clip-tiny", texts=["a red circle left of a blue square"])
    n = sum(p.numel() for p in clip.model.parameters())
    assert 1_500_000 < n < 2_000_000, n  # the "≈1.8 M parameters" class
    cfg = clip.model.config
    assert (cfg.vision_config.image_size, cfg.vision_config.patch_size, cfg.vision_config.hidden_size) == (64, 8, 128)
    assert cfg.vision_config.num_hidden_layers == cfg.text_config.num_hidden_layers == 4


def test_tokenizer_ids_match_config_and_pooling_uses_first_eos(tiny_clip):
    tok, tcfg = tiny_clip.tokenizer, tiny_clip.model.config.text_config
    assert (tcfg.bos_token_id, tcfg.eos_token_id, tcfg.pad_token_id) == (tok.bos_token_id, tok.eos_token_id,
                                                                         tok.pad_token_id)
    assert tcfg.eos_token_id != 2  # CLIP's legacy argmax pooling branch is for eos id 2
    ids = tiny_clip.tokens(["a red circle", "a green triangle above a red circle"])["input_ids"]
    assert (ids[:, 0] == tok.bos_token_id).all()
    assert ((ids == tok.eos_token_id).sum(1) == 1).all()  # EOS appended once, padding after it
    # pooled output is the final hidden state at the EOS position
    out = tiny_clip.model.text_model(**tiny_clip.tokens(["a red circle", "a green triangle above a red circle"]))
    eos = (ids == tok.eos_token_id).int().argmax(1)
    assert torch.allclose(out.pooler_output, out.last_hidden_state[torch.arange(2), eos])


def test_same_seed_same_weights_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_clip("clip-micro", texts=["a red circle"], seed=5)
    after = torch.rand(1)
    b = build_clip("clip-micro", texts=["a red circle"], seed=5)
    assert torch.equal(before, after)
    for (_, p), (_, q) in zip(a.model.named_parameters(), b.model.named_parameters()):
        assert torch.equal(p, q)


def test_save_load_offline_gives_identical_embeddings(tiny_clip, tiny_images, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny_clip.save(tmp_path / "clip")
    loaded = load_clip(tmp_path / "clip")
    assert torch.equal(loaded.encode_image(tiny_images), tiny_clip.encode_image(tiny_images))
    texts = ["a red circle", "a blue square left of a green triangle"]
    assert torch.allclose(loaded.encode_text(texts), tiny_clip.encode_text(texts), atol=1e-5)
    # plain transformers reads the directory too (tokenizer and processor saved beside the weights)
    from transformers import AutoProcessor, CLIPModel

    plain = CLIPModel.from_pretrained(tmp_path / "clip").state_dict()
    ours = tiny_clip.model.state_dict()
    assert plain.keys() == ours.keys() and all(torch.equal(plain[k], ours[k]) for k in ours)
    assert AutoProcessor.from_pretrained(tmp_path / "clip").tokenizer("a red circle")["input_ids"][-1] == \
        tiny_clip.tokenizer.eos_token_id


def test_zero_shot_shared_and_per_image_prompts_agree(tiny_clip, tiny_images):
    prompts = ["a red circle", "a blue square", "a green triangle"]
    p = tiny_clip.zero_shot(tiny_images, prompts)
    q = tiny_clip.zero_shot(tiny_images, [prompts] * len(tiny_images))
    assert p.shape == (4, 3) and np.allclose(p.sum(1), 1.0, atol=1e-5)
    assert np.allclose(p, q, atol=1e-5)
    with pytest.raises(ValueError, match="lengths"):
        tiny_clip.zero_shot(tiny_images[:2], [prompts, prompts[:2]])


def test_fast_pixels_match_the_processor(tiny_clip, tiny_images):
    fast = tiny_clip.pixel_values(tiny_images)
    slow = tiny_clip.processor.image_processor(images=tiny_images, return_tensors="pt")["pixel_values"]
    assert torch.allclose(fast, slow, atol=1e-5)
    big = [np.zeros((96, 80, 3), np.uint8)]  # other sizes go through the processor (resize + centre crop)
    assert tiny_clip.pixel_values(big).shape == (1, 3, 64, 64)


def test_features_are_patch_grids(tiny_clip, tiny_images):
    assert tiny_clip.layer_names == ["embeddings", "layers.0", "layers.1"]
    f = tiny_clip.features(tiny_images, layers=["layers.1"])
    assert set(f.maps) == {"layers.1"} and f.maps["layers.1"].shape == (4, 32, 8, 8)
    assert f.cls["layers.1"].shape == (4, 32) and f.image_embeds.shape == (4, 32)
    hidden = tiny_clip.model.vision_model(pixel_values=tiny_clip.pixel_values(tiny_images),
                                          output_hidden_states=True).hidden_states[2]
    # patch (row 1, col 2) of the 8 x 8 grid is token 1 + 1 * 8 + 2 (after CLS)
    assert torch.allclose(f.maps["layers.1"][:, :, 1, 2], hidden[:, 1 + 8 + 2], atol=1e-6)
    assert torch.allclose(f.image_embeds, tiny_clip.encode_image(tiny_images), atol=1e-5)
    with pytest.raises(ValueError, match="unknown layer 'layer9'"):
        tiny_clip.features(tiny_images, layers=["layer9"])


def test_bad_images_are_rejected(tiny_clip):
    with pytest.raises(ValueError, match="expected uint8"):
        tiny_clip.encode_image([np.zeros((32, 32, 3), np.float32)])


def test_missing_model_is_one_clean_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as e:
        load_clip("openai/clip-vit-base-patch32")
    msg = str(e.value)
    assert "\n" not in msg and "openai/clip-vit-base-patch32" in msg and "cache" in msg
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        load_clip(tmp_path)  # an existing directory without a model
    with pytest.raises(ModelNotFoundError, match="looked in"):
        load_clip(tmp_path / "nope")


def test_run_directory_resolves_to_its_model(tiny_clip, tmp_path):
    tiny_clip.save(tmp_path / "run" / "model")
    (tmp_path / "run" / "run.json").write_text('{"kind": "clip", "model_dir": "model"}')
    loaded = load_clip(tmp_path / "run")
    assert isinstance(loaded, Clip)
    texts = ["a red circle"]  # the run's own weights, not some other model's
    assert torch.allclose(loaded.encode_text(texts), tiny_clip.encode_text(texts), atol=1e-5)


def test_sincos_positions_code_rows_and_columns_separately():
    from preattentive.models.clip import sincos_2d

    pe = sincos_2d(8, 32).view(8, 8, 32)  # (row, col, dim)
    rows, cols = pe[..., :16], pe[..., 16:]
    assert torch.allclose(rows, rows[:, :1].expand_as(rows))  # the first half depends on the row only
    assert torch.allclose(cols, cols[:1].expand_as(cols))  # the second half on the column only
    assert torch.equal(rows[:, 0], cols[0])  # the same code for row k and column k
    flat = pe.view(64, 32)
    assert torch.cdist(flat, flat).fill_diagonal_(1.0).min() > 0.1  # every patch position distinct
    with pytest.raises(ValueError, match="multiple of 4"):
        sincos_2d(8, 30)


def test_sincos_preset_fixes_positions_and_saves_them(tiny_images, tmp_path):
    clip = build_clip("clip-micro", texts=["a red circle"], seed=0, pos_embed="sincos2d")
    from preattentive.models.clip import sincos_2d

    emb = clip.model.vision_model.embeddings.position_embedding.weight
    assert not emb.requires_grad and torch.equal(emb[1:], sincos_2d(8, 32)) and not emb[0].any()
    assert build_clip("clip-tiny", texts=["a red circle"]).model.vision_model.embeddings.position_embedding.weight[
        1:].allclose(sincos_2d(8, 128))  # clip-tiny resolves to v2
    clip.save(tmp_path / "c")
    assert torch.equal(load_clip(tmp_path / "c").encode_image(tiny_images), clip.encode_image(tiny_images))
    with pytest.raises(ValueError, match="pos_embed"):
        build_clip("clip-micro", texts=["a red circle"], pos_embed="rope")


def test_zero_shot_encodes_each_distinct_prompt_once(tiny_clip, tiny_images):
    """Per-image prompt lists repeat a few sentences; each is encoded once and the scores are unchanged."""
    from preattentive.models.vlm_common import encode_unique

    seen = []

    def encode(texts):
        seen.append(list(texts))
        return tiny_clip.encode_text(texts)

    texts = ["a red circle", "a blue square", "a red circle", "a red circle"]
    z = encode_unique(encode, texts)
    assert seen == [["a red circle", "a blue square"]] and z.shape[0] == 4
    assert torch.equal(z[0], z[2]) and torch.allclose(z, tiny_clip.encode_text(texts), atol=1e-6)
    prompts = [["a red circle", "a blue square"]] * len(tiny_images)
    p = tiny_clip.zero_shot(tiny_images, prompts)
    each = np.concatenate([tiny_clip.zero_shot([im], ps) for im, ps in zip(tiny_images, prompts)])
    np.testing.assert_allclose(p, each, atol=1e-6)
