"""LLaVA adapter: projectors, processor/config consistency, labels, left-padded batched generation, LLaVA-NeXT,
``ask``, offline loading and the clean missing-model error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from preattentive.models.llava import build_llava, list_presets, load_llava
from preattentive.models.vlm_common import ModelNotFoundError

QUESTIONS = ["what color is the circle ?", "where is the red circle relative to the blue square ?",
             "how many ?", "what color is the circle left of the blue square ?"]


def test_presets():
    assert {"llava-tiny-v1", "llava-micro-v1", "llava-next-tiny-v1"} <= set(list_presets())
    with pytest.raises(ValueError, match="projector='mlp3'"):
        build_llava("llava-micro", vision=None, texts=[], projector="mlp3")


@pytest.mark.parametrize("projector", ["linear", "mlp2x_gelu"])
def test_both_projectors_train_and_round_trip(tiny_clip, tiny_texts, tiny_images, projector, tmp_path, monkeypatch):
    llava = build_llava("llava-micro", vision=tiny_clip, texts=tiny_texts, projector=projector)
    proj = llava.model.model.multi_modal_projector
    linears = [m for m in proj.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == (1 if projector == "linear" else 2)  # v1: one W; v1.5: two layers with GELU
    assert linears[0].in_features == 32 and linears[-1].out_features == 32
    cfg = llava.model.config
    assert (cfg.vision_feature_layer, cfg.vision_feature_select_strategy) == (-2, "default")
    # the tower is the CLIP's vision model, weight for weight
    for (k, v), (k2, v2) in zip(llava.model.model.vision_tower.state_dict().items(),
                                tiny_clip.model.vision_model.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    b = llava.batch(tiny_images[:2], QUESTIONS[:2], ["red", "left of"])
    loss = llava.loss(b)
    loss.backward()
    assert torch.isfinite(loss) and linears[0].weight.grad is not None
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    llava.save(tmp_path / projector)
    again = load_llava(tmp_path / projector)
    assert type(again.model.model.multi_modal_projector).__name__ == type(proj).__name__
    with torch.no_grad():
        assert torch.allclose(again.loss(b), llava.loss(b), atol=1e-6)


@pytest.mark.parametrize("projector", ["linear", "mlp2x_gelu"])
def test_pooled_projector_reads_a_coarser_grid(tiny_clip, tiny_texts, tiny_images, projector, tmp_path, monkeypatch):
    llava = build_llava("llava-micro", vision=tiny_clip, texts=tiny_texts, projector=projector, pool=2,
                        feature_layer=-1)
    cfg = llava.model.config
    assert (cfg.image_seq_length, cfg.vision_feature_layer, llava.processor.patch_size) == (16, -1, 16)
    prompt = llava.prompt(QUESTIONS[0])
    enc = llava.processor(images=tiny_images[:1], text=[prompt], return_tensors="pt")
    assert int((enc["input_ids"] == cfg.image_token_id).sum()) == 16  # the processor follows the pooled grid
    pix = llava.batch(tiny_images[:1], QUESTIONS[:1]).inputs["pixel_values"]
    with torch.no_grad():  # the projector sees the 8 x 8 grid's 2 x 2 means, in raster order
        feats = llava.model.model.vision_tower(pix, output_hidden_states=True).hidden_states[-1][:, 1:]
        grid = feats.reshape(1, 8, 8, -1)
        want = grid.reshape(1, 4, 2, 4, 2, -1).mean((2, 4)).reshape(1, 16, -1)
        proj = llava.model.model.multi_modal_projector
        got = proj(feats)
        assert got.shape == (1, 16, 32)
        assert torch.allclose(got, type(proj).__mro__[1].forward(proj, want) if projector != "linear"
                              else proj.linear_1(want), atol=1e-5)
    b = llava.batch(tiny_images[:2], QUESTIONS[:2], ["red", "left of"])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    llava.save(tmp_path / "pooled")
    again = load_llava(tmp_path / "pooled")
    assert again.model.config.projector_pool == 2
    with torch.no_grad():
        assert torch.allclose(again.loss(b), llava.loss(b), atol=1e-6)
    assert again.generate(tiny_images[:2], QUESTIONS[:2], max_new_tokens=3) == \
        llava.generate(tiny_images[:2], QUESTIONS[:2], max_new_tokens=3)


def test_bad_pooling_is_a_clear_error(tiny_clip, tiny_texts):
    with pytest.raises(ValueError, match="pool=3: expected a divisor"):
        build_llava("llava-micro", vision=tiny_clip, texts=tiny_texts, pool=3)
    with pytest.raises(ValueError, match="pool=0"):
        build_llava("llava-micro", vision=tiny_clip, texts=tiny_texts, pool=0)
    with pytest.raises(ValueError, match="single-tile"):
        build_llava("llava-next-tiny", vision=tiny_clip, texts=tiny_texts, pool=2)
    with pytest.raises(ValueError, match="select_strategy='cls'"):
        build_llava("llava-micro", vision=tiny_clip, texts=tiny_texts, select_strategy="cls")


@pytest.mark.parametrize("pool", [1, 2])
def test_full_strategy_adds_the_cls_token(tiny_clip, tiny_texts, tiny_images, pool, tmp_path, monkeypatch):
    llava = build_llava("llava-micro", vision=tiny_clip, texts=tiny_texts, pool=pool, select_strategy="full",
                        feature_layer=-1)
    cfg, n = llava.model.config, (8 // pool) ** 2 + 1
    assert (cfg.image_seq_length, cfg.vision_feature_select_strategy) == (n, "full")
    enc = llava.processor(images=tiny_images[:1], text=[llava.prompt(QUESTIONS[0])], return_tensors="pt")
    assert int((enc["input_ids"] == cfg.image_token_id).sum()) == n
    pix = llava.batch(tiny_images[:1], QUESTIONS[:1]).inputs["pixel_values"]
    with torch.no_grad():
        feats = llava.model.model.get_image_features(pixel_values=pix)
        feats = feats.pooler_output if hasattr(feats, "pooler_output") else feats
        tokens = torch.cat(list(feats)) if isinstance(feats, (list, tuple)) else feats.reshape(-1, 32)
        assert tokens.shape == (n, 32)
        cls = llava.model.model.vision_tower(pix, output_hidden_states=True).hidden_states[-1][:, :1]
        assert torch.allclose(tokens[:1], llava.model.model.multi_modal_projector(
            torch.cat([cls, cls.new_zeros(1, 64, cls.shape[-1])], 1))[0, :1], atol=1e-5)  # CLS first, unpooled
    b = llava.batch(tiny_images[:2], QUESTIONS[:2], ["red", "left of"])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    llava.save(tmp_path / "full")
    again = load_llava(tmp_path / "full")
    with torch.no_grad():
        assert torch.allclose(again.loss(b), llava.loss(b), atol=1e-6)


def test_processor_matches_config(tiny_llava, tiny_images):
    cfg = tiny_llava.model.config
    assert cfg.image_seq_length == (64 // 8) ** 2  # patches, CLS dropped by the "default" strategy
    assert tiny_llava.processor.patch_size == cfg.vision_config.patch_size
    prompt = tiny_llava.prompt("what color is the circle ?")
    assert prompt == "USER: <image>\nwhat color is the circle ? ASSISTANT:"
    enc = tiny_llava.processor(images=tiny_images[:1], text=[prompt], return_tensors="pt")
    assert int((enc["input_ids"] == cfg.image_token_id).sum()) == cfg.image_seq_length
    fast = tiny_llava.batch(tiny_images[:1], ["what color is the circle ?"]).inputs
    assert torch.equal(fast["input_ids"], enc["input_ids"])
    assert torch.allclose(fast["pixel_values"], enc["pixel_values"], atol=1e-5)


def test_labels_cover_answer_tokens_only(tiny_llava, tiny_images):
    b = tiny_llava.batch(tiny_images[:2], QUESTIONS[:2], ["red", "left of"])
    tok = tiny_llava.tokenizer
    for row, want in zip(b.labels, ["red", "left of"]):
        kept = row[row != -100].tolist()
        assert kept == tok(" " + want, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert (b.labels[b.inputs["attention_mask"] == 0] == -100).all()


def test_loss_per_token_or_per_sample(tiny_llava, tiny_images):
    answers = ["red", "a red circle left of a blue square"]  # 1 and 8 answer words
    b = tiny_llava.batch(tiny_images[:2], QUESTIONS[:2], answers)
    with torch.no_grad():
        token, sample = tiny_llava.loss(b), tiny_llava.loss(b, per="sample")
        ones = [tiny_llava.loss(tiny_llava.batch(tiny_images[i:i + 1], QUESTIONS[i:i + 1], answers[i:i + 1]))
                for i in range(2)]
    assert torch.allclose(sample, (ones[0] + ones[1]) / 2, atol=1e-5)  # each sample's mean, then the mean
    assert not torch.allclose(token, sample)
    with pytest.raises(ValueError, match="per="):
        tiny_llava.loss(b, per="batch")


def test_batched_generation_with_left_padding_equals_batch_of_one(tiny_llava, tiny_images):
    b = tiny_llava.batch(tiny_images, QUESTIONS)
    assert (b.inputs["attention_mask"][:, 0] == 0).any()  # the questions differ in length: left padding used
    together = tiny_llava.generate(tiny_images, QUESTIONS, max_new_tokens=6)
    alone = [tiny_llava.generate([im], [q], max_new_tokens=6)[0] for im, q in zip(tiny_images, QUESTIONS)]
    assert together == alone
    assert any(together)  # random weights still emit tokens: the comparison is not between empty strings


def test_ask_cli_agrees_with_generate(tiny_llava, tiny_images, tmp_path):
    import cv2
    from typer.testing import CliRunner

    from preattentive.cli import app

    tiny_llava.save(tmp_path / "m")
    cv2.imwrite(str(tmp_path / "x.png"), cv2.cvtColor(tiny_images[0], cv2.COLOR_RGB2BGR))
    res = CliRunner().invoke(app, ["ask", str(tmp_path / "m"), str(tmp_path / "x.png"), QUESTIONS[1],
                                   "--max-new-tokens", "6"])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == tiny_llava.generate(tiny_images[:1], QUESTIONS[1:2],
                                                                       max_new_tokens=6)[0]
    bad = CliRunner().invoke(app, ["ask", str(tmp_path / "none"), str(tmp_path / "x.png"), "q"])
    assert bad.exit_code == 2 and "error:" in bad.output and "Traceback" not in bad.output


def test_llava_next_anyres_forward_and_generate(tiny_clip, tiny_texts):
    llava = build_llava("llava-next-tiny", vision=tiny_clip, texts=tiny_texts, hidden=32, layers=2, heads=2,
                        kv_heads=2, intermediate=64)
    assert type(llava.model).__name__ == "LlavaNextForConditionalGeneration"
    rng = np.random.default_rng(1)
    ims = [rng.integers(0, 256, s, dtype=np.uint8) for s in [(64, 64, 3), (128, 96, 3), (80, 128, 3)]]
    b = llava.batch(ims, QUESTIONS[:3], ["red", "left of", "one"])
    assert b.inputs["pixel_values"].shape[1] > 1  # base image + AnyRes tiles
    assert torch.isfinite(llava.loss(b))
    together = llava.generate(ims, QUESTIONS[:3], max_new_tokens=4)
    assert together == [llava.generate([im], [q], max_new_tokens=4)[0] for im, q in zip(ims, QUESTIONS[:3])]


def test_offline_load_and_missing_model_error(tiny_llava, tiny_images, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny_llava.save(tmp_path / "m")
    again = load_llava(tmp_path / "m", dtype="float32", device="cpu")
    assert again.generate(tiny_images[:2], QUESTIONS[:2], max_new_tokens=4) == \
        tiny_llava.generate(tiny_images[:2], QUESTIONS[:2], max_new_tokens=4)
    with pytest.raises(ModelNotFoundError) as e:
        load_llava("llava-hf/llava-1.5-7b-hf")
    assert "\n" not in str(e.value) and "llava-hf/llava-1.5-7b-hf" in str(e.value)
    with pytest.raises(ValueError, match="dtype='fp8'"):
        load_llava(tmp_path / "m", dtype="fp8")


def test_language_model_from_a_causal_lm_directory(tiny_clip, tiny_images, tmp_path, monkeypatch):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    words = ["<unk>", "<s>", "</s>", "what", "color", "red", "?", "user", ":", "assistant"]
    raw = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    lm = LlamaForCausalLM(LlamaConfig(vocab_size=len(words), hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
    lm.save_pretrained(tmp_path / "lm")
    tok.save_pretrained(tmp_path / "lm")
    llava = build_llava("llava-micro", vision=tiny_clip, texts=[], lm=str(tmp_path / "lm"))
    assert llava.tokenizer.convert_tokens_to_ids("<image>") == len(words)  # added as a special token
    assert llava.model.config.text_config.vocab_size >= len(words) + 1
    head = llava.model.lm_head.weight[: len(words)]
    assert torch.equal(head, lm.lm_head.weight[: len(words)])  # the LM's own weights, not a new decoder
    assert len(llava.generate(tiny_images[:2], ["what color ?", "what ?"], max_new_tokens=3)) == 2
