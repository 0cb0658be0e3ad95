"""figure-ground-v1: records, determinism, honest textures, physiology pairs, and labels recovered from pixels."""

import numpy as np
import pytest
from scipy.ndimage import binary_dilation, binary_erosion, map_coordinates

from preattentive import stimuli
from preattentive.stimuli.base import ParamError, meta_from_json, meta_to_json

FID = "figure-ground-v1"
SHAPES = ("circle", "square", "triangle", "diamond")
QUADRANTS = ("top left", "bottom right", "top right", "bottom left")


# ------------------------------------------------------------------ independent solver (pixels + meta coordinates)
def segment_orientations(t):
    """Per texture element (meta["segments"] centres): True when its ink runs at 90 - c/2 deg (rising right).

    An oriented line filter: the ink summed along a short line through the centre at each of the two texture
    orientations (90 -+ c/2 deg, c = the trial's orientation contrast); the larger wins.
    """
    ink = 255.0 - t.image[..., 0].astype(np.float64)
    pts = t.meta["segments"].astype(np.float64)
    half = 0.35 * t.difficulty["length"] * t.meta["spacing"]  # px: the middle of the segment, clear of neighbours
    s = np.linspace(-half, half, 7)
    c = t.difficulty["orientation_contrast"]
    sums = []
    for th in np.deg2rad([90 - c / 2, 90 + c / 2]):
        p = pts[:, None, :] + s[None, :, None] * np.array([-np.sin(th), np.cos(th)])  # (N, 7, 2) (row, col)
        v = map_coordinates(ink, [p[..., 0].ravel(), p[..., 1].ravel()], order=1, mode="constant")
        sums.append(v.reshape(p.shape[:2]).sum(1))
    return sums[0] > sums[1]


def figure_segments(t):
    """The minority orientation's segments (the figure; none when the texture is homogeneous)."""
    a = segment_orientations(t)
    return a if a.sum() < (~a).sum() else ~a


def inside(shape, center, d, pts):
    """Membership of points in the equal-area shape of diameter d (a circle's), re-derived with numpy."""
    r, c = pts[:, 0] - center[0], pts[:, 1] - center[1]
    a = np.sqrt(np.pi) / 2 * d
    if shape == "circle":
        return r ** 2 + c ** 2 <= (d / 2) ** 2
    if shape == "square":
        return (np.abs(r) <= a / 2) & (np.abs(c) <= a / 2)
    if shape == "diamond":
        return np.abs(r) + np.abs(c) <= a / np.sqrt(2)
    t = np.sqrt(np.pi / np.sqrt(3)) * d
    h = t * np.sqrt(3) / 2
    return (r <= h / 2) & (np.abs(c) <= (r + h / 2) / np.sqrt(3))


def solve(t, task):
    fig = figure_segments(t)
    pts = t.meta["segments"].astype(np.float64)
    if task == "presence":
        return "yes" if fig.any() else "no"
    if task == "location":
        size = t.image.shape[0]
        r, c = pts[fig].mean(0) > (size - 1) / 2
        return {(0, 0): "top left", (1, 1): "bottom right", (0, 1): "top right", (1, 0): "bottom left"}[(int(r), int(c))]
    ham = [np.sum(fig != inside(s, t.meta["center"], t.meta["diameter"], pts)) for s in SHAPES]
    return SHAPES[int(np.argmin(ham))]


def check_mask(t):
    """The meta mask agrees with the figure segments read from the pixels (up to centres on its border)."""
    mask = t.meta["mask"]
    size = mask.shape[0]
    fig = figure_segments(t)
    idx = np.clip(np.rint(t.meta["segments"]).astype(int), 0, size - 1)
    in_mask = mask[idx[:, 0], idx[:, 1]]
    ring = np.ones((3, 3), bool)
    border = binary_dilation(mask, ring) & ~binary_erosion(mask, ring)  # pixels within one step of the contour
    bad = (fig != in_mask) & ~border[idx[:, 0], idx[:, 1]]
    return int(bad.sum())


def check_trials(gen, n, start=0):
    task = gen.params.task
    wrong = []
    for i in range(start, start + n):
        t = gen.trial(i)
        got = solve(t, task)
        if got != t.answer or check_mask(t):
            wrong.append((i, t.answer, got))
        assert t.meta["present"] == bool(t.meta["mask"].any())
    return wrong


# ------------------------------------------------------------------ label correctness
@pytest.mark.parametrize("task", ["presence", "location", "shape"])
def test_labels_recovered_from_pixels_at_every_rung(task):
    """Zero errors: 5 rungs x 40 trials at 64 px, plus mixed levels at 32 px (presence/location) and 224 px."""
    wrong = []
    for level in range(5):
        wrong += check_trials(stimuli.make(FID, seed=41, task=task, level=level), 40)
    small = {"presence": 32, "location": 48, "shape": 64}[task]  # smallest size whose every rung fits the task
    wrong += check_trials(stimuli.make(FID, seed=42, size=small, task=task, mix_levels=True), 40)
    wrong += check_trials(stimuli.make(FID, seed=43, size=224, task=task, mix_levels=True), 12)
    assert wrong == []


@pytest.mark.parametrize("task", ["presence", "location", "shape"])
def test_figure_px_sets_the_shared_texture_in_px(task):
    """figure_px (px, for physiology) replaces figure_size x size: labels still solve from the pixels, and a
    presence pair's shared segments grow with it."""
    size = {"presence": 32, "location": 64, "shape": 64}[task]
    px = {"presence": 16.0, "location": 16.0, "shape": 30.0}[task]
    gen = stimuli.make(FID, seed=44, size=size, task=task, figure_px=px, mix_levels=True)
    assert check_trials(gen, 30) == []
    assert gen.trial(3).meta["diameter"] == px
    if task == "presence":
        small, big = (stimuli.make(FID, seed=45, size=32, figure_px=d) for d in (10.0, 19.0))
        shared = [int(sum((g.trial(2 * k).image == g.trial(2 * k + 1).image).all(-1).sum() for k in range(6)))
                  for g in (small, big)]
        assert shared[1] > shared[0]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["presence", "location", "shape"])
def test_labels_recovered_large_sweep(task):
    """>= 2000 trials per task over every rung (6000+ for the family), at 64, 32 and 128 px."""
    wrong = []
    for level in range(5):
        wrong += check_trials(stimuli.make(FID, seed=51, task=task, level=level), 320)
        small = {"presence": 32, "location": 48, "shape": 64}[task]
        wrong += check_trials(stimuli.make(FID, seed=52, size=small, task=task, level=level), 80)
        wrong += check_trials(stimuli.make(FID, seed=53, size=128, task=task, level=level), 40)
    assert wrong == []


# ------------------------------------------------------------------ design properties
def test_texture_is_honest_same_density_and_luminance_inside_and_out():
    """Figure pixels are not brighter/darker than ground pixels, and every cell holds one segment."""
    gen = stimuli.make(FID, seed=7, size=128)
    diffs, inks = [], []
    for i in range(1, 121, 2):  # the figure-present half
        t = gen.trial(i)
        m, g = t.meta["mask"], 255.0 - t.image[..., 0].astype(float)
        diffs.append(g[m].mean() - g[~m].mean())
        inks.append(g.mean())
        n = t.meta["cells"]
        assert len(t.meta["segments"]) == n * n
        cells = np.floor((t.meta["segments"] + 0.5) / t.meta["spacing"]).astype(int)  # jitter < half a cell
        assert len({tuple(c) for c in cells}) == n * n
    # Measured at 128 px: mean ink 83 grey levels; figure - ground +0.2 on average, at most 5.0 in one trial.
    assert abs(np.mean(diffs)) < 0.02 * np.mean(inks)
    assert np.max(np.abs(diffs)) < 0.1 * np.mean(inks)


def test_presence_pairs_give_identical_segments_as_figure_and_as_ground():
    gen = stimuli.make(FID, seed=8, level=2)
    for k in range(10):
        absent, present = gen.trial(2 * k), gen.trial(2 * k + 1)
        assert (absent.label, present.label) == (0, 1)
        assert absent.meta["pair_id"] == present.meta["pair_id"] == k
        assert absent.meta["condition"] == "homogeneous" and present.meta["condition"] in ("standard", "swapped")
        assert not absent.meta["mask"].any() and absent.meta["probes"] == present.meta["probes"]
        assert absent.meta["ground_orientation"] == present.meta["figure_orientation"]
        core = binary_erosion(present.meta["mask"], iterations=int(np.ceil(present.meta["spacing"])))
        assert core.any()
        assert (absent.image[core] == present.image[core]).all()  # same pixels: figure here, ground there
        r, c = present.meta["probes"]["center"]
        assert core[r, c]


def test_location_pairs_swap_orientations_so_a_figure_site_becomes_ground():
    gen = stimuli.make(FID, seed=9, task="location", level=1)
    for k in range(8):
        a, b = gen.trial(2 * k), gen.trial(2 * k + 1)
        assert a.meta["quadrant"] != b.meta["quadrant"]
        assert {a.meta["condition"], b.meta["condition"]} == {"standard", "swapped"}
        assert a.meta["figure_orientation"] == b.meta["ground_orientation"]
        sp = int(np.ceil(a.meta["spacing"]))
        site = binary_erosion(a.meta["mask"], iterations=sp) & ~binary_dilation(b.meta["mask"], iterations=2 * sp)
        assert site.any()
        assert (a.image[site] == b.image[site]).all()  # figure in a, ground of the same orientation in b
        r, c = a.meta["probes"]["center"]
        assert a.meta["mask"][r, c] and not b.meta["mask"][r, c]


def test_probes_sit_at_centre_edge_and_ground():
    gen = stimuli.make(FID, seed=10, task="shape", mix_levels=True)
    for i in range(12):
        t = gen.trial(i)
        m, pr = t.meta["mask"], t.meta["probes"]
        assert m[tuple(pr["center"])] and not m[tuple(pr["ground"])]
        r, c = pr["edge"]
        assert m[r, c] and not m[r, c - 1]  # the figure's leftmost pixel on the centre row
        gr, gc = pr["ground"]
        rr, cc = np.nonzero(m)
        assert np.min(np.hypot(rr - gr, cc - gc)) >= t.meta["spacing"]
        r0, c0, r1, c1 = t.meta["bbox"]
        assert (rr.min(), cc.min(), rr.max() + 1, cc.max() + 1) == (r0, c0, r1, c1)


def test_condition_matches_the_orientation_seen_in_the_pixels():
    gen = stimuli.make(FID, seed=11, task="location", level=0)
    for i in range(8):
        t = gen.trial(i)
        a = segment_orientations(t)  # True: 45 deg segments
        fig = figure_segments(t)
        fig_is_45 = bool(a[fig].all())
        assert fig_is_45 == (t.meta["condition"] == "swapped") == (t.meta["figure_orientation"] == 45.0)


# ------------------------------------------------------------------ record contract
@pytest.mark.parametrize("task", ["presence", "location", "shape"])
def test_deterministic_and_independent_of_order(task):
    a = stimuli.make(FID, seed=5, task=task, mix_levels=True)
    b = stimuli.make(FID, seed=5, task=task, mix_levels=True)
    idx = [9, 0, 17, 4, 13]
    first = {i: a.trial(i) for i in sorted(idx)}
    for i in idx:
        t = b.trial(i)
        assert t.image.tobytes() == first[i].image.tobytes() and t.label == first[i].label
        assert meta_to_json(t.meta) == meta_to_json(first[i].meta)
    c = stimuli.make(FID, seed=6, task=task, mix_levels=True)
    assert all(c.trial(i).image.tobytes() != first[i].image.tobytes() for i in idx)


@pytest.mark.parametrize("size", [32, 64, 100, 224, 448])
def test_record_shape_range_labels_and_meta(size):
    for task, n in (("presence", 2), ("location", 4), ("shape", 4)):
        if task != "presence" and size < 48:
            continue
        gen = stimuli.make(FID, seed=1, size=size, task=task)
        assert gen.n_classes == n
        for i in range(n):
            t = gen.trial(i)
            assert t.image.dtype == np.uint8 and t.image.shape == (size, size, 3)
            assert t.image.min() < t.image.max() and t.label == i % n and len(t.prompts) == n
            m = t.meta["mask"]
            assert m.dtype == bool and m.shape == (size, size)
            back = meta_from_json(meta_to_json(t.meta))
            assert (back["mask"] == m).all() and (back["segments"] == t.meta["segments"]).all()
            assert set(t.difficulty) == set(gen.difficulty_keys)


def test_every_rung_and_mix_levels():
    cls = stimuli.get(FID)
    assert len(cls.ladder) >= 4
    for level, rung in enumerate(cls.ladder):
        t = stimuli.make(FID, seed=0, level=level).trial(3)
        assert all(t.difficulty[k] == v for k, v in rung.items())
    mixed = stimuli.make(FID, seed=0, mix_levels=True, task="location")
    got = [mixed.trial(i).difficulty["figure_size"] for i in range(4 * len(cls.ladder))]
    assert got == [r["figure_size"] for r in cls.ladder for _ in range(4)]
    for a, b in zip(cls.ladder, cls.ladder[1:]):
        assert b["figure_size"] <= a["figure_size"] and b["orientation_contrast"] <= a["orientation_contrast"]
        assert b["jitter"] >= a["jitter"] and b["orientation_jitter"] >= a["orientation_jitter"]


@pytest.mark.parametrize("kwargs, needle", [
    ({"task": "count"}, "task='count'"),
    ({"shape": "star"}, "shape='star'"),
    ({"size": 20}, "size=20"),
    ({"figure_size": 0.8}, "figure_size=0.8"),
    ({"orientation_contrast": 5}, "orientation_contrast=5"),
    ({"orientation_jitter": 20}, "orientation_jitter=20"),
    ({"cells": 16, "size": 32}, "cells=16 at size=32"),
    ({"length": 0.5, "size": 32}, "length=0.5"),
    ({"task": "shape", "size": 48}, "for the shape task"),
    ({"task": "location", "size": 32}, "for the location task"),
    ({"size": 32, "figure_px": 30.0}, "figure_px=30.0"),
    ({"size": 32, "figure_px": 6.0}, "figure_px=6.0 spans"),
])
def test_bad_params_raise_one_line_errors(kwargs, needle):
    with pytest.raises(ParamError, match=needle) as e:
        stimuli.make(FID, **kwargs)
    assert "\n" not in str(e.value) and "expected" in str(e.value)
