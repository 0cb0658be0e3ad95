"""Deterministic batches for training: batch k of a run covers trial indices fixed by (seed, k), never by time.

On-the-fly data: step ``k`` on process ``r`` of ``W`` draws items ``[(k*W + r)*B, (k*W + r + 1)*B)`` of the
family generated with the run's seed, so a resumed run, a DataLoader worker or another GPU sees exactly the
trials an uninterrupted single process would. A Parquet set is finite: the same global positions are mapped
through a fresh permutation per epoch, seeded by (seed, epoch).
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from preattentive import stimuli
from preattentive.datasets.torch_view import TrialDataset
from preattentive.stimuli.base import StimulusFamily

ENDLESS = 2**62  # item count of an on-the-fly dataset: effectively unbounded


class StepBatches(Sampler[list[int]]):
    """Yields the index lists of steps ``start_step, start_step+1, ...`` (forever) for one process.

    Example
    -------
    >>> s = StepBatches(batch_size=4, n_items=None, start_step=2)
    >>> next(iter(s))
    [8, 9, 10, 11]
    """

    def __init__(self, batch_size: int, n_items: int | None, *, start_step: int = 0, seed: int = 0,
                 rank: int = 0, world: int = 1) -> None:
        self.batch_size, self.n_items, self.start_step = batch_size, n_items, start_step
        self.seed, self.rank, self.world = seed, rank, world
        self._perm: tuple[int, np.ndarray] | None = None

    def indices(self, step: int) -> list[int]:
        first = (step * self.world + self.rank) * self.batch_size
        pos = range(first, first + self.batch_size)
        if self.n_items is None:
            return list(pos)
        return [self._position(p) for p in pos]

    def _position(self, p: int) -> int:
        epoch, i = divmod(p, self.n_items)
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, np.random.default_rng([self.seed, epoch, 0xDA7A]).permutation(self.n_items))
        return int(self._perm[1][i])

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while True:
            yield self.indices(step)
            step += 1

    def __len__(self) -> int:  # DataLoader only asks when it is used as a sized sampler; we never are
        raise TypeError("StepBatches is endless")


def make_family(task: str, params: dict[str, Any], size: int, seed: int) -> StimulusFamily:
    """The stimulus family of a task at image side ``size`` (``params`` may hold CLI strings)."""
    return stimuli.make(task, seed=seed, **{**dict(params), "size": size})


def train_loader(family: StimulusFamily | None, data_dir: str | None, batch_size: int, *, start_step: int,
                 seed: int, rank: int = 0, world: int = 1, num_workers: int = 0) -> DataLoader:
    """An endless DataLoader of training batches starting at ``start_step``."""
    ds = TrialDataset(data_dir) if data_dir else TrialDataset(family, n=ENDLESS)
    sampler = StepBatches(batch_size, len(ds) if data_dir else None, start_step=start_step, seed=seed,
                          rank=rank, world=world)
    return DataLoader(ds, batch_sampler=sampler, num_workers=num_workers,
                      persistent_workers=num_workers > 0, prefetch_factor=4 if num_workers else None)


def held_out(family: StimulusFamily, n: int, batch_size: int, *, rank: int = 0, world: int = 1) -> DataLoader:
    """Items ``rank, rank+world, ...`` below ``n`` of a held-out family (its own seed), in order.

    The items are drawn once and kept in memory (n=1000 at 64 px is ~50 MB), so validating every few hundred
    steps costs forward passes only, not regeneration.
    """
    ds = TrialDataset(family, n=n)
    items = [ds[i] for i in range(rank, n, world)]
    return DataLoader(items, batch_size=batch_size, shuffle=False)


def net_inputs(batch: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Keyword inputs for a vision net: ``query`` only when every trial in the batch has one."""
    q = batch.get("query_id")
    return {"query": q} if q is not None and bool((q >= 0).all()) else {}
