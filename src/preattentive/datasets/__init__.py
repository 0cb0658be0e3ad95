"""Stimulus sets on disk (Parquet, Hugging Face ``datasets`` compatible), preview grids, and a torch view.

``TrialDataset`` (torch) lives in :mod:`preattentive.datasets.torch_view` and is imported lazily, so that
writing and reading sets never needs torch.
"""

from __future__ import annotations

from typing import Any

from preattentive.datasets.parquet import (CHUNK_SIZE, SCHEMA, decode_png, encode_png, generate_set, iter_rows,
                                           parse_shard, read_set)
from preattentive.datasets.preview import image_grid, preview_grid, save_png


def __getattr__(name: str) -> Any:  # lazy: torch only when the torch view is asked for
    if name in ("TrialDataset", "image_tensor", "images_tensor"):
        from preattentive.datasets import torch_view

        return getattr(torch_view, name)
    raise AttributeError(name)


__all__ = ["CHUNK_SIZE", "SCHEMA", "TrialDataset", "decode_png", "encode_png", "generate_set", "image_grid",
           "images_tensor", "image_tensor", "iter_rows", "parse_shard", "preview_grid", "read_set", "save_png"]
