"""Byte-stable files: the same tensors and metadata give the same ``.safetensors`` bytes in every process.

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

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping


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


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_safetensors(tensors: Mapping[str, Any], path: str | os.PathLike,
                     metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``tensors`` to ``path`` atomically and byte-stably (see :func:`safetensors_bytes`)."""
    return write_bytes_atomic(path, safetensors_bytes(tensors, metadata))


__all__ = ["safetensors_bytes", "save_safetensors", "write_bytes_atomic"]
