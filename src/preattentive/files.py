"""Writing files: atomically (never a half-written file) and byte-stably (the same content, the same bytes).

Every file and folder this package writes goes through :func:`atomic_write_bytes` (or its text / JSON / path /
folder forms below): the content lands in a temporary sibling, ``.<name>.<random>.tmp``, which ``os.replace`` then
renames over the target, so a run killed at any instant leaves either the old file or the new one. The temporary
lies in the target's own folder because a rename is atomic only within one file system. Temporaries are created
with the process's umask (``os.open(..., 0o666)``), so the result has the same mode a plain ``open`` would give.

safetensors (0.4 - 0.8) keeps a file's ``__metadata__`` in a Rust ``HashMap``, whose iteration order is seeded per
process, so two processes saving equal tensors with two or more metadata keys write different headers (measured:
``{"id":..,"arch":..}`` in 3 of 4 runs, ``{"arch":..,"id":..}`` in the fourth). :func:`safetensors_bytes` rewrites
the header with the metadata keys sorted; the tensors' entries and bytes are left exactly as safetensors laid them
out, so any safetensors reader loads the result.

Example
-------
>>> import torch
>>> a = safetensors_bytes({"w": torch.zeros(2)}, metadata={"b": "1", "a": "2"})
>>> a == safetensors_bytes({"w": torch.zeros(2)}, metadata={"a": "2", "b": "1"})
True
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping


def safetensors_bytes(tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> bytes:
    """The safetensors file for ``tensors`` (torch tensors) with ``metadata``, its header in a canonical order."""
    from safetensors.torch import save

    raw = save(dict(tensors), metadata=dict(metadata) if metadata is not None else None)
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    ordered: dict[str, Any] = {}
    if "__metadata__" in header:
        ordered["__metadata__"] = dict(sorted(header.pop("__metadata__").items()))
    ordered.update(header)  # tensor entries in safetensors' own (deterministic) order; offsets unchanged
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header with spaces to a multiple of 8 bytes
    return len(text).to_bytes(8, "little") + text + raw[8 + n:]


def _sibling(path: Path, suffix: str) -> Path:
    """A fresh temporary name beside ``path``: ``.<name>.<random><suffix>`` (hidden; resumable writers glob it)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; on success it replaces ``path``, on error it is removed.

    For writers that want a file name rather than bytes (``DataFrame.to_parquet``, ``np.savez``): ``suffix`` keeps
    the extension such a writer insists on (``np.savez`` appends ``.npz`` to any other name).

    Example
    -------
    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("hi")
    >>> sorted(p.name for p in d.iterdir())
    ['a.txt']
    """
    path = Path(path)
    tmp = _sibling(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    tmp = _sibling(path, ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 & ~umask, as open(path, "wb") gives
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, as :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2, sort_keys: bool = False,
                      default: Callable[[Any], Any] | None = None, newline: bool = True) -> Path:
    """Write ``json.dumps(obj, indent=..., sort_keys=..., default=...)`` to ``path`` atomically.

    The options are ``json.dumps``'s, spelled out at each call so that a file's format is visible where it is
    written; ``newline`` ends the file with one (the formats written before this helper existed differ there, and
    a file's bytes stay as they were).

    Example
    -------
    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> atomic_write_json(d / "a.json", {"b": 1, "a": [2]}, indent=None, sort_keys=True).read_text()
    '{"a": [2], "b": 1}\\n'
    """
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, default=default)
    return atomic_write_text(path, text + "\n" if newline else text)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """A fresh temporary folder to fill; on success it replaces the folder ``path`` (any old one removed).

    The temporary is ``.<name>.tmp``, a fixed name, so a leftover from a killed run is cleared by the next attempt
    (a checkpoint or model folder can be large). The old folder is first renamed aside, then removed, so ``path``
    is missing only between two renames, and a crash there leaves the old folder as ``.<name>.old``.

    Example
    -------
    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> with atomic_dir(d / "model") as tmp:
    ...     _ = (tmp / "w.bin").write_bytes(b"1")
    >>> sorted(p.name for p in d.iterdir()), sorted(p.name for p in (d / "model").iterdir())
    (['model'], ['w.bin'])
    """
    path = Path(path)
    tmp, old = path.with_name(f".{path.name}.tmp"), path.with_name(f".{path.name}.old")
    for stale in (tmp, old):
        if stale.exists():
            shutil.rmtree(stale)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def save_safetensors(tensors: Mapping[str, Any], path: str | os.PathLike,
                     metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``tensors`` to ``path`` atomically and byte-stably (see :func:`safetensors_bytes`)."""
    return atomic_write_bytes(path, safetensors_bytes(tensors, metadata))


__all__ = ["atomic_dir", "atomic_path", "atomic_write_bytes", "atomic_write_json", "atomic_write_text",
           "safetensors_bytes", "save_safetensors"]
