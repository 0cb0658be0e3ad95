"""Convolutional recurrent nets: BLT (bottom-up, lateral, top-down) and a Deep-Thinking recall block.

- **BLT** (Spoerer, McClure & Kriegeskorte 2017, Front Psychol; Spoerer, Kietzmann, Mehrer, Charest &
  Kriegeskorte 2020, PLoS Comput Biol): a stack of conv layers; at step t layer l sums a bottom-up conv of layer
  l-1 at step t, a lateral conv of itself at t-1 and a top-down conv of layer l+1 at t-1; readout at every step.
- **Recall** (Bansal, Schwarzschild, Borgnia, Emam, Huang, Goldblum & Goldstein 2022, NeurIPS, "End-to-end
  algorithm synthesis with recurrent networks"): one weight-tied residual block iterated T times with the input
  image re-injected (concatenated) at every step, so the net can be run for more steps on larger mazes. The
  progressive loss is the trainer's job; this module gives it per-step logits and ``forward(hidden=...)`` to
  continue from a detached state.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from preattentive.stimuli.base import ParamError

from .base import NetConfig, NetOutput, VisionNet, _stack, register_arch, register_net
from .conditioning import QueryConditioner


# --------------------------------------------------------------------------------------------- norms
class ChannelNorm(nn.Module):
    """LayerNorm over the channels at each map position (Ba et al. 2016; ConvNeXt's channels-first LayerNorm).

    Unlike GroupNorm, whose statistics pool the whole spatial map, it keeps every unit's receptive field where
    the convolutions put it: a unit at one position depends on no pixel outside its RF, so the physiology room's
    identical-pixel control can select units at step 1 (preattentive.physiology.receptive_fields).
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W)
        y = F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


# "group": GroupNorm with 4 groups, statistics over (channels of a group) x (the whole map) — every unit then
# depends on the whole image; "channel": ChannelNorm, local. v1 nets use "group"; v2 nets "channel".
NORMS = ("group", "channel")


def check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ParamError(f"norm={norm!r}: expected one of {', '.join(NORMS)}")


def make_norm(norm: str, channels: int) -> nn.Module:
    """The normalisation layer for a ``norm`` setting (see :data:`NORMS`)."""
    check_norm(norm)
    return nn.GroupNorm(4, channels) if norm == "group" else ChannelNorm(channels)


# --------------------------------------------------------------------------------------------- BLT
@dataclass(frozen=True)
class BLTConfig(NetConfig):
    channels: tuple[int, ...] = (16, 32, 48)  # channels of each layer (2-4 layers); layer l+1 is 2x coarser
    kernel: int = 3  # side (px) of every bottom-up, lateral and top-down conv
    steps: int = 4  # steps when forward(steps=None); Spoerer et al. 2020 unroll 8 (BLT on ecoset)
    lateral: bool = True  # L connections (False gives "BT")
    topdown: bool = True  # T connections (False gives "BL")
    norm: str = "group"  # "group" (v1: GroupNorm, 4 groups) | "channel" (v2: per-position LayerNorm, see NORMS)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 2 <= len(self.channels) <= 4:
            raise ParamError(f"channels {self.channels}: expected 2-4 layers")
        if any(c % 4 for c in self.channels):
            raise ParamError(f"channels {self.channels}: expected multiples of 4 (GroupNorm with 4 groups)")
        check_norm(self.norm)


@register_arch
class BLT(VisionNet):
    """BLT: conv layers with bottom-up, lateral and top-down connections unrolled over steps.

    Recorded layers per step: ``layer1`` ... ``layerN``. ``hidden`` is the list of layer maps after the last
    step. Step 1 is the pure feedforward sweep (no lateral or top-down input yet).
    """

    arch = "blt"
    Config = BLTConfig
    recurrent = True

    def __init__(self, config: BLTConfig) -> None:
        super().__init__(config)
        ch, k = config.channels, config.kernel
        ins = (3,) + ch[:-1]
        self.bottom_up = nn.ModuleList(nn.Conv2d(i, c, k, padding=k // 2) for i, c in zip(ins, ch))
        self.lateral = (
            nn.ModuleList(nn.Conv2d(c, c, k, padding=k // 2, bias=False) for c in ch) if config.lateral else None
        )
        # top-down from layer l+1 (upsampled to layer l's grid) into layer l
        self.top_down = (
            nn.ModuleList(nn.Conv2d(ch[i + 1], ch[i], k, padding=k // 2, bias=False) for i in range(len(ch) - 1))
            if config.topdown
            else None
        )
        # a norm shared over steps (Spoerer et al. normalise per step with batch norm; a shared norm lets the
        # net run more steps than trained)
        self.norms = nn.ModuleList(make_norm(config.norm, c) for c in ch)
        names = {f"layer{i + 1}": c for i, c in enumerate(ch)}
        self.cond = QueryConditioner(config, names, feature_dim=ch[-1])

    def forward(
        self,
        images: Tensor,
        *,
        steps: int | None = None,
        query: Tensor | None = None,
        hidden: list[Tensor] | None = None,
    ) -> NetOutput:
        t_max = self._check(images, steps)
        code = self.cond.code(query, images.shape[0])
        x = images * 2 - 1
        prev = hidden  # layer maps at t-1 (None before the first step)
        logits, states = [], []
        for _ in range(t_max):
            cur: list[Tensor] = []
            for i, bu in enumerate(self.bottom_up):
                below = x if i == 0 else F.max_pool2d(cur[-1], 2, ceil_mode=True)
                drive = bu(below)
                if prev is not None and self.lateral is not None:
                    drive = drive + self.lateral[i](prev[i])
                if prev is not None and self.top_down is not None and i + 1 < len(prev):
                    up = F.interpolate(prev[i + 1], size=drive.shape[-2:], mode="nearest")
                    drive = drive + self.top_down[i](up)
                cur.append(self.cond.film(f"layer{i + 1}", F.relu(self.norms[i](drive)), code))
            prev = cur
            logits.append(self.cond.readout(cur[-1].mean(dim=(2, 3)), code))
            states.append({f"layer{i + 1}": h for i, h in enumerate(cur)})
        return _stack(logits, states, hidden=prev)


# --------------------------------------------------------------------------------------------- recall
@dataclass(frozen=True)
class RecallConfig(NetConfig):
    width: int = 32  # channels of the recurrent state (Bansal et al. use 128 on GPU)
    blocks: int = 2  # residual blocks (two 3x3 convs each) inside the iterated block, after the recall conv
    steps: int = 10  # iterations when forward(steps=None); test with more on larger mazes
    readout: str = "max"  # pool of the per-pixel head: "max" (is it anywhere?) or "mean"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.readout not in ("max", "mean"):
            raise ParamError(f"readout={self.readout!r}: expected 'max' or 'mean'")
        if self.conditioning != "none":  # built for mazes / curve tracing, which ask one fixed question
            raise ParamError(f"conditioning={self.conditioning!r}: recall nets support only 'none'")


class _ResBlock(nn.Module):
    """Residual block without normalisation (Deep-Thinking nets use none, so iterations stay comparable)."""

    def __init__(self, w: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(w, w, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(w, w, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))) + x)


@register_arch
class Recall(VisionNet):
    """Deep-Thinking recall net: projection, an iterated block fed [state, image], and a per-pixel head.

    The head maps the state to ``num_classes`` logits per pixel (recorded as ``pixel_logits``; a per-pixel loss,
    e.g. the maze path of Bansal et al., can use it); the global ``logits`` pool it over space (``readout``).
    Recorded layers per step: ``recall`` (the state, B x width x H x W) and ``pixel_logits``.
    ``hidden`` is the state after the last step.
    """

    arch = "recall"
    Config = RecallConfig
    recurrent = True

    def __init__(self, config: RecallConfig) -> None:
        super().__init__(config)
        w = config.width
        self.project = nn.Conv2d(3, w, 3, padding=1, bias=False)
        self.recall = nn.Conv2d(w + 3, w, 3, padding=1, bias=False)  # the image re-enters here every step
        self.blocks = nn.Sequential(*[_ResBlock(w) for _ in range(config.blocks)])
        self.head = self.make_head(w, config.num_classes)

    @staticmethod
    def make_head(w: int, num_classes: int) -> nn.Sequential:
        """Bansal et al.'s per-pixel head: three 3x3 convs, w -> 32 -> 8 -> classes."""
        return nn.Sequential(
            nn.Conv2d(w, 32, 3, padding=1, bias=False), nn.ReLU(),
            nn.Conv2d(32, 8, 3, padding=1, bias=False), nn.ReLU(),
            nn.Conv2d(8, num_classes, 3, padding=1, bias=False),
        )  # fmt: skip

    @staticmethod
    def pool(pix: Tensor, readout: str) -> Tensor:
        """Per-pixel logits (B, C, H, W) -> image logits (B, C): "max" (is it anywhere?) or "mean"."""
        return pix.amax(dim=(2, 3)) if readout == "max" else pix.mean(dim=(2, 3))

    def forward(
        self, images: Tensor, *, steps: int | None = None, query: Tensor | None = None, hidden: Tensor | None = None
    ) -> NetOutput:
        """``query`` is accepted for interface uniformity and ignored."""
        t_max = self._check(images, steps)
        x = images * 2 - 1
        h = F.relu(self.project(x)) if hidden is None else hidden
        logits, states = [], []
        for _ in range(t_max):
            h = self.blocks(F.relu(self.recall(torch.cat([h, x], dim=1))))
            pix = self.head(h)  # (B, C, H, W)
            logits.append(self.pool(pix, self.config.readout))
            states.append({"recall": h, "pixel_logits": pix})
        return _stack(logits, states, hidden=h, pixel_logits=pix)


@dataclass(frozen=True)
class RecallFFConfig(RecallConfig):
    depth: int = 10  # distinct (untied) copies of the recall block, run once each

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.depth <= 200:
            raise ParamError(f"depth={self.depth}: expected 1-200 untied blocks")


@register_arch
class RecallFF(VisionNet):
    """The recall net's feedforward control (Bansal et al. 2022): the same layers, not weight-tied.

    ``depth`` distinct copies of the recall block (recall conv fed [state, image], then the residual blocks) run
    once each, then the same per-pixel head: the computation of the recall net unrolled for ``depth`` steps,
    but each step with its own weights, so it cannot be run for more steps than it was built with. Recorded
    layers: ``block1`` ... ``blockD`` and ``pixel_logits``.
    """

    arch = "recall-ff"
    Config = RecallFFConfig
    recurrent = False

    def __init__(self, config: RecallFFConfig) -> None:
        super().__init__(config)
        w = config.width
        self.project = nn.Conv2d(3, w, 3, padding=1, bias=False)
        self.recalls = nn.ModuleList(nn.Conv2d(w + 3, w, 3, padding=1, bias=False) for _ in range(config.depth))
        self.stages = nn.ModuleList(nn.Sequential(*[_ResBlock(w) for _ in range(config.blocks)])
                                    for _ in range(config.depth))
        self.head = Recall.make_head(w, config.num_classes)
        # Untied, the stack is `depth` times deeper than one recall step with nothing shared to keep it in range:
        # shrink each residual branch by 1/sqrt(depth) at init (Fixup, Zhang et al. 2019), or Adam at lr 3e-3
        # oscillates on the easiest batch at depth 10.
        with torch.no_grad():
            for stage in self.stages:
                for block in stage:
                    block.conv2.weight.mul_(config.depth ** -0.5)

    def forward(self, images: Tensor, *, steps: int | None = None, query: Tensor | None = None) -> NetOutput:
        """``steps`` and ``query`` are accepted for interface uniformity and ignored."""
        self._check(images, steps)
        x = images * 2 - 1
        h = F.relu(self.project(x))
        states = {}
        for i, (rec, stage) in enumerate(zip(self.recalls, self.stages)):
            h = stage(F.relu(rec(torch.cat([h, x], dim=1))))
            states[f"block{i + 1}"] = h
        pix = self.head(h)  # (B, C, H, W)
        return _stack([Recall.pool(pix, self.config.readout)], [{**states, "pixel_logits": pix}], pixel_logits=pix)


# --------------------------------------------------------------------------------------------- presets
# Measured params (2 classes): blt-30k 29,482, blt-100k 106,530 (late 110,762 / film 114,842 with 8 query ids),
# recall-16 19,440, recall-32 59,472. Conv nets' counts do not depend on the image size.
register_net("blt-30k-v1", BLT, BLTConfig(channels=(16, 20, 28)), "BLT, 3 layers, ~30k params, 4 steps")
register_net("blt-100k-v1", BLT, BLTConfig(channels=(24, 40, 56)), "BLT, 3 layers, ~100k params, 4 steps")
# v2: per-position channel norm instead of GroupNorm (same parameter counts). GroupNorm's statistics pool the whole
# map, so every v1 unit depends on the whole image from step 1 and no unit can pass the physiology room's
# identical-pixel control; v2 units keep their convolutional RFs (layer1 3 px, layer2 8 px, layer3 18 px at step 1).
register_net("blt-30k-v2", BLT, BLTConfig(channels=(16, 20, 28), norm="channel"), "blt-30k with local norms")
register_net("blt-100k-v2", BLT, BLTConfig(channels=(24, 40, 56), norm="channel"), "blt-100k with local norms")
for _mode in ("late", "film"):
    register_net(f"blt-100k-{_mode}-v2", BLT, BLTConfig(channels=(24, 40, 56), conditioning=_mode, num_queries=8,
                                                        norm="channel"), f"blt-100k-v2, query {_mode}")
for _mode in ("late", "film"):
    register_net(f"blt-100k-{_mode}-v1", BLT, BLTConfig(channels=(24, 40, 56), conditioning=_mode, num_queries=8))
register_net("recall-16-v1", Recall, RecallConfig(width=16), "Deep-Thinking recall net, width 16, 10 steps")
register_net("recall-32-v1", Recall, RecallConfig(width=32), "Deep-Thinking recall net, width 32, 10 steps")
register_net("recall-16-ff-v1", RecallFF, RecallFFConfig(width=16, depth=10),
             "recall-16 untied: 10 distinct blocks run once (Bansal et al.'s feedforward control)")
