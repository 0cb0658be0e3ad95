"""``preattentive train clip|llava`` and ``preattentive ask``: CLIP and LLaVA from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from preattentive.cli import app, fail, user_errors
from preattentive.cli.stimuli import PARAM_HELP, parse_params
from preattentive.cli.train import train_app


def _given(**kw: object) -> dict[str, object]:
    return {k: v for k, v in kw.items() if v is not None}


@train_app.command("clip")
def train_clip_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (must be new unless --resume)."),
    preset: Optional[str] = typer.Option(None, help="CLIP preset (default clip-tiny)."),
    hard_negatives: bool = typer.Option(True, "--hard-negatives/--no-hard-negatives",
                                        help="NegCLIP swap twins in each batch (default on; off = bag of words)."),
    twins: Optional[str] = typer.Option(None, help="Twin kinds per scene, comma-separated: swap, transpose, "
                                                   "swap+transpose (default swap)."),
    minutes: Optional[float] = typer.Option(None, help="Time budget, minutes of --clock (default 5)."),
    steps: Optional[int] = typer.Option(None, help="Step limit (default 3000)."),
    clock: Optional[str] = typer.Option(None, help="Budget clock: cpu (process CPU time) or wall (default cpu)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Pairs per step (default 32)."),
    lr: Optional[float] = typer.Option(None, help="Peak AdamW learning rate (default 6e-4)."),
    seed: Optional[int] = typer.Option(None, help="Initialisation and data seed (default 0)."),
    threads: Optional[int] = typer.Option(None, help="torch threads (default: torch's choice)."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="scenes " + PARAM_HELP),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its checkpoint."),
) -> None:
    """Train a CLIP contrastively on scenes captions (on the fly); print the held-out zero-shot accuracy.

    Example: preattentive train clip --out runs/clip-hn --minutes 5
    """
    from preattentive.training.clip import train_clip

    given = _given(preset=preset, minutes=minutes, steps=steps, clock=clock, batch_size=batch_size, lr=lr,
                   seed=seed, threads=threads, twins=tuple(t.strip() for t in twins.split(",")) if twins else None)
    with user_errors():
        run = train_clip(out=out, resume=resume, hard_negatives=hard_negatives, scenes=parse_params(param), **given)
    record = json.loads((run / "run.json").read_text())
    typer.echo(json.dumps({"out": str(run), "steps": record["steps"], **record["metrics"]}))


@train_app.command("llava")
def train_llava_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (must be new unless --resume)."),
    vision: Optional[str] = typer.Option(None, help="CLIP run/dir/hub id for the tower; default: train clip-tiny "
                                                    "with hard negatives first; 'scratch' = untrained tower."),
    train_vision: bool = typer.Option(False, "--train-vision", help="Train the tower too (end to end)."),
    preset: Optional[str] = typer.Option(None, help="LLaVA preset (default llava-tiny)."),
    projector: Optional[str] = typer.Option(None, help="linear (v1) or mlp2x_gelu (v1.5, default)."),
    pool: Optional[int] = typer.Option(None, help="Average-pool the patch grid k x k before the projector "
                                                  "(k² fewer image tokens; default 1 = none)."),
    stage1_minutes: Optional[float] = typer.Option(None, "--stage1-minutes", help="Stage-1 budget (default 0.5)."),
    stage2_minutes: Optional[float] = typer.Option(None, "--stage2-minutes", help="Stage-2 budget (default 4.5)."),
    stage1_steps: Optional[int] = typer.Option(None, "--stage1-steps", help="Stage-1 step limit."),
    stage2_steps: Optional[int] = typer.Option(None, "--stage2-steps", help="Stage-2 step limit."),
    clip_minutes: Optional[float] = typer.Option(None, "--clip-minutes",
                                                 help="CLIP budget when --vision is unset (default 5)."),
    clock: Optional[str] = typer.Option(None, help="Budget clock: cpu or wall (default cpu)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Triples per step (default 32)."),
    other_fraction: Optional[float] = typer.Option(None, "--other-fraction",
                                                   help="Share of stage-2 samples from the other families."),
    seed: Optional[int] = typer.Option(None, help="Initialisation and data seed (default 0)."),
    threads: Optional[int] = typer.Option(None, help="torch threads (default: torch's choice)."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="scenes " + PARAM_HELP),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out (finished stages are kept)."),
) -> None:
    """Train a LLaVA in two stages (projector on captions, then projector + LM on questions); print accuracy.

    Example: preattentive train llava --vision runs/clip-hn --out runs/llava-tiny
    """
    from preattentive.training.llava import train_llava

    given = _given(vision=vision, preset=preset, projector=projector, pool=pool, stage1_minutes=stage1_minutes,
                   stage2_minutes=stage2_minutes, stage1_steps=stage1_steps, stage2_steps=stage2_steps,
                   clip_minutes=clip_minutes, clock=clock, batch_size=batch_size, other_fraction=other_fraction,
                   seed=seed, threads=threads)
    with user_errors():
        run = train_llava(out=out, resume=resume, freeze_vision=not train_vision, scenes=parse_params(param),
                          **given)
    record = json.loads((run / "run.json").read_text())
    typer.echo(json.dumps({"out": str(run), **record["metrics"]}))


@app.command("ask")
def ask(
    model: str = typer.Argument(..., help="LLaVA run directory, saved directory or hub id."),
    image: Path = typer.Argument(..., help="Image file (PNG/JPEG)."),
    question: str = typer.Argument(..., help="The question, in quotes."),
    max_new_tokens: int = typer.Option(32, "--max-new-tokens", help="Longest answer, in tokens."),
    dtype: str = typer.Option("auto", help="auto (bf16 on a capable GPU, else fp32), float32, bfloat16, float16."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:1 ... (default: cuda when available)."),
) -> None:
    """Answer a question about an image with a LLaVA model (greedy decoding); print the answer.

    Example: preattentive ask runs/llava-tiny scene.png "what color is the circle?"
    """
    import cv2
    from transformers.utils import logging as hf_logging

    from preattentive.models.llava import load_llava
    from preattentive.models.vlm_common import locate
    from preattentive.preflight import check_device, check_weights

    hf_logging.disable_progress_bar()  # stdout carries the answer only

    with user_errors():  # checked before anything is loaded: the device, the weights on disk
        check_device(device, option="--device")
        where = locate(model, "LLaVA")
        check_weights(where)
    if max_new_tokens < 1:
        raise fail(f"--max-new-tokens {max_new_tokens}: expected >= 1")
    if not image.is_file():
        raise fail(f"image {str(image)!r} does not exist")
    bgr = cv2.imread(str(image), cv2.IMREAD_COLOR)
    if bgr is None:
        raise fail(f"image {str(image)!r}: not a readable PNG/JPEG")
    with user_errors(f"model {model!r}: "):
        llava = load_llava(model, dtype=dtype, device=device)
    with user_errors():
        answer = llava.generate([cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)], [question], max_new_tokens=max_new_tokens)[0]
    typer.echo(answer)
