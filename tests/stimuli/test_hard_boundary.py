"""hard-boundary-v1 and -v2: records, determinism, errors, and labels recovered from pixels by independent solvers."""

import cv2
import numpy as np
import pytest

from preattentive import stimuli
from preattentive.stimuli.base import ParamError, meta_from_json, meta_to_json

VERSIONS = ("hard-boundary-v1", "hard-boundary-v2")  # every test runs on each (v2: cheaper noise, same design)
SHAPES = ("circle", "square", "triangle", "diamond")
BOUNDARIES = ("luminance", "texture", "illusory")


# ------------------------------------------------------------------ independent solvers (pixels + meta coordinates)
def candidate_mask(size, shape, center, d, sub=4):
    """Coverage (fraction of each pixel inside) of the equal-area shape of diameter d (a circle's) at center.

    Re-derived here with numpy half-planes and ``sub`` x ``sub`` supersampling per pixel.
    """
    o = (np.arange(sub) + 0.5) / sub - 0.5
    rr = (np.arange(size)[:, None] + o[None, :]).ravel()[:, None] - center[0]  # (size*sub, 1)
    cc = (np.arange(size)[:, None] + o[None, :]).ravel()[None, :] - center[1]  # (1, size*sub)
    a = np.sqrt(np.pi) / 2 * d  # square side with the circle's area
    if shape == "circle":
        m = rr ** 2 + cc ** 2 <= (d / 2) ** 2
    elif shape == "square":
        m = (np.abs(rr) <= a / 2) & (np.abs(cc) <= a / 2)
    elif shape == "diamond":
        m = np.abs(rr) + np.abs(cc) <= a / np.sqrt(2)
    else:
        t = np.sqrt(np.pi / np.sqrt(3)) * d  # triangle side; apex up, centred on its bounding box
        h = t * np.sqrt(3) / 2
        m = (rr <= h / 2) & (np.abs(cc) <= (rr + h / 2) / np.sqrt(3))
    return m.reshape(size, sub, size, sub).mean((1, 3))


def best_template(feature, size, meta):
    """Index of the shape whose mask correlates best (in absolute value) with a feature map, and the margin."""
    f = feature.astype(np.float64).ravel()
    f = f - f.mean()
    scores = []
    for s in SHAPES:
        m = candidate_mask(size, s, meta["center"], meta["diameter"]).astype(np.float64).ravel()
        m -= m.mean()
        scores.append(abs(f @ m) / np.sqrt((m @ m) * (f @ f) + 1e-12))
    scores = np.array(scores)
    k = int(np.argmax(scores))
    return k, scores[k] - np.max(np.delete(scores, k))


def solve_texture(img, meta):
    """Best two-grating explanation: inside each candidate shape a grating at the figure orientation, outside
    one at the ground orientation (known wavelength, free phases and amplitudes); least squares, least residual."""
    size = img.shape[0]
    g = img[..., 0].astype(np.float64).ravel()
    k = 2 * np.pi / meta["wavelength"]
    r, c = np.mgrid[0:size, 0:size].astype(np.float64)
    waves = []
    for key in ("figure_orientation", "ground_orientation"):
        th = np.deg2rad(meta[key])
        ph = k * (c * np.sin(th) + r * np.cos(th))  # stripes at th deg: luminance varies across them
        waves.append((np.cos(ph).ravel(), np.sin(ph).ravel()))
    sse = []
    for s in SHAPES:
        m = candidate_mask(size, s, meta["center"], meta["diameter"], sub=2).ravel()
        X = np.stack([np.ones_like(g), m * waves[0][0], m * waves[0][1], (1 - m) * waves[1][0], (1 - m) * waves[1][1]], 1)
        coef, res, *_ = np.linalg.lstsq(X, g, rcond=None)
        sse.append(float(np.sum((g - X @ coef) ** 2)))
    sse = np.array(sse)
    k_best = int(np.argmin(sse))
    return k_best, (np.min(np.delete(sse, k_best)) - sse[k_best]) / sse[k_best]


def solve_illusory(img):
    """Shape from inducer geometry: count the dark blobs; 4 blobs on the diagonals = square, on the axes = diamond."""
    g = img[..., 0]
    thr, ink = cv2.threshold(cv2.GaussianBlur(g, (3, 3), 0), 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    n, lab, stats, cents = cv2.connectedComponentsWithStats(ink, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = areas >= max(2, 0.3 * areas.max())  # noise specks are far smaller than any inducer
    pts = cents[1:][keep][:, ::-1]  # (K, 2) (row, col)
    k = len(pts)
    if k == 3:
        return "triangle"
    if k == 5:
        return "circle"
    if k == 4:
        v = pts - pts.mean(0)
        ang = np.degrees(np.arctan2(-v[:, 0], v[:, 1])) % 90  # 45 on the diagonals, 0 on the axes
        on_diag = np.abs(ang - 45) < 22.5
        assert on_diag.all() or (~on_diag).all(), ang
        return "square" if on_diag.all() else "diamond"
    return f"?{k}"


def solve(t):
    size = t.image.shape[0]
    b = t.meta["boundary"]
    if b == "luminance":
        return SHAPES[best_template(t.image[..., 0], size, t.meta)[0]]
    if b == "texture":
        return SHAPES[solve_texture(t.image, t.meta)[0]]
    return solve_illusory(t.image)


def check_trials(gen, n, start=0):
    """Solve n trials from pixels + meta coordinates; return the list of (index, answer, solved) mistakes."""
    wrong = []
    for i in range(start, start + n):
        t = gen.trial(i)
        got = solve(t)
        if got != t.answer:
            wrong.append((i, t.answer, got))
        assert t.meta["shape"] == t.answer
        if t.meta["boundary"] == "illusory":
            assert len(t.meta["inducers"]) == {"triangle": 3, "square": 4, "diamond": 4, "circle": 5}[t.answer]
    return wrong


# ------------------------------------------------------------------ the tests
@pytest.mark.parametrize("fid", VERSIONS)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_labels_recovered_from_pixels_at_every_rung(fid, boundary):
    """Zero solver errors over 5 rungs x 40 trials at 64 px and a mixed-level run at 32 px (all four shapes)."""
    wrong = []
    for level in range(5):
        wrong += check_trials(stimuli.make(fid, seed=21, boundary=boundary, level=level), 40)
    wrong += check_trials(stimuli.make(fid, seed=22, size=32, boundary=boundary, mix_levels=True), 40)
    assert wrong == []


@pytest.mark.parametrize("fid", VERSIONS)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_labels_recovered_at_224_px(fid, boundary):
    wrong = check_trials(stimuli.make(fid, seed=23, size=224, boundary=boundary, mix_levels=True), 8)
    assert wrong == []


@pytest.mark.parametrize("fid", VERSIONS)
@pytest.mark.slow
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_labels_recovered_large_sweep(fid, boundary):
    """>= 2000 trials per boundary type (6000 for the family) over every rung, at 64 and 32 px."""
    wrong = []
    for level in range(5):
        wrong += check_trials(stimuli.make(fid, seed=31, boundary=boundary, level=level), 320)
        wrong += check_trials(stimuli.make(fid, seed=32, size=32, boundary=boundary, level=level), 80)
    assert wrong == []


@pytest.mark.parametrize("fid", VERSIONS)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_deterministic_and_independent_of_order(fid, boundary):
    a = stimuli.make(fid, seed=5, boundary=boundary, mix_levels=True)
    b = stimuli.make(fid, seed=5, boundary=boundary, mix_levels=True)
    idx = [7, 0, 19, 3, 12]
    first = {i: a.trial(i) for i in sorted(idx)}
    for i in idx:  # a different order and a fresh generator: same bytes
        t = b.trial(i)
        assert t.image.tobytes() == first[i].image.tobytes()
        assert meta_to_json(t.meta) == meta_to_json(first[i].meta) and t.label == first[i].label
    c = stimuli.make(fid, seed=6, boundary=boundary, mix_levels=True)
    assert all(c.trial(i).image.tobytes() != first[i].image.tobytes() for i in idx)


@pytest.mark.parametrize("fid", VERSIONS)
@pytest.mark.parametrize("size", [32, 64, 100, 224, 448])
def test_record_shape_range_and_meta(fid, size):
    for boundary in BOUNDARIES:
        gen = stimuli.make(fid, seed=1, size=size, boundary=boundary)
        for i in range(4):
            t = gen.trial(i)
            assert t.image.dtype == np.uint8 and t.image.shape == (size, size, 3)
            assert t.image.min() < t.image.max()
            assert (t.image[..., 0] == t.image[..., 1]).all() and (t.image[..., 1] == t.image[..., 2]).all()
            assert t.label == i % 4 and t.answer == SHAPES[i % 4] and t.choices == SHAPES
            assert len(t.prompts) == 4 and all(SHAPES[k] in t.prompts[k] for k in range(4))
            mask = t.meta["mask"]
            assert mask.dtype == bool and mask.shape == (size, size) and 0 < mask.mean() < 0.5
            assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
            back = meta_from_json(meta_to_json(t.meta))
            assert (back["mask"] == mask).all() and back["center"] == t.meta["center"]
            assert set(t.difficulty) == set(gen.difficulty_keys)


@pytest.mark.parametrize("fid", VERSIONS)
def test_equal_area_and_same_mean_luminance_for_texture(fid):
    """The four masks have equal area (within rasterisation), and texture figures carry no luminance offset."""
    gen = stimuli.make(fid, seed=3, size=128, boundary="texture")
    areas = [gen.trial(i).meta["mask"].sum() for i in range(4)]
    assert max(areas) / min(areas) < 1.03
    diffs = []
    for i in range(40):
        t = gen.trial(i)
        g = t.image[..., 0].astype(float)
        diffs.append(g[t.meta["mask"]].mean() - g[~t.meta["mask"]].mean())
    assert abs(np.mean(diffs)) < 1.0 and np.max(np.abs(diffs)) < 6.0  # grey levels (the grating spans +-76)


@pytest.mark.parametrize("fid", VERSIONS)
def test_every_rung_and_mix_levels(fid):
    cls = stimuli.get(fid)
    assert len(cls.ladder) >= 4
    for level, rung in enumerate(cls.ladder):
        t = stimuli.make(fid, seed=0, level=level, boundary="luminance").trial(1)
        assert t.difficulty["contrast"] == rung["contrast"] and t.difficulty["noise"] == rung["noise"]
    mixed = stimuli.make(fid, seed=0, mix_levels=True, boundary="illusory")
    got = [mixed.trial(i).difficulty["support_ratio"] for i in range(4 * len(cls.ladder))]
    assert got == [r["support_ratio"] for r in cls.ladder for _ in range(4)]
    # harder rungs are harder: lower contrast / orientation difference / support, more noise
    for a, b in zip(cls.ladder, cls.ladder[1:]):
        assert b["contrast"] <= a["contrast"] and b["orientation_contrast"] <= a["orientation_contrast"]
        assert b["support_ratio"] <= a["support_ratio"] and b["noise"] >= a["noise"]


@pytest.mark.parametrize("kwargs, needle", [
    ({"boundary": "colour"}, "boundary='colour'"),
    ({"size": 16}, "size=16"),
    ({"size": 500}, "size=500"),
    ({"figure_size": 0.9}, "figure_size=0.9"),
    ({"contrast": 0.0}, "contrast=0.0"),
    ({"noise": 0.5}, "noise=0.5"),
    ({"noise": 0.2, "contrast": 0.05}, "noise=0.2 with contrast=0.05"),
    ({"cycles": 20, "size": 32}, "cycles=20"),
    ({"boundary": "illusory", "figure_size": 0.7}, "figure_size=0.7"),
    ({"boundary": "illusory", "support_ratio": 0.6, "size": 32}, "support_ratio=0.6"),
    ({"boundary": "illusory", "support_ratio": 0.1, "size": 32}, "support_ratio=0.1"),
])
@pytest.mark.parametrize("fid", VERSIONS)
def test_bad_params_raise_one_line_errors(fid, kwargs, needle):
    with pytest.raises(ParamError, match=needle) as e:
        stimuli.make(fid, **kwargs)
    assert "\n" not in str(e.value) and "expected" in str(e.value)


def test_v2_noise_is_gaussian_and_its_observer_matches_the_full_image_one():
    """v2's 16-bit Gaussian has unit s.d. and Gaussian tails, cut at 4.3 s.d.; its windowed correlations equal v1's
    full-image ones (the window holds every shape's coverage), so both versions reject the same noise fields."""
    from preattentive.stimuli import hard_boundary as hb

    z = hb.gaussian16(np.random.default_rng(0), (400_000,))
    assert z.dtype == np.float32 and abs(z.mean()) < 0.005 and abs(z.std() - 1) < 0.005
    assert abs((np.abs(z) > 2).mean() - 0.0455) < 0.002 and np.abs(z).max() < 4.4
    rng = np.random.default_rng(1)
    for size in (32, 64, 224):
        p = hb.HardBoundaryParams(size=size, **hb.HardBoundary.ladder[4])
        d, m = p.figure_size * size, p.margin()
        for k in range(8):
            center = rng.uniform(m, size - m, 2) - 0.5
            grey = 0.5 + np.float32(0.04) * hb.shape_coverage(size, SHAPES[k % 4], center, d)
            calls = []
            real = hb.gaussian16
            hb.gaussian16 = lambda r, shape: calls.append(real(r, shape)) or calls[-1]
            try:
                noisy = hb.HardBoundaryV2._add_noise(np.random.default_rng(k), grey, p, center, d, k % 4)
            finally:
                hb.gaussian16 = real
            cov = np.stack([hb.shape_coverage(size, s, center, d).ravel() for s in SHAPES]).astype(np.float64)
            cov -= cov.mean(1, keepdims=True)
            cov /= np.linalg.norm(cov, axis=1, keepdims=True)
            for field in calls:  # every draw v2 made: accepted iff v1's full-image rule accepts it
                x = (grey + field * np.float32(p.noise)).ravel().astype(np.float64)
                corr = np.abs(cov @ x) / np.linalg.norm(x - x.mean())
                ok = corr[k % 4] - np.max(np.delete(corr, k % 4)) >= hb.LUMINANCE_MARGIN
                assert ok == (field is calls[-1])
            assert np.array_equal(noisy, grey + calls[-1] * np.float32(p.noise))
