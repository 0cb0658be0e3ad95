"""Labelled preview grids of a stimulus family: one row per difficulty rung, each image titled with its answer."""

from __future__ import annotations

import dataclasses
import io
import os
import textwrap
from pathlib import Path

import numpy as np

from preattentive.files import atomic_write_bytes
from preattentive.stimuli.base import StimulusFamily


def rung_generators(gen: StimulusFamily) -> list[tuple[str, StimulusFamily]]:
    """``(row label, generator)`` per ladder rung (easiest first), or the generator itself without a ladder."""
    cls = type(gen)
    if not cls.ladder or gen.params.level is not None:
        return [(_describe(gen.params, cls.difficulty_keys, gen.params.level), gen)]
    from preattentive.stimuli.base import ParamError

    rows = []
    for r, rung in enumerate(cls.ladder):
        try:  # a rung may not fit the set's image size (e.g. larger mazes at a fixed cell_px): leave it out
            p = dataclasses.replace(gen.params, **rung, level=r, mix_levels=False)
            rows.append((_describe(p, cls.difficulty_keys, r), cls(p, seed=gen.seed)))
        except ParamError:
            continue
    return rows or [(_describe(gen.params, cls.difficulty_keys, None), gen)]


def _describe(p, keys, level) -> str:
    vals = ", ".join(f"{k}={getattr(p, k)}" for k in keys if hasattr(p, k))
    head = f"level {level}" if level is not None else "params"
    return f"{head}\n" + "\n".join(textwrap.wrap(vals, 22)) if vals else head


def preview_grid(gen: StimulusFamily, n_cols: int = 6, start: int = 0):
    """A matplotlib Figure: rows = difficulty rungs, columns = trials ``start .. start+n_cols-1``.

    Each image is titled with the trial's answer; the figure title gives the family, its question and citation.
    Families with a dense target (``mask_classes``, e.g. ``maze-path``'s route) show ``meta["target_mask"]``
    shaded over the image: what a net trained with ``target="mask"`` is asked to draw.

    Example
    -------
    >>> from preattentive import stimuli
    >>> fig = preview_grid(stimuli.make("maze"), n_cols=4)  # doctest: +SKIP
    """
    from matplotlib.figure import Figure

    rows = rung_generators(gen)
    fig = Figure(figsize=(1.7 * n_cols + 1.6, 1.9 * len(rows) + 0.9), dpi=100)
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    question = ""
    for r, (label, g) in enumerate(rows):
        for c in range(n_cols):
            t = g.trial(start + c)
            question = question or t.question
            ax = axes[r, c]
            ax.imshow(t.image, interpolation="nearest")
            mask = t.meta.get("target_mask") if type(g).mask_classes else None
            if mask is not None:  # the dense target, shaded; pixels off it and coloured markers stay clear
                marker = np.asarray(t.image, dtype=np.int16).std(axis=-1) > 30 if t.image.ndim == 3 else False
                shown = np.ma.masked_where((np.asarray(mask) == 0) | marker, np.asarray(mask, dtype=np.int64))
                ax.imshow(shown, cmap="cool", alpha=0.55, vmin=0, vmax=max(type(g).mask_classes - 1, 1),
                          interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(textwrap.shorten(t.answer, 24), fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center", labelpad=6)
    cite = textwrap.shorten(type(gen).citation, 110)
    shade = "  (shaded: the dense target)" if type(gen).mask_classes else ""
    fig.suptitle(f"{gen.id}  —  Q: {textwrap.shorten(question, 80 - len(shade))}{shade}\n{cite}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def figure_png(fig) -> bytes:
    """PNG bytes of a Figure, without volatile metadata (same figure, same bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def save_png(fig, path: str | os.PathLike) -> Path:
    """Write a Figure as PNG atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, figure_png(fig))
    return path


def image_grid(images: list[np.ndarray], n_cols: int, pad: int = 2, value: int = 255) -> np.ndarray:
    """Tile equally sized RGB images into one array (no labels; fast, for quick looks)."""
    h, w = images[0].shape[:2]
    n_rows = -(-len(images) // n_cols)
    out = np.full((n_rows * (h + pad) + pad, n_cols * (w + pad) + pad, 3), value, np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, n_cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    return out
