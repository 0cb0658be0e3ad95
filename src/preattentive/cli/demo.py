"""``preattentive demo``: the one-command demo study (what ``make demo`` runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from preattentive.cli import app, user_errors


@app.command("demo")
def demo(
    quick: bool = typer.Option(False, "--quick", help="Scaled-down run (about a minute) — what the tests run."),
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Output folder (created)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file or packaged config name overriding the "
                                                                 "packaged demo config (see `preattentive configs`)."),
) -> None:
    """Run the demo study: suite, training, evaluation, physiology, report; print the report's path."""
    from preattentive.configs import resolve_config
    from preattentive.studies.demo import DemoConfig, format_summary, run_demo

    with user_errors():
        cfg = DemoConfig.preset(quick=quick, path=resolve_config(config) if config is not None else None)
    command = "preattentive demo" + (" --quick" if quick else "") + (f" --config {config}" if config else "")
    with user_errors():
        result = run_demo(cfg, out, log=typer.echo, command=command)
    for line in format_summary(result.summary):
        typer.echo(f"result: {line}")
    for line in result.findings:
        typer.echo(f"finding: {line}")
    for note in result.notes:
        typer.echo(f"note [{note['section']}]: {note['text']}")
    if result.report is not None:
        typer.echo(f"report: {result.report}")
    else:
        typer.echo(f"output: {result.out}")


@app.command("bottleneck")
def bottleneck(
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file or packaged config name, e.g. "
                                                                 "bottleneck (default: the built-in settings, "
                                                                 "mirrored in the packaged bottleneck.yaml)."),
    out: Path = typer.Option(Path("runs/bottleneck"), "--out", help="Output folder (created; finished runs reused)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override: optimiser steps per model."),
    minutes: Optional[float] = typer.Option(None, "--minutes", help="Override: wall-clock minutes per model."),
) -> None:
    """Bottleneck study (S7): accuracy vs image-token budget, question-independent vs question-conditioned."""
    from preattentive.configs import resolve_config
    from preattentive.studies.bottleneck import BottleneckConfig, run_bottleneck

    overrides = {k: v for k, v in (("steps", steps), ("minutes", minutes)) if v is not None}
    with user_errors():
        cfg = BottleneckConfig.load(resolve_config(config) if config is not None else None, **overrides)
        result = run_bottleneck(cfg, out, log=typer.echo)
    typer.echo(f"table: {result.out / 'bottleneck.csv'}")
    typer.echo(f"figure: {result.figure}")
    if result.report is not None:
        typer.echo(f"report: {result.report}")
