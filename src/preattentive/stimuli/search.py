"""visual-search: is the target present? Feature, conjunction and spatial-configuration search, and crowding.

Treisman & Gelade 1980 (Cog Psych 12:97): a target differing in one feature (colour or orientation) pops
out, flat in set size; a conjunction of colour and orientation needs serial search. Wolfe 1994 (Guided
Search 2.0, Psychon Bull Rev 1:202): spatial-configuration search (a T among Ls) is serial too, and search
slows as targets and distractors grow similar. Bouma 1970 (Nature 226:177): a letter is crowded by
flankers closer than about half its eccentricity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from preattentive.stimuli import register_family
from preattentive.stimuli.base import Params, ParamError, StimulusFamily, Trial, check_choice, check_range
from preattentive.stimuli.render import (COLORS, blank, draw_shape, fill_polygon, place_grid, place_random,
                                         place_sequential)

SEARCH_COLORS = ("red", "green", "blue", "yellow", "orange", "purple")  # nameable item colours
MODES = ("feature", "conjunction", "spatial", "crowding")
STROKE = 0.34  # bar width and letter strokes, fraction of the item's full extent (bars ~3:1)
MIN_HALF_BAR = 3.0  # px: vertical vs horizontal bars (6 x 2 px) stay unmistakable
MIN_HALF_TILTED = 4.0  # px: a tilted bar's orientation stays measurable within a few degrees
MIN_HALF_LETTER = 5.0  # px: a T's stem offset stays >= 2 px at the hardest similarity
MIN_GAP = 2.5  # px between items: never 8-adjacent after rasterising
FIX_HALF = 2.0  # px: half-size of the crowding fixation cross (drawn in gray)
TILT = {"vertical": 90.0, "horizontal": 0.0}  # named orientations, degrees counter-clockwise from horizontal


def _queries() -> tuple[str, ...]:
    q = [f"is there a {c} bar?" for c in SEARCH_COLORS] + ["is there a vertical bar?"]
    q += [f"is there a {c} {o} bar?" for c in SEARCH_COLORS for o in TILT] + ["is there a T?"]
    return tuple(q)


def tee(center: Any, half: float, offset: float, angle_deg: float) -> np.ndarray:
    """Vertices of a T whose stem sits ``offset`` (fraction of the room, -1..1) from the bar's middle:
    0 is a T, +-1 an L (the stem at the bar's end). Rotated by ``angle_deg`` (a multiple of 90 keeps it crisp).

    Example
    -------
    >>> v = tee((10, 10), 5, 0.0, 0.0)  # an upright T: bar on top, stem centred
    >>> float(v[:, 0].min()), float(v[:, 0].max()), float(v[4, 1] + v[5, 1]) / 2
    (5.0, 15.0, 10.0)
    """
    h, w = half, STROKE * half  # w: half the stroke width, px
    s, o = 2 * w, offset * (h - w)  # bar thickness; stem centre column, px from the middle
    v = np.array([(-h, -h), (-h, h), (-h + s, h), (-h + s, o + w), (h, o + w), (h, o - w), (-h + s, o - w),
                  (-h + s, -h)])  # (8, 2) (drow, dcol), bar on top
    a = np.deg2rad(angle_deg)
    x, y = v[:, 1], -v[:, 0]  # screen axes: x right, y up
    v = np.stack([-(x * np.sin(a) + y * np.cos(a)), x * np.cos(a) - y * np.sin(a)], axis=1)
    return v + np.asarray(center, np.float64)


@dataclass(frozen=True)
class SearchParams(Params):
    mode: str = "feature"  # feature | conjunction | spatial (T among Ls) | crowding (a flanked letter)
    feature: str = "colour"  # feature mode's pop-out dimension: colour | orientation
    target: str = "fixed"  # fixed: red / vertical / red vertical bar; mixed: a random target per trial (query_id)
    colors: tuple[str, ...] = SEARCH_COLORS  # item colours (subset of SEARCH_COLORS); the first is the fixed target
    set_size: int = 8  # items in the display (target included when present); crowding: ignored
    similarity: float = 0.0  # target-distractor similarity 0..1: colour distance rank, orientation 90 -> 18 deg,
    # T-stem offset of the distractors 1 -> 0.5 (spatial, crowding)
    spacing: float = 0.5  # crowding: flanker centre distance / target eccentricity (Bouma: crowded below ~0.5)
    flankers: int = 2  # crowding: 2 (radial, along the meridian) or 4 (radial and tangential)
    item_size: float = 0.06  # item half-extent, fraction of the side (floors: bars 3 px, tilted bars 4, letters 5)
    background: str = "white"  # background colour name (render.COLORS)

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.colors, (list, str)):
            object.__setattr__(self, "colors", tuple([self.colors] if isinstance(self.colors, str) else self.colors))
        check_choice("mode", self.mode, MODES)
        check_choice("feature", self.feature, ("colour", "orientation"))
        check_choice("target", self.target, ("fixed", "mixed"))
        for c in self.colors:
            check_choice("color", c, SEARCH_COLORS)
        if len(set(self.colors)) < 2:
            raise ParamError(f"colors={self.colors!r}: expected >= 2 distinct colours from {', '.join(SEARCH_COLORS)}")
        check_choice("background", self.background, tuple(c for c in COLORS if c not in self.colors + ("gray",)))
        check_range("set_size", self.set_size, 2, 64)
        check_range("similarity", self.similarity, 0.0, 1.0)
        check_range("spacing", self.spacing, 0.2, 0.8)
        check_choice("flankers", self.flankers, (2, 4))
        check_range("item_size", self.item_size, 0.01, 0.3)


@register_family
class VisualSearchFamily(StimulusFamily):
    """Target present or absent among distractors: feature, conjunction, T-among-L search and crowding.

    Treisman & Gelade 1980; Wolfe 1994; Bouma 1970. Label 1 = present (choices ``("no", "yes")``).
    ``meta``: ``items`` (each ``kind`` "bar" | "letter", ``colour``, ``centre`` [row, col] px, ``half`` px,
    ``angle`` degrees counter-clockwise from horizontal, ``offset`` (letters: 0 = T), ``is_target``),
    ``target_index`` (or None), ``target`` (its description), ``query_id`` (index into ``queries``); crowding
    adds ``fixation`` [row, col], ``eccentricity`` and ``spacing_px``.
    """

    id = "visual-search-v1"
    citation = ("Treisman & Gelade 1980 (Cog Psych 12:97); Wolfe 1994 (Psychon Bull Rev 1:202); "
                "Bouma 1970 (Nature 226:177)")
    ParamsType = SearchParams
    n_classes = 2
    queries = _queries()
    # Harder rungs: more items, distractors closer to the target, flankers closer (crowding).
    ladder = (
        {"set_size": 4, "similarity": 0.0, "spacing": 0.6},
        {"set_size": 8, "similarity": 0.3, "spacing": 0.5},
        {"set_size": 12, "similarity": 0.6, "spacing": 0.4},
        {"set_size": 16, "similarity": 0.8, "spacing": 0.3},
    )
    difficulty_keys = ("set_size", "similarity", "spacing")

    def __init__(self, params: SearchParams | None = None, *, seed: int = 0) -> None:
        super().__init__(params, seed=seed)
        for p in [self.params, *(self._rungs if self.params.mix_levels else [])]:
            _check_fit(p)

    def _make(self, rng: np.random.Generator, label: int, p: SearchParams) -> Trial:
        present = label == 1
        if p.mode == "crowding":
            items, extra = _crowding(rng, p, present)
        else:
            items, extra = _display(rng, p, present)
        img = blank(p.size, COLORS[p.background])
        if "fixation" in extra:
            r, c = extra["fixation"]
            for a in (0.0, np.pi / 2):
                draw_shape(img, "bar", (r, c), FIX_HALF, COLORS["gray"], angle=a, stroke=0.5)
        for it in items:
            col = COLORS[it["colour"]]
            if it["kind"] == "bar":
                draw_shape(img, "bar", it["centre"], it["half"], col, angle=np.deg2rad(it["angle"]), stroke=STROKE)
            else:
                fill_polygon(img, tee(it["centre"], it["half"], it["offset"], it["angle"]), col)
        question, target_name, prompts = _text(p, extra)
        hits = [i for i, it in enumerate(items) if it["is_target"]]
        meta = {"items": items, "target_index": hits[0] if hits else None, "target": target_name,
                "query_id": self.queries.index(question), **{k: v for k, v in extra.items() if k != "spec"}}
        difficulty = {k: getattr(p, k) for k in self.difficulty_keys}
        return Trial(img, label, question, ("no", "yes"), prompts, difficulty, meta)


# --------------------------------------------------------------------------------------------- displays
def _half(p: SearchParams) -> float:
    if p.mode in ("spatial", "crowding"):
        floor = MIN_HALF_LETTER
    else:
        floor = MIN_HALF_TILTED if (p.mode, p.feature) == ("feature", "orientation") else MIN_HALF_BAR
    return max(p.item_size * p.size, floor)


def _distractor_colour(rng: np.random.Generator, p: SearchParams, target: str) -> str:
    """The distractor colour: far from the target's at similarity 0, the nearest at similarity 1 (RGB distance)."""
    others = [c for c in p.colors if c != target]
    d = [float(np.linalg.norm(np.subtract(COLORS[c], COLORS[target]))) for c in others]
    order = [others[i] for i in np.argsort(d)[::-1]]  # farthest first
    return order[int(round(p.similarity * (len(order) - 1)))]


def _letter_offset(rng: np.random.Generator, p: SearchParams) -> float:
    """A distractor's stem offset: +-1 (an L) at similarity 0 down to +-0.5 at similarity 1."""
    return float(rng.choice([-1.0, 1.0])) * (1.0 - 0.5 * p.similarity)


def _display(rng: np.random.Generator, p: SearchParams, present: bool) -> tuple[list[dict], dict]:
    n, h = p.set_size, _half(p)
    kinds: list[dict] = []
    if p.mode == "spatial":
        colour = p.colors[int(rng.integers(len(p.colors)))]
        spec = {"what": "T"}
        for i in range(n):
            t = present and i == 0
            kinds.append({"kind": "letter", "colour": colour, "angle": float(90 * rng.integers(4)),
                          "offset": 0.0 if t else _letter_offset(rng, p), "is_target": t})
    elif p.mode == "feature" and p.feature == "orientation":
        colour = p.colors[int(rng.integers(len(p.colors)))]
        tilt = 90.0 * (1.0 - 0.8 * p.similarity) * float(rng.choice([-1.0, 1.0]))  # 90 -> 18 degrees
        spec = {"what": "vertical"}
        for i in range(n):
            t = present and i == 0
            kinds.append({"kind": "bar", "colour": colour, "angle": 90.0 if t else (90.0 + tilt) % 180.0,
                          "offset": 0.0, "is_target": t})
    elif p.mode == "feature":
        target = p.colors[int(rng.integers(len(p.colors)))] if p.target == "mixed" else p.colors[0]
        other = _distractor_colour(rng, p, target)
        angle = float(rng.choice([0.0, 90.0]))
        spec = {"what": "colour", "colour": target, "other": other}
        for i in range(n):
            t = present and i == 0
            kinds.append({"kind": "bar", "colour": target if t else other, "angle": angle, "offset": 0.0,
                          "is_target": t})
    else:  # conjunction: distractors share one feature each with the target (Treisman & Gelade 1980)
        target = p.colors[int(rng.integers(len(p.colors)))] if p.target == "mixed" else p.colors[0]
        other = _distractor_colour(rng, p, target)
        tname = str(rng.choice(list(TILT))) if p.target == "mixed" else "vertical"
        oname = "horizontal" if tname == "vertical" else "vertical"
        spec = {"what": "conjunction", "colour": target, "other": other, "tilt": tname, "other_tilt": oname}
        split = rng.permutation(np.arange(n) % 2)  # half same colour, half same orientation
        for i in range(n):
            t = present and i == 0
            same_colour = bool(split[i])
            kinds.append({"kind": "bar", "colour": target if (t or same_colour) else other,
                          "angle": TILT[tname] if (t or not same_colour) else TILT[oname], "offset": 0.0,
                          "is_target": t})
    order = rng.permutation(n)
    kinds = [kinds[i] for i in order]
    letters = p.mode == "spatial"
    centres = _place(rng, p, n, h, any(k["angle"] % 90 for k in kinds), extra_gap=1.0 if letters else 0.0)
    if letters:  # letters on whole pixels rasterise mirror-symmetrically, so a T's stem reads as centred
        centres = np.round(centres)
    items = [{**k, "centre": c, "half": h} for k, c in zip(kinds, centres.tolist())]
    return items, {"spec": spec}


def _place(rng: np.random.Generator, p: SearchParams, n: int, h: float, oblique: bool,
           extra_gap: float = 0.0) -> np.ndarray:
    gap = max(MIN_GAP, 0.02 * p.size) + extra_gap
    half = np.full(n, h)
    if oblique:  # tilted bars: bounding circles
        r = h * np.hypot(1.0, STROKE)
        need, metric = np.full((n, n), 2 * r + gap * np.sqrt(2)), "circle"
    else:
        need, metric = np.full((n, n), 2 * h + gap), "box"
    pitch = need[0, 0] if metric == "box" else need[0, 0] / np.sqrt(np.pi / 4)  # side of an item's cell, px
    if n * pitch ** 2 <= 0.3 * (p.size - 2) ** 2:  # sparse enough that random placement rarely dead-ends
        c = place_random(rng, half * (np.hypot(1.0, STROKE) if oblique else 1.0), p.size, need, metric=metric,
                         iters=20)
        if c is not None:
            return c
        for _ in range(5):
            c = place_sequential(rng, half * (np.hypot(1.0, STROKE) if oblique else 1.0), p.size, need, metric=metric)
            if c is not None:
                return c
    c = place_grid(rng, half * (np.hypot(1.0, STROKE) if oblique else 1.0), p.size, gap * (1.5 if oblique else 1))
    if c is None:
        raise RuntimeError(f"visual-search: {n} items do not fit at size={p.size} (checked at construction)")
    return c


def _crowding_geometry(p: SearchParams) -> tuple[float, float, float]:
    """(eccentricity, flanker spacing, letter half-extent) in px: the target as far from fixation as the image
    allows (so spacing / eccentricity can drop below Bouma's 0.5), letters shrunk to fit between flankers."""
    h = _half(p)
    room = p.size - 2.0 - (2 + FIX_HALF) - h  # fixation near one edge, outer flanker inside the other
    ecc = float(np.floor(room / (1.0 + p.spacing)))
    sp = float(np.round(p.spacing * ecc))  # whole pixels: letters sit on pixel centres (symmetric rasterising)
    h = min(h, (sp - MIN_GAP) / 2)
    return ecc, sp, h


def _crowding(rng: np.random.Generator, p: SearchParams, present: bool) -> tuple[list[dict], dict]:
    ecc, sp, h = _crowding_geometry(p)
    side = float(rng.choice([-1.0, 1.0]))  # target right (+1) or left (-1) of fixation
    fc = 2 + FIX_HALF if side > 0 else p.size - 3 - FIX_HALF
    lo = h + 1 + (sp if p.flankers == 4 else 0)
    row = float(np.round(rng.uniform(lo, p.size - 1 - lo)))
    tc = fc + side * ecc
    # radial flankers on the meridian (Bouma 1970), and with flankers=4 tangential ones above and below
    offsets = [(0.0, 0.0), (0.0, -sp), (0.0, sp)] + ([(-sp, 0.0), (sp, 0.0)] if p.flankers == 4 else [])
    colour = p.colors[int(rng.integers(len(p.colors)))]
    items = []
    for k, (dr, dc) in enumerate(offsets):
        t = present and k == 0
        items.append({"kind": "letter", "colour": colour, "angle": float(90 * rng.integers(4)),
                      "offset": 0.0 if t else _letter_offset(rng, p), "is_target": t,
                      "centre": [row + dr, tc + dc], "half": h})
    return items, {"spec": {"what": "T"}, "fixation": [row, fc], "eccentricity": ecc, "spacing_px": sp}


def _check_fit(p: SearchParams) -> None:
    if p.mode == "crowding":
        ecc, sp, h = _crowding_geometry(p)
        inner = ecc - sp - h - FIX_HALF  # clearance between the inner flanker and the fixation cross, px
        if h < 3.5 or inner < MIN_GAP:
            need = next(s for s in range(p.size, 4 * p.size + 64) if _crowding_fits(p, s))
            raise ParamError(f"crowding with spacing={p.spacing} does not fit at size={p.size} (letters "
                             f"{max(h, 0):.1f} px, fixation clearance {inner:.1f} px): expected size >= {need}")
        return
    h = _half(p)
    oblique = p.mode == "feature" and p.feature == "orientation"
    r = h * (np.hypot(1.0, STROKE) if oblique else 1.0)
    gap = max(MIN_GAP, 0.02 * p.size) * (1.5 if oblique else 1)
    cells = int((p.size - 2) // (2 * r + gap + (p.mode == "spatial"))) ** 2
    if cells < p.set_size:
        raise ParamError(f"set_size={p.set_size} items of half-extent {h:.1f} px do not fit at size={p.size}: "
                         f"expected set_size <= {cells} or a larger size")


def _crowding_fits(p: SearchParams, size: int) -> bool:
    q = SearchParams(**{**p.to_dict(), "size": size, "colors": tuple(p.colors)})
    ecc, sp, h = _crowding_geometry(q)
    return h >= 3.5 and ecc - sp - h - FIX_HALF >= MIN_GAP


def _text(p: SearchParams, extra: dict) -> tuple[str, str, tuple[str, str]]:
    """(question, target description, (absent prompt, present prompt))."""
    s = extra["spec"]
    if s["what"] == "T":
        return "is there a T?", "T", ("only Ls", "a T among Ls")
    if s["what"] == "vertical":
        return "is there a vertical bar?", "vertical bar", ("only tilted bars", "a vertical bar among tilted bars")
    if s["what"] == "colour":
        c, o = s["colour"], s["other"]
        return f"is there a {c} bar?", f"{c} bar", (f"only {o} bars", f"a {c} bar among {o} bars")
    name = f"{s['colour']} {s['tilt']} bar"
    return f"is there a {name}?", name, (f"no {name}", f"a {name}")
