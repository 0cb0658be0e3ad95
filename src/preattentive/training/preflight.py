"""Everything a supervised run checks before it writes a file: task, data set, net, loss, starting weights.

:func:`prepare_task` resolves the task's families (and checks a Parquet training set against the task and image
size); :func:`preflight_supervised` additionally builds the net, copies ``init_from`` weights and runs the loss once
on two held-out trials, all under a forked RNG so the caller's random state is untouched. The trainer uses the same
pieces, and :func:`~preattentive.studies.compare.compare` calls :func:`preflight_supervised` for every model and
curriculum stage before it trains the first one, so a typo in the last model costs nothing.

Example
-------
>>> from preattentive.training.config import TrainConfig
>>> preflight_supervised(TrainConfig(model="cnn-30k", task="curve-tracing", steps=10))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from preattentive.stimuli.base import StimulusFamily
from preattentive.training.config import TrainConfig
from preattentive.training.data import make_family
from preattentive.training.losses import LossOutput, no_dense_target, supervised_loss
from preattentive.training.runs import build_net, init_weights

LossFn = Callable[[torch.nn.Module, dict[str, torch.Tensor]], LossOutput]


@dataclass
class TaskSetup:
    """The families a run draws from and the task record its ``run.json`` keeps."""

    family: StimulusFamily | None  # training trials on the fly (None when training from a Parquet set)
    val_family: StimulusFamily  # held-out validation trials (seed + VAL_SEED_OFFSET)
    n_classes: int  # the net's output classes (per-pixel classes when target="mask")
    n_queries: int  # distinct question ids of mixed-question families (0 otherwise)
    task: dict[str, Any]  # {"family", "params", "seed", "val_seed", "n_classes", "data"}


def prepare_task(config: TrainConfig) -> TaskSetup:
    """Resolve the task's families and check ``config.data`` (a set of this task, at this size, complete).

    Raises a one-line ``ValueError`` naming the bad value before anything is written.
    """
    val_family = make_family(config.task, dict(config.params), config.size, config.val_seed)
    val_family.trial(0)  # the parameters can actually draw a trial at this size
    family = None
    if config.data:
        from preattentive.datasets.parquet import check_set

        check_set(config.data, family=val_family.id, size=config.size, option="data")
    else:
        family = make_family(config.task, dict(config.params), config.size, config.seed)
    source = family or val_family
    n_classes = source.n_classes
    if config.target == "mask":  # the net's classes are those of the per-pixel target
        n_classes = int(getattr(source, "mask_classes", 0))
        if n_classes < 1:
            raise no_dense_target(config.task)
    task = {"family": source.id, "params": source.params.to_dict(), "seed": config.seed,
            "val_seed": config.val_seed, "n_classes": n_classes, "data": config.data}
    return TaskSetup(family, val_family, n_classes, len(getattr(source, "queries", ()) or ()), task)


def dry_run_loss(net: torch.nn.Module, loss_fn: LossFn, family: StimulusFamily) -> None:
    """Run the loss once on two held-out trials, in eval mode, without gradients or RNG side effects."""
    from torch.utils.data import default_collate

    from preattentive.datasets.torch_view import TrialDataset

    ds = TrialDataset(family, n=2)
    batch = default_collate([ds[0], ds[1]])
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            loss_fn(net, batch)
    finally:
        net.train(was_training)


def preflight_supervised(config: TrainConfig, *, model: torch.nn.Module | None = None,
                         loss_fn: LossFn | None = None, check_init: bool = True) -> TaskSetup:
    """Check that ``config`` can train: task and data set, net (built and discarded), loss, ``init_from`` weights.

    ``check_init=False`` skips ``init_from`` (a curriculum stage's source run is trained only later). Nothing is
    written and the global RNG is restored.
    """
    setup = prepare_task(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = model if model is not None else build_net(config, setup.n_classes, setup.n_queries)
        if config.init_from and check_init and model is None:  # never change a caller's net here
            init_weights(net, config.init_from)
        dry_run_loss(net, loss_fn or supervised_loss(config), setup.val_family)
    return setup


__all__ = ["TaskSetup", "dry_run_loss", "prepare_task", "preflight_supervised"]
