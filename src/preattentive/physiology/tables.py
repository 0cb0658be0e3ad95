"""Writing and reading a study's physiology tables (``DIR/physiology/*.parquet``, the report's layout)."""

from __future__ import annotations

import os
from pathlib import Path

from typing import Any

import numpy as np
import pandas as pd

from preattentive.files import atomic_path

# File names under DIR/physiology/ (see preattentive.report's study-directory layout).
FILES = {"fg": "fg_modulation.parquet", "bo_units": "bo_index.parquet", "bo_summary": "bo_summary.parquet",
         "rf": "rf_boxes.parquet", "departure": "departure.parquet"}
EXAMPLE = "bo_example.npz"  # one border-ownership pair (images a, b and its probe window) to draw RFs on


def write_tables(out: str | os.PathLike, **tables: pd.DataFrame | None) -> list[Path]:
    """Write tables (keys of :data:`FILES`: ``fg``, ``bo_units``, ``bo_summary``, ``rf``, ``departure``) atomically under
    ``out/physiology/`` and return the paths written; ``None`` tables are skipped.

    Example
    -------
    >>> write_tables("runs/demo", fg=fg_table)  # doctest: +SKIP
    [PosixPath('runs/demo/physiology/fg_modulation.parquet')]
    """
    unknown = sorted(set(tables) - set(FILES))
    if unknown:
        raise ValueError(f"unknown physiology table {unknown[0]!r}; expected one of: {', '.join(FILES)}")
    folder = Path(out) / "physiology"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for key, table in tables.items():
        if table is None:
            continue
        with atomic_path(folder / FILES[key]) as tmp:
            table.to_parquet(tmp, index=False)
        written.append(folder / FILES[key])
    return written


def read_tables(out: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """The physiology tables present under ``out/physiology/``, keyed as in :data:`FILES`."""
    folder = Path(out) / "physiology"
    return {k: pd.read_parquet(folder / f) for k, f in FILES.items() if (folder / f).exists()}


def write_example(out: str | os.PathLike, image_a: np.ndarray, image_b: np.ndarray, window: Any) -> Path:
    """Save one stimulus pair and its probe window (``physiology/bo_example.npz``, atomically)."""
    folder = Path(out) / "physiology"
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / EXAMPLE, suffix=".npz") as tmp:  # np.savez appends .npz to any other name
        np.savez(tmp, a=np.asarray(image_a, np.uint8), b=np.asarray(image_b, np.uint8),
                 window=np.asarray(window, int))
    return folder / EXAMPLE


def read_example(out: str | os.PathLike) -> dict[str, np.ndarray] | None:
    """The pair saved by :func:`write_example`, or None."""
    path = Path(out) / "physiology" / EXAMPLE
    if not path.is_file():
        return None
    with np.load(path) as z:
        return {k: z[k] for k in ("a", "b", "window")}
