"""Feedforward baselines: a small ResNet-style CNN and a ViT, with presets at ~30k, ~100k and ~1M parameters.

Plain PyTorch rather than transformers' ``ResNetModel`` / ``ViTModel``: we need every stage's map for physiology,
FiLM hooks between stages, ViT position embeddings interpolated to other image sizes (mazes are tested larger
than trained) and a FLOP count (``FlopCounterMode`` does not see CPU ``scaled_dot_product_attention``, so
attention is written as two matmuls; at <= 256 tokens it is as fast).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from preattentive.stimuli.base import ParamError

from .base import NetConfig, NetOutput, VisionNet, _stack, register_arch, register_net, tokens_to_map
from .conditioning import QueryConditioner


# --------------------------------------------------------------------------------------------- CNN
@dataclass(frozen=True)
class CNNConfig(NetConfig):
    widths: tuple[int, ...] = (16, 32, 64)  # channels of each stage; every stage after the first halves H and W
    blocks: tuple[int, ...] = (1, 1, 1)  # residual blocks (two 3x3 convs each) per stage
    stem_stride: int = 1  # stride of the 3x3 stem conv (1 keeps 1-px paddles of 32 px Pathfinder intact)

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.widths) != len(self.blocks) or not self.widths:
            raise ParamError(f"widths {self.widths} and blocks {self.blocks}: expected equal, non-zero lengths")


class BasicBlock(nn.Module):
    """He et al. 2016 basic residual block: conv-BN-ReLU-conv-BN + (projected) shortcut, ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.short = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.short(x))


@register_arch
class CNN(VisionNet):
    """ResNet-style CNN: stem, stages of basic blocks, global average pool, linear readout.

    Recorded layers: ``stem``, ``stage1`` ... ``stageN``.
    """

    arch = "cnn"
    Config = CNNConfig

    def __init__(self, config: CNNConfig) -> None:
        super().__init__(config)
        w = config.widths
        self.stem = nn.Sequential(
            nn.Conv2d(3, w[0], 3, config.stem_stride, 1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU()
        )
        stages, c = [], w[0]
        for i, (wi, n) in enumerate(zip(w, config.blocks)):
            blocks = [BasicBlock(c if j == 0 else wi, wi, 2 if (i > 0 and j == 0) else 1) for j in range(n)]
            stages.append(nn.Sequential(*blocks))
            c = wi
        self.stages = nn.ModuleList(stages)
        names = {"stem": w[0], **{f"stage{i + 1}": wi for i, wi in enumerate(w)}}
        self.cond = QueryConditioner(config, names, feature_dim=w[-1])

    def forward(self, images: Tensor, *, steps: int | None = None, query: Tensor | None = None) -> NetOutput:
        self._check(images, steps)
        code = self.cond.code(query, images.shape[0])
        h = self.cond.film("stem", self.stem(images * 2 - 1), code)  # inputs centred to [-1, 1]
        states = {"stem": h}
        for i, stage in enumerate(self.stages):
            h = self.cond.film(f"stage{i + 1}", stage(h), code)
            states[f"stage{i + 1}"] = h
        logits = self.cond.readout(h.mean(dim=(2, 3)), code)
        return _stack([logits], [states])


# --------------------------------------------------------------------------------------------- ViT parts
class Attention(nn.Module):
    """Multi-head self-attention as explicit matmuls (so FlopCounterMode counts it)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ParamError(f"dim={dim} not divisible by heads={heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # (B, h, N, d_h)
        att = (q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5  # (B, h, N, N)
        y = att.softmax(dim=-1) @ v  # (B, h, N, d_h)
        return self.proj(y.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm transformer block (Dosovitskiy et al. 2021)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


# v2 token nets (vit/rvit/vlstm-*-v2) initialise position embeddings at std 0.3 instead of ViT's 0.02: our patch
# projections come out at std ~0.5, so 0.02 leaves position nearly invisible at first. Measured on a left-vs-right
# "where is the bright square" task (32 px, batch 32, AdamW 1e-3, one thread): vlstm-30k sat at chance for ~350
# steps with 0.02 and for ~100 with 0.3; vit-30k left chance after ~175 vs ~125 steps.
POS_STD_V2 = 0.3


class PatchEmbed(nn.Module):
    """Non-overlapping patches -> tokens, plus learned position embeddings (bicubic-resized to other grids)."""

    def __init__(self, image_size: int, patch: int, dim: int, pos_std: float = 0.02) -> None:
        super().__init__()
        if image_size % patch:
            raise ParamError(f"image_size={image_size} not divisible by patch={patch}")
        self.patch = patch
        self.grid = image_size // patch
        self.proj = nn.Conv2d(3, dim, patch, patch)
        self.pos = nn.Parameter(torch.randn(1, dim, self.grid, self.grid) * pos_std)

    def forward(self, images: Tensor) -> tuple[Tensor, tuple[int, int]]:
        h, w = images.shape[-2:]
        if h % self.patch or w % self.patch:
            raise ParamError(f"image {h}x{w} px: expected sides divisible by the patch size {self.patch}")
        x = self.proj(images * 2 - 1)  # (B, D, h, w)
        pos = self.pos
        if x.shape[-2:] != pos.shape[-2:]:  # trained at one size, run at another (e.g. larger mazes)
            pos = F.interpolate(pos, size=x.shape[-2:], mode="bicubic", align_corners=False)
        x = x + pos
        return x.flatten(2).transpose(1, 2), (x.shape[-2], x.shape[-1])  # (B, N, D), grid


@dataclass(frozen=True)
class ViTConfig(NetConfig):
    patch: int = 4  # patch side (px); 32 px images -> 8x8 = 64 tokens
    dim: int = 32  # token width
    depth: int = 3  # transformer blocks
    heads: int = 2  # attention heads (dim must divide)
    mlp_ratio: float = 2.0  # MLP hidden = mlp_ratio * dim
    pos_std: float = 0.02  # std of the learned position embeddings at init (v1: 0.02 as in ViT; v2: 0.3, see presets)


@register_arch
class ViT(VisionNet):
    """Vision Transformer, mean-pooled patch tokens (no class token, so every token is a spatial unit).

    Recorded layers: ``embed``, ``block1`` ... ``blockN`` as (B, dim, H/patch, W/patch) maps.
    """

    arch = "vit"
    Config = ViTConfig

    def __init__(self, config: ViTConfig) -> None:
        super().__init__(config)
        self.embed = PatchEmbed(config.image_size, config.patch, config.dim, config.pos_std)
        self.blocks = nn.ModuleList(Block(config.dim, config.heads, config.mlp_ratio) for _ in range(config.depth))
        self.norm = nn.LayerNorm(config.dim)
        names = {"embed": config.dim, **{f"block{i + 1}": config.dim for i in range(config.depth)}}
        self.cond = QueryConditioner(config, names, feature_dim=config.dim)

    def forward(self, images: Tensor, *, steps: int | None = None, query: Tensor | None = None) -> NetOutput:
        self._check(images, steps)
        code = self.cond.code(query, images.shape[0])
        x, grid = self.embed(images)  # (B, N, D)
        x = self.cond.film("embed", x, code)
        states = {"embed": tokens_to_map(x, grid)}
        for i, blk in enumerate(self.blocks):
            x = self.cond.film(f"block{i + 1}", blk(x), code)
            states[f"block{i + 1}"] = tokens_to_map(x, grid)
        logits = self.cond.readout(self.norm(x).mean(dim=1), code)
        return _stack([logits], [states])


# --------------------------------------------------------------------------------------------- presets
# Widths chosen so CNN and ViT match at each size (checked within 10 % by tests/models/test_nets.py).
# Measured (2 classes, 32 px; `python benchmarks/nets.py` prints them):
#   cnn-30k 31,458   cnn-100k 99,258   cnn-1m 989,090
#   vit-30k 29,378   vit-100k 102,008  vit-1m 1,006,338  (ViT position embeddings grow with the patch grid:
#   at 64 px vit-30k has 35,522, vit-100k 112,376, vit-1m 1,030,914)
# Question-conditioned twins (8 query ids): cnn-100k late 103,490 / film 108,658; vit-100k late 105,986 / film
# 115,166 (the late readout's hidden layer and the FiLM maps are the difference).
_CNN = {
    "30k": CNNConfig(widths=(16, 24, 32), blocks=(1, 1, 1)),
    "100k": CNNConfig(widths=(24, 48, 56), blocks=(1, 1, 1)),
    "1m": CNNConfig(widths=(32, 64, 128, 128), blocks=(1, 2, 2, 1)),
}
_VIT = {
    "30k": ViTConfig(dim=32, depth=3, heads=2, mlp_ratio=2.0),
    "100k": ViTConfig(dim=54, depth=4, heads=3, mlp_ratio=2.0),
    "1m": ViTConfig(dim=128, depth=5, heads=4, mlp_ratio=4.0),
}
for _size, _cfg in _CNN.items():
    register_net(f"cnn-{_size}-v1", CNN, _cfg, f"ResNet-style CNN, ~{_size} params")
for _size, _cfg in _VIT.items():
    register_net(f"vit-{_size}-v1", ViT, _cfg, f"ViT patch 4, ~{_size} params")
for _mode in ("late", "film"):
    # Question-conditioned twins of the 100k presets (conditioning.py): set num_queries to len(family.queries).
    _q = {"conditioning": _mode, "num_queries": 8}
    register_net(f"cnn-100k-{_mode}-v1", CNN, dataclasses.replace(_CNN["100k"], **_q), f"cnn-100k, query {_mode}")
    register_net(f"vit-100k-{_mode}-v1", ViT, dataclasses.replace(_VIT["100k"], **_q), f"vit-100k, query {_mode}")
    _q2 = {**_q, "pos_std": POS_STD_V2}
    register_net(f"vit-100k-{_mode}-v2", ViT, dataclasses.replace(_VIT["100k"], **_q2), f"vit-100k-v2, query {_mode}")
for _size, _cfg in _VIT.items():  # v2: stronger position embeddings at init (see POS_STD_V2); same architecture
    register_net(f"vit-{_size}-v2", ViT, dataclasses.replace(_cfg, pos_std=POS_STD_V2), f"ViT ~{_size}, pos 0.3")
