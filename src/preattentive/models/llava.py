"""LLaVA over Hugging Face ``LlavaForConditionalGeneration`` / ``LlavaNextForConditionalGeneration``.

Liu et al. 2023 (NeurIPS, LLaVA v1): CLIP's penultimate-layer patch tokens (``vision_feature_layer=-2``, CLS
dropped: the ``default`` select strategy) → a projection W into the LM's token space → a causal language model
that answers one token at a time. v1 used a single linear W (``projector="linear"``, provided here because HF's
built-in projector is v1.5's two-layer MLP); v1.5 (Liu et al. 2024, CVPR) uses ``mlp2x_gelu``. LLaVA-NeXT
(``llava-next-*`` presets) splits larger images into a grid of tower-sized tiles (AnyRes grid pinpoints).

Options of a preset (and of ``build_llava``): ``feature_layer`` (which tower layer), ``select_strategy``
(``"default"``: patch tokens only, the paper; ``"full"``: the CLS token first, as HF allows), ``pool`` (k x k
average pooling of the patch grid before the projector: k² fewer image tokens, the processor's count follows).
``llava-tiny-v1`` is the paper's layer -2 / default; ``llava-tiny`` (= v2) reads the last layer with its CLS token.

:class:`Llava` holds the model with its processor and answers questions with :meth:`Llava.generate` (greedy,
KV cache, left padding so that a batch gives the answers of batch size 1).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from preattentive.models.hf_vlm import Vlm
from preattentive.models.vlm_common import as_image_list, fast_pixels, locate, resolve_device, resolve_dtype, seeded
from preattentive.registry import Registry

# llava-1.5's conversation format ("USER: <image>\n... ASSISTANT:"), as a Jinja chat template so that
# `processor.apply_chat_template` gives the same prompt string as `Llava.prompt`. Content may also be a plain
# string ("<image>\nquestion", as lmms-eval's llava_hf passes it to the tokenizer): the same prompt results.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: {% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<image>\n"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{% if message['role'] == 'user' %} {% else %}{{ eos_token }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}")
PROJECTORS = ("linear", "mlp2x_gelu")


@dataclass(frozen=True)
class LlavaPreset:
    """A language model built from scratch (``LlamaConfig``) and how it meets the vision tower."""

    hidden: int = 128  # LM width
    layers: int = 4  # decoder blocks
    heads: int = 4  # attention heads
    kv_heads: int = 4  # key/value heads (grouped-query attention when < heads)
    intermediate: int = 512  # SwiGLU hidden size
    max_positions: int = 256  # tokens: image tokens (64 for a 64 px / patch 8 tower) + prompt + answer
    projector: str = "mlp2x_gelu"  # "linear" (LLaVA v1) or "mlp2x_gelu" (v1.5)
    grid_pinpoints: tuple[tuple[int, int], ...] | None = None  # AnyRes (h, w) px grids; set → LLaVA-NeXT
    feature_layer: int = -2  # tower layer whose patch tokens the LM reads (-2: the paper's penultimate layer)
    select_strategy: str = "default"  # "default": patch tokens only (the paper); "full": the CLS token too
    pool: int = 1  # average-pool the patch grid k x k before the projector (k² fewer image tokens); 1 = off

    def __post_init__(self) -> None:
        if self.projector not in PROJECTORS:
            raise ValueError(f"projector={self.projector!r}: expected one of {', '.join(PROJECTORS)}")
        if not (isinstance(self.pool, int) and self.pool >= 1):
            raise ValueError(f"pool={self.pool!r}: expected a whole number >= 1 (1 = no pooling)")
        if self.select_strategy not in ("default", "full"):
            raise ValueError(f"select_strategy={self.select_strategy!r}: expected 'default' or 'full'")
        if self.grid_pinpoints and (self.pool > 1 or self.select_strategy != "default"):
            raise ValueError(f"pool={self.pool}, select_strategy={self.select_strategy!r} with grid_pinpoints: "
                             "pooling and the CLS token are for single-tile LLaVA only")

    def text_config(self, vocab_size: int, bos: int, eos: int, pad: int) -> Any:
        from transformers import LlamaConfig

        return LlamaConfig(vocab_size=vocab_size, hidden_size=self.hidden, intermediate_size=self.intermediate,
                           num_hidden_layers=self.layers, num_attention_heads=self.heads,
                           num_key_value_heads=self.kv_heads, max_position_embeddings=self.max_positions,
                           bos_token_id=bos, eos_token_id=eos, pad_token_id=pad, tie_word_embeddings=False)


PRESETS: Registry[LlavaPreset] = Registry("LLaVA preset", factory=lambda p, **kw: dataclasses.replace(p, **kw))
PRESETS.register("llava-tiny-v1", LlavaPreset())  # ≈1.1 M trainable parameters (projector + LM); the paper's
# v2 (``llava-tiny`` resolves to it): the LM also reads the tower's CLS token, from the last layer, whose output is
# CLIP's image embedding. A from-scratch LM at this size does not learn to bind colour, shape and position from
# patch tokens alone in 5 CPU-minutes (v1: 0.70-0.88 held-out, relation direction at chance on some seeds);
# with the CLS token 0.95 / 0.96 in the benchmark (seeds 0 / 1). docs/results.md, "Issue 3".
PRESETS.register("llava-tiny-v2", LlavaPreset(select_strategy="full", feature_layer=-1))
PRESETS.register("llava-micro-v1", LlavaPreset(hidden=32, layers=2, heads=2, kv_heads=2, intermediate=64))  # tests
# AnyRes: up to 2 x 2 tiles of 64 px plus the base image → up to 5 x 64 image tokens (+ newline tokens)
PRESETS.register("llava-next-tiny-v1", LlavaPreset(max_positions=640,
                                                   grid_pinpoints=((64, 64), (64, 128), (128, 64), (128, 128))))


def list_presets() -> list[str]:
    """Registered LLaVA presets, e.g. ``["llava-micro-v1", "llava-next-tiny-v1", "llava-tiny-v1"]``."""
    return PRESETS.list()


# --------------------------------------------------------------------------------------------- projectors
def _pool_grid(features: "torch.Tensor", k: int) -> "torch.Tensor":  # noqa: F821
    """(B, g*g, D) patch tokens in raster order -> (B, (g/k)², D): k x k average pooling of the patch grid.
    A leading CLS token (``full`` strategy: 1 + g*g tokens) is passed through unpooled."""
    import torch
    import torch.nn.functional as F

    b, n, d = features.shape
    g = int(n ** 0.5)
    head, patches = (features[:, :0], features) if g * g == n else (features[:, :1], features[:, 1:])
    grid = patches.transpose(1, 2).reshape(b, d, g, g)
    return torch.cat([head, F.avg_pool2d(grid, k).flatten(2).transpose(1, 2)], dim=1)


def _projector_class(kind: str, pool: int) -> type:
    """The projector module: v1's single matrix W (``linear``) or HF's v1.5 MLP, pooling the grid first."""
    import torch
    from transformers.models.llava.modeling_llava import LlavaMultiModalProjector

    if kind == "linear":
        class Projector(torch.nn.Module):
            """LLaVA v1's projection: one matrix W from vision width to LM width (Liu et al. 2023, eq. 1)."""

            def __init__(self, config: Any) -> None:
                super().__init__()
                n = 1 if isinstance(config.vision_feature_layer, int) else len(config.vision_feature_layer)
                self.linear_1 = torch.nn.Linear(config.vision_config.hidden_size * n,
                                                config.text_config.hidden_size, bias=config.multimodal_projector_bias)

            def forward(self, image_features: torch.Tensor) -> torch.Tensor:
                x = image_features if pool == 1 else _pool_grid(image_features, pool)
                return self.linear_1(x)  # (B, N, D_lm)
    else:
        class Projector(LlavaMultiModalProjector):  # type: ignore[no-redef]
            """LLaVA v1.5's two-layer GELU MLP (HF's own), on the k x k pooled patch grid."""

            def forward(self, image_features: torch.Tensor) -> torch.Tensor:
                return super().forward(_pool_grid(image_features, pool))

    return Projector


def model_class(config: Any) -> type:
    """The model class for ``config``: HF's own for the v1.5 MLP projector, a subclass swapping in W for v1
    (``projector_type="linear"``) or a pooling projector (``projector_pool`` > 1)."""
    from transformers import LlavaForConditionalGeneration, LlavaNextForConditionalGeneration

    base = LlavaNextForConditionalGeneration if config.model_type == "llava_next" else LlavaForConditionalGeneration
    kind, pool = getattr(config, "projector_type", "mlp2x_gelu"), int(getattr(config, "projector_pool", 1))
    if kind != "linear" and pool == 1:
        return base
    projector = _projector_class(kind, pool)

    class CustomLlava(base):  # type: ignore[misc, valid-type]
        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.model.multi_modal_projector = projector(config)

    name = ("Linear" if kind == "linear" else "") + (f"Pool{pool}" if pool > 1 else "") + base.__name__
    CustomLlava.__name__ = CustomLlava.__qualname__ = name
    return CustomLlava


# --------------------------------------------------------------------------------------------- wrapper
@dataclass
class LlavaBatch:
    """Model inputs for a batch; ``labels`` is -100 except on answer tokens (and their EOS)."""

    inputs: dict[str, "torch.Tensor"]  # input_ids, attention_mask, pixel_values (+ image_sizes for NeXT)  # noqa: F821
    labels: "torch.Tensor | None" = None  # (B, T) int64  # noqa: F821


class Llava(Vlm):
    """A LLaVA model with its processor; images are uint8 ``(H, W, 3)`` arrays. Prompting, generation, choice
    scoring and features are :class:`~preattentive.models.hf_vlm.Vlm`'s; this adds training batches and the loss."""

    @property
    def is_next(self) -> bool:
        return self.model.config.model_type == "llava_next"

    def encode(self, images: list[np.ndarray], prompts: list[str], padding_side: str) -> dict[str, Any]:
        """Processor outputs; the fast path skips PIL when the images already have the tower's size.

        The fast path expands each ``<image>`` by the processor's own count for the pixels it made
        (``replace_image_token``: patches, plus CLS unless the ``default`` strategy drops it), never by
        ``config.image_seq_length``, whose default (576, a 336 px / patch-14 tower) is wrong for other towers.
        """
        cfg = self.model.config
        pix = None if self.is_next else fast_pixels(self.processor.image_processor, images,
                                                    cfg.vision_config.image_size)
        if pix is None or not hasattr(self.processor, "replace_image_token"):
            return super().encode(images, prompts, padding_side)
        token = self.processor.image_token
        expanded = self.processor.replace_image_token({"pixel_values": pix.numpy()}, 0)  # same size: same count
        texts = [t.replace(token, expanded) for t in prompts]  # what LlavaProcessor does, minus PIL
        enc = self.tokenizer(texts, padding=True, padding_side=padding_side, return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "pixel_values": pix}

    def batch(self, images: Any, questions: Sequence[str], answers: Sequence[str] | None = None) -> LlavaBatch:
        """Inputs for generation (left-padded), or for training when ``answers`` is given (labels on answers only)."""
        import torch

        ims, qs = as_image_list(images), list(questions)
        if len(ims) != len(qs):
            raise ValueError(f"{len(ims)} images but {len(qs)} questions: expected one question per image")
        prompts = [self.prompt(q) for q in qs]
        if answers is None:
            return LlavaBatch(self._to_device(self.encode(ims, prompts, "left")))
        if len(answers) != len(qs):
            raise ValueError(f"{len(qs)} questions but {len(answers)} answers")
        enc = self.encode(ims, prompts, "right")
        tok = self.tokenizer
        ans = tok([" " + a for a in answers], add_special_tokens=False)["input_ids"]
        rows, lab = [], []
        for ids, mask, a in zip(enc["input_ids"], enc["attention_mask"], ans):
            p = ids[mask.bool()].tolist()  # the prompt without padding
            rows.append(p + a + [tok.eos_token_id])
            lab.append([-100] * len(p) + a + [tok.eos_token_id])  # loss on the answer and its EOS only
        t = max(map(len, rows))
        ids = torch.full((len(rows), t), tok.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), t), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), t), dtype=torch.long)
        for i, (r, lb) in enumerate(zip(rows, lab)):
            ids[i, :len(r)], labels[i, :len(lb)], mask[i, :len(r)] = torch.tensor(r), torch.tensor(lb), 1
        inputs = {**{k: v for k, v in enc.items() if k not in ("input_ids", "attention_mask")},
                  "input_ids": ids, "attention_mask": mask}
        return LlavaBatch(self._to_device(inputs), labels.to(self.device))

    def loss(self, batch: LlavaBatch, *, per: str = "token") -> "torch.Tensor":  # noqa: F821
        """Cross-entropy on the answer tokens of a training batch: the mean over all answer tokens (``"token"``,
        HF's loss) or over samples of each sample's mean (``"sample"``: a one-word answer weighs as much as a
        ten-word caption)."""
        import torch.nn.functional as F

        if per == "token":
            return self.model(**batch.inputs, labels=batch.labels).loss
        if per != "sample":
            raise ValueError(f"per={per!r}: expected 'token' or 'sample'")
        logits = self.model(**batch.inputs).logits[:, :-1].float()  # (B, T-1, V) predicts tokens 1..T-1
        labels = batch.labels[:, 1:]  # (B, T-1)
        nll = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="none")  # (B, T-1)
        n = (labels != -100).sum(1).clamp(min=1)
        return (nll.sum(1) / n).mean()


# --------------------------------------------------------------------------------------------- building
def check_pool(pool: int, vision_config: Any) -> int:
    """The tower's patch-grid side; a ``pool`` that does not divide it is a one-line ValueError."""
    grid = int(vision_config.image_size) // int(vision_config.patch_size)
    if grid % pool:
        raise ValueError(f"pool={pool}: expected a divisor of the tower's {grid} x {grid} patch grid")
    return grid


def make_processor(tokenizer: Any, vision_config: Any, grid_pinpoints: Any = None, *, pool: int = 1,
                   select_strategy: str = "default") -> Any:
    """A Llava(Next)Processor whose image-token count matches the tower (patch size, CLS dropped); with a
    ``pool`` x ``pool`` pooling projector each image token covers ``pool`` patches a side, so the processor's
    ``patch_size`` is ``pool`` times the tower's."""
    from transformers import CLIPImageProcessorPil, LlavaNextImageProcessorPil, LlavaNextProcessor, LlavaProcessor

    s, kw = int(vision_config.image_size), dict(patch_size=int(vision_config.patch_size) * pool,
                                                 vision_feature_select_strategy=select_strategy,
                                                 num_additional_image_tokens=1, chat_template=CHAT_TEMPLATE)
    sizes = {"size": {"shortest_edge": s}, "crop_size": {"height": s, "width": s}}
    if grid_pinpoints:
        ip = LlavaNextImageProcessorPil(**sizes, image_grid_pinpoints=[list(g) for g in grid_pinpoints])
        return LlavaNextProcessor(image_processor=ip, tokenizer=tokenizer, **kw)
    return LlavaProcessor(image_processor=CLIPImageProcessorPil(**sizes), tokenizer=tokenizer, **kw)


def build_llava(preset: str = "llava-tiny", *, vision: Any, texts: Iterable[str], lm: str | None = None,
                seed: int = 0, **overrides: Any) -> Llava:
    """A LLaVA whose vision tower is copied from a CLIP and whose LM is new (or loaded from ``lm``).

    Parameters
    ----------
    preset : a registered preset id (:func:`list_presets`); overrides such as ``projector="linear"`` apply.
    vision : a :class:`~preattentive.models.clip.Clip`, or anything :func:`~preattentive.models.clip.load_clip`
        accepts (a run directory, a saved directory, a hub id).
    texts : sentences whose words form the new LM's vocabulary (questions, answers, captions).
    lm : an HF causal-LM directory or id to use instead of a new ``LlamaConfig`` decoder (its tokenizer gains
        ``<image>``; ``texts`` is then unused).
    seed : initialisation seed for the new parts (global RNG untouched).

    Example
    -------
    >>> llava = build_llava("llava-tiny", vision=clip, texts=["what colour is the circle ?", "red"])  # doctest: +SKIP
    """
    from transformers import LlavaConfig, LlavaNextConfig

    from preattentive.models.clip import Clip, load_clip
    from preattentive.models.tokenizer import IMAGE, build_tokenizer

    p: LlavaPreset = PRESETS.make(preset, **overrides)
    clip = vision if isinstance(vision, Clip) else load_clip(vision)
    vcfg = clip.model.config.vision_config
    lm_model = None
    if lm is None:
        words = ["USER: ASSISTANT:", *texts]
        tok = build_tokenizer(words, append_eos=False, model_max_length=p.max_positions)
        tcfg = p.text_config(len(tok), tok.bos_token_id, tok.eos_token_id, tok.pad_token_id)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        where = locate(lm, "language model")
        tok = AutoTokenizer.from_pretrained(where)
        tok.add_special_tokens({"additional_special_tokens": [IMAGE]})
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        lm_model = AutoModelForCausalLM.from_pretrained(where)
        lm_model.resize_token_embeddings(len(tok))
        tcfg = lm_model.config
    n_tokens = (check_pool(p.pool, vcfg) // p.pool) ** 2 + (p.select_strategy == "full")  # (pooled) patches [+ CLS]
    vdict = {k: v for k, v in vcfg.to_dict().items() if k not in ("dtype", "torch_dtype")}  # dtype: set below
    common = dict(vision_config=vdict, text_config=tcfg.to_dict(), image_token_index=tok.convert_tokens_to_ids(IMAGE),
                  image_seq_length=n_tokens, vision_feature_layer=p.feature_layer,
                  vision_feature_select_strategy=p.select_strategy, projector_type=p.projector, projector_pool=p.pool)
    if p.grid_pinpoints:
        config = LlavaNextConfig(**common, image_grid_pinpoints=[list(g) for g in p.grid_pinpoints])
    else:
        config = LlavaConfig(**common)
    with seeded(seed):
        model = model_class(config)(config)
    model.model.vision_tower.load_state_dict(clip.model.vision_model.state_dict())
    if lm_model is not None:
        model.model.language_model.load_state_dict(lm_model.model.state_dict())
        model.lm_head.load_state_dict(lm_model.lm_head.state_dict())
    processor = make_processor(tok, vcfg, p.grid_pinpoints, pool=p.pool, select_strategy=p.select_strategy)
    return Llava(model.to(clip.device, clip.dtype), processor)  # a bf16 tower gives a bf16 LLaVA, fp32 → fp32


def load_llava(id_or_dir: str | os.PathLike, dtype: Any = None, device: Any = None) -> Llava:
    """Load a LLaVA / LLaVA-NeXT from a saved or run directory or a hub id (e.g. ``llava-hf/llava-1.5-7b-hf``).

    ``dtype`` ``None``/``"auto"`` gives bfloat16 on a GPU that supports it, float32 otherwise. Offline, missing
    weights raise :class:`~preattentive.models.vlm_common.ModelNotFoundError` naming where they were looked for.

    Example
    -------
    >>> llava = load_llava("runs/llava-tiny")  # doctest: +SKIP
    >>> llava.generate([image], ["what colour is the circle?"])  # doctest: +SKIP
    """
    from transformers import AutoConfig

    from preattentive.models.vlm_common import load_processor, model_type_of

    dev = resolve_device(device)  # device and dtype first: a bad one fails before any loading
    dt = resolve_dtype(dtype, dev)
    where = locate(id_or_dir, "LLaVA")
    mt = model_type_of(where)
    if mt not in ("llava", "llava_next"):
        raise ValueError(f"LLaVA {str(id_or_dir)!r}: model_type {mt!r}, expected 'llava' or 'llava_next' "
                         "(any image-text-to-text model loads with preattentive.models.hf_vlm.load_vlm)")
    config = AutoConfig.from_pretrained(where)
    model = model_class(config).from_pretrained(where, dtype=dt).to(dev)
    return Llava(model, load_processor(where, mt))
