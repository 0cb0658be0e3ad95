"""One generic supervised loop on Hugging Face ``accelerate``: budgets, warm-up + cosine, validation, resume.

The same code runs on this CPU, on one GPU, or on many GPUs / nodes under ``accelerate launch`` (each process
draws its own deterministic shard of every step's trials; see :mod:`preattentive.training.data`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from preattentive.stimuli.base import ParamError
from preattentive.training.checkpoint import latest_checkpoint, load_checkpoint, restore_rng_state, save_checkpoint
from preattentive.training.config import TrainConfig
from preattentive.training.data import held_out, net_inputs, train_loader
from preattentive.training.losses import LossOutput, dense_logits, solved, supervised_loss
from preattentive.training.preflight import dry_run_loss, prepare_task
from preattentive.training.runs import (append_metrics, build_net, check_out_dir, init_weights, truncate_metrics,
                                        write_model, write_record)

LossFn = Callable[[torch.nn.Module, dict[str, torch.Tensor]], LossOutput]


@dataclass
class RunResult:
    """Summary of a finished (or budget-stopped) run; the same numbers are in ``run.json``."""

    out: Path  # the run directory
    steps: int  # optimiser steps done in total
    elapsed: dict[str, float]  # {"wall": s, "cpu": s} of training (validation excluded)
    images_per_s: float  # training images per wall-clock second, whole run
    val: dict[str, float] = field(default_factory=dict)  # last validation {"loss", "acc", "n"}
    n_params: int = 0  # trainable parameters


def lr_factor(progress: float, warmup: float) -> float:
    """Linear warm-up over the first ``warmup`` fraction of the budget, then cosine decay to 0.

    Example
    -------
    >>> lr_factor(0.025, 0.05), lr_factor(1.0, 0.05)
    (0.5, 0.0)
    """
    progress = min(max(progress, 0.0), 1.0)
    if progress < warmup:
        return progress / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (progress - warmup) / max(1e-12, 1.0 - warmup)))


class _Clock:
    """Elapsed wall and process-CPU seconds since ``start()``, plus what earlier (resumed) segments used."""

    def __init__(self, before: dict[str, float] | None = None) -> None:
        self.before = {"wall": 0.0, "cpu": 0.0, **(before or {})}
        self.paused = {"wall": 0.0, "cpu": 0.0}
        self.t0 = {"wall": time.perf_counter(), "cpu": time.process_time()}

    def _now(self) -> dict[str, float]:
        return {"wall": time.perf_counter(), "cpu": time.process_time()}

    def elapsed(self) -> dict[str, float]:
        now = self._now()
        return {k: self.before[k] + now[k] - self.t0[k] - self.paused[k] for k in now}

    def exclude(self, since: dict[str, float]) -> None:
        """Do not count the time since ``since`` (a ``_now()``) as training time (validation, checkpoints)."""
        now = self._now()
        for k in now:
            self.paused[k] += now[k] - since[k]


@torch.no_grad()
def predict(model: torch.nn.Module, loader, *, steps: int | None = None, device: torch.device | str = "cpu",
            target: str = "label") -> dict[str, torch.Tensor]:
    """Final-step predictions of a vision net over a loader: ``pred``, ``correct``, ``label``, ``level``,
    ``index``, ``loss``.

    With ``target="mask"`` an image is ``correct`` when every pixel's class matches the dense target (the maze
    is solved) and ``loss`` is its mean per-pixel cross-entropy; ``pred`` is still the pooled readout's answer.

    Example
    -------
    >>> # preds = predict(net, held_out(family, 256, 64))["pred"]  # doctest: +SKIP
    """
    was_training = model.training
    model.eval()
    cols: dict[str, list[torch.Tensor]] = {k: [] for k in ("pred", "correct", "label", "level", "index", "loss")}
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model(batch["image"], steps=steps, **net_inputs(batch))
        pred = out.logits.argmax(-1)
        cols["pred"].append(pred.cpu())
        if target == "mask":
            pix = dense_logits(out).float()
            cols["correct"].append(solved(pix, batch["target"]).cpu())
            cols["loss"].append(F.cross_entropy(pix, batch["target"], reduction="none").flatten(1).mean(1).cpu())
        else:
            cols["correct"].append((pred == batch["label"]).cpu())
            cols["loss"].append(F.cross_entropy(out.logits.float(), batch["label"], reduction="none").cpu())
        for k in ("label", "level", "index"):
            cols[k].append(batch[k].cpu())
    model.train(was_training)
    return {k: torch.cat(v) for k, v in cols.items()}


def _validate(model, loader, accelerator, steps, target: str = "label") -> dict[str, float]:
    p = predict(model, loader, steps=steps, device=accelerator.device, target=target)
    sums = torch.tensor([float(p["correct"].sum()), float(p["loss"].sum()), float(len(p["pred"]))],
                        device=accelerator.device)
    if accelerator.num_processes > 1:
        sums = accelerator.reduce(sums, reduction="sum")
    correct, loss, n = sums.tolist()
    return {"acc": correct / n, "loss": loss / n, "n": int(n)}


def train_supervised(config: TrainConfig, out: str | os.PathLike, *, resume: bool = False,
                     loss_fn: LossFn | None = None, model: torch.nn.Module | None = None,
                     show_progress: bool = True) -> RunResult:
    """Train a vision net on a stimulus task (on the fly or from Parquet) into run directory ``out``.

    Parameters
    ----------
    config : the run's :class:`TrainConfig` (budgets, optimiser, data, step loss).
    out : run directory; must be absent or empty unless ``resume``.
    resume : continue from ``out/checkpoint`` (on CPU, with a step budget, to bit-identical final weights).
    loss_fn : ``loss_fn(model, batch) -> LossOutput``; default: cross-entropy per ``config.step_loss``.
    model : a ready network instead of ``make_net(config.model, ...)`` (it must work with ``save_net``).
    show_progress : draw a tqdm progress bar on the main process.

    Example
    -------
    >>> cfg = TrainConfig(model="cnn-30k", task="curve-tracing", params={"style": "dashed"}, steps=50)
    >>> result = train_supervised(cfg, "runs/demo")  # doctest: +SKIP
    """
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    out = Path(out)
    setup = prepare_task(config)  # task, parameters and data set checked before anything is written
    family, val_family, n_classes, task = setup.family, setup.val_family, setup.n_classes, setup.task
    accelerator = Accelerator()  # multi-CPU needs ACCELERATE_USE_CPU=1 (accelerate launch --cpu) under torchrun
    check_out_dir(out, config, resume=resume)  # before anything is written: bad input leaves nothing behind
    cuda = list(range(torch.cuda.device_count()))
    with torch.random.fork_rng(devices=cuda):  # the run's own RNG stream; the caller's global state is restored
        torch.manual_seed(config.seed)
        net = model if model is not None else build_net(config, n_classes, setup.n_queries)
        ckpt_root = out / "checkpoint"
        resuming = resume and latest_checkpoint(ckpt_root) is not None
        if config.init_from and not resuming:  # a resumed run starts from its own checkpoint instead
            init_weights(net, config.init_from)
        n_params = sum(p.numel() for p in net.parameters() if p.requires_grad)
        model_id = getattr(net, "net_id", "") or config.model
        loss_fn = loss_fn or supervised_loss(config)
        dry_run_loss(net, loss_fn, val_family)  # a bad model/loss pairing fails here, before `out` exists
        accelerator.wait_for_everyone()  # every process has checked `out` before the main one creates it
        optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        start_step, before, ck = 0, None, None
        if resuming:  # the RNG is restored below, once the loaders have drawn their start-up seeds
            ck = load_checkpoint(ckpt_root, net, optimizer, restore_rng=False)
            start_step, before = ck.step, ck.elapsed
        out.mkdir(parents=True, exist_ok=True)
        if accelerator.is_main_process:
            truncate_metrics(out / "metrics.jsonl", start_step)
            write_record(out / "run.json", {"kind": "supervised", "model_dir": "model", "status": "running",
                                                 "model": model_id, "task": task, "config": config.to_dict(),
                                                 "n_params": n_params})
        net, optimizer_p = accelerator.prepare(net, optimizer)
        loader = train_loader(family, config.data, config.batch_size, start_step=start_step, seed=config.seed,
                              rank=accelerator.process_index, world=accelerator.num_processes,
                              num_workers=config.num_workers)
        val_loader = held_out(val_family, config.val_n, 2 * config.batch_size, rank=accelerator.process_index,
                              world=accelerator.num_processes)
        clock, step, val = _Clock(before), start_step, {}
        win_t, win_n, run_t0 = time.perf_counter(), 0, time.perf_counter()
        bar = tqdm(total=config.steps, initial=start_step, desc=config.model, unit="step", dynamic_ncols=True,
                   disable=not (show_progress and accelerator.is_main_process))
        net.train()

        def progress() -> float:
            e = clock.elapsed()[config.clock]
            p = [(step + 1) / config.steps] if config.steps else []
            if config.budget_seconds:
                p.append(e / config.budget_seconds)
            return max(p)

        def done() -> bool:
            e = clock.elapsed()[config.clock]
            stop = (config.steps is not None and step >= config.steps) or (
                config.budget_seconds is not None and e >= config.budget_seconds)
            if accelerator.num_processes > 1:  # every process must agree, or collectives hang
                stop = bool(accelerator.reduce(torch.tensor(float(stop), device=accelerator.device), "max"))
            return stop

        def checkpoint() -> None:
            t = clock._now()
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                save_checkpoint(ckpt_root, accelerator.unwrap_model(net), optimizer, step=step,
                                elapsed=clock.elapsed(), extra={"val": val})
            clock.exclude(t)

        it = iter(loader)  # draws the loader's base seed from the global RNG, as the uninterrupted run did
        if ck is not None:  # ... so the stream now continues exactly where the checkpoint left it
            restore_rng_state(ck.path)
        while not done():
            lr = config.lr * lr_factor(progress(), config.warmup)
            for g in optimizer.param_groups:
                g["lr"] = lr
            batch = {k: v.to(accelerator.device) for k, v in next(it).items()}
            res = loss_fn(net, batch)
            optimizer_p.zero_grad(set_to_none=True)
            accelerator.backward(res.loss)
            if config.grad_clip:
                accelerator.clip_grad_norm_(net.parameters(), config.grad_clip)
            optimizer_p.step()
            step += 1
            win_n += len(batch["label"])
            bar.update(1)
            if step % config.log_every == 0 and accelerator.is_main_process:
                now = time.perf_counter()
                rec = {"step": step, "split": "train", "loss": float(res.loss.detach()), "lr": lr,
                       "images_per_s": win_n * accelerator.num_processes / max(1e-9, now - win_t),
                       **{k: float(v) for k, v in res.metrics.items()}, **clock.elapsed()}
                append_metrics(out / "metrics.jsonl", rec)
                bar.set_postfix(loss=f"{rec['loss']:.3f}", acc=f"{rec.get('acc', float('nan')):.2f}")
                win_t, win_n = now, 0
            if config.val_every and step % config.val_every == 0:
                t = clock._now()
                val = _validate(net, val_loader, accelerator, config.train_iters, config.target)
                clock.exclude(t)
                if accelerator.is_main_process:
                    append_metrics(out / "metrics.jsonl", {"step": step, "split": "val", **val, **clock.elapsed()})
            if config.ckpt_every and step % config.ckpt_every == 0:
                checkpoint()
        bar.close()
        elapsed = clock.elapsed()
        if not val or not (config.val_every and step % config.val_every == 0):
            val = _validate(net, val_loader, accelerator, config.train_iters, config.target)
            if accelerator.is_main_process:
                append_metrics(out / "metrics.jsonl", {"step": step, "split": "val", **val, **elapsed})
        if step > start_step or latest_checkpoint(ckpt_root) is None:
            checkpoint()
        ips = (step - start_step) * config.batch_size * accelerator.num_processes / max(
            1e-9, time.perf_counter() - run_t0)
        if accelerator.is_main_process:
            write_model(accelerator.unwrap_model(net), out / "model")
            write_record(out / "run.json", {
                "kind": "supervised", "model_dir": "model", "status": "done", "model": model_id, "task": task,
                "config": config.to_dict(), "n_params": n_params, "steps": step, "elapsed": elapsed,
                "images_per_s": ips, "val": val})
        accelerator.wait_for_everyone()
    return RunResult(out=out, steps=step, elapsed=elapsed, images_per_s=ips, val=val, n_params=n_params)


def load_run(path: str | os.PathLike):
    """Load a run directory: ``(model, record)`` where ``record`` is its ``run.json``.

    The run's ``kind`` names its model kind's loader (:mod:`preattentive.models.kinds`): supervised runs load with
    :func:`preattentive.models.load_net`, "clip" / "llava" runs as :class:`~preattentive.models.clip.Clip` /
    :class:`~preattentive.models.llava.Llava`.

    Example
    -------
    >>> model, record = load_run("runs/x")  # doctest: +SKIP
    >>> record["kind"]  # doctest: +SKIP
    'supervised'
    """
    from preattentive.training.runs import model_dir as weights_of, read_run

    from preattentive.models import kinds

    path = Path(path)
    record = read_run(path)
    model_dir = weights_of(path)  # present, and every safetensors file whole
    try:  # the model-kind registry says which loader reads this run kind
        kind = kinds.kind_for_run(str(record.get("kind")))
    except ValueError as e:
        raise ParamError(f"run {str(path)!r} has kind={record.get('kind')!r}: {e}") from None
    return kinds.load(kind, str(model_dir)), record


__all__ = ["LossFn", "LossOutput", "RunResult", "load_run", "lr_factor", "predict", "train_supervised"]
