"""A torch ``Dataset`` view of trials, generated on the fly from a family or read from a Parquet set.

Items are dicts of tensors, so torch's default ``collate_fn`` batches them::

    image     float32 (3, H, W) in [0, 1]
    label     int64   ()
    query_id  int64   ()  index into the family's ``queries`` (-1 when the question does not vary)
    index     int64   ()  the trial's index in its set (item i of a family depends only on (seed, i))
    level     int64   ()  difficulty-ladder rung (-1 when none applies)
    target    int64   (H, W)  per-pixel classes, only for families with a dense target (``meta["target_mask"]``,
                              e.g. the maze-path route)

torch is imported here, so import this module only where torch is wanted (the stimuli room never does).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from preattentive.stimuli.base import StimulusFamily, Trial


def image_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 → ``(3, H, W)`` float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255.0)


def images_tensor(images: np.ndarray | list[np.ndarray]) -> torch.Tensor:
    """``(B, H, W, 3)`` uint8 (array or list) → ``(B, 3, H, W)`` float32 in [0, 1]."""
    arr = np.stack(images) if isinstance(images, list) else np.asarray(images)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2))).float().div_(255.0)


def make_item(image: np.ndarray, label: int, query_id: int | None, index: int, level: int | None,
              target: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """One dataset item; ``None`` query or level becomes -1; ``target`` (H, W) only when given."""
    item = {"image": image_tensor(image), "label": torch.tensor(int(label)),
            "query_id": torch.tensor(-1 if query_id is None else int(query_id)), "index": torch.tensor(int(index)),
            "level": torch.tensor(-1 if level is None else int(level))}
    if target is not None:
        item["target"] = torch.from_numpy(np.asarray(target, dtype=np.int64))
    return item


def trial_item(t: Trial, level: int | None) -> dict[str, torch.Tensor]:
    """The dataset item for one trial."""
    return make_item(t.image, t.label, t.meta.get("query_id"), t.index, level, t.meta.get("target_mask"))


class TrialDataset(Dataset):
    """Trials as a map-style torch dataset.

    Parameters
    ----------
    source : a :class:`~preattentive.stimuli.base.StimulusFamily` (item ``i`` is ``source.trial(start + i)``,
        drawn when asked, so any worker or shard sees the same item) or a Parquet set directory.
    n : number of items (required for a family; defaults to the whole set for a directory).
    start : first trial index (for a family) or row (for a directory).

    Example
    -------
    >>> from preattentive import stimuli
    >>> ds = TrialDataset(stimuli.make("maze", seed=3), n=256)
    >>> ds[0]["image"].shape  # doctest: +SKIP
    torch.Size([3, 64, 64])
    """

    def __init__(self, source: StimulusFamily | str | os.PathLike, n: int | None = None, start: int = 0) -> None:
        self.start = int(start)
        if isinstance(source, StimulusFamily):
            if n is None or n < 1:
                raise ValueError(f"n={n!r}: a family source needs the number of items, an integer >= 1")
            self.family, self.table, self.n = source, None, int(n)
        else:
            from preattentive.datasets.parquet import read_set

            table = read_set(source, columns=["image", "label", "meta", "index", "level"])
            total = table.num_rows - self.start
            if total < 1:
                raise ValueError(f"start={start} leaves no rows in {str(source)!r} ({table.num_rows} rows)")
            self.n = total if n is None else min(int(n), total)
            self.family, self.table = None, table.slice(self.start, self.n)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not -self.n <= i < self.n:
            raise IndexError(f"index {i} out of range for {self.n} items")
        i %= self.n
        if self.family is not None:
            idx = self.start + i
            return trial_item(self.family.trial(idx), self.family.level_for(idx))
        return self._row(i)

    def _row(self, i: int) -> dict[str, torch.Tensor]:
        from preattentive.datasets.parquet import decode_png
        from preattentive.stimuli.base import meta_from_json

        row: dict[str, Any] = {c: self.table.column(c)[i].as_py() for c in self.table.column_names}
        meta = meta_from_json(row["meta"])
        return make_item(decode_png(row["image"]["bytes"]), row["label"], meta.get("query_id"), row["index"],
                         row["level"], meta.get("target_mask"))
