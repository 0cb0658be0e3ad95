"""Model specs: one string names any model (``hf-vlm:ID_OR_DIR``, ``hf-contrastive:ID_OR_DIR``, ``run:DIR``, ...).

Schemes come from the model-kind registry (:mod:`preattentive.models.kinds`; ``preattentive models list``):

``hf-vlm:ID_OR_DIR``          any image-text-to-text checkpoint (LLaVA, Qwen2-VL, Idefics3, PaliGemma, ...);
                              ``hf-llava:`` is an alias.
``hf-contrastive:ID_OR_DIR``  CLIP, SigLIP, SigLIP 2; ``hf-clip:`` is an alias.
``hf-vision:ID_OR_DIR``       a vision backbone (ViT, DINOv2, ConvNeXt, ResNet, Swin).
``run:DIR``                   a run directory this project trained; ``run.json``'s ``"kind"`` picks the model kind.
``PRESET``                    a registered alias (:data:`PRESETS`), e.g. ``clip-b32`` ->
                              ``hf-clip:openai/clip-vit-base-patch32``. Presets only name *pretrained* public
                              checkpoints (their weights must be on disk; nothing is downloaded offline).
A bare path to a directory holding ``run.json`` is read as ``run:PATH``. ``ID_OR_DIR`` is a ``save_pretrained``
directory or a hub id already in the local HF cache. Each scheme checks the checkpoint's ``model_type`` and names
the scheme that fits when it cannot serve it.

Example
-------
>>> parse_spec("clip-b32")
ModelSpec(scheme='hf-clip', target='openai/clip-vit-base-patch32', text='clip-b32')
>>> adapter = load_model("run:runs/hgru-curve")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from preattentive.evaluation.adapters import Adapter
from preattentive.models import kinds as model_kinds
from preattentive.registry import Registry, UnknownIdError


class ModelSpecError(ValueError):
    """A model spec that cannot be parsed or whose model is not on disk (one-line message)."""


@dataclass(frozen=True)
class ModelSpec:
    scheme: str  # a model kind's scheme or alias ("hf-vlm", "hf-clip", ...), "run", or a registered scheme
    target: str  # hub id or directory
    text: str  # the spec as the user wrote it (the model's display name)


PRESETS: Registry[str] = Registry("model preset")
# Public pretrained checkpoints, usable when their weights are in the local HF cache (HF_HUB_OFFLINE=1 forbids
# downloading). Radford et al. 2021 (CLIP); Liu et al. 2024 (LLaVA-1.5).
PRESETS.register("clip-b32-v1", "hf-clip:openai/clip-vit-base-patch32")
PRESETS.register("clip-b16-v1", "hf-clip:openai/clip-vit-base-patch16")
PRESETS.register("clip-l14-v1", "hf-clip:openai/clip-vit-large-patch14")
PRESETS.register("llava-1.5-7b-v1", "hf-llava:llava-hf/llava-1.5-7b-hf")
# Zhai et al. 2023 (SigLIP); Oquab et al. 2024 (DINOv2); Wang et al. 2024 (Qwen2-VL).
PRESETS.register("siglip-b16-v1", "hf-contrastive:google/siglip-base-patch16-224")
PRESETS.register("dinov2-s14-v1", "hf-vision:facebook/dinov2-small")
PRESETS.register("qwen2-vl-2b-v1", "hf-vlm:Qwen/Qwen2-VL-2B-Instruct")


def register_preset(id: str, spec: str) -> None:
    """Register ``id`` (versioned, e.g. ``"my-clip-v1"``) as an alias for the spec string ``spec``."""
    parse_spec(spec)  # validate now, not at use
    PRESETS.register(id, spec)


def list_presets() -> list[str]:
    """Registered preset ids."""
    return PRESETS.list()


Loader = Callable[..., Adapter]
_SCHEMES: dict[str, Loader] = {}  # extra schemes with their own loader (register_scheme); kinds come first
_RUN_KINDS: dict[str, Loader] = {}  # extra run kinds with their own loader (register_run_kind)


def register_scheme(name: str, loader: Loader) -> None:
    """Register ``loader(target, *, name, device, dtype) -> Adapter`` for specs ``name:TARGET`` (a model kind
    registered with :func:`preattentive.models.kinds.register_kind` is the fuller way)."""
    if name in _SCHEMES or name in _kind_schemes():
        raise ValueError(f"model scheme {name!r} is already registered")
    _SCHEMES[name] = loader


def register_run_kind(kind: str, loader: Loader) -> None:
    """Register ``loader(run_dir, record, *, name, device, dtype) -> Adapter`` for ``run.json`` kind ``kind``."""
    if kind in _RUN_KINDS or kind in _kind_runs():
        raise ValueError(f"run kind {kind!r} is already registered")
    _RUN_KINDS[kind] = loader


def _kind_schemes() -> list[str]:
    return [s for k in model_kinds.list_kinds() for s in k.schemes]


def _kind_runs() -> list[str]:
    return [r for k in model_kinds.list_kinds() for r in k.run_kinds]


def schemes() -> list[str]:
    """Every spec scheme: the model kinds' (with aliases), ``run``, and any registered with a loader."""
    return [*_kind_schemes(), "run", *_SCHEMES]


def parse_spec(text: str) -> ModelSpec:
    """Parse a spec string (resolving presets); raise :class:`ModelSpecError` naming what was expected."""
    text = str(text).strip()
    scheme, sep, target = text.partition(":")
    if sep and scheme in schemes():
        if not target:
            raise ModelSpecError(f"model spec {text!r} has no target after '{scheme}:'")
        return ModelSpec(scheme, target, text)
    if text in PRESETS:
        inner = parse_spec(PRESETS.get(text))
        return ModelSpec(inner.scheme, inner.target, text)
    if (Path(text).expanduser() / "run.json").is_file():
        return ModelSpec("run", text, text)
    forms = ", ".join(s + (":DIR" if s == "run" else ":ID_OR_DIR") for s in schemes())
    raise ModelSpecError(f"unknown model spec {text!r}: expected {forms}, "
                         f"a run directory, or a preset ({', '.join(PRESETS.list())})")


def fingerprint(path: str | os.PathLike) -> str:
    """A short hash of a directory's weight/config files (names, sizes, mtimes): changes when weights change."""
    p = Path(path)
    h = hashlib.sha1(str(p.resolve()).encode())
    if p.is_dir():
        for f in sorted(p.rglob("*")):
            if f.is_file() and f.suffix in (".safetensors", ".json", ".bin", ".model", ".txt", ".jinja"):
                st = f.stat()
                h.update(f"{f.relative_to(p)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


def load_model(spec: str | ModelSpec, *, device: str = "cpu", dtype: Any = None) -> Adapter:
    """Load the model a spec names and wrap it in its kind's adapter.

    Device and dtype are checked first; then the weights are located (a cached hub id resolves to its snapshot
    directory) and the checkpoint's ``model_type`` is checked against the kind. Every failure is a one-line
    :class:`ValueError` (:class:`ModelSpecError`, the model room's ``ModelNotFoundError``, ...).

    Example
    -------
    >>> load_model("hf-clip:/nonexistent")  # doctest: +SKIP
    ModelNotFoundError: no contrastive model weights for '/nonexistent': not a local directory ...
    """
    from preattentive.models.vlm_common import resolve_device, resolve_dtype

    s = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    resolve_dtype(dtype, resolve_device(device))  # up front: a bad device fails before anything loads
    if s.scheme in _SCHEMES:
        return _SCHEMES[s.scheme](s.target, name=s.text, device=device, dtype=dtype)
    if s.scheme == "run":
        return _load_run(s.target, name=s.text, device=device, dtype=dtype)
    kind = model_kinds.kind_for_scheme(s.scheme)
    from preattentive.models.vlm_common import locate, model_type_of

    where = locate(s.target, kind.name)
    model_kinds.check_model_type(kind, model_type_of(where), s.target)
    return _wrap(kind, model_kinds.load(kind, where, dtype=dtype, device=device), name=s.text,
                 fingerprint=_hub_fingerprint(where), device=device)


def _wrap(kind: model_kinds.ModelKind, model: Any, **kw: Any) -> Adapter:
    return model_kinds.resolve(kind.adapter)(model, kind=kind, **kw)


# --------------------------------------------------------------------------------------------- loaders
def _hub_fingerprint(target: str) -> str:
    p = Path(target).expanduser()
    if p.exists():
        return fingerprint(p)
    return hashlib.sha1(target.encode()).hexdigest()[:12]  # an id passed through online: its name


def _load_run(target: str, *, name: str, device: str, dtype: Any) -> Adapter:
    d = Path(target).expanduser()
    if not (d / "run.json").is_file():
        where = d.resolve()
        raise ModelSpecError(f"run {target!r}: no run.json in {where} (weights must be on disk; "
                             f"{'the directory does not exist' if not d.exists() else 'not a training run directory'})")
    from preattentive.config_schema import ConfigError, RunRecord, read_record

    try:
        record = read_record(d / "run.json", RunRecord, what="run record")
    except ConfigError as e:
        raise ModelSpecError(f"run {target!r}: {e}") from None
    kind = record.get("kind")
    if kind in _RUN_KINDS:
        return _RUN_KINDS[kind](d, record, name=name, device=device, dtype=dtype)
    try:
        mk = model_kinds.kind_for_run(str(kind))
    except ValueError:
        raise ModelSpecError(f"run {target!r}: run.json kind={kind!r}; expected one of: "
                             f"{', '.join([*_kind_runs(), *_RUN_KINDS])}") from None
    model_dir = d / record.get("model_dir", "model")
    if not model_dir.is_dir():
        raise ModelSpecError(f"run {str(d)!r}: model directory {model_dir} is missing (weights must be on disk)")
    model = model_kinds.load(mk, str(model_dir), dtype=dtype, device=device)
    return _wrap(mk, model, name=name, fingerprint=fingerprint(model_dir), record=record, device=device)


__all__ = ["ModelSpec", "ModelSpecError", "PRESETS", "UnknownIdError", "fingerprint", "list_presets", "load_model",
           "parse_spec", "register_preset", "register_run_kind", "register_scheme", "schemes"]
