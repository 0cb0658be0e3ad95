"""Model adapters: every model family seen through one narrow interface the evaluation methods call.

An adapter wraps a loaded model and implements the capabilities it has; the rest raise
:class:`UnsupportedMethod`. Which evaluation methods a model supports is declared by its kind
(:class:`preattentive.models.kinds.ModelKind`), not listed here; an adapter built without a kind (a stand-in in a
test, a user's own) may declare ``methods`` itself. A new model family reuses one of these adapters when its
wrapper offers the same calls (``zero_shot``, ``generate`` + ``score_choices``, ``features``).

=================  ======================================================================================
capability         signature (images are a list of uint8 ``(H, W, 3)`` RGB arrays)
=================  ======================================================================================
``zero_shot``      ``(images, prompts: list[list[str]]) -> list[np.ndarray]`` — a probability per prompt
``generate``       ``(images, questions: list[str], max_new_tokens) -> list[str]`` — greedy, batched
``score_choices``  ``(images, questions, choices: list[list[str]], reduce) -> list[np.ndarray]`` — log-probability
                   of each choice's tokens given the prompt
``classify``       ``(images, queries, steps=None) -> np.ndarray (B, C)`` — trained readout logits (``steps``:
                   recurrent iterations at test time, e.g. more than in training; Bansal et al. 2022)
``features``       ``(images, layer, step, queries) -> np.ndarray (B, D)`` — frozen features for probes
=================  ======================================================================================

Example
-------
>>> adapter = NetAdapter(my_net, name="run:runs/hgru")  # doctest: +SKIP
>>> adapter.classify([trial.image], None).shape  # doctest: +SKIP
(1, 2)
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np


class UnsupportedMethod(ValueError):
    """The model cannot be evaluated with the requested method."""


class Adapter:
    """Base class: a loaded model plus its display ``name`` and a ``fingerprint`` that changes with its weights."""

    kind: ClassVar[str] = "model"
    auto_method: ClassVar[str] = ""  # what `--method auto` picks when there is no model kind
    methods: ClassVar[tuple[str, ...]] = ()  # methods supported when there is no model kind

    def __init__(self, model: Any, *, name: str = "", fingerprint: str = "", record: dict | None = None,
                 kind: Any = None, device: Any = "cpu") -> None:
        self.model = model
        self.name = name or type(model).__name__
        self.fingerprint = fingerprint
        self.record = dict(record or {})  # e.g. the run.json of a trained run
        self.device = device
        if kind is not None:  # the model kind's declaration wins (preattentive.models.kinds)
            self.model_kind = kind
            self.kind = kind.name
            self.methods = tuple(kind.methods)
            self.auto_method = kind.auto_method

    @property
    def prompt_format(self) -> str:
        """Where a generative model's prompts come from (recorded in every result row); ``""`` otherwise."""
        return ""

    def prompts(self, questions: Sequence[str]) -> list[str]:
        """The exact text prompts ``generate`` would send (recorded in the result rows); ``[""] * n`` otherwise."""
        return [""] * len(questions)

    def check_method(self, method: str, options: dict[str, Any]) -> None:
        """Raise a one-line ValueError before any work when ``method`` with ``options`` cannot run."""

    def _unsupported(self, method: str) -> UnsupportedMethod:
        return UnsupportedMethod(f"model {self.name!r} ({self.kind}) does not support method {method!r}; "
                                 f"expected one of: {', '.join(self.methods)}")

    def zero_shot(self, images: Sequence[np.ndarray], prompts: Sequence[Sequence[str]]) -> list[np.ndarray]:
        raise self._unsupported("zero-shot")

    def generate(self, images: Sequence[np.ndarray], questions: Sequence[str], max_new_tokens: int = 16
                 ) -> list[str]:
        raise self._unsupported("generative")

    def classify(self, images: Sequence[np.ndarray], queries: np.ndarray | None, steps: int | None = None
                 ) -> np.ndarray:
        raise self._unsupported("supervised")

    def features(self, images: Sequence[np.ndarray], layer: str | None, step: int | None,
                 queries: np.ndarray | None) -> np.ndarray:
        raise self._unsupported("probe")

    def score_choices(self, images: Sequence[np.ndarray], questions: Sequence[str],
                      choices: Sequence[Sequence[str]], reduce: str = "mean") -> list[np.ndarray]:
        raise self._unsupported("choice-likelihood")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def to_vectors(x: Any, grid: int = 4) -> np.ndarray:
    """Flatten a feature tensor to ``(B, D)``: spatial maps ``(B, C, h, w)`` are average-pooled to at most
    ``grid x grid`` first (keeps coarse position, which curve tracing and figure-ground need), token sequences
    ``(B, N, D)`` become the mean token concatenated with the first (CLS) token."""
    import torch

    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    t = t.detach().float().cpu()
    if t.ndim == 4:
        t = torch.nn.functional.adaptive_avg_pool2d(t, (min(grid, t.shape[2]), min(grid, t.shape[3])))
    elif t.ndim == 3:
        t = torch.cat([t[:, 0], t.mean(1)], dim=1)  # (B, 2D)
    return t.reshape(t.shape[0], -1).numpy()


def images_to_tensor(images: Sequence[np.ndarray], device: str = "cpu"):
    """uint8 ``(H, W, 3)`` arrays -> float32 ``(B, 3, H, W)`` in [0, 1] (the nets' agreed input)."""
    import torch

    x = torch.from_numpy(np.stack([np.asarray(im) for im in images])).to(device)
    return x.permute(0, 3, 1, 2).float().div_(255.0)


# --------------------------------------------------------------------------------------------- contrastive
class ContrastiveAdapter(Adapter):
    """A CLIP-like model exposing ``zero_shot(images, prompts)`` (one prompt list, or one list per image) and
    ``features(images, layers=[...])`` (``models.clip.Clip``, ``models.hf_contrastive.Contrastive``)."""

    kind = "hf-contrastive"
    auto_method = "zero-shot"
    methods = ("zero-shot", "probe")

    def zero_shot(self, images, prompts):
        lists = [list(p) for p in prompts]
        if all(p == lists[0] for p in lists):  # one text encoding shared by the batch
            return list(np.asarray(_numpy(self.model.zero_shot(list(images), lists[0])), dtype=np.float64))
        out: list[np.ndarray | None] = [None] * len(images)
        by_len: dict[int, list[int]] = {}
        for i, p in enumerate(lists):  # per-image prompt lists must share a length within one call
            by_len.setdefault(len(p), []).append(i)
        for idx in by_len.values():
            probs = np.asarray(_numpy(self.model.zero_shot([images[i] for i in idx], [lists[i] for i in idx])),
                               dtype=np.float64)  # (b, n_prompts)
            for j, i in enumerate(idx):
                out[i] = probs[j]
        return out  # type: ignore[return-value]

    def features(self, images, layer, step, queries):
        if step not in (None, 0, -1):
            raise ValueError(f"step={step}: {self.name} is feedforward (one step); expected None")
        return _pick_layer(self.model.features(list(images), layers=[layer] if layer else None), layer)


ClipAdapter = ContrastiveAdapter  # the name before model kinds


# --------------------------------------------------------------------------------------------- VLMs
class VlmAdapter(Adapter):
    """An image-text-to-text model (``models.hf_vlm.Vlm``, ``models.llava.Llava``): ``generate`` (batched, left
    padding), ``score_choices`` (choice likelihood) and ``features`` (LM hidden states over the image tokens)."""

    kind = "hf-vlm"
    auto_method = "generative"
    methods = ("generative", "choice-likelihood", "probe")

    @property
    def prompt_format(self) -> str:
        return str(getattr(self.model, "prompt_format", ""))

    def prompts(self, questions):
        return [self.model.prompt(q) for q in questions]

    def check_method(self, method, options):
        if method in ("generative", "choice-likelihood") and "{image}" not in str(options.get("template", "")):
            check = getattr(self.model, "check_prompts", None)
            if check is not None:
                check(self.name)

    def generate(self, images, questions, max_new_tokens=16):
        return [str(s) for s in self.model.generate(list(images), list(questions), max_new_tokens=max_new_tokens)]

    def score_choices(self, images, questions, choices, reduce="mean"):
        return self.model.score_choices(list(images), list(questions), [list(c) for c in choices], reduce=reduce)

    def features(self, images, layer, step, queries):
        if step not in (None, 0, -1):
            raise ValueError(f"step={step}: {self.name} is feedforward (one step); expected None")
        return _pick_layer(self.model.features(list(images), layers=[layer] if layer else None), layer)


LlavaAdapter = VlmAdapter  # the name before model kinds


# --------------------------------------------------------------------------------------------- backbones
class VisionAdapter(Adapter):
    """A vision backbone (``models.hf_vision.VisionBackbone``): ``features`` only (linear probes)."""

    kind = "hf-vision"
    auto_method = "probe"
    methods = ("probe",)

    def features(self, images, layer, step, queries):
        if step not in (None, 0, -1):
            raise ValueError(f"step={step}: {self.name} is feedforward (one step); expected None")
        return _pick_layer(self.model.features(list(images), layers=[layer] if layer else None), layer)


# --------------------------------------------------------------------------------------------- our nets
class NetAdapter(Adapter):
    """A vision net of ``preattentive.models`` (``forward(images, steps=, query=) -> NetOutput``)."""

    kind = "net"
    auto_method = "supervised"
    methods = ("supervised", "probe")

    def __init__(self, model, *, steps: int | None = None, device: str = "cpu", **kw) -> None:
        super().__init__(model, device=device, **kw)
        self.steps = steps  # recurrent unroll at test time (None = the net's default)

    def _forward(self, images, queries, steps=None):
        import torch

        x = images_to_tensor(images, self.device)
        q = None
        if queries is not None and len(queries) and (np.asarray(queries) >= 0).all():
            q = torch.as_tensor(np.asarray(queries), dtype=torch.long, device=self.device)
        self.model.eval()
        with torch.inference_mode():
            return self.model(x, steps=steps if steps is not None else self.steps, query=q)

    def classify(self, images, queries, steps=None):
        return self._forward(images, queries, steps).logits.float().cpu().numpy()

    def features(self, images, layer, step, queries):
        out = self._forward(images, queries)
        states = out.states
        t = len(states) - 1 if step is None else step
        if not -len(states) <= t < len(states):
            raise ValueError(f"step={step}: the net ran {len(states)} steps; expected 0..{len(states) - 1}")
        maps = states[t]
        if layer is None:
            layer = list(maps)[-1]
        if layer not in maps:
            raise ValueError(f"layer {layer!r} not found; expected one of: {', '.join(maps)}")
        return to_vectors(maps[layer])


def _pick_layer(feats: Any, layer: str | None) -> np.ndarray:
    """One layer of a features result: a dict of tensors, or an object with ``maps`` (+ ``cls``) dicts
    (``models.clip.ClipFeatures``: patch maps pooled to a coarse grid, concatenated with the class token)."""
    maps = getattr(feats, "maps", feats)
    if not isinstance(maps, dict):
        return to_vectors(maps)
    layer = layer if layer is not None else list(maps)[-1]
    if layer not in maps:
        raise ValueError(f"layer {layer!r} not found; expected one of: {', '.join(map(str, maps))}")
    vec = to_vectors(maps[layer])
    cls = getattr(feats, "cls", None)
    if isinstance(cls, dict) and layer in cls:
        vec = np.concatenate([vec, to_vectors(cls[layer])], axis=1)
    return vec


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().float().cpu().numpy()
    return np.asarray(x)
