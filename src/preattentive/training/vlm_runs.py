"""Run directories and time-budgeted learning-rate schedules for the CLIP and LLaVA trainers.

A run directory holds ``run.json`` (``kind``, ``model_dir``, ``task``, resolved ``config``, ``status``, final
``metrics`` and the ``loader`` to call), ``metrics.jsonl`` (one JSON object per logged step) and ``model/``
(``save_pretrained`` output, written to a temporary directory and renamed into place).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from preattentive.files import atomic_dir
from preattentive.training.runs import write_record

CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}  # budget clocks; "cpu" sums all threads
LOADERS = {"clip": "preattentive.models.clip:load_clip", "llava": "preattentive.models.llava:load_llava"}


def configure_threads(threads: int | None) -> None:
    """Set torch's intra-op threads when asked (the CLI's ``--threads``); None leaves torch's default."""
    from preattentive.preflight import check_threads

    if check_threads(threads) is not None:
        import torch

        torch.set_num_threads(int(threads))


def check_run_dir(out: str | os.PathLike, kind: str, *, resume: bool) -> None:
    """Preflight of a CLIP / LLaVA run folder, before anything is written.

    A new run needs an absent or empty folder; ``resume`` needs a run of this ``kind`` there (its ``run.json``).
    """
    from preattentive.config_schema import RunRecord, read_record
    from preattentive.preflight import check_new_out

    d = Path(out)
    record_path = d / "run.json"
    if not resume:
        if record_path.exists():
            raise FileExistsError(f"{d} already holds a run; pass resume=True (--resume) or choose another out")
        check_new_out(d, resume_hint=False)
        return
    if not record_path.is_file():
        raise FileNotFoundError(f"nothing to resume in {str(d)!r}: no run.json there (drop --resume to start a new "
                                "run)")
    have = read_record(record_path, RunRecord, what="run record").get("kind")
    if have != kind:
        raise ValueError(f"cannot resume {str(d)!r} as a {kind} run: its run.json has kind={have!r}")


class RunWriter:
    """Creates a run directory, appends metrics, and finishes it with the model and the final record.

    Create it last, once the model, data and checkpoint have loaded: it is the first thing that writes.
    """

    def __init__(self, out: str | os.PathLike, kind: str, config: Any, *, task: dict[str, Any],
                 resume: bool = False) -> None:
        self.dir = Path(out)
        record_path = self.dir / "run.json"
        check_run_dir(self.dir, kind, resume=resume)
        self.dir.mkdir(parents=True, exist_ok=True)
        from preattentive import __version__

        self.record = {"kind": kind, "model_dir": "model", "loader": LOADERS[kind], "task": task,
                       "config": dataclasses.asdict(config), "status": "running", "version": __version__,
                       "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_record(record_path, self.record)
        self._metrics = open(self.dir / "metrics.jsonl", "a")

    def log(self, row: dict[str, Any]) -> None:
        self._metrics.write(json.dumps(row) + "\n")
        self._metrics.flush()

    def save_model(self, save: Callable[[Path], Any]) -> Path:
        """Call ``save(tmp_dir)`` and move the result to ``model/`` atomically (the old one removed after)."""
        final = self.dir / "model"
        with atomic_dir(final) as tmp:
            save(tmp)
        return final

    def finish(self, save: Callable[[Path], Any], **fields: Any) -> Path:
        """Save the model, mark the run done with ``fields`` (steps, metrics, ...) and return the run directory."""
        self.save_model(save)
        self.record.update(fields, status="done", finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        write_record(self.dir / "run.json", self.record)
        self._metrics.close()
        return self.dir


class BudgetSchedule:
    """Linear warm-up then cosine decay (``transformers.get_cosine_schedule_with_warmup``) fitted to a budget.

    With a time budget the horizon (number of steps the cosine spans) is unknown until the machine has been
    timed: the first ``probe`` steps warm up linearly, then the horizon is set to the steps that fit in the
    remaining minutes (at most ``max_steps``). A resumed run passes the saved ``horizon`` to continue the same
    curve.
    """

    def __init__(self, optimizer: Any, warmup: int, max_steps: int, minutes: float | None, *,
                 horizon: int | None = None, done: int = 0, probe: int = 10) -> None:
        self.opt, self.warmup, self.max_steps, self.minutes, self.probe = optimizer, warmup, max_steps, minutes, probe
        self.base = [g["lr"] for g in optimizer.param_groups]
        self.sched = None
        self.horizon = horizon if horizon is not None else (max_steps if minutes is None else None)
        if self.horizon is not None:
            self._start(done)
        else:
            self._set(min(1.0, (done + 1) / max(warmup, 1)))

    def _set(self, factor: float) -> None:
        for g, b in zip(self.opt.param_groups, self.base):
            g["lr"] = b * factor

    def _start(self, done: int) -> None:
        from transformers import get_cosine_schedule_with_warmup

        for g, b in zip(self.opt.param_groups, self.base):
            g["lr"] = g["initial_lr"] = b
        # last_epoch = done - 1: the scheduler starts at step `done` (needs "initial_lr" in every group)
        self.sched = get_cosine_schedule_with_warmup(self.opt, self.warmup, max(self.horizon, self.warmup + 1),
                                                     last_epoch=done - 1)

    def after_step(self, done: int, session_steps: int, session_s: float) -> None:
        """Call after each optimiser step: ``done`` steps in total, ``session_steps`` in ``session_s`` here."""
        if self.sched is not None:
            self.sched.step()
        elif session_steps >= self.probe:
            left = max(0.0, 60.0 * self.minutes - session_s)
            self.horizon = min(self.max_steps, done + int(left / (session_s / session_steps)))
            self._start(done)
        else:
            self._set(min(1.0, (done + 1) / max(self.warmup, 1)))
