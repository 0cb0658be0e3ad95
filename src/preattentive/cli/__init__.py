"""The ``preattentive`` command line: a thin typer shell over the Python API.

Each concern has its own module here (``stimuli``, ``train``, ``evaluate``, ...) holding a typer sub-app or
commands; this file assembles them. Bad input becomes a one-line error and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from preattentive import __version__

app = typer.Typer(name="preattentive", help=__doc__.splitlines()[0], no_args_is_help=True,
                  pretty_exceptions_enable=False, context_settings={"help_option_names": ["-h", "--help"]})


def _version(value: bool) -> None:
    if value:
        typer.echo(f"preattentive {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """preattentive: stimuli, models, evaluation, in-silico physiology and reports."""


def fail(message: str) -> "typer.Exit":
    """Print ``error: message`` on one line to stderr and return the exit-2 exception to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


# Sub-apps and commands register themselves on `app` when imported.
from preattentive.cli import stimuli as _stimuli  # noqa: E402,F401
from preattentive.cli import train as _train  # noqa: E402,F401
from preattentive.cli import vlm as _vlm  # noqa: E402,F401
from preattentive.cli import evaluate as _evaluate  # noqa: E402,F401
from preattentive.cli import models as _models  # noqa: E402,F401
from preattentive.cli import report as _report  # noqa: E402,F401
from preattentive.cli import demo as _demo  # noqa: E402,F401
from preattentive.cli import human as _human  # noqa: E402,F401
from preattentive.cli import export as _export  # noqa: E402,F401
from preattentive.cli import listing as _listing  # noqa: E402,F401


def main() -> None:
    """Entry point: run the app, turning any stray ValueError into a one-line error with exit code 2."""
    try:
        app()
    except (ValueError, FileExistsError, FileNotFoundError) as e:  # defensive: commands should call fail()
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
