"""maze-path-v1: route and first move recovered by dead-end filling of the image's grid units (not BFS)."""

import numpy as np
import pytest

from preattentive import stimuli
from preattentive.stimuli.base import ParamError

VERSIONS = ("maze-path-v1", "maze-path-v2")  # every test runs on each; v2 carves in C, same design
FAMILY = "maze-path"
LADDER = stimuli.get(FAMILY).ladder
MOVES = {(-1, 0): "up", (1, 0): "down", (0, -1): "left", (0, 1): "right"}


def units_of(t) -> np.ndarray:
    """The grid units read from the pixels: 0 wall, 1 corridor, 2 green, 3 red (one sample per unit)."""
    u, off, n = t.meta["cell_px"], t.meta["offset"], t.meta["cells"]
    k = 2 * n + 1
    px = t.image[off : off + u * k : u, off : off + u * k : u].astype(int)  # (k, k, 3) top-left pixel of each unit
    # every pixel of a unit has the unit's colour
    block = np.repeat(np.repeat(px, u, 0), u, 1)
    assert (t.image[off : off + u * k, off : off + u * k] == block).all()
    grid = (px.max(-1) > 0).astype(int)
    grid[(px[..., 1] > 100) & (px[..., 0] < 100)] = 2
    grid[(px[..., 0] > 100) & (px[..., 1] < 100)] = 3
    return grid


def dead_end_fill(grid: np.ndarray) -> np.ndarray:
    """Fill corridor units with at most one open neighbour until none is left; in a perfect maze the rest is the
    route between the two marked units."""
    free = grid > 0
    keep = grid >= 2
    while True:
        nb = np.zeros(free.shape, int)
        nb[1:] += free[:-1]
        nb[:-1] += free[1:]
        nb[:, 1:] += free[:, :-1]
        nb[:, :-1] += free[:, 1:]
        dead = free & ~keep & (nb <= 1)
        if not dead.any():
            return free
        free &= ~dead


def check(t) -> None:
    grid = units_of(t)
    n = t.meta["cells"]
    assert (grid == 2).sum() == 1 and (grid == 3).sum() == 1
    # a perfect maze: n*n cells joined by n*n - 1 passages (a spanning tree)
    assert (grid > 0).sum() == n * n + n * n - 1
    route = dead_end_fill(grid)
    u, off = t.meta["cell_px"], t.meta["offset"]
    k = 2 * n + 1
    want = np.zeros(t.image.shape[:2], bool)
    want[off : off + u * k, off : off + u * k] = np.repeat(np.repeat(route, u, 0), u, 1)
    assert t.meta["target_mask"].dtype == bool and (t.meta["target_mask"] == want).all()
    (r, c), = np.argwhere(grid == 2)
    nxt = [d for d in MOVES if route[r + d[0], c + d[1]]]
    assert len(nxt) == 1 and MOVES[nxt[0]] == t.answer
    assert sum(grid[r + dr, c + dc] > 0 for dr, dc in MOVES) >= 2  # the start is not a dead end


@pytest.mark.parametrize("fid", VERSIONS)
@pytest.mark.parametrize("level", range(len(LADDER)))
def test_route_and_first_move_recovered_at_every_rung(fid, level):
    gen = stimuli.make(fid, level=level, seed=level)
    for i in range(12):
        check(gen.trial(i))


@pytest.mark.parametrize("fid", VERSIONS)
def test_bansal_layout_sizes_and_balance(fid):
    for cells, side in ((5, 24), (7, 32), (9, 40)):
        gen = stimuli.make(fid, size=None, cells=cells, seed=1)
        ts = list(gen.trials(40))
        assert {t.image.shape for t in ts} == {(side, side, 3)}
        assert [t.label for t in ts] == [i % 4 for i in range(40)]
        for t in ts:
            check(t)
    mixed = stimuli.make(fid, size=None, mix_levels=True, seed=2)
    assert len({mixed.trial(i).image.shape for i in range(0, 28, 4)}) == 1


@pytest.mark.parametrize("fid", VERSIONS)
def test_deterministic_and_meta_roundtrip(fid):
    from preattentive.stimuli.base import meta_from_json, meta_to_json

    a, b = stimuli.make(fid, size=None, cells=5, seed=7), stimuli.make(fid, size=None, cells=5, seed=7)
    ta, tb = a.trial(13), b.trial(13)
    assert (ta.image == tb.image).all() and (ta.meta["target_mask"] == tb.meta["target_mask"]).all()
    back = meta_from_json(meta_to_json(ta.meta))
    assert (back["target_mask"] == ta.meta["target_mask"]).all()
    assert not (ta.meta["target_mask"] == stimuli.make(fid, size=None, cells=5, seed=8).trial(13).meta["target_mask"]).all()


@pytest.mark.parametrize("fid", VERSIONS)
def test_goal_side_not_start_walls_decides_label(fid):
    # the start has >= 2 openings, so the label is not readable from the walls around the start alone
    gen = stimuli.make(fid, size=None, cells=7, seed=3)
    for t in gen.trials(60):
        r, c = (2 * x + 1 for x in t.meta["start"])
        assert sum(units_of(t)[r + dr, c + dc] > 0 for dr, dc in MOVES) >= 2


@pytest.mark.parametrize("kwargs,needle", [
    ({"cells": 2}, "cells=2"), ({"size": 16, "cells": 9}, "cells=9"), ({"loops": 0.1}, "unknown parameter 'loops'"),
])
@pytest.mark.parametrize("fid", VERSIONS)
def test_bad_params_raise_param_error(fid, kwargs, needle):
    with pytest.raises(ParamError, match=needle):
        stimuli.make(fid, **kwargs)
