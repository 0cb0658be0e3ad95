"""Checks a command makes before it creates a directory or draws a trial: devices, threads, output folders, paths
built from user strings, weight files.

Each check is a small function raising :class:`~preattentive.config_schema.ConfigError` (one line, naming the
value and what was expected), so that every trainer, loader and CLI command can call the same ones. torch and
safetensors are imported inside the functions that need them.

Example
-------
>>> confined("/runs/s1", "curriculum", "cnn-30k", "1-len6").as_posix()
'/runs/s1/curriculum/cnn-30k/1-len6'
>>> confined("/runs/s1", "curriculum", "../../X")
Traceback (most recent call last):
...
preattentive.config_schema.ConfigError: name '../../X': expected a plain name (letters, digits, '.', '_', '-'; not '.' or '..') for a folder inside /runs/s1
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from preattentive.config_schema import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9_@+.=-]+$")


def check_name(name: str, *, what: str = "name", inside: Any = None) -> str:
    """``name`` when it is a plain file name (no separator, not ``.``/``..``); it becomes one folder or file."""
    text = str(name)
    if not _NAME.match(text) or text in (".", ".."):
        where = f" for a folder inside {inside}" if inside is not None else ""
        raise ConfigError(f"{what} {text!r}: expected a plain name (letters, digits, '.', '_', '-'; not '.' or "
                          f"'..'){where}")
    return text


def confined(root: str | os.PathLike, *parts: str) -> Path:
    """``root / parts...`` after checking that each part is a plain name, so the path cannot leave ``root``."""
    for part in parts:
        check_name(part, inside=root)
    path = Path(root).joinpath(*parts)
    if os.path.commonpath([os.path.abspath(root), os.path.abspath(path)]) != os.path.abspath(root):
        raise ConfigError(f"path {str(path)!r}: expected it inside {str(root)!r}")  # pragma: no cover
    return path


def check_new_out(out: str | os.PathLike, *, option: str = "out", resume_hint: bool = True) -> None:
    """Refuse an output folder that exists and is not empty (or is a file): a run never writes into foreign files."""
    p = Path(out)
    if not p.exists():
        return
    if not p.is_dir():
        raise ConfigError(f"{option}={str(p)!r} is a file: expected a new or empty directory")
    first = next(iter(sorted(x.name for x in p.iterdir())), None)
    if first is not None:
        hint = "pass --resume to continue a run there, or " if resume_hint else ""
        raise ConfigError(f"{option}={str(p)!r} already exists and is not empty (holds {first!r}): {hint}"
                          f"choose a new --{option.replace('_', '-')}")


def check_threads(threads: Any, *, option: str = "threads") -> int | None:
    """``None`` (torch's default) or an integer >= 1."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"{option}={threads!r}: expected an integer >= 1 (or unset for torch's default)")
    return threads


_DEVICE_TYPES = ("cpu", "cuda", "mps")


def check_device(device: Any, *, option: str = "device") -> Any:
    """``device`` when this torch build can use it: ``cpu``, ``cuda``/``cuda:N`` with a visible GPU, ``mps``.

    ``None`` (the loaders' "cuda when available") passes unchanged.

    Example
    -------
    >>> check_device("cpu")
    'cpu'
    """
    if device is None:
        return None
    import torch

    if isinstance(device, torch.device):
        dev = device
    else:
        try:
            dev = torch.device(str(device))
        except (RuntimeError, TypeError, ValueError):
            dev = None
    if dev is None or dev.type not in _DEVICE_TYPES:
        raise ConfigError(f"{option}={str(device)!r}: expected cpu, cuda, cuda:N or mps")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = ("this torch build has no CUDA support" if torch.version.cuda is None
                   else "no CUDA GPU is visible")
            raise ConfigError(f"{option}={str(device)!r}: {why} (torch {torch.__version__}); expected cpu")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ConfigError(f"{option}={str(device)!r}: only {n} CUDA device(s) are visible; expected cuda:0"
                              f"{f' .. cuda:{n - 1}' if n > 1 else ''}")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"{option}={str(device)!r}: MPS is not available in this torch build; expected cpu")
    return device


def check_safetensors(path: str | os.PathLike) -> None:
    """Raise ConfigError unless ``path`` is a whole safetensors file (header and every tensor's bytes present).

    Only the header is read (the data is memory-mapped, not loaded), so this is cheap even for large checkpoints.
    """
    from safetensors import SafetensorError, safe_open

    p = Path(path)
    try:
        with safe_open(str(p), framework="numpy") as f:
            f.keys()
    except (SafetensorError, OSError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"{p}: not a readable safetensors file ({reason}); expected the complete weights a "
                          "finished run or save_pretrained wrote (re-run it, or restore the file)") from None


def check_weights(model_dir: str | os.PathLike) -> None:
    """Check every ``*.safetensors`` file in a saved-model directory (see :func:`check_safetensors`)."""
    d = Path(model_dir)
    for f in sorted(d.glob("*.safetensors")) if d.is_dir() else []:
        check_safetensors(f)


__all__ = ["check_device", "check_name", "check_new_out", "check_safetensors", "check_threads", "check_weights",
           "confined"]
