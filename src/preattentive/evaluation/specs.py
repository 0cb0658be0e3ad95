"""Model specs: one string names any model (``hf-clip:ID_OR_DIR``, ``hf-llava:ID_OR_DIR``, ``run:DIR``, a preset).

Schemes
-------
``hf-clip:ID_OR_DIR``   a CLIP ``save_pretrained`` directory or a hub id already in the local HF cache.
``hf-llava:ID_OR_DIR``  the same for LLaVA.
``run:DIR``             a run directory this project trained; ``run.json``'s ``"kind"`` (supervised | clip | llava)
                        picks the loader.
``PRESET``              a registered alias (:data:`PRESETS`), e.g. ``clip-b32`` ->
                        ``hf-clip:openai/clip-vit-base-patch32``.
                        Presets only name *pretrained* public checkpoints (their weights must be on disk; nothing
                        is downloaded offline): an untrained preset net or tiny random CLIP would only measure chance.
A bare path to a directory holding ``run.json`` is read as ``run:PATH``.

Adding a model family = an :class:`~preattentive.evaluation.adapters.Adapter` subclass plus
``register_scheme("name", loader)`` (or ``register_run_kind`` for runs).

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

from preattentive.evaluation.adapters import Adapter, ClipAdapter, LlavaAdapter, NetAdapter
from preattentive.registry import Registry, UnknownIdError


class ModelSpecError(ValueError):
    """A model spec that cannot be parsed or whose model is not on disk (one-line message)."""


@dataclass(frozen=True)
class ModelSpec:
    scheme: str  # "hf-clip" | "hf-llava" | "run" | a registered scheme
    target: str  # hub id or directory
    text: str  # the spec as the user wrote it (the model's display name)


PRESETS: Registry[str] = Registry("model preset")
# Public pretrained checkpoints, usable when their weights are in the local HF cache (HF_HUB_OFFLINE=1 forbids
# downloading). Radford et al. 2021 (CLIP); Liu et al. 2024 (LLaVA-1.5).
PRESETS.register("clip-b32-v1", "hf-clip:openai/clip-vit-base-patch32")
PRESETS.register("clip-b16-v1", "hf-clip:openai/clip-vit-base-patch16")
PRESETS.register("clip-l14-v1", "hf-clip:openai/clip-vit-large-patch14")
PRESETS.register("llava-1.5-7b-v1", "hf-llava:llava-hf/llava-1.5-7b-hf")


def register_preset(id: str, spec: str) -> None:
    """Register ``id`` (versioned, e.g. ``"my-clip-v1"``) as an alias for the spec string ``spec``."""
    parse_spec(spec)  # validate now, not at use
    PRESETS.register(id, spec)


def list_presets() -> list[str]:
    """Registered preset ids."""
    return PRESETS.list()


Loader = Callable[..., Adapter]
_SCHEMES: dict[str, Loader] = {}
_RUN_KINDS: dict[str, Loader] = {}


def register_scheme(name: str, loader: Loader) -> None:
    """Register ``loader(target, *, name, device, dtype) -> Adapter`` for specs ``name:TARGET``."""
    if name in _SCHEMES:
        raise ValueError(f"model scheme {name!r} is already registered")
    _SCHEMES[name] = loader


def register_run_kind(kind: str, loader: Loader) -> None:
    """Register ``loader(run_dir, record, *, name, device, dtype) -> Adapter`` for ``run.json`` kind ``kind``."""
    if kind in _RUN_KINDS:
        raise ValueError(f"run kind {kind!r} is already registered")
    _RUN_KINDS[kind] = loader


def parse_spec(text: str) -> ModelSpec:
    """Parse a spec string (resolving presets); raise :class:`ModelSpecError` naming what was expected."""
    text = str(text).strip()
    scheme, sep, target = text.partition(":")
    if sep and scheme in _SCHEMES:
        if not target:
            raise ModelSpecError(f"model spec {text!r} has no target after '{scheme}:'")
        return ModelSpec(scheme, target, text)
    if text in PRESETS:
        inner = parse_spec(PRESETS.get(text))
        return ModelSpec(inner.scheme, inner.target, text)
    if (Path(text).expanduser() / "run.json").is_file():
        return ModelSpec("run", text, text)
    forms = ", ".join(s + (":DIR" if s == "run" else ":ID_OR_DIR") for s in _SCHEMES)
    raise ModelSpecError(f"unknown model spec {text!r}: expected {forms}, "
                         f"a run directory, or a preset ({', '.join(PRESETS.list())})")


def fingerprint(path: str | os.PathLike) -> str:
    """A short hash of a directory's weight/config files (names, sizes, mtimes): changes when weights change."""
    p = Path(path)
    h = hashlib.sha1(str(p.resolve()).encode())
    if p.is_dir():
        for f in sorted(p.rglob("*")):
            if f.is_file() and f.suffix in (".safetensors", ".json", ".bin", ".model", ".txt"):
                st = f.stat()
                h.update(f"{f.relative_to(p)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


def load_model(spec: str | ModelSpec, *, device: str = "cpu", dtype: Any = None) -> Adapter:
    """Load the model a spec names and wrap it in its adapter.

    Raises :class:`ModelSpecError` (or the model room's ``ModelNotFoundError``, also a ``ValueError``) with a
    one-line message when the spec is malformed or the weights are not on disk.

    Example
    -------
    >>> load_model("hf-clip:/nonexistent")  # doctest: +SKIP
    ModelNotFoundError: no CLIP weights for '/nonexistent': not a local directory ...
    """
    s = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    return _SCHEMES[s.scheme](s.target, name=s.text, device=device, dtype=dtype)


# --------------------------------------------------------------------------------------------- loaders
def _hub_fingerprint(target: str) -> str:
    p = Path(target).expanduser()
    if p.exists():
        return fingerprint(p)
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(target, "config.json")
    except Exception:  # malformed repo id: the loader reports it
        hit = None
    return hashlib.sha1(str(hit or target).encode()).hexdigest()[:12]


def _load_hf_clip(target: str, *, name: str, device: str, dtype: Any) -> Adapter:
    from preattentive.models.vlm_common import locate

    locate(target, "CLIP")  # fail fast (one line) before transformers is imported
    from preattentive.models.clip import load_clip

    return ClipAdapter(load_clip(target, dtype=dtype, device=device), name=name, fingerprint=_hub_fingerprint(target))


def _load_hf_llava(target: str, *, name: str, device: str, dtype: Any) -> Adapter:
    from preattentive.models.vlm_common import locate

    locate(target, "LLaVA")
    from preattentive.models.llava import load_llava

    return LlavaAdapter(load_llava(target, dtype=dtype, device=device), name=name,
                        fingerprint=_hub_fingerprint(target))


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
    if kind not in _RUN_KINDS:
        raise ModelSpecError(f"run {target!r}: run.json kind={kind!r}; expected one of: {', '.join(_RUN_KINDS)}")
    return _RUN_KINDS[kind](d, record, name=name, device=device, dtype=dtype)


def _run_supervised(d: Path, record: dict, *, name: str, device: str, dtype: Any) -> Adapter:
    model_dir = d / record.get("model_dir", "model")
    if not model_dir.is_dir():
        raise ModelSpecError(f"run {str(d)!r}: model directory {model_dir} is missing (weights must be on disk)")
    try:
        from preattentive.training import load_run  # the training room's loader, when it exists
    except ImportError:
        load_run = None
    if load_run is not None:
        loaded = load_run(d)
        model = loaded[0] if isinstance(loaded, tuple) else getattr(loaded, "model", loaded)
    else:
        from preattentive.models import load_net

        model = load_net(model_dir)
    model = model.to(device)
    return NetAdapter(model, name=name, fingerprint=fingerprint(model_dir), record=record, device=device)


def _run_clip(d: Path, record: dict, *, name: str, device: str, dtype: Any) -> Adapter:
    from preattentive.models.clip import load_clip

    model_dir = d / record.get("model_dir", "model")
    return ClipAdapter(load_clip(model_dir, dtype=dtype, device=device), name=name,
                       fingerprint=fingerprint(model_dir), record=record)


def _run_llava(d: Path, record: dict, *, name: str, device: str, dtype: Any) -> Adapter:
    from preattentive.models.llava import load_llava

    model_dir = d / record.get("model_dir", "model")
    return LlavaAdapter(load_llava(model_dir, dtype=dtype, device=device), name=name,
                        fingerprint=fingerprint(model_dir), record=record)


register_scheme("hf-clip", _load_hf_clip)
register_scheme("hf-llava", _load_hf_llava)
register_scheme("run", _load_run)
register_run_kind("supervised", _run_supervised)
register_run_kind("clip", _run_clip)
register_run_kind("llava", _run_llava)

__all__ = ["ModelSpec", "ModelSpecError", "PRESETS", "UnknownIdError", "fingerprint", "list_presets", "load_model",
           "parse_spec", "register_preset", "register_run_kind", "register_scheme"]
