"""figure-ground-v1: a figure of orthogonal line segments in a line-segment texture (Lamme 1995; Poort 2012)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from preattentive.stimuli import register_family
from preattentive.stimuli.base import Params, ParamError, StimulusFamily, Trial, check_choice, check_range
from preattentive.stimuli.hard_boundary import MAX_HALF_EXTENT, SHAPES, shape_contains, shape_mask
from preattentive.stimuli.render import blank, draw_segments

TASKS = ("presence", "location", "shape")
# Label order pairs diagonal quadrants (items 2k, 2k+1 get labels 0/1 or 2/3), so the two figures of a
# location pair never overlap: one's figure site is pure ground in the other.
QUADRANTS = ("top left", "bottom right", "top right", "bottom left")
_QUAD_RC = ((0, 0), (1, 1), (0, 1), (1, 0))  # (row half, col half) of each quadrant
BACKGROUND, INK = 255, 0  # black line elements on white (polarity is immaterial to the design)
MAX_TRIES = 100  # layout redraws before giving up (a ParamError names the too-small figure)
MIN_FIGURE_SEGMENTS = 3  # a figure holds at least this many segments
MIN_SHAPE_DIFF = 3  # shape task: any two shapes at the drawn centre differ in >= this many segments
MIN_LENGTH = 3.0  # px: shorter segments have no readable orientation on the pixel grid
MIN_SPACING = 4.0  # px between texture elements: below this a 1-px segment has no readable orientation


@dataclass(frozen=True)
class FigureGroundParams(Params):
    """Parameters of ``figure-ground-v1`` (lengths as fractions of the image side unless stated)."""

    task: str = "presence"  # presence (is there a figure?) | location (which quadrant) | shape (which of SHAPES)
    shape: str = "square"  # figure shape for the presence and location tasks (shape task: the label decides)
    figure_size: float = 0.45  # equal-area circle's diameter, fraction of the image side (location: of the quadrant's)
    orientation_contrast: float = 90.0  # deg between figure and ground segments (orientations 90 -+ contrast / 2)
    cells: int | None = None  # texture elements per image side; None -> min(12 (presence) or 16, size // 4)
    length: float = 0.8  # segment length, fraction of the element spacing
    jitter: float = 0.0  # element position jitter, uniform +- this fraction of the spacing (each axis)
    orientation_jitter: float = 0.0  # per-segment orientation jitter, uniform +- deg (<= orientation_contrast / 6)
    # In px, for in-silico physiology (receptive fields have fixed sizes in px whatever the image size): a pair
    # shares its segments inside the figure, so figure_px bounds the largest receptive field that can be
    # contained (the default 0.45 gives ~10 px of shared texture at 32 px, ~20 at 64 px).
    figure_px: float | None = None  # equal-area circle diameter, px; None: figure_size x size (or x quadrant)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("size", self.size, 32, 448)
        check_choice("task", self.task, TASKS)
        check_choice("shape", self.shape, SHAPES)
        check_range("figure_size", self.figure_size, 0.2, 0.6)
        check_range("orientation_contrast", self.orientation_contrast, 20.0, 90.0)
        if self.cells is not None:
            check_range("cells", self.cells, 4, 112)
        check_range("length", self.length, 0.3, 1.0)
        check_range("jitter", self.jitter, 0.0, 0.3)
        check_range("orientation_jitter", self.orientation_jitter, 0.0, self.orientation_contrast / 6)
        if self.figure_px is not None:
            check_range("figure_px", self.figure_px, 4.0, self.size * (0.3 if self.task == "location" else 0.6))
        n = self.n_cells
        if self.size / n < MIN_SPACING:
            raise ParamError(f"cells={n} at size={self.size} gives {self.size / n:.1f} px per texture element; "
                             f"expected cells <= {int(self.size // MIN_SPACING)} (>= {MIN_SPACING:g} px each)")
        if self.length * self.size / n < MIN_LENGTH:
            raise ParamError(f"length={self.length} of a {self.size / n:.1f} px spacing is "
                             f"{self.length * self.size / n:.2f} px; expected >= {MIN_LENGTH:g} px: raise length "
                             "or size")
        need = 4.5 if self.task == "shape" else 2.0  # texture elements across the figure
        across = self.diameter_px / (self.size / n)
        if across < need:
            what = (f"figure_px={self.figure_px}" if self.figure_px is not None
                    else f"figure_size={self.figure_size}")
            raise ParamError(f"{what} spans {across:.1f} texture elements (cells={n}, "
                             f"size={self.size}); expected >= {need:g} for the {self.task} task: raise figure_size, "
                             "cells or size")

    @property
    def diameter_px(self) -> float:
        """Figure diameter (equal-area circle), px; the location task's figure must fit in a quadrant."""
        if self.figure_px is not None:
            return float(self.figure_px)
        return self.figure_size * self.size * (0.5 if self.task == "location" else 1.0)

    @property
    def n_cells(self) -> int:
        if self.cells is not None:
            return int(self.cells)
        # Shapes, and figures confined to a quadrant, need a finer texture to be told apart / seen.
        return min(12 if self.task == "presence" else 16, self.size // 4)


def _ground_probe(mask: np.ndarray, fallback: np.ndarray) -> list[int]:
    """The ground pixel farthest from the figure (row, col); ``fallback`` when there is no figure."""
    if not mask.any():
        return [int(fallback[0]), int(fallback[1])]
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return [int(r), int(c)]


@register_family
class FigureGround(StimulusFamily):
    """Texture-defined figure-ground — Lamme 1995 (J Neurosci 15:1605); Poort et al. 2012 (Neuron 75:143).

    A full field of short black line segments on white, one per cell of a square grid (``cells`` per side,
    positions jittered by ``jitter``); ground segments at one orientation, figure segments at the other
    (90 -+ ``orientation_contrast`` / 2 deg, counter-clockwise from horizontal: 45 and 135 deg at full
    contrast; the two are mirror images about the vertical, so both textures have identical pixel statistics).
    ``meta["condition"]`` is ``"standard"`` (figure 90 + c/2, i.e. 135 deg, on 45 deg ground, Lamme's display),
    ``"swapped"`` (figure/ground orientations exchanged, Lamme's control) or ``"homogeneous"`` (no figure).

    Honest textures: every cell holds exactly one whole segment of the same length, and a segment belongs to
    the figure iff its CENTRE lies in the figure (exact geometry). Segments are never clipped at the figure
    border, since clipping would leave shorter segments (less ink) along the boundary: a luminance/density
    cue. So segment density and mean luminance are the same inside and outside; only orientation differs.

    Tasks (``task``): ``presence`` (default; label 0 "no" = homogeneous texture, 1 "yes" = figure present),
    ``location`` (which quadrant holds the figure; the figure lies wholly inside it and ``figure_size`` is a
    fraction of the quadrant's side), ``shape`` (circle, square, triangle, diamond, all of equal area, so area
    and segment count do not give the answer away; every other shape at the drawn centre and size would claim
    >= 3 different segments, else the layout is redrawn). Location and shape default to a finer texture
    (16 elements per side) and need >= 48 / 64 px.

    Pairs for the physiology analysis (``group_size = 2``): items 2k and 2k+1 share segment positions,
    orientation jitter and geometry (``meta["pair_id"] = k``, ``meta["member"]`` 0 or 1). In the presence task,
    item 2k is the homogeneous texture in the orientation of item 2k+1's figure: at the figure's location the
    segments are identical, figure in one trial and ground in the other (Lamme 1995's comparison). In the
    location and shape tasks item 2k+1 has the figure/ground orientations of item 2k swapped; in the location
    task the two figures sit in diagonally opposite quadrants, so the texture at item 2k's
    ``probes["center"]`` is figure in item 2k and ground of the same orientation, with the same segments, in
    item 2k+1 (Poort et al. 2012's figure-in-RF vs figure-elsewhere comparison).

    Meta: ``mask`` bool (H, W) figure pixels (all False when absent), ``present``, ``center`` [row, col],
    ``bbox`` [r0, c0, r1, c1] (exclusive ends) and ``diameter`` px (equal-area circle) of the figure (of the
    partner's figure when absent), ``probes`` {``center``, ``edge``, ``ground``}: receptive-field positions
    [row, col] (edge: the figure's leftmost pixel on the centre row; ground: the pixel farthest from the
    figure), ``condition``, ``figure_orientation``/``ground_orientation`` deg, ``shape``, ``quadrant``,
    ``cells``, ``spacing`` px, ``assignment`` ("centre"), ``segments`` (float32 (N, 2) segment centres
    [row, col] px, for checkers), ``pair_id``, ``member``.

    Example
    -------
    >>> from preattentive import stimuli
    >>> gen = stimuli.make("figure-ground", seed=0, task="location")
    >>> a, b = gen.trial(0), gen.trial(1)  # a pair: figure site of `a` is ground of the same orientation in `b`
    >>> a.answer, b.answer, a.meta["figure_orientation"] == b.meta["ground_orientation"]
    ('top left', 'bottom right', True)
    """

    id = "figure-ground-v1"
    citation = "Lamme 1995, J. Neurosci. 15:1605; Poort et al. 2012, Neuron 75:143"
    ParamsType = FigureGroundParams
    n_classes = 2
    group_size = 2
    ladder = (
        dict(figure_size=0.5, orientation_contrast=90.0, length=0.85, jitter=0.0, orientation_jitter=0.0),
        dict(figure_size=0.45, orientation_contrast=90.0, length=0.8, jitter=0.1, orientation_jitter=0.0),
        dict(figure_size=0.45, orientation_contrast=60.0, length=0.8, jitter=0.15, orientation_jitter=4.0),
        dict(figure_size=0.4, orientation_contrast=50.0, length=0.75, jitter=0.2, orientation_jitter=5.0),
        dict(figure_size=0.35, orientation_contrast=40.0, length=0.75, jitter=0.2, orientation_jitter=5.0),
    )
    difficulty_keys = ("figure_size", "orientation_contrast", "cells", "length", "jitter", "orientation_jitter")

    def __init__(self, params: Params | None = None, *, seed: int = 0) -> None:
        super().__init__(params, seed=seed)
        # The label set depends on the task; labels stay balanced because each count is even (pairs intact).
        self.n_classes = {"presence": 2, "location": len(QUADRANTS), "shape": len(SHAPES)}[self.params.task]

    def trial(self, index: int) -> Trial:
        t = super().trial(index)
        t.meta["pair_id"], t.meta["member"] = index // self.group_size, index % self.group_size
        return t

    def _make(self, rng: np.random.Generator, label: int, p: Params) -> Trial:
        assert isinstance(p, FigureGroundParams)
        S, n = p.size, p.n_cells
        s = S / n  # element spacing, px
        d = p.diameter_px  # figure size (equal-area circle diameter), px
        member = label % 2  # which item of the pair; every draw below is made by both members, in this order
        a, b = 90.0 - p.orientation_contrast / 2, 90.0 + p.orientation_contrast / 2  # deg; b on a = "standard"
        ext = MAX_HALF_EXTENT * d + s / 2  # px from the figure centre to keep free of the image border
        bands = ((ext, S / 2 - ext), (S / 2 + ext, S - ext))  # location: figure centre range per half (inside it)
        ticks = (np.arange(n) + 0.5) * s - 0.5  # grid in pixel coordinates (pixel centres at integers)
        grid = np.stack(np.meshgrid(ticks, ticks, indexing="ij"), -1).reshape(-1, 2)  # (n*n, 2)
        # --- shared draws: both members of a pair make exactly these draws, in this order, whatever their label.
        for _ in range(MAX_TRIES):
            standard_first = rng.random() < 0.5
            fig_centre = rng.uniform(ext, S - ext, size=2) - 0.5
            u = rng.random((len(QUADRANTS), 2))
            quad_centres = np.array([[bands[hr][0] + u[q, 0] * (bands[hr][1] - bands[hr][0]),
                                      bands[hc][0] + u[q, 1] * (bands[hc][1] - bands[hc][0])]
                                     for q, (hr, hc) in enumerate(_QUAD_RC)]) - 0.5
            seg = grid + rng.uniform(-p.jitter * s, p.jitter * s, size=grid.shape) if p.jitter > 0 else grid
            seg = seg.astype(np.float32).astype(np.float64)  # exactly the float32 centres stored in meta
            ori_jit = rng.uniform(-p.orientation_jitter, p.orientation_jitter, size=len(seg))  # deg
            # Candidate figures of this pair's task: segment membership by CENTRE (exact geometry), (K, n*n).
            if p.task == "shape":
                cand = np.stack([shape_contains(sh, fig_centre, d, seg) for sh in SHAPES])
            elif p.task == "location":
                cand = np.stack([shape_contains(p.shape, qc, d, seg) for qc in quad_centres])
            else:
                cand = shape_contains(p.shape, fig_centre, d, seg)[None]
            ok = cand.sum(1).min() >= MIN_FIGURE_SEGMENTS
            if p.task == "shape":  # every other shape must claim a different set of >= MIN_SHAPE_DIFF segments
                ham = (cand[:, None] != cand[None]).sum(-1) + MIN_SHAPE_DIFF * np.eye(len(SHAPES), dtype=int)
                ok &= ham.min() >= MIN_SHAPE_DIFF
            if ok:
                break
        else:
            raise ParamError(f"figure_size={p.figure_size} with cells={n}: no unambiguous layout in {MAX_TRIES} "
                             "draws; raise figure_size or cells")
        # --- this member
        fig_ori, gnd_ori = (b, a) if standard_first else (a, b)
        if p.task != "presence" and member == 1:
            fig_ori, gnd_ori = gnd_ori, fig_ori  # the swapped-orientation control
        shape, quadrant, centre_px, in_fig = p.shape, None, fig_centre, cand[0]
        if p.task == "location":
            quadrant, centre_px, in_fig = label, quad_centres[label], cand[label]
        elif p.task == "shape":
            shape, in_fig = SHAPES[label], cand[label]
        present = not (p.task == "presence" and label == 0)
        mask = shape_mask(S, shape, centre_px, d)
        if not present:
            in_fig = np.zeros_like(in_fig)
        angles = np.where(in_fig, fig_ori, gnd_ori if present else fig_ori) + ori_jit
        img = blank(S, BACKGROUND)
        draw_segments(img, seg, np.deg2rad(angles), p.length * s, (INK,) * 3, thickness=max(1, round(s / 6)))

        rr, cc = np.nonzero(mask)
        ci = np.clip(np.rint(centre_px).astype(int), 0, S - 1)
        row_cols = np.nonzero(mask[ci[0]])[0]
        edge = [int(ci[0]), int(row_cols[0])] if len(row_cols) else [int(ci[0]), int(ci[1])]
        meta: dict[str, Any] = {
            "mask": mask if present else np.zeros_like(mask),
            "present": present,
            "center": [float(centre_px[0]), float(centre_px[1])],  # unrounded: membership is decided on it
            "diameter": float(d),
            "bbox": [int(rr.min()), int(cc.min()), int(rr.max()) + 1, int(cc.max()) + 1],
            "probes": {"center": [int(ci[0]), int(ci[1])], "edge": edge, "ground": _ground_probe(mask, ci)},
            "condition": ("homogeneous" if not present else "standard" if fig_ori == b else "swapped"),
            "figure_orientation": fig_ori if present else None, "ground_orientation": gnd_ori if present else fig_ori,
            "shape": shape, "quadrant": QUADRANTS[quadrant] if quadrant is not None else None,
            "cells": n, "spacing": round(s, 4), "assignment": "centre",
            "segments": seg.astype(np.float32),  # (n*n, 2) segment centres [row, col] px, for checkers
        }
        size = p.figure_size if p.figure_px is None else round(d / (S * (0.5 if p.task == "location" else 1.0)), 4)
        difficulty = {"figure_size": size, "orientation_contrast": p.orientation_contrast, "cells": n,
                      "length": p.length, "jitter": p.jitter, "orientation_jitter": p.orientation_jitter}
        lines = "a texture of oriented lines"
        if p.task == "presence":
            question = ("Is there a figure in this texture, a region whose lines are oriented differently from the "
                        "rest? Answer yes or no.")
            choices, prompts = ("no", "yes"), (f"a uniform {lines[2:]}", f"{lines} with a {p.shape} figure")
        elif p.task == "location":
            question = ("Where is the figure made of differently oriented lines: top left, top right, bottom left "
                        "or bottom right?")
            choices, prompts = QUADRANTS, tuple(f"{lines} with a figure in the {q}" for q in QUADRANTS)
        else:
            question = ("What shape is the figure made of differently oriented lines: a circle, a square, a "
                        "triangle or a diamond?")
            choices, prompts = SHAPES, tuple(f"{lines} with a {s_} shaped figure" for s_ in SHAPES)
        return Trial(image=img, label=label, question=question, choices=choices, prompts=prompts,
                     difficulty=difficulty, meta=meta)
