"""Weight-tied recurrent ViT: the same transformer block applied T times, with a readout after every step.

Tests recurrence inside a transformer: depth becomes time (Dehghani et al. 2019, "Universal Transformers"),
and, as in the Deep-Thinking recall nets (Bansal et al. 2022), the patch embeddings can be re-injected every step
so more steps than trained stay anchored to the image.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from .base import NetConfig, NetOutput, VisionNet, _stack, register_arch, register_net, tokens_to_map
from .conditioning import QueryConditioner
from .feedforward import POS_STD_V2, Block, PatchEmbed


@dataclass(frozen=True)
class RViTConfig(NetConfig):
    patch: int = 4  # patch side (px); 32 px images -> 8x8 = 64 tokens
    dim: int = 56  # token width
    heads: int = 4  # attention heads (dim must divide)
    mlp_ratio: float = 2.0  # MLP hidden = mlp_ratio * dim
    tied_depth: int = 1  # distinct blocks in the group applied at every step (1 = one block, Universal-Transformer)
    steps: int = 4  # steps when forward(steps=None)
    reinject: bool = True  # add the patch embeddings to the tokens at every step (recall)
    pos_std: float = 0.02  # std of the learned position embeddings at init (v1: 0.02 as in ViT; v2: 0.3, see presets)


@register_arch
class RecurrentViT(VisionNet):
    """Patch embedding, then ``steps`` applications of one tied block group; readout at every step.

    Recorded layers per step: ``embed`` (same every step) and ``tokens`` (after the step), as
    (B, dim, H/patch, W/patch) maps. ``hidden`` is the (B, N, dim) token tensor after the last step.
    In ``film`` mode the query modulates the embeddings, which re-enter at every step when ``reinject``.
    """

    arch = "rvit"
    Config = RViTConfig
    recurrent = True

    def __init__(self, config: RViTConfig) -> None:
        super().__init__(config)
        self.embed = PatchEmbed(config.image_size, config.patch, config.dim, config.pos_std)
        self.blocks = nn.ModuleList(Block(config.dim, config.heads, config.mlp_ratio) for _ in range(config.tied_depth))
        self.norm = nn.LayerNorm(config.dim)
        self.cond = QueryConditioner(config, {"embed": config.dim}, feature_dim=config.dim)

    def forward(
        self, images: Tensor, *, steps: int | None = None, query: Tensor | None = None, hidden: Tensor | None = None
    ) -> NetOutput:
        t_max = self._check(images, steps)
        code = self.cond.code(query, images.shape[0])
        e, grid = self.embed(images)  # (B, N, D)
        e = self.cond.film("embed", e, code)
        e_map = tokens_to_map(e, grid)
        x = e if hidden is None else hidden
        logits, states = [], []
        for t in range(t_max):
            if self.config.reinject and (t > 0 or hidden is not None):
                x = x + e
            for blk in self.blocks:
                x = blk(x)
            logits.append(self.cond.readout(self.norm(x).mean(dim=1), code))
            states.append({"embed": e_map, "tokens": tokens_to_map(x, grid)})
        return _stack(logits, states, hidden=x)


# Measured params (2 classes, 32 px): rvit-30k 32,258, rvit-100k 99,842 (64 px: 43,010 and 119,810, the
# position grid grows).
register_net("rvit-30k-v1", RecurrentViT, RViTConfig(dim=56, heads=4), "recurrent ViT, one tied block, ~30k")
register_net("rvit-100k-v1", RecurrentViT, RViTConfig(dim=104, heads=4), "recurrent ViT, one tied block, ~100k")
# v2: position embeddings initialised at std 0.3 (feedforward.POS_STD_V2); same architecture and parameter counts
register_net("rvit-30k-v2", RecurrentViT, RViTConfig(dim=56, heads=4, pos_std=POS_STD_V2), "rvit-30k, pos 0.3")
register_net("rvit-100k-v2", RecurrentViT, RViTConfig(dim=104, heads=4, pos_std=POS_STD_V2), "rvit-100k, pos 0.3")
