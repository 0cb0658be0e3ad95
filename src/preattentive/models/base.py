"""Vision-net interface: the NetOutput record, the net registry, save/load and cost counters.

Every vision net (feedforward or recurrent) is a :class:`VisionNet`: a ``torch.nn.Module`` built from one frozen
config dataclass, with ``forward(images, *, steps=None, query=None) -> NetOutput``. Nets are registered under
versioned ids (``cnn-100k-v1``, ``hgru-16-v1``, ...) and built by :func:`make_net`; a trained net is written by
:func:`save_net` as ``config.json`` + ``model.safetensors`` and rebuilt by :func:`load_net`.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from preattentive.files import atomic_write_json, save_safetensors
from preattentive.registry import Registry
from preattentive.stimuli.base import ParamError

FORMAT_VERSION = 1  # bump when config.json's layout changes
# Modules whose import registers the built-in presets (imported on first use, so `import preattentive.models`
# stays light).
_PRESET_MODULES = (
    "preattentive.models.feedforward",
    "preattentive.models.recurrent_hgru",
    "preattentive.models.recurrent_conv",
    "preattentive.models.recurrent_vit",
    "preattentive.models.sequence",
    "preattentive.models.token_budget",
)


# --------------------------------------------------------------------------------------------- records
@dataclass
class NetOutput:
    """What every vision net returns.

    ``logits`` is the readout after the last step, ``step_logits`` stacks the readout of every step (T = 1 for
    feedforward nets), ``states`` holds, per step, each recorded layer as a spatial map ``(B, C_l, h_l, w_l)``
    (ViT tokens reshaped to the patch grid). ``hidden`` is the recurrent state after the last step (``None`` for
    feedforward nets); pass it back as ``forward(..., hidden=out.hidden)`` to continue iterating (Bansal et al.
    2022's progressive loss starts from a detached state).
    """

    logits: Tensor  # (B, C): the final step's readout
    step_logits: Tensor  # (T, B, C)
    states: tuple[dict[str, Tensor], ...]  # length T; layer name -> (B, C_l, h_l, w_l)
    hidden: Any = None  # recurrent state after the last step (net-specific tensors), None for feedforward nets
    pixel_logits: Tensor | None = None  # (B, C, H, W) final step's per-pixel logits at image resolution (nets
    # with a dense head, for dense targets such as the maze-path route; None for nets without one)

    @property
    def steps(self) -> int:
        return self.step_logits.shape[0]


@dataclass(frozen=True)
class NetConfig:
    """Fields every net config has; architecture configs subclass this and add theirs (all with defaults)."""

    num_classes: int = 2  # readout size (answer choices of the task)
    image_size: int = 32  # side (px) the net is built for; sets ViT position grids and default FLOP counts
    conditioning: str = "none"  # "none" | "late" (query joins only at the readout, like LLaVA) | "film" (+ FiLM)
    num_queries: int = 0  # number of distinct question ids (family.queries); needed when conditioning != "none"
    query_dim: int = 16  # size of the learned query embedding

    def __post_init__(self) -> None:
        if self.num_classes < 1:
            raise ParamError(f"num_classes={self.num_classes}: expected >= 1")
        if self.image_size < 8:
            raise ParamError(f"image_size={self.image_size}: expected >= 8 px")
        if self.conditioning not in ("none", "late", "film"):
            raise ParamError(f"conditioning={self.conditioning!r}: expected 'none', 'late' or 'film'")
        if self.conditioning != "none" and self.num_queries < 1:
            raise ParamError(f"num_queries={self.num_queries}: conditioning={self.conditioning!r} needs >= 1")


class VisionNet(nn.Module):
    """Base class: holds the resolved config and the registry id, checks inputs.

    Subclasses set ``arch`` (a short name used by :func:`load_net`) and ``Config``, and implement ``forward``.
    """

    arch: ClassVar[str] = ""
    Config: ClassVar[type[NetConfig]] = NetConfig
    recurrent: ClassVar[bool] = False  # True when `steps` changes the computation

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        if not isinstance(config, self.Config):
            raise ParamError(f"{type(self).__name__} needs a {self.Config.__name__}, got {type(config).__name__}")
        self.config = config
        self.net_id = ""  # filled in by make_net / load_net

    @property
    def default_steps(self) -> int:
        return int(getattr(self.config, "steps", 1))

    def _check(self, images: Tensor, steps: int | None) -> int:
        """Validate ``images`` and return the number of steps to run."""
        if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] != 3:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ParamError(f"images {shape}: expected a float tensor (B, 3, H, W) in [0, 1]")
        if not images.is_floating_point():
            raise ParamError(f"images dtype {images.dtype}: expected float in [0, 1] (divide uint8 by 255)")
        if not self.recurrent:
            return 1  # feedforward nets ignore `steps` so a trainer can pass it uniformly
        t = self.default_steps if steps is None else int(steps)
        if t < 1:
            raise ParamError(f"steps={steps}: expected >= 1")
        return t


def _stack(step_logits: list[Tensor], states: list[dict[str, Tensor]], hidden: Any = None,
           pixel_logits: Tensor | None = None) -> NetOutput:
    """Assemble a NetOutput from per-step lists."""
    sl = torch.stack(step_logits)  # (T, B, C)
    return NetOutput(logits=sl[-1], step_logits=sl, states=tuple(states), hidden=hidden, pixel_logits=pixel_logits)


def tokens_to_map(tokens: Tensor, grid: tuple[int, int]) -> Tensor:
    """(B, N, D) patch tokens -> (B, D, h, w) spatial map on the patch grid."""
    b, n, d = tokens.shape
    h, w = grid
    assert n == h * w, (n, grid)
    return tokens.transpose(1, 2).reshape(b, d, h, w)


# --------------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class NetSpec:
    """A registry entry: the net class and its default config."""

    cls: type[VisionNet]
    config: NetConfig
    doc: str = ""  # one line shown by list_nets(verbose) / the CLI


_NETS: Registry[NetSpec] = Registry("net")
_ARCHS: dict[str, type[VisionNet]] = {}
_loaded = False


def register_arch(cls: type[VisionNet]) -> type[VisionNet]:
    """Class decorator: make ``cls`` rebuildable by :func:`load_net` under ``cls.arch``."""
    if not cls.arch or cls.arch in _ARCHS:
        raise ValueError(f"arch {cls.arch!r} of {cls.__name__} is empty or already registered")
    _ARCHS[cls.arch] = cls
    return cls


def register_net(id: str, cls: type[VisionNet], config: NetConfig, doc: str = "") -> None:
    """Register a preset ``id`` that builds ``cls(config)``."""
    _NETS.register(id, NetSpec(cls, config, doc))


def _ensure_presets() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for name in _PRESET_MODULES:
            importlib.import_module(name)


def list_nets(*, newest: bool = False) -> list[str]:
    """All registered net ids (``newest``: only the newest version of each net).

    Example
    -------
    >>> "cnn-100k-v1" in list_nets()
    True
    """
    _ensure_presets()
    return _NETS.latest() if newest else _NETS.list()


def net_spec(id: str) -> NetSpec:
    """The registry entry of ``id`` (class, default config, doc line)."""
    _ensure_presets()
    return _NETS.get(id)


def _replace(config: NetConfig, overrides: dict[str, Any]) -> NetConfig:
    names = {f.name for f in dataclasses.fields(config)}
    bad = sorted(set(overrides) - names)
    if bad:
        raise ParamError(f"unknown config field(s) {bad} for {type(config).__name__}; expected some of {sorted(names)}")
    hints = typing.get_type_hints(type(config))
    fixed = {}
    for k, v in overrides.items():  # JSON gives lists where the config holds tuples
        fixed[k] = tuple(v) if isinstance(v, list) and "tuple" in str(hints.get(k, "")) else v
    return dataclasses.replace(copy.deepcopy(config), **fixed)


def make_net(id: str, *, num_classes: int | None = None, image_size: int | None = None, **overrides: Any) -> VisionNet:
    """Build a registered net with random weights (seed with ``torch.manual_seed`` / a generator beforehand).

    Parameters
    ----------
    id : registry id, e.g. ``"hgru-16-v1"`` (without ``-vN`` the newest version).
    num_classes, image_size : readout size and the image side the net is built for (preset default when None).
    **overrides : any other field of the net's config (e.g. ``steps=12``, ``conditioning="film"``).

    Example
    -------
    >>> net = make_net("cnn-30k-v1", num_classes=2, image_size=32)
    >>> net(torch.rand(4, 3, 32, 32)).logits.shape
    torch.Size([4, 2])
    """
    _ensure_presets()
    full = _NETS.resolve(id)
    spec = _NETS.get(full)
    if num_classes is not None:
        overrides["num_classes"] = num_classes
    if image_size is not None:
        overrides["image_size"] = image_size
    net = spec.cls(_replace(spec.config, overrides))
    net.net_id = full
    return net


# --------------------------------------------------------------------------------------------- save / load
def config_dict(net: VisionNet) -> dict[str, Any]:
    """The JSON record :func:`save_net` writes: id, arch and the resolved config."""
    return {
        "format": FORMAT_VERSION,
        "id": net.net_id,
        "arch": net.arch,
        "config": dataclasses.asdict(net.config),
    }


def save_net(model: VisionNet, dir: str | os.PathLike) -> Path:
    """Write ``config.json`` (resolved config + id) and ``model.safetensors`` into ``dir`` (created if needed).

    Files are written to temporary names and renamed, so a crash never leaves half a checkpoint.

    Example
    -------
    >>> save_net(make_net("cnn-30k-v1"), "/tmp/cnn")  # doctest: +SKIP
    """
    if not isinstance(model, VisionNet):
        raise ParamError(f"save_net got {type(model).__name__}: expected a preattentive VisionNet")
    d = Path(dir)
    d.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    # sorted metadata: the same weights give the same bytes in every process
    save_safetensors(tensors, d / "model.safetensors", metadata={"id": model.net_id, "arch": model.arch})
    atomic_write_json(d / "config.json", config_dict(model), indent=2, newline=False)
    return d


def load_net(dir: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> VisionNet:
    """Rebuild a net written by :func:`save_net`; it gives outputs identical to the saved one (in eval mode).

    Example
    -------
    >>> net = load_net("/tmp/cnn")  # doctest: +SKIP
    """
    from safetensors.torch import load_file

    d = Path(dir)
    cfg_path, w_path = d / "config.json", d / "model.safetensors"
    if not cfg_path.is_file() or not w_path.is_file():
        raise ParamError(f"{d}: expected a directory with config.json and model.safetensors (from save_net)")
    rec = json.loads(cfg_path.read_text())
    _ensure_presets()
    cls = _ARCHS.get(rec.get("arch", ""))
    if cls is None:
        raise ParamError(f"{cfg_path}: unknown arch {rec.get('arch')!r}; expected one of {sorted(_ARCHS)}")
    config = _replace(cls.Config(), rec["config"])
    net = cls(config)
    net.net_id = rec.get("id", "")
    net.load_state_dict(load_file(str(w_path), device=str(map_location)))
    return net.to(map_location)


# --------------------------------------------------------------------------------------------- costs
def count_params(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters.

    Example
    -------
    >>> count_params(torch.nn.Linear(3, 2))
    8
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def flops_per_image(model: nn.Module, image_size: int | None = None, steps: int | None = None) -> int:
    """Forward FLOPs for one image, counted by ``torch.utils.flop_counter.FlopCounterMode``.

    Counts matrix multiplies and convolutions (2 FLOPs per multiply-add); element-wise ops, norms and softmax
    are not counted. Recurrent nets are counted at ``steps`` (default: their training steps).

    Example
    -------
    >>> flops_per_image(make_net("cnn-30k-v1"), 32) > 0
    True
    """
    from torch.utils.flop_counter import FlopCounterMode

    size = image_size or getattr(getattr(model, "config", None), "image_size", 32)
    p = next(model.parameters())
    x = torch.rand(1, 3, size, size, device=p.device, dtype=p.dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            model(x, steps=steps) if isinstance(model, VisionNet) else model(x)
    finally:
        model.train(was_training)
    return int(fc.get_total_flops())
