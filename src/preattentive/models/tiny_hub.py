"""Tiny random-weight checkpoints in each architecture's Hugging Face hub layout (for tests and examples, offline).

:func:`save_tiny` builds a model from its transformers config class with a few thousand parameters, the
architecture's own tokenizer class (a character-level vocabulary in the hub's format: byte-level BPE for Qwen2,
SentencePiece-style BPE with byte fallback for Llama / Gemma, CLIP's ``</w>`` BPE), the processor the hub
checkpoint ships (patch size, image-token counts, the chat template of the public checkpoint), and
``save_pretrained`` s everything into one directory — what ``hf download`` would leave, at a size that loads in
well under a second. Nothing is downloaded.

The chat templates below are those of the public checkpoints named next to them (transcribed; the
``{% generation %}`` training markers left out), so prompts built here have the hub's format.

Example
-------
>>> d = save_tiny("llava", "/tmp/tiny-llava")  # doctest: +SKIP
>>> # preattentive eval --model hf-vlm:/tmp/tiny-llava --suite quick --n 2 --out /tmp/study
"""

from __future__ import annotations

import os
import string
from pathlib import Path
from typing import Any, Callable

from preattentive.models.vlm_common import _without_video, seeded

# llava-hf/llava-1.5-7b-hf
LLAVA_15_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}"
    "{% endfor %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}")
# llava-hf/llava-v1.6-mistral-7b-hf
LLAVA_NEXT_MISTRAL_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' }}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    "{{' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'][0]['text'] + '</s> '}}"
    "{% endif %}{% endfor %}")
# llava-hf/llava-onevision-qwen2-0.5b-ov-hf
ONEVISION_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + ' '}}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\n' + content['text'] }}"
    "{% endfor %}{{'<|im_end|>'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
# Qwen/Qwen2-VL-2B-Instruct (and Qwen2.5-VL)
QWEN2_VL_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "{% set image_count.value = image_count.value + 1 %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
# HuggingFaceM4/Idefics3-8B-Llama3 (SmolVLM's differs only in the leading token)
IDEFICS3_TEMPLATE = (
    "<|begin_of_text|>{% for message in messages %}{{message['role'].capitalize()}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}")
SMOLVLM_TEMPLATE = "<|im_start|>" + IDEFICS3_TEMPLATE[len("<|begin_of_text|>"):]

_LM = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
           max_position_embeddings=2048)  # tiny decoder; 2048 positions hold any prompt here
_CLIP_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
_CHARS = string.ascii_letters + string.digits + string.punctuation


# --------------------------------------------------------------------------------------------- tokenizers
def _byte_alphabet() -> list[str]:
    from tokenizers.pre_tokenizers import ByteLevel

    return sorted(ByteLevel.alphabet())


def _tokenizer(style: str, specials: list[str], extra: list[str] = ()) -> Any:
    """The architecture's tokenizer class over a character-level vocabulary in its hub format.

    ``style``: ``"llama"`` / ``"gemma"`` (SentencePiece-style BPE, byte fallback), ``"qwen2"`` (byte-level BPE),
    ``"clip"`` (CLIP's BPE with ``</w>`` word ends). ``specials``: the special tokens the class names (unk, bos,
    eos, pad ... in the class's order); ``extra``: added special tokens (image tokens, chat markers).
    """
    import transformers as T

    vocab: dict[str, int] = {}
    for t in specials:
        vocab.setdefault(t, len(vocab))
    if style in ("llama", "gemma"):
        for b in range(256):
            vocab.setdefault(f"<0x{b:02X}>", len(vocab))
        for c in ["▁", *_CHARS]:
            vocab.setdefault(c, len(vocab))
    elif style == "qwen2":
        for c in _byte_alphabet():
            vocab.setdefault(c, len(vocab))
    elif style == "clip":
        for c in _CHARS.lower():
            vocab.setdefault(c, len(vocab))
            vocab.setdefault(c + "</w>", len(vocab))
    else:
        raise ValueError(f"tokenizer style {style!r}: expected llama, gemma, qwen2 or clip")
    if style == "llama":
        tok = T.LlamaTokenizer(vocab=vocab, merges=[], unk_token=specials[0], bos_token=specials[1],
                               eos_token=specials[2])
        tok.pad_token = tok.unk_token  # llava-hf checkpoints pad with <unk>... the tokenizer config sets it
    elif style == "gemma":
        tok = T.GemmaTokenizer(vocab=vocab, merges=[])
    elif style == "qwen2":
        tok = T.Qwen2Tokenizer(vocab=vocab, merges=[], unk_token=None, eos_token=specials[0], pad_token=specials[0])
    else:
        tok = T.CLIPTokenizer(vocab=vocab, merges=[])
    if extra:
        tok.add_special_tokens({"additional_special_tokens": list(extra)})
    return tok


def _lm_config(cls: str, tok: Any, **kw: Any) -> Any:
    import transformers as T

    ids = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return getattr(T, cls)(vocab_size=len(tok), **_LM, **{k: v for k, v in ids.items() if v is not None}, **kw)


def _with_template(processor: Any, template: str | None, where: str) -> Any:
    """Put the chat template where a checkpoint keeps it: ``"processor"`` (chat_template.jinja), ``"tokenizer"``
    (tokenizer_config.json only, as older snapshots) or ``"none"``."""
    if where == "processor":
        processor.chat_template = template
        processor.tokenizer.chat_template = None
    elif where == "tokenizer":
        processor.chat_template = None
        processor.tokenizer.chat_template = template
    elif where == "none":
        processor.chat_template = None
        processor.tokenizer.chat_template = None
    else:
        raise ValueError(f"chat template location {where!r}: expected processor, tokenizer or none")
    return processor


# --------------------------------------------------------------------------------------------- VLMs
def _llava(image_size: int = 32, **_: Any) -> tuple[Any, Any, str]:
    import transformers as T

    tok = _tokenizer("llama", ["<unk>", "<s>", "</s>"], ["<image>"])
    vision = T.CLIPVisionConfig(**_CLIP_VISION, image_size=image_size, patch_size=8)
    n = (image_size // 8) ** 2  # patch tokens; the CLS token is dropped ("default" strategy)
    cfg = T.LlavaConfig(vision_config=vision.to_dict(), text_config=_lm_config("LlamaConfig", tok).to_dict(),
                        image_token_index=tok.convert_tokens_to_ids("<image>"), image_seq_length=n,
                        vision_feature_layer=-2, vision_feature_select_strategy="default")
    ip = T.CLIPImageProcessorPil(size={"shortest_edge": image_size}, crop_size={"height": image_size,
                                                                                  "width": image_size})
    proc = T.LlavaProcessor(image_processor=ip, tokenizer=tok, patch_size=8, vision_feature_select_strategy="default",
                            num_additional_image_tokens=1)
    return T.LlavaForConditionalGeneration(cfg), proc, LLAVA_15_TEMPLATE


def _llava_next(image_size: int = 32, **_: Any) -> tuple[Any, Any, str]:
    import transformers as T

    tok = _tokenizer("llama", ["<unk>", "<s>", "</s>"], ["<image>"])
    s = image_size
    pins = [[s, s], [s, 2 * s], [2 * s, s], [2 * s, 2 * s]]  # AnyRes grids, as the hub's 336 px x {1,2,3}
    vision = T.CLIPVisionConfig(**_CLIP_VISION, image_size=s, patch_size=8)
    cfg = T.LlavaNextConfig(vision_config=vision.to_dict(), text_config=_lm_config("MistralConfig", tok).to_dict(),
                            image_token_index=tok.convert_tokens_to_ids("<image>"), image_grid_pinpoints=pins,
                            vision_feature_layer=-2, vision_feature_select_strategy="default")
    ip = T.LlavaNextImageProcessorPil(size={"shortest_edge": s}, crop_size={"height": s, "width": s},
                                      image_grid_pinpoints=pins)
    proc = T.LlavaNextProcessor(image_processor=ip, tokenizer=tok, patch_size=8,
                                vision_feature_select_strategy="default", num_additional_image_tokens=1)
    return T.LlavaNextForConditionalGeneration(cfg), proc, LLAVA_NEXT_MISTRAL_TEMPLATE


def _onevision(image_size: int = 32, **_: Any) -> tuple[Any, Any, str]:
    import transformers as T

    tok = _tokenizer("qwen2", ["<|endoftext|>"], ["<|im_start|>", "<|im_end|>", "<image>", "<video>"])
    s = image_size
    pins = [[s, s], [s, 2 * s], [2 * s, s], [2 * s, 2 * s]]
    vision = T.SiglipVisionConfig(**_CLIP_VISION, image_size=s, patch_size=8)
    cfg = T.LlavaOnevisionConfig(vision_config=vision.to_dict(), text_config=_lm_config("Qwen2Config", tok).to_dict(),
                                 image_token_index=tok.convert_tokens_to_ids("<image>"),
                                 video_token_index=tok.convert_tokens_to_ids("<video>"), image_grid_pinpoints=pins,
                                 vision_feature_layer=-1, vision_feature_select_strategy="full")
    ip = T.LlavaOnevisionImageProcessorPil(size={"height": s, "width": s}, image_grid_pinpoints=pins)
    proc = _without_video(T.LlavaOnevisionProcessor)(image_processor=ip, tokenizer=tok, num_image_tokens=(s // 8) ** 2,
                                     vision_feature_select_strategy="full", vision_aspect_ratio="anyres_max_9")
    return T.LlavaOnevisionForConditionalGeneration(cfg), proc, ONEVISION_TEMPLATE


def _qwen2_vl(image_size: int = 32, *, version: str = "2", **_: Any) -> tuple[Any, Any, str]:
    import transformers as T

    tok = _tokenizer("qwen2", ["<|endoftext|>"], ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                                                  "<|image_pad|>", "<|video_pad|>"])
    ids = {k: tok.convert_tokens_to_ids(v) for k, v in dict(
        image_token_id="<|image_pad|>", video_token_id="<|video_pad|>", vision_start_token_id="<|vision_start|>",
        vision_end_token_id="<|vision_end|>").items()}
    # 2-D/temporal rotary sections must sum to head_dim / 2 = 8 for a 32-wide, 2-head LM
    text = _lm_config("Qwen2VLTextConfig" if version == "2" else "Qwen2_5_VLTextConfig", tok,
                      rope_parameters={"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 1e6})
    if version == "2":
        vision = dict(depth=2, embed_dim=32, hidden_size=32, num_heads=2, mlp_ratio=2, patch_size=8,
                      spatial_merge_size=2, temporal_patch_size=2)
        cfg = T.Qwen2VLConfig(text_config=text.to_dict(), vision_config=vision, **ids)
        model = T.Qwen2VLForConditionalGeneration(cfg)
    else:
        vision = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32, patch_size=8,
                      spatial_merge_size=2, temporal_patch_size=2, window_size=32, fullatt_block_indexes=[1])
        cfg = T.Qwen2_5_VLConfig(text_config=text.to_dict(), vision_config=vision, **ids)
        model = T.Qwen2_5_VLForConditionalGeneration(cfg)
    # min/max pixels bound the dynamic resolution: a 32 px image -> a 4 x 4 patch grid -> 4 merged tokens
    ip = T.Qwen2VLImageProcessorPil(patch_size=8, merge_size=2, temporal_patch_size=2,
                                    size={"shortest_edge": 16 * 16, "longest_edge": 64 * 64})
    proc = _without_video(T.Qwen2VLProcessor)(image_processor=ip, tokenizer=tok)  # no torchvision here
    return model, proc, QWEN2_VL_TEMPLATE


def _idefics3(image_size: int = 32, *, smol: bool = False, **_: Any) -> tuple[Any, Any, str]:
    import transformers as T

    rows = [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    begin = "<|im_start|>" if smol else "<|begin_of_text|>"
    tok = _tokenizer("llama", ["<unk>", begin, "<end_of_utterance>"],
                     ["<fake_token_around_image>", "<image>", "<global-img>", *rows])
    tok.pad_token = tok.unk_token
    vision = T.Idefics3VisionConfig(**_CLIP_VISION, image_size=image_size, patch_size=8)
    # scale_factor 2: pixel shuffle merges 2 x 2 patches -> (32/8)^2 / 4 = 4 image tokens per tile
    common = dict(vision_config=vision.to_dict(), text_config=_lm_config("LlamaConfig", tok).to_dict(),
                  image_token_id=tok.convert_tokens_to_ids("<image>"), scale_factor=2)
    seq = (image_size // 8) ** 2 // 4
    size = {"longest_edge": image_size}
    kw = dict(do_image_splitting=False, size=size, max_image_size={"longest_edge": image_size})
    if smol:
        model = T.SmolVLMForConditionalGeneration(T.SmolVLMConfig(**common))
        ip = T.SmolVLMImageProcessorPil(**kw)
        proc = _without_video(T.SmolVLMProcessor)(image_processor=ip, tokenizer=tok, video_processor=None,
                                                 image_seq_len=seq)
        return model, proc, SMOLVLM_TEMPLATE
    model = T.Idefics3ForConditionalGeneration(T.Idefics3Config(**common))
    proc = T.Idefics3Processor(image_processor=T.Idefics3ImageProcessorPil(**kw), tokenizer=tok, image_seq_len=seq)
    return model, proc, IDEFICS3_TEMPLATE


def _paligemma(image_size: int = 32, **_: Any) -> tuple[Any, Any, None]:
    import transformers as T

    tok = _tokenizer("gemma", ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"])
    vision = T.SiglipVisionConfig(**_CLIP_VISION, image_size=image_size, patch_size=8)
    n = (image_size // 8) ** 2
    ip = T.SiglipImageProcessorPil(size={"height": image_size, "width": image_size})
    ip.image_seq_length = n  # what the hub's preprocessor_config.json carries
    proc = T.PaliGemmaProcessor(image_processor=ip, tokenizer=tok)  # adds <image>, <loc....>, <seg...> tokens
    text = _lm_config("GemmaConfig", tok, head_dim=16)
    cfg = T.PaliGemmaConfig(vision_config=vision.to_dict(), text_config=text.to_dict(),
                            image_token_index=tok.convert_tokens_to_ids("<image>"), projection_dim=32,
                            hidden_size=32)
    cfg.vision_config.projection_dim = 32
    return T.PaliGemmaForConditionalGeneration(cfg), proc, None  # PaliGemma has no chat template: a prefix LM


# --------------------------------------------------------------------------------------------- contrastive
def _clip(image_size: int = 32, **_: Any) -> tuple[Any, Any, None]:
    import transformers as T

    tok = _tokenizer("clip", ["<|startoftext|>", "<|endoftext|>"])
    text = T.CLIPTextConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                            num_attention_heads=2, max_position_embeddings=77, bos_token_id=tok.bos_token_id,
                            eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, projection_dim=16)
    vision = T.CLIPVisionConfig(**_CLIP_VISION, image_size=image_size, patch_size=8, projection_dim=16)
    cfg = T.CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16)
    ip = T.CLIPImageProcessorPil(size={"shortest_edge": image_size},
                                 crop_size={"height": image_size, "width": image_size})
    return T.CLIPModel(cfg), T.CLIPProcessor(image_processor=ip, tokenizer=tok), None


def _siglip(image_size: int = 32, *, version: int = 1, **_: Any) -> tuple[Any, Any, None]:
    import torch
    import transformers as T

    tok = _tokenizer("gemma", ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"])
    tok.padding_side = "right"  # SigLIP pads texts on the right to the full 64 tokens
    text = dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                max_position_embeddings=64, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                bos_token_id=tok.bos_token_id)
    if version == 1:
        cfg = T.SiglipConfig(text_config=text, vision_config=dict(**_CLIP_VISION, image_size=image_size,
                                                                   patch_size=8))
        model = T.SiglipModel(cfg)
        ip = T.SiglipImageProcessorPil(size={"height": image_size, "width": image_size})
        proc = T.SiglipProcessor(image_processor=ip, tokenizer=tok)
    else:
        cfg = T.Siglip2Config(text_config=text, vision_config=dict(**_CLIP_VISION, patch_size=8,
                                                                    num_patches=(image_size // 8) ** 2))
        model = T.Siglip2Model(cfg)
        ip = T.Siglip2ImageProcessorPil(patch_size=8, max_num_patches=(image_size // 8) ** 2)
        proc = T.Siglip2Processor(image_processor=ip, tokenizer=tok)
    with torch.no_grad():  # the checkpoint's own temperature and bias (SigLIP initialises log 10 and -10)
        model.logit_scale.fill_(2.0)
        model.logit_bias.fill_(-3.0)
    return model, proc, None


# --------------------------------------------------------------------------------------------- backbones
def _dinov2(image_size: int = 32, **_: Any) -> tuple[Any, Any, None]:
    import transformers as T

    cfg = T.Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2, patch_size=8,
                         image_size=image_size)
    # facebook/dinov2-*: resize the shortest edge to 256, centre-crop 224 (here scaled by image_size / 224)
    ip = T.BitImageProcessorPil(size={"shortest_edge": image_size * 8 // 7},
                                crop_size={"height": image_size, "width": image_size})
    return T.Dinov2Model(cfg), ip, None


def _dinov2_registers(image_size: int = 32, **_: Any) -> tuple[Any, Any, None]:
    import transformers as T

    cfg = T.Dinov2WithRegistersConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2,
                                      patch_size=8, image_size=image_size, num_register_tokens=4)
    ip = T.BitImageProcessorPil(size={"shortest_edge": image_size * 8 // 7},
                                crop_size={"height": image_size, "width": image_size})
    return T.Dinov2WithRegistersModel(cfg), ip, None


def _vit(image_size: int = 32, **_: Any) -> tuple[Any, Any, None]:
    import transformers as T

    cfg = T.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, patch_size=8,
                      image_size=image_size)
    return T.ViTModel(cfg), T.ViTImageProcessorPil(
        size={"height": image_size, "width": image_size}), None


def _convnext(image_size: int = 32, **_: Any) -> tuple[Any, Any, None]:
    import transformers as T

    cfg = T.ConvNextConfig(hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 1, 1], patch_size=4, image_size=image_size)
    # facebook/convnext-*-224: crop_pct 224/256 below 384 px (resize to size/crop_pct, centre crop)
    return T.ConvNextModel(cfg), T.ConvNextImageProcessorPil(size={"shortest_edge": image_size}), None


def _resnet(image_size: int = 32, **_: Any) -> tuple[Any, Any, None]:
    import transformers as T

    cfg = T.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 1, 1], layer_type="basic")
    return T.ResNetModel(cfg), T.ConvNextImageProcessorPil(size={"shortest_edge": image_size}), None


def _swin(image_size: int = 32, **_: Any) -> tuple[Any, Any, None]:
    import transformers as T

    cfg = T.SwinConfig(image_size=image_size, patch_size=4, embed_dim=8, depths=[1, 1], num_heads=[1, 2],
                       window_size=4)
    return T.SwinModel(cfg), T.ViTImageProcessorPil(size={"height": image_size, "width": image_size}), None


BUILDERS: dict[str, tuple[Callable[..., tuple[Any, Any, Any]], dict[str, Any]]] = {
    "llava": (_llava, {}), "llava_next": (_llava_next, {}), "llava_onevision": (_onevision, {}),
    "qwen2_vl": (_qwen2_vl, {"version": "2"}), "qwen2_5_vl": (_qwen2_vl, {"version": "2.5"}),
    "idefics3": (_idefics3, {}), "smolvlm": (_idefics3, {"smol": True}), "paligemma": (_paligemma, {}),
    "clip": (_clip, {}), "siglip": (_siglip, {"version": 1}), "siglip2": (_siglip, {"version": 2}),
    "dinov2": (_dinov2, {}), "dinov2_with_registers": (_dinov2_registers, {}), "vit": (_vit, {}),
    "convnext": (_convnext, {}), "resnet": (_resnet, {}), "swin": (_swin, {}),
}
ARCHITECTURES = tuple(BUILDERS)  # HF model_type of each buildable architecture


def save_tiny(arch: str, directory: str | os.PathLike, *, seed: int = 0, chat_template: str = "processor",
              image_size: int = 32, config: dict[str, Any] | None = None) -> Path:
    """Build a tiny random-weight ``arch`` checkpoint and ``save_pretrained`` it (model + processor) into
    ``directory``.

    Parameters
    ----------
    arch : an HF ``model_type`` in :data:`ARCHITECTURES`.
    directory : where to write (created).
    seed : weight-initialisation seed (the global torch RNG is left untouched).
    chat_template : where a VLM keeps its chat template: ``"processor"`` (as current hub snapshots),
        ``"tokenizer"`` (tokenizer_config.json only) or ``"none"``.
    image_size : the tower's input side, px.
    config : config attributes to set before saving (e.g. ``{"image_seq_length": 576}``).

    Example
    -------
    >>> d = save_tiny("dinov2", "/tmp/tiny-dinov2")  # doctest: +SKIP
    >>> sorted(p.name for p in d.iterdir())  # doctest: +SKIP
    ['config.json', 'model.safetensors', 'preprocessor_config.json']
    """
    if arch not in BUILDERS:
        raise ValueError(f"architecture {arch!r}: expected one of {', '.join(ARCHITECTURES)}")
    fn, kw = BUILDERS[arch]
    with seeded(seed):
        model, processor, template = fn(image_size, **kw)
    for k, v in (config or {}).items():
        setattr(model.config, k, v)
    if hasattr(processor, "tokenizer") and template is not None:
        _with_template(processor, template, chat_template)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    model.eval().save_pretrained(d)
    processor.save_pretrained(d)
    if hasattr(processor, "tokenizer") and template is not None and chat_template != "processor":
        _move_template(d, template if chat_template == "tokenizer" else None)
    return d


def _move_template(d: Path, template: str | None) -> None:
    """Lay the chat template out as older snapshots do: in ``tokenizer_config.json`` only (``template``), or
    nowhere (None). ``save_pretrained`` always writes it to ``chat_template.jinja``, which both read first."""
    import json

    for name in ("chat_template.jinja", "chat_template.json"):
        (d / name).unlink(missing_ok=True)
    cfg_path = d / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("chat_template", None)
    if template is not None:
        cfg["chat_template"] = template
    cfg_path.write_text(json.dumps(cfg, indent=2))
