"""A LLaVA-style net with an image-token budget: ViT encoder → pooled to k tokens → projector → reader.

LLaVA (Liu et al. 2023) hands the language model a fixed set of patch tokens computed without the question: the
encoder is question-independent and only the reader combines image and question. How much can such a system
know when the image must pass through few tokens (token pruning and pooling, e.g. LLaVA-PruMerge, Shang et al.
2024; Q-Former's 32 queries in BLIP-2, Li et al. 2023)? And does a question-conditioned encoder — top-down,
feature-based gain before the bottleneck (Treue & Martinez-Trujillo 1999; FiLM, Perez et al. 2018) — keep what
the question needs? The seed's claim S7 asks exactly this; :mod:`preattentive.studies.bottleneck` trains the
grid of (budget x conditioning).

Architecture (all parts small enough to train on a CPU in minutes):

* encoder: the ViT of :mod:`preattentive.models.feedforward` (patch tokens, no class token);
  ``conditioning="late"`` leaves it question-independent, ``"film"`` modulates every block by the question;
* bottleneck: the ``gh x gw`` patch grid average-pooled to ``tokens`` (a square number: 64 → 8 x 8, 16 → 4 x 4,
  4 → 2 x 2), the pooling LLaVA-style compressors use; a budget above the patch grid keeps every patch token;
* projector: a linear map W (LLaVA v1);
* reader: a small transformer over ``[question token; k image tokens]`` (the language model's role), whose output
  at the question token gives the answer logits. ``conditioning="none"`` reads with a learned constant token.

Recorded layers (``NetOutput.states``): ``embed``, ``block1..N`` on the patch grid and ``tokens`` on the pooled grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from preattentive.stimuli.base import ParamError

from .base import NetConfig, NetOutput, VisionNet, _stack, register_arch, register_net, tokens_to_map
from .conditioning import QueryConditioner
from .feedforward import Block, PatchEmbed


@dataclass(frozen=True)
class TokenBudgetConfig(NetConfig):
    patch: int = 4  # px; 32 px images -> an 8 x 8 grid = 64 patch tokens
    dim: int = 48  # token width
    depth: int = 3  # encoder blocks
    heads: int = 3  # attention heads (dim must divide)
    mlp_ratio: float = 2.0  # MLP hidden = mlp_ratio * dim
    tokens: int = 64  # image tokens the reader sees: a square number (64, 16, 4, 1); capped at the patch grid
    reader_depth: int = 2  # reader (language-model stand-in) blocks

    def __post_init__(self) -> None:
        super().__post_init__()
        g = math.isqrt(self.tokens) if self.tokens >= 1 else 0
        if self.tokens < 1 or g * g != self.tokens:
            raise ParamError(f"tokens={self.tokens}: expected a square number (64, 16, 4, 1)")

    @property
    def side(self) -> int:
        """Side of the pooled token grid: sqrt(tokens), at most the patch grid (a larger budget keeps every token)."""
        return min(math.isqrt(self.tokens), max(1, self.image_size // self.patch))


@register_arch
class TokenBudgetNet(VisionNet):
    """ViT encoder, average-pooled to a token budget, linear projector, transformer reader (see the module)."""

    arch = "token-budget"
    Config = TokenBudgetConfig

    def __init__(self, config: TokenBudgetConfig) -> None:
        super().__init__(config)
        d = config.dim
        self.embed = PatchEmbed(config.image_size, config.patch, d)
        self.blocks = nn.ModuleList(Block(d, config.heads, config.mlp_ratio) for _ in range(config.depth))
        self.norm = nn.LayerNorm(d)
        names = {"embed": d, **{f"block{i + 1}": d for i in range(config.depth)}}
        self.cond = QueryConditioner(config, names, feature_dim=0)  # the reader is the readout here
        self.side = config.side
        self.projector = nn.Linear(d, d)  # LLaVA v1's W
        self.token_pos = nn.Parameter(torch.randn(1, self.side ** 2, d) * 0.02)
        if self.cond.embed is not None:  # the question, embedded, is the reader's first token
            self.question = nn.Linear(config.query_dim, d)
        else:  # no question: a learned constant reading token
            self.no_question = nn.Parameter(torch.zeros(1, 1, d))
        self.reader = nn.ModuleList(Block(d, config.heads, config.mlp_ratio) for _ in range(config.reader_depth))
        self.head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, config.num_classes))

    def forward(self, images: Tensor, *, steps: int | None = None, query: Tensor | None = None) -> NetOutput:
        self._check(images, steps)
        b = images.shape[0]
        code = self.cond.code(query, b)  # (B, query_dim) or None
        x, grid = self.embed(images)  # (B, N, D)
        x = self.cond.film("embed", x, code)
        states = {"embed": tokens_to_map(x, grid)}
        for i, blk in enumerate(self.blocks):
            x = self.cond.film(f"block{i + 1}", blk(x), code)
            states[f"block{i + 1}"] = tokens_to_map(x, grid)
        pooled = F.adaptive_avg_pool2d(tokens_to_map(self.norm(x), grid), self.side)  # (B, D, k_h, k_w)
        states["tokens"] = pooled
        img = self.projector(pooled.flatten(2).transpose(1, 2)) + self.token_pos  # (B, k, D)
        q = self.no_question.expand(b, -1, -1) if code is None else self.question(code)[:, None, :]  # (B, 1, D)
        seq = torch.cat([q, img], dim=1)  # (B, 1 + k, D)
        for blk in self.reader:
            seq = blk(seq)
        return _stack([self.head(seq[:, 0])], [states])


# Budgets of the bottleneck study (patch 4 at 32 px: 64 tokens, pooled 2 x 2 -> 16, 4 x 4 -> 4) x conditioning.
for _tokens in (64, 16, 4):
    for _mode in ("late", "film"):
        register_net(f"budget-{_tokens}-{_mode}-v1", TokenBudgetNet,
                     TokenBudgetConfig(tokens=_tokens, conditioning=_mode, num_queries=4),
                     f"LLaVA-style ViT -> {_tokens} pooled tokens -> reader; "
                     f"{'question-conditioned (FiLM) encoder' if _mode == 'film' else 'question-independent encoder'}")
