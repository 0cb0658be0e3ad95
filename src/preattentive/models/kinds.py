"""Model kinds as one registry: everything the toolkit knows about a kind of model, in one spec.

A :class:`ModelKind` says how a kind is loaded, built and saved, which ``model_type`` s it serves, which adapter the
evaluation room wraps it in and which evaluation methods it supports (declared here, not in the adapter), how
the physiology room records its units and how the training room trains it. The rooms that *use* a part import it
from the dotted path the spec names (``"package.module:attr"``, like a ``pyproject`` entry point), so this
module imports nothing of theirs and the room arrows stay one-way: ``evaluation`` reads ``adapter``,
``training`` reads ``trainer``, ``physiology`` / ``studies`` read ``recorder``.

Dispatchers read these specs — ``evaluation.specs`` (spec schemes and ``run.json`` kinds), ``training.load_run``,
the demo's physiology stage, ``preattentive models list`` — so adding a model family is one module with its
loader plus one :func:`register_kind` call (README: "Adding a model kind").

Example
-------
>>> kind_for_scheme("hf-clip").name  # an alias
'hf-contrastive'
>>> kind_for_run("llava").name
'hf-vlm'
>>> kind_for_scheme("hf-vision").methods
('probe',)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class ModelKind:
    """One kind of model. Dotted paths (``"module:attr"``) are imported by the room that uses them."""

    name: str  # the kind's id; also its spec scheme ("hf-vlm" -> "hf-vlm:ID_OR_DIR") when ``scheme`` is True
    summary: str  # one line for `preattentive models list`
    load: str  # "module:fn", fn(where: str, *, dtype, device) -> the model wrapper
    adapter: str  # "module:Class" of the evaluation room: Class(model, name=, fingerprint=, record=, kind=, device=)
    methods: tuple[str, ...]  # evaluation methods it supports; the first is what `--method auto` picks
    scheme: bool = True  # addressable as "NAME:ID_OR_DIR" (False: only through run directories)
    aliases: tuple[str, ...] = ()  # older scheme names that mean this kind ("hf-clip")
    run_kinds: tuple[str, ...] = ()  # run.json "kind" values whose model/ this kind loads
    model_types: Any = None  # HF config model_type s served: a tuple, "module:fn" returning a set, or None (any)
    build: str | None = None  # "module:fn" building a new model from a preset (tiny from-scratch models)
    presets: str | None = None  # "module:fn" listing the presets ``build`` accepts
    save: str = "save_pretrained"  # how a model is written: "save_pretrained" (model + processor) or "module:fn"
    recorder: str | None = None  # "module:fn" of the physiology room recording its units; None = not yet
    trainer: str | None = None  # "module:fn" of the training room; None = not trainable here
    notes: dict[str, str] = field(default_factory=dict)  # anything else a room wants to say (shown by `models list`)

    def served(self) -> frozenset[str] | None:
        """The model_type s this kind serves (None: any / not an HF kind)."""
        if self.model_types is None:
            return None
        if isinstance(self.model_types, str):
            found = resolve(self.model_types)
            return frozenset(found() if callable(found) else found)
        return frozenset(self.model_types)

    def serves(self, model_type: str) -> bool:
        s = self.served()
        return s is None or model_type in s

    @property
    def auto_method(self) -> str:
        return self.methods[0] if self.methods else ""

    @property
    def schemes(self) -> tuple[str, ...]:
        return ((self.name,) if self.scheme else ()) + self.aliases


_KINDS: dict[str, ModelKind] = {}


def resolve(path: str) -> Any:
    """Import ``"package.module:attr"`` and return the attribute (one-line error when it does not exist)."""
    module, sep, attr = path.partition(":")
    if not sep:
        raise ValueError(f"dotted path {path!r}: expected 'package.module:attribute'")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"{path!r} cannot be imported ({type(e).__name__}: {e})") from None


def register_kind(kind: ModelKind) -> ModelKind:
    """Add a kind; its name, schemes and run kinds must all be new.

    Example
    -------
    >>> register_kind(ModelKind("hf-depth", "depth estimators", load="mypkg.depth:load",
    ...                         adapter="preattentive.evaluation.adapters:VisionAdapter",
    ...                         methods=("probe",), model_types=("dpt",)))  # doctest: +SKIP
    """
    taken = {s for k in _KINDS.values() for s in (k.name, *k.schemes)}
    runs = {r for k in _KINDS.values() for r in k.run_kinds}
    clash = [s for s in (kind.name, *kind.schemes) if s in taken] + [r for r in kind.run_kinds if r in runs]
    if clash:
        raise ValueError(f"model kind {kind.name!r}: {clash[0]!r} is already registered")
    if not kind.methods:
        raise ValueError(f"model kind {kind.name!r} declares no evaluation method")
    _KINDS[kind.name] = kind
    return kind


def unregister_kind(name: str) -> None:
    """Remove a kind (tests and plugins that registered one for a while)."""
    _KINDS.pop(name, None)


def list_kinds() -> list[ModelKind]:
    """Every registered kind, in registration order."""
    return list(_KINDS.values())


def kind_for_scheme(scheme: str) -> ModelKind:
    """The kind addressed by spec scheme ``scheme`` (its name or an alias); KeyError when none."""
    for k in _KINDS.values():
        if scheme in k.schemes:
            return k
    raise KeyError(scheme)


def kind_for_run(run_kind: str) -> ModelKind:
    """The kind that loads a run whose ``run.json`` says ``"kind": run_kind``; ValueError naming the known ones."""
    for k in _KINDS.values():
        if run_kind in k.run_kinds:
            return k
    known = [r for k in _KINDS.values() for r in k.run_kinds]
    raise ValueError(f"run kind {run_kind!r}: expected one of: {', '.join(known)}")


def kinds_serving(model_type: str) -> list[ModelKind]:
    """The addressable kinds that declare ``model_type`` (for "use hf-vlm:DIR instead" messages)."""
    return [k for k in _KINDS.values() if k.scheme and k.model_types is not None and k.serves(model_type)]


def check_model_type(kind: ModelKind, model_type: str, target: str) -> None:
    """One-line ValueError when ``kind`` does not serve ``model_type``, naming the scheme that does."""
    if kind.serves(model_type):
        return
    fits = [k.name for k in kinds_serving(model_type)]
    hint = (f"use {fits[0]}:{target}" if fits else "no kind here serves it (preattentive models list)")
    raise ValueError(f"{kind.name}:{target}: the checkpoint's model_type is {model_type!r}, which {kind.name} does "
                     f"not serve ({kind.summary}); {hint}")


def load(kind: ModelKind, where: str, *, dtype: Any = None, device: Any = "cpu") -> Any:
    """Call ``kind.load(where, dtype=, device=)``."""
    fn: Callable[..., Any] = resolve(kind.load)
    return fn(where, dtype=dtype, device=device)


def _load_net(where: str, *, dtype: Any = None, device: Any = "cpu") -> Any:
    """A net of ``preattentive.models`` from its ``save_net`` directory, on ``device`` (dtype: float32 only)."""
    from preattentive.models.base import load_net
    from preattentive.models.vlm_common import resolve_device

    dev = resolve_device(device)
    if dtype not in (None, "auto", "float32", "fp32"):
        raise ValueError(f"dtype={dtype!r}: the vision nets run in float32; expected auto or float32")
    return load_net(where).to(dev)


# --------------------------------------------------------------------------------------------- built-in kinds
_A = "preattentive.evaluation.adapters:"
register_kind(ModelKind(
    "net", "this project's vision nets (CNN / ViT baselines, recurrent and feedback nets)", scheme=False,
    load="preattentive.models.kinds:_load_net", adapter=_A + "NetAdapter", methods=("supervised", "probe"),
    run_kinds=("supervised",), build="preattentive.models.base:make_net", presets="preattentive.models.base:list_nets",
    save="preattentive.models.base:save_net", recorder="preattentive.physiology:record_net",
    trainer="preattentive.training.loop:train_supervised"))
register_kind(ModelKind(
    "hf-contrastive", "contrastive image-text models (CLIP, SigLIP, SigLIP 2)",
    load="preattentive.models.hf_contrastive:load_contrastive", adapter=_A + "ContrastiveAdapter",
    methods=("zero-shot", "probe"), aliases=("hf-clip",), run_kinds=("clip",),
    model_types="preattentive.models.hf_contrastive:MODEL_TYPES", build="preattentive.models.clip:build_clip",
    presets="preattentive.models.clip:list_presets", recorder="preattentive.physiology:record_clip",
    trainer="preattentive.training.clip:train_clip"))
register_kind(ModelKind(
    "hf-vlm", "any image-text-to-text model (LLaVA-1.5/NeXT/OneVision, Qwen2(.5)-VL, Idefics3, SmolVLM, "
    "PaliGemma, ...)", load="preattentive.models.hf_vlm:load_vlm", adapter=_A + "VlmAdapter",
    methods=("generative", "choice-likelihood", "probe"), aliases=("hf-llava",), run_kinds=("llava",),
    model_types="preattentive.models.hf_vlm:served_model_types", build="preattentive.models.llava:build_llava",
    presets="preattentive.models.llava:list_presets", trainer="preattentive.training.llava:train_llava"))
register_kind(ModelKind(
    "hf-vision", "vision backbones through AutoModel (ViT, DINOv2, ConvNeXt, ResNet, Swin, ...)",
    load="preattentive.models.hf_vision:load_vision", adapter=_A + "VisionAdapter", methods=("probe",),
    model_types="preattentive.models.hf_vision:served_model_types",
    recorder="preattentive.physiology:record_vision"))


def _load_plugins() -> None:
    """Kinds other packages declare under the ``preattentive.model_kinds`` entry-point group (each entry point
    names a module whose import calls :func:`register_kind`), so that the CLI sees them too."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="preattentive.model_kinds"):
        try:
            ep.load()
        except Exception as e:  # a broken plugin must not break the toolkit; say so once
            import warnings

            warnings.warn(f"model-kind plugin {ep.name!r} ({ep.value}) failed to load: {e}", stacklevel=2)


_load_plugins()
