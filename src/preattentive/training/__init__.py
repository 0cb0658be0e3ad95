"""Room: training — one generic supervised loop (accelerate), safetensors checkpoints, resume.

Light on purpose: importing this package does not import torch; the names below load on first use.

Example
-------
>>> from preattentive.training import TrainConfig, train_supervised
>>> cfg = TrainConfig(model="hgru-16", task="curve-tracing", params={"style": "dashed"}, steps=500)
>>> result = train_supervised(cfg, "runs/x")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

_EXPORTS = {
    "TrainConfig": "config",
    "train_supervised": "loop",
    "load_run": "loop",
    "predict": "loop",
    "RunResult": "loop",
    "LossOutput": "losses",
    "supervised_loss": "losses",
    "save_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "read_metrics": "runs",
    "read_run": "runs",
}
# Moved to preattentive.studies.compare (a study that calls training, not part of it); the old names still resolve,
# with a DeprecationWarning, and are not imported by anything in the package.
_MOVED = {"CompareConfig": "preattentive.studies.compare", "compare": "preattentive.studies.compare"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    if name in _MOVED:
        warnings.warn(f"preattentive.training.{name} moved to {_MOVED[name]}.{name}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
