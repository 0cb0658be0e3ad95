"""Any Hugging Face vision backbone (``AutoModel``: ViT, DINOv2, ConvNeXt, ResNet, Swin ...): hidden states by
layer as spatial maps, for linear probes and in-silico physiology.

:meth:`VisionBackbone.features` returns ``{layer: (B, C, h, w)}`` float32 maps: a convolutional stage as it is, a
transformer layer's patch tokens on their patch grid with the leading class / register tokens dropped.
:attr:`VisionBackbone.geometry` (:class:`BackboneGeometry`) says what the physiology room needs to place each map
cell's receptive field on the stimulus: the pixels the processor feeds the model (its resize and centre crop —
DINOv2 and ConvNeXt see only the central 224/256 of a square stimulus), each layer's grid and stride in those
pixels, the patch size, and how many tokens were dropped.

Example
-------
>>> vb = load_vision("facebook/dinov2-small")  # doctest: +SKIP
>>> {k: v.shape for k, v in vb.features(images, layers=["layers.11"]).items()}  # doctest: +SKIP
{'layers.11': torch.Size([8, 384, 16, 16])}
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable

from preattentive.models.vlm_common import as_image_list, locate, model_type_of, resolve_device, resolve_dtype

# model types that are language or multimodal models, never served as a backbone (hf-vlm / hf-contrastive)
_NOT_BACKBONES = ("clip", "siglip", "siglip2", "blip", "llava")


@dataclass(frozen=True)
class BackboneGeometry:
    """Where a backbone's maps lie in its input and in the stimulus (all sizes in px, ``(height, width)``)."""

    model_type: str  # HF config model_type, e.g. "dinov2"
    input_size: tuple[int, int]  # the pixel_values the model receives
    resize: dict[str, Any]  # the processor's ``size`` (e.g. {"shortest_edge": 256}); {} when it does not resize
    crop: tuple[int, int] | None  # centre crop after resizing (None: none)
    crop_pct: float | None  # ConvNeXt-style: resize to shortest_edge / crop_pct, then crop shortest_edge
    patch_size: int | None  # ViT-style patch side in input px; None for convolutional nets
    dropped_tokens: int  # leading non-patch tokens dropped from each transformer layer (CLS + registers)
    grids: dict[str, tuple[int, int]]  # layer -> map size (h, w)
    strides: dict[str, tuple[float, float]]  # layer -> input px per map cell (input_size / grid)

    def stimulus_box(self, image_hw: tuple[int, int]) -> tuple[float, float, float, float]:
        """``(y0, x0, y1, x1)``: the part of a ``image_hw`` stimulus the input covers, in stimulus px.

        Example
        -------
        >>> g = BackboneGeometry("dinov2", (224, 224), {"shortest_edge": 256}, (224, 224), None, 14, 1, {}, {})
        >>> g.stimulus_box((64, 64))
        (4.0, 4.0, 60.0, 60.0)
        """
        h, w = (float(v) for v in image_hw)
        short = self.resize.get("shortest_edge")
        if short is None:  # resized to a fixed (height, width): the whole stimulus, possibly stretched
            return 0.0, 0.0, h, w
        target = short / self.crop_pct if self.crop_pct and short < 384 else short
        scale = target / min(h, w)  # stimulus px -> resized px
        ch, cw = self.crop if self.crop else ((short, short) if self.crop_pct and short < 384 else (h * scale,
                                                                                                     w * scale))
        y0, x0 = (h * scale - ch) / 2 / scale, (w * scale - cw) / 2 / scale
        return y0, x0, y0 + ch / scale, x0 + cw / scale


class VisionBackbone:
    """A vision ``AutoModel`` with its image processor; images are uint8 ``(H, W, 3)`` arrays."""

    def __init__(self, model: Any, image_processor: Any) -> None:
        self.model = model.eval()
        self.image_processor = image_processor
        self._geometry: BackboneGeometry | None = None

    @property
    def config(self) -> Any:
        """The HF config (``model_type``, ``patch_size``, ``hidden_sizes`` ...)."""
        return self.model.config

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> Any:
        return next(self.model.parameters()).dtype

    @property
    def hierarchical(self) -> bool:
        """True for stage-wise nets (ConvNeXt, ResNet, Swin): layers are ``stages.K``, else ``layers.K``."""
        return hasattr(self.config, "depths")

    @property
    def layer_names(self) -> list[str]:
        """``"embeddings"`` then ``"layers.0"`` ... (transformer blocks) or ``"stages.0"`` ... (stages)."""
        if self.hierarchical:
            return ["embeddings", *(f"stages.{k}" for k in range(len(self.config.depths)))]
        return ["embeddings", *(f"layers.{k}" for k in range(int(self.config.num_hidden_layers)))]

    def pixel_values(self, images: Any) -> Any:
        """Images -> the processor's ``(B, 3, H, W)`` pixels on the model's device and dtype."""
        x = self.image_processor(images=as_image_list(images), return_tensors="pt")["pixel_values"]
        return x.to(self.device, self.dtype)

    def _states(self, pixels: Any) -> list[Any]:
        import torch

        with torch.no_grad():
            out = self.model(pixel_values=pixels, output_hidden_states=True)
        states = getattr(out, "reshaped_hidden_states", None) or out.hidden_states  # Swin: maps, not tokens
        return list(states)

    def features(self, images: Any, layers: Iterable[str] | None = None) -> dict[str, Any]:
        """``{layer: (B, C, h, w)}`` float32 CPU maps; ``layers`` defaults to every name in :attr:`layer_names`.

        Example
        -------
        >>> vb.features(images, layers=["stages.3"])["stages.3"].shape  # doctest: +SKIP
        torch.Size([8, 768, 7, 7])
        """
        wanted = list(layers) if layers is not None else self.layer_names
        bad = [w for w in wanted if w not in self.layer_names]
        if bad:
            raise ValueError(f"unknown layer {bad[0]!r}; expected one of: {', '.join(self.layer_names)}")
        pixels = self.pixel_values(images)
        states = self._states(pixels)
        if len(states) != len(self.layer_names):
            raise ValueError(f"{self.config.model_type}: {len(states)} hidden states for layers {self.layer_names}")
        out = {}
        for name in wanted:
            h = states[self.layer_names.index(name)].float()
            if h.ndim == 3:  # (B, extra + gh*gw, D) tokens -> (B, D, gh, gw), extra = CLS + registers
                p = int(self.config.patch_size)
                gh, gw = pixels.shape[-2] // p, pixels.shape[-1] // p
                b, n, d = h.shape
                h = h[:, n - gh * gw:].transpose(1, 2).reshape(b, d, gh, gw)
            out[name] = h.cpu()
        return out

    @property
    def geometry(self) -> BackboneGeometry:
        """Grids and strides measured on one blank image of the input size (computed once)."""
        if self._geometry is None:
            import numpy as np

            ip = self.image_processor
            size = dict(getattr(ip, "size", None) or {}) if getattr(ip, "do_resize", True) else {}
            crop = getattr(ip, "crop_size", None) if getattr(ip, "do_center_crop", False) else None
            side = size.get("shortest_edge") or size.get("height") or 224
            pixels = self.pixel_values([np.zeros((side, side, 3), np.uint8)])
            states = self._states(pixels)
            hw = (int(pixels.shape[-2]), int(pixels.shape[-1]))
            patch = None if self.hierarchical else int(self.config.patch_size)
            grids, dropped = {}, 0
            for name, h in zip(self.layer_names, states):
                if h.ndim == 3:
                    g = (hw[0] // patch, hw[1] // patch)
                    dropped = int(h.shape[1]) - g[0] * g[1]
                else:
                    g = (int(h.shape[-2]), int(h.shape[-1]))
                grids[name] = g
            self._geometry = BackboneGeometry(
                model_type=str(self.config.model_type), input_size=hw, resize=size,
                crop=(int(crop["height"]), int(crop["width"])) if crop else None,
                crop_pct=getattr(ip, "crop_pct", None), patch_size=patch, dropped_tokens=dropped, grids=grids,
                strides={k: (hw[0] / g[0], hw[1] / g[1]) for k, g in grids.items()})
        return self._geometry


def load_vision(id_or_dir: str | os.PathLike, dtype: Any = None, device: Any = None) -> VisionBackbone:
    """Load a vision backbone (``AutoModel`` + ``AutoImageProcessor``) from a directory or a cached hub id.

    Example
    -------
    >>> vb = load_vision("facebook/convnext-tiny-224")  # doctest: +SKIP
    """
    from transformers import AutoImageProcessor, AutoModel

    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    where = locate(id_or_dir, "vision backbone")
    mt = model_type_of(where)
    if mt not in served_model_types():
        raise ValueError(f"vision backbone {str(id_or_dir)!r}: model_type {mt!r} is not an image backbone "
                         "transformers' AutoModel serves")
    model = AutoModel.from_pretrained(where, dtype=dt).to(dev)
    return VisionBackbone(model, AutoImageProcessor.from_pretrained(where))


def served_model_types() -> frozenset[str]:
    """Backbone ``model_type`` s: those with an image-classification head in transformers (their base ``AutoModel``
    is the backbone), less the multimodal ones."""
    from transformers.models.auto.modeling_auto import (MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES,
                                                        MODEL_MAPPING_NAMES)

    types = {t for t in MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES if t in MODEL_MAPPING_NAMES}
    return frozenset(types - set(_NOT_BACKBONES)) | {"dinov2", "dinov2_with_registers", "dinov3_vit", "vit_mae"}
