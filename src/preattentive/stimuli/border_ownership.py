"""border-ownership-v1: which side owns the edge in a fixed probe window (Zhou, Friedman & von der Heydt 2000)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from preattentive.stimuli import register_family
from preattentive.stimuli.base import Params, ParamError, StimulusFamily, Trial, check_choice, check_range

VARIANTS = ("square", "overlap", "c-shape")
SIDES = ("left", "right")
MARGIN = 1  # px kept free between every figure and the image border, and around the window inside an edge


@dataclass(frozen=True)
class BorderOwnershipParams(Params):
    """Parameters of ``border-ownership-v1`` (lengths as fractions of the image side unless stated)."""

    variant: str = "square"  # square | overlap (which of two squares is in front) | c-shape (edge inside a C's notch)
    figure_size: float = 0.3  # side of the square (outer side of the C), fraction of the image side
    contrast: float = 0.5  # grey difference across the probed edge, fraction of full range (overlap: square vs square)
    window: float = 0.1  # side of the square probe window centred on the edge, fraction of the image side
    # In px, for in-silico physiology, where receptive fields have fixed sizes in px whatever the image size: a
    # pair's pixels agree on the figure's rows x twice its side around the edge, so figure_px bounds the largest
    # receptive field that can be contained (the default rung's 0.3 gives 10 px at 32 px, 19 px at 64 px).
    figure_px: int | None = None  # square side (the C's outer side), px; None: figure_size x size
    window_px: int | None = None  # probe-window side, px (even); None: window x size

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("size", self.size, 32, 448)
        check_choice("variant", self.variant, VARIANTS)
        check_range("figure_size", self.figure_size, 0.1, 0.45)
        check_range("contrast", self.contrast, 0.02, 0.8)
        check_range("window", self.window, 0.04, 0.2)
        if self.figure_px is not None:
            check_range("figure_px", self.figure_px, 4, self.size // 2 - MARGIN)
        if self.window_px is not None:
            check_range("window_px", self.window_px, 4, self.size // 2)
        if self.variant == "overlap" and self.contrast > 0.5:
            raise ParamError(f"contrast={self.contrast}: expected <= 0.5 for the overlap variant (both squares must "
                             "stay distinct from the ground)")
        g = self.geometry()
        if g["free"] < 0 and self.figure_px is not None:
            raise ParamError(f"figure_px={self.figure_px} at size={self.size}: the {self.variant} variant needs "
                             f"{g['need']} px of edge around the {g['win']} px window but the figure gives "
                             f"{g['have']}; expected a larger figure_px or a smaller window")
        if g["free"] < 0:
            fits = [self._geometry(f / 100)["free"] >= 0 for f in range(10, 46)]
            lo = next((i for i in range(len(fits)) if all(fits[i:])), None)  # every size from here up fits
            hint = (f"expected figure_size >= {(10 + lo) / 100:.2f}" if lo is not None
                    else "expected a larger size or a smaller window")
            raise ParamError(f"figure_size={self.figure_size} at size={self.size}: the {self.variant} variant needs "
                             f"{g['need']} px of edge around the {g['win']} px window but the figure gives "
                             f"{g['have']}; {hint}")

    def geometry(self) -> dict[str, int]:
        """Integer geometry (px): window half-width, figure side, the probed edge's length and the slack."""
        return self._geometry(self.figure_size)

    def _geometry(self, figure_size: float) -> dict[str, int]:
        S = self.size
        w = self.window_px // 2 if self.window_px is not None else max(2, int(round(self.window * S / 2)))
        L = int(self.figure_px) if self.figure_px is not None else int(round(figure_size * S))  # square side, px
        need = 2 * w + 2 * MARGIN  # px of edge that must run past the window
        if self.variant == "c-shape":
            t = max(2, int(round(0.2 * L)))  # arm thickness of the C, px
            have = L - 2 * t  # the notch's inner edge is the probed edge
        elif self.variant == "overlap":
            t = max(1, int(round(0.2 * L)))  # smallest vertical offset between the squares, px
            have = L - t  # rows shared by both squares
        else:
            t, have = 0, L
        room = S // 2 - MARGIN  # px on each side of the edge column
        free = min(have - need, room - L)
        return {"w": w, "L": L, "t": t, "need": need, "have": have, "free": free, "win": 2 * w}


def _grey(v: float) -> int:
    return int(np.clip(round(v * 255), 0, 255))


@register_family
class BorderOwnership(StimulusFamily):
    """Border ownership — Zhou, Friedman & von der Heydt 2000 (J Neurosci 20:6594).

    A uniform figure on a uniform ground; a vertical edge of the figure runs through a fixed probe window
    centred in the image (the "receptive field"). The figure lies on one side of that edge or the other, and
    contrast polarity is reversed between them, so that items 2k (owner left) and 2k+1 (owner right) have
    IDENTICAL pixels inside the window while ownership differs — the paper's side-of-figure x polarity design
    (``group_size = 2``: a pair shares one random stream; ``meta["pair_id"] = k``). Which of the two polarities a
    pair uses is drawn per pair, so the 4 conditions (side x polarity) are balanced in expectation.

    Variants (the paper's controls): ``square``; ``overlap`` (two overlapping squares; the probed edge is the
    occluding border of the front square: which square is in front? The partner swaps the squares' greys and
    mirrors the layout); ``c-shape`` (the probed edge is the inner edge of a C's notch: the C's arms reach past
    the edge on the ground side, so local context points the wrong way and ownership needs the global shape).
    Drawn without anti-aliasing on whole pixels, so every region has one exact grey level.

    Difficulty: ``figure_size`` (larger squares put the far edges farther from the window), ``contrast``
    (square/C vs ground; for overlap: between the two squares). Meta: ``window`` [r0, c0, r1, c1] (exclusive
    ends), ``edge_col`` (first column right of the edge), ``pair_id``, ``owner_side`` ("left"/"right"),
    ``polarity`` ("light-figure"/"dark-figure"; overlap: "light-front"/"dark-front"), ``variant``, ``figures``
    (list of [r0, c0, r1, c1] boxes: the square, the C's outer box, or [front, back]), ``greys`` (figure(s),
    ground levels 0-255).

    Example
    -------
    >>> from preattentive import stimuli
    >>> gen = stimuli.make("border-ownership", seed=0)
    >>> a, b = gen.trial(0), gen.trial(1)
    >>> r0, c0, r1, c1 = a.meta["window"]
    >>> a.answer, b.answer, bool((a.image[r0:r1, c0:c1] == b.image[r0:r1, c0:c1]).all())
    ('left', 'right', True)
    """

    id = "border-ownership-v1"
    citation = "Zhou, Friedman & von der Heydt 2000, J. Neurosci. 20:6594"
    ParamsType = BorderOwnershipParams
    n_classes = 2
    group_size = 2
    ladder = (
        dict(figure_size=0.3, contrast=0.5),
        dict(figure_size=0.34, contrast=0.3),
        dict(figure_size=0.38, contrast=0.15),
        dict(figure_size=0.42, contrast=0.08),
        dict(figure_size=0.45, contrast=0.04),
    )
    difficulty_keys = ("figure_size", "contrast")

    def trial(self, index: int) -> Trial:
        t = super().trial(index)
        t.meta["pair_id"] = index // self.group_size
        return t

    def _make(self, rng: np.random.Generator, label: int, p: Params) -> Trial:
        assert isinstance(p, BorderOwnershipParams)
        S, g = p.size, p.geometry()
        w, L, t = g["w"], g["L"], g["t"]
        xe, yc = S // 2, S // 2  # edge column (first column right of the edge), window centre row
        win = (yc - w, xe - w, yc + w, xe + w)  # rows/cols, exclusive ends
        # --- shared draws (both members of a pair, same order)
        light_left = rng.random() < 0.5  # window's left half is the lighter grey
        lo_win, hi_win = win[0] - MARGIN, win[2] + MARGIN  # rows the probed edge must cover
        if p.variant == "overlap":
            back_shift = int(rng.integers(t, L - 2 * w - 2 * MARGIN + 1))  # vertical offset of the back square, px
            sign = 1 if rng.random() < 0.5 else -1  # back square lower (+1) or higher (-1)
            depth = int(rng.integers(max(1, int(0.3 * L)), L - w - MARGIN + 1))  # px of back square under the front
            dark_ground = rng.random() < 0.5
        else:
            back_shift = sign = depth = 0
            dark_ground = False
        notch_depth = int(rng.integers(max(1, int(0.4 * L)), max(2, int(0.6 * L)) + 1))  # c-shape, px
        u = rng.random()  # where the window sits along the edge
        # --- geometry for owner = left; owner = right is its mirror image about the edge
        owner = SIDES[label]
        top, bottom = MARGIN, S - MARGIN  # rows a figure may occupy
        if p.variant == "square":
            y0 = _place(u, max(hi_win - L, top), min(lo_win, bottom - L))
            boxes = [(y0, xe - L, y0 + L, xe)]
        elif p.variant == "c-shape":
            # Owner left: the C's body is left of the edge; its notch (t px arms above and below) starts at the
            # edge and opens to the right, notch_depth px beyond it.
            y0 = _place(u, max(hi_win + t - L, top), min(lo_win - t, bottom - L))
            x0 = xe + notch_depth - L
            boxes = [(y0, x0, y0 + L, x0 + L), (y0 + t, xe, y0 + L - t, xe + notch_depth)]  # outer box, notch
        else:
            # Owner left: the front square ends at the edge; the back square, shifted down (sign +1) or up by
            # back_shift px, reaches depth px under the front one, so its visible part is an L, never a rectangle.
            if sign > 0:
                top_f = _place(u, max(hi_win - L, top), min(lo_win - back_shift, bottom - L - back_shift))
            else:
                top_f = _place(u, max(hi_win - L + back_shift, top + back_shift), min(lo_win, bottom - L))
            top_b = top_f + sign * back_shift
            boxes = [(top_f, xe - L, top_f + L, xe), (top_b, xe - depth, top_b + L, xe - depth + L)]  # front, back
        if owner == "right":
            boxes = [(r0, 2 * xe - c1, r1, 2 * xe - c0) for r0, c0, r1, c1 in boxes]
        # --- greys: the window's two halves never change within a pair
        c = p.contrast
        if p.variant == "overlap":
            mid = 0.62 if dark_ground else 0.38
            left_v, right_v = (mid + c / 2, mid - c / 2) if light_left else (mid - c / 2, mid + c / 2)
            ground = 0.12 if dark_ground else 0.88
        else:
            left_v, right_v = (0.5 + c / 2, 0.5 - c / 2) if light_left else (0.5 - c / 2, 0.5 + c / 2)
        left_g, right_g = _grey(left_v), _grey(right_v)
        fig_g, other_g = (left_g, right_g) if owner == "left" else (right_g, left_g)
        if p.variant == "overlap":
            ground_g = _grey(ground)
            img = np.full((S, S), ground_g, np.uint8)
            (fr0, fc0, fr1, fc1), (br0, bc0, br1, bc1) = boxes
            img[br0:br1, bc0:bc1] = other_g  # back square first, then the occluding front square
            img[fr0:fr1, fc0:fc1] = fig_g
            greys = {"front": fig_g, "back": other_g, "ground": ground_g}
            figures = [list(boxes[0]), list(boxes[1])]
            polarity = "light-front" if fig_g > other_g else "dark-front"
        else:
            img = np.full((S, S), other_g, np.uint8)
            r0, c0, r1, c1 = boxes[0]
            img[r0:r1, c0:c1] = fig_g
            if p.variant == "c-shape":
                nr0, nc0, nr1, nc1 = boxes[1]
                img[nr0:nr1, nc0:nc1] = other_g
            greys = {"figure": fig_g, "ground": other_g}
            figures = [list(boxes[0])]
            polarity = "light-figure" if fig_g > other_g else "dark-figure"
        meta: dict[str, Any] = {"window": list(win), "edge_col": xe, "owner_side": owner, "polarity": polarity,
                                "variant": p.variant, "figures": figures, "greys": greys}
        if p.variant == "overlap":
            question = ("Two squares overlap. Is the square that is in front on the left or on the right of the "
                        "edge at the centre of the image?")
            prompts = tuple(f"two overlapping squares, the {s} one in front" for s in SIDES)
        else:
            obj = "square" if p.variant == "square" else "C-shaped figure"
            question = (f"Which side of the edge at the centre of the image belongs to the {obj}: left or right?")
            prompts = tuple(f"a {obj} on the {s} of the edge at the centre" for s in SIDES)
        size = p.figure_size if p.figure_px is None else round(L / S, 4)  # what was drawn
        return Trial(image=np.repeat(img[:, :, None], 3, axis=2), label=label, question=question, choices=SIDES,
                     prompts=prompts, difficulty={"figure_size": size, "contrast": p.contrast}, meta=meta)


def _place(u: float, lo: int, hi: int) -> int:
    """An integer in [lo, hi] chosen by ``u`` in [0, 1) (the caller has clipped both to the image)."""
    assert lo <= hi, (lo, hi)
    return lo + int(u * (hi - lo + 1))
