"""Room: training — one generic supervised loop (accelerate), safetensors checkpoints, resume, fair comparisons.

Light on purpose: importing this package does not import torch; the names below load on first use.

Example
-------
>>> from preattentive.training import TrainConfig, train_supervised
>>> cfg = TrainConfig(model="hgru-16", task="curve-tracing", params={"style": "dashed"}, steps=500)
>>> result = train_supervised(cfg, "runs/x")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
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
    "CompareConfig": "compare",
    "compare": "compare",
    "wilson_interval": "compare",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
