"""Mazes: a depth-first-search grid maze in pixels with two marked cells — connected or not?

Design (Schwarzschild et al. 2021, "Datasets for studying generalization from easy to hard examples";
Bansal et al. 2022, NeurIPS, "End-to-end algorithm synthesis with recurrent networks"; generator
github.com/aks2203/easy-to-hard-data ``make_mazes.py``): a perfect maze of ``cells`` x ``cells`` cells carved by
the recursive backtracker (depth-first search), drawn on a grid of 2 x cells + 1 units (cells and walls alike),
each unit ``cell_px`` px square, white corridors on black walls, a 1 px black border, the start cell green and the
goal cell red. Their image side is 2(2n+1)+2 px for n cells (``cell_px=2``). Note the naming: the paper's "9x9
maze" is its 9 x 9 grid of units = 5 x 5 cells (24 px); "13x13" = 7 cells (32 px); "33x33" = 17 cells (72 px).
``difficulty["grid"]`` reports that name (2 x cells - 1).

Connected or not, without a visual tell: every maze, whatever its label, has exactly one passage of its
spanning tree walled in, chosen so that the two resulting regions each hold at least a quarter of the cells;
optional loops (``loops`` > 0) are then knocked through walls *inside* each region. Both classes therefore have
the same number of openings, the same wall statistics and one sealed passage; only where the two marked cells
sit differs: in one region (label 1, "yes") or one in each (label 0). The second marker is the cell of the
allowed region whose distance from the first is nearest a distance drawn without the label (from a uniformly
random cell), so marker distance is matched across classes.

Image size
----------
``size`` (px) given, ``cell_px`` None: the largest ``cell_px`` with cell_px x (2 cells + 1) + 2 <= size, maze
centred on black. Both given: the maze must fit, centred. ``size=None``: size = cell_px x (2 cells + 1) + 2
(``cell_px`` defaults to 2, the paper's layout); with ``mix_levels`` the largest rung sets one size for all.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, depth_first_order

from preattentive.stimuli import register_family
from preattentive.stimuli.base import MAX_SIZE, MIN_SIZE, ParamError, Params, StimulusFamily, Trial, check_range
from preattentive.stimuli.render import COLORS

WALL, FREE = (0, 0, 0), (255, 255, 255)
START, GOAL = COLORS["green"], COLORS["red"]
PALETTE = np.array([WALL, FREE, START, GOAL], np.uint8)  # colour of unit kinds 0 wall, 1 corridor, 2 start, 3 goal
_PALETTE_LUT = np.zeros((256, 1, 3), np.uint8)  # the palette as an OpenCV per-channel look-up table
_PALETTE_LUT[:4, 0] = PALETTE
MIN_SPLIT = 0.25  # each region after sealing one passage holds at least this fraction of the cells


@dataclass(frozen=True)
class MazeGeometry(Params):
    """The grid-maze geometry shared by ``maze-v1`` and ``maze-path-v1``."""

    size: int | None = 64  # image side, px; None: cell_px * (2 * cells + 1) + 2 (Bansal et al.'s layout)
    cells: int = 9  # cells per side (the paper's "n x n maze" has n = 2 * cells - 1 grid units)
    cell_px: int | None = None  # px per grid unit (cell or wall); None: the largest that fits `size` (2 if size=None)

    def __post_init__(self) -> None:
        check_range("cells", self.cells, 3, 200)
        if self.cell_px is not None:
            check_range("cell_px", self.cell_px, 1, 64)
        if self.size is not None:
            check_range("size", self.size, MIN_SIZE, MAX_SIZE)
        layout(self)  # raises ParamError when the maze cannot fit


@dataclass(frozen=True)
class MazeParams(MazeGeometry):
    """Parameters of ``maze-v1``."""

    loops: float = 0.0  # fraction of the walls inside each region knocked through after DFS (0 = perfect maze)

    def __post_init__(self) -> None:
        check_range("loops", self.loops, 0.0, 1.0)
        super().__post_init__()


def layout(p: MazeGeometry) -> tuple[int, int, int]:
    """(image side px, px per grid unit, offset px of the maze's top-left corner) for ``p``.

    Example
    -------
    >>> layout(MazeParams(size=None, cells=5))
    (24, 2, 1)
    """
    units = 2 * p.cells + 1
    if p.size is None:
        u = p.cell_px or 2
        size = u * units + 2
        if size > MAX_SIZE:
            raise ParamError(f"maze: cells={p.cells} with cell_px={u} needs size={size} px > {MAX_SIZE}")
        return size, u, 1
    u = p.cell_px if p.cell_px is not None else (p.size - 2) // units
    need = max(u, 1) * units + 2
    if u < 1 or need > p.size:
        raise ParamError(f"maze: cells={p.cells} (cell_px={max(u, 1)}) needs size >= {need} px, got size={p.size}; "
                         f"expected cells <= {max((p.size - 2) // max(u, 1) - 1, 0) // 2}")
    return p.size, u, (p.size - u * units) // 2


@functools.lru_cache(maxsize=64)
def _grid_neighbours(n: int) -> tuple[tuple[int, ...], ...]:
    """Per cell of the n x n grid, its neighbours in the order up, down, left, right (those that exist)."""
    N = n * n
    return tuple(tuple(c + d for d, ok in ((-n, c >= n), (n, c < N - n), (-1, c % n > 0), (1, c % n < n - 1)) if ok)
                 for c in range(N))


def carve(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Recursive-backtracker spanning tree of the n x n grid: (parent (n*n,), preorder (n*n,)) cell indices.

    ``maze-v1``'s carver: an iterative depth-first search over Python lists that picks each step's unvisited
    neighbour with one uniform draw (~1 us per cell; :func:`carve_dfs` is ``maze-v2``'s vectorised one);
    ``parent[root] = -1``.
    """
    N = n * n
    nbrs = _grid_neighbours(n)
    draws = rng.random(2 * N).tolist()
    visited = bytearray(N)
    parent = [-1] * N
    root = int(rng.integers(N))
    visited[root] = 1
    order, stack, k = [root], [root], 0
    push, pop = stack.append, stack.pop
    while stack:
        c = stack[-1]
        free = [x for x in nbrs[c] if not visited[x]]
        if not free:
            pop()
            continue
        x = free[int(draws[k] * len(free))]
        k += 1
        visited[x] = 1
        parent[x] = c
        order.append(x)
        push(x)
    return np.array(parent), np.array(order)


# The 24 orders of a cell's four neighbours; one drawn per cell makes a depth-first search randomised.
_PERMUTATIONS = np.array(list(itertools.permutations(range(4))), np.int64)


@functools.lru_cache(maxsize=16)
def _neighbour_orders(n: int) -> np.ndarray:
    """(n*n*24, 4) int32: row 24 c + k lists cell c's neighbours (up, down, left, right) in the k-th of the 24
    orders; the cell itself stands in for a neighbour off the grid (a self-loop, which a search skips as visited)."""
    c = np.arange(n * n)
    table = np.stack([c - n, c + n, c - 1, c + 1], 1)
    edge = np.stack([c < n, c >= n * n - n, c % n == 0, c % n == n - 1], 1)
    table[edge] = np.broadcast_to(c[:, None], table.shape)[edge]
    orders = table[:, _PERMUTATIONS].reshape(-1, 4).astype(np.int32)
    orders.flags.writeable = False  # shared by every call (cached)
    return orders


@functools.lru_cache(maxsize=16)
def _graph_template(n_cells: int) -> csr_matrix:
    """A 4-neighbour graph's fixed parts (row pointers, unit weights), validated once per grid size."""
    indptr = np.arange(0, 4 * n_cells + 1, 4, dtype=np.int32)
    return csr_matrix((np.ones(4 * n_cells), np.zeros(4 * n_cells, np.int32), indptr), shape=(n_cells, n_cells))


def grid_graph(indices: np.ndarray) -> csr_matrix:
    """Directed graph whose cell ``c`` lists its 4 neighbours ``indices[4c : 4c + 4]`` (int32) in search order.

    A shallow copy of a cached template with its own ``indices`` (scipy's constructor re-validates every array,
    ~14 us, twice a trial); the searches only read the shared row pointers and weights.
    """
    g = copy.copy(_graph_template(len(indices) // 4))
    g.indices = np.asarray(indices, np.int32)
    for cached in ("_has_sorted_indices", "_has_canonical_format"):  # facts about the template's indices
        g.__dict__.pop(cached, None)
    return g


def carve_dfs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``maze-v2``'s recursive backtracker, vectorised: (parent (n*n,), preorder (n*n,)); ``parent[root] = -1``.

    The backtracker steps from the current cell to a uniformly random unvisited neighbour and backs up when there
    is none. Drawing one uniform order of the four neighbours per cell up front and letting a depth-first search
    take, at every step, the first unvisited neighbour in that order gives the same distribution of mazes (the
    first unvisited entry of a uniform order is uniform among the unvisited), and the search runs in C
    (``scipy.sparse.csgraph.depth_first_order``, which takes each row's neighbours in stored order).
    """
    N = n * n
    indices = _neighbour_orders(n)[np.arange(0, 24 * N, 24) + rng.integers(24, size=N)].ravel()  # (4 N,)
    root = int(rng.integers(N))
    preorder, parent = depth_first_order(grid_graph(indices), root, directed=True, return_predecessors=True)
    parent = parent.astype(np.int64)
    parent[root] = -1
    return parent, preorder.astype(np.int64)


def subtree_sizes(parent: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Cells in each cell's subtree (itself included), summed in reverse preorder (Python lists: ~0.1 us a cell)."""
    sub = [1] * len(parent)
    par = parent.tolist()
    for c in order[:0:-1].tolist():
        sub[par[c]] += sub[c]
    return np.array(sub, np.int64)


def passage_graph(right: np.ndarray, down: np.ndarray) -> csr_matrix:
    """The open passages as a graph whose cells list neighbours right, left, down, up (``Maze._path``'s order)."""
    n = down.shape[1]
    c = np.arange(n * n).reshape(n, n)
    nb = np.repeat(c[:, :, None], 4, 2)  # self-loops where walled
    nb[:, :-1, 0] = np.where(right, c[:, 1:], c[:, :-1])
    nb[:, 1:, 1] = np.where(right, c[:, :-1], c[:, 1:])
    nb[:-1, :, 2] = np.where(down, c[1:], c[:-1])
    nb[1:, :, 3] = np.where(down, c[:-1], c[1:])
    return grid_graph(nb.ravel().astype(np.int32))


def route(pred: np.ndarray, s: int, g: int) -> list[int]:
    """Cells from ``s`` to ``g`` following a search's predecessor array back from ``g``."""
    pred_l = pred.tolist()
    path = [g]
    while path[-1] != s:
        path.append(pred_l[path[-1]])
    return path[::-1]


def upscale(grid: np.ndarray, u: int) -> np.ndarray:
    """uint8 or bool ``grid`` (k, k) or (k, k, 3) with every entry repeated into a u x u block, as ``np.repeat``
    twice (OpenCV's nearest-neighbour resize by an integer factor copies exactly, ~5x faster)."""
    k = grid.shape[0]
    if u == 1:
        return grid
    out = cv2.resize(grid.view(np.uint8), (k * u, k * u), interpolation=cv2.INTER_NEAREST_EXACT)
    return out.view(grid.dtype)


def draw_units(units: np.ndarray, size: int, u: int, off: int) -> np.ndarray:
    """RGB image of a unit grid (0 wall, 1 corridor, 2 start, 3 goal), ``u`` px per unit, corner at ``off`` px."""
    img = np.zeros((size, size, 3), np.uint8)
    span = u * units.shape[0]
    rgb = cv2.LUT(cv2.cvtColor(units, cv2.COLOR_GRAY2RGB), _PALETTE_LUT)  # PALETTE[units], 2x faster at 64 px
    img[off : off + span, off : off + span] = upscale(rgb, u)
    return img


def passage_grids(parent: np.ndarray, n: int, skip: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Open passages of a spanning tree: ``right`` (n, n-1) between (r, c)-(r, c+1), ``down`` (n-1, n) between
    (r, c)-(r+1, c); the passage from cell ``skip`` to its parent stays walled."""
    N = n * n
    right = np.zeros((n, n - 1), bool)
    down = np.zeros((n - 1, n), bool)
    child = np.flatnonzero((parent >= 0) & (np.arange(N) != skip))
    a, b = np.minimum(child, parent[child]), np.maximum(child, parent[child])
    horiz = b - a == 1
    right[a[horiz] // n, a[horiz] % n] = True
    down[a[~horiz] // n, a[~horiz] % n] = True
    return right, down


def unit_grid(right: np.ndarray, down: np.ndarray) -> np.ndarray:
    """(2n+1, 2n+1) uint8 grid of units: cells and open passages 1, walls 0."""
    n = down.shape[1]
    units = np.zeros((2 * n + 1, 2 * n + 1), np.uint8)
    units[1::2, 1::2] = 1
    units[1::2, 2:-1:2] = right
    units[2:-1:2, 1::2] = down
    return units


@register_family
class Maze(StimulusFamily):
    """A grid maze with a green and a red cell: is there a path between them? (Bansal et al. 2022).

    Label 1 ("yes") = connected. ``meta``: ``markers`` [[row, col], [row, col]] centre pixels of the green and
    red cells, ``cells``, ``cell_px``, ``offset`` (px of the maze's corner), ``start``/``goal`` [row, col] cells,
    ``path`` (cells from start to goal, shortest, when connected; else []).

    Example
    -------
    >>> from preattentive import stimuli
    >>> t = stimuli.make("maze", size=None, cells=5, seed=0).trial(1)
    >>> t.image.shape, t.answer
    ((24, 24, 3), 'yes')
    """

    id = "maze-v1"
    citation = ("Bansal et al. 2022, NeurIPS (End-to-end algorithm synthesis with recurrent networks); "
                "Schwarzschild et al. 2021, NeurIPS Datasets & Benchmarks (easy-to-hard mazes)")
    ParamsType = MazeParams
    # Easy -> hard: larger mazes (the paper's 9x9, 13x13, 17x17, 25x25, 33x33, 45x45, 57x57 grids); all fit a
    # 64 px image at >= 1 px per unit. Loops (a separate knob) lower dead-end density and open more routes.
    ladder = tuple({"cells": c} for c in (5, 7, 9, 13, 17, 23, 29))
    difficulty_keys = ("cells", "loops")
    _carve = staticmethod(carve)  # maze-v2: carve_dfs

    def _params_for_rung(self, k: int) -> Params:
        if not self.params.mix_levels:  # rungs are only drawn from with mix_levels; a small size may not fit them
            return self.params
        p = dataclasses.replace(self.params, **self.ladder[k])
        if self.params.size is None:  # one image size for the whole set
            biggest = max((dataclasses.replace(self.params, **r, mix_levels=False) for r in self.ladder),
                          key=lambda q: q.cells)
            p = dataclasses.replace(p, size=layout(biggest)[0], cell_px=layout(biggest)[1])
        return p

    def _check(self, t: Trial, p: Params) -> None:
        super()._check(t, dataclasses.replace(p, size=layout(p)[0]))

    def _make(self, rng: np.random.Generator, label: int, p: Params) -> Trial:
        assert isinstance(p, MazeParams)
        n, N = p.cells, p.cells * p.cells
        size, u, off = layout(p)
        parent, order = self._carve(rng, n)
        # Seal one tree passage, splitting the cells into two regions of >= MIN_SPLIT of the cells each.
        # Subtree sizes by reverse preorder; a subtree is a contiguous run of the preorder.
        sub = subtree_sizes(parent, order)
        balance = np.minimum(sub, N - sub)
        balance[order[0]] = -1  # the root has no passage to its parent
        ok = np.flatnonzero(balance >= MIN_SPLIT * N)
        cut = int(rng.choice(ok)) if len(ok) else int(np.argmax(balance))
        pos = np.empty(N, np.int64)
        pos[order] = np.arange(N)
        region = ((pos >= pos[cut]) & (pos < pos[cut] + sub[cut])).astype(np.int64)  # 1 = cut-off subtree
        # Open passages: tree edges except the sealed one, plus loops inside each region.
        right, down = passage_grids(parent, n, skip=cut)
        if p.loops > 0:
            reg = region.reshape(n, n)
            for grid, same in ((right, reg[:, :-1] == reg[:, 1:]), (down, reg[:-1] == reg[1:])):
                walls = np.flatnonzero(~grid & same)
                k = int(round(p.loops * len(walls)))
                grid.flat[rng.choice(walls, k, replace=False)] = True
        # Markers: the first uniformly; the second in the region the label asks for, nearest a label-free
        # distance (that of a uniformly random cell) so both classes share one distance distribution.
        s = int(rng.integers(N))
        other = int(rng.integers(N))
        d_star = float(np.hypot(other // n - s // n, other % n - s % n))
        allowed = np.flatnonzero((region == region[s]) == bool(label))
        allowed = allowed[allowed != s]
        rr, cc = np.divmod(allowed, n)
        err = np.abs(np.hypot(rr - s // n, cc - s % n) - d_star) + rng.random(len(allowed)) * 1e-3  # random ties
        g = int(allowed[np.argmin(err)])
        path = self._path(right, down, s, g) if label else []
        # Pixels: units (2r+1, 2c+1) are cells; (2r+1, 2c+2) / (2r+2, 2c+1) the passages right / down.
        units = unit_grid(right, down)
        (sr, sc), (gr, gc) = divmod(s, n), divmod(g, n)
        units[2 * sr + 1, 2 * sc + 1], units[2 * gr + 1, 2 * gc + 1] = 2, 3
        centre = lambda r, c: [off + u * (2 * r + 1) + u // 2, off + u * (2 * c + 1) + u // 2]  # noqa: E731
        return Trial(
            image=draw_units(units, size, u, off),
            label=label,
            question="Is there a path through the maze from the green square to the red square?",
            choices=("no", "yes"),
            prompts=("a maze where the green and red squares are not connected",
                     "a maze where a path connects the green and red squares"),
            difficulty={"cells": n, "loops": p.loops, "grid": 2 * n - 1},
            meta={"markers": [centre(sr, sc), centre(gr, gc)], "cells": n, "cell_px": u, "offset": off,
                  "start": [sr, sc], "goal": [gr, gc], "path": [list(divmod(c, n)) for c in path]},
        )

    @staticmethod
    def _path(right: np.ndarray, down: np.ndarray, s: int, g: int) -> list[int]:
        """Shortest cell path s -> g through open passages (breadth-first search, neighbours right, left, down, up;
        in C: ``scipy.sparse.csgraph.breadth_first_order`` takes each row's neighbours in stored order)."""
        _, pred = breadth_first_order(passage_graph(right, down), s, directed=True, return_predecessors=True)
        return route(pred, s, g)


@register_family
class MazeV2(Maze):
    """maze-v2: ``maze-v1`` (same design, parameters, ladder and meta) with mazes carved in C.

    The recursive backtracker is run as a depth-first search over a random neighbour order per cell
    (:func:`carve_dfs`): the same distribution of mazes, other mazes for a given seed, and ~10x faster at 29 x 29
    cells, where v1's Python carver took most of a trial's time. v1 stays available, byte for byte, as ``maze-v1``.
    """

    id = "maze-v2"
    _carve = staticmethod(carve_dfs)
