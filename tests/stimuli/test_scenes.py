"""scenes-v1: determinism, public API, bad parameters, and an independent solver that reads only the pixels."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from preattentive import stimuli
from preattentive.stimuli import ParamError
from preattentive.stimuli.render import COLORS
from preattentive.stimuli.scenes import (ScenesFamily, ScenesParams, caption_classes, caption_of, caption_split,
                                         render_scene, twin, vocabulary)

NUM = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
PLURALS = {"circles": "circle", "squares": "square", "triangles": "triangle", "diamonds": "diamond",
           "crosses": "cross"}
INV = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


# --------------------------------------------------------------------------------------------- the solver
def shape_of(mask: np.ndarray) -> str:
    """Shape from component geometry only: extent (area / box), centroid offset, solidity (area / hull)."""
    ys, xs = np.nonzero(mask)
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    extent = len(ys) / (h * w)
    offset = (ys.mean() - (ys.min() + ys.max()) / 2) / h  # triangles are heavier at the bottom
    cs, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    hull = cv2.convexHull(np.concatenate(cs))
    solidity = len(ys) / (cv2.contourArea(hull) + cv2.arcLength(hull, True) / 2 + 1)  # Pick-style pixel hull
    if extent > 0.97:
        return "square"
    if offset > 0.1:
        return "triangle"
    if solidity < 0.85:
        return "cross"
    return "circle" if extent > 0.585 else "diamond"


def solve(img: np.ndarray, p: ScenesParams) -> list[dict]:
    """Groups of identical objects recovered from the pixels: colour, shape, size word, count, centre."""
    bg = np.array(COLORS[p.background])
    assert ((img == bg).all(-1) | np.zeros(img.shape[:2], bool)).any()
    low = 0.6 if p.sizes else 1.0
    base = max(p.obj_size * p.size / max(p.counts) ** 0.5, (7.0 if "cross" in p.shapes else 3.5) / low)  # scene-independent size scale
    objs = []
    covered = (img == bg).all(-1)
    for name, rgb in COLORS.items():
        mask = (img == np.array(rgb)).all(-1)
        if name == p.background or not mask.any():
            continue
        covered |= mask
        n, lab, stats, cents = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        for k in range(1, n):
            m = lab == k
            size = ("large" if stats[k, cv2.CC_STAT_WIDTH] >= 1.6 * base else "small") if p.sizes else ""
            objs.append({"colour": name, "shape": shape_of(m), "size": size, "centre": cents[k][::-1]})
    assert covered.all(), "pixels of no palette colour (anti-aliasing or overlap?)"
    groups: dict[tuple, dict] = {}
    for o in objs:
        g = groups.setdefault((o["colour"], o["shape"], o["size"]), {**o, "count": 0, "cs": []})
        g["count"] += 1
        g["cs"].append(o["centre"])
    for g in groups.values():
        g["centre"] = np.mean(g["cs"], axis=0)
    return list(groups.values())


def rel(a: dict, b: dict) -> str:
    dr, dc = a["centre"] - b["centre"]
    assert abs(abs(dr) - abs(dc)) > 0.5, "relation too close to the diagonal to call"
    if abs(dc) > abs(dr):
        return "left of" if dc < 0 else "right of"
    return "above" if dr < 0 else "below"


def phrase(g: dict) -> str:
    words = [w for w in (g["size"], g["colour"]) if w]
    if g["count"] == 1:
        noun = " ".join(words + [g["shape"]])
        return ("an " if noun[0] in "aeiou" else "a ") + noun
    plural = {v: k for k, v in PLURALS.items()}[g["shape"]]
    return " ".join([NUM[g["count"]]] + words + [plural])


def caption(groups: list[dict], relations) -> str:
    if len(groups) == 1:
        return phrase(groups[0])
    a, b = groups
    r = rel(a, b)
    return f"{phrase(a)} {r} {phrase(b)}" if r in relations else f"{phrase(b)} {INV[r]} {phrase(a)}"


def parse_np(text: str) -> dict:
    out = {}
    for w in text.split():
        if w in ("small", "large"):
            out["size"] = w
        elif w in COLORS:
            out["colour"] = w
        elif w in PLURALS or w in PLURALS.values():
            out["shape"] = PLURALS.get(w, w)
    return out


def find(groups: list[dict], np_text: str, rel_word: str | None = None, other: str | None = None) -> list[dict]:
    want = parse_np(np_text)
    hits = [g for g in groups if all(g[k] == v for k, v in want.items())]
    if rel_word is not None:
        hits = [g for g in hits if any(rel(g, o) == rel_word for o in find(groups, other) if o is not g)]
    return hits


def answer(groups: list[dict], question: str, choices: tuple, relations) -> str:
    """Answer a question from the recovered groups by parsing its words (never reading the generator's meta)."""
    rels = "|".join(INV)
    if m := re.fullmatch(rf"what (color|shape) (?:is|are) the (.+?)(?: ({rels}) the (.+))?\?", question):
        hits = find(groups, m[2], m[3], m[4]) if m[3] else find(groups, m[2])
        assert len(hits) == 1, (question, hits)
        return hits[0]["colour" if m[1] == "color" else "shape"]
    if m := re.fullmatch(r"how many (.+) are there\?", question):
        return NUM[sum(g["count"] for g in find(groups, m[1]) if len(parse_np(m[1])) == 2 + bool(g["size"]))]
    if m := re.fullmatch(r"where (?:is|are) the (.+) relative to the (.+)\?", question):
        a, b = find(groups, m[1]), find(groups, m[2])
        assert len(a) == 1 and len(b) == 1
        return rel(a[0], b[0])
    assert question == "which caption describes the image?"
    return caption(groups, relations)


def check(gen: ScenesFamily, i: int) -> tuple[int | None, str]:
    """Check trial ``i`` against the pixels; return its rung and (verified) answer."""
    t = gen.trial(i)
    p = gen.params_for(i)
    groups = solve(t.image, p)
    assert len(groups) == p.n_objects
    assert caption(groups, p.relations) == t.meta["caption"]
    assert answer(groups, t.question, t.choices, p.relations) == t.answer
    assert len(set(t.choices)) == len(t.choices) and len(t.prompts) == len(t.choices)
    if t.meta["question_type"] == "caption":  # hard negatives are all false for this image
        assert sum(c == caption(groups, p.relations) for c in t.choices) == 1
    return gen.level_for(i), t.answer


CONFIGS = [
    {},
    {"counts": (1, 2, 3), "question": "count"},
    {"sizes": ("small", "large"), "shapes": ("circle", "square", "triangle", "diamond")},
    {"n_objects": 1, "counts": (1, 2, 3, 4)},
    {"shapes": ("circle", "cross", "diamond"), "colors": ("red", "orange", "purple", "yellow"), "size": 96},
    {"relations": ("right of", "below"), "question": "relation"},
    {"question": "caption", "n_caption_choices": 6, "counts": (1, 2)},
]


@pytest.mark.parametrize("kw", CONFIGS)
@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_solver_agrees_every_rung(kw, level):
    gen = stimuli.make("scenes", seed=level, level=level, **kw)
    for i in range(14):
        check(gen, i)


def test_solver_mix_levels_and_sizes():
    for size in (32, 64, 224):
        gen = stimuli.make("scenes", seed=3, size=size, mix_levels=True)
        for i in range(48 if size < 224 else 16):
            check(gen, i)


@pytest.mark.slow
def test_solver_sweep_2000():
    """7 x 320 trials checked against the pixels; in each config every rung occurs, with several answers."""
    for kw in CONFIGS:
        gen = stimuli.make("scenes", seed=11, mix_levels=True, **kw)
        answers: dict[int | None, set[str]] = {}
        for i in range(320):
            level, ans = check(gen, i)
            answers.setdefault(level, set()).add(ans)
        assert set(answers) == set(range(len(gen.ladder))), kw
        assert all(len(a) >= 2 for a in answers.values()), (kw, answers)


# --------------------------------------------------------------------------------------------- protocol
def test_determinism_and_order_independence():
    a, b = stimuli.make("scenes", seed=5), stimuli.make("scenes", seed=5)
    ta = [a.trial(i) for i in range(20)]
    tb = [b.trial(i) for i in reversed(range(20))][::-1]
    for x, y in zip(ta, tb):
        assert x.image.tobytes() == y.image.tobytes()
        assert (x.question, x.choices, x.prompts, x.label, x.meta) == (y.question, y.choices, y.prompts, y.label,
                                                                        y.meta)
    c = stimuli.make("scenes", seed=6)
    assert any(c.trial(i).image.tobytes() != ta[i].image.tobytes() for i in range(5))


@pytest.mark.parametrize("size", [32, 64, 224, 448])
def test_dtype_shape_and_meta(size):
    t = stimuli.make("scenes", size=size).trial(3)
    assert t.image.dtype == np.uint8 and t.image.shape == (size, size, 3)
    assert set(t.meta) >= {"caption", "objects", "question_type", "class_index", "split"}
    for o in t.meta["objects"]:
        assert set(o) >= {"shape", "colour", "size", "half", "centre", "bbox", "group"}
        r0, c0, r1, c1 = o["bbox"]
        assert 0 <= r0 < r1 < size and 0 <= c0 < c1 < size
    assert np.array_equal(render_scene(t.meta["objects"], size), t.image)
    assert caption_of(t.meta["objects"]) == t.meta["caption"]


def test_labels_balanced_per_question():
    for q, n in (("colour", 3), ("shape", 3), ("count", 2), ("relation", 4), ("caption", 4)):
        gen = stimuli.make("scenes", question=q)
        assert gen.n_classes == n
        assert [gen.trial(i).label for i in range(2 * n)] == [i % n for i in range(2 * n)]
    mixed = stimuli.make("scenes")
    types = [mixed.trial(i).meta["question_type"] for i in range(mixed.n_classes)]
    assert sorted(set(types)) == ["caption", "colour", "count", "relation", "shape"]


def test_vocabulary_covers_all_text():
    vocab = set(vocabulary())
    for kw in CONFIGS:
        gen = stimuli.make("scenes", seed=1, mix_levels=True, **kw)
        for i in range(40):
            t = gen.trial(i)
            text = " ".join([t.question, t.meta["caption"], *t.choices, *t.prompts])
            assert set(re.findall(r"[a-z]+|\?", text)) <= vocab, text


def test_caption_classes_and_split():
    classes = caption_classes()
    assert len(classes) == len(set(classes)) == 144
    train, test = caption_split(classes, 0.25, seed=0)
    assert not set(train) & set(test) and len(train) + len(test) == 144 and len(test) == 36
    assert caption_split(classes, 0.25, seed=0) == (train, test)
    for c in test:  # swap pairs are held out together
        a, r, b = re.fullmatch(r"(.+) (left of|above) (.+)", c).groups()
        assert f"{b} {r} {a}" in test
    gen = stimuli.make("scenes", split="train", question="caption")
    seen = set()
    for i in range(120):
        t = gen.trial(i)
        seen.add(t.meta["caption"])
        assert set(t.choices) <= set(train)
        assert classes[t.meta["class_index"]] == t.meta["caption"]
    assert seen <= set(train) and len(seen) > 40
    big = ScenesParams(counts=(1, 2), colors=("red", "green", "blue", "yellow"))
    assert len(caption_classes(big)) == 2 * ((12 * 2) ** 2 - 12 * 2 * 2)  # groups differ in colour or shape


def test_twins():
    gen = stimuli.make("scenes", seed=2, counts=(1, 2))
    p = gen.params
    for i in range(12):
        t = gen.trial(i)
        sw = gen.twin_trial(i, "swap")
        a, r, b = re.fullmatch(r"(.+) (left of|above) (.+)", t.meta["caption"]).groups()
        assert sw.meta["caption"] == f"{b} {r} {a}" == sw.answer
        assert caption(solve(sw.image, p), p.relations) == sw.meta["caption"]
        at = gen.twin_trial(i, "attribute")
        assert at.meta["caption"] != t.meta["caption"]
        assert caption(solve(at.image, p), p.relations) == at.meta["caption"]
        changed = [(x["colour"], x["shape"]) != (y["colour"], y["shape"])
                   for x, y in zip(t.meta["objects"], at.meta["objects"])]
        groups = {o["group"] for o, c in zip(t.meta["objects"], changed) if c}
        assert len(groups) == 1
        assert gen.twin_trial(i, "attribute").image.tobytes() == at.image.tobytes()
    objs = gen.trial(0).meta["objects"]
    assert twin(objs, "attribute", np.random.default_rng(1)) != objs
    with pytest.raises(ValueError):
        twin(objs, "bogus")


@pytest.mark.parametrize("kw, word", [
    ({"size": 32, "counts": (5,)}, "counts"),
    ({"size": 32, "counts": (50,)}, "count"),
    ({"colors": ("red", "mauve")}, "color"),
    ({"colors": ("white", "red")}, "color"),
    ({"relations": ("left of", "right of")}, "relations"),
    ({"n_objects": 1, "question": "relation"}, "question"),
    ({"question": "why"}, "question"),
    ({"sizes": ("small",)}, "sizes"),
    ({"size": 8}, "size"),
    ({"obj_size": 0.9}, "obj_size"),
    ({"nonsense": 1}, "nonsense"),
    ({"split": "test", "holdout_fraction": 0.0, "question": "caption"}, "split"),
])
def test_bad_params(kw, word):
    with pytest.raises(ParamError, match=word):
        stimuli.make("scenes", **kw)
