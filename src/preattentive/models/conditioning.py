"""Question conditioning: the vision encoder independent of the question, or modulated by it top-down (FiLM).

Three modes, chosen by the net config's ``conditioning`` field, so the *same* encoder can be compared:

- ``"none"``: no query at all (the net ignores ``query``).
- ``"late"``: the encoder never sees the question; a learned query embedding is concatenated to the pooled
  features at the readout only. This is LLaVA's arrangement (Liu et al. 2023): the CLIP encoder is
  question-independent and only the language model combines image and question.
- ``"film"``: as ``"late"``, plus FiLM (Perez et al. 2018, AAAI) from the query embedding into every recorded
  layer, ``h <- h * (1 + gamma(q)) + beta(q)``: top-down, question-dependent gain and offset at every stage
  and, in recurrent nets, at every step (feature-based attention as multiplicative gain, Treue & Martinez-Trujillo
  1999). The FiLM maps start at zero, so a fresh ``film`` net computes what its ``late`` twin computes.

``query`` is an integer question id per image (``meta["query_id"]`` of ``counting`` / ``visual-search`` trials),
``-1`` (or ``query=None``) meaning "no question", which gets its own learned embedding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from preattentive.stimuli.base import ParamError

from .base import NetConfig


class QueryConditioner(nn.Module):
    """Query embedding, per-layer FiLM maps and the readout join, for one net.

    Parameters
    ----------
    config : the net's config (reads ``conditioning``, ``num_queries``, ``query_dim``).
    channels : layer name -> channel count of every layer that FiLM modulates.
    feature_dim : size of the pooled features the readout sees (0: the net builds its own readout).

    Example
    -------
    >>> from preattentive.models.base import NetConfig
    >>> c = QueryConditioner(NetConfig(conditioning="film", num_queries=3), {"conv1": 8}, feature_dim=8)
    >>> code = c.code(torch.tensor([0, 2]), 2)
    >>> c.film("conv1", torch.rand(2, 8, 4, 4), code).shape
    torch.Size([2, 8, 4, 4])
    """

    def __init__(self, config: NetConfig, channels: dict[str, int], feature_dim: int = 0) -> None:
        super().__init__()
        self.mode = config.conditioning
        self.num_queries = config.num_queries
        self.extra_dim = config.query_dim if self.mode != "none" else 0  # added to the readout's input size
        self.embed = nn.Embedding(config.num_queries + 1, config.query_dim) if self.mode != "none" else None
        self.maps = nn.ModuleDict()
        if self.mode == "film":
            for name, c in channels.items():
                lin = nn.Linear(config.query_dim, 2 * c)
                nn.init.zeros_(lin.weight)  # start as the identity modulation (gamma = beta = 0)
                nn.init.zeros_(lin.bias)
                self.maps[name] = lin
        self.head: nn.Module | None = None
        if feature_dim and self.mode == "none":
            self.head = nn.Linear(feature_dim, config.num_classes)
        elif feature_dim:
            # A linear readout of [features, query] could only add a query-dependent bias; answering "how many
            # circles?" vs "how many squares?" from one feature vector needs an interaction, hence one hidden
            # layer (LLaVA's language model is the nonlinear reader there).
            self.head = nn.Sequential(
                nn.Linear(feature_dim + self.extra_dim, feature_dim),
                nn.GELU(),
                nn.Linear(feature_dim, config.num_classes),
            )

    def code(self, query: Tensor | None, batch: int) -> Tensor | None:
        """Query embedding (B, query_dim), or None when the net is unconditioned."""
        if self.embed is None:
            return None
        dev = self.embed.weight.device
        if query is None:
            query = torch.full((batch,), -1, dtype=torch.long, device=dev)
        if not isinstance(query, Tensor) or query.shape != (batch,) or query.is_floating_point():
            shape = tuple(query.shape) if isinstance(query, Tensor) else type(query).__name__
            raise ParamError(f"query {shape}: expected an integer tensor of shape ({batch},)")
        lo, hi = int(query.min()), int(query.max())
        if lo < -1 or hi >= self.num_queries:
            raise ParamError(f"query ids in [{lo}, {hi}]: expected -1 (none) .. {self.num_queries - 1}")
        return self.embed(query.to(dev) + 1)  # index 0 is "no question"

    def film(self, name: str, h: Tensor, code: Tensor | None) -> Tensor:
        """Modulate layer ``name``: ``h`` is (B, C, H, W) maps or (B, N, C) tokens; identity unless mode is film."""
        if code is None or name not in self.maps:
            return h
        gamma, beta = self.maps[name](code).chunk(2, dim=-1)  # (B, C) each
        if h.ndim == 4:
            gamma, beta = gamma[:, :, None, None], beta[:, :, None, None]
        else:
            gamma, beta = gamma[:, None, :], beta[:, None, :]
        return h * (1 + gamma) + beta

    def join(self, pooled: Tensor, code: Tensor | None) -> Tensor:
        """Readout input: pooled features (B, D), with the query embedding appended when conditioned."""
        return pooled if code is None else torch.cat([pooled, code], dim=-1)

    def readout(self, pooled: Tensor, code: Tensor | None) -> Tensor:
        """Logits (B, num_classes) from pooled features (B, feature_dim) and the query code."""
        assert self.head is not None, "built without feature_dim"
        return self.head(self.join(pooled, code))

