"""Sequence-recurrent backbone: a Vision-LSTM-style stack of mLSTM blocks over patch tokens, in pure PyTorch.

The mLSTM (Beck et al. 2024, "xLSTM", NeurIPS) is a linear recurrence with a matrix memory,

    C_t = f_t C_{t-1} + i_t v_t k_t^T,   n_t = f_t n_{t-1} + i_t k_t,   h_t = C_t q_t / max(|n_t^T q_t|, 1),

with sigmoid forget gates and exponential input gates (stabilised in log space). Because it is linear in the
state it has an exact parallel form: with cumulative log forget gates F_t = sum_{r<=t} log f_r the decay from
token s to token t is exp(F_t - F_s + log i_s), so all outputs come from one masked (L x L) matrix product —
no per-token Python loop (:func:`mlstm_parallel`; :func:`mlstm_recurrent` is the step-by-step reference the
tests compare it with). Vision-LSTM (Alkin et al. 2024) runs such blocks over the raster sequence of patches,
alternating the direction block by block. This is our own implementation from the papers' equations (the
reference Vision-LSTM code is AGPL and was not used).

The recurrence here is across space (token after token), like S4 on Long Range Arena's Pathfinder, not over
time steps: the net is feedforward in depth and returns T = 1 step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from preattentive.stimuli.base import ParamError

from .base import NetConfig, NetOutput, VisionNet, _stack, register_arch, register_net, tokens_to_map
from .conditioning import QueryConditioner
from .feedforward import POS_STD_V2, PatchEmbed


def mlstm_parallel(q: Tensor, k: Tensor, v: Tensor, i_pre: Tensor, f_pre: Tensor) -> Tensor:
    """All mLSTM outputs at once. q, k, v: (B, H, L, d); i_pre, f_pre: (B, H, L) gate pre-activations.

    Returns the normalised hidden states h~ (B, H, L, d) (before the output gate).

    Example
    -------
    >>> q = k = v = torch.randn(1, 2, 5, 4); g = torch.randn(1, 2, 5)
    >>> mlstm_parallel(q, k, v, g, g).shape
    torch.Size([1, 2, 5, 4])
    """
    L, d = q.shape[-2:]
    cum = F.logsigmoid(f_pre).cumsum(-1)  # (B, H, L): F_t
    log_d = cum[..., :, None] - cum[..., None, :] + i_pre[..., None, :]  # (B, H, L_t, L_s): F_t - F_s + log i_s
    causal = torch.ones(L, L, dtype=torch.bool, device=q.device).tril()
    log_d = log_d.masked_fill(~causal, float("-inf"))
    m = log_d.amax(dim=-1, keepdim=True)  # (B, H, L, 1) stabiliser, the log of the largest weight per row
    s = (q @ k.transpose(-2, -1)) * (d**-0.5) * torch.exp(log_d - m)  # (B, H, L, L)
    norm = torch.maximum(s.sum(dim=-1, keepdim=True).abs(), torch.exp(-m))  # max(|n_t^T q_t|, 1) rescaled by e^-m
    return (s @ v) / (norm + 1e-6)


def mlstm_recurrent(q: Tensor, k: Tensor, v: Tensor, i_pre: Tensor, f_pre: Tensor) -> Tensor:
    """Reference: the same outputs by stepping the stabilised recurrence token by token (slow; for tests)."""
    b, h, L, d = q.shape
    c = q.new_zeros(b, h, d, d)  # matrix memory C (value x key)
    n = q.new_zeros(b, h, d)
    m = q.new_full((b, h), float("-inf"))
    logf = F.logsigmoid(f_pre)
    out = []
    for t in range(L):
        m_new = torch.maximum(logf[..., t] + m, i_pre[..., t])
        fg = torch.exp(logf[..., t] + m - m_new)[..., None]  # (B, H, 1)
        ig = torch.exp(i_pre[..., t] - m_new)[..., None]
        c = fg[..., None] * c + ig[..., None] * (v[..., t, :, None] @ k[..., t, None, :])
        n = fg * n + ig * k[..., t, :]
        qt = q[..., t, :] * d**-0.5
        num = (c @ qt[..., None])[..., 0]  # (B, H, d)
        den = torch.maximum((n * qt).sum(-1, keepdim=True).abs(), torch.exp(-m_new)[..., None])
        out.append(num / (den + 1e-6))
        m = m_new
    return torch.stack(out, dim=2)


class MLSTMBlock(nn.Module):
    """Pre-up-projection mLSTM block (Beck et al. 2024, fig. 10), optionally scanning the sequence backwards.

    x -> LN -> up (to 2 x inner: a, z) -> causal depthwise conv + SiLU on a -> q, k (from conv), v (from a),
    gates i, f per head -> mLSTM -> per-token head-wise LayerNorm + learnable skip of the conv branch
    -> * SiLU(z) -> down, residual.
    """

    def __init__(self, dim: int, heads: int, expand: int, conv_kernel: int, reverse: bool) -> None:
        super().__init__()
        inner = expand * dim
        if inner % heads:
            raise ParamError(f"expand * dim = {inner} not divisible by heads={heads}")
        self.heads, self.reverse, self.kernel = heads, reverse, conv_kernel
        self.norm = nn.LayerNorm(dim)
        self.up = nn.Linear(dim, 2 * inner)
        self.conv = nn.Conv1d(inner, inner, conv_kernel, groups=inner, padding=conv_kernel - 1)
        self.qk = nn.Linear(inner, 2 * inner, bias=False)
        self.v = nn.Linear(inner, inner, bias=False)
        self.gates = nn.Linear(3 * inner, 2 * heads)
        with torch.no_grad():  # forget gates start open (bias 3 -> f ~ 0.95), input gates near exp(0) (xLSTM init)
            self.gates.weight.zero_()
            self.gates.bias[:heads].zero_()
            self.gates.bias[heads:] = torch.linspace(3.0, 6.0, heads)
        # head-wise LayerNorm per token (xLSTM's multi-head norm); GroupNorm over (B, C, L) would mix tokens
        # across the sequence and break causality
        self.out_norm_weight = nn.Parameter(torch.ones(inner))
        self.out_norm_bias = nn.Parameter(torch.zeros(inner))
        self.skip = nn.Parameter(torch.ones(inner))
        self.down = nn.Linear(inner, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, L, _ = x.shape
        seq = x.flip(1) if self.reverse else x
        a, z = self.up(self.norm(seq)).chunk(2, dim=-1)  # (B, L, inner) each
        c = F.silu(self.conv(a.transpose(1, 2))[..., :L]).transpose(1, 2)  # causal: drop the right padding
        q, k = self.qk(c).chunk(2, dim=-1)
        v = self.v(a)
        ig, fg = self.gates(torch.cat([q, k, v], dim=-1)).chunk(2, dim=-1)  # (B, L, H) each

        def heads(t: Tensor) -> Tensor:  # (B, L, inner) -> (B, H, L, inner / H)
            return t.view(b, L, self.heads, -1).transpose(1, 2)

        h = mlstm_parallel(heads(q), heads(k), heads(v), ig.transpose(1, 2), fg.transpose(1, 2))  # (B, H, L, d_h)
        h = F.layer_norm(h, h.shape[-1:]).transpose(1, 2).reshape(b, L, -1)  # (B, L, inner)
        h = h * self.out_norm_weight + self.out_norm_bias + self.skip * c
        y = self.down(h * F.silu(z))
        return x + (y.flip(1) if self.reverse else y)


@dataclass(frozen=True)
class VLSTMConfig(NetConfig):
    patch: int = 4  # patch side (px); 32 px images -> 64 tokens in raster order
    dim: int = 32  # token width
    depth: int = 4  # mLSTM blocks; odd blocks scan the raster backwards (Alkin et al. 2024)
    heads: int = 4  # mLSTM heads (expand * dim must divide)
    expand: int = 2  # inner width = expand * dim (xLSTM's up-projection factor)
    conv_kernel: int = 4  # causal depthwise conv length (tokens) before q and k
    pos_std: float = 0.02  # std of the learned position embeddings at init (v1: 0.02 as in ViT; v2: 0.3, see presets)


@register_arch
class VisionLSTM(VisionNet):
    """Patch embedding, ``depth`` mLSTM blocks with alternating scan direction, mean-pool readout.

    Recorded layers: ``embed``, ``block1`` ... ``blockN`` as (B, dim, H/patch, W/patch) maps.
    """

    arch = "vlstm"
    Config = VLSTMConfig

    def __init__(self, config: VLSTMConfig) -> None:
        super().__init__(config)
        c = config
        self.embed = PatchEmbed(c.image_size, c.patch, c.dim, c.pos_std)
        self.blocks = nn.ModuleList(
            MLSTMBlock(c.dim, c.heads, c.expand, c.conv_kernel, reverse=bool(i % 2)) for i in range(c.depth)
        )
        self.norm = nn.LayerNorm(c.dim)
        names = {"embed": c.dim, **{f"block{i + 1}": c.dim for i in range(c.depth)}}
        self.cond = QueryConditioner(c, names, feature_dim=c.dim)

    def forward(self, images: Tensor, *, steps: int | None = None, query: Tensor | None = None) -> NetOutput:
        self._check(images, steps)
        code = self.cond.code(query, images.shape[0])
        x, grid = self.embed(images)  # (B, N, D), raster order
        x = self.cond.film("embed", x, code)
        states = {"embed": tokens_to_map(x, grid)}
        for i, blk in enumerate(self.blocks):
            x = self.cond.film(f"block{i + 1}", blk(x), code)
            states[f"block{i + 1}"] = tokens_to_map(x, grid)
        logits = self.cond.readout(self.norm(x).mean(dim=1), code)
        return _stack([logits], [states])


# Measured params (2 classes, 32 px): vlstm-30k 30,580, vlstm-100k 96,900 (64 px: 34,036 and 103,428).
register_net("vlstm-30k-v1", VisionLSTM, VLSTMConfig(dim=18, depth=4), "Vision-LSTM (mLSTM, parallel form), ~30k")
register_net("vlstm-100k-v1", VisionLSTM, VLSTMConfig(dim=34, depth=4), "Vision-LSTM (mLSTM, parallel form), ~100k")
# v2: position embeddings initialised at std 0.3 (feedforward.POS_STD_V2): a much shorter plateau at chance
register_net("vlstm-30k-v2", VisionLSTM, VLSTMConfig(dim=18, depth=4, pos_std=POS_STD_V2), "vlstm-30k, pos 0.3")
register_net("vlstm-100k-v2", VisionLSTM, VLSTMConfig(dim=34, depth=4, pos_std=POS_STD_V2), "vlstm-100k, pos 0.3")
