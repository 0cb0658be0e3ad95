"""Legible labels (issue 17, item 6): exact rasterisation, the pixel criterion's table, and counting-v2's shapes
read back from the pixels alone by a template reader, at the smallest size the family allows."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from matplotlib.path import Path

from preattentive import stimuli
from preattentive.stimuli import ParamError, legibility
from preattentive.stimuli.render import COLORS, fill_exact, shape_vertices

SHAPES4 = ("circle", "square", "triangle", "diamond")


@pytest.mark.parametrize("shape", ["square", "triangle", "diamond", "cross", "T", "L", "bar"])
def test_exact_fill_is_the_pixel_centres_inside_the_shape(shape):
    """An independent point-in-polygon test (matplotlib's Path) on every pixel centre agrees pixel for pixel."""
    rng = np.random.default_rng(5)
    for _ in range(30):
        c, h, a = rng.uniform(8, 24, 2), rng.uniform(2.0, 7.0), rng.uniform(0, np.pi)
        img = np.zeros((32, 32), np.uint8)
        fill_exact(img, shape, c, h, (1,), angle=a)
        yy, xx = np.mgrid[:32, :32]
        path = Path(shape_vertices(shape, c, h, a)[:, ::-1])  # (x, y) = (col, row)
        inside = path.contains_points(np.c_[xx.ravel(), yy.ravel()]).reshape(32, 32)
        # a centre exactly on an edge may go either way; none lies within 1e-9 px of one for random geometry
        assert (img.astype(bool) == inside).all()


def test_exact_discs_have_no_nubs():
    """Discs: every filled pixel's centre within the radius, every other outside — and 4-symmetric when centred."""
    for h in np.arange(2.0, 8.0, 0.25):
        img = np.zeros((25, 25), np.uint8)
        fill_exact(img, "circle", (12.0, 12.0), h, (1,))
        yy, xx = np.mgrid[:25, :25]
        m = img.astype(bool)
        assert (m == ((yy - 12) ** 2 + (xx - 12) ** 2 <= h * h)).all()
        assert (m == m[::-1]).all() and (m == m[:, ::-1]).all() and (m == m.T).all()  # the disc's symmetries
        # no nub: every row of the disc is one run, and the runs never widen away from the centre row
        widths = m.sum(1)[m.any(1)]
        assert (np.diff(widths[: len(widths) // 2 + 1]) >= 0).all()


def test_min_half_table_entries_are_tight():
    """Every MIN_HALF_PAIR entry: distinguishable there and at every 0.25 px step above it (to 8 px), and not
    0.25 px below — so the table is what the criterion gives, not a guess."""
    for key, h in legibility.MIN_HALF_PAIR.items():
        a, b = sorted(key)
        assert not legibility.distinguishable(a, b, h - legibility.GRID), (a, b, h)
        for x in np.arange(h, 8.0 + 1e-9, 0.5):
            assert legibility.distinguishable(a, b, float(x)), (a, b, x)


@pytest.mark.slow
def test_min_half_table_matches_a_full_search():
    for key, h in legibility.MIN_HALF_PAIR.items():
        assert legibility.min_distinguishable_half(*sorted(key)) == h


def test_min_half_of_a_set_is_its_hardest_pair():
    assert legibility.min_half(("square",)) == 0.0
    assert legibility.min_half(("circle", "square", "triangle")) == legibility.MIN_HALF_PAIR[
        frozenset(("circle", "square"))]
    assert legibility.min_half(SHAPES4) == max(legibility.MIN_HALF_PAIR[frozenset(p)]
                                               for p in itertools.combinations(SHAPES4, 2))


# --- counting-v2: a reader that sees only pixels --------------------------------------------------------------
def _templates(shapes, half_lo, half_hi):
    """(shape, mask) renderings on a 2-px-margin canvas cropped to their bounding box: every shape at halves
    half_lo..half_hi (0.125 px) and 16 sub-pixel positions."""
    out = []
    for s in shapes:
        for h in np.arange(half_lo, half_hi + 1e-9, 0.125):
            for dy, dx in itertools.product(np.arange(4) / 4, repeat=2):
                side = int(2 * h * 1.5) + 6
                img = np.zeros((side, side), np.uint8)
                fill_exact(img, s, (side / 2 + dy, side / 2 + dx), h, (1,))
                ys, xs = np.nonzero(img)
                out.append((s, img[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].astype(bool)))
    return out


def read_shape(mask: np.ndarray, templates) -> str:
    """The shape whose template, aligned by bounding box (and +-1 px), differs least from the component."""
    ys, xs = np.nonzero(mask)
    comp = mask[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    best, name = None, None
    for s, t in templates:
        H, W = max(comp.shape[0], t.shape[0]) + 2, max(comp.shape[1], t.shape[1]) + 2
        a = np.zeros((H, W), bool)
        a[1: 1 + comp.shape[0], 1: 1 + comp.shape[1]] = comp
        for oy, ox in itertools.product(range(3), repeat=2):
            if oy + t.shape[0] > H or ox + t.shape[1] > W:
                continue
            b = np.zeros((H, W), bool)
            b[oy: oy + t.shape[0], ox: ox + t.shape[1]] = t
            d = int((a ^ b).sum())
            if best is None or d < best:
                best, name = d, s
    return name


def _read_objects(t, templates):
    """(truth, read) per object of trial ``t``; read is None where the object's centre pixel is covered.

    ``meta["objects"]`` only locates each object and gives the truth to compare with; the shape is read from the
    connected component of its colour."""
    out = []
    for ob in t.meta["objects"]:
        r, c = (int(round(v)) for v in ob["centre"])
        k, lab = cv2.connectedComponents((t.image == np.array(COLORS[ob["colour"]])).all(-1).astype(np.uint8),
                                         connectivity=8)
        out.append((ob["shape"], read_shape(lab == lab[r, c], templates) if lab[r, c] else None))
    return out


def _misreads(fid, n, **params):
    """Objects whose shape the pixel reader gets wrong, over n trials (no overlap: each object one component)."""
    gen = stimuli.make(fid, seed=7, **params)
    p = gen.params
    lo, hi = gen._half_range(p)
    templates = _templates(p.shapes, lo * 0.85, hi * 1.15)
    read = [r for i in range(n) for r in _read_objects(gen.trial(i), templates)]
    assert all(got is not None for _, got in read), "an object's centre pixel is not its colour"
    return sum(truth != got for truth, got in read), len(read)


def test_counting_v2_shapes_read_from_pixels_at_the_smallest_allowed_size():
    """Four shapes, one colour (shape is the only cue), obj_size below the floor so the floor is what is drawn:
    the template reader names every object's shape; on counting-v1 at its 3.5 px floor it does not."""
    params = dict(size=128, shapes=SHAPES4, query="mixed", distractors=4, color_mode="one", obj_size=0.01, n_max=6)
    wrong, checked = _misreads("counting-v2", 24, **params)
    assert checked >= 24 * 2 and wrong == 0, (wrong, checked)
    gen = stimuli.make("counting-v2", **params)
    assert gen._half_range(gen.params)[0] == legibility.min_half(SHAPES4)  # drawn at the floor itself
    wrong_v1, checked_v1 = _misreads("counting-v1", 24, **params)
    assert checked_v1 >= 48 and wrong_v1 > 0  # the control: the same reader cannot read v1's 3.5 px shapes


def test_counting_v2_clamps_obj_size_and_says_why_a_display_no_longer_fits():
    gen = stimuli.make("counting-v2", size=64, level=1)
    lo, _ = gen._half_range(gen.params)
    assert lo == legibility.min_half(("circle", "square")) > 0.05 * 64  # clamped up from obj_size x size
    assert stimuli.make("counting-v2", size=64, level=0)._half_range(
        stimuli.make("counting-v2", size=64, level=0).params)[0] == 0.05 * 64  # no distractor: nothing to read
    with pytest.raises(ParamError, match=r"n_max=10 .*expected n_max <= \d.*distinguishable in pixels"):
        stimuli.make("counting-v2", size=64, level=2, shapes=SHAPES4, query="mixed")


def test_counting_resolves_to_v2_and_v1_is_kept():
    assert stimuli.REGISTRY.resolve("counting") == "counting-v2"
    assert "counting-v1" in stimuli.list() and "counting-v1" not in stimuli.latest()


def _read_trial(gen, i):
    """(truth, read) for every unoccluded object of trial ``i`` of ``gen``."""
    lo, hi = gen._half_range(gen.params_for(i))
    templates = _templates(gen.params_for(i).shapes, lo * 0.85, hi * 1.15)
    return [(truth, got) for truth, got in _read_objects(gen.trial(i), templates) if got is not None]


def test_issue_17_reproduction_v1_misreads_v2_refuses_at_64_px_and_reads_at_128():
    """Issue 17 item 6's command (seed 91, 64 px, four shapes, mixed rungs): v1's trial 229 draws a "circle"
    the pixel reader calls a diamond; v2 refuses the display at 64 px in one line (10 legible objects do not
    fit) and, at 128 px, every unoccluded object of the issue's four trials reads as its label."""
    params = dict(mix_levels=True, shapes=SHAPES4, query="mixed")
    v1 = stimuli.make("counting-v1", seed=91, size=64, **params)
    assert ("circle", "diamond") in _read_trial(v1, 229)
    with pytest.raises(ParamError, match=r"do not fit at size=64: expected n_max <= \d.*distinguishable in pixels"):
        stimuli.make("counting-v2", seed=91, size=64, **params)
    v2 = stimuli.make("counting-v2", seed=91, size=128, **params)
    for i in (229, 319, 881, 1266):
        read = _read_trial(v2, i)
        assert len(read) >= 5 and all(a == b for a, b in read), (i, read)


@pytest.mark.parametrize("level", range(4))
def test_scenes_default_shapes_read_from_pixels_at_every_rung_at_64_px(level):
    """scenes (CLIP's and LLaVA's training family) at its defaults draws no object below 4.48 px half-extent at
    64 px; the same pixel reader names every object's shape at every rung, so its fall-off is not illegibility."""
    gen = stimuli.make("scenes-v1", seed=3, size=64, level=level)
    read = [r for i in range(20) for r in _read_trial_scenes(gen, i)]
    assert len(read) == 40 and all(a == b for a, b in read), read


def _read_trial_scenes(gen, i):
    t = gen.trial(i)
    halves = [ob["half"] for ob in t.meta["objects"]]
    read = _read_objects(t, _templates(gen.params_for(i).shapes, min(halves) * 0.85, max(halves) * 1.15))
    assert all(got is not None for _, got in read), "scenes objects never overlap"
    return read
