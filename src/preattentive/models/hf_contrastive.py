"""Contrastive image-text models (CLIP, SigLIP, SigLIP 2) over ``get_image_features`` / ``get_text_features``.

Radford et al. 2021 (CLIP) score an image against prompts with a softmax over ``logit_scale * cosine``; Zhai et
al. 2023 (SigLIP) train each (image, text) pair as an independent binary decision, so a prompt's probability is
``sigmoid(logit_scale * cosine + logit_bias)`` with the checkpoint's own learnt scale and bias — the numbers do not
sum to one, and the argmax is the same as for the logits. :class:`Contrastive` applies the right one per
``model_type`` (:data:`SIGMOID_TYPES`). SigLIP's text tower was trained on texts padded to its full length
(``padding="max_length"``, as its model card says); CLIP's pools at the end-of-text token, any padding.

Example
-------
>>> m = load_contrastive("google/siglip-base-patch16-224")  # doctest: +SKIP
>>> m.zero_shot([image], ["a photo of a cat", "a photo of a dog"])  # doctest: +SKIP
array([[0.91, 0.002]])
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from preattentive.models.vlm_common import (ProcessorModel, as_image_list, encode_unique, load_processor, locate,
                                            model_type_of, resolve_device, resolve_dtype)

SIGMOID_TYPES = ("siglip", "siglip2")  # trained with the sigmoid loss: independent per-prompt probabilities
MODEL_TYPES = ("clip", "siglip", "siglip2")  # what hf-contrastive serves (tested on tiny hub-format checkpoints)


@dataclass
class ContrastiveFeatures:
    """Vision-tower activations for a batch of images (float32, on the CPU)."""

    maps: dict[str, Any]  # layer name -> (B, D, gh, gw) patch tokens on their patch grid
    cls: dict[str, Any]  # layer name -> (B, D) class token (empty for towers without one: SigLIP)


def _pooled(out: Any) -> Any:
    """transformers >= 5 returns an output object from ``get_*_features``; older versions a tensor."""
    return out.pooler_output if hasattr(out, "pooler_output") else out


class Contrastive(ProcessorModel):
    """A CLIP-like two-tower model with its processor; images are uint8 ``(H, W, 3)`` arrays, texts strings."""

    @property
    def model_type(self) -> str:
        return str(self.model.config.model_type)

    @property
    def sigmoid(self) -> bool:
        return self.model_type in SIGMOID_TYPES

    @property
    def layer_names(self) -> list[str]:
        """``"embeddings"`` then ``"layers.0"`` ... (the vision tower's hidden states)."""
        n = self.model.config.vision_config.num_hidden_layers
        return ["embeddings", *(f"layers.{k}" for k in range(n))]

    def image_inputs(self, images: Any) -> dict[str, Any]:
        """Processor outputs for the images (pixel_values, plus SigLIP 2's patch mask and grid shapes)."""
        enc = self.processor.image_processor(images=as_image_list(images), return_tensors="pt")
        return {k: (v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device))
                for k, v in enc.items()}

    def tokens(self, texts: Sequence[str]) -> dict[str, Any]:
        n = int(self.model.config.text_config.max_position_embeddings)
        pad = "max_length" if self.sigmoid else True
        enc = self.processor.tokenizer(list(texts), padding=pad, truncation=True, max_length=n, return_tensors="pt")
        # what the checkpoint's tokenizer gives (SigLIP's own returns no attention mask: it pools the last
        # position of the full-length padded text, as it was trained)
        return {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}

    def encode_image(self, images: Any, *, normalize: bool = True) -> Any:
        """Image embeddings ``(B, D)``, unit length when ``normalize``."""
        import torch

        with torch.no_grad():
            z = _pooled(self.model.get_image_features(**self.image_inputs(images))).float()
        return torch.nn.functional.normalize(z, dim=-1) if normalize else z

    def encode_text(self, texts: Sequence[str], *, normalize: bool = True) -> Any:
        """Text embeddings ``(B, D)``, unit length when ``normalize``."""
        import torch

        with torch.no_grad():
            z = _pooled(self.model.get_text_features(**self.tokens(texts))).float()
        return torch.nn.functional.normalize(z, dim=-1) if normalize else z

    def logits(self, image_embeds: Any, text_embeds: Any) -> Any:
        """``logit_scale.exp() * cosine (+ logit_bias)`` for unit embeddings ``(B, D)`` x ``(..., D)``."""
        scale = self.model.logit_scale.detach().float().exp()
        bias = self.model.logit_bias.detach().float() if self.sigmoid else 0.0
        if text_embeds.ndim == 2:
            return scale * image_embeds @ text_embeds.T + bias  # (B, n)
        import torch

        return scale * torch.einsum("bd,bnd->bn", image_embeds, text_embeds) + bias

    def zero_shot(self, images: Any, prompts: Sequence[str] | Sequence[Sequence[str]]) -> np.ndarray:
        """Probabilities ``(B, n_prompts)``: softmax over prompts (CLIP) or a sigmoid per prompt (SigLIP).

        ``prompts`` is one list shared by every image or one list per image (all of one length).
        """
        ims = as_image_list(images)
        img = self.encode_image(ims)
        if len(prompts) and not isinstance(prompts[0], str):
            if len(prompts) != len(ims):
                raise ValueError(f"per-image prompts: {len(prompts)} lists for {len(ims)} images")
            n = {len(p) for p in prompts}
            if len(n) != 1:
                raise ValueError(f"per-image prompt lists have lengths {sorted(n)}: expected one length")
            txt = encode_unique(self.encode_text, [s for p in prompts for s in p]).view(len(ims), n.pop(), -1)
        else:
            txt = self.encode_text(list(prompts))
        z = self.logits(img, txt)
        return (z.sigmoid() if self.sigmoid else z.softmax(-1)).cpu().numpy()

    def features(self, images: Any, layers: Iterable[str] | None = None) -> ContrastiveFeatures:
        """The vision tower's hidden states per layer as ``(B, D, gh, gw)`` maps (plus CLIP's class token)."""
        import torch

        wanted = list(layers) if layers is not None else self.layer_names
        bad = [w for w in wanted if w not in self.layer_names]
        if bad:
            raise ValueError(f"unknown layer {bad[0]!r}; expected one of: {', '.join(self.layer_names)}")
        inputs = self.image_inputs(images)
        with torch.no_grad():
            out = self.model.vision_model(**inputs, output_hidden_states=True)
        if "spatial_shapes" in inputs:  # SigLIP 2: patches of each image's own grid, then padding
            gh, gw = (int(v) for v in inputs["spatial_shapes"][0])
        else:
            p = int(self.model.config.vision_config.patch_size)
            gh, gw = (int(s) // p for s in inputs["pixel_values"].shape[-2:])
        maps, cls = {}, {}
        for name in wanted:
            h = out.hidden_states[self.layer_names.index(name)].float()  # (B, extra + gh*gw (+ pad), D)
            extra = 0 if self.sigmoid else h.shape[1] - gh * gw  # CLIP: one class token in front
            b, _, d = h.shape
            maps[name] = h[:, extra:extra + gh * gw].transpose(1, 2).reshape(b, d, gh, gw).cpu()
            if extra:
                cls[name] = h[:, 0].cpu()
        return ContrastiveFeatures(maps, cls)


def load_contrastive(id_or_dir: str | os.PathLike, dtype: Any = None, device: Any = None) -> Any:
    """Load a CLIP / SigLIP / SigLIP 2 checkpoint; CLIP comes back as :class:`~preattentive.models.clip.Clip`
    (the class this project trains), the others as :class:`Contrastive`.

    Example
    -------
    >>> m = load_contrastive("openai/clip-vit-base-patch32")  # doctest: +SKIP
    """
    from transformers import AutoModel

    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    where = locate(id_or_dir, "contrastive model")
    mt = model_type_of(where)
    if mt == "clip":
        from preattentive.models.clip import load_clip

        return load_clip(where, dtype=dt, device=dev)
    if mt not in MODEL_TYPES:
        raise ValueError(f"contrastive model {str(id_or_dir)!r}: model_type {mt!r}, expected one of "
                         f"{', '.join(MODEL_TYPES)}")
    model = AutoModel.from_pretrained(where, dtype=dt).to(dev)
    return Contrastive(model, load_processor(where, mt))
