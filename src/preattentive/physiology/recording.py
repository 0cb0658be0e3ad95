"""Recording model units by layer and time step: per-step net states, or forward hooks on any torch module.

A *unit* is (layer, channel, map position); every recorded layer is a spatial map ``(N, C, h, w)`` over the
``N`` stimuli, and ViT-style token sequences ``(N, tokens, D)`` are reshaped to their patch grid (a leading CLS or
register token is dropped). Time steps are numbered from 1 (step 1 = the first feedforward sweep); a feedforward
model has one step. A module called several times in one forward pass (a weight-shared recurrent cell) yields
one step per call, in call order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from preattentive.physiology.receptive_fields import ReceptiveFields, receptive_fields


@dataclass
class Recording:
    """Unit responses of one model to ``N`` stimuli.

    ``maps[(layer, step)]`` is a float32 array ``(N, C, h, w)``; ``image_size`` is the stimulus side ``(H, W)``
    in px, which fixes where each map position's receptive-field centre lies (see
    :func:`preattentive.physiology.units.rf_centres`). ``rfs`` are the receptive-field boxes of every map position
    (:func:`~preattentive.physiology.receptive_fields.receptive_fields`), which the identical-pixel control needs;
    without them every unit counts as seeing the whole image, so none passes the control.

    Example
    -------
    >>> rec = Recording({("conv1", 1): np.zeros((4, 8, 16, 16), np.float32)}, image_size=(32, 32))
    >>> rec.layers, rec.steps("conv1")
    (['conv1'], [1])
    """

    maps: dict[tuple[str, int], np.ndarray]
    image_size: tuple[int, int]  # (H, W) px of the stimuli
    model: str = ""  # a name for tables and plots
    meta: dict[str, Any] = field(default_factory=dict)
    rfs: ReceptiveFields | None = None  # RF boxes per (layer, step); None: unknown (whole image)

    @property
    def receptive_fields(self) -> ReceptiveFields:
        """``rfs``, or "unknown" RFs (every unit sees the whole image) when the recorder could not compute them."""
        return self.rfs if self.rfs is not None else ReceptiveFields({}, self.image_size, known=False)

    @property
    def layers(self) -> list[str]:
        """Layer names in recording order."""
        return list(dict.fromkeys(layer for layer, _ in self.maps))

    def steps(self, layer: str) -> list[int]:
        """The recorded time steps of ``layer`` (1-based), ascending."""
        return sorted(step for name, step in self.maps if name == layer)

    @property
    def n_stimuli(self) -> int:
        return next(iter(self.maps.values())).shape[0] if self.maps else 0

    def __getitem__(self, key: tuple[str, int]) -> np.ndarray:
        return self.maps[key]


# --------------------------------------------------------------------------------------------- conversions
def tokens_to_map(tokens: Any, grid: tuple[int, int] | None = None) -> Any:
    """Token sequence ``(B, N, D)`` → spatial map ``(B, D, gh, gw)``, dropping leading non-patch tokens.

    ``grid`` defaults to the largest square ``g * g <= N`` (so one CLS token, or a few register tokens, in front
    of ``g * g`` patch tokens are dropped). Works on torch tensors and numpy arrays.

    Example
    -------
    >>> tokens_to_map(np.zeros((2, 1 + 16, 8))).shape
    (2, 8, 4, 4)
    """
    b, n, d = tokens.shape
    if grid is None:
        g = math.isqrt(n)
        grid = (g, g)
    gh, gw = grid
    extra = n - gh * gw
    if extra < 0:
        raise ValueError(f"{n} tokens cannot fill a {gh}x{gw} patch grid")
    patches = tokens[:, extra:, :]  # (B, gh*gw, D), patch tokens in row-major order
    return patches.reshape(b, gh, gw, d).permute(0, 3, 1, 2) if hasattr(patches, "permute") \
        else patches.reshape(b, gh, gw, d).transpose(0, 3, 1, 2)


def as_map(value: Any, grid: tuple[int, int] | None = None) -> Any:
    """A hooked module's output as a ``(B, C, h, w)`` map: conv maps pass, tokens are reshaped.

    Tuples/lists (HF layers) and objects with ``last_hidden_state`` give their first tensor.
    """
    if hasattr(value, "last_hidden_state"):
        value = value.last_hidden_state
    if isinstance(value, (tuple, list)):
        value = value[0]
    if value.ndim == 4:
        return value
    if value.ndim == 3:
        return tokens_to_map(value, grid)
    raise ValueError(f"cannot record an output of shape {tuple(value.shape)}: expected (B,C,h,w) or (B,N,D)")


def _images_tensor(images: Any):
    import torch

    if isinstance(images, torch.Tensor):
        return images.float()
    from preattentive.datasets import images_tensor

    return images_tensor(list(images) if not isinstance(images, np.ndarray) else images)


def _image_hw(x) -> tuple[int, int]:
    return int(x.shape[-2]), int(x.shape[-1])


def _stack(chunks: dict[tuple[str, int], list[np.ndarray]]) -> dict[tuple[str, int], np.ndarray]:
    return {k: np.concatenate(v, axis=0) for k, v in chunks.items()}


# --------------------------------------------------------------------------------------------- recorders
def record_net(net: Any, images: Any, *, steps: int | None = None, query: Sequence[int] | None = None,
               layers: Iterable[str] | None = None, batch_size: int = 32, model: str = "",
               rfs: ReceptiveFields | None = None) -> Recording:
    """Record a vision net's per-step ``NetOutput.states`` for ``images``.

    Parameters
    ----------
    net : a module with ``forward(images, *, steps=, query=) -> NetOutput`` (``states``: a tuple over time
        steps of ``{layer: (B, C, h, w)}``).
    images : ``(N, H, W, 3)`` uint8 array (or list of them), or a float tensor ``(N, 3, H, W)`` in [0, 1].
    steps : time steps to unroll (None: the net's default).
    query : per-image question ids for question-conditioned nets (None: no query).
    layers : layer names to keep (None: all).
    batch_size : images per forward pass.
    model : a name for the tables.
    rfs : receptive fields of the recorded maps (None: from the net's RF rule, see
        :func:`~preattentive.physiology.receptive_fields.receptive_fields`).

    Example
    -------
    >>> rec = record_net(net, trials.images, steps=4)  # doctest: +SKIP
    >>> rec.maps[("layer1", 4)].shape  # doctest: +SKIP
    (64, 16, 32, 32)
    """
    import torch

    x_all = _images_tensor(images)
    keep = None if layers is None else set(layers)
    q_all = None if query is None else torch.as_tensor(np.asarray(query), dtype=torch.long)
    chunks: dict[tuple[str, int], list[np.ndarray]] = {}
    was_training = getattr(net, "training", False)
    net.eval()
    try:
        with torch.no_grad():
            for s in range(0, len(x_all), batch_size):
                q = None if q_all is None else q_all[s:s + batch_size]
                out = net(x_all[s:s + batch_size], steps=steps, query=q)
                for t, state in enumerate(out.states, start=1):
                    for name, fmap in state.items():
                        if keep is None or name in keep:
                            chunks.setdefault((name, t), []).append(as_map(fmap).float().cpu().numpy())
    finally:
        net.train(was_training)
    if keep is not None and not chunks:
        raise ValueError(f"none of the layers {sorted(keep)} is in the net's states")
    if rfs is None:
        rfs = receptive_fields(net, _image_hw(x_all), steps=max(t for _, t in chunks))
    return Recording(_stack(chunks), _image_hw(x_all), model=model, rfs=rfs)


def record_modules(model: Any, images: Any, modules: Mapping[str, Any], *,
                   forward: Callable[[Any], Any] | None = None, grid: tuple[int, int] | None = None,
                   image_size: tuple[int, int] | None = None, batch_size: int = 32, name: str = "",
                   rfs: ReceptiveFields | None = None) -> Recording:
    """Record the outputs of named submodules with forward hooks (any torch model, HF models included).

    Each call of a hooked module during one forward pass is one time step (a weight-shared recurrent cell called
    T times gives steps 1..T). Outputs may be maps ``(B, C, h, w)`` or tokens ``(B, N, D)`` (reshaped to their
    patch grid, see :func:`tokens_to_map`).

    Parameters
    ----------
    model : the torch module.
    images : what ``forward`` takes, batched along the first axis (default: ``(N, H, W, 3)`` uint8 converted to
        ``(N, 3, H, W)`` floats in [0, 1] and passed as ``model(x)``).
    modules : ``{layer name: submodule}`` to hook.
    forward : ``forward(batch)`` runs the model on one batch of ``images`` (e.g. preprocessing for HF models).
    grid : the patch grid for token outputs (default: the largest square).
    image_size : ``(H, W)`` px of the stimuli (default: from ``images``).
    batch_size : items per forward pass.
    name : a name for the tables.
    rfs : the hooked maps' receptive fields, keyed ``(layer, step)``; None: unknown, so no unit passes the
        identical-pixel control (hooks see modules, not the graph between them, so RFs cannot be derived here).

    Example
    -------
    >>> rec = record_modules(cnn, images, {"conv1": cnn.conv1, "conv2": cnn.conv2})  # doctest: +SKIP
    """
    import torch

    if forward is None:
        images = _images_tensor(images)
        forward = model
    if image_size is None:
        image_size = (images.shape[1], images.shape[2]) if isinstance(images, np.ndarray) and images.ndim == 4 \
            and images.shape[-1] == 3 else _image_hw(images)
    chunks: dict[tuple[str, int], list[np.ndarray]] = {}
    calls: dict[str, int] = {}

    def hook_for(layer: str):
        def hook(_module, _inputs, output):
            calls[layer] = calls.get(layer, 0) + 1
            fmap = as_map(output, grid)
            chunks.setdefault((layer, calls[layer]), []).append(fmap.detach().float().cpu().numpy())
        return hook

    handles = [m.register_forward_hook(hook_for(layer)) for layer, m in modules.items()]
    try:
        with torch.no_grad():
            for s in range(0, len(images), batch_size):
                calls.clear()
                forward(images[s:s + batch_size])
    finally:
        for h in handles:
            h.remove()
    if not chunks:
        raise ValueError(f"no hooked module ran during the forward pass: {sorted(modules)}")
    return Recording(_stack(chunks), tuple(int(v) for v in image_size), model=name, rfs=rfs)


def record_clip(clip: Any, images: Any, *, layers: Iterable[str] | None = None, batch_size: int = 32,
                model: str = "") -> Recording:
    """Record a CLIP vision tower's patch tokens per layer (one time step: a feedforward sweep).

    ``clip`` is a :class:`preattentive.models.clip.Clip` (its :meth:`features` gives each layer's patch tokens
    as ``(B, D, gh, gw)``). The patch grid tiles the whole stimulus (the processor resizes, it does not crop a
    square image), so RF centres are in the stimulus's own pixels.

    Example
    -------
    >>> rec = record_clip(clip, trials.images, layers=["layers.1", "layers.3"])  # doctest: +SKIP
    """
    ims = list(images)
    if not ims:
        raise ValueError("record_clip needs at least one image")
    chunks: dict[tuple[str, int], list[np.ndarray]] = {}
    for s in range(0, len(ims), batch_size):
        feats = clip.features(ims[s:s + batch_size], layers=layers)
        for name, fmap in feats.maps.items():
            chunks.setdefault((name, 1), []).append(fmap.float().cpu().numpy())
    h, w = np.asarray(ims[0]).shape[:2]
    return Recording(_stack(chunks), (int(h), int(w)), model=model, rfs=receptive_fields(clip, (int(h), int(w))))


def record_vision(backbone: Any, images: Any, *, layers: Iterable[str] | None = None, batch_size: int = 32,
                  model: str = "") -> Recording:
    """Record an ``hf-vision:`` backbone's maps per layer (one time step: a feedforward sweep), with the
    receptive fields of its processor and architecture (``physiology.rf_rules.hf_vision``).

    ``backbone`` is a :class:`preattentive.models.hf_vision.VisionBackbone` (ViT, DINOv2, ConvNeXt, ResNet, Swin).

    Example
    -------
    >>> rec = record_vision(load_vision("facebook/dinov2-small"), trials.images)  # doctest: +SKIP
    """
    ims = list(images)
    if not ims:
        raise ValueError("record_vision needs at least one image")
    chunks: dict[tuple[str, int], list[np.ndarray]] = {}
    for s in range(0, len(ims), batch_size):
        for name, fmap in backbone.features(ims[s:s + batch_size], layers=layers).items():
            chunks.setdefault((name, 1), []).append(fmap.float().cpu().numpy())
    h, w = np.asarray(ims[0]).shape[:2]
    return Recording(_stack(chunks), (int(h), int(w)), model=model, rfs=receptive_fields(backbone, (int(h), int(w))))
