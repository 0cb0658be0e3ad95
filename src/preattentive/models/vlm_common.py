"""Helpers shared by the Hugging Face model wrappers: device/dtype checks, locating weights (hub cache snapshots),
reading ``model_type``, loading processors on a CPU-only install, image batches."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np


class ModelNotFoundError(FileNotFoundError, ValueError):
    """No weights where we looked; the message names the id and every place searched, on one line."""


def resolve_device(device: Any = None) -> "torch.device":  # noqa: F821
    """``None``/``"auto"`` → CUDA when available, else CPU; a name such as ``"cuda:1"`` is checked up front.

    A device this torch cannot use is a one-line :class:`ValueError` (not transformers' ``AssertionError`` deep in
    loading): ``cuda`` on a CPU-only build, an index past the last GPU, ``mps`` off Apple silicon, a typo.

    Example
    -------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    import torch

    if isinstance(device, torch.device):
        dev = device
    elif device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(str(device))
        except (RuntimeError, ValueError):
            raise ValueError(f"device={device!r}: expected cpu, cuda, cuda:N, mps or auto") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch is a CPU-only build" if torch.version.cuda is None else "no GPU is visible"
            raise ValueError(f"device={str(device)!r}: CUDA is not available ({why}, torch {torch.__version__}); "
                             "expected cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={str(device)!r}: only {torch.cuda.device_count()} GPU(s) visible; expected "
                             f"cuda:0..cuda:{torch.cuda.device_count() - 1}")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device={str(device)!r}: MPS is not available on this machine; expected cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device={str(device)!r}: expected cpu, cuda, cuda:N, mps or auto")
    return dev


_DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16", "half": "float16",
           "bfloat16": "bfloat16", "bf16": "bfloat16"}


def resolve_dtype(dtype: Any, device: "torch.device") -> "torch.dtype":  # noqa: F821
    """``None``/``"auto"`` → bfloat16 on a GPU that supports it, else float32; names such as ``"bf16"`` accepted."""
    import torch

    if isinstance(dtype, torch.dtype):
        dtype = str(dtype)
    if dtype is None or dtype == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    name = str(dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise ValueError(f"dtype={dtype!r}: expected one of auto, {', '.join(_DTYPES)}")
    if _DTYPES[name] == "bfloat16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"dtype={dtype!r}: this GPU does not support bfloat16; expected float16 or float32")
    return getattr(torch, _DTYPES[name])


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

    return os.environ.get("HF_HUB_CACHE") or str(constants.HF_HUB_CACHE)


_WEIGHTS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.msgpack")


def _has_weights(d: Path) -> bool:
    """True when ``d`` holds weights; a sharded checkpoint needs every shard its index names."""
    for index in (*d.glob("*.safetensors.index.json"), *d.glob("*.bin.index.json")):
        try:
            shards = set(json.loads(index.read_text()).get("weight_map", {}).values())
        except (OSError, json.JSONDecodeError):
            return False
        return bool(shards) and all((d / s).is_file() for s in shards)
    return any(f.is_file() for pattern in _WEIGHTS for f in d.glob(pattern))


def locate(id_or_dir: str | os.PathLike, what: str) -> str:
    """The local directory that holds ``id_or_dir``'s files; otherwise :class:`ModelNotFoundError` (one line).

    A directory (``save_pretrained`` output, or a run directory: its ``model/``) is returned as is. A hub id
    found in the local Hugging Face cache returns its *snapshot directory*, so that transformers reads the files
    there and never asks the network (with ``HF_HUB_OFFLINE`` unset and no network, a bare id makes it retry for
    minutes). A cache entry with ``config.json`` but no weights (an interrupted download) is an error naming
    the snapshot. Online (``HF_HUB_OFFLINE`` unset), an id not in the cache is passed through for transformers to
    download.

    Example
    -------
    >>> locate("/nonexistent/model", "CLIP")  # doctest: +SKIP
    ModelNotFoundError: no CLIP weights for '/nonexistent/model': not a local directory ...
    """
    local = model_dir_of(id_or_dir)
    name = str(id_or_dir)
    if local is not None:
        if not _has_weights(local):
            raise ModelNotFoundError(f"{what} {name!r}: {local} has config.json but no weights "
                                     "(*.safetensors or *.bin)")
        return str(local)
    if Path(name).expanduser().exists():
        raise ModelNotFoundError(f"{what} {name!r}: the directory has no config.json or run.json")
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        try:
            from huggingface_hub import try_to_load_from_cache

            hit = try_to_load_from_cache(name, "config.json", cache_dir=_hub_cache())
        except Exception:  # malformed repo id
            hit = None
        if isinstance(hit, str):
            snapshot = Path(hit).parent
            if not _has_weights(snapshot):
                raise ModelNotFoundError(
                    f"{what} {name!r} is only partly in the Hugging Face cache: {snapshot} has config.json but no "
                    f"weights (an interrupted download?); fetch it again with `hf download {name}`")
            return str(snapshot)
        if not offline:
            return name
    raise ModelNotFoundError(
        f"no {what} weights for {name!r}: not a local directory (looked in {Path(name).expanduser().resolve()}) "
        f"and not in the Hugging Face cache ({_hub_cache()})"
        f"{'; HF_HUB_OFFLINE=1 forbids downloading' if offline else ''}")


def model_type_of(where: str | os.PathLike) -> str:
    """The ``model_type`` in a located checkpoint's ``config.json`` (``""`` when it names none).

    Example
    -------
    >>> model_type_of("runs/clip/model")  # doctest: +SKIP
    'clip'
    """
    p = Path(where) / "config.json"
    if p.is_file():
        try:
            return str(json.loads(p.read_text()).get("model_type", ""))
        except json.JSONDecodeError as e:
            raise ModelNotFoundError(f"{p}: not valid JSON ({e.msg} at line {e.lineno})") from None
    from transformers import AutoConfig  # an id passed through online: transformers fetches config.json

    return str(AutoConfig.from_pretrained(str(where)).model_type)


def _without_video(cls: type) -> type:
    """``cls`` (a processor class) without its video processor: ``VideoProcessorMixin`` needs torchvision, whose
    builds pull a CUDA torch, so a CPU-only install cannot even construct the Qwen2-VL / LLaVA-OneVision /
    SmolVLM processors. Images need only the tokenizer and the image processor; a video input is refused."""

    class NoVideo(cls):  # type: ignore[misc, valid-type]
        @classmethod
        def get_attributes(klass) -> list[str]:
            return [a for a in super().get_attributes() if a != "video_processor"]

    NoVideo.__name__ = NoVideo.__qualname__ = cls.__name__
    return NoVideo


def load_processor(where: str | os.PathLike, model_type: str = "") -> Any:
    """``AutoProcessor.from_pretrained(where)``, or — when its video part cannot load (no torchvision) — the same
    processor class assembled from the checkpoint's tokenizer, image processor and chat template.

    Example
    -------
    >>> proc = load_processor("Qwen/Qwen2-VL-2B-Instruct")  # doctest: +SKIP
    """
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(str(where))
    except (ImportError, AttributeError, ValueError, TypeError, OSError) as e:
        first = str(e)
        import transformers
        from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

        name = PROCESSOR_MAPPING_NAMES.get(model_type or model_type_of(where))
        cls = getattr(transformers, name, None) if isinstance(name, str) else None
        if cls is None or "video_processor" not in cls.get_attributes():
            raise
        try:
            # video_processor=None: SmolVLM's processor requires the argument
            return _without_video(cls).from_pretrained(str(where), video_processor=None)
        except Exception as e2:  # both failed: say both, on one line
            raise ValueError(f"{where}: the processor does not load ({first.splitlines()[0] if first else e}); "
                             f"without its video part neither ({str(e2).splitlines()[0]})") from None


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


def encode_unique(encode: Any, texts: Sequence[str]) -> "torch.Tensor":  # noqa: F821
    """``encode(texts)`` with each distinct text encoded once: per-trial prompt lists mostly repeat the same few
    sentences (a 2-AFC family's prompts are the same two for every trial), and the text tower dominated CLIP
    zero-shot time (benchmarks/evaluation.py). Rows come back in ``texts`` order."""
    unique = list(dict.fromkeys(texts))
    if len(unique) == len(texts):
        return encode(list(texts))
    where = {t: k for k, t in enumerate(unique)}
    return encode(unique)[[where[t] for t in texts]]


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
