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
    key = (size, value if isinstance(value, (int, np.integer)) else tuple(value))
    if key not in _BLANKS:  # filling (H, W, 3) by broadcasting is ~100x slower than copying a cached canvas
        if len(_BLANKS) > 64:
            _BLANKS.clear()
        img = np.empty((size, size, 3), np.uint8)
        img[...] = np.asarray(value, np.uint8)
        _BLANKS[key] = img
    return _BLANKS[key].copy()


_BLANKS: dict[tuple, np.ndarray] = {}  # (size, value) -> canvas; copied by blank()


def _pts(rc: np.ndarray) -> np.ndarray:
    """(N, 2) float (row, col) -> (N, 2) int32 fixed-point (x, y) for OpenCV."""
    rc = np.asarray(rc, np.float64).reshape(-1, 2)
    return np.round(rc[:, ::-1] * _SCALE).astype(np.int32)


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


# --------------------------------------------------------------------------------------------- shapes
# Named filled shapes for the object families (scenes, counting, visual search). Each fits the box
# centre +- half (px) before rotation, so non-overlap can be checked on boxes / bounding circles.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross", "bar", "T", "L")


def shape_vertices(shape: str, center: Sequence[float], half: float, angle: float = 0.0,
                   stroke: float = 0.34) -> np.ndarray:
    """Vertices (N, 2) (row, col) of a polygonal shape in the box ``center +- half`` px, rotated by ``angle``.

    ``angle`` is in radians, counter-clockwise as seen on screen. ``stroke`` is the arm/bar width as a
    fraction of the full extent ``2 * half`` (cross arms, bar width, T/L strokes); a ``"circle"`` is a
    regular polygon of ``4 * half`` (16..128) vertices.

    Example
    -------
    >>> shape_vertices("square", (10, 10), 2).tolist()
    [[8.0, 8.0], [8.0, 12.0], [12.0, 12.0], [12.0, 8.0]]
    """
    h, w = float(half), float(stroke) * float(half)  # w: half the stroke width, px
    if shape == "circle":  # a polygon rasterises more evenly than cv2.circle at radii of a few px
        a = np.arange(n := int(np.clip(4 * h, 16, 128))) * (2 * np.pi / n)
        return np.asarray(center, np.float64) + h * np.stack([np.sin(a), np.cos(a)], axis=1)
    if shape == "square":
        v = [(-h, -h), (-h, h), (h, h), (h, -h)]
    elif shape == "triangle":  # upright isosceles, base at the bottom
        v = [(-h, 0.0), (h, h), (h, -h)]
    elif shape == "diamond":
        v = [(-h, 0.0), (0.0, h), (h, 0.0), (0.0, -h)]
    elif shape == "cross":  # a plus sign
        v = [(-h, -w), (-h, w), (-w, w), (-w, h), (w, h), (w, w), (h, w), (h, -w), (w, -w), (w, -h), (-w, -h),
             (-w, -w)]
    elif shape == "bar":  # horizontal at angle 0
        v = [(-w, -h), (-w, h), (w, h), (w, -h)]
    elif shape == "T":
        s = 2 * w
        v = [(-h, -h), (-h, h), (-h + s, h), (-h + s, w), (h, w), (h, -w), (-h + s, -w), (-h + s, -h)]
    elif shape == "L":
        s = 2 * w
        v = [(-h, -h), (h, -h), (h, h), (h - s, h), (h - s, -h + s), (-h, -h + s)]
    else:
        raise ValueError(f"shape={shape!r}: expected one of {', '.join(s for s in SHAPES if s != 'circle')}")
    v = np.asarray(v, np.float64)  # (N, 2) (drow, dcol)
    if angle:
        c, s_ = np.cos(angle), np.sin(angle)
        x, y = v[:, 1], -v[:, 0]  # screen axes: x right, y up
        v = np.stack([-(x * s_ + y * c), x * c - y * s_], axis=1)
    return v + np.asarray(center, np.float64)


_AR = np.arange(4096, dtype=np.float64)  # pixel-centre coordinates, sliced by draw_shape (faster than ogrid)
_SUB = (np.arange(4) + 0.5) / 4 - 0.5  # sub-pixel sample offsets for small discs


def draw_shape(img: np.ndarray, shape: str, center: Sequence[float], half: float, color: Sequence[int],
               angle: float = 0.0, stroke: float = 0.34, aa: bool = False, exact: bool = False) -> None:
    """Draw a filled named shape (see :data:`SHAPES`) in place; not anti-aliased by default (exact colours).

    ``exact=True`` fills exactly the pixels whose centres lie inside the ideal shape (:func:`fill_exact`): no
    one-pixel nubs or spurs at small sizes, one rule for every shape (the families' -v2 versions draw this way;
    ``False`` keeps the v1 bytes).

    Example
    -------
    >>> img = blank(32, 255)
    >>> draw_shape(img, "triangle", (16, 16), 6, COLORS["red"])
    >>> bool((img == COLORS["red"]).all(-1).any())
    True
    """
    if exact:
        fill_exact(img, shape, center, half, color, angle, stroke)
        return
    if shape == "circle" and not aa:  # exact discs (cv2 leaves one-pixel nubs at small radii)
        (r, c), h = center, float(half)
        r0, r1 = max(int(np.floor(r - h)), 0), min(int(np.ceil(r + h)) + 1, img.shape[0])
        c0, c1 = max(int(np.floor(c - h)), 0), min(int(np.ceil(c + h)) + 1, img.shape[1])
        if h < 8:  # small discs: fill pixels at least half covered (4x4 samples), so no one-pixel nubs
            dr = ((_AR[r0:r1, None] + _SUB - r) ** 2)[:, :, None, None]  # (n, 4, 1, 1)
            dc = ((_AR[c0:c1, None] + _SUB - c) ** 2)[None, None]  # (1, 1, m, 4)
            inside = (dr + dc < h * h).sum(axis=(1, 3)) >= 8
        else:
            inside = ((_AR[r0:r1] - r) ** 2)[:, None] + ((_AR[c0:c1] - c) ** 2)[None, :] < h * h
        img[r0:r1, c0:c1][inside] = np.asarray(color, np.uint8)[: img.shape[2] if img.ndim == 3 else 1]
        return
    fill_polygon(img, shape_vertices(shape, center, half, angle, stroke), color, aa=aa)


def inside_mask(points: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, int, int]:
    """The pixels whose centres lie inside the polygon ``points`` (N, 2) (row, col; pixel ``i``'s centre is at
    ``i``): ``(mask, r0, c0)``, the bool mask of the polygon's bounding box clipped to ``shape``, at rows
    ``r0..`` and columns ``c0..``. Each centre is tested exactly (even-odd crossing rule, so concave shapes such
    as the cross work too): an axis-aligned square is always a full rectangle, and nothing outside the shape
    is ever filled — unlike a rasteriser's inclusive edges, which leave one-pixel nubs and spurs at small
    sizes."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    r0, c0 = (max(int(np.floor(v)), 0) for v in pts.min(0))
    r1, c1 = (min(int(np.ceil(v)) + 1, n) for v, n in zip(pts.max(0), shape))
    if r1 <= r0 or c1 <= c0:
        return np.zeros((0, 0), bool), r0, c0
    y, x = _AR[r0:r1, None], _AR[None, c0:c1]
    ay, ax = pts[:, 0], pts[:, 1]
    by, bx = np.roll(ay, -1), np.roll(ax, -1)
    inside = np.zeros((r1 - r0, c1 - c0), bool)
    for k in range(len(pts)):  # one vectorised half-line test per edge
        if ay[k] == by[k]:
            continue
        crosses = (ay[k] > y) != (by[k] > y)
        inside ^= crosses & (x < ax[k] + (y - ay[k]) * (bx[k] - ax[k]) / (by[k] - ay[k]))
    return inside, r0, c0


def fill_exact(img: np.ndarray, shape: str, center: Sequence[float], half: float, color: Sequence[int],
               angle: float = 0.0, stroke: float = 0.34) -> None:
    """Fill the pixels whose centres lie inside the ideal ``shape`` (:data:`SHAPES`): a disc by its distance
    from ``center``, a polygon by :func:`inside_mask`."""
    if shape == "circle":
        (r, c), h = center, float(half)
        r0, r1 = max(int(np.floor(r - h)), 0), min(int(np.ceil(r + h)) + 1, img.shape[0])
        c0, c1 = max(int(np.floor(c - h)), 0), min(int(np.ceil(c + h)) + 1, img.shape[1])
        mask = ((_AR[r0:r1] - r) ** 2)[:, None] + ((_AR[c0:c1] - c) ** 2)[None, :] <= h * h
    else:
        mask, r0, c0 = inside_mask(shape_vertices(shape, center, half, angle, stroke), img.shape[:2])
    if mask.size:
        view = img[r0: r0 + mask.shape[0], c0: c0 + mask.shape[1]]
        view[mask] = np.asarray(color, np.uint8)[: img.shape[2] if img.ndim == 3 else 1]


def separated(centers: np.ndarray, radii: np.ndarray, gap: float, metric: str = "box") -> np.ndarray:
    """Whether every pair of objects in each candidate layout keeps ``gap`` px between them.

    ``centers`` is (K, N, 2) (row, col) for K candidate layouts of N objects, ``radii`` (N,) or (K, N) the
    half-extent (``"box"``: axis-aligned boxes ``center +- radius``) or bounding radius (``"circle"``).
    Returns (K,) bool. Vectorised over candidates, so rejection sampling costs one call per batch.

    Example
    -------
    >>> separated(np.array([[[5.0, 5.0], [5.0, 12.0]]]), np.array([3.0, 3.0]), gap=1).tolist()
    [True]
    """
    c = np.asarray(centers, np.float64)
    r = np.broadcast_to(np.asarray(radii, np.float64), c.shape[:2])
    need = r[:, :, None] + r[:, None, :] + gap  # (K, N, N) px
    d = c[:, :, None, :] - c[:, None, :, :]  # (K, N, N, 2)
    if metric == "box":
        ok = (np.abs(d) >= need[..., None]).any(-1)
    elif metric == "circle":
        ok = (d ** 2).sum(-1) >= need ** 2
    else:
        raise ValueError(f"metric={metric!r}: expected 'box' or 'circle'")
    n = c.shape[1]
    ok |= np.eye(n, dtype=bool)[None]
    return ok.all(axis=(1, 2))


def place_sequential(rng: np.random.Generator, half: np.ndarray, size: int, need: np.ndarray, metric: str = "box",
                     tries: int = 64, border: float = 1.0) -> np.ndarray | None:
    """Centres (N, 2) for N objects placed one after another, each at the first of ``tries`` uniform candidates
    that keeps its distance to every object placed before it; ``None`` at a dead end (the caller retries).

    ``half`` (N,) is each object's half-extent (px; centres stay ``half + border`` from the image edge) and
    ``need`` (N, N) the least separation between objects i and j: ``max(|drow|, |dcol|)`` for ``"box"``, the
    Euclidean distance for ``"circle"``. Centres lie on the 1/16 px grid that OpenCV draws with.

    Example
    -------
    >>> c = place_sequential(np.random.default_rng(0), np.full(3, 4.0), 64, np.full((3, 3), 10.0))
    >>> c.shape, bool(np.abs(c[0] - c[1]).max() >= 10)
    ((3, 2), True)
    """
    half = np.asarray(half, np.float64)
    n = len(half)
    out = np.empty((n, 2))
    lo, hi = half + border, size - 1 - border - half  # (N,) centre bounds, px
    u = rng.random((n, tries, 2))  # one draw for all objects: the per-object loop stays cheap
    cands = np.round((lo[:, None, None] + u * (hi - lo)[:, None, None]) * _SCALE) / _SCALE  # (N, T, 2)
    for i in range(n):
        cand = cands[i]
        if i:
            d = cand[:, None, :] - out[None, :i]  # (T, i, 2)
            sep = np.abs(d).max(-1) if metric == "box" else np.sqrt((d ** 2).sum(-1))
            ok = np.flatnonzero((sep >= need[i, :i]).all(1))
            if len(ok) == 0:
                return None
            cand = cand[ok]
        out[i] = cand[0]
    return out


def place_grid(rng: np.random.Generator, half: np.ndarray, size: int, gap: float) -> np.ndarray | None:
    """Centres (N, 2) in random cells of a square grid of pitch ``2 * max(half) + gap`` px, each jittered within
    its cell's slack, so boxes ``centre +- half`` keep ``gap`` px apart and stay ``0.5 + gap / 2`` px inside the
    image; ``None`` when the grid has fewer than N cells. The fallback for displays too crowded for
    :func:`place_sequential`.

    Example
    -------
    >>> place_grid(np.random.default_rng(0), np.full(16, 3.0), 32, 1.0).shape
    (16, 2)
    """
    pitch = 2 * float(half.max()) + gap
    g = int((size - 2) // pitch)
    if g * g < len(half):
        return None
    cells = rng.choice(g * g, size=len(half), replace=False)
    slack = (pitch - 2 * half - gap) / 2  # (N,) px each object may move within its cell
    origin = (size - 1 - g * pitch) / 2 + pitch / 2  # first cell centre, grid centred in the image
    c = origin + pitch * np.stack([cells // g, cells % g], axis=1) + rng.uniform(-1, 1, (len(half), 2)) * slack[:, None]
    return np.round(c * _SCALE) / _SCALE


def place_random(rng: np.random.Generator, half: np.ndarray, size: int, need: np.ndarray, metric: str = "box",
                 iters: int = 30, border: float = 1.0) -> np.ndarray | None:
    """Centres (N, 2) drawn all at once, then only the objects that collide with an earlier one redrawn, until
    no pair is closer than ``need`` (same conventions as :func:`place_sequential`); ``None`` after ``iters``
    rounds. Each round is a handful of (N, N) array operations, so sparse displays cost a few rounds in all.

    Example
    -------
    >>> c = place_random(np.random.default_rng(0), np.full(5, 3.0), 64, np.full((5, 5), 8.0))
    >>> d = np.abs(c[:, None] - c[None]).max(-1) + 99 * np.eye(5)
    >>> bool(d.min() >= 8)
    True
    """
    half = np.asarray(half, np.float64)
    n = len(half)
    lo, hi = half + border, size - 1 - border - half  # (N,) centre bounds, px
    upper = np.triu(np.ones((n, n), bool), 1)  # pairs (i < j): j is redrawn when they collide
    c = np.round((lo[:, None] + rng.random((n, 2)) * (hi - lo)[:, None]) * _SCALE) / _SCALE
    for _ in range(iters):
        d = c[:, None, :] - c[None, :, :]  # (N, N, 2)
        sep = np.abs(d).max(-1) if metric == "box" else np.sqrt((d ** 2).sum(-1))
        bad = ((sep < need) & upper).any(0)  # (N,) objects colliding with an earlier one
        k = int(bad.sum())
        if k == 0:
            return c
        c[bad] = np.round((lo[bad, None] + rng.random((k, 2)) * (hi - lo)[bad, None]) * _SCALE) / _SCALE
    return None
