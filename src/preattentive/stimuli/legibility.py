"""Legible shapes: the smallest size at which two named shapes stay distinguishable once drawn in pixels.

A label is only as good as the pixels that carry it: at a half-extent of 3.5 px a "circle" and a "diamond" can be
an octagon and a rhombus one pixel apart (MMVP shipped 2 wrong labels in 300). The rule here is a pixel-level
criterion an observer reading only the pixels could apply:

shapes ``a`` and ``b`` are **distinguishable at half-extent h** when every rendering of ``a`` at ``h`` (16
sub-pixel positions of its centre) differs from every rendering of ``b`` (16 sub-pixel positions, relative
scale 0.85 to 1.2 of ``h``, best integer shift of -1..1 px on each axis) in at least :data:`MIN_DIFF_PX` pixels,
and the same with ``a`` and ``b`` exchanged. Scale is searched because a family's sizes vary: a circle must not
look like a slightly larger or smaller diamond either.

Shapes are drawn as the families' -v2 versions draw them, by :func:`preattentive.stimuli.render.fill_exact`
(pixel centres inside the ideal shape). :data:`MIN_HALF_PAIR` holds the smallest half-extent (on a 0.25 px grid)
from which each pair stays distinguishable at every larger grid size up to 12 px, computed by
:func:`min_distinguishable_half` and re-checked by the test suite.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from preattentive.stimuli.render import fill_exact

MIN_DIFF_PX = 12  # pixels that must differ between the best-matching renderings of two shapes
SCALES = tuple(np.round(np.linspace(0.85, 1.2, 8), 4))  # relative scales of the second shape
OFFSETS = tuple((dy / 4, dx / 4) for dy in range(4) for dx in range(4))  # sub-pixel centre positions
GRID = 0.25  # px: the half-extents tried
MAX_HALF = 12.0  # px: distinguishability is checked from the minimum up to here

# Smallest half-extent (px) from which each pair stays distinguishable (see the module docstring), for the
# shapes the object families name. Computed by min_distinguishable_half; tests/stimuli/test_legibility.py
# recomputes every entry.
MIN_HALF_PAIR: dict[frozenset[str], float] = {
    frozenset(("circle", "square")): 5.25,
    frozenset(("circle", "triangle")): 4.25,
    frozenset(("circle", "diamond")): 5.75,
    frozenset(("circle", "cross")): 4.75,
    frozenset(("square", "triangle")): 3.75,
    frozenset(("square", "diamond")): 3.75,
    frozenset(("square", "cross")): 3.25,
    frozenset(("triangle", "diamond")): 4.25,
    frozenset(("triangle", "cross")): 4.0,
    frozenset(("diamond", "cross")): 5.5,
}


def _masks(shape: str, half: float, scales: tuple[float, ...] = (1.0,)) -> np.ndarray:
    """(K, S, S) bool renderings of ``shape`` at every offset in :data:`OFFSETS` and scale in ``scales``."""
    side = int(np.ceil(2 * half * max(scales) * 1.5)) + 6  # room for a rotated bound and the shifts
    c = side / 2
    out = np.zeros((len(OFFSETS) * len(scales), side, side), np.uint8)
    for k, ((dy, dx), s) in enumerate(itertools.product(OFFSETS, scales)):
        fill_exact(out[k], shape, (c + dy, c + dx), half * s, (1,))
    return out.astype(bool)


def _fit(masks: np.ndarray, side: int) -> np.ndarray:
    """Crop or pad (K, S, S) masks to (K, side, side) about the centre."""
    k, s, _ = masks.shape
    if s == side:
        return masks
    out = np.zeros((k, side, side), bool)
    if s < side:
        o = (side - s) // 2
        out[:, o:o + s, o:o + s] = masks
    else:
        o = (s - side) // 2
        out = masks[:, o:o + side, o:o + side].copy()
    return out


def difference_px(a: str, b: str, half: float) -> int:
    """The fewest pixels in which a rendering of ``a`` at ``half`` and the best-matching rendering of ``b``
    (sub-pixel positions, scales :data:`SCALES`, integer shifts -1..1) differ — in both directions."""
    return min(_one_way(a, b, half), _one_way(b, a, half))


def _one_way(a: str, b: str, half: float) -> int:
    ma, mb = _masks(a, half), _masks(b, half, SCALES)
    side = max(ma.shape[1], mb.shape[1])
    ma, mb = _fit(ma, side), _fit(mb, side)
    fa = ma.reshape(len(ma), -1).astype(np.int32)
    best = np.iinfo(np.int32).max
    for dy, dx in itertools.product((-1, 0, 1), repeat=2):
        fb = np.roll(mb, (dy, dx), axis=(1, 2)).reshape(len(mb), -1).astype(np.int32)
        # |A xor B| = |A| + |B| - 2 |A and B|, for every (rendering of a, rendering of b) at once
        xor = fa.sum(1)[:, None] + fb.sum(1)[None, :] - 2 * fa @ fb.T
        best = min(best, int(xor.min()))
    return best


def distinguishable(a: str, b: str, half: float) -> bool:
    """Whether ``a`` and ``b`` drawn at ``half`` px differ in >= :data:`MIN_DIFF_PX` pixels (module docstring)."""
    return difference_px(a, b, half) >= MIN_DIFF_PX


@lru_cache(maxsize=None)
def min_distinguishable_half(a: str, b: str, start: float = 1.5) -> float:
    """The smallest half-extent on the :data:`GRID` from which ``a`` and ``b`` are distinguishable at every grid
    size up to :data:`MAX_HALF` (the search goes down from ``MAX_HALF``, so a non-monotonic dip counts)."""
    halves = np.arange(start, MAX_HALF + GRID / 2, GRID)
    ok = [distinguishable(a, b, float(h)) for h in halves]
    if not ok[-1]:
        raise ValueError(f"shapes {a!r} and {b!r} are not distinguishable even at half={MAX_HALF} px")
    k = len(ok) - 1
    while k > 0 and ok[k - 1]:
        k -= 1
    return float(halves[k])


def min_half(shapes: tuple[str, ...] | list[str]) -> float:
    """The smallest half-extent (px) at which every pair of ``shapes`` is distinguishable (0 for one shape):
    the largest :data:`MIN_HALF_PAIR` entry among them, computed on the fly for a pair not in the table."""
    need = 0.0
    for a, b in itertools.combinations(sorted(set(shapes)), 2):
        key = frozenset((a, b))
        need = max(need, MIN_HALF_PAIR[key] if key in MIN_HALF_PAIR else min_distinguishable_half(a, b))
    return need
