"""Shared drawing primitives: anti-aliased lines and polylines, disks, oriented segments, a colour palette.

All functions draw in place on ``(H, W, 3)`` uint8 RGB images with OpenCV, using sub-pixel coordinates
(``shift=SHIFT`` fractional bits) so that geometry is not snapped to the pixel grid. Coordinates are given as
``(row, col)`` floats everywhere in this package; OpenCV's ``(x, y)`` order is handled here only.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

SHIFT = 4  # OpenCV fractional bits: coordinates are multiplied by 2**SHIFT = 16
_SCALE = 1 << SHIFT

# A palette of well-separated, nameable colours (RGB). Names are what captions and questions use.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 210, 40),
    "purple": (150, 60, 190),
    "orange": (245, 140, 30),
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
    "black": (0, 0, 0),
}


def blank(size: int, value: int | Sequence[int] = 0) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 image filled with a grey level or an RGB triple."""
    img = np.empty((size, size, 3), np.uint8)
    img[...] = np.asarray(value, np.uint8)
    return img


def _pts(rc: np.ndarray) -> np.ndarray:
    """(N, 2) float (row, col) -> (N, 2) int32 fixed-point (x, y) for OpenCV."""
    rc = np.asarray(rc, np.float64).reshape(-1, 2)
    return np.round(rc[:, ::-1] * _SCALE).astype(np.int32)


def draw_line(img: np.ndarray, p0: Sequence[float], p1: Sequence[float], color: Sequence[int],
              thickness: int = 1, aa: bool = True) -> None:
    """A line from ``p0`` to ``p1`` (row, col), ``thickness`` px, anti-aliased unless ``aa=False``."""
    a, b = _pts(np.array([p0, p1]))
    cv2.line(img, tuple(map(int, a)), tuple(map(int, b)), tuple(map(int, color)), int(thickness),
             cv2.LINE_AA if aa else cv2.LINE_8, SHIFT)


def draw_polyline(img: np.ndarray, points: np.ndarray, color: Sequence[int], thickness: int = 1,
                  aa: bool = True, closed: bool = False) -> None:
    """A polyline through ``points`` (N, 2) (row, col)."""
    cv2.polylines(img, [_pts(points)], closed, tuple(map(int, color)), int(thickness),
                  cv2.LINE_AA if aa else cv2.LINE_8, SHIFT)


def fill_polygon(img: np.ndarray, points: np.ndarray, color: Sequence[int], aa: bool = False) -> None:
    """A filled polygon with vertices ``points`` (N, 2) (row, col)."""
    cv2.fillPoly(img, [_pts(points)], tuple(map(int, color)), cv2.LINE_AA if aa else cv2.LINE_8, SHIFT)


def draw_disk(img: np.ndarray, center: Sequence[float], radius: float, color: Sequence[int],
              aa: bool = True, thickness: int = -1) -> None:
    """A filled disk (or a ring when ``thickness > 0``) at ``center`` (row, col) with ``radius`` px."""
    c = _pts(np.array([center]))[0]
    cv2.circle(img, (int(c[0]), int(c[1])), int(round(radius * _SCALE)), tuple(map(int, color)), int(thickness),
               cv2.LINE_AA if aa else cv2.LINE_8, SHIFT)


def draw_segments(img: np.ndarray, centers: np.ndarray, angles: np.ndarray, length: float,
                  color: Sequence[int], thickness: int = 1, aa: bool = True) -> None:
    """Oriented line segments (a texture element field), one per centre.

    ``centers`` is (N, 2) (row, col); ``angles`` (N,) in radians, measured counter-clockwise from the
    horizontal as seen on screen (so 45° rises to the right, as in Lamme 1995's textures).
    """
    centers = np.asarray(centers, np.float64).reshape(-1, 2)
    angles = np.broadcast_to(np.asarray(angles, np.float64), (len(centers),))
    half = 0.5 * length
    d = np.stack([-np.sin(angles), np.cos(angles)], axis=1) * half  # (N, 2) (drow, dcol); rows grow downwards
    segs = np.stack([_pts(centers - d), _pts(centers + d)], axis=1)  # (N, 2, 2) fixed-point (x, y)
    cv2.polylines(img, list(segs), False, tuple(map(int, color)), int(thickness),
                  cv2.LINE_AA if aa else cv2.LINE_8, SHIFT)


def jittered_grid(size: int, spacing: float, jitter: float, rng: np.random.Generator, margin: float = 0.0) -> np.ndarray:
    """Centres of a square grid with ``spacing`` px, each displaced uniformly by up to ``jitter`` px. (N, 2)."""
    start = margin + spacing / 2
    ticks = np.arange(start, size - margin, spacing)
    rr, cc = np.meshgrid(ticks, ticks, indexing="ij")
    pts = np.stack([rr.ravel(), cc.ravel()], axis=1)
    if jitter > 0:
        pts = pts + rng.uniform(-jitter, jitter, size=pts.shape)
    return pts
