"""maze-v1: labels recovered by breadth-first search through the image's corridor pixels; layout and meta."""

import numpy as np
import pytest

from preattentive import stimuli
from preattentive.stimuli.base import ParamError

VERSIONS = ("maze-v1", "maze-v2")  # every test runs on each; v2 carves in C, same design
FAMILY = "maze"
LADDER = stimuli.get(FAMILY).ladder


def reachable(image: np.ndarray, start: tuple[int, int]) -> np.ndarray:
    """Breadth-first search from ``start`` through free (non-black) pixels, 4-neighbours, one ring per step."""
    free = image.max(axis=-1) > 0
    seen = np.zeros_like(free)
    seen[start] = True
    frontier = seen.copy()
    while frontier.any():
        grown = np.zeros_like(frontier)
        grown[1:] |= frontier[:-1]
        grown[:-1] |= frontier[1:]
        grown[:, 1:] |= frontier[:, :-1]
        grown[:, :-1] |= frontier[:, 1:]
        frontier = grown & free & ~seen
        seen |= frontier
    return seen


def solve(t) -> int:
    (r0, c0), (r1, c1) = t.meta["markers"]
    assert t.image[r0, c0].max() > 0 and t.image[r1, c1].max() > 0, "a marker is on a wall"
    return int(reachable(t.image, (r0, c0))[r1, c1])


def check_path(t) -> None:
    """The stored path runs start -> goal through adjacent cells whose passages are open in the pixels."""
    path, u, off = t.meta["path"], t.meta["cell_px"], t.meta["offset"]
    if t.label == 0:
        assert path == []
        return
    assert path[0] == t.meta["start"] and path[-1] == t.meta["goal"]
    px = lambda r, c: (off + u * r + u // 2, off + u * c + u // 2)  # noqa: E731 - centre pixel of grid unit
    for (ra, ca), (rb, cb) in zip(path, path[1:]):
        assert abs(ra - rb) + abs(ca - cb) == 1
        assert t.image[px(ra + rb + 1, ca + cb + 1)].max() > 0  # the passage unit between the two cells


def sweep(fid: str, n: int, seed: int, **kw) -> None:
    for level in range(len(LADDER)):
        gen = stimuli.make(fid, level=level, seed=seed, **kw)
        for i in range(n):
            t = gen.trial(i)
            assert solve(t) == t.label, f"{kw} level={level} item={i}"
            check_path(t)


@pytest.mark.parametrize("fid", VERSIONS)
def test_labels_recovered_by_bfs_at_every_rung(fid):
    sweep(fid, 30, seed=1)
    sweep(fid, 12, seed=2, loops=0.3)


@pytest.mark.parametrize("fid", VERSIONS)
@pytest.mark.slow
def test_labels_recovered_sweep_slow(fid):
    sweep(fid, 200, seed=10)  # 7 rungs x 200
    sweep(fid, 60, seed=11, loops=0.25, size=128)
    sweep(fid, 40, seed=12, loops=1.0, size=None)


@pytest.mark.parametrize("fid", VERSIONS)
def test_small_and_large_images(fid):
    for kw in [dict(size=32, cells=9), dict(size=32, cells=14), dict(size=224, cells=33, loops=0.1),
               dict(size=None, cells=33)]:
        gen = stimuli.make(fid, seed=3, **kw)
        for i in range(6):
            t = gen.trial(i)
            assert solve(t) == t.label
            check_path(t)


@pytest.mark.parametrize("fid", VERSIONS)
def test_paper_layout_and_fixed_cell_pixels(fid):
    """size=None gives Bansal et al.'s 2(2n+1)+2 px; a fixed cell_px keeps cells the same size across mazes."""
    for cells, side in [(5, 24), (7, 32), (17, 72), (33, 136)]:
        t = stimuli.make(fid, size=None, cells=cells, seed=0).trial(0)
        assert t.image.shape == (side, side, 3) and t.meta["cell_px"] == 2
        assert t.difficulty["grid"] == 2 * cells - 1
    for cells in (5, 7):
        t = stimuli.make(fid, size=64, cells=cells, cell_px=2, seed=0).trial(0)
        assert t.image.shape == (64, 64, 3) and t.meta["cell_px"] == 2
    assert stimuli.make(fid, size=64, cells=9, seed=0).trial(0).meta["cell_px"] == 3  # largest that fits


@pytest.mark.parametrize("fid", VERSIONS)
def test_mix_levels_share_one_image_size(fid):
    gen = stimuli.make(fid, size=None, mix_levels=True, seed=4)
    ts = [gen.trial(i) for i in range(2 * len(LADDER))]
    assert [t.meta["cells"] for t in ts[::2]] == [r["cells"] for r in LADDER]
    assert len({t.image.shape for t in ts}) == 1
    assert [t.label for t in ts] == [0, 1] * len(LADDER)


@pytest.mark.parametrize("fid", VERSIONS)
def test_deterministic_and_independent_of_order(fid):
    a, b = stimuli.make(fid, seed=5, loops=0.2), stimuli.make(fid, seed=5, loops=0.2)
    fwd = [a.trial(i) for i in range(6)]
    for i in (5, 1, 3, 0, 4, 2):
        t = b.trial(i)
        assert t.image.tobytes() == fwd[i].image.tobytes() and t.meta == fwd[i].meta
    assert fwd[0].image.dtype == np.uint8


@pytest.mark.parametrize("fid", VERSIONS)
def test_no_visual_tell_between_classes(fid):
    """Without loops every maze has the same number of open pixels; marker distances match across classes."""
    gen = stimuli.make(fid, cells=9, seed=6)
    ts = [gen.trial(i) for i in range(1000)]
    free = {int((t.image.max(axis=-1) > 0).sum()) for t in ts}
    assert len(free) == 1  # one sealed passage in every maze, connected or not
    y = np.array([t.label for t in ts])
    d = np.array([np.hypot(*np.subtract(t.meta["start"], t.meta["goal"])) for t in ts])
    # Both versions leave the connected goal ~0.3 cells nearer on average (1000 trials at each of seeds 6-11:
    # v1 0.22-0.37, v2 0.14-0.53); the bound is that plus ~3 standard errors (0.11 cells at 1000 trials).
    assert abs(d[y == 1].mean() - d[y == 0].mean()) < 0.65  # cells


def test_v2_carver_draws_the_backtrackers_distribution():
    """maze-v2's vectorised carver and v1's step-by-step backtracker give the same distribution of mazes: the same
    88 spanning trees of the 3 x 3 grid at matching frequencies (two-sample chi-square), and the same dead-end
    density at 9 x 9 (DFS mazes have few dead ends: ~12% of cells, against ~30% for Prim or Kruskal mazes)."""
    from collections import Counter

    from preattentive.stimuli.maze import carve, carve_dfs

    rng = np.random.default_rng(0)

    def tree(parent):
        return tuple(sorted((min(c, p), max(c, p)) for c, p in enumerate(parent.tolist()) if p >= 0))

    k = 20_000
    a, b = Counter(tree(carve(rng, 3)[0]) for _ in range(k)), Counter(tree(carve_dfs(rng, 3)[0]) for _ in range(k))
    assert set(a) == set(b) and len(a) == 88
    chi2 = sum((a[t] - b[t]) ** 2 / (a[t] + b[t]) for t in a)
    assert chi2 < 140  # 87 degrees of freedom: P(chi2 > 140) < 0.001 under the same distribution

    def dead_ends(parent):
        child = np.flatnonzero(parent >= 0)
        return float((np.bincount(np.r_[child, parent[child]], minlength=len(parent)) == 1).mean())

    v1 = np.mean([dead_ends(carve(rng, 9)[0]) for _ in range(1000)])
    v2 = np.mean([dead_ends(carve_dfs(rng, 9)[0]) for _ in range(1000)])
    assert 0.08 < v1 < 0.16 and abs(v1 - v2) < 0.006


@pytest.mark.parametrize("kwargs, needle", [
    ({"cells": 33}, "cells=33"),  # does not fit the default 64 px
    ({"cells": 20, "size": 32}, "size=32"),
    ({"cells": 9, "cell_px": 4, "size": 64}, "needs size >= 78"),
    ({"cells": 2}, "cells=2"),
    ({"loops": 1.5}, "loops=1.5"),
    ({"cell_px": 0, "size": None}, "cell_px=0"),
    ({"size": 8}, "size=8"),
])
@pytest.mark.parametrize("fid", VERSIONS)
def test_bad_params_raise_param_error(fid, kwargs, needle):
    with pytest.raises(ParamError, match=needle) as e:
        stimuli.make(fid, **kwargs)
    assert "\n" not in str(e.value)
