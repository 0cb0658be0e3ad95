"""Scene graphs for ``scenes``: its parameters, caption classes (group specs), their text, objects and rendering.

Pure functions and frozen specs used by :mod:`preattentive.stimuli.scenes` (the family) and, through its
re-exports, by the CLIP/LLaVA code. Radford et al. 2021; Yuksekgonul et al. 2023 (swap hard negatives).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from preattentive.stimuli.base import Params, ParamError, check_choice, check_range
from preattentive.stimuli.render import COLORS, blank, draw_shape

SCENE_SHAPES = ("circle", "square", "triangle", "diamond", "cross")  # shapes a caption can name
SIZE_FACTOR = {"small": 0.6, "large": 1.0}  # half-extent multiplier of each size word
RELATIONS = ("left of", "right of", "above", "below")
INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
QUESTIONS = ("colour", "shape", "count", "relation", "caption")
PLURAL = {"cross": "crosses"}
MIN_HALF = 3.5  # px: smallest half-extent at which circle/square/triangle/diamond survive rasterising
MIN_HALF_CROSS = 7.0  # px: a cross's arms (0.68 x half wide) need this to read as a cross, not a blob
MIN_GAP = 2.5  # px between objects that must not touch: fillPoly covers up to ~0.5 px beyond an edge


# --------------------------------------------------------------------------------------------- specs / text
@dataclass(frozen=True)
class GroupSpec:
    """One group of identical objects: ``count`` copies of a ``size colour shape``."""

    count: int  # copies, 1..10
    colour: str  # a render.COLORS name
    shape: str  # one of SCENE_SHAPES
    size: str = ""  # size word ("small" / "large") or "" when captions carry no size

    def noun(self, plural: bool | None = None) -> str:
        """``"small red circle"`` (or its plural), without article or number."""
        plural = self.count > 1 if plural is None else plural
        shape = PLURAL.get(self.shape, self.shape + "s") if plural else self.shape
        return " ".join(w for w in (self.size, self.colour, shape) if w)

    def phrase(self) -> str:
        """``"a red circle"``, ``"an orange square"``, ``"two red circles"``."""
        if self.count == 1:
            noun = self.noun(False)
            return ("an " if noun[0] in "aeiou" else "a ") + noun
        return f"{NUMBERS[self.count]} {self.noun(True)}"


@dataclass(frozen=True)
class SceneSpec:
    """A caption class: one group, or two distinct groups and the relation of the first to the second."""

    groups: tuple[GroupSpec, ...]
    relation: str | None = None  # one of RELATIONS when there are two groups

    def caption(self) -> str:
        """``"two red circles left of a blue square"``."""
        if len(self.groups) == 1:
            return self.groups[0].phrase()
        return f"{self.groups[0].phrase()} {self.relation} {self.groups[1].phrase()}"

    def swapped(self) -> "SceneSpec":
        """The same relation with the two groups exchanged: the NegCLIP word-order hard negative."""
        return SceneSpec(self.groups[::-1], self.relation)


def _valid(spec: SceneSpec) -> bool:
    return len(spec.groups) == 1 or _key(spec.groups[0]) != _key(spec.groups[1])


def _key(g: GroupSpec) -> tuple[str, str, str]:
    return g.colour, g.shape, g.size  # two groups must differ in at least one of these to be told apart


def vocabulary() -> list[str]:
    """Every token that any caption, question, choice or prompt of ``scenes`` can contain (any parameters).

    Tokens are lower-case words plus ``"?"``; text splits into them with ``re.findall(r"[a-z]+|\\?", text)``.

    Example
    -------
    >>> "circle" in vocabulary() and "left" in vocabulary()
    True
    """
    words = {"a", "an", "the", "of", "no", "what", "color", "is", "are", "shape", "object", "objects", "how",
             "many", "there", "where", "relative", "to", "which", "caption", "describes", "image", "?"}
    words |= {w for r in RELATIONS for w in r.split()} | set(NUMBERS) | set(SIZE_FACTOR) | set(COLORS)
    words |= set(SCENE_SHAPES) | {PLURAL.get(s, s + "s") for s in SCENE_SHAPES}
    return sorted(words)


def _enumerate(colors: Sequence[str], shapes: Sequence[str], sizes: Sequence[str], counts: Sequence[int],
               relations: Sequence[str], n_objects: int) -> list[SceneSpec]:
    groups = [GroupSpec(n, c, s, z) for n in counts for z in (sizes or ("",)) for c in colors for s in shapes]
    if n_objects == 1:
        return [SceneSpec((g,)) for g in groups]
    specs = [SceneSpec((a, b), r) for r in relations for a in groups for b in groups]
    return [s for s in specs if _valid(s)]


def _orbit_key(caption: str) -> str:
    for r in RELATIONS:
        if f" {r} " in caption:
            a, b = caption.split(f" {r} ")
            return f"{r}|{min(a, b)}|{max(a, b)}"
    return caption


def caption_split(classes: Sequence[str], holdout_fraction: float = 0.25, seed: int = 0) -> tuple[list[str], list[str]]:
    """Split caption classes into (train, test), deterministically; a caption and its swapped twin stay together.

    Holding out whole swap pairs means a model trained with swap hard negatives never reads a test caption.

    Example
    -------
    >>> from preattentive.stimuli.scenes import caption_classes
    >>> train, test = caption_split(caption_classes(), 0.25, seed=0)
    >>> len(train), len(test), set(train) & set(test)
    (108, 36, set())
    """
    check_range("holdout_fraction", holdout_fraction, 0.0, 1.0)
    keys = sorted({_orbit_key(c) for c in classes})
    order = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5917]).permutation(len(keys))
    held = {keys[i] for i in order[: int(round(holdout_fraction * len(keys)))]}
    return [c for c in classes if _orbit_key(c) not in held], [c for c in classes if _orbit_key(c) in held]


# --------------------------------------------------------------------------------------------- objects
def render_scene(objects: Sequence[dict[str, Any]], size: int, background: str = "white") -> np.ndarray:
    """Draw ``objects`` (the ``meta["objects"]`` structure) on a ``(size, size, 3)`` uint8 image.

    Example
    -------
    >>> obj = {"shape": "circle", "colour": "red", "half": 6.0, "centre": [20.0, 20.0]}
    >>> render_scene([obj], 64)[20, 20].tolist()
    [220, 40, 40]
    """
    img = blank(size, COLORS[background])
    for o in objects:
        draw_shape(img, o["shape"], o["centre"], o["half"], COLORS[o["colour"]])
    return img


def _groups_of(objects: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    ids = sorted({int(o.get("group", 0)) for o in objects})
    return [[o for o in objects if int(o.get("group", 0)) == g] for g in ids]


def relation_of(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> str:
    """Where group ``a`` lies relative to group ``b`` (one of RELATIONS), from the dominant axis of the centres."""
    ca = np.mean([o["centre"] for o in a], axis=0)
    cb = np.mean([o["centre"] for o in b], axis=0)
    dr, dc = ca - cb
    if abs(dc) >= abs(dr):
        return "left of" if dc < 0 else "right of"
    return "above" if dr < 0 else "below"


def spec_of(objects: Sequence[dict[str, Any]], relations: Sequence[str] = ("left of", "above")) -> SceneSpec:
    """The caption class of a scene, its relation read from the geometry and phrased with ``relations``."""
    groups = _groups_of(objects)
    gs = [GroupSpec(len(g), g[0]["colour"], g[0]["shape"], g[0].get("size", "")) for g in groups]
    if len(gs) == 1:
        return SceneSpec((gs[0],))
    if len(gs) != 2:
        raise ValueError(f"scene with {len(gs)} groups: expected 1 or 2")
    rel = relation_of(groups[0], groups[1])
    if rel in relations:
        return SceneSpec((gs[0], gs[1]), rel)
    if INVERSE[rel] in relations:
        return SceneSpec((gs[1], gs[0]), INVERSE[rel])
    raise ValueError(f"relation {rel!r} and its inverse are not among relations={tuple(relations)}")


def caption_of(objects: Sequence[dict[str, Any]], relations: Sequence[str] = ("left of", "above")) -> str:
    """The caption of a scene, e.g. ``"two red circles left of a blue square"`` (see :func:`spec_of`).

    Example
    -------
    >>> a = {"shape": "circle", "colour": "red", "centre": [30, 10], "group": 0}
    >>> b = {"shape": "square", "colour": "blue", "centre": [30, 50], "group": 1}
    >>> caption_of([b, a])
    'a red circle left of a blue square'
    """
    return spec_of(objects, relations).caption()


def twin(objects: Sequence[dict[str, Any]], kind: str = "swap", rng: np.random.Generator | None = None, *,
         size: int | None = None, colors: Sequence[str] = ("red", "green", "blue"),
         shapes: Sequence[str] = ("circle", "square", "triangle")) -> list[dict[str, Any]]:
    """A hard-negative twin of a scene: ``"swap"`` exchanges the two groups' places, ``"attribute"`` changes
    the colour or shape of one group (to a value from ``colors`` / ``shapes``) without moving anything.

    A swap of two single objects exchanges their centres; groups of several objects are mirrored across the
    image's centre line along the relation axis (needs ``size``), which exchanges the groups' sides and keeps
    every gap. Either way the caption's relation reverses and nothing overlaps.

    Example
    -------
    >>> a = {"shape": "circle", "colour": "red", "half": 5.0, "centre": [30.0, 10.0], "group": 0}
    >>> b = {"shape": "square", "colour": "blue", "half": 5.0, "centre": [30.0, 50.0], "group": 1}
    >>> caption_of(twin([a, b], "swap"))
    'a blue square left of a red circle'
    """
    objs = [dict(o, centre=list(o["centre"]), bbox=list(o.get("bbox", []))) for o in objects]
    groups = _groups_of(objs)
    if kind == "swap":
        if len(groups) != 2:
            raise ValueError(f"a swap twin needs two groups, got {len(groups)}")
        a, b = groups
        if len(a) == 1 and len(b) == 1:
            a[0]["centre"], b[0]["centre"] = b[0]["centre"], a[0]["centre"]
        else:
            if size is None:
                raise ValueError("size= is needed to mirror groups of several objects")
            axis = 1 if relation_of(a, b) in ("left of", "right of") else 0
            for o in objs:
                o["centre"][axis] = (size - 1) - o["centre"][axis]
    elif kind == "attribute":
        rng = rng if rng is not None else np.random.default_rng(0)
        options = []  # (group, field, new value) keeping the two groups distinguishable
        for gi, g in enumerate(groups):
            for field, vocab in (("colour", colors), ("shape", shapes)):
                for v in vocab:
                    if v == g[0][field]:
                        continue
                    new = dict(g[0], **{field: v})
                    if all(_okey(new) != _okey(h[0]) for hj, h in enumerate(groups) if hj != gi):
                        options.append((gi, field, v))
        if not options:
            raise ValueError("no attribute change keeps the groups distinct with this vocabulary")
        gi, field, v = options[int(rng.integers(len(options)))]
        for o in groups[gi]:
            o[field] = v
    else:
        raise ValueError(f"kind={kind!r}: expected 'swap' or 'attribute'")
    for o in objs:
        h, (r, c) = o["half"], o["centre"]
        o["bbox"] = [r - h, c - h, r + h, c + h]
    return objs


def _okey(o: dict[str, Any]) -> tuple[str, str, str]:
    return o["colour"], o["shape"], o.get("size", "")


# --------------------------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class ScenesParams(Params):
    question: str = "mixed"  # mixed | colour | shape | count | relation | caption
    colors: tuple[str, ...] = ("red", "green", "blue")  # object colour names (render.COLORS)
    shapes: tuple[str, ...] = ("circle", "square", "triangle")  # object shapes (SCENE_SHAPES)
    relations: tuple[str, ...] = ("left of", "above")  # caption relations; never a word with its inverse
    n_objects: int = 2  # object groups per scene: 1 ("two red circles") or 2 (related by a relation)
    counts: tuple[int, ...] = (1,)  # copies per group, each in 1..10
    sizes: tuple[str, ...] = ()  # size words in captions ("small", "large"); () = one size, no size word
    obj_size: float = 0.12  # half-extent of a large object, fraction of the side, / sqrt(max(counts)); floor 3.5 px
    margin: float = 0.04  # least gap between object boxes, fraction of the side (floor 2.5 px)
    dominance: float = 2.0  # relation axis offset of group centres >= dominance x the other axis (> 1)
    n_caption_choices: int = 4  # choices for question="caption": the true caption + hard negatives
    split: str = "all"  # all | train | test: which caption classes (see caption_split) scenes are drawn from
    holdout_fraction: float = 0.25  # fraction of caption classes (whole swap pairs) in the test split
    split_seed: int = 0  # seed of the class split, independent of the trial seed
    background: str = "white"  # background colour name (render.COLORS); no object may use it

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("colors", "shapes", "relations", "counts", "sizes"):
            if isinstance(getattr(self, name), (list, str)):
                v = getattr(self, name)
                object.__setattr__(self, name, tuple([v] if isinstance(v, str) else v))
        check_choice("question", self.question, ("mixed",) + QUESTIONS)
        check_choice("background", self.background, tuple(COLORS))
        check_choice("n_objects", self.n_objects, (1, 2))
        check_choice("split", self.split, ("all", "train", "test"))
        for name, vocab in (("colors", [c for c in COLORS if c != self.background]), ("shapes", SCENE_SHAPES),
                            ("relations", RELATIONS), ("sizes", tuple(SIZE_FACTOR)), ("counts", range(1, 11))):
            values = getattr(self, name)
            if not values and name not in ("sizes",) and not (name == "relations" and self.n_objects == 1):
                raise ParamError(f"{name}=(): expected at least one of {', '.join(map(str, vocab))}")
            for v in values:
                check_choice(name[:-1], v, tuple(vocab))
            if len(set(values)) != len(values):
                raise ParamError(f"{name}={values!r}: expected distinct values")
        for r in self.relations:
            if INVERSE[r] in self.relations:
                raise ParamError(f"relations={self.relations!r}: {r!r} and {INVERSE[r]!r} together would give "
                                 "two captions per image; expected at most one of each pair")
        if len(self.sizes) == 1:
            raise ParamError(f"sizes={self.sizes!r}: expected () or both of small, large")
        if self.n_objects == 1 and self.question == "relation":
            raise ParamError("question='relation' needs n_objects=2, got n_objects=1")
        check_range("obj_size", self.obj_size, 0.02, 0.4)
        check_range("margin", self.margin, 0.0, 0.2)
        check_range("dominance", self.dominance, 1.05, 10.0)
        check_range("n_caption_choices", self.n_caption_choices, 2, 8)
        check_range("holdout_fraction", self.holdout_fraction, 0.0, 0.9)
