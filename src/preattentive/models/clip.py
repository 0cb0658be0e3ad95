"""CLIP over Hugging Face ``CLIPModel``: tiny presets built from ``CLIPConfig``, loading, and a narrow interface.

Radford et al. 2021 (ICML): an image tower and a text tower map into one space; zero-shot classification picks the
class prompt nearest the image. :class:`Clip` wraps a ``CLIPModel`` and its processor with the methods the rest
of the toolkit uses: :meth:`Clip.encode_image`, :meth:`Clip.encode_text`, :meth:`Clip.zero_shot` and
:meth:`Clip.features` (per-layer patch tokens on their spatial grid, for in-silico physiology).

Example
-------
>>> clip = build_clip("clip-tiny", texts=["a red circle", "a blue square"])
>>> import numpy as np
>>> clip.zero_shot([np.zeros((64, 64, 3), np.uint8)], ["a red circle", "a blue square"]).shape
(1, 2)
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from preattentive.models.vlm_common import (ProcessorModel, as_image_list, encode_unique, fast_pixels, locate,
                                            resolve_device, resolve_dtype, seeded)
from preattentive.registry import Registry


POS_EMBEDS = ("learned", "sincos2d")


@dataclass(frozen=True)
class ClipPreset:
    """Architecture of a CLIP built from scratch (both towers share width, heads and MLP ratio)."""

    image_size: int = 64  # input side, px
    patch_size: int = 8  # ViT patch side, px (64 px / 8 → an 8 x 8 token grid)
    width: int = 128  # hidden size of both towers
    vision_layers: int = 4  # ViT blocks
    text_layers: int = 4  # text transformer blocks
    heads: int = 4  # attention heads per block
    mlp_ratio: int = 4  # MLP hidden = mlp_ratio * width
    projection_dim: int = 128  # shared embedding size
    max_text_len: int = 32  # tokens, including <bos> and <eos>
    logit_scale_init: float = 2.6592  # log(1 / 0.07), CLIP's initial temperature
    pos_embed: str = "learned"  # "learned" (CLIP) or "sincos2d": fixed 2D sin-cos patch positions (MAE)

    def __post_init__(self) -> None:
        if self.pos_embed not in POS_EMBEDS:
            raise ValueError(f"pos_embed={self.pos_embed!r}: expected one of {', '.join(POS_EMBEDS)}")

    def config(self, vocab_size: int, bos: int, eos: int, pad: int) -> "transformers.CLIPConfig":  # noqa: F821
        from transformers import CLIPConfig, CLIPTextConfig, CLIPVisionConfig

        text = CLIPTextConfig(vocab_size=vocab_size, hidden_size=self.width,
                              intermediate_size=self.mlp_ratio * self.width, num_hidden_layers=self.text_layers,
                              num_attention_heads=self.heads,
                              max_position_embeddings=self.max_text_len, projection_dim=self.projection_dim,
                              bos_token_id=bos, eos_token_id=eos, pad_token_id=pad)
        vision = CLIPVisionConfig(hidden_size=self.width, intermediate_size=self.mlp_ratio * self.width,
                                  num_hidden_layers=self.vision_layers, num_attention_heads=self.heads,
                                  image_size=self.image_size, patch_size=self.patch_size,
                                  projection_dim=self.projection_dim)
        return CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(),
                          projection_dim=self.projection_dim, logit_scale_init_value=self.logit_scale_init)


PRESETS: Registry[ClipPreset] = Registry("CLIP preset", factory=lambda p, **kw: dataclasses.replace(p, **kw))
PRESETS.register("clip-tiny-v1", ClipPreset())  # ≈1.8 M parameters; trains on 2 CPU cores in minutes
# v2: fixed 2D sin-cos patch positions. With learned positions (v1) the tower reads which object comes first but
# not the axis ("left of" vs "above": 0.55 exact among all 144 scenes captions after 5 CPU-minutes); with
# sin-cos positions 0.90 after 2 (training/clip.py has the measurements).
PRESETS.register("clip-tiny-v2", ClipPreset(pos_embed="sincos2d"))
# For tests: ~70 k parameters. Still 64 px / patch 8: at 32 px the scene objects (~4 px) are too small for a
# freshly initialised tower to tell images apart, and contrastive training collapses to uniform logits.
PRESETS.register("clip-micro-v1", ClipPreset(width=32, vision_layers=2, text_layers=2, heads=2, projection_dim=32))


def sincos_2d(grid: int, dim: int) -> "torch.Tensor":  # noqa: F821
    """Fixed 2D sin-cos positions ``(grid * grid, dim)`` for row-major patches (He et al. 2022, MAE).

    The first half of the channels codes the row, the second half the column, each as sines and cosines of
    ``dim / 4`` frequencies: "left of" and "above" are separate, object-independent directions from the start.
    """
    import torch

    if dim % 4:
        raise ValueError(f"sincos_2d: dim={dim}, expected a multiple of 4")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))  # (dim/4,)
    pos = torch.arange(grid, dtype=torch.float64)
    rows, cols = torch.meshgrid(pos, pos, indexing="ij")  # (grid, grid) each

    def code(x: torch.Tensor) -> torch.Tensor:
        angles = x.reshape(-1, 1) * omega  # (grid*grid, dim/4)
        return torch.cat([angles.sin(), angles.cos()], 1)

    return torch.cat([code(rows), code(cols)], 1).float()  # (grid*grid, dim)


def _fix_positions(model: Any) -> None:
    """Overwrite the vision tower's patch positions with :func:`sincos_2d` and freeze them (class token: 0)."""
    import torch

    emb = model.vision_model.embeddings.position_embedding  # nn.Embedding(1 + grid^2, width)
    grid = int(round((emb.num_embeddings - 1) ** 0.5))
    with torch.no_grad():
        emb.weight[0].zero_()
        emb.weight[1:] = sincos_2d(grid, emb.embedding_dim)
    emb.weight.requires_grad_(False)


def list_presets() -> list[str]:
    """Registered CLIP presets, e.g. ``["clip-micro-v1", "clip-tiny-v1", "clip-tiny-v2"]``."""
    return PRESETS.list()


def default_texts() -> list[str]:
    """The sentences whose words make a tiny CLIP's vocabulary: the ``scenes`` family's captions and words."""
    from preattentive.stimuli import scenes

    vocab = getattr(scenes, "vocabulary", None)
    if callable(vocab):
        return list(vocab())
    words = getattr(scenes, "VOCABULARY", None)
    if words:
        return list(words)
    raise ValueError("the scenes family exposes no vocabulary yet; pass texts= to build_clip")


@dataclass
class ClipFeatures:
    """Vision-tower activations for a batch of images (float32, on the CPU)."""

    maps: dict[str, "torch.Tensor"]  # layer name -> (B, D, gh, gw) patch tokens on their patch grid  # noqa: F821
    cls: dict[str, "torch.Tensor"]  # layer name -> (B, D) class token  # noqa: F821
    image_embeds: "torch.Tensor"  # (B, projection_dim), L2-normalised  # noqa: F821


class Clip(ProcessorModel):
    """A ``CLIPModel`` with its processor; images are uint8 ``(H, W, 3)`` arrays, texts plain strings."""

    # -- plumbing (model, processor, tokenizer, device, dtype: ProcessorModel) -----------------
    @property
    def image_size(self) -> int:
        return int(self.model.config.vision_config.image_size)

    @property
    def layer_names(self) -> list[str]:
        """Names accepted by :meth:`features`: ``"embeddings"`` then ``"layers.0"`` … (HF module names)."""
        n = self.model.config.vision_config.num_hidden_layers
        return ["embeddings", *(f"layers.{k}" for k in range(n))]

    def pixel_values(self, images: Any) -> "torch.Tensor":  # noqa: F821
        """Images → normalised ``(B, 3, S, S)`` pixels on the model's device and dtype."""
        ims = as_image_list(images)
        x = fast_pixels(self.processor.image_processor, ims, self.image_size)
        if x is None:
            x = self.processor.image_processor(images=ims, return_tensors="pt")["pixel_values"]
        return x.to(self.device, self.dtype)

    def image_inputs(self, images: Any) -> dict[str, "torch.Tensor"]:  # noqa: F821
        """``{"pixel_values": ...}``: the image half of the model's inputs (as ``Contrastive.image_inputs``)."""
        return {"pixel_values": self.pixel_values(images)}

    def tokens(self, texts: Sequence[str]) -> dict[str, "torch.Tensor"]:  # noqa: F821
        """Tokenised, padded, truncated texts on the model's device."""
        if isinstance(texts, str):
            texts = [texts]
        n = self.model.config.text_config.max_position_embeddings
        enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=n, return_tensors="pt")
        return {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}

    # -- the interface -------------------------------------------------------------------------
    def encode_image(self, images: Any, *, normalize: bool = True) -> "torch.Tensor":  # noqa: F821
        """Image embeddings ``(B, projection_dim)`` (no gradient), unit length when ``normalize``."""
        import torch

        with torch.no_grad():
            z = self.model.get_image_features(pixel_values=self.pixel_values(images)).pooler_output
        return torch.nn.functional.normalize(z.float(), dim=-1) if normalize else z.float()

    def encode_text(self, texts: Sequence[str], *, normalize: bool = True) -> "torch.Tensor":  # noqa: F821
        """Text embeddings ``(B, projection_dim)`` (no gradient), unit length when ``normalize``."""
        import torch

        with torch.no_grad():
            z = self.model.get_text_features(**self.tokens(texts)).pooler_output
        return torch.nn.functional.normalize(z.float(), dim=-1) if normalize else z.float()

    def zero_shot(self, images: Any, prompts: Sequence[str] | Sequence[Sequence[str]]) -> np.ndarray:
        """Probabilities ``(B, n_prompts)``: softmax over ``logit_scale * cosine`` of each image with each prompt.

        ``prompts`` is either one list shared by every image or one list per image (all of the same length,
        e.g. each trial's ``prompts``).

        Example
        -------
        >>> p = clip.zero_shot([trial.image], trial.prompts)  # doctest: +SKIP
        >>> int(p.argmax(1)[0]) == trial.label  # doctest: +SKIP
        """
        import torch

        ims = as_image_list(images)
        img = self.encode_image(ims)  # (B, D)
        per_image = len(prompts) > 0 and not isinstance(prompts[0], str)
        scale = float(self.model.logit_scale.detach().exp())
        if not per_image:
            logits = scale * img @ self.encode_text(list(prompts)).T  # (B, n)
        else:
            if len(prompts) != len(ims):
                raise ValueError(f"per-image prompts: {len(prompts)} lists for {len(ims)} images")
            n = {len(p) for p in prompts}
            if len(n) != 1:
                raise ValueError(f"per-image prompt lists have lengths {sorted(n)}: expected one length")
            flat = [s for p in prompts for s in p]
            txt = encode_unique(self.encode_text, flat).view(len(ims), n.pop(), -1)  # (B, n, D)
            logits = scale * torch.einsum("bd,bnd->bn", img, txt)
        return logits.softmax(-1).cpu().numpy()

    def features(self, images: Any, layers: Iterable[str] | None = None) -> ClipFeatures:
        """Vision activations per layer: patch tokens reshaped to ``(B, D, gh, gw)`` plus the class token.

        ``layers`` defaults to every name in :attr:`layer_names`. Example: ``clip.features(ims,
        layers=["layers.3"]).maps["layers.3"].shape == (B, 128, 8, 8)`` for ``clip-tiny``.
        """
        import torch

        wanted = list(layers) if layers is not None else self.layer_names
        bad = [w for w in wanted if w not in self.layer_names]
        if bad:
            raise ValueError(f"unknown layer {bad[0]!r}; expected one of: {', '.join(self.layer_names)}")
        with torch.no_grad():
            out = self.model.vision_model(pixel_values=self.pixel_values(images), output_hidden_states=True)
            embeds = self.model.visual_projection(out.pooler_output)
        maps, cls = {}, {}
        for name in wanted:
            h = out.hidden_states[self.layer_names.index(name)].float()  # (B, 1 + gh*gw, D)
            b, n, d = h.shape
            g = int(round((n - 1) ** 0.5))
            if g * g != n - 1:
                raise ValueError(f"layer {name}: {n - 1} patch tokens do not form a square grid")
            maps[name] = h[:, 1:].transpose(1, 2).reshape(b, d, g, g).cpu()  # (B, D, gh, gw), row-major patches
            cls[name] = h[:, 0].cpu()
        return ClipFeatures(maps, cls, torch.nn.functional.normalize(embeds.float(), dim=-1).cpu())

    def save(self, directory: str | os.PathLike) -> Path:
        """``save_pretrained`` of model and processor (tokenizer included) into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(d)
        self.processor.save_pretrained(d)
        return d


def make_processor(tokenizer: Any, image_size: int) -> Any:
    """A ``CLIPProcessor`` with the PIL image processor (no torchvision needed) at ``image_size`` px."""
    from transformers import CLIPImageProcessorPil, CLIPProcessor

    ip = CLIPImageProcessorPil(size={"shortest_edge": image_size},
                               crop_size={"height": image_size, "width": image_size})
    return CLIPProcessor(image_processor=ip, tokenizer=tokenizer)


def build_clip(preset: str = "clip-tiny", *, texts: Iterable[str] | None = None, seed: int = 0,
               **overrides: Any) -> Clip:
    """A randomly initialised CLIP from a preset, with a word tokenizer built from ``texts``.

    Parameters
    ----------
    preset : a registered preset id (see :func:`list_presets`).
    texts : sentences whose words form the vocabulary; defaults to the ``scenes`` vocabulary.
    seed : weight-initialisation seed (the global torch RNG is left untouched).
    overrides : :class:`ClipPreset` fields, e.g. ``width=64``.

    Example
    -------
    >>> clip = build_clip("clip-tiny", texts=["a red circle"])
    >>> sum(p.numel() for p in clip.model.parameters()) > 1_000_000
    True
    """
    from transformers import CLIPModel

    from preattentive.models.tokenizer import build_tokenizer

    p: ClipPreset = PRESETS.make(preset, **overrides)
    tok = build_tokenizer(list(texts) if texts is not None else default_texts(), append_eos=True,
                          model_max_length=p.max_text_len)
    config = p.config(len(tok), tok.bos_token_id, tok.eos_token_id, tok.pad_token_id)
    with seeded(seed):
        model = CLIPModel(config)
    if p.pos_embed == "sincos2d":
        _fix_positions(model)  # saved with the weights; a loaded tower keeps them (trainable unless frozen)
    return Clip(model, make_processor(tok, p.image_size))


def load_clip(id_or_dir: str | os.PathLike, dtype: Any = None, device: Any = None) -> Clip:
    """Load a CLIP from a ``save_pretrained`` or run directory, or a hub id (``openai/clip-vit-base-patch32``).

    ``dtype`` ``None``/``"auto"`` gives bfloat16 on a GPU that supports it, float32 otherwise. Offline
    (``HF_HUB_OFFLINE=1``) a hub id must already be in the local cache; otherwise a
    :class:`~preattentive.models.vlm_common.ModelNotFoundError` names where it looked.

    Example
    -------
    >>> clip = load_clip("runs/clip-hn")  # doctest: +SKIP
    """
    from transformers import CLIPModel, CLIPProcessor

    where = locate(id_or_dir, "CLIP")
    dev = resolve_device(device)
    model = CLIPModel.from_pretrained(where, dtype=resolve_dtype(dtype, dev)).to(dev)
    return Clip(model, CLIPProcessor.from_pretrained(where))
