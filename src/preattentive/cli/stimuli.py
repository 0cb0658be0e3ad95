"""``preattentive stimuli ...``: list, preview and generate stimulus sets (being written)."""

from __future__ import annotations

import typer

from preattentive.cli import app

stimuli_app = typer.Typer(help="Generate, list and preview stimulus families.", no_args_is_help=True)
app.add_typer(stimuli_app, name="stimuli")


@stimuli_app.command("list")
def list_families() -> None:
    """List the registered stimulus families."""
    from preattentive import stimuli

    for fid in stimuli.list():
        typer.echo(f"{fid:22s} {stimuli.get(fid)().describe()}")
