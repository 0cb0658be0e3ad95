"""The ``preattentive`` command line: a thin typer shell over the Python API.

Each concern has its own module here (``stimuli``, ``train``, ``evaluate``, ...) holding a typer sub-app or
commands; this file assembles them. Bad input becomes a one-line error and exit code 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator

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


def _user_errors() -> tuple[type[BaseException], ...]:
    """What bad input raises: our ValueErrors (ParamError, ConfigError, ...), unknown ids (KeyError), file and hub
    errors (OSError: missing, unreadable, no network), damaged weights (SafetensorError)."""
    errors: tuple[type[BaseException], ...] = (ValueError, KeyError, OSError)
    try:
        from safetensors import SafetensorError

        errors += (SafetensorError,)
    except ImportError:  # pragma: no cover - safetensors is a dependency
        pass
    return errors


def one_line(e: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


@contextlib.contextmanager
def user_errors(prefix: str = "") -> Iterator[None]:
    """Turn bad input raised inside the block into ``error: <one line>`` and exit code 2 (never a traceback).

    Example
    -------
    >>> with user_errors():  # doctest: +SKIP
    ...     train_supervised(cfg, out)
    """
    try:
        yield
    except _user_errors() as e:
        raise fail(prefix + one_line(e)) from None


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
    except _user_errors() as e:  # defensive: commands use user_errors() / fail() themselves
        typer.echo(f"error: {one_line(e)}", err=True)
        sys.exit(2)
