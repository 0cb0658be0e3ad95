"""hard-boundary-v1: identify a shape whose boundary is faint (luminance), second-order (texture) or illusory (Kanizsa).

Also home of the four equal-area shapes (:data:`SHAPES`) that ``figure-ground-v1`` reuses for its shape task.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from preattentive.stimuli import register_family
from preattentive.stimuli.base import Params, ParamError, StimulusFamily, Trial, check_choice, check_range
from preattentive.stimuli.render import draw_disk

# ----------------------------------------------------------------------------------------- shapes
# Four shapes of EQUAL AREA (that of a circle of diameter d), so that no shape can be told from another by
# its total luminance, texture count or inducer ink alone. All are centred on their bounding box.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
_SQ = np.sqrt(np.pi) / 2  # square side / d (area pi d^2 / 4)
_TRI = np.sqrt(np.pi / np.sqrt(3))  # equilateral-triangle side / d
MAX_HALF_EXTENT = _TRI / 2  # largest half-width of any shape / d (the triangle's base: 0.673 d)


def shape_half_extent(shape: str, d: float) -> tuple[float, float]:
    """Half height and half width (px) of ``shape`` with equal-area diameter ``d`` px.

    Example
    -------
    >>> [round(v, 2) for v in shape_half_extent("triangle", 10.0)]
    [5.83, 6.73]
    """
    if shape == "circle":
        return d / 2, d / 2
    if shape == "square":
        return float(_SQ * d / 2), float(_SQ * d / 2)
    if shape == "diamond":
        return float(_SQ * d / np.sqrt(2)), float(_SQ * d / np.sqrt(2))
    if shape == "triangle":
        return float(_TRI * d * np.sqrt(3) / 4), float(_TRI * d / 2)
    raise ParamError(f"shape={shape!r}: expected one of {', '.join(SHAPES)}")


def shape_polygon(shape: str, center: Any, d: float, n_circle: int = 48) -> np.ndarray:
    """Vertices (N, 2) (row, col) of ``shape`` with equal-area diameter ``d`` px centred at ``center``.

    The circle is a regular ``n_circle``-gon; the triangle points up (apex first); the diamond is the
    square turned by 45 degrees.

    Example
    -------
    >>> shape_polygon("square", (10.0, 10.0), 4.0).round(2).tolist()[0]
    [8.23, 8.23]
    """
    hh, hw = shape_half_extent(shape, d)
    if shape == "circle":
        a = np.linspace(0, 2 * np.pi, n_circle, endpoint=False)
        v = np.stack([-np.sin(a) * hh, np.cos(a) * hw], axis=1)
    elif shape == "square":
        v = np.array([(-hh, -hw), (-hh, hw), (hh, hw), (hh, -hw)])
    elif shape == "diamond":
        v = np.array([(-hh, 0.0), (0.0, hw), (hh, 0.0), (0.0, -hw)])
    else:  # triangle, apex up
        v = np.array([(-hh, 0.0), (hh, hw), (hh, -hw)])
    return v + np.asarray(center, np.float64)


def shape_vertices_for_inducers(shape: str, center: Any, d: float) -> np.ndarray:
    """Where Kanizsa inducers sit (N, 2): polygon corners, or 5 evenly spaced points on the circle (top first).

    Example
    -------
    >>> shape_vertices_for_inducers("circle", (0.0, 0.0), 2.0).round(2).tolist()[0]
    [-1.0, 0.0]
    """
    if shape == "circle":
        a = np.pi / 2 + np.arange(N_INDUCERS["circle"]) * (2 * np.pi / N_INDUCERS["circle"])
        return np.stack([-np.sin(a), np.cos(a)], axis=1) * (d / 2) + np.asarray(center, np.float64)
    return shape_polygon(shape, center, d)


def shape_perimeter(shape: str, d: float) -> float:
    """Contour length (px) of ``shape`` with equal-area diameter ``d``.

    Example
    -------
    >>> round(shape_perimeter("square", 10.0), 2)
    35.45
    """
    return float({"circle": np.pi * d, "square": 4 * _SQ * d, "diamond": 4 * _SQ * d, "triangle": 3 * _TRI * d}[shape])


def shape_contains(shape: str, center: Any, d: float, points: np.ndarray) -> np.ndarray:
    """Whether each point (..., 2) (row, col) lies inside ``shape`` (exact geometry; the circle is round).

    Example
    -------
    >>> shape_contains("circle", (0.0, 0.0), 2.0, np.array([[0.0, 0.9], [0.0, 1.1]])).tolist()
    [True, False]
    """
    pts = np.asarray(points, np.float64)
    return _contains(shape, pts[..., 0] - center[0], pts[..., 1] - center[1], d)


def _contains(shape: str, r: np.ndarray, c: np.ndarray, d: float) -> np.ndarray:
    """Inside test on broadcastable offsets ``r``, ``c`` (px) from the shape centre."""
    hh, hw = shape_half_extent(shape, d)
    if shape == "circle":
        return r * r + c * c <= hh * hh
    if shape == "square":
        return (np.abs(r) <= hh) & (np.abs(c) <= hw)
    if shape == "diamond":
        return np.abs(r) + np.abs(c) <= hh
    return (r <= hh) & (np.abs(c) <= (r + hh) * (hw / (2 * hh)))  # triangle, apex at r = -hh


def shape_mask(size: int, shape: str, center: Any, d: float) -> np.ndarray:
    """Bool (size, size) mask of the pixels whose centres (at integer (row, col)) lie inside ``shape``.

    Example
    -------
    >>> int(shape_mask(9, "square", (4.0, 4.0), 4.0).sum())  # side 3.54 px: 3 x 3 pixel centres
    9
    """
    ax = np.arange(size, dtype=np.float32)
    return _contains(shape, (ax - np.float32(center[0]))[:, None], (ax - np.float32(center[1]))[None, :], d)


# ----------------------------------------------------------------------------------------- family
BOUNDARIES = ("luminance", "texture", "illusory")
GRATING_AMPLITUDE = 0.3  # texture: grating amplitude around mid-grey, fraction of the full range
MAX_NOISE_TRIES = 20  # luminance: noise redraws before giving up
LUMINANCE_MARGIN = 0.005  # luminance: the true shape's correlation must beat every other shape's by this much
MIN_INDUCER_GAP = 1.5  # px between neighbouring inducers of the circle (else they merge into a ring)
MIN_INDUCER_RADIUS = 1.25  # px: smaller pac-men are blobs without a readable notch
N_INDUCERS = {"circle": 5, "square": 4, "diamond": 4, "triangle": 3}  # illusory: inducers per shape


@dataclass(frozen=True)
class HardBoundaryParams(Params):
    """Parameters of ``hard-boundary-v1`` (lengths as fractions of the image side unless stated)."""

    boundary: str = "luminance"  # luminance | texture | illusory
    figure_size: float = 0.45  # shape size: diameter of the equal-area circle, fraction of the image side
    contrast: float = 0.3  # luminance: |shape - background| grey difference, fraction of the full range
    orientation_contrast: float = 90.0  # texture: angle between figure and ground gratings, deg
    support_ratio: float = 0.5  # illusory: drawn fraction of the SQUARE's contour, 2 r / side (Shipley & Kellman 1992)
    noise: float = 0.0  # s.d. of Gaussian pixel noise, fraction of the full range
    cycles: float = 10.0  # texture: grating cycles per image side (wavelength = size / cycles px, >= 3 px)
    inducer_contrast: float = 0.8  # illusory: |inducer - background| grey difference, fraction of full range

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("size", self.size, 32, 448)
        check_choice("boundary", self.boundary, BOUNDARIES)
        check_range("figure_size", self.figure_size, 0.3, 0.7)
        check_range("contrast", self.contrast, 0.01, 0.5)
        check_range("orientation_contrast", self.orientation_contrast, 10.0, 90.0)
        check_range("support_ratio", self.support_ratio, 0.1, 0.6)
        check_range("noise", self.noise, 0.0, 0.2)
        check_range("cycles", self.cycles, 2.0, self.size / 3)
        check_range("inducer_contrast", self.inducer_contrast, 0.2, 0.9)
        if self.boundary == "luminance" and self.noise > 2 * self.contrast:
            # Beyond this the matched-filter margin between shapes falls to a few s.d. at 64 px (label noise).
            raise ParamError(f"noise={self.noise} with contrast={self.contrast}: expected noise <= 2 * contrast")
        if self.boundary == "illusory" and self.inducer_radius() < MIN_INDUCER_RADIUS:
            raise ParamError(f"support_ratio={self.support_ratio} at size={self.size} gives "
                             f"{self.inducer_radius():.2f} px inducers; expected >= {MIN_INDUCER_RADIUS:g} px: raise "
                             "support_ratio, figure_size or size")
        gap = 2 * np.sin(np.pi / N_INDUCERS["circle"]) * self.figure_size * self.size / 2 - 2 * self.inducer_radius()
        if self.boundary == "illusory" and gap < MIN_INDUCER_GAP:
            raise ParamError(f"support_ratio={self.support_ratio} at size={self.size}: the circle's inducers are "
                             f"{gap:.2f} px apart; expected >= {MIN_INDUCER_GAP:g} px: lower support_ratio")
        if self.margin() > self.size / 2:
            raise ParamError(f"figure_size={self.figure_size} does not fit a {self.size} px image with its "
                             f"inducers; expected figure_size <= {self.max_figure_size():.2f}")

    def inducer_radius(self) -> float:
        """Inducer radius (px), the same for every shape: ``support_ratio`` x the square's side / 2.

        Each square corner's pac-man draws r px of both sides, so the square's support ratio (real / total
        contour) is 2r / side. Other shapes keep the same r, so that inducer size says nothing about the shape;
        their own support ratios are in ``meta["support_ratios"]``.
        """
        return self.support_ratio * _SQ * self.figure_size * self.size / 2

    def margin(self) -> float:
        """Smallest distance (px) from the shape centre to the image border that keeps everything inside."""
        r = self.inducer_radius() if self.boundary == "illusory" else 0.0
        return MAX_HALF_EXTENT * self.figure_size * self.size + r + 1.0

    def max_figure_size(self) -> float:
        r_per_d = self.support_ratio * _SQ / 2 if self.boundary == "illusory" else 0.0
        return (self.size / 2 - 1.0) / ((MAX_HALF_EXTENT + r_per_d) * self.size)


def _to_rgb(grey: np.ndarray) -> np.ndarray:
    """(H, W) float in [0, 1] -> (H, W, 3) uint8."""
    g = np.clip(grey * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(g, cv2.COLOR_GRAY2RGB)  # the grey in all three channels, as np.repeat (10x faster)


def shape_coverage(size: int, shape: str, center: Any, d: float) -> np.ndarray:
    """Anti-aliased coverage (size, size) float32 in [0, 1]: 0.5 + signed distance (px) to the contour, clipped.

    Unlike OpenCV's anti-aliased fill (which widens a shape by about half a pixel), this keeps the four shapes'
    areas equal; thresholding it at 0.5 gives :func:`shape_mask`.

    Example
    -------
    >>> round(float(shape_coverage(64, "circle", (31.5, 31.5), 30.0).sum()), 0)  # pi * 15^2 = 706.9
    707.0
    """
    ax = np.arange(size, dtype=np.float32)
    return _coverage(shape, center, d, ax, ax)


def _coverage(shape: str, center: Any, d: float, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """:func:`shape_coverage` at the pixel rows x cols given (float32 integers): the full image's values there."""
    r = (rows - np.float32(center[0]))[:, None]
    c = (cols - np.float32(center[1]))[None, :]
    hh, hw = (np.float32(v) for v in shape_half_extent(shape, d))
    if shape == "circle":
        sd = hh - np.sqrt(r * r + c * c)
    elif shape == "square":
        sd = np.minimum(hh - np.abs(r), hw - np.abs(c))
    elif shape == "diamond":
        sd = (hh - np.abs(r) - np.abs(c)) * np.float32(np.sqrt(0.5))
    else:  # triangle, apex up: base half-plane and the two sides
        k = hw / (2 * hh)
        sd = np.minimum(hh - r, ((r + hh) * k - np.abs(c)) / np.float32(np.sqrt(1 + k * k)))
    return np.clip(sd + np.float32(0.5), 0, 1)


@register_family
class HardBoundary(StimulusFamily):
    """Shape identification with hard-to-see boundaries — von der Heydt, Peterhans & Baumgartner 1984; Kanizsa 1955.

    Which of four equal-area shapes (circle, square, triangle, diamond) is in the image? The boundary is
    ``luminance`` (a low-contrast shape in Gaussian pixel noise), ``texture`` (second order: a grating patch
    whose orientation differs from the surrounding grating, same mean luminance and amplitude, random phases;
    cf. the orientation-defined figures of Lamme 1995), or ``illusory`` (Kanizsa 1955: dark inducers on a light
    ground whose notches align along the shape's contour, the shape itself has the background's luminance;
    V2 cells respond to such contours, von der Heydt et al. 1984, Science 224:1260). Polygons get one
    pac-man per corner (3 for the triangle, 4 for square and diamond); the circle, which has no corners, gets 5
    notched disks evenly spaced on its contour, each notched by the circle's arc (curved illusory contour).
    Inducer radius follows the support ratio (real / total contour length; Shipley & Kellman 1992) of the
    square and is the same for all four shapes, so inducer size is no cue to the shape.

    Difficulty: ``contrast`` and ``noise`` (luminance), ``orientation_contrast`` and ``noise`` (texture),
    ``support_ratio`` and ``noise`` (illusory); keys a boundary type ignores are None in ``Trial.difficulty``.
    Luminance noise that would let another shape fit the image better than the true one (for an ideal observer
    who knows centre and size) is redrawn, so no label is ambiguous; shapes have equal areas and are drawn with
    exact anti-aliased coverage, so total luminance says nothing about the shape.

    Meta: ``shape``, ``center`` [row, col] px, ``diameter`` px (of the equal-area circle), ``boundary``,
    ``mask`` (bool (H, W) pixels inside the shape), ``polarity`` (luminance: "light"/"dark"),
    ``figure_orientation``/``ground_orientation`` deg and ``wavelength`` px (texture), ``inducers``
    [[row, col], ...], ``inducer_radius`` px and ``support_ratios`` per shape (illusory).

    Example
    -------
    >>> from preattentive import stimuli
    >>> t = stimuli.make("hard-boundary", seed=0, boundary="illusory").trial(2)
    >>> t.answer, len(t.meta["inducers"])
    ('triangle', 3)
    """

    id = "hard-boundary-v1"
    citation = ("von der Heydt, Peterhans & Baumgartner 1984, Science 224:1260; Kanizsa 1955, Riv. Psicol. 49:7; "
                "Lamme 1995, J. Neurosci. 15:1605")
    ParamsType = HardBoundaryParams
    n_classes = len(SHAPES)
    ladder = (
        dict(contrast=0.3, orientation_contrast=90.0, support_ratio=0.5, noise=0.0),
        dict(contrast=0.15, orientation_contrast=60.0, support_ratio=0.42, noise=0.03),
        dict(contrast=0.08, orientation_contrast=45.0, support_ratio=0.34, noise=0.04),
        dict(contrast=0.05, orientation_contrast=30.0, support_ratio=0.27, noise=0.045),
        dict(contrast=0.04, orientation_contrast=20.0, support_ratio=0.2, noise=0.05),
    )
    difficulty_keys = ("figure_size", "contrast", "orientation_contrast", "support_ratio", "noise")

    @staticmethod
    def _add_noise(rng: np.random.Generator, grey: np.ndarray, p: HardBoundaryParams, center: np.ndarray, d: float,
                   label: int) -> np.ndarray:
        """Add Gaussian pixel noise; for ``luminance``, redraw a noise field that would mislead an ideal observer.

        The ideal observer knows the centre and size and picks the shape whose coverage correlates best with the
        image. A noise draw after which another shape wins (or the true one wins by < ``LUMINANCE_MARGIN``)
        would make the label ambiguous, so it is redrawn (the ambiguity the generator must prevent).
        """
        S = p.size
        if p.boundary != "luminance":
            return grey + rng.standard_normal((S, S), dtype=np.float32) * np.float32(p.noise)
        cov = np.stack([shape_coverage(S, s, center, d).ravel() for s in SHAPES])  # (4, S*S)
        cov -= cov.mean(1, keepdims=True)
        cov /= np.linalg.norm(cov, axis=1, keepdims=True)
        for _ in range(MAX_NOISE_TRIES):
            noisy = grey + rng.standard_normal((S, S), dtype=np.float32) * np.float32(p.noise)
            corr = np.abs(cov @ noisy.ravel()) / np.linalg.norm(noisy.ravel() - noisy.mean())
            if corr[label] - np.max(np.delete(corr, label)) >= LUMINANCE_MARGIN:
                return noisy
        raise ParamError(f"noise={p.noise} with contrast={p.contrast} at size={S}: the shape is not recoverable "
                         f"in {MAX_NOISE_TRIES} noise draws; lower noise or raise contrast")

    def _make(self, rng: np.random.Generator, label: int, p: Params) -> Trial:
        assert isinstance(p, HardBoundaryParams)
        S, shape = p.size, SHAPES[label]
        d = p.figure_size * S  # px
        m = p.margin()
        center = rng.uniform(m, S - m, size=2) - 0.5  # (row, col) px; pixel centres sit at integers
        meta: dict[str, Any] = {"shape": shape, "center": [round(float(center[0]), 3), round(float(center[1]), 3)],
                                "diameter": round(float(d), 3), "boundary": p.boundary,
                                "mask": shape_mask(S, shape, center, d)}
        # Every difficulty key is reported; the ones this boundary type ignores are None.
        difficulty: dict[str, Any] = {k: None for k in self.difficulty_keys}
        difficulty.update(figure_size=p.figure_size, noise=p.noise)
        if p.boundary == "luminance":
            sign = 1.0 if rng.random() < 0.5 else -1.0  # brighter or darker than the background
            grey = 0.5 + np.float32(sign * p.contrast) * shape_coverage(S, shape, center, d)
            meta["polarity"] = "light" if sign > 0 else "dark"
            difficulty["contrast"] = p.contrast
            prompt = "a faint {} on a grey background"
        elif p.boundary == "texture":
            # Orientations symmetric about vertical (90 -+ contrast/2) so both textures have the same pixel statistics.
            thetas = np.deg2rad(90.0 + np.array([-0.5, 0.5]) * p.orientation_contrast)
            if rng.random() < 0.5:
                thetas = thetas[::-1]
            phases = rng.uniform(0, 2 * np.pi, size=2)
            k = 2 * np.pi * p.cycles / S  # rad / px
            ax = np.arange(S, dtype=np.float64)
            # A grating with stripes at angle theta (ccw from horizontal) varies along (sin theta, cos theta) in
            # (x, y-down): cos(k (x sin t + y cos t) + ph), built separably as cos(a + b) = cos a cos b - sin a sin b.
            fig, gnd = (np.outer(np.cos(k * ax * np.cos(t)), np.cos(k * ax * np.sin(t) + ph)).astype(np.float32)
                        - np.outer(np.sin(k * ax * np.cos(t)), np.sin(k * ax * np.sin(t) + ph)).astype(np.float32)
                        for t, ph in zip(thetas, phases))
            a = shape_coverage(S, shape, center, d)
            grey = 0.5 + GRATING_AMPLITUDE * (gnd + a * (fig - gnd))
            meta["figure_orientation"], meta["ground_orientation"] = (round(float(np.rad2deg(t)), 3) for t in thetas)
            meta["wavelength"] = round(S / p.cycles, 4)  # px
            difficulty["orientation_contrast"] = p.orientation_contrast
            prompt = "a {} made of differently oriented stripes"
        else:
            r = p.inducer_radius()
            bg, ink = 0.5 + p.inducer_contrast / 2, 0.5 - p.inducer_contrast / 2  # dark inducers on light (Kanizsa)
            canvas = np.full((S, S), int(round(bg * 255)), np.uint8)
            verts = shape_vertices_for_inducers(shape, center, d)
            for v in verts:
                draw_disk(canvas, v, r, (int(round(ink * 255)),), aa=True)
            a = shape_coverage(S, shape, center, d)  # the shape itself has the background's grey
            grey = canvas.astype(np.float32) * np.float32(1 / 255) * (1 - a) + np.float32(bg) * a
            meta["inducers"] = np.round(verts, 3).tolist()
            meta["inducer_radius"] = round(float(r), 3)
            meta["support_ratios"] = {sh: round(float(2 * r * N_INDUCERS[sh] / shape_perimeter(sh, d)), 4)
                                      for sh in SHAPES}
            difficulty["support_ratio"] = p.support_ratio
            prompt = "an illusory {} outlined by notched black disks"
        if p.noise > 0:
            grey = self._add_noise(rng, grey, p, center, d, label)
        return Trial(image=_to_rgb(grey), label=label,
                     question="Which shape is hidden in this image: a circle, a square, a triangle or a diamond?",
                     choices=SHAPES, prompts=tuple(prompt.format(s) for s in SHAPES), difficulty=difficulty, meta=meta)


@functools.lru_cache(maxsize=1)
def _gauss16() -> np.ndarray:
    """(65536,) float32 standard-normal quantiles at (k + 0.5) / 65536: a Gaussian sampled through 16-bit
    uniform integers (tails cut at 4.3 s.d.), 4x cheaper than ``standard_normal`` and, once the
    image is rounded to 256 grey levels, indistinguishable from it."""
    from scipy.special import ndtri

    table = ndtri((np.arange(65536) + 0.5) / 65536).astype(np.float32)
    table.flags.writeable = False
    return table


def gaussian16(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 standard-normal noise of ``shape`` via :func:`_gauss16` (``hard-boundary-v2``'s pixel noise)."""
    return np.take(_gauss16(), rng.integers(0, 65536, shape, dtype=np.uint16))


@register_family
class HardBoundaryV2(HardBoundary):
    """hard-boundary-v2: ``hard-boundary-v1`` (same design, parameters, ladder, meta), with cheaper noise.

    Pixel noise is drawn through a 16-bit table of Gaussian quantiles (:func:`gaussian16`) instead of
    ``standard_normal``, and the ideal observer's correlations are summed over the window that holds the four
    shapes' coverage (the rest of the image enters only through its sum, exactly), so a noisy 224 px trial no
    longer costs several ms. Other noise for the same seed, hence a new version; v1 stays available, byte for byte.
    """

    id = "hard-boundary-v2"

    @staticmethod
    def _add_noise(rng: np.random.Generator, grey: np.ndarray, p: HardBoundaryParams, center: np.ndarray, d: float,
                   label: int) -> np.ndarray:
        """v1's rule (redraw noise after which the ideal observer would not pick the true shape by
        ``LUMINANCE_MARGIN``) with each template ``a`` correlated as (sum a x - mean(a) sum x) / (|a - mean a|
        |x - mean x|) over the whole image, ``a`` being 0 outside its window."""
        S, sd = p.size, np.float32(p.noise)
        if p.boundary != "luminance":
            return grey + gaussian16(rng, (S, S)) * sd
        h = MAX_HALF_EXTENT * d + 2.0  # px: every shape's anti-aliased coverage is 0 farther from the centre
        (r0, c0), (r1, c1) = ([max(int(np.floor(v - h)), 0) for v in center],
                              [min(int(np.ceil(v + h)) + 1, S) for v in center])
        rows, cols = np.arange(r0, r1, dtype=np.float32), np.arange(c0, c1, dtype=np.float32)
        a = np.stack([_coverage(s, center, d, rows, cols).ravel() for s in SHAPES]).astype(np.float64)  # (4, B)
        n = S * S
        sum_a = a.sum(1)
        norm_a = np.sqrt((a * a).sum(1) - sum_a * sum_a / n)  # |a - mean a| over the whole image
        for _ in range(MAX_NOISE_TRIES):
            noisy = grey + gaussian16(rng, (S, S)) * sd
            x = noisy.astype(np.float64)
            sum_x = x.sum()
            norm_x = np.sqrt(np.vdot(x, x) - sum_x * sum_x / n)
            corr = np.abs(a @ x[r0:r1, c0:c1].ravel() - sum_a / n * sum_x) / (norm_a * norm_x)
            if corr[label] - np.max(np.delete(corr, label)) >= LUMINANCE_MARGIN:
                return noisy
        raise ParamError(f"noise={p.noise} with contrast={p.contrast} at size={S}: the shape is not recoverable "
                         f"in {MAX_NOISE_TRIES} noise draws; lower noise or raise contrast")
