"""Backward masks built from the same family's images: a tile-scrambled pattern mask, or colour-matched noise.

A backward mask shown right after a brief stimulus stops the image from lingering on the retina and in iconic memory,
so viewing time is what the experimenter set; masking is held to interrupt the recurrent processing that follows the
first feedforward sweep (Lamme & Roelfsema 2000; Breitmeyer & Ogmen 2006, *Visual Masking*). A mask works best when
it shares the stimulus' local features, so both kinds are drawn from the family's own images:

``pattern``  a mosaic of square tiles (side / 8) cut from random positions of other trials of the same family
             (same parameters, every level), each tile rotated by a multiple of 90 degrees and maybe mirrored:
             the family's lines, textures and colours without its global layout (scrambled-image masks as in
             Bacon-Macé et al. 2005, Vision Research).
``noise``    every pixel an independent draw from the pixels of those images (the family's colour histogram,
             no structure).

The source trials come from a different stimulus seed (``seed + MASK_SEED_OFFSET``), so no mask contains a test
image. Masks depend only on (family parameters, seed, k): the same design gives the same bytes.

Example
-------
>>> import numpy as np
>>> src = [np.full((16, 16, 3), v, np.uint8) for v in (0, 255)]
>>> m = make_mask("noise", src, np.random.default_rng(0))
>>> m.shape, sorted(np.unique(m).tolist())
((16, 16, 3), [0, 255])
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

MASK_SEED_OFFSET = 1_000_003  # mask source trials: stimulus seed + this (a prime), never a test trial's seed
TILES = 8  # tiles per side of a pattern mask (8 px tiles on a 64 px image)


def make_mask(kind: str, sources: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """One mask image (same shape as the sources, uint8 RGB) of ``kind`` ``"pattern"`` or ``"noise"``.

    Example
    -------
    >>> import numpy as np
    >>> src = [np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)]
    >>> make_mask("pattern", src, np.random.default_rng(1)).shape
    (64, 64, 3)
    """
    if not sources:
        raise ValueError("no source images for the mask: expected at least one image of the family")
    stack = np.stack([np.asarray(s, dtype=np.uint8) for s in sources])  # (S, H, W, 3)
    if stack.ndim != 4 or stack.shape[1] != stack.shape[2] or stack.shape[3] != 3:
        raise ValueError(f"mask sources have shape {stack.shape[1:]}; expected square (H, W, 3) images")
    size = stack.shape[1]
    if kind == "noise":
        pixels = stack.reshape(-1, 3)
        return pixels[rng.integers(0, len(pixels), size=size * size)].reshape(size, size, 3)
    if kind != "pattern":
        raise ValueError(f"mask kind {kind!r}: expected pattern or noise")
    t = max(2, size // TILES)  # tile side, px
    out = np.empty((size, size, 3), np.uint8)
    for y in range(0, size, t):
        for x in range(0, size, t):
            h, w = min(t, size - y), min(t, size - x)
            src = stack[rng.integers(len(stack))]
            sy, sx = rng.integers(0, size - t + 1, size=2)
            tile = np.rot90(src[sy:sy + t, sx:sx + t], k=int(rng.integers(4)))
            if rng.random() < 0.5:
                tile = tile[:, ::-1]
            out[y:y + h, x:x + w] = tile[:h, :w]
    return out


def mask_pool(kind: str, sources: Sequence[np.ndarray], k: int, seed: int) -> list[np.ndarray]:
    """``k`` masks of ``kind``; mask ``j`` depends only on (sources, seed, j).

    Example
    -------
    >>> import numpy as np
    >>> src = [np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)]
    >>> a, b = mask_pool("pattern", src, 2, seed=3), mask_pool("pattern", src, 2, seed=3)
    >>> all((x == y).all() for x, y in zip(a, b))
    True
    """
    return [make_mask(kind, sources, np.random.default_rng([int(seed) & 0xFFFFFFFF, j, 0x3A5C])) for j in range(k)]


__all__ = ["MASK_SEED_OFFSET", "TILES", "make_mask", "mask_pool"]
