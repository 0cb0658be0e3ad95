"""``preattentive train ...``: the training sub-app; each model family registers its command on ``train_app``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from preattentive.cli import app, fail, user_errors
from preattentive.cli.stimuli import PARAM_HELP, parse_params

train_app = typer.Typer(help="Train models (supervised nets, CLIP, LLaVA).", no_args_is_help=True)
app.add_typer(train_app, name="train")


# --------------------------------------------------------------------------------------------- supervised nets
_NET_PARAM_HELP = ("Net config override as key=value (repeatable), e.g. --net-param steps=12 or "
                   "--net-param widths=16,32.")


def _coerce_scalar(text: str):
    """``"12"`` → 12, ``"0.5"`` → 0.5, ``"true"`` → True, ``"16,32"`` → [16, 32], otherwise the string (for
    --net-param values; the net's config then checks each against its field's type)."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        if "," in text:
            return [_coerce_scalar(x.strip()) for x in text.split(",") if x.strip()]
        return text


def size_from_params(params: dict[str, str], size: Optional[int]) -> Optional[int]:
    """Take ``--param size=N`` out of ``params`` as the image side; disagreeing with ``--size`` is an error."""
    if "size" not in params:
        return size
    text = params.pop("size")
    try:
        value = int(text)
    except ValueError:
        raise fail(f"--param size={text!r}: expected an integer image side in px") from None
    if size is not None and size != value:
        raise fail(f"--param size={text} conflicts with --size {size}: give the image side once")
    return value


@train_app.command("supervised")
def supervised(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Net id, e.g. hgru-16 or cnn-100k."),
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Stimulus family id, e.g. curve-tracing."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help=PARAM_HELP),
    net_param: Optional[List[str]] = typer.Option(None, "--net-param", help=_NET_PARAM_HELP),
    size: Optional[int] = typer.Option(None, help="Image side, px (default 32)."),
    steps: Optional[int] = typer.Option(None, help="Step budget (optimiser steps)."),
    minutes: Optional[float] = typer.Option(None, help="Time budget in minutes (see --clock)."),
    clock: Optional[str] = typer.Option(None, help="Time budget clock: wall or cpu (default wall)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per step (default 32)."),
    lr: Optional[float] = typer.Option(None, help="Peak AdamW learning rate (default 1e-3)."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help="AdamW weight decay (default 0.01)."),
    warmup: Optional[float] = typer.Option(None, help="Warm-up fraction of the budget (default 0.05)."),
    seed: Optional[int] = typer.Option(None, help="Data and initialisation seed (default 0)."),
    val_n: Optional[int] = typer.Option(None, "--val-n", help="Held-out validation trials (default 256)."),
    val_every: Optional[int] = typer.Option(None, "--val-every", help="Validate every N steps (default 200)."),
    ckpt_every: Optional[int] = typer.Option(None, "--ckpt-every", help="Checkpoint every N steps (default 200)."),
    step_loss: Optional[str] = typer.Option(None, "--step-loss", help="Recurrent nets: final, mean, progressive."),
    train_iters: Optional[int] = typer.Option(None, "--train-iters", help="Recurrent steps in training."),
    target: Optional[str] = typer.Option(None, "--target", help="label (default) or mask: per-pixel, e.g. the "
                                         "maze-path route (nets with a per-pixel head: recall-16, recall-16-ff)."),
    progressive_alpha: Optional[float] = typer.Option(None, "--progressive-alpha",
                                                      help="Weight of the progressive term (default 0.5)."),
    data: Optional[Path] = typer.Option(None, help="Train on a Parquet set directory instead of on the fly."),
    workers: Optional[int] = typer.Option(None, help="DataLoader worker processes (default 0)."),
    init_from: Optional[Path] = typer.Option(None, "--init-from",
                                             help="Start from the weights of a finished run of the same net."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (must be new unless --resume)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train a vision net on a stimulus task (generated on the fly, seeded per step); write a run directory.

    Example: preattentive train supervised --model hgru-16 --task curve-tracing --param style=dashed
    --param length=14 --size 32 --minutes 10 --out runs/x
    """
    import json

    from preattentive.training.config import TrainConfig
    from preattentive.training.runs import read_run

    params = parse_params(param)
    size = size_from_params(params, size)
    given = {"model": model, "task": task, "size": size, "steps": steps, "minutes": minutes, "clock": clock,
             "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "warmup": warmup, "seed": seed,
             "val_n": val_n, "val_every": val_every, "ckpt_every": ckpt_every, "step_loss": step_loss,
             "train_iters": train_iters, "data": str(data) if data else None, "num_workers": workers,
             "init_from": str(init_from) if init_from else None, "target": target,
             "progressive_alpha": progressive_alpha}
    given = {k: v for k, v in given.items() if v is not None}
    if params:
        given["params"] = params
    if net_param:
        given["model_overrides"] = {k: _coerce_scalar(v) for k, v in parse_params(net_param).items()}
    with user_errors():
        base = {}
        if resume:
            saved = read_run(out).get("config", {})
            base = {k: v for k, v in saved.items() if k not in ("val_seed", "test_seed")}
            if "params" in given:  # CLI strings vs the family's typed values: compare after coercion
                given["params"] = {**base.get("params", {}), **given["params"]}
        for need in ("model", "task"):
            if need not in given and need not in base:
                raise ValueError(f"--{need} is required (e.g. --model hgru-16 --task curve-tracing)")
        cfg = TrainConfig.from_dict({**base, **given})
        from preattentive.training.loop import train_supervised

        res = train_supervised(cfg, out, resume=resume, show_progress=not quiet)
    typer.echo(json.dumps({"out": str(res.out), "steps": res.steps, "val_acc": round(res.val.get("acc", 0), 4),
                           "wall_s": round(res.elapsed["wall"], 1), "cpu_s": round(res.elapsed["cpu"], 1),
                           "images_per_s": round(res.images_per_s, 1), "n_params": res.n_params}))


# --------------------------------------------------------------------------------------------- fair comparison
@app.command("compare")
def compare_cmd(
    models: Optional[str] = typer.Option(None, "--models", help="Comma-separated net ids: cnn-100k,vit-100k,hgru-16."),
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Stimulus family id."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help=PARAM_HELP),
    size: Optional[int] = typer.Option(None, help="Image side, px (default 32)."),
    budget_steps: Optional[int] = typer.Option(None, "--budget-steps", help="Equal steps per model."),
    budget_minutes: Optional[float] = typer.Option(None, "--budget-minutes", help="Equal minutes per model."),
    clock: Optional[str] = typer.Option(None, help="Clock of --budget-minutes: wall or cpu (default wall)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per step (default 32)."),
    lr: Optional[float] = typer.Option(None, help="Peak AdamW learning rate (default 1e-3)."),
    seed: Optional[int] = typer.Option(None, help="Data and initialisation seed (default 0)."),
    test_n: Optional[int] = typer.Option(None, "--test-n", help="Test trials per condition (default 1000)."),
    data: Optional[Path] = typer.Option(None, help="A Parquet training set shared by every model."),
    workers: Optional[int] = typer.Option(None, help="DataLoader worker processes (default 0)."),
    target: Optional[str] = typer.Option(None, "--target", help="label (default) or mask (per-pixel, e.g. maze-path)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Study YAML file or packaged config name, "
                                          "e.g. s1_curve_tracing (flags override its fields)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (runs, results.parquet, results.md)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Train several nets on one task under one budget and write a fair comparison table."""
    from preattentive.studies.compare import CompareConfig, compare

    given = {"models": models, "task": task, "size": size, "budget_steps": budget_steps,
             "budget_minutes": budget_minutes, "clock": clock, "batch_size": batch_size, "lr": lr, "seed": seed,
             "test_n": test_n, "data": str(data) if data else None, "num_workers": workers, "target": target}
    params = parse_params(param)
    if "size" in params:  # the study's image side is --size (or the file's size); a test may set its own
        given["size"] = size_from_params(params, size)
    given = {k: v for k, v in given.items() if v is not None}
    if params:
        given["params"] = params
    with user_errors():
        from preattentive.config_schema import read_yaml
        from preattentive.configs import resolve_config

        # a YAML path or a packaged name (e.g. s1_curve_tracing); errors name the file, the key and the value
        config = resolve_config(config) if config is not None else None
        base = read_yaml(config, what="study") if config is not None else {}
        for need in ("models", "task"):
            if not {**base, **given}.get(need):
                raise ValueError(f"--{need} is required (or give it in --config)")
        cfg = CompareConfig.from_dict({**base, **given}, source=config, overrides=tuple(given))
        table = compare(cfg, out, show_progress=not quiet)
    typer.echo((out / "results.md").read_text())
    del table
