"""Training checkpoints in safetensors (never pickle): weights, AdamW state, RNG and step state, written atomically.

Layout under ``<run>/checkpoint/``::

    step-00000200/model.safetensors      the network's weights
    step-00000200/optimizer.safetensors  every optimiser state tensor, keyed "state/<param index>/<name>"
    step-00000200/state.json             step, elapsed time, param groups, optimiser scalars, free-form extras
    latest                               the name of the newest complete step directory

A step directory is written under a temporary name and renamed into place, and ``latest`` is replaced with
``os.replace``, so a run killed at any instant leaves the previous checkpoint intact. Loading checks
``state.json`` (:class:`~preattentive.config_schema.CheckpointState`) and both safetensors files before it touches
the model, so a damaged checkpoint is a one-line error naming the file, never a half-restored run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, load_model, save_file, save_model

from preattentive.config_schema import CheckpointState, ConfigError, read_record
from preattentive.files import atomic_dir, atomic_write_text
from preattentive.preflight import check_safetensors

LATEST = "latest"
_STEP_DIR = re.compile(r"^step-\d{8}$")


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` restored besides the tensors it loaded in place."""

    step: int  # optimiser steps completed
    elapsed: dict[str, float]  # {"wall": s, "cpu": s} spent training before this checkpoint
    extra: dict[str, Any] = field(default_factory=dict)  # caller's free-form JSON state
    path: Path | None = None


def _rng_tensors() -> dict[str, torch.Tensor]:
    out = {"rng/torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"rng/cuda/{i}"] = s
    return out


def _set_rng(tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["rng/torch"])
    cuda = sorted((k for k in tensors if k.startswith("rng/cuda/")), key=lambda k: int(k.rsplit("/", 1)[1]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])


def _split_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimiser state dict -> (tensors for safetensors, JSON-able rest)."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for name, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"state/{idx}/{name}"] = v.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(idx), {})[name] = v
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def _join_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        _, idx, name = key.split("/", 2)
        state.setdefault(int(idx), {})[name] = v
    for idx, st in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(st)
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(root: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer, *,
                    step: int, elapsed: dict[str, float], extra: dict[str, Any] | None = None,
                    keep: int = 1) -> Path:
    """Write a checkpoint for ``step`` under ``root`` atomically and prune all but the newest ``keep``.

    Example
    -------
    >>> net = torch.nn.Linear(2, 2); opt = torch.optim.AdamW(net.parameters())
    >>> import tempfile; d = tempfile.mkdtemp()
    >>> save_checkpoint(d, net, opt, step=3, elapsed={"wall": 1.0, "cpu": 1.0}).name
    'step-00000003'
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    final = root / name
    with atomic_dir(final) as tmp:
        save_model(model, str(tmp / "model.safetensors"))
        opt_tensors, opt_meta = _split_optimizer(optimizer)
        save_file({**opt_tensors, **_rng_tensors()}, str(tmp / "optimizer.safetensors"))
        state = {"step": int(step), "elapsed": {k: float(v) for k, v in elapsed.items()}, "optimizer": opt_meta,
                 "extra": extra or {}}
        (tmp / "state.json").write_text(json.dumps(state, indent=1))  # inside the temporary folder: renamed whole
    atomic_write_text(root / LATEST, name)
    steps = sorted(p for p in root.glob("step-*") if p.is_dir())
    for old in steps[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(root: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint directory under ``root``, or None."""
    f = Path(root) / LATEST
    if not f.is_file():
        return None
    name = f.read_text(errors="replace").strip()
    if not _STEP_DIR.match(name):
        raise ConfigError(f"{f}: names {name[:40]!r}; expected a step directory such as 'step-00000200'")
    d = Path(root) / name
    return d if (d / "state.json").is_file() else None


def load_checkpoint(path: str | os.PathLike, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, *, restore_rng: bool = True) -> Checkpoint:
    """Load weights (and optimiser + RNG state) from a step directory into ``model``/``optimizer`` in place.

    ``path`` may be a step directory or a ``checkpoint/`` root (its ``latest`` is used).

    Example
    -------
    >>> net = torch.nn.Linear(2, 2); opt = torch.optim.AdamW(net.parameters())
    >>> import tempfile; d = tempfile.mkdtemp()
    >>> _ = save_checkpoint(d, net, opt, step=3, elapsed={"wall": 1.0, "cpu": 1.0})
    >>> load_checkpoint(d, net, opt).step
    3
    """
    path = Path(path)
    if not (path / "state.json").is_file():
        found = latest_checkpoint(path)
        if found is None:
            raise FileNotFoundError(f"no checkpoint under {path}: expected {path}/{LATEST} or a step directory")
        path = found
    state = check_checkpoint(path)
    try:
        load_model(model, str(path / "model.safetensors"))
    except RuntimeError as e:  # missing / unexpected keys or shapes: another net's checkpoint
        first = str(e).strip().splitlines()[0][:200]
        raise ConfigError(f"{path / 'model.safetensors'}: does not fit this model ({first}); expected a "
                          "checkpoint of the same model and settings") from None
    if optimizer is not None:
        _join_optimizer(optimizer, _optimizer_tensors(path), state["optimizer"])
    if restore_rng:
        restore_rng_state(path)
    return Checkpoint(step=int(state["step"]), elapsed=dict(state["elapsed"]), extra=dict(state["extra"]),
                      path=path)


def check_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checked ``state.json`` of step directory ``path``, after checking both safetensors files are whole.

    Raises a one-line ``ConfigError`` naming the damaged file; reads headers only (cheap).
    """
    path = Path(path)
    state = read_record(path / "state.json", CheckpointState, what="checkpoint state")
    for name in ("model.safetensors", "optimizer.safetensors"):
        check_safetensors(path / name)
    return state


def _optimizer_tensors(path: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(str(path / "optimizer.safetensors")).items() if k.startswith("state/")}


def restore_rng_state(path: str | os.PathLike) -> None:
    """Set torch's global RNG (CPU and CUDA) to the state saved in checkpoint step directory ``path``.

    A trainer that resumes calls this after it has rebuilt everything that draws from the global RNG at start-up
    (the net's initialisation, its data loaders' iterators), so the stream continues exactly where the
    interrupted run's checkpoint left it.
    """
    path = Path(path)
    check_safetensors(path / "optimizer.safetensors")
    _set_rng({k: v for k, v in load_file(str(path / "optimizer.safetensors")).items() if k.startswith("rng/")})
