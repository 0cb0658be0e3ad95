"""Helpers shared by the CLIP and LLaVA adapters: device/dtype choice, locating weights, image batches."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np


class ModelNotFoundError(FileNotFoundError, ValueError):
    """No weights where we looked; the message names the id and every place searched, on one line."""


def resolve_device(device: Any = None) -> "torch.device":  # noqa: F821
    """``None`` → CUDA when available, else CPU; anything else → ``torch.device(device)``."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


_DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16", "half": "float16",
           "bfloat16": "bfloat16", "bf16": "bfloat16"}


def resolve_dtype(dtype: Any, device: "torch.device") -> "torch.dtype":  # noqa: F821
    """``None``/``"auto"`` → bfloat16 on a GPU that supports it, else float32; names such as ``"bf16"`` accepted."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if str(dtype) not in _DTYPES:
        raise ValueError(f"dtype={dtype!r}: expected one of auto, {', '.join(_DTYPES)}")
    return getattr(torch, _DTYPES[str(dtype)])


def model_dir_of(path: str | os.PathLike) -> Path | None:
    """The ``save_pretrained`` directory for ``path``: itself, or ``path/model`` when ``path`` is a run directory."""
    p = Path(path).expanduser()
    if (p / "run.json").is_file():
        from preattentive.config_schema import RunRecord, read_record

        record = read_record(p / "run.json", RunRecord, what="run record")  # one-line error when malformed
        return p / record.get("model_dir", "model")
    if (p / "config.json").is_file():
        return p
    return None


def _hub_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def locate(id_or_dir: str | os.PathLike, what: str) -> str:
    """A local directory or a hub id that is present in the local cache; otherwise :class:`ModelNotFoundError`.

    Nothing is downloaded when ``HF_HUB_OFFLINE=1``; online, a hub id is passed through for transformers to fetch.
    """
    local = model_dir_of(id_or_dir)
    if local is not None:
        return str(local)
    name = str(id_or_dir)
    if Path(name).expanduser().exists():
        raise ModelNotFoundError(f"{what} {name!r}: the directory has no config.json or run.json")
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        try:
            from huggingface_hub import try_to_load_from_cache

            hit = try_to_load_from_cache(name, "config.json")
        except Exception:  # malformed repo id
            hit = None
        if isinstance(hit, str) or not offline:
            return name
    raise ModelNotFoundError(
        f"no {what} weights for {name!r}: not a local directory (looked in {Path(name).expanduser().resolve()}) "
        f"and not in the Hugging Face cache ({_hub_cache()})"
        f"{'; HF_HUB_OFFLINE=1 forbids downloading' if offline else ''}")


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block (e.g. weight initialisation) under ``seed`` without touching the caller's global RNG state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def as_image_list(images: Any) -> list[np.ndarray]:
    """Images as a list of uint8 ``(H, W, 3)`` arrays; accepts one array, a ``(B, H, W, 3)`` stack or a sequence."""
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = [images]
    out = [np.asarray(im) for im in images]
    for im in out:
        if im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
            raise ValueError(f"image {im.dtype}{im.shape}: expected uint8 (H, W, 3) RGB")
    return out


def fast_pixels(image_processor: Any, images: Sequence[np.ndarray], size: int) -> "torch.Tensor | None":  # noqa: F821
    """Normalised ``(B, 3, size, size)`` float pixels without PIL when every image already has the model's size.

    A CLIP-style processor (resize shortest edge to ``size``, centre crop ``size``) leaves such images untouched
    apart from rescale and normalise, so this gives the processor's numbers at a fraction of the cost. Returns
    None when the shortcut does not apply (other sizes, other processors); the caller then uses the processor.
    """
    import torch

    ip = image_processor
    crop = getattr(ip, "crop_size", None) or {}
    short = (getattr(ip, "size", None) or {}).get("shortest_edge")
    if (type(ip).__name__ not in ("CLIPImageProcessorPil", "CLIPImageProcessor")
            or crop.get("height") != size or crop.get("width") != size or short != size
            or any(im.shape[:2] != (size, size) for im in images)):
        return None
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()  # (B, 3, H, W) in [0, 255]
    mean = torch.tensor(ip.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(ip.image_std).view(1, 3, 1, 1)
    return (x * float(ip.rescale_factor) - mean) / std


class ProcessorModel:
    """A transformers model held with its processor (the plumbing :class:`Clip` and :class:`Llava` share)."""

    def __init__(self, model: Any, processor: Any) -> None:
        self.model = model.eval()
        self.processor = processor

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    @property
    def device(self) -> "torch.device":  # noqa: F821
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> "torch.dtype":  # noqa: F821
        return next(self.model.parameters()).dtype
