"""Curve tracing: two curves (solid or dashed "Pathfinder" snakes) and two markers — on the same curve or not?

Designs
-------
``style="solid"`` — Roelfsema, Lamme & Spekreijse 1998 (Nature 395:376); Jolicœur, Ullman & Mackay 1986 (Mem Cogn
14:129): two smooth, non-touching curves; one marker at an end of a curve (the "fixation" end, ``markers[0]``),
the other at an end of the same curve (label 1) or of the other curve (label 0).

``style="dashed"`` — Linsley, Kim, Veerabadran, Windolf & Serre 2018 (NeurIPS, "Pathfinder"); Long Range Arena
Pathfinder-32 / Path-X (Tay et al. 2021, ICLR): snakes of short straight paddles separated by gaps; target
snakes of 6 / 9 / 14 paddles; distractor snakes a third as long; two circular markers at snake ends; positive =
both markers on one snake. The original generator (github.com/drewlinsley/pathfinder, ``snakes2_wrapper.py``,
300 px images) uses paddle length 5 px, thickness 2 px, paddle margin 3 px (centre gap up to 2 x margin = 6 px),
marker radius 5 px, ``continuity=1.8`` (turn between paddles weighted by cos^2(1.8 * delta), i.e. at most
90 / 1.8 = 50 deg), distractor length = contour length / 3 and 30 / distractor_length distractor snakes. At 32–64 px
those proportions leave paddles under 1 px, so this generator keeps the design (paddle ≈ gap, 50 deg maximum
turn, marker ≈ paddle) but sets pixel sizes per image size (see :func:`geometry`), as LRA's small variants do.

What this generator guarantees (checked by the tests with independent solvers)
------------------------------------------------------------------------------
Curves are placed one at a time on an occupancy map at the pixel level: a candidate curve's rendered ink
(including the marker disks that could go at either end of a target curve) must lie at Euclidean distance
``>= meta["min_separation"]`` px from every ink pixel of every other curve. For ``solid`` this is >= 2 px, so
thresholding (ink > 0) and 8-connected flood fill separate the curves. For ``dashed`` the centre-line gap between
consecutive paddles is <= ``gap`` px, so ink pixels of consecutive paddles are <= ``meta["max_gap"] = gap + 1.5``
px apart (each endpoint pixel lies within 0.71 px of the true endpoint), and other snakes are kept farther than
that (``min_separation`` is the next lattice distance above ``max_gap``, or more): linking ink pixels at most
``max_gap`` apart (closing the gaps) joins each snake and nothing else. Ink is every pixel > 0 (anti-aliased
drawing from 96 px; the occupancy test uses the same rendering, so the guarantee holds for the fringe too).

Shortcut guards
---------------
The scene is drawn without knowing the label: target curves of equal length, then the distractors (as many of
the requested number as fit; ``meta["n_distractors"]`` says how many). The second target B starts on the circle
around an end of the first, A, whose radius is the end-to-end distance of target A or of B (a coin flip). So each
scene holds a same-curve pair and a cross pair at equal distance, and the label only picks which pair gets the
markers: marker distance and total ink are distributed alike in both classes (tested).

Performance: walks are generated in vectorised batches (cumulative sums of turning angles), screened at once
against the image bounds and the occupancy map, and only survivors are rendered and checked pixel-exactly.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import cv2
import numpy as np

from preattentive.stimuli import register_family
from preattentive.stimuli.base import ParamError, Params, StimulusFamily, Trial, check_choice, check_range

STYLES = ("solid", "dashed")
MIN_SIZE, MAX_SIZE = 32, 448  # px; below 32 px a 14-paddle snake and its clearance no longer fit
_SHIFT = 4  # OpenCV fixed-point fractional bits (1/16 px)


@dataclass(frozen=True)
class CurveTracingParams(Params):
    """Parameters of ``curve-tracing-v1``; lengths in px are given at 64 px and scale with ``size / 64``."""

    style: Literal["solid", "dashed"] = "dashed"  # solid curves (Roelfsema 1998) or paddle snakes (Linsley 2018)
    length: int = 9  # segments per target curve (dashed: paddles; Pathfinder uses 6 / 9 / 14)
    distractors: int = 2  # distractor curves, each max(1, round(length / 3)) segments (Pathfinder: length / 3)
    curvature: float = 40.0  # maximum turn between segments, deg; turns are uniform in +-curvature (Pathfinder:
    # weight cos^2(1.8 x turn), which ends at 50 deg)
    clearance: float = 6.0  # minimum ink distance between different curves, px at 64 px (floored, see geometry)

    def __post_init__(self) -> None:
        check_range("size", self.size, MIN_SIZE, MAX_SIZE)
        check_choice("style", self.style, STYLES)
        check_range("length", self.length, 2, 40)
        check_range("distractors", self.distractors, 0, 30)
        check_range("curvature", self.curvature, 0.0, 90.0)
        check_range("clearance", self.clearance, 0.0, 32.0)


class Geometry(NamedTuple):
    """Pixel sizes for one image size (all px)."""

    stroke: int  # line thickness
    paddle: float  # dashed: centre-line length of one paddle
    gap: float  # dashed: centre-line gap between paddles (the longest; turns shorten it)
    step: float  # length of one segment = paddle + gap (solid curves use the same step)
    marker: float  # marker disk radius
    min_separation: float  # guaranteed minimum Euclidean distance between ink pixels of different curves
    max_gap: float  # dashed: upper bound on the distance between ink pixels of consecutive paddles (0 for solid)
    aa: bool  # anti-aliased drawing (from 96 px); ink is every pixel > 0 either way


@functools.lru_cache(maxsize=64)
def geometry(p: CurveTracingParams) -> Geometry:
    """Pixel sizes for ``p``: 64 px is the reference (segment 4.5 = paddle 2.5 + gap 2, stroke 1, marker radius 2.5).

    Example
    -------
    >>> geometry(CurveTracingParams(size=32)).stroke
    1
    """
    k = p.size / 64.0
    stroke = max(1, int(round(k)))
    step = 4.5 * k  # one segment is 7 % of the image side at every size, so a 14-paddle snake looks alike
    gap = max(1.5, 2.0 * k)  # a 1.5 px centre gap still leaves a background pixel between most paddles
    paddle = step - gap  # 0.75 px at 32 px: LRA Pathfinder-32-like dotted snakes
    marker = max(1.5, 2.5 * k, 0.5 * stroke + 1.0)
    if p.style == "dashed":
        max_gap = gap + 1.5
        # Pixel centres lie on a lattice, so "farther than max_gap" means at least the next lattice distance.
        sep = max(math.sqrt(math.floor(max_gap * max_gap) + 1), p.clearance * k)
    else:
        max_gap = 0.0
        sep = max(2.0, p.clearance * k)  # >= 2 px: never 8-adjacent
    return Geometry(stroke, paddle, gap, step, marker, sep, max_gap, p.size >= 96)


# --------------------------------------------------------------------------------------------- curves
class Shape(NamedTuple):
    """A curve rendered on its own canvas, whose top-left corner sits at image pixel ``origin``."""

    origin: tuple[int, int]  # (row, col) of the canvas's top-left pixel in the image
    ink: np.ndarray  # (h, w) uint8 curve ink
    disks: tuple[np.ndarray, ...]  # (h, w) uint8 marker disks at the two ends (targets only, else empty)
    ends: np.ndarray  # (2, 2) float (row, col) end points, image coordinates
    rc: np.ndarray  # (K, 2) int image row/col of the ink that must keep clear of other curves (curve + disks)


def _walks(rng: np.random.Generator, n: int, n_seg: int, step: float, max_turn: float, sub: int) -> np.ndarray:
    """``n`` random walks of ``n_seg`` segments from (0, 0): (n, n_seg * sub + 1, 2) (row, col) points.

    Headings are cumulative sums of uniform turns in [-max_turn, max_turn] (radians), one per segment, spread
    evenly over its ``sub`` sub-steps (so ``sub > 1`` gives smooth arcs, ``sub = 1`` straight paddles).
    """
    turns = rng.uniform(-max_turn, max_turn, (n, n_seg))
    turns[:, 0] = 0.0
    inc = turns if sub == 1 else np.repeat(turns / sub, sub, axis=1)  # (n, M) heading increments
    theta = rng.uniform(-math.pi, math.pi, (n, 1)) + np.cumsum(inc, axis=1)
    d = np.empty(theta.shape + (2,))  # (n, M, 2); filled in place: fewer temporaries, the same values
    np.sin(theta, out=d[..., 0])
    np.cos(theta, out=d[..., 1])
    d *= step / sub
    out = np.zeros((n, theta.shape[1] + 1, 2))
    np.cumsum(d, axis=1, out=out[:, 1:])
    return out


def _self_clear(v: np.ndarray, min_dist: float) -> np.ndarray:
    """(n,) bool: vertices (n, V, 2) three or more segments apart are at least ``min_dist`` apart."""
    V = v.shape[1]
    if V <= 3 or len(v) == 0:
        return np.ones(len(v), bool)
    d2 = ((v[:, :, None, :] - v[:, None, :, :]) ** 2).sum(-1)  # (n, V, V)
    far = np.abs(np.arange(V)[:, None] - np.arange(V)[None, :]) >= 3
    return np.where(far, d2, np.inf).min(axis=(1, 2)) >= min_dist * min_dist


def _fixed(rc: np.ndarray) -> np.ndarray:
    return np.round(rc[..., ::-1] * (1 << _SHIFT)).astype(np.int32)  # (row, col) -> fixed-point (x, y)


@functools.lru_cache(maxsize=64)
def _disk_kernel(radius: float) -> np.ndarray:
    """Offsets within Euclidean distance < ``radius``: dilating by it marks every pixel closer than ``radius``."""
    r = int(math.ceil(radius))
    y, x = np.ogrid[-r : r + 1, -r : r + 1]
    return ((x * x + y * y) < radius * radius).astype(np.uint8)


class _Scene:
    """Curves placed so far and an occupancy map of the pixels closer than ``min_separation`` to their ink."""

    def __init__(self, size: int, g: Geometry) -> None:
        self.size, self.g = size, g
        self.forbidden = np.zeros((size, size), bool)
        self.kernel = _disk_kernel(g.min_separation)
        self.placed: list[Shape] = []

    def fits(self, shape: Shape) -> bool:
        r, c = shape.rc[:, 0], shape.rc[:, 1]
        if r.min() < 0 or c.min() < 0 or r.max() >= self.size or c.max() >= self.size:
            return False
        return not self.forbidden[r, c].any()

    def add(self, shape: Shape) -> None:
        k = self.kernel.shape[0] // 2
        (r0, c0), (h, w) = shape.origin, shape.ink.shape
        full = np.zeros((h + 2 * k, w + 2 * k), np.uint8)
        full[shape.rc[:, 0] - r0 + k, shape.rc[:, 1] - c0 + k] = 1
        grown = cv2.dilate(full, self.kernel).astype(bool)
        R0, C0 = r0 - k, c0 - k  # paste the grown ink, clipped to the image
        a0, b0 = max(R0, 0), max(C0, 0)
        a1, b1 = min(R0 + grown.shape[0], self.size), min(C0 + grown.shape[1], self.size)
        self.forbidden[a0:a1, b0:b1] |= grown[a0 - R0 : a1 - R0, b0 - C0 : b1 - C0]
        self.placed.append(shape)


class _Walker:
    """Grows batches of random walks from given start points and keeps the first that fits the scene.

    All candidate walks of a batch are checked at once (bounds, self-clearance, the occupancy map at points
    along the centre line); only survivors are rendered and checked exactly, pixel by pixel.
    """

    def __init__(self, rng: np.random.Generator, p: CurveTracingParams, g: Geometry) -> None:
        self.rng, self.g, self.size = rng, g, p.size
        self.dashed = p.style == "dashed"
        self.sub = 1 if self.dashed else max(2, int(math.ceil(g.step)))  # solid: ~1 px sub-steps, smooth arcs
        self.turn = math.radians(p.curvature)
        self.self_min = max(1.2 * g.step, g.min_separation + g.stroke)  # px between non-neighbouring vertices
        self.pad = g.marker + 0.5 * g.stroke + 1.0  # px kept from the border: disk, half stroke, AA fringe

    def walks(self, n: int, n_seg: int) -> tuple[np.ndarray, np.ndarray]:
        """Walks (n, M+1, 2) from (0, 0) and their end points (n, 2, 2) relative to the first end."""
        pts = _walks(self.rng, n, n_seg, self.g.step, self.turn, self.sub)
        if self.dashed:  # paddles are the middles of the segments: ends are half a gap inside the vertices
            u0, u1 = pts[:, 1] - pts[:, 0], pts[:, -1] - pts[:, -2]
            e0 = pts[:, 0] + u0 * (0.5 * self.g.gap / self.g.step)
            e1 = pts[:, -1] - u1 * (0.5 * self.g.gap / self.g.step)
        else:
            e0, e1 = pts[:, 0], pts[:, -1]
        return pts - e0[:, None], np.stack([np.zeros_like(e0), e1 - e0], axis=1)

    def free_walks(self, n: int, n_seg: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """``n`` walks and uniform start points inside the image, ready for :meth:`place`."""
        pts, _ = self.walks(n, n_seg)
        return pts, self.starts(pts)

    def starts(self, pts: np.ndarray, center: np.ndarray | None = None, radius=None) -> tuple[np.ndarray, np.ndarray]:
        """Start points (n, 2) that keep each walk inside the image, and which walks have one (n,) bool.

        Uniform over the allowed box, or (with ``center``/``radius``) on the circle of ``radius`` (scalar or
        per walk) around ``center``, at the first of 32 random angles that lands in the box (``center`` (2,) or per walk
        (n, 2)).
        """
        lo = self.pad - pts.min(axis=1)  # (n, 2) allowed start box
        hi = self.size - 1 - self.pad - pts.max(axis=1)
        ok = (lo <= hi).all(axis=1)
        if center is None:
            return lo + self.rng.random(lo.shape) * np.maximum(hi - lo, 0), ok
        n = len(pts)
        phi = self.rng.uniform(-math.pi, math.pi, (n, 32))
        # Only walks that fit the box at all need a start (at 32 px, 14 paddles, ~1 in 5): computing the others'
        # 32 candidates was half of v1's time there. Same values element by element, so the same bytes.
        idx = np.flatnonzero(ok)
        start = np.zeros((n, 2))
        center = np.broadcast_to(np.asarray(center, float).reshape(-1, 2), (n, 2))[idx, None]  # (k, 1, 2)
        radius = np.broadcast_to(np.asarray(radius, float).reshape(-1), (n,))[idx, None, None]  # (k, 1, 1)
        ph = phi[idx]
        cand = center + radius * np.stack([np.sin(ph), np.cos(ph)], -1)  # (k, 32, 2)
        inside = ((cand >= lo[idx, None]) & (cand <= hi[idx, None])).all(axis=-1)  # (k, 32)
        start[idx] = cand[np.arange(len(idx)), inside.argmax(axis=1)]
        ok = ok.copy()
        ok[idx] = inside.any(axis=1)
        return start, ok

    def place(self, scene: _Scene, pts: np.ndarray, starts: tuple[np.ndarray, np.ndarray],
              target: bool) -> tuple[Shape, int] | None:
        """Translate walks ``pts`` (n, M+1, 2) to ``starts``; add the first that fits, return it and its index."""
        starts, ok = starts
        idx = np.flatnonzero(ok)
        pts = pts[idx] + starts[idx, None, :]
        if scene.placed:
            q = np.rint(0.5 * (pts[:, 1:] + pts[:, :-1])).astype(np.int64)  # segment midpoints: on the ink
            keep = ~scene.forbidden[q[..., 0], q[..., 1]].any(axis=1)
            pts, idx = pts[keep], idx[keep]
        pts, idx = pts[:8], idx[:8]  # the rest are not needed unless all of these fail
        keep = _self_clear(pts[:, :: self.sub], self.self_min)
        pts, idx = pts[keep], idx[keep]
        for i in range(min(len(pts), 4)):
            shape = self.render(pts[i], target)
            if scene.fits(shape):
                scene.add(shape)
                return shape, int(idx[i])
        return None

    def render(self, pts: np.ndarray, target: bool) -> Shape:
        """Draw one walk (image coordinates) on a canvas just big enough for it and its end disks."""
        g = self.g
        line = cv2.LINE_AA if g.aa else cv2.LINE_8
        r0, c0 = (int(v) for v in np.floor(pts.min(0) - self.pad))
        local = pts - (r0, c0)
        h, w = (np.ceil(local.max(0) + self.pad)).astype(int) + 1
        ink = np.zeros((h, w), np.uint8)
        if self.dashed:
            u = np.diff(local, axis=0) * (0.5 * g.gap / g.step)
            a, b = local[:-1] + u, local[1:] - u  # each paddle is the middle of its segment
            cv2.polylines(ink, list(_fixed(np.stack([a, b], axis=1))), False, 255, g.stroke, line, _SHIFT)
            ends = np.stack([a[0], b[-1]])
        else:
            cv2.polylines(ink, [_fixed(local)], False, 255, g.stroke, line, _SHIFT)
            ends = np.stack([local[0], local[-1]])
        full, disks = ink, ()
        if target:
            disks = tuple(np.zeros_like(ink) for _ in range(2))
            for d, e in zip(disks, _fixed(ends)):
                cv2.circle(d, (int(e[0]), int(e[1])), int(round(g.marker * (1 << _SHIFT))), 255, -1, line, _SHIFT)
            full = ink | disks[0] | disks[1]
        return Shape((r0, c0), ink, disks, ends + (r0, c0), np.argwhere(full) + (r0, c0))


# --------------------------------------------------------------------------------------------- the family
@register_family
class CurveTracing(StimulusFamily):
    """Two curves, two markers: are the markers on the same curve? (Roelfsema 1998; Pathfinder, Linsley 2018).

    Label 1 ("yes") = both markers on one curve. ``meta["markers"]`` = [[row, col], [row, col]] marker centres
    (the first is the "fixation" end); ``meta["min_separation"]`` = guaranteed minimum distance (px) between ink
    pixels of different curves; ``meta["max_gap"]`` = dashed: bound (px) on the gap between consecutive paddles.

    Example
    -------
    >>> from preattentive import stimuli
    >>> t = stimuli.make("curve-tracing", style="dashed", level=4, size=32, seed=1).trial(0)
    >>> t.image.shape, t.choices
    ((32, 32, 3), ('no', 'yes'))
    """

    id = "curve-tracing-v1"
    citation = ("Roelfsema, Lamme & Spekreijse 1998, Nature 395:376; Jolicoeur, Ullman & Mackay 1986, Mem Cogn "
                "14:129; Linsley et al. 2018, NeurIPS (Pathfinder); Tay et al. 2021, ICLR (Long Range Arena)")
    ParamsType = CurveTracingParams
    # Easy -> hard: longer curves (Pathfinder 6 / 9 / 14 paddles), more distractors, sharper turns (Pathfinder's
    # continuity 1.8 allows 50 deg), curves allowed closer together. The last three rungs are Pathfinder's hardest
    # length, 14 paddles (the S1 experiment trains there at 32 and 64 px).
    ladder = (
        {"length": 6, "distractors": 1, "curvature": 20.0, "clearance": 8.0},
        {"length": 9, "distractors": 2, "curvature": 40.0, "clearance": 6.0},
        {"length": 14, "distractors": 2, "curvature": 50.0, "clearance": 5.0},
        {"length": 14, "distractors": 3, "curvature": 50.0, "clearance": 4.0},
        {"length": 14, "distractors": 4, "curvature": 50.0, "clearance": 3.0},
    )
    difficulty_keys = ("length", "distractors", "curvature", "clearance")
    scene_tries = 100  # fresh scenes tried before giving up with ParamError (dense 32 px rungs need ~2-4)

    def _make(self, rng: np.random.Generator, label: int, p: Params) -> Trial:
        assert isinstance(p, CurveTracingParams)
        g = geometry(p)
        scene, c, cross = self._scene(rng, p, g)
        pair = ((c, 0), (c, 1)) if label == 1 else cross
        if rng.random() < 0.5:
            pair = pair[::-1]
        return self._draw(scene, pair, p, g, label)

    def _scene(self, rng: np.random.Generator, p: CurveTracingParams, g: Geometry):
        """Two target curves with label-free matched marker distances, then the distractors.

        Target ``c`` (A or B, a coin flip per candidate walk) carries the positive pair, its two ends, at
        distance ``d``. The second target B starts on the circle of radius ``d`` around an end of the first, A:
        that cross pair is the negative pair. Nothing here looks at the label, and both classes' marker
        distances are ``d``.
        """
        walker = _Walker(rng, p, g)
        n_d = max(1, int(round(p.length / 3)))
        for _ in range(self.scene_tries):
            scene = _Scene(p.size, g)
            for n in (16, 64):  # walks per vectorised batch: small first, since most scenes need few
                pts, _ = walker.walks(n, p.length)
                placed = walker.place(scene, pts, walker.starts(pts), target=True)
                if placed is not None:
                    break
            if placed is None:
                continue
            a = placed[0]
            for n in (16, 32, 64, 128, 128, 128, 128, 128):
                pts, ends = walker.walks(n, p.length)
                c = rng.integers(0, 2, n)  # walk k: the positive pair is on A (c=0) or on this walk (c=1)
                d = np.where(c == 0, np.linalg.norm(a.ends[0] - a.ends[1]), np.linalg.norm(ends[:, 1], axis=1))
                i = rng.integers(0, 2, n)  # walk k starts at distance d[k] from A's end i[k]
                placed = walker.place(scene, pts, walker.starts(pts, a.ends[i], d), target=True)
                if placed is None:
                    continue
                c, i = int(c[placed[1]]), int(i[placed[1]])
                for _ in range(p.distractors):  # as many as fit; stop at the first that does not
                    if not any(walker.place(scene, *walker.free_walks(n, n_d), target=False) for n in (16, 32, 64)):
                        break
                return scene, c, (((0, i), (1, 0)) if c == 0 else ((1, 0), (0, i)))
        raise ParamError(f"curve-tracing: could not fit two {p.style} curves of length={p.length} with "
                         f"clearance={p.clearance} in size={p.size} px; use a larger size or a smaller length")

    def _draw(self, scene: _Scene, pair, p: CurveTracingParams, g: Geometry, label: int) -> Trial:
        img = np.zeros((p.size, p.size), np.uint8)
        layers = [(s, s.ink) for s in scene.placed] + [(scene.placed[a], scene.placed[a].disks[i]) for a, i in pair]
        for shape, layer in layers:  # every canvas lies inside the image (checked by _Scene.fits)
            (r0, c0), (h, w) = shape.origin, layer.shape
            np.maximum(img[r0 : r0 + h, c0 : c0 + w], layer, out=img[r0 : r0 + h, c0 : c0 + w])
        markers = [[int(v) for v in np.rint(scene.placed[a].ends[i])] for a, i in pair]
        dashed = p.style == "dashed"
        what = "dashed path" if dashed else "line"
        return Trial(
            image=cv2.cvtColor(img, cv2.COLOR_GRAY2RGB),  # = np.repeat(img, 3), ~20x faster at 224 px
            label=label,
            question=f"Are the two circles on the same {what}?",
            choices=("no", "yes"),
            prompts=(f"two circles on two different {what}s", f"two circles on the same {what}"),
            difficulty={k: getattr(p, k) for k in self.difficulty_keys},
            meta={"markers": markers, "style": p.style, "min_separation": g.min_separation,
                  "max_gap": g.max_gap, "marker_radius": g.marker, "stroke": g.stroke,
                  "n_distractors": len(scene.placed) - 2},
        )
