"""border-ownership-v1: window-identical pairs, owner side recovered from the full image, records and errors."""

import numpy as np
import pytest
from scipy.ndimage import label as cc_label

from preattentive import stimuli
from preattentive.stimuli.base import ParamError, meta_from_json, meta_to_json

FID = "border-ownership-v1"
VARIANTS = ("square", "overlap", "c-shape")


# ------------------------------------------------------------------ independent solver (pixels + window coordinates)
def region(img, seed):
    """Pixels 4-connected to ``seed`` (row, col) through exactly the seed's grey level."""
    labels, _ = cc_label(img == img[seed])
    return labels == labels[seed]


def touches_border(m):
    return bool(m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any())


def is_full_square(m):
    rr, cc = np.nonzero(m)
    h, w = rr.max() - rr.min() + 1, cc.max() - cc.min() + 1
    return h == w and m.sum() == h * w


def solve(t):
    """Which side of the window's edge owns it, read from the whole image and the window's coordinates only."""
    g = t.image[..., 0]
    r0, c0, r1, c1 = t.meta["window"]
    win = g[r0:r1, c0:c1]
    # The window holds exactly one vertical edge: two uniform halves of different grey.
    cols = np.nonzero(np.diff(win.astype(int), axis=1).any(0))[0]
    assert len(cols) == 1, cols
    e = c0 + cols[0] + 1  # first column right of the edge
    left, right = win[:, : e - c0], win[:, e - c0:]
    assert (left == left[0, 0]).all() and (right == right[0, 0]).all() and left[0, 0] != right[0, 0]
    rc = (r0 + r1) // 2
    sides = {"left": region(g, (rc, e - 1)), "right": region(g, (rc, e))}
    if t.meta["variant"] == "overlap":
        # Occlusion: the front square's visible region is a whole square; the back one is notched (an L).
        front = [s for s, m in sides.items() if is_full_square(m) and not touches_border(m)]
        assert len(front) == 1 and not is_full_square(sides[{"left": "right", "right": "left"}[front[0]]])
        return front[0]
    # A figure is the closed region; the ground (also the C's notch, which opens outwards) reaches the border.
    owners = [s for s, m in sides.items() if not touches_border(m)]
    assert len(owners) == 1, owners
    return owners[0]


def check_pairs(gen, n_pairs, start_pair=0):
    """Solve every trial and check each pair's window is identical while ownership differs; return mistakes."""
    wrong = []
    for k in range(start_pair, start_pair + n_pairs):
        a, b = gen.trial(2 * k), gen.trial(2 * k + 1)
        r0, c0, r1, c1 = a.meta["window"]
        assert a.meta["window"] == b.meta["window"] and a.meta["pair_id"] == b.meta["pair_id"] == k
        assert (a.image[r0:r1, c0:c1] == b.image[r0:r1, c0:c1]).all()
        assert (a.image != b.image).any()
        for t in (a, b):
            if solve(t) != t.answer:
                wrong.append((t.index, t.answer))
        assert (a.answer, b.answer) == ("left", "right")
    return wrong


# ------------------------------------------------------------------ label correctness
@pytest.mark.parametrize("variant", VARIANTS)
def test_pairs_identical_in_window_and_owner_recovered_at_every_rung(variant):
    wrong = []
    for level in range(5):
        wrong += check_pairs(stimuli.make(FID, seed=61, variant=variant, level=level), 25)
    for size in (32, 224):
        wrong += check_pairs(stimuli.make(FID, seed=62, size=size, variant=variant, mix_levels=True), 10)
    assert wrong == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_figure_and_window_in_px_for_physiology(variant):
    """figure_px / window_px fix the region a pair shares in px (receptive fields have px sizes): labels still
    solve, the window is identical, and the pair's identical pixels hold a square as large as the figure side."""
    wrong = []
    for size, fig_px in ((32, 12), (64, 24), (64, 18)):
        gen = stimuli.make(FID, seed=63, size=size, variant=variant, figure_px=fig_px, window_px=6, mix_levels=True)
        wrong += check_pairs(gen, 10)
        a, b = gen.trial(0), gen.trial(1)
        r0, c0, r1, c1 = a.meta["window"]
        assert (r1 - r0, c1 - c0) == (6, 6) and a.difficulty["figure_size"] == round(fig_px / size, 4)
        if variant == "square":
            same = (a.image == b.image).all(-1)
            fr0, fc0, fr1, fc1 = a.meta["figures"][0]
            assert fr1 - fr0 == fig_px and same[fr0:fr1, c0 - fig_px // 2:c0 + fig_px // 2].all()
    assert wrong == []
    # unset, the fractions decide, exactly as before
    plain = stimuli.make(FID, seed=63, size=32, variant=variant).trial(5)
    same = stimuli.make(FID, seed=63, size=32, variant=variant, figure_px=None, window_px=None).trial(5)
    assert (plain.image == same.image).all() and plain.difficulty == same.difficulty


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_large_sweep(variant):
    """>= 2000 trials per variant (6000+ for the family) over every rung at 64, 32 and 100 px."""
    wrong = []
    for level in range(5):
        wrong += check_pairs(stimuli.make(FID, seed=71, variant=variant, level=level), 160)
        wrong += check_pairs(stimuli.make(FID, seed=72, size=32, variant=variant, level=level), 30)
        wrong += check_pairs(stimuli.make(FID, seed=73, size=100, variant=variant, level=level), 20)
    assert wrong == []


def test_four_conditions_side_by_polarity_are_all_present_and_balanced():
    gen = stimuli.make(FID, seed=3, mix_levels=True)
    counts = {}
    for i in range(400):
        t = gen.trial(i)
        key = (t.meta["owner_side"], t.meta["polarity"])
        counts[key] = counts.get(key, 0) + 1
        g = t.meta["greys"]
        assert t.meta["polarity"] == ("light-figure" if g["figure"] > g["ground"] else "dark-figure")
    assert len(counts) == 4 and min(counts.values()) >= 70  # 100 expected each
    gen = stimuli.make(FID, seed=3, variant="overlap")
    pols = {gen.trial(i).meta["polarity"] for i in range(40)}
    assert pols == {"light-front", "dark-front"}


def test_figure_geometry_in_meta_matches_the_pixels():
    for variant in VARIANTS:
        gen = stimuli.make(FID, seed=4, variant=variant, size=80, mix_levels=True)
        for i in range(10):
            t = gen.trial(i)
            g = t.image[..., 0]
            r0, c0, r1, c1 = t.meta["figures"][0]
            if variant == "overlap":
                assert (g[r0:r1, c0:c1] == t.meta["greys"]["front"]).all()
            else:
                assert (g[r0:r1, c0:c1] == t.meta["greys"]["figure"]).mean() > (0.55 if variant == "c-shape" else 0.999)
            assert r1 - r0 == c1 - c0 == round(t.difficulty["figure_size"] * 80)
            edge = t.meta["edge_col"]
            if variant != "c-shape":  # the square (front square) ends at the edge on the owner's side
                assert (c1 if t.answer == "left" else c0) == edge


# ------------------------------------------------------------------ record contract
@pytest.mark.parametrize("variant", VARIANTS)
def test_deterministic_and_independent_of_order(variant):
    a = stimuli.make(FID, seed=5, variant=variant, mix_levels=True)
    b = stimuli.make(FID, seed=5, variant=variant, mix_levels=True)
    idx = [9, 0, 17, 4, 13, 8]
    first = {i: a.trial(i) for i in sorted(idx)}
    for i in idx:  # any order, fresh generator, a pair's second item alone: same bytes
        t = b.trial(i)
        assert t.image.tobytes() == first[i].image.tobytes() and t.label == first[i].label
        assert meta_to_json(t.meta) == meta_to_json(first[i].meta)
    c = stimuli.make(FID, seed=6, variant=variant, mix_levels=True)
    assert any(c.trial(i).image.tobytes() != first[i].image.tobytes() for i in idx)


@pytest.mark.parametrize("size", [32, 64, 101, 224, 448])
def test_record_shape_range_and_meta(size):
    for variant in VARIANTS:
        gen = stimuli.make(FID, seed=1, size=size, variant=variant)
        for i in range(4):
            t = gen.trial(i)
            assert t.image.dtype == np.uint8 and t.image.shape == (size, size, 3)
            assert t.label == i % 2 and t.answer == ("left", "right")[i % 2] == t.meta["owner_side"]
            assert t.choices == ("left", "right") and len(t.prompts) == 2 and t.question.endswith("?")
            r0, c0, r1, c1 = t.meta["window"]
            assert 0 <= r0 < r1 <= size and 0 <= c0 < c1 <= size and r1 - r0 == c1 - c0 >= 4
            assert meta_from_json(meta_to_json(t.meta)) == t.meta
            assert set(t.difficulty) == set(gen.difficulty_keys)


def test_every_rung_and_mix_levels():
    cls = stimuli.get(FID)
    assert len(cls.ladder) >= 4
    for level, rung in enumerate(cls.ladder):
        t = stimuli.make(FID, seed=0, level=level).trial(0)
        assert t.difficulty == rung
    mixed = stimuli.make(FID, seed=0, mix_levels=True)
    got = [mixed.trial(i).difficulty for i in range(2 * len(cls.ladder))]
    assert got == [dict(r) for r in cls.ladder for _ in range(2)]
    for a, b in zip(cls.ladder, cls.ladder[1:]):
        assert b["figure_size"] >= a["figure_size"] and b["contrast"] <= a["contrast"]


@pytest.mark.parametrize("kwargs, needle", [
    ({"variant": "triangle"}, "variant='triangle'"),
    ({"size": 24}, "size=24"),
    ({"figure_size": 0.6}, "figure_size=0.6"),
    ({"contrast": 0.0}, "contrast=0.0"),
    ({"window": 0.5}, "window=0.5"),
    ({"variant": "overlap", "contrast": 0.7}, "contrast=0.7"),
    ({"variant": "c-shape", "figure_size": 0.15}, "figure_size=0.15"),
    ({"size": 32, "figure_px": 20}, "figure_px=20"),
    ({"size": 32, "window_px": 2}, "window_px=2"),
    ({"size": 32, "figure_px": 6, "window_px": 8}, "figure_px=6"),
])
def test_bad_params_raise_one_line_errors(kwargs, needle):
    with pytest.raises(ParamError, match=needle) as e:
        stimuli.make(FID, **kwargs)
    assert "\n" not in str(e.value) and "expected" in str(e.value)
