"""``preattentive report DIR``: write the study's self-contained ``report.html`` and its figures."""

from __future__ import annotations

from pathlib import Path

import typer

from preattentive.cli import app, fail, user_errors


@app.command("report")
def report_command(
    study: Path = typer.Argument(..., help="Study directory (eval/, physiology/, stimuli/, notes.json, study.json)."),
    svg: bool = typer.Option(True, "--svg/--no-svg", help="Also write each figure as SVG."),
) -> None:
    """Write STUDY/report.html (figures embedded) plus STUDY/figures/*.png|svg and STUDY/tables/*.csv.

    Example: preattentive report runs/demo
    """
    from preattentive.report import write_report

    if not study.is_dir():
        raise fail(f"study directory {str(study)!r} does not exist")
    with user_errors():
        path = write_report(study, svg=svg)
    typer.echo(str(path))
