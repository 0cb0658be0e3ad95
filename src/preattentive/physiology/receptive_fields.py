"""Receptive fields of recorded units in image pixels, per layer and time step, for the identical-pixel control.

A unit's receptive field (RF) here is the box of image pixels its response can depend on at all — not the
"effective" RF (Luo et al. 2016), which is smaller, but the exact support, because the physiology controls rest on
it: a unit whose whole RF sees identical pixels in two trials must respond identically in a feedforward sweep, so
any difference can only come from outside the RF, i.e. from lateral or top-down connections (Zhou et al. 2000;
Poort et al. 2012).

Every operation the recorded models use maps the two axes independently (square kernels, separable pooling and
resizing), so a map's RFs are two lists of intervals: for each map row the first and last image row it depends on,
and the same for columns. :class:`RFMap` holds them and has one method per operation: convolution and pooling by
kernel, stride, padding and dilation arithmetic (Araujo, Norris & Sim 2019, Distill), nearest upsampling (top-down
paths), resampling by an image processor (PIL's filter supports), unions (sums and concatenations of branches),
``globalise`` for operations that mix every position (self-attention, GroupNorm over the spatial map, sequence
scans), and :meth:`RFMap.constant` for states that depend on no pixel (a recurrent state before its first step).
Intervals are nominal — they extend past the image border where a unit's window covers zero padding — and are
clipped to the image whenever containment is tested: padding is the same constant in every trial.

The per-architecture rules that compose these operations live in :mod:`preattentive.physiology.rf_rules`;
:func:`receptive_fields` dispatches to them. A model kind without a rule is treated as seeing the whole image
(``ReceptiveFields.known`` is False): conservative, so it can never pass the control by mistake.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

_EMPTY = (np.inf, -np.inf)  # the interval of a unit that depends on no pixel


def _extend(lo: np.ndarray, hi: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spans at integer ``index`` (may lie outside ``0..n-1``): inside, the spans; outside, linear extrapolation
    from the nearest two (convolution stacks are translation-equivariant, so this is exact for them)."""
    n = len(lo)
    i = np.clip(index, 0, n - 1)
    out_lo, out_hi = lo[i].astype(float), hi[i].astype(float)
    outside = (index < 0) | (index >= n)
    if not outside.any():
        return out_lo, out_hi
    finite = np.isfinite(lo) & np.isfinite(hi)
    if n >= 2 and finite[:2].all() and finite[-2:].all():
        jump_first = ((lo[1] + hi[1]) - (lo[0] + hi[0])) / 2  # px between neighbouring units' centres
        jump_last = ((lo[-1] + hi[-1]) - (lo[-2] + hi[-2])) / 2
    else:
        jump_first = jump_last = 0.0
    before, after = index < 0, index >= n
    out_lo[before] += index[before] * jump_first
    out_hi[before] += index[before] * jump_first
    out_lo[after] += (index[after] - (n - 1)) * jump_last
    out_hi[after] += (index[after] - (n - 1)) * jump_last
    return out_lo, out_hi


@dataclass(frozen=True)
class Span:
    """The image interval each index of one map axis depends on: ``lo[i] .. hi[i]`` px, inclusive, nominal."""

    lo: np.ndarray  # (n,) float: first image pixel (inf when the unit depends on no pixel)
    hi: np.ndarray  # (n,) float: last image pixel (-inf likewise)
    image: int  # image side along this axis, px

    @classmethod
    def identity(cls, n: int) -> "Span":
        return cls(np.arange(n, dtype=float), np.arange(n, dtype=float), n)

    def __len__(self) -> int:
        return len(self.lo)

    def window(self, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, *,
               ceil_mode: bool = False, n_out: int | None = None) -> "Span":
        """Output index ``o`` reads input indices ``o * stride - padding + dilation * j``, ``j < kernel``."""
        n = len(self)
        reach = dilation * (kernel - 1) + 1
        if n_out is None:
            frac = (n + 2 * padding - reach) / stride
            n_out = (math.ceil(frac) if ceil_mode else math.floor(frac)) + 1
            if ceil_mode and (n_out - 1) * stride >= n + padding:  # PyTorch: the last window must start inside
                n_out -= 1
        if n_out < 1:
            raise ValueError(f"a {kernel}-wide window (stride {stride}, padding {padding}) on {n} positions: no output")
        idx = np.arange(n_out)[:, None] * stride - padding + dilation * np.arange(kernel)[None, :]  # (n_out, k)
        lo, hi = _extend(self.lo, self.hi, idx.ravel())
        return Span(lo.reshape(idx.shape).min(1), hi.reshape(idx.shape).max(1), self.image)

    def gather(self, index: np.ndarray) -> "Span":
        lo, hi = _extend(self.lo, self.hi, np.asarray(index, int))
        return Span(lo, hi, self.image)

    def union(self, other: "Span") -> "Span":
        if len(self) != len(other):
            raise ValueError(f"union of spans over {len(self)} and {len(other)} positions: expected equal grids")
        return Span(np.minimum(self.lo, other.lo), np.maximum(self.hi, other.hi), self.image)

    def everything(self) -> "Span":
        live = np.isfinite(self.lo)
        return Span(np.where(live, 0.0, np.inf), np.where(live, self.image - 1.0, -np.inf), self.image)

    def clipped(self) -> tuple[np.ndarray, np.ndarray]:
        """Integer ``(lo, hi)`` clipped to the image (a unit depending on no pixel gets ``lo > hi``)."""
        lo = np.clip(self.lo, 0, self.image - 1)
        hi = np.clip(self.hi, 0, self.image - 1)
        dead = ~np.isfinite(self.lo)
        return np.where(dead, 1, np.ceil(lo - 1e-9)).astype(int), np.where(dead, 0, np.floor(hi + 1e-9)).astype(int)


@dataclass(frozen=True)
class RFMap:
    """Receptive fields of every position of one ``h x w`` map: a :class:`Span` per axis.

    Example
    -------
    >>> rf = RFMap.image(32, 32).conv(3, padding=1).conv(3, stride=2, padding=1)
    >>> rf.shape, rf.side_px
    ((16, 16), 7)
    """

    rows: Span
    cols: Span
    mixed: bool = False  # True once an operation that mixes every position (attention, GroupNorm) ran

    @classmethod
    def image(cls, height: int, width: int) -> "RFMap":
        """The image itself: each pixel depends on itself."""
        return cls(Span.identity(height), Span.identity(width))

    @classmethod
    def constant(cls, like: "RFMap") -> "RFMap":
        """A map on ``like``'s grid that depends on no pixel (e.g. a recurrent state before the first step)."""
        empty = lambda s: Span(np.full(len(s), np.inf), np.full(len(s), -np.inf), s.image)  # noqa: E731
        return cls(empty(like.rows), empty(like.cols))

    @classmethod
    def whole(cls, shape: tuple[int, int], image_size: tuple[int, int]) -> "RFMap":
        """A ``shape`` map every unit of which sees the whole ``image_size`` image (an unknown model kind)."""
        span = lambda n, side: Span(np.zeros(n), np.full(n, side - 1.0), side)  # noqa: E731
        return cls(span(shape[0], image_size[0]), span(shape[1], image_size[1]), True)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.cols)

    def conv(self, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, *,
             ceil_mode: bool = False) -> "RFMap":
        """A convolution or pooling window (square ``kernel``), PyTorch's output-size rule."""
        return RFMap(self.rows.window(kernel, stride, padding, dilation, ceil_mode=ceil_mode),
                     self.cols.window(kernel, stride, padding, dilation, ceil_mode=ceil_mode), self.mixed)

    pool = conv

    def upsample_nearest(self, size: tuple[int, int]) -> "RFMap":
        """``F.interpolate(mode="nearest")`` to ``size``: output ``o`` reads input ``floor(o * n_in / n_out)``."""
        h, w = size
        idx = lambda n_in, n_out: np.floor(np.arange(n_out) * (n_in / n_out)).astype(int)  # noqa: E731
        return RFMap(self.rows.gather(idx(len(self.rows), h)), self.cols.gather(idx(len(self.cols), w)), self.mixed)

    def resample(self, size: tuple[int, int], support: float) -> "RFMap":
        """An image processor's resize to ``size`` with a filter of ``support`` input px at scale 1 (PIL:
        bicubic 2, bilinear 1, nearest 0.5); downscaling widens it by the scale factor, as PIL does."""
        def axis(span: Span, n_out: int) -> Span:
            n_in = len(span)
            scale = n_in / n_out
            reach = support * max(scale, 1.0)
            centre = (np.arange(n_out) + 0.5) * scale
            first = np.clip((centre - reach + 0.5).astype(int), 0, n_in - 1)  # PIL's precompute_coeffs bounds
            last = np.clip((centre + reach + 0.5).astype(int), 1, n_in) - 1
            lo, hi = span.lo[first], span.hi[last]
            return Span(lo, hi, span.image)

        return RFMap(axis(self.rows, size[0]), axis(self.cols, size[1]), self.mixed)

    def union(self, *others: "RFMap") -> "RFMap":
        """The map of a sum or concatenation of branches on the same grid."""
        out = self
        for o in others:
            out = RFMap(out.rows.union(o.rows), out.cols.union(o.cols), out.mixed or o.mixed)
        return out

    def globalise(self) -> "RFMap":
        """An operation over every position (self-attention, a norm over the spatial map, a sequence scan): every
        unit that depends on any pixel now depends on the whole image."""
        if not np.isfinite(self.rows.lo).any():
            return self  # normalising a constant map gives a constant map
        return RFMap(self.rows.everything(), self.cols.everything(), True)

    @property
    def side_px(self) -> int:
        """The largest nominal RF side over the map's units, px (the image side once an operation mixed every
        position; 0 when the map depends on no pixel)."""
        if self.mixed:
            return max(self.rows.image, self.cols.image)
        sides = [s.hi - s.lo + 1 for s in (self.rows, self.cols) if np.isfinite(s.lo).any()]
        return int(round(max(float(np.max(x[np.isfinite(x)])) for x in sides))) if sides else 0

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """RF-centre pixel coordinates (rows ``(h,)``, cols ``(w,)``): the middle of each nominal interval, or —
        once every position is mixed, so intervals say nothing about position — the map position's place in the
        tiling of the image (``(i + 0.5) H / h - 0.5``, a ViT patch's centre)."""
        def axis(span: Span) -> np.ndarray:
            n = len(span)
            tiling = (np.arange(n) + 0.5) * span.image / n - 0.5
            if self.mixed or not np.isfinite(span.lo).all():
                return tiling
            return (span.lo + span.hi) / 2

        return axis(self.rows), axis(self.cols)

    @property
    def covers_image(self) -> bool:
        """Whether every unit sees the whole image (after clipping to it)."""
        (r0, r1), (c0, c1) = self.rows.clipped(), self.cols.clipped()
        return bool((r0 == 0).all() and (r1 == self.rows.image - 1).all()
                    and (c0 == 0).all() and (c1 == self.cols.image - 1).all())

    def boxes(self) -> np.ndarray:
        """``(h, w, 4)`` int boxes ``[r0, c0, r1, c1]`` clipped to the image, half-open like numpy slices
        (``r1 == r0`` for a unit that depends on no pixel)."""
        (r0, r1), (c0, c1) = self.rows.clipped(), self.cols.clipped()
        h, w = self.shape
        out = np.empty((h, w, 4), int)
        out[..., 0], out[..., 2] = r0[:, None], np.maximum(r1 + 1, r0)[:, None]
        out[..., 1], out[..., 3] = c0[None, :], np.maximum(c1 + 1, c0)[None, :]
        dead = (r1 < r0)[:, None] | (c1 < c0)[None, :]
        out[dead, 2] = out[dead, 0]
        out[dead, 3] = out[dead, 1]
        return out


@dataclass
class ReceptiveFields:
    """RFs of a model's recorded maps, keyed like :class:`~preattentive.physiology.recording.Recording` maps.

    ``known`` is False when no rule exists for the model kind; then :meth:`get` answers "the whole image" for every
    layer, so no unit passes the identical-pixel control (conservative). ``notes`` says why per layer (e.g.
    "self-attention: every token sees the whole image within one sweep").
    """

    maps: dict[tuple[str, int], RFMap]
    image_size: tuple[int, int]
    known: bool = True
    notes: dict[str, str] = field(default_factory=dict)  # layer -> why its RFs are what they are

    def get(self, layer: str, step: int, shape: tuple[int, int]) -> RFMap:
        """The RFs of ``(layer, step)``; the whole image when unknown. ``shape`` is the recorded map's ``(h, w)``:
        a mismatch means the rule and the model disagree, which is an error, not something to guess around."""
        rf = self.maps.get((layer, step))
        if rf is None:
            return RFMap.whole(shape, self.image_size)
        if rf.shape != tuple(shape):
            raise ValueError(f"receptive fields of {layer!r} step {step} cover a {rf.shape} grid but the recorded map "
                             f"is {tuple(shape)}: the RF rule does not match the model")
        return rf

    def side_px(self, layer: str, step: int) -> int:
        rf = self.maps.get((layer, step))
        return int(max(self.image_size)) if rf is None else rf.side_px


# --------------------------------------------------------------------------------------------- dispatch
# kind -> rule(model, image_size, steps) -> ReceptiveFields. Rules register themselves in rf_rules.py.
RULES: dict[str, Callable[..., ReceptiveFields]] = {}


def register_rule(kind: str) -> Callable:
    """Decorator: ``@register_rule("cnn")`` makes a function the RF rule of a model kind (a net's ``arch``)."""
    def deco(fn: Callable[..., ReceptiveFields]) -> Callable[..., ReceptiveFields]:
        if kind in RULES:
            raise ValueError(f"an RF rule for {kind!r} is already registered")
        RULES[kind] = fn
        return fn
    return deco


def model_kind(model: Any) -> str:
    """The key :data:`RULES` is looked up by: a net's ``arch``, else the class name."""
    return str(getattr(model, "arch", None) or type(model).__name__)


def receptive_fields(model: Any, image_size: tuple[int, int], *, steps: int | None = None) -> ReceptiveFields:
    """The RFs of every map a model's recorder yields for ``image_size`` px stimuli, per layer and step.

    Parameters
    ----------
    model : a registered net (``arch`` cnn, vit, blt, hgru, recall, recall-ff, rvit, vlstm) or a
        :class:`~preattentive.models.clip.Clip`; other kinds get ``known=False`` (whole-image RFs).
    image_size : ``(H, W)`` px of the stimuli as recorded (before any processor resize).
    steps : time steps unrolled (None: the model's default).

    Example
    -------
    >>> from preattentive.models import make_net
    >>> rfs = receptive_fields(make_net("cnn-30k", num_classes=2, image_size=32), (32, 32))
    >>> [rfs.side_px(layer, 1) for layer in ("stem", "stage1", "stage2", "stage3")]
    [3, 7, 13, 25]
    """
    from preattentive.physiology import rf_rules  # noqa: F401  (registers the rules on first use)

    rule = RULES.get(model_kind(model))
    if rule is None:
        return ReceptiveFields({}, tuple(image_size), known=False,
                               notes={"*": f"no receptive-field rule for {model_kind(model)!r}: every unit is "
                                           "treated as seeing the whole image"})
    return rule(model, tuple(int(v) for v in image_size), steps)


def contained(boxes: np.ndarray, differs: np.ndarray) -> np.ndarray:
    """Which RF boxes see only pixels that are identical between two stimuli.

    Parameters
    ----------
    boxes : ``(h, w, 4)`` half-open ``[r0, c0, r1, c1]`` boxes (:meth:`RFMap.boxes`).
    differs : ``(K, H, W)`` bool, True where pair k's two images differ (any channel).

    Returns
    -------
    ``(K, h, w)`` bool: no differing pixel inside the box (a box over no pixel counts as contained).

    Example
    -------
    >>> d = np.zeros((1, 8, 8), bool); d[0, 0, 0] = True
    >>> b = np.array([[[0, 0, 2, 2], [0, 2, 4, 4]]])
    >>> contained(b, d)[0].tolist()
    [[False, True]]
    """
    differs = np.asarray(differs, bool)
    k, H, W = differs.shape
    sat = np.zeros((k, H + 1, W + 1), np.int64)  # summed-area table: differing pixels in [0, r) x [0, c)
    sat[:, 1:, 1:] = differs.cumsum(1).cumsum(2)
    r0, c0, r1, c1 = (boxes[..., i] for i in range(4))
    count = sat[:, r1, c1] - sat[:, r0, c1] - sat[:, r1, c0] + sat[:, r0, c0]  # (K, h, w)
    return count == 0


def example_boxes(rec: Any, point: tuple[float, float], differs: np.ndarray | None = None) -> "pd.DataFrame":  # noqa: F821
    """One unit per recorded layer — the contained one (when ``differs`` is given and any is) whose step-1 RF
    centre is nearest ``point`` (row, col px), else the nearest — with its step-1 box and RF sides, for drawing
    what "contained" means (``report.physiology_figures.rf_boxes_figure``).

    Parameters
    ----------
    rec : a :class:`~preattentive.physiology.recording.Recording`.
    point : where to look (e.g. the centre of a border-ownership pair's probe window).
    differs : ``(H, W)`` bool, where the example pair's images differ; None: ``contained`` is NaN.

    Example
    -------
    >>> example_boxes(rec, (16, 16), a.image != b.image)  # doctest: +SKIP
    """
    import pandas as pd

    rows = []
    rfs = rec.receptive_fields
    for layer in rec.layers:
        steps = rec.steps(layer)
        h, w = rec[(layer, steps[0])].shape[-2:]
        rf = rfs.get(layer, steps[0], (h, w))
        rc, cc = rf.centres()
        dist = (rc[:, None] - point[0]) ** 2 + (cc[None, :] - point[1]) ** 2  # (h, w) px^2
        boxes = rf.boxes()
        ok = None if differs is None else contained(boxes, np.asarray(differs, bool)[None])[0]
        if ok is not None and ok.any():
            dist = np.where(ok, dist, np.inf)
        i, j = (int(v) for v in np.unravel_index(int(np.argmin(dist)), dist.shape))
        r0, c0, r1, c1 = (int(v) for v in boxes[i, j])
        inside = np.nan if ok is None else bool(ok[i, j])
        rows.append({"model": rec.model, "layer": layer, "rf_px": rf.side_px,
                     "rf_px_last": rfs.get(layer, steps[-1], (h, w)).side_px, "steps": len(steps),
                     "r0": r0, "c0": c0, "r1": r1, "c1": c1, "contained": inside,
                     "note": rfs.notes.get(layer, rfs.notes.get("*", ""))})
    return pd.DataFrame(rows)
