"""Object placement for ``scenes``: object sizes, random non-overlapping layouts that make a relation clear.

Used by :mod:`preattentive.stimuli.scenes` (the family). A layout is sampled in vectorised batches of candidate
centres and filtered (no overlap, a split line between the two groups along the relation axis, the centres'
offset ``dominance`` times larger along that axis than across it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from preattentive.stimuli.base import ParamError
from preattentive.stimuli.render import separated
from preattentive.stimuli.scene_graph import (MIN_GAP, MIN_HALF, MIN_HALF_CROSS, SIZE_FACTOR, GroupSpec, SceneSpec,
                                              ScenesParams)


def _halves(spec: SceneSpec, p: ScenesParams) -> np.ndarray:
    """Half-extent (px) of every object, group 0 first: ``obj_size * size / sqrt(max(counts))`` (so that the
    largest groups fit), floored so that small objects keep 3.5 px (7 px with crosses)."""
    low = min(SIZE_FACTOR[z] for z in p.sizes) if p.sizes else 1.0
    base = max(p.obj_size * p.size / math.sqrt(max(p.counts)), (MIN_HALF_CROSS if "cross" in p.shapes else MIN_HALF) / low)
    return np.concatenate([np.full(g.count, base * (SIZE_FACTOR[g.size] if g.size else 1.0)) for g in spec.groups])


def _sample(rng: np.random.Generator, spec: SceneSpec, half: np.ndarray, p: ScenesParams, k: int) -> np.ndarray:
    """Valid layouts (M, N, 2) among ``k`` uniform candidates: no overlap, relation clear. Centres on a 1/16 px grid."""
    hmax, n = float(half.max()), len(half)
    lo, hi = hmax + 1.0, p.size - 2.0 - hmax  # keep one background pixel at the image border
    if hi < lo:
        return np.empty((0, n, 2))
    cand = np.round(rng.uniform(lo, hi, (k, n, 2)) * 16) / 16  # (K, N, 2) (row, col)
    gap = max(MIN_GAP, p.margin * p.size)
    if len(spec.groups) == 2:
        na = spec.groups[0].count
        axis = 1 if spec.relation in ("left of", "right of") else 0
        first = spec.relation in ("left of", "above")  # group 0 has the smaller coordinate along `axis`
        ia, ib = (slice(0, na), slice(na, n)) if first else (slice(na, n), slice(0, na))
        ha, hb = float(half[ia].max()), float(half[ib].max())
        # A split line s between the groups: every object of the first group ends gap/2 before it, every
        # object of the second starts gap/2 after it, so the groups never interleave along the axis.
        s_lo, s_hi = lo + ha + gap / 2, hi - hb - gap / 2
        if s_hi < s_lo:
            return np.empty((0, n, 2))
        s = rng.uniform(s_lo, s_hi, (k, 1))
        a, b = cand[:, ia], cand[:, ib]
        u = (a[:, :, axis] - lo) / max(hi - lo, 1e-9)
        a[:, :, axis] = lo + u * (s - ha - gap / 2 - lo)
        u = (b[:, :, axis] - lo) / max(hi - lo, 1e-9)
        b[:, :, axis] = s + hb + gap / 2 + u * (hi - s - hb - gap / 2)
        # Shift the second group across the axis so the centres' offset falls in the allowed cone: random
        # layouts of 2 x 3 objects would rarely pass the dominance test on their own.
        d = b.mean(1) - a.mean(1)  # (K, 2) from the first group's centre to the second's
        want = rng.uniform(-1, 1, k) * d[:, axis] / p.dominance * 0.98
        b[:, :, 1 - axis] = np.clip(b[:, :, 1 - axis] + (want - d[:, 1 - axis])[:, None], lo, hi)
        cand[:, ia], cand[:, ib] = a, b
        cand = np.round(cand * 16) / 16
        d = cand[:, ib].mean(1) - cand[:, ia].mean(1)
        ok = np.abs(d[:, axis]) >= p.dominance * np.abs(d[:, 1 - axis])
        ok &= (cand[:, ia, axis] + ha).max(1) + gap <= (cand[:, ib, axis] - hb).min(1)
        cand = cand[ok]
    return cand[separated(cand, half, gap)]


def check_fit(p: ScenesParams) -> int:
    """Raise ParamError when the largest scene cannot be laid out; return a candidate batch size for `layout`."""
    def rate(counts: tuple[int, ...]) -> float:
        big = max(p.sizes, key=lambda z: SIZE_FACTOR[z]) if p.sizes else ""
        groups = tuple(GroupSpec(max(counts), "red", "circle", big) for _ in range(p.n_objects))
        spec = SceneSpec(groups, p.relations[0] if p.n_objects == 2 else None)
        rng = np.random.default_rng(12345)
        return sum(len(_sample(rng, spec, _halves(spec, p), p, 64)) for _ in range(16)) / 1024

    r = rate(p.counts)
    if r < 4 / 1024:
        fits = [c for c in range(1, max(p.counts)) if rate((c,)) >= 4 / 1024]
        h = _halves(SceneSpec((GroupSpec(1, "red", "circle"),)), p)[0]
        raise ParamError(f"counts={tuple(p.counts)} ({max(p.counts) * p.n_objects} objects of half-extent {h:.1f} px) "
                         f"do not fit at size={p.size}: expected counts <= {max(fits) if fits else 0}, "
                         "a larger size or a smaller obj_size/margin")
    return int(np.clip(np.ceil(6 / r), 16, 512))


def layout(rng: np.random.Generator, spec: SceneSpec, p: ScenesParams, k: int) -> list[dict[str, Any]]:
    half = _halves(spec, p)
    for _ in range(400):
        ok = _sample(rng, spec, half, p, k)
        if len(ok):
            break
    else:  # check_fit measured an acceptance rate that makes this astronomically unlikely
        raise RuntimeError(f"scenes: no layout found for {spec.caption()!r} at size={p.size}")
    objs, i = [], 0
    for gi, g in enumerate(spec.groups):
        for _ in range(g.count):
            (r, c), h = ok[0, i].tolist(), float(half[i])
            objs.append({"shape": g.shape, "colour": g.colour, "size": g.size, "half": h, "centre": [r, c],
                         "bbox": [r - h, c - h, r + h, c + h], "group": gi})
            i += 1
    return objs
