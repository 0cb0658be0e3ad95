"""A preview grid of a family's first trials, used by studies until ``preattentive.datasets`` offers its own."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np


def write_preview(gen, n: int, path: str | os.PathLike, *, cols: int = 8, pad: int = 2) -> Path:
    """Write trials ``0..n-1`` of ``gen`` as one PNG grid (white 2-px gutters) and return the path."""
    images = [gen.trial(i).image for i in range(n)]
    h, w = images[0].shape[:2]
    rows = -(-n // cols)
    grid = np.full((rows * (h + pad) + pad, min(n, cols) * (w + pad) + pad, 3), 255, np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.png")
    cv2.imwrite(str(tmp), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    os.replace(tmp, path)
    return path
