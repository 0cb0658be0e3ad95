"""visual-search-v1: determinism, parameters, and target presence re-detected from the pixels."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from preattentive import stimuli
from preattentive.stimuli import ParamError
from preattentive.stimuli.render import COLORS
from preattentive.stimuli.search import VisualSearchFamily


def orientation(mask: np.ndarray) -> float:
    """Orientation of a bar from its second image moments, degrees counter-clockwise from horizontal, [0, 180)."""
    m = cv2.moments(mask.astype(np.uint8), binaryImage=True)
    theta = 0.5 * np.degrees(np.arctan2(2 * m["mu11"], m["mu20"] - m["mu02"]))  # image axes: y points down
    return float(-theta % 180.0)


def is_tee(mask: np.ndarray) -> bool:
    """A T: the stem meets the bar's middle. Turn the bar (the fullest box side) to the top, then find the
    stem's centre on the far side."""
    ys, xs = np.nonzero(mask)
    crop = mask[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    sides = [crop[0].mean(), crop[:, -1].mean(), crop[-1].mean(), crop[:, 0].mean()]  # top, right, bottom, left
    crop = np.rot90(crop, int(np.argmax(sides)))  # bar on top
    cols = np.nonzero(crop[-1])[0]
    return abs(cols.mean() - (crop.shape[1] - 1) / 2) < 1.0


def items_from_pixels(img: np.ndarray, background: str) -> list[dict]:
    """Every single-colour 8-connected region (the gray fixation cross excluded) with colour and geometry."""
    out = []
    for name, rgb in COLORS.items():
        if name in (background, "gray"):
            continue
        mask = (img == np.array(rgb)).all(-1)
        if not mask.any():
            continue
        n, lab, stats, cents = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        for k in range(1, n):
            m = lab == k
            out.append({"colour": name, "mask": m, "centre": cents[k][::-1],
                        "angle": orientation(m), "tee": None})
    return out


def angle_close(a: float, b: float, tol: float = 8.0) -> bool:
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d) < tol


def present(items: list[dict], question: str) -> list[dict]:
    """The items matching the question's target, read from the question's words."""
    if question == "is there a T?":
        return [it for it in items if is_tee(it["mask"])]
    if question == "is there a vertical bar?":
        return [it for it in items if angle_close(it["angle"], 90.0)]
    m = re.fullmatch(r"is there a (\w+)(?: (vertical|horizontal))? bar\?", question)
    assert m, question
    hits = [it for it in items if it["colour"] == m[1]]
    if m[2]:
        hits = [it for it in hits if angle_close(it["angle"], 90.0 if m[2] == "vertical" else 0.0)]
    return hits


def check(gen: VisualSearchFamily, i: int) -> tuple[int | None, str]:
    """Check trial ``i`` against the pixels; return its rung and (verified) answer."""
    t = gen.trial(i)
    p = gen.params_for(i)
    items = items_from_pixels(t.image, p.background)
    assert len(items) == len(t.meta["items"])  # every item separate, nothing else drawn
    hits = present(items, t.question)
    assert t.label == int(bool(hits)) and t.answer == ("yes" if hits else "no")
    assert len(hits) <= 1
    if hits:  # the solver's target is where meta says
        r, c = np.round(t.meta["items"][t.meta["target_index"]]["centre"]).astype(int)
        assert hits[0]["mask"][r, c]
    else:
        assert t.meta["target_index"] is None
    assert gen.queries[t.meta["query_id"]] == t.question
    if p.mode == "crowding":  # Bouma geometry: flankers at spacing x eccentricity from the target
        fr, fc = t.meta["fixation"]
        centres = [it["centre"] for it in t.meta["items"]]
        ecc = np.hypot(centres[0][0] - fr, centres[0][1] - fc)
        assert abs(ecc - t.meta["eccentricity"]) < 1e-6
        for c in centres[1:]:
            assert abs(np.hypot(c[0] - centres[0][0], c[1] - centres[0][1]) - t.meta["spacing_px"]) < 1e-6
        assert abs(t.meta["spacing_px"] / ecc - p.spacing) < 0.05
    return gen.level_for(i), t.answer


MODES = [{"mode": "feature"}, {"mode": "feature", "feature": "orientation"}, {"mode": "conjunction"},
         {"mode": "conjunction", "target": "mixed"}, {"mode": "feature", "target": "mixed"},
         {"mode": "spatial"}, {"mode": "crowding"}, {"mode": "crowding", "flankers": 4}]


@pytest.mark.parametrize("kw", MODES)
@pytest.mark.parametrize("level", range(4))
def test_solver_agrees_every_rung(kw, level):
    gen = stimuli.make("visual-search", seed=level, level=level, **kw)
    for i in range(12):
        check(gen, i)


@pytest.mark.parametrize("size", [32, 96, 224])
def test_solver_sizes_mix_levels(size):
    modes = MODES[:6] if size == 32 else MODES  # crowding needs room: checked in test_bad_params
    for kw in modes:
        kw = dict(kw, set_size=4) if size == 32 else kw
        gen = stimuli.make("visual-search", seed=3, size=size, mix_levels=size > 32, **kw)
        for i in range(16 if size < 224 else 4):
            check(gen, i)


@pytest.mark.slow
def test_solver_sweep_2000():
    """8 x 260 trials checked against the pixels; in each mode every rung occurs, with both answers."""
    for kw in MODES:
        gen = stimuli.make("visual-search", seed=21, mix_levels=True, **kw)
        answers: dict[int | None, set[str]] = {}
        for i in range(260):
            level, ans = check(gen, i)
            answers.setdefault(level, set()).add(ans)
        assert set(answers) == set(range(len(gen.ladder))), kw
        assert all(a == {"yes", "no"} for a in answers.values()), (kw, answers)


def test_determinism_order_balance_and_meta():
    a = stimuli.make("visual-search", seed=4, mode="conjunction", target="mixed", level=2)
    b = stimuli.make("visual-search", seed=4, mode="conjunction", target="mixed", level=2)
    ta = [a.trial(i) for i in range(10)]
    tb = [b.trial(i) for i in reversed(range(10))][::-1]
    for x, y in zip(ta, tb):
        assert x.image.tobytes() == y.image.tobytes() and x.meta == y.meta and x.question == y.question
    assert [t.label for t in ta] == [i % 2 for i in range(10)]
    assert len({t.meta["query_id"] for t in ta}) > 1  # the target varies, so does the query
    t = ta[1]
    assert t.choices == ("no", "yes") and len(t.prompts) == 2 and t.meta["items"][t.meta["target_index"]]["is_target"]
    assert set(t.meta["items"][0]) >= {"kind", "colour", "centre", "half", "angle", "offset", "is_target"}
    assert stimuli.make("visual-search", seed=5, mode="conjunction", target="mixed",
                        level=2).trial(0).image.tobytes() != ta[0].image.tobytes()


def test_similarity_and_set_size_act():
    easy = stimuli.make("visual-search", seed=1, mode="feature", feature="orientation", level=0).trial(0)
    hard = stimuli.make("visual-search", seed=1, mode="feature", feature="orientation", level=3).trial(0)
    tilt = lambda t: {round(it["angle"]) % 180 for it in t.meta["items"]}  # noqa: E731
    assert tilt(easy) == {0} and tilt(hard) <= {58, 122}  # 90 deg x (1 - 0.8 x similarity 0.8) from vertical
    assert len(easy.meta["items"]) == 4 and len(hard.meta["items"]) == 16


@pytest.mark.parametrize("kw, word", [
    ({"size": 32, "set_size": 50}, "set_size"),
    ({"set_size": 100}, "set_size"),
    ({"mode": "crowding", "size": 32}, "size >="),
    ({"mode": "parallel"}, "mode"),
    ({"feature": "size"}, "feature"),
    ({"colors": ("red",)}, "colors"),
    ({"colors": ("red", "black")}, "color"),
    ({"spacing": 1.5}, "spacing"),
    ({"flankers": 3}, "flankers"),
    ({"similarity": 2}, "similarity"),
])
def test_bad_params(kw, word):
    with pytest.raises(ParamError, match=word):
        stimuli.make("visual-search", **kw)
