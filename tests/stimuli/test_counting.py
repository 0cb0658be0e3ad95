"""counting-v1 and -v2: determinism, parameters, and counts recovered from the pixels by connected components."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest

from preattentive import stimuli
from preattentive.stimuli import ParamError
from preattentive.stimuli.counting import CountingFamily
from preattentive.stimuli.render import COLORS

NUM = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")


def shape_of(mask: np.ndarray) -> str:
    """Shape from component geometry only: extent (area / box), centroid offset (triangles sit low)."""
    ys, xs = np.nonzero(mask)
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    extent = len(ys) / (h * w)
    if extent > 0.97:
        return "square"
    if (ys.mean() - (ys.min() + ys.max()) / 2) / h > 0.1:
        return "triangle"
    return "circle" if extent > 0.585 else "diamond"


def components(img: np.ndarray, background: str) -> list[tuple[str, str, bool]]:
    """(colour, shape, unoccluded) of every 8-connected single-colour region; all pixels are palette colours."""
    bg = (img == np.array(COLORS[background])).all(-1)
    out, covered = [], bg.copy()
    for name, rgb in COLORS.items():
        mask = (img == np.array(rgb)).all(-1)
        if name == background or not mask.any():
            continue
        covered |= mask
        n, lab = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        for k in range(1, n):
            m = lab == k
            ring = cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~m
            out.append((name, shape_of(m), bool(bg[ring].all())))
    assert covered.all(), "pixels outside the palette"
    return out


def solve(img: np.ndarray, question: str, p, objects: list[dict]) -> int:
    """The count asked by the question, from the image alone."""
    noun = question.removeprefix("how many ").removesuffix(" are there?")
    comps = components(img, p.background)
    if noun == "objects":
        return len(comps)
    target = noun[:-1]
    if p.overlap == 0:
        return sum(s == target for _, s, _ in comps)
    # Overlap (colour_mode "class": one colour per class, same colours never touch): each region is one
    # object; a colour's class is the majority shape of its unoccluded regions (those touching no other
    # colour). Only when every region of a colour is occluded does the solver read that colour's class from
    # the object attributes in meta.
    by_colour: dict[str, list[str]] = {}
    for c, s, clear in comps:
        by_colour.setdefault(c, []).append(s if clear else None)
    count = 0
    for c, v in by_colour.items():
        clear = [s for s in v if s is not None]
        cls = Counter(clear).most_common(1)[0][0] if clear else {o["colour"]: o["shape"] for o in objects}[c]
        count += len(v) * (cls == target)
    return count


def check(gen: CountingFamily, i: int) -> tuple[int | None, str]:
    """Check trial ``i`` against the pixels; return its rung and (verified) answer."""
    t = gen.trial(i)
    p = gen.params_for(i)
    n = solve(t.image, t.question, p, t.meta["objects"])
    assert t.answer == NUM[n] and t.label == n - p.n_min
    assert gen.queries[t.meta["query_id"]] == t.question
    assert len(components(t.image, p.background)) == len(t.meta["objects"])  # nothing merged or split
    return gen.level_for(i), t.answer


@pytest.mark.parametrize("fid", ["counting-v1", "counting-v2"])
@pytest.mark.parametrize("query", ["circle", "mixed", "objects"])
@pytest.mark.parametrize("level", range(5))
def test_solver_agrees_every_rung(query, level, fid):
    gen = stimuli.make(fid, seed=level, level=level, query=query)
    for i in range(20):
        check(gen, i)


@pytest.mark.parametrize("size", [32, 64, 224])
def test_solver_sizes_and_mix_levels(size):
    # 32 px has no room for distractors large enough to read their shape: count all objects there.
    kw = {"n_max": 7, "query": "objects"} if size == 32 else {"query": "mixed"}
    gen = stimuli.make("counting", seed=1, size=size, mix_levels=True, **kw)
    for i in range(40 if size < 224 else 15):
        check(gen, i)


def test_overlap_occurs_and_distractors_share_colour():
    gen = stimuli.make("counting", seed=2, level=4, n_min=4)
    overlapping = 0
    for i in range(30):
        objs = gen.trial(i).meta["objects"]
        c = np.array([o["centre"] for o in objs])
        h = np.array([o["half"] for o in objs])
        d = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1))
        overlapping += bool((d < 0.95 * (h[:, None] + h[None]))[np.triu_indices(len(objs), 1)].any())
    assert overlapping >= 5
    gen = stimuli.make("counting", seed=2, level=2, n_min=3)
    same, p = gen.trial(5), gen.params_for(5)
    assert len({o["colour"] for o in same.meta["objects"]}) == 1
    n = solve(same.image, same.question, p, same.meta["objects"])  # targets, read from the pixels
    assert same.meta["n_distractors"] == len(components(same.image, p.background)) - n > 0


@pytest.mark.slow
def test_solver_sweep_2000():
    """4 x 550 trials checked against the pixels; in each query every rung occurs, with several counts."""
    for query in ("circle", "mixed", "objects", "square"):
        gen = stimuli.make("counting", seed=9, mix_levels=True, query=query, n_min=0)
        answers: dict[int | None, set[str]] = {}
        for i in range(550):
            level, ans = check(gen, i)
            answers.setdefault(level, set()).add(ans)
        assert set(answers) == set(range(len(gen.ladder))), query
        assert all(len(a) >= 3 for a in answers.values()), (query, answers)


def test_determinism_order_and_balance():
    a, b = stimuli.make("counting", seed=4, level=3), stimuli.make("counting", seed=4, level=3)
    ta = [a.trial(i) for i in range(12)]
    tb = [b.trial(i) for i in reversed(range(12))][::-1]
    for x, y in zip(ta, tb):
        assert x.image.tobytes() == y.image.tobytes() and x.meta == y.meta and x.question == y.question
    assert [t.label for t in ta] == [i % 10 for i in range(12)]
    assert ta[0].choices == tuple(NUM[1:11]) and len(ta[0].prompts) == 10 and ta[0].prompts[2] == "three circles"
    assert stimuli.make("counting", seed=5, level=3).trial(0).image.tobytes() != ta[0].image.tobytes()


@pytest.mark.parametrize("size", [32, 64, 224, 448])
def test_dtype_shape_meta(size):
    t = stimuli.make("counting", size=size, n_max=5).trial(4)
    assert t.image.dtype == np.uint8 and t.image.shape == (size, size, 3)
    assert set(t.meta) >= {"objects", "count", "target", "query_id"}
    assert sum(o["counted"] for o in t.meta["objects"]) == t.meta["count"] == 5
    for o in t.meta["objects"]:
        assert set(o) >= {"shape", "colour", "centre", "half", "bbox", "counted"}


@pytest.mark.parametrize("kw, word", [
    ({"size": 32, "n_max": 20, "distractors": 30}, "do not fit"),
    ({"n_max": 50}, "n_max"),
    ({"n_min": 5, "n_max": 5}, "n_max"),
    ({"query": "hexagon"}, "query"),
    ({"query": "diamond"}, "query"),
    ({"overlap": 0.3, "color_mode": "one"}, "overlap"),
    ({"shapes": ("circle",), "distractors": 2}, "distractors"),
    ({"colors": ("red", "blue")}, "colors"),
    ({"size": 0}, "size"),
    ({"level": 9}, "level"),
])
def test_bad_params(kw, word):
    with pytest.raises(ParamError, match=word):
        stimuli.make("counting", **kw)
