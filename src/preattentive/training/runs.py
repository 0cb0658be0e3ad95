"""Run directories: ``run.json``, ``metrics.jsonl``, ``model/``, ``checkpoint/`` — created only after input is valid.

Layout of a supervised run::

    run.json        {"kind": "supervised", "model_dir": "model", "status": "running"|"done", "model": id,
                     "task": {...}, "config": {...resolved TrainConfig...}, "steps", "elapsed", "val", ...}
    metrics.jsonl   one JSON object per line: {"step", "split": "train"|"val", "loss", "acc", "wall", "cpu", ...}
    model/          preattentive.models.save_net output (config.json + model.safetensors), written at the end
    checkpoint/     see preattentive.training.checkpoint (weights, AdamW, RNG, step)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from preattentive.config_schema import RunRecord, read_json, read_record
from preattentive.files import atomic_dir, atomic_write_json, atomic_write_text
from preattentive.preflight import check_weights
from preattentive.stimuli.base import ParamError

# Options that may change when a run is resumed: extending the budget is the point of resuming.
RESUMABLE_CHANGES = ("steps", "minutes", "num_workers")


def write_record(path: Path, obj: Any) -> None:
    """Write a run record (``run.json``, ``compare.json``) atomically, in the one format every trainer uses.

    Indent 1, no final newline, values JSON cannot hold (paths) as ``str``.
    """
    atomic_write_json(path, obj, indent=1, default=str, newline=False)


def append_metrics(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line to ``metrics.jsonl``."""
    with open(path, "a") as f:
        f.write(json.dumps(record, separators=(",", ":")) + "\n")


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of a ``metrics.jsonl`` (a run directory or the file).

    A torn last line (the process was killed while appending it) is dropped; a bad line elsewhere is an error.
    """
    p = Path(path)
    p = p / "metrics.jsonl" if p.is_dir() else p
    if not p.exists():
        return []
    lines = [line for line in p.read_text(errors="replace").splitlines() if line.strip()]
    out = []
    for k, line in enumerate(lines):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:
            if k == len(lines) - 1:
                break
            raise ParamError(f"{p}: line {k + 1} is not valid JSON ({e.msg}); expected one JSON object per line") \
                from None
    return out


def truncate_metrics(path: Path, step: int) -> None:
    """Drop lines after ``step`` (a killed run logged past its last checkpoint; resuming logs them again)."""
    if not path.exists():
        return
    keep = [r for r in read_metrics(path) if r.get("step", 0) <= step]
    atomic_write_text(path, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in keep))


def read_run(path: str | os.PathLike) -> dict[str, Any]:
    """The ``run.json`` record of a run directory, checked (:class:`~preattentive.config_schema.RunRecord`).

    A missing, unreadable or malformed record is a one-line ``ParamError`` naming the file.
    """
    f = Path(path) / "run.json"
    if not f.is_file():
        raise ParamError(f"{str(path)!r} is not a run directory: expected {f}")
    return read_record(f, RunRecord, what="run record")


def model_dir(path: str | os.PathLike, *, check: bool = True) -> Path:
    """The weights folder of a run directory (``run.json``'s ``model_dir``), its safetensors files checked."""
    p = Path(path)
    d = p / read_run(p).get("model_dir", "model")
    if check:
        if not d.is_dir():
            raise ParamError(f"run {str(p)!r}: its model folder {d} is missing; expected a finished run")
        check_weights(d)
    return d


def run_finished(run: Path) -> bool:
    """A finished run directory (run.json present and a model folder): reused rather than retrained."""
    if not (run / "run.json").is_file():
        return False
    record = read_run(run)
    return (run / record.get("model_dir", "model")).is_dir() and record.get("status", "done") in ("done", "finished")


def check_out_dir(out: Path, config, *, resume: bool) -> None:
    """Refuse to overwrite a run, or to resume one whose configuration differs (besides the budgets)."""
    if not resume:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise ParamError(f"out={str(out)!r} already exists and is not empty: pass --resume or another --out")
        return
    if not (out / "run.json").is_file():
        raise ParamError(f"nothing to resume in {str(out)!r}: expected {out / 'run.json'}")
    saved = read_run(out).get("config", {})
    mine = config.to_dict()
    for k in sorted(set(saved) | set(mine)):
        if k not in RESUMABLE_CHANGES and saved.get(k) != json.loads(json.dumps(mine.get(k), default=str)):
            raise ParamError(f"cannot resume {str(out)!r} with {k}={mine.get(k)!r}: the run has {saved.get(k)!r}")


def build_net(config, n_classes: int, n_queries: int = 0) -> torch.nn.Module:
    """``make_net(config.model, num_classes=..., image_size=config.size, **config.model_overrides)``.

    Mixed-question families (``family.queries``) also set ``num_queries`` so question-conditioned nets size
    their query embedding; other nets ignore it.
    """
    from preattentive.models import make_net

    kw = check_net_options(config.model, config.model_overrides)
    if n_queries and "num_queries" not in kw:
        kw["num_queries"] = n_queries
    return make_net(config.model, num_classes=n_classes, image_size=config.size, **kw)


def check_net_options(model: str, overrides: Any) -> dict[str, Any]:
    """``overrides`` of net ``model``'s config, each checked (and coerced) against its field's type.

    A wrong type is a one-line ``ConfigError`` (``net option widths='abc': expected a list``), never a failure deep
    inside the net's constructor; unknown names are left to ``make_net``, which lists the allowed ones.
    """
    import typing

    from preattentive.config_schema import check_value
    from preattentive.models.base import net_spec

    hints = typing.get_type_hints(type(net_spec(model).config))
    return {k: check_value(hints[k], v, f"net option {k}") if k in hints else v for k, v in dict(overrides).items()}


def init_weights(net: torch.nn.Module, source: str | os.PathLike) -> None:
    """Copy into ``net`` the weights of a finished run directory or a saved model directory (same architecture).

    This is how a curriculum stage hands its net to the next (``TrainConfig.init_from``).
    """
    from preattentive.models import load_net

    p = Path(source)
    weights = p / read_run(p).get("model_dir", "model") if (p / "run.json").is_file() else p
    if not (weights / "config.json").is_file():
        raise ParamError(f"init_from={str(source)!r}: expected a finished run directory or a saved model directory")
    read_json(weights / "config.json", what="saved net config")
    check_weights(weights)
    src = load_net(weights).state_dict()
    dst = net.state_dict()
    bad = sorted(set(src) ^ set(dst)) or [k for k in dst if dst[k].shape != src[k].shape]
    if bad:
        raise ParamError(f"init_from={str(source)!r}: its weights do not fit this net (first mismatch: {bad[0]!r}); "
                         "expected a run of the same net id, overrides and image size")
    net.load_state_dict(src)


def write_model(net: torch.nn.Module, target: Path) -> None:
    """``save_net`` into a temporary directory, then swap it into ``target``."""
    from preattentive.models import save_net

    with atomic_dir(target) as tmp:
        save_net(net, tmp)
