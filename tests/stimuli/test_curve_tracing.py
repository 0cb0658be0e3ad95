"""curve-tracing-v1: labels recovered by independent solvers from the pixels and the marker coordinates only."""

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.stats import ks_2samp

import cv2

from preattentive import stimuli
from preattentive.stimuli.base import ParamError

FAMILY = "curve-tracing"
N_RUNGS = len(stimuli.get(FAMILY).ladder)


def components(image: np.ndarray, link: float) -> tuple[np.ndarray, int]:
    """Label ink (any channel > 0): 8-connected when ``link`` is 0, else pixels closer than ``link`` px joined.

    Joining ink pixels at distance <= ``link`` is a morphological closing of the gaps (a disk of diameter
    ``link`` slid along the gap) done exactly on pixel centres with a k-d tree.
    """
    ink = image.max(axis=-1) > 0
    if link == 0:
        n, lab = cv2.connectedComponents(ink.astype(np.uint8), connectivity=8)
        return lab, n - 1
    rc = np.argwhere(ink)
    pairs = cKDTree(rc).query_pairs(r=link, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(rc), len(rc)))
    n, comp = connected_components(graph, directed=False)
    lab = np.zeros(ink.shape, np.int64)
    lab[rc[:, 0], rc[:, 1]] = comp + 1
    return lab, n


def solve(t) -> tuple[int, int]:
    """(same-curve answer from the pixels, number of separate curves seen)."""
    lab, n = components(t.image, t.meta["max_gap"] if t.meta["style"] == "dashed" else 0)
    (r0, c0), (r1, c1) = t.meta["markers"]
    a, b = lab[r0, c0], lab[r1, c1]
    assert a > 0 and b > 0, "a marker centre is not on ink"
    return int(a == b), n


def sweep(style: str, size: int, n: int, seed: int, levels=range(N_RUNGS)) -> None:
    for level in levels:
        gen = stimuli.make(FAMILY, style=style, size=size, level=level, seed=seed)
        for i in range(n):
            t = gen.trial(i)
            same, n_curves = solve(t)
            assert same == t.label, f"{style} size={size} level={level} item={i}: solver says {same}"
            # every curve is one piece and apart from the others: 2 targets + the distractors drawn
            assert n_curves == 2 + t.meta["n_distractors"], f"{style} size={size} level={level} item={i}"


@pytest.mark.parametrize("style", ["solid", "dashed"])
def test_labels_recovered_by_solver_at_every_rung(style):
    sweep(style, 64, 30, seed=5)
    sweep(style, 32, 12, seed=6)


def test_large_images_anti_aliased_and_solved():
    for style in ("solid", "dashed"):
        sweep(style, 160, 4, seed=7, levels=[0, N_RUNGS - 1])


@pytest.mark.slow
@pytest.mark.parametrize("style", ["solid", "dashed"])
def test_labels_recovered_sweep_slow(style):
    for size, n in [(32, 150), (64, 200), (128, 40), (224, 10)]:
        sweep(style, size, n, seed=100 + size)  # 5 rungs x 400 = 2000 trials per style


def test_deterministic_bytes_and_independent_of_order():
    a = stimuli.make(FAMILY, style="dashed", level=3, seed=9)
    b = stimuli.make(FAMILY, style="dashed", level=3, seed=9)
    fwd = [a.trial(i) for i in range(5)]
    bwd = [b.trial(i) for i in (4, 2, 0, 3, 1)]
    for t in bwd:
        assert t.image.tobytes() == fwd[t.index].image.tobytes() and t.meta == fwd[t.index].meta
    assert t.image.dtype == np.uint8 and t.image.shape == (64, 64, 3)


def test_mix_levels_cycles_rungs_with_balanced_labels():
    gen = stimuli.make(FAMILY, style="solid", mix_levels=True, seed=3)
    ts = [gen.trial(i) for i in range(2 * N_RUNGS)]
    assert [t.difficulty["length"] for t in ts[::2]] == [r["length"] for r in gen.ladder]
    assert [t.label for t in ts] == [0, 1] * N_RUNGS
    for t in ts:
        assert solve(t)[0] == t.label


def test_hardest_dashed_rung_is_pathfinder_14_and_fits_32px():
    hard = stimuli.get(FAMILY).ladder[-1]
    assert hard["length"] == 14
    t = stimuli.make(FAMILY, style="dashed", size=32, level=N_RUNGS - 1, seed=1).trial(0)
    assert t.image.shape == (32, 32, 3) and solve(t)[0] == t.label


@pytest.mark.parametrize("style", ["solid", "dashed"])
def test_no_marker_distance_or_ink_shortcut(style):
    """Marker distance and total ink are distributed alike in both classes (two-sample tests, 100 per class)."""
    gen = stimuli.make(FAMILY, style=style, level=2, seed=21)
    ts = [gen.trial(i) for i in range(200)]
    y = np.array([t.label for t in ts])
    for x in (np.array([np.hypot(*np.subtract(*t.meta["markers"])) for t in ts]),
              np.array([(t.image[..., 0] > 0).sum() for t in ts], float)):
        a, b = x[y == 1], x[y == 0]
        assert abs(a.mean() - b.mean()) < 3 * x.std() * np.sqrt(2 / len(a))  # within 3 standard errors
        assert ks_2samp(a, b).pvalue > 0.001


@pytest.mark.parametrize("kwargs, needle", [
    ({"style": "wavy"}, "style='wavy'"),
    ({"size": 16}, "size=16"),
    ({"size": 1000}, "size=1000"),
    ({"length": 1}, "length=1"),
    ({"curvature": 120}, "curvature=120"),
    ({"distractors": -1}, "distractors=-1"),
    ({"length": 40, "size": 32}, "length=40"),
])
def test_bad_params_raise_param_error(kwargs, needle):
    with pytest.raises(ParamError, match=needle) as e:
        stimuli.make(FAMILY, **kwargs).trial(0)
    assert "\n" not in str(e.value)
