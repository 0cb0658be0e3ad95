"""hGRU: one layer of horizontal gated recurrence (Linsley, Kim, Veerabadran, Windolf & Serre 2018, NeurIPS).

A feedforward conv front end gives the drive ``X``; one recurrent layer then iterates T steps of horizontal
(within-layer, spatial) interactions through ONE shared kernel ``W``, first suppressive then facilitative:

    G1 = sigmoid(U1 * H2[t-1])                          reset gate (1x1 conv)
    C1 = norm(W * (G1 . H2[t-1]))                       horizontal inhibition
    H1 = relu(X - (alpha . H2[t-1] + mu) . C1)          linear + multiplicative suppression
    G2 = sigmoid(U2 * H1)                               update gate
    C2 = norm(W * H1)                                   horizontal excitation, same kernel
    H2~ = relu(kappa . H1 + gamma . C2 + omega . H1 . C2)
    H2[t] = (1 - G2) . H2[t-1] + G2 . H2~

``alpha, mu, kappa, gamma, omega`` are per-channel; ``W`` is made symmetric across channels as in the paper.
The paper's ``norm`` is batch norm per step; we use GroupNorm shared over steps so the net can run more steps
than it was trained with. CPU-friendly default: 16 channels, 7x7 kernels (the paper's 25-channel 15x15 kernel
trains at ~6 images/s on this CPU). The readout at every step follows the paper: norm, 1x1 conv, global max
pool (a path is detected anywhere in the image), linear.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from preattentive.stimuli.base import ParamError

from .base import NetConfig, NetOutput, VisionNet, _stack, register_arch, register_net
from .conditioning import QueryConditioner
from .recurrent_conv import check_norm, make_norm


@dataclass(frozen=True)
class HGRUConfig(NetConfig):
    channels: int = 16  # feature maps in the front end and the recurrent layer
    kernel: int = 7  # side (px, at the layer's resolution) of the shared horizontal kernel W
    stem_kernel: int = 7  # side (px) of the feedforward front-end conv
    stem_stride: int = 1  # front-end stride; 2 halves the cost (use at 64 px and above)
    steps: int = 8  # recurrent steps when forward(steps=None); the paper uses 8
    symmetric: bool = True  # tie W[c, d] = W[d, c] (Linsley et al. 2018, section 2)
    norm: str = "group"  # "group" (v1: GroupNorm) | "channel" (per-position LayerNorm; recurrent_conv.NORMS)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kernel % 2 == 0 or self.stem_kernel % 2 == 0:
            raise ParamError(f"kernel={self.kernel}, stem_kernel={self.stem_kernel}: expected odd sides")
        if self.channels % 4:
            raise ParamError(f"channels={self.channels}: expected a multiple of 4 (GroupNorm with 4 groups)")
        check_norm(self.norm)


class HGRUCell(nn.Module):
    """One hGRU step (see the module docstring for the equations)."""

    def __init__(self, channels: int, kernel: int, symmetric: bool, norm: str = "group") -> None:
        super().__init__()
        c = channels
        self.symmetric = symmetric
        self.w = nn.Parameter(torch.empty(c, c, kernel, kernel))
        nn.init.orthogonal_(self.w.view(c, -1))  # orthogonal init, as in the paper's reference code
        self.u1 = nn.Conv2d(c, c, 1)
        self.u2 = nn.Conv2d(c, c, 1)
        # Gate biases drawn log-uniformly over the step range ("chronos" init, Tallec & Ollivier 2018, used by
        # Linsley et al.): some units integrate slowly, some quickly.
        with torch.no_grad():
            b = torch.log(torch.empty(c).uniform_(1, 7))
            self.u1.bias.copy_(b)
            self.u2.bias.copy_(-b)
        self.norm1 = make_norm(norm, c)
        self.norm2 = make_norm(norm, c)
        for n in (self.norm1, self.norm2):
            nn.init.constant_(n.weight, 0.1)  # small horizontal drive at first, as the reference's bn_weight
        self.alpha = nn.Parameter(torch.full((1, c, 1, 1), 0.1))
        self.mu = nn.Parameter(torch.full((1, c, 1, 1), 1.0))
        self.kappa = nn.Parameter(torch.full((1, c, 1, 1), 0.5))
        self.gamma = nn.Parameter(torch.full((1, c, 1, 1), 1.0))
        self.omega = nn.Parameter(torch.full((1, c, 1, 1), 0.5))

    def kernel(self) -> Tensor:
        return (self.w + self.w.transpose(0, 1)) / 2 if self.symmetric else self.w

    def forward(self, x: Tensor, h2: Tensor, mod=None) -> tuple[Tensor, Tensor]:
        """One step from drive ``x`` and state ``h2``; ``mod`` (optional) modulates H1 top-down (FiLM)."""
        w = self.kernel()
        pad = w.shape[-1] // 2
        g1 = torch.sigmoid(self.u1(h2))
        c1 = self.norm1(F.conv2d(g1 * h2, w, padding=pad))
        # alpha, mu kept >= 0 so stage 1 can only suppress (the paper's inhibition)
        h1 = F.relu(x - (F.relu(self.alpha) * h2 + F.relu(self.mu)) * c1)
        if mod is not None:
            h1 = mod(h1)
        g2 = torch.sigmoid(self.u2(h1))
        c2 = self.norm2(F.conv2d(h1, w, padding=pad))
        h2_new = F.relu(self.kappa * h1 + self.gamma * c2 + self.omega * h1 * c2)
        return h1, (1 - g2) * h2 + g2 * h2_new


@register_arch
class HGRUNet(VisionNet):
    """Conv front end -> one hGRU layer unrolled T steps -> per-step readout.

    Recorded layers per step: ``stem`` (the feedforward drive X, same every step), ``inhibition`` (H1) and
    ``hgru`` (H2). ``hidden`` is H2 (B, C, h, w).
    """

    arch = "hgru"
    Config = HGRUConfig
    recurrent = True

    def __init__(self, config: HGRUConfig) -> None:
        super().__init__(config)
        c = config.channels
        self.stem = nn.Conv2d(3, c, config.stem_kernel, config.stem_stride, config.stem_kernel // 2)
        self.cell = HGRUCell(c, config.kernel, config.symmetric, config.norm)
        self.read_norm = nn.GroupNorm(4, c)
        self.read_conv = nn.Conv2d(c, c, 1)
        self.cond = QueryConditioner(config, {"stem": c, "inhibition": c}, feature_dim=c)

    def forward(
        self, images: Tensor, *, steps: int | None = None, query: Tensor | None = None, hidden: Tensor | None = None
    ) -> NetOutput:
        t_max = self._check(images, steps)
        code = self.cond.code(query, images.shape[0])
        x = self.cond.film("stem", F.relu(self.stem(images * 2 - 1)), code)  # (B, C, h, w) feedforward drive
        h2 = torch.zeros_like(x) if hidden is None else hidden
        logits, states = [], []
        for _ in range(t_max):
            # top-down gain on H1 (film mode only); modulating H1 rather than the carried H2 keeps the gain from
            # compounding over steps
            h1, h2 = self.cell(x, h2, mod=lambda h: self.cond.film("inhibition", h, code))
            r = self.read_conv(self.read_norm(h2))
            logits.append(self.cond.readout(r.amax(dim=(2, 3)), code))  # global max pool
            states.append({"stem": x, "inhibition": h1, "hgru": h2})
        return _stack(logits, states, hidden=h2)


# Measured params (2 classes): 15,938 (late 16,610 / film 17,698 with 8 query ids); 428 MFLOPs per 32 px image
# at 8 steps (hgru-16-s2: 107 MFLOPs).
register_net("hgru-16-v1", HGRUNet, HGRUConfig(), "one hGRU layer, 16 channels, 7x7 kernel, 8 steps")
# Same layer on a stride-2 front end: the recurrent grid is (H/2, W/2), ~4x fewer FLOPs; the 7x7 front-end conv
# still sees every pixel, and one 7x7 horizontal step then spans 14 px of the image.
register_net("hgru-16-s2-v1", HGRUNet, HGRUConfig(stem_stride=2), "hgru-16 on a stride-2 front end (~4x cheaper)")
# For mazes drawn at 2 px per grid unit (maze-v1's Bansal layout): the stride-2 front end gives one grid unit per
# recurrent pixel and a 3x3 horizontal kernel spreads activity one unit per step, so a 2-px wall can stop it (a 7x7
# kernel would jump it); 30 steps as Bansal et al. train their maze nets; test larger mazes with more steps.
register_net("hgru-16-maze-v1", HGRUNet, HGRUConfig(stem_stride=2, kernel=3, steps=30),
             "hgru-16 for mazes: one grid unit per step (stride-2 front end, 3x3 kernel), 30 steps")
for _mode in ("late", "film"):
    register_net(f"hgru-16-{_mode}-v1", HGRUNet, HGRUConfig(conditioning=_mode, num_queries=8))
