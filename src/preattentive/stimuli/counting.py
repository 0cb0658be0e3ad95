"""counting: how many objects of a class, with clutter, distractors of other classes, size variation and overlap.

Trick & Pylyshyn 1994 (Psych Rev 101:80): small numbers (1-4) are subitized in parallel, larger ones
counted serially. Paiss et al. 2023 ("Teaching CLIP to count to ten", ICCV): CLIP's counting of 2-10 objects
is near chance; CountBench. Objects are filled shapes; distractors are objects of the other classes, to be
ignored ("how many circles?" among squares). Overlap is allowed only between objects of different colours,
so every counted object stays a separate region of its colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from preattentive.stimuli import legibility, register_family
from preattentive.stimuli.base import Params, ParamError, StimulusFamily, Trial, check_choice, check_range
from preattentive.stimuli.render import COLORS, blank, draw_shape, place_grid, place_random, place_sequential

COUNT_SHAPES = ("circle", "square", "triangle", "diamond")  # classes a query can name
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
                "twenty")
MIN_HALF = 3.5  # px: smallest half-extent at which the shapes stay distinguishable after rasterising
MIN_HALF_BLOB = 2.5  # px: floor when no shape must be read (no distractors, or counting all objects)
AREA = {"circle": np.pi, "square": 4.0, "triangle": 2.0, "diamond": 2.0}  # shape area / half**2
BOUND = {"circle": 1.0, "square": np.sqrt(2), "triangle": np.sqrt(2), "diamond": 1.0}  # bounding radius / half
MIN_VISIBLE = 0.5  # overlap mode: each object keeps >= half its area visible, in one piece
MIN_GAP = 2.5  # px between objects that must not touch: fillPoly covers up to ~0.5 px beyond an edge


def _plural(shape: str) -> str:
    return shape + "s"


@dataclass(frozen=True)
class CountingParams(Params):
    n_min: int = 1  # smallest count (label 0), >= 0
    n_max: int = 10  # largest count (label n_max - n_min), <= 20
    query: str = "circle"  # what is counted: a shape in COUNT_SHAPES, "objects" (all; no distractors) or "mixed"
    shapes: tuple[str, ...] = ("circle", "square", "triangle")  # classes in the scene (targets + distractors)
    distractors: int = 0  # distractor objects (other classes) per trial, drawn uniformly in 0..distractors
    color_mode: str = "class"  # "class": each class its own colour per trial; "one": all one colour; "random"
    colors: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange")  # palette (render.COLORS)
    obj_size: float = 0.05  # smallest half-extent of an object, fraction of the side (floor 3.5 px, 2.5 px
    # when no shape must be read)
    size_jitter: float = 0.0  # half-extents drawn uniformly in [1, 1 + size_jitter] x the smallest (0..1)
    overlap: float = 0.0  # 0: objects keep a gap; > 0: different-colour objects may overlap by this fraction
    # of their summed bounding radii (0..0.45; needs color_mode="class")
    margin: float = 0.02  # least gap between objects that must not touch, fraction of the side (floor 2.5 px)
    background: str = "white"  # background colour name (render.COLORS); no object uses it

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("shapes", "colors"):
            v = getattr(self, name)
            if isinstance(v, (list, str)):
                object.__setattr__(self, name, tuple([v] if isinstance(v, str) else v))
        check_range("n_min", self.n_min, 0, 19)
        check_range("n_max", self.n_max, self.n_min + 1, 20)
        check_choice("query", self.query, COUNT_SHAPES + ("objects", "mixed"))
        if not self.shapes:
            raise ParamError(f"shapes=(): expected at least one of {', '.join(COUNT_SHAPES)}")
        for s in self.shapes:
            check_choice("shape", s, COUNT_SHAPES)
        if self.query in COUNT_SHAPES and self.query not in self.shapes:
            raise ParamError(f"query={self.query!r} is not among shapes={self.shapes!r}")
        check_range("distractors", self.distractors, 0, 40)
        if self.distractors and len(self.shapes) < 2 and self.query != "objects":
            raise ParamError(f"distractors={self.distractors} need a second class: shapes={self.shapes!r}")
        check_choice("color_mode", self.color_mode, ("class", "one", "random"))
        check_choice("background", self.background, tuple(COLORS))
        for c in self.colors:
            check_choice("color", c, tuple(k for k in COLORS if k != self.background))
        if len(set(self.colors)) < (len(self.shapes) if self.color_mode == "class" else 1):
            raise ParamError(f"colors={self.colors!r}: color_mode='class' needs >= {len(self.shapes)} colours")
        check_range("obj_size", self.obj_size, 0.01, 0.3)
        check_range("size_jitter", self.size_jitter, 0.0, 1.0)
        check_range("overlap", self.overlap, 0.0, 0.45)
        if self.overlap > 0 and self.color_mode != "class":
            raise ParamError(f"overlap={self.overlap} needs color_mode='class' (got {self.color_mode!r}): "
                             "same-colour objects never overlap, so counts stay recoverable")
        check_range("margin", self.margin, 0.0, 0.2)


@register_family
class CountingFamily(StimulusFamily):
    """How many objects of one class: 1-10 items with distractors, size variation and overlap.

    Trick & Pylyshyn 1994 (subitizing vs counting); Paiss et al. 2023 (CLIP counting, CountBench). Label
    ``N - n_min`` (balanced). ``meta``: ``objects`` (every object: ``shape``, ``colour``, ``centre`` [row, col]
    px, ``half`` px, ``bbox`` [r0, c0, r1, c1] px, ``counted``; listed in drawing order), ``count``,
    ``target`` (the counted shape, or "objects"), ``query_id`` (index into ``queries``).
    """

    id = "counting-v1"
    citation = "Trick & Pylyshyn 1994 (Psych Rev 101:80); Paiss et al. 2023 (ICCV, 'Teaching CLIP to count to ten')"
    ParamsType = CountingParams
    queries = ("how many objects are there?",) + tuple(f"how many {_plural(s)} are there?" for s in COUNT_SHAPES)
    # Harder rungs: more distractors; distractors sharing the targets' colour (shape is the only cue);
    # varied sizes; overlapping objects.
    ladder = (
        {"distractors": 0, "color_mode": "class", "size_jitter": 0.0, "overlap": 0.0},
        {"distractors": 2, "color_mode": "class", "size_jitter": 0.2, "overlap": 0.0},
        {"distractors": 4, "color_mode": "one", "size_jitter": 0.3, "overlap": 0.0},
        {"distractors": 4, "color_mode": "random", "size_jitter": 0.4, "overlap": 0.0},
        {"distractors": 4, "color_mode": "class", "size_jitter": 0.4, "overlap": 0.35},
    )
    difficulty_keys = ("distractors", "color_mode", "size_jitter", "overlap")

    def __init__(self, params: CountingParams | None = None, *, seed: int = 0) -> None:
        super().__init__(params, seed=seed)
        self.n_classes = self.params.n_max - self.params.n_min + 1
        for p in [self.params, *(self._rungs if self.params.mix_levels else [])]:
            self._check_fit(p)

    def _check_fit(self, p: CountingParams) -> None:
        """ParamError when the largest display (n_max targets + all distractors, all at the largest size)
        cannot be placed in a fair number of attempts."""
        k = p.distractors if p.query != "objects" else 0
        if not self._fits(p, p.n_max + k):
            most = max([n for n in range(p.n_min + 1, p.n_max) if self._fits(p, n + k)], default=None)
            raise ParamError(f"n_max={p.n_max} (+ distractors={k}) objects of half-extent up to "
                             f"{self._half_range(p)[1]:.1f} px do not fit at size={p.size}: expected n_max <= "
                             f"{most if most is not None else '(none fits)'}, a larger size or a smaller obj_size"
                             + self._floor_note(p))

    def _fits(self, p: CountingParams, n: int) -> bool:
        """Every display of n objects can be placed: the jittered-grid fallback has room for n objects."""
        hmax, gap = self._half_range(p)[1], max(MIN_GAP, p.margin * p.size)
        if int((p.size - 2) // (2 * hmax + gap)) ** 2 >= n:
            return True
        rng = np.random.default_rng(2024)  # else random placement must succeed often (it gets 50 attempts)
        half = np.full(n, hmax)
        return sum(self._place(rng, p, half, np.arange(n) % 2, np.full(n, 1.5), 2) is not None
                   for _ in range(12)) >= 6

    exact = False  # v1: OpenCV polygons (v2: pixel centres inside the ideal shape, render.fill_exact)

    @classmethod
    def _shape_floor(cls, p: CountingParams) -> float:
        """px: the smallest half-extent when a shape must be read (a distractor of another class is present)."""
        return MIN_HALF

    def _floor_note(self, p: CountingParams) -> str:
        """Why objects are as large as they are, when the legibility floor (not obj_size) set their size."""
        floor = self._shape_floor(p)
        if p.distractors == 0 or p.query == "objects" or p.obj_size * p.size >= floor or floor == MIN_HALF:
            return ""
        return (f" (shapes are drawn at >= {floor:g} px half-extent, the smallest at which {', '.join(p.shapes)} "
                "stay distinguishable in pixels: preattentive.stimuli.legibility)")

    @classmethod
    def _half_range(cls, p: CountingParams) -> tuple[float, float]:
        read_shape = p.distractors > 0 and p.query != "objects"
        base = max(p.obj_size * p.size, cls._shape_floor(p) if read_shape else MIN_HALF_BLOB)
        return base, base * (1 + p.size_jitter)

    @staticmethod
    def _place(rng: np.random.Generator, p: CountingParams, half: np.ndarray, colour_id: np.ndarray,
               bound: np.ndarray, attempts: int = 50) -> np.ndarray | None:
        gap = max(MIN_GAP, p.margin * p.size)
        if p.overlap > 0:  # bounding circles; different colours may overlap, same colours keep the gap
            r = half * bound  # bounding radius, px
            same = colour_id[:, None] == colour_id[None, :]
            # same colours: a Euclidean gap of gap * sqrt(2) keeps >= gap px on both axes (squares corner to corner)
            need = np.where(same, r[:, None] + r[None, :] + gap * np.sqrt(2), (r[:, None] + r[None, :]) * (1 - p.overlap))
            metric = "circle"
        else:
            need = half[:, None] + half[None, :] + gap
            metric = "box"
        if (need.diagonal() ** 2).sum() <= 0.3 * (p.size - 2) ** 2:  # sparse: draw all, redraw collisions
            c = place_random(rng, half, p.size, need, metric=metric, iters=20)
            if c is not None:
                return c
        first = np.argsort(-half, kind="stable")  # place the largest first: fewer dead ends
        back = np.argsort(first)
        need = need[first][:, first]
        for _ in range(attempts):
            c = place_sequential(rng, half[first], p.size, need, metric=metric)
            if c is not None:
                return c[back]
        return place_grid(rng, half, p.size, gap)  # crowded displays: random cells of a jittered grid

    def _make(self, rng: np.random.Generator, label: int, p: CountingParams) -> Trial:
        n = p.n_min + label
        target = p.query if p.query != "mixed" else p.shapes[int(rng.integers(len(p.shapes)))]
        if target == "objects":
            shapes = [p.shapes[int(i)] for i in rng.integers(len(p.shapes), size=n)]
            counted = [True] * n
        else:
            others = [s for s in p.shapes if s != target]
            k = int(rng.integers(p.distractors + 1)) if others else 0
            shapes = [target] * n + [others[int(i)] for i in rng.integers(max(len(others), 1), size=k)]
            counted = [True] * n + [False] * k
        m = len(shapes)
        order = rng.permutation(m)  # drawing (and placement) order: targets and distractors interleaved
        shapes, counted = [shapes[i] for i in order], [counted[i] for i in order]
        colours = self._colours(rng, p, shapes)
        lo, hi = self._half_range(p)
        half = rng.uniform(lo, hi, m) if p.size_jitter > 0 else np.full(m, lo)
        half = np.round(half * 16) / 16
        cid = np.array([p.colors.index(c) for c in colours])
        for _ in range(20):
            centres = self._place(rng, p, half, cid, np.array([BOUND[s] for s in shapes]))
            if centres is None:
                raise RuntimeError(f"counting: {m} objects do not fit at size={p.size} (checked at construction)")
            if p.overlap == 0 or _visible_ok(p.size, shapes, centres, half, self.exact):
                break
        else:
            raise RuntimeError("counting: no overlap layout left every object visible")
        img = blank(p.size, COLORS[p.background])
        objects = []
        for s, c, (r, col), h, k in zip(shapes, colours, centres.tolist(), half.tolist(), counted):
            draw_shape(img, s, (r, col), h, COLORS[c], exact=self.exact)
            objects.append({"shape": s, "colour": c, "centre": [r, col], "half": h,
                            "bbox": [r - h, col - h, r + h, col + h], "counted": k})
        noun = "objects" if target == "objects" else _plural(target)
        question = f"how many {noun} are there?"
        choices = tuple(NUMBER_WORDS[i] for i in range(p.n_min, p.n_max + 1))
        prompts = tuple(f"no {noun}" if i == 0 else f"one {noun[:-1]}" if i == 1 else f"{NUMBER_WORDS[i]} {noun}"
                        for i in range(p.n_min, p.n_max + 1))
        meta = {"objects": objects, "count": n, "target": target, "query_id": self.queries.index(question),
                "n_distractors": m - n}
        difficulty = {k: getattr(p, k) for k in self.difficulty_keys}
        return Trial(img, label, question, choices, prompts, difficulty, meta)

    @staticmethod
    def _colours(rng: np.random.Generator, p: CountingParams, shapes: list[str]) -> list[str]:
        if p.color_mode == "one":
            c = p.colors[int(rng.integers(len(p.colors)))]
            return [c] * len(shapes)
        if p.color_mode == "random":
            return [p.colors[int(i)] for i in rng.integers(len(p.colors), size=len(shapes))]
        pick = rng.permutation(len(p.colors))[: len(p.shapes)]  # class -> colour, new for every trial
        return [p.colors[int(pick[p.shapes.index(s)])] for s in shapes]


def _visible_ok(size: int, shapes: list[str], centres: np.ndarray, half: np.ndarray, exact: bool = False) -> bool:
    """Overlap mode: each object keeps >= MIN_VISIBLE of its area visible, as one 8-connected piece."""
    import cv2

    ids = np.zeros((size, size), np.uint8)
    for i, (s, c, h) in enumerate(zip(shapes, centres, half)):
        draw_shape(ids, s, c, h, (i + 1,), exact=exact)
    for i, (s, (r, c), h) in enumerate(zip(shapes, centres, half)):
        r0, c0 = max(int(r - h) - 2, 0), max(int(c - h) - 2, 0)
        vis = (ids[r0: int(r + h) + 3, c0: int(c + h) + 3] == i + 1).astype(np.uint8)
        if vis.sum() < MIN_VISIBLE * AREA[s] * h * h:
            return False
        if cv2.connectedComponents(vis, connectivity=8)[0] != 2:
            return False
    return True


@register_family
class CountingV2(CountingFamily):
    """counting-v2: counting-v1 with labels a pixel reader can trust (same parameters, ladder and questions).

    Shapes are drawn exactly (the pixels whose centres lie inside the ideal shape; no one-pixel nubs or spurs)
    and, whenever a shape must be read (distractors of another class), never smaller than the half-extent at
    which every pair of the trial's classes is distinguishable in pixels
    (:func:`preattentive.stimuli.legibility.min_half`: circle/square 5.25 px, circle/diamond 5.75 px, ...).
    A smaller ``obj_size`` is clamped up to that floor (``meta["objects"][i]["half"]`` is the size drawn); a
    display that then no longer fits is a one-line error naming the largest ``n_max`` that does.
    v1 stays available, byte for byte, as ``counting-v1``.
    """

    id = "counting-v2"
    exact = True
    # v1's rungs with size variation capped at 0.2: at the legible floor (5.25 px for circle/square) v1's 0.3-0.4
    # would leave no room for 10 targets and 4 distractors at 64 px
    ladder = tuple({**rung, "size_jitter": min(rung["size_jitter"], 0.2)} for rung in CountingFamily.ladder)

    @classmethod
    def _shape_floor(cls, p: CountingParams) -> float:
        # a named target must be told from every other class; "mixed" names each class in turn
        pairs = [(a, b) for a in p.shapes for b in p.shapes if a < b and (p.query == "mixed" or p.query in (a, b))]
        return max([MIN_HALF_BLOB] + [legibility.min_half(pair) for pair in pairs])
