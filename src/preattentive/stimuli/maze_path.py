"""Maze paths: Bansal et al.'s task — mark every pixel of the path from the green to the red cell.

Design (Bansal et al. 2022, NeurIPS, "End-to-end algorithm synthesis with recurrent networks"; Schwarzschild et
al. 2021, easy-to-hard mazes): a perfect maze (recursive-backtracker spanning tree, every cell reachable by
exactly one route), drawn as in ``maze-v1`` — 2 x cells + 1 grid units, ``cell_px`` px each, white corridors on
black walls, the start cell green and the goal cell red. The target is dense: ``meta["target_mask"]``, a boolean
(size, size) mask of the pixels of the unique route (its cells and the passages between them, start and goal
included), which is what the Deep-Thinking nets are trained to output pixel by pixel and scored on ("solved" =
every pixel right).

So that every trial also has a question a vision-language model can answer, the label is the first move of the
route: which way must you leave the green cell — up, down, left or right? Balanced by construction: the start
is a cell with an opening that way and at least two openings (a dead end would give the answer away); the goal
is drawn uniformly from the cells whose route leaves that way. Only the goal's side decides the label, so the
walls next to the start carry no tell beyond "this opening exists".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import depth_first_order

from preattentive.stimuli import register_family
from preattentive.stimuli.base import Params, Trial
from preattentive.stimuli.maze import (Maze, MazeGeometry, carve_dfs, draw_units, layout, passage_graph, passage_grids,
                                      route, unit_grid, upscale)

MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))  # label order: up, down, left, right (row, col)


@dataclass(frozen=True)
class MazePathParams(MazeGeometry):
    """Parameters of ``maze-path-v1``: the ``maze-v1`` geometry, perfect mazes only (no ``loops``: the route is
    unique)."""


def open_moves(right: np.ndarray, down: np.ndarray) -> np.ndarray:
    """(n*n, 4) bool: can you leave each cell up / down / left / right?"""
    n = down.shape[1]
    m = np.zeros((n, n, 4), bool)
    m[1:, :, 0] = down  # up from (r, c) = down from (r-1, c)
    m[:-1, :, 1] = down
    m[:, 1:, 2] = right
    m[:, :-1, 3] = right
    return m.reshape(n * n, 4)


def goal_cells(right: np.ndarray, down: np.ndarray, s: int, move: int) -> tuple[np.ndarray, np.ndarray]:
    """(cells whose route from ``s`` leaves by ``move`` (0-3), ascending; predecessor of every cell towards ``s``).

    One depth-first search from ``s`` through the perfect maze (in C); the cells reached through the neighbour
    in direction ``move`` are that child's subtree, a contiguous run of the preorder up to ``s``'s next child.
    """
    n = down.shape[1]
    preorder, pred = depth_first_order(passage_graph(right, down), s, directed=True, return_predecessors=True)
    dr, dc = MOVES[move]
    pos = np.empty(n * n, np.int64)
    pos[preorder] = np.arange(n * n)
    kids = np.sort(pos[preorder[pred[preorder] == s]])  # preorder positions of s's children
    lo = pos[s + dr * n + dc]
    hi = kids[kids > lo][0] if (kids > lo).any() else n * n
    return np.sort(preorder[lo:hi]), pred


@register_family
class MazePath(Maze):
    """A perfect maze with a green and a red cell: the route between them (dense) and its first move (label).

    ``meta``: ``target_mask`` (size, size) bool mask of the route's pixels, ``path`` [[row, col], ...] cells from
    start to goal, ``start``/``goal`` cells, ``markers`` centre pixels of the green and red cells, ``cells``,
    ``cell_px``, ``offset``.

    Example
    -------
    >>> from preattentive import stimuli
    >>> t = stimuli.make("maze-path", size=None, cells=5, seed=0).trial(2)
    >>> t.image.shape, t.meta["target_mask"].shape, t.answer
    ((24, 24, 3), (24, 24), 'left')
    """

    id = "maze-path-v1"
    citation = ("Bansal et al. 2022, NeurIPS (End-to-end algorithm synthesis with recurrent networks); "
                "Schwarzschild et al. 2021, NeurIPS Datasets & Benchmarks (easy-to-hard mazes)")
    ParamsType = MazePathParams
    n_classes = 4
    mask_classes = 2  # meta["target_mask"]: 0 off the route, 1 on it
    ladder = Maze.ladder
    difficulty_keys = ("cells",)

    def _make(self, rng: np.random.Generator, label: int, p: Params) -> Trial:
        assert isinstance(p, MazePathParams)
        n = p.cells
        size, u, off = layout(p)
        parent, _ = self._carve(rng, n)
        right, down = passage_grids(parent, n)
        moves = open_moves(right, down)
        starts = np.flatnonzero(moves[:, label] & (moves.sum(1) >= 2))
        if len(starts) == 0:  # only in tiny mazes: allow a dead end
            starts = np.flatnonzero(moves[:, label])
        s = int(rng.choice(starts))
        goals, pred = goal_cells(right, down, s, label)
        g = int(rng.choice(goals))
        path = route(pred, s, g)  # the only route: a perfect maze is a tree
        units = unit_grid(right, down)
        rc = np.array(divmod(np.array(path), n))  # (2, L) cells' rows and columns
        route_units = np.zeros_like(units, dtype=bool)
        route_units[2 * rc[0] + 1, 2 * rc[1] + 1] = True  # its cells ...
        route_units[rc[0, 1:] + rc[0, :-1] + 1, rc[1, 1:] + rc[1, :-1] + 1] = True  # ... and the passages between
        (sr, sc), (gr, gc) = divmod(s, n), divmod(g, n)
        units[2 * sr + 1, 2 * sc + 1], units[2 * gr + 1, 2 * gc + 1] = 2, 3
        target = np.zeros((size, size), bool)
        span = u * (2 * n + 1)
        target[off : off + span, off : off + span] = upscale(route_units, u)
        centre = lambda r, c: [off + u * (2 * r + 1) + u // 2, off + u * (2 * c + 1) + u // 2]  # noqa: E731
        return Trial(
            image=draw_units(units, size, u, off),
            label=label,
            question="Which way must you leave the green square to reach the red square through the maze?",
            choices=("up", "down", "left", "right"),
            prompts=tuple(f"a maze whose path from the green square to the red square starts {d}"
                          for d in ("upwards", "downwards", "to the left", "to the right")),
            difficulty={"cells": n, "grid": 2 * n - 1, "path_cells": len(path)},
            meta={"target_mask": target, "markers": [centre(sr, sc), centre(gr, gc)], "cells": n, "cell_px": u,
                  "offset": off, "start": [sr, sc], "goal": [gr, gc], "path": [list(divmod(c, n)) for c in path]},
        )


@register_family
class MazePathV2(MazePath):
    """maze-path-v2: ``maze-path-v1`` (same design, parameters, ladder and meta) with mazes carved in C
    (:func:`preattentive.stimuli.maze.carve_dfs`, as ``maze-v2``). v1 stays available, byte for byte."""

    id = "maze-path-v2"
    _carve = staticmethod(carve_dfs)
