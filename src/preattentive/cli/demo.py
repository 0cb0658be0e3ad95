"""``preattentive demo``: the one-command demo study (what ``make demo`` runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from preattentive.cli import app, fail


@app.command("demo")
def demo(
    quick: bool = typer.Option(False, "--quick", help="Scaled-down run (about a minute) — what the tests run."),
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Output folder (created)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML overriding configs/demo.yaml."),
) -> None:
    """Run the demo study: suite, training, evaluation, physiology, report; print the report's path."""
    from preattentive.studies.demo import DemoConfig, run_demo

    try:
        cfg = DemoConfig.preset(quick=quick, path=config)
    except ValueError as e:
        raise fail(str(e))
    command = "preattentive demo" + (" --quick" if quick else "") + (f" --config {config}" if config else "")
    result = run_demo(cfg, out, log=typer.echo, command=command)
    for note in result.notes:
        typer.echo(f"note [{note['section']}]: {note['text']}")
    if result.report is not None:
        typer.echo(f"report: {result.report}")
    else:
        typer.echo(f"output: {result.out}")
