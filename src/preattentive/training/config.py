"""The resolved configuration of one supervised training run (a frozen dataclass saved next to every run)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from preattentive.config_schema import Seed, check_types
from preattentive.stimuli.base import ParamError

# Held-out data comes from the same family with a different generator seed, far from any training seed a user
# would type, so item i of the validation/test set never equals item i of a training run.
VAL_SEED_OFFSET = 1_000_003  # validation seed = seed + this
TEST_SEED_OFFSET = 2_000_003  # test seed (used by `compare`) = seed + this

STEP_LOSSES = ("final", "mean", "progressive")
TARGETS = ("label", "mask")
CLOCKS = ("wall", "cpu")


def check_size_param(params: Mapping[str, Any], size: int, *, option: str = "size") -> None:
    """The image side is given once: a task parameter ``size`` must equal ``size`` (else ParamError)."""
    if "size" not in params:
        return
    given = params["size"]
    try:
        same = int(str(given)) == int(size)
    except ValueError:
        same = False
    if not same:
        raise ParamError(f"params size={given!r} conflicts with {option}={size}: give the image side once "
                         f"(--size), not also as --param size")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a supervised run; two runs with equal configs on CPU give identical weights.

    Example
    -------
    >>> cfg = TrainConfig(model="cnn-30k", task="curve-tracing", params={"style": "dashed"}, steps=100)
    >>> cfg.val_seed
    1000003
    """

    model: str  # network registry id, e.g. "hgru-16" (preattentive.models.list_nets())
    task: str  # stimulus family id, e.g. "curve-tracing"
    params: Mapping[str, Any] = field(default_factory=dict)  # family parameters (CLI strings are coerced)
    size: int = 32  # image side, px
    model_overrides: Mapping[str, Any] = field(default_factory=dict)  # keyword overrides for make_net
    steps: int | None = None  # optimiser steps budget (None: only the time budget)
    minutes: float | None = None  # time budget, minutes of `clock` (None: only the step budget)
    clock: str = "wall"  # "wall" or "cpu" (process CPU time: fair on a shared, loaded machine)
    batch_size: int = 32  # images per optimiser step (per process under `accelerate launch`)
    lr: float = 1e-3  # peak AdamW learning rate
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    warmup: float = 0.05  # fraction of the budget with linear warm-up, then cosine decay to 0
    grad_clip: float | None = 1.0  # max global gradient norm (None: no clipping)
    seed: Seed = 0  # training generator seed and model-initialisation seed, in [0, 2**32 - 1]
    val_n: int = 256  # held-out validation trials (seed + VAL_SEED_OFFSET, items 0..val_n-1)
    val_every: int = 200  # validate every this many steps (and at the end); 0 = only at the end
    log_every: int = 20  # write a train metrics line every this many steps
    ckpt_every: int = 200  # checkpoint every this many steps (and at the end); 0 = only at the end
    step_loss: str = "final"  # recurrent nets: "final" step, "mean" over steps, or "progressive" (Bansal 2022)
    progressive_alpha: float = 0.5  # weight of the progressive term: (1-a)*CE(full) + a*CE(progressive)
    train_iters: int | None = None  # recurrent steps T unrolled in training (None: the model's default)
    data: str | None = None  # a Parquet stimulus-set directory instead of on-the-fly generation
    num_workers: int = 0  # DataLoader worker processes generating trials
    init_from: str | None = None  # start from the weights of a finished run (or saved model dir) of the same net
    target: str = "label"  # "label": one answer per image; "mask": per-pixel classes of the trial's meta["target_mask"]
    # (e.g. the maze-path route, Bansal et al. 2022); accuracy is then the fraction of images with every pixel right

    def __post_init__(self) -> None:
        check_types(self)  # every field against its annotation (pydantic), then the ranges below
        if self.steps is None and self.minutes is None:
            raise ParamError("give a budget: steps=N and/or minutes=M (both None)")
        if self.steps is not None and (isinstance(self.steps, bool) or int(self.steps) < 1):
            raise ParamError(f"steps={self.steps!r}: expected an integer >= 1")
        if self.minutes is not None and not float(self.minutes) > 0:
            raise ParamError(f"minutes={self.minutes!r}: expected > 0")
        if self.target not in TARGETS:
            raise ParamError(f"target={self.target!r}: expected one of {', '.join(TARGETS)}")
        if self.clock not in CLOCKS:
            raise ParamError(f"clock={self.clock!r}: expected one of {', '.join(CLOCKS)}")
        if self.step_loss not in STEP_LOSSES:
            raise ParamError(f"step_loss={self.step_loss!r}: expected one of {', '.join(STEP_LOSSES)}")
        for name, lo in (("batch_size", 1), ("size", 8), ("val_n", 1), ("val_every", 0), ("log_every", 1),
                         ("ckpt_every", 0), ("num_workers", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ParamError(f"{name}={v!r}: expected an integer >= {lo}")
        if not self.lr > 0:
            raise ParamError(f"lr={self.lr!r}: expected > 0")
        if not 0 <= self.warmup < 1:
            raise ParamError(f"warmup={self.warmup!r}: expected a fraction in [0, 1)")
        if not 0 <= self.progressive_alpha <= 1:
            raise ParamError(f"progressive_alpha={self.progressive_alpha!r}: expected a number in [0, 1]")
        if self.train_iters is not None and self.train_iters < 1:
            raise ParamError(f"train_iters={self.train_iters!r}: expected an integer >= 1")
        check_size_param(self.params, self.size)
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ParamError(f"grad_clip={self.grad_clip!r}: expected > 0 or None")
        if not self.weight_decay >= 0:
            raise ParamError(f"weight_decay={self.weight_decay!r}: expected >= 0")

    @property
    def val_seed(self) -> int:
        return self.seed + VAL_SEED_OFFSET

    @property
    def test_seed(self) -> int:
        return self.seed + TEST_SEED_OFFSET

    @property
    def budget_seconds(self) -> float | None:
        return None if self.minutes is None else 60.0 * float(self.minutes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["params"], d["model_overrides"] = dict(self.params), dict(self.model_overrides)
        d["val_seed"], d["test_seed"] = self.val_seed, self.test_seed
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error naming the allowed ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k not in ("val_seed", "test_seed")}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ParamError(f"unknown training option {unknown[0]!r}; expected one of: {', '.join(sorted(names))}")
        return cls(**d)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)
