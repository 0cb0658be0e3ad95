"""Recurrent / feedback vision nets, gathered in one place (each lives in its own ``recurrent_*.py`` module).

- :class:`HGRUNet` (``hgru-16-v1``): one horizontal gated recurrent layer (Linsley et al. 2018).
- :class:`BLT` (``blt-30k-v1``, ``blt-100k-v1``): bottom-up, lateral, top-down convs (Spoerer et al. 2017, 2020).
- :class:`Recall` (``recall-16-v1``, ``recall-32-v1``): Deep-Thinking recall block (Bansal et al. 2022).
- :class:`RecurrentViT` (``rvit-30k-v1``, ``rvit-100k-v1``): one transformer block applied T times.

All return per-step logits and states, take ``steps=`` (more than trained is fine) and ``hidden=`` (continue
from a previous output's ``hidden``).
"""

from .recurrent_conv import BLT, BLTConfig, Recall, RecallConfig
from .recurrent_hgru import HGRUCell, HGRUConfig, HGRUNet
from .recurrent_vit import RecurrentViT, RViTConfig

__all__ = [
    "BLT", "BLTConfig", "HGRUCell", "HGRUConfig", "HGRUNet", "Recall", "RecallConfig", "RViTConfig", "RecurrentViT"
]
