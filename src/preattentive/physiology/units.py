"""Where each unit looks: receptive-field centres of map positions in image pixels, and figure/ground regions.

A map of ``h x w`` positions computed from an ``H x W`` image (a strided CNN layer, a ViT patch grid) tiles the
image: position ``(i, j)`` is centred on pixel coordinate ``((i + 0.5) H / h - 0.5, (j + 0.5) W / w - 0.5)``
(pixel centres at integer coordinates). That is exact for ViT patches and for "same"-padded strided
convolutions, and the convention electrophysiology needs: a unit is "in the figure" when its RF centre is.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Region codes of figure_ground_regions (Lamme 1995; Poort et al. 2012: RF on the figure centre, on the figure
# edge, or on the ground).
GROUND, EDGE, CENTRE, UNLABELLED = 0, 1, 2, -1
REGION_NAMES = {CENTRE: "centre", EDGE: "edge", GROUND: "ground"}


def rf_centres(map_hw: tuple[int, int], image_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """RF-centre pixel coordinates (rows ``(h,)``, cols ``(w,)``, float) of an ``h x w`` map over an image.

    Example
    -------
    >>> rf_centres((2, 2), (32, 32))[0]
    array([ 7.5, 23.5])
    """
    (h, w), (H, W) = map_hw, image_hw
    return (np.arange(h) + 0.5) * H / h - 0.5, (np.arange(w) + 0.5) * W / w - 0.5


def rf_pixels(map_hw: tuple[int, int], image_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The pixel (rows, cols; int, clipped to the image) under each map position's RF centre.

    Half-way centres round up (``np.floor(x + 0.5)``), so a 2 x 2 grid over 32 px looks at pixels 8 and 24.
    """
    rows, cols = rf_centres(map_hw, image_hw)
    H, W = image_hw
    return (np.clip(np.floor(rows + 0.5), 0, H - 1).astype(int),
            np.clip(np.floor(cols + 0.5), 0, W - 1).astype(int))


def figure_ground_regions(mask: np.ndarray, *, edge_px: float = 2.0, ground_px: float | None = None) -> np.ndarray:
    """Label each pixel of a figure mask as figure centre, figure edge, ground, or unlabelled.

    Parameters
    ----------
    mask : ``(H, W)`` bool, True on figure pixels.
    edge_px : pixels within this distance (px) of the figure boundary, on either side, are ``EDGE``.
    ground_px : ground pixels farther than this (px) from the figure are ``GROUND`` (default ``2 * edge_px``);
        the band between ``edge_px`` and ``ground_px`` outside the figure is ``UNLABELLED`` (-1), so that "ground"
        units are not driven by the edge (Poort et al. 2012 placed ground RFs well away from the figure).

    Returns
    -------
    ``(H, W)`` int8 array of ``CENTRE`` (2), ``EDGE`` (1), ``GROUND`` (0), ``UNLABELLED`` (-1). A mask without
    figure (homogeneous control) is all ``GROUND``.

    Example
    -------
    >>> m = np.zeros((16, 16), bool); m[4:12, 4:12] = True
    >>> figure_ground_regions(m)[8, 8], figure_ground_regions(m)[4, 8], figure_ground_regions(m)[0, 0]
    (2, 1, 0)
    """
    mask = np.asarray(mask, bool)
    if ground_px is None:
        ground_px = 2.0 * edge_px
    if ground_px < edge_px:
        raise ValueError(f"ground_px={ground_px} < edge_px={edge_px}: expected ground_px >= edge_px")
    out = np.full(mask.shape, UNLABELLED, np.int8)
    if not mask.any():
        out[:] = GROUND
        return out
    # Distance (px) of each pixel to the nearest pixel of the other side; the boundary lies half-way between
    # the last figure and first ground pixel, hence the 0.5.
    d_in = ndimage.distance_transform_edt(mask) - 0.5  # inside: distance to the boundary
    d_out = ndimage.distance_transform_edt(~mask) - 0.5 if (~mask).any() else np.zeros(mask.shape)
    out[mask & (d_in > edge_px)] = CENTRE
    out[mask & (d_in <= edge_px)] = EDGE
    out[~mask & (d_out <= edge_px)] = EDGE
    out[~mask & (d_out > ground_px)] = GROUND
    return out


def unit_labels(pixel_labels: np.ndarray, map_hw: tuple[int, int], *,
                centres: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Per-stimulus pixel labels ``(N, H, W)`` sampled at each map position's RF centre → ``(N, h, w)``.

    ``centres``: RF-centre coordinates (rows ``(h,)``, cols ``(w,)``; default: the tiling of :func:`rf_centres`),
    rounded half up to the pixel under them.
    """
    H, W = pixel_labels.shape[-2:]
    if centres is None:
        rows, cols = rf_pixels(map_hw, (H, W))
    else:
        rows = np.clip(np.floor(np.asarray(centres[0]) + 0.5), 0, H - 1).astype(int)
        cols = np.clip(np.floor(np.asarray(centres[1]) + 0.5), 0, W - 1).astype(int)
    return pixel_labels[:, rows[:, None], cols[None, :]]


def in_window(windows: np.ndarray, map_hw: tuple[int, int], image_hw: tuple[int, int], *,
              centres: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """``(N, h, w)`` bool: does each map position's RF centre lie in stimulus n's window ``[r0, c0, r1, c1]``?

    Windows are half-open pixel boxes (rows ``r0 <= r < r1``, cols ``c0 <= c < c1``), as numpy slices.
    ``centres`` are the RF centres (rows ``(h,)``, cols ``(w,)``; default: the tiling of :func:`rf_centres`).
    """
    windows = np.asarray(windows, float).reshape(-1, 4)
    rows, cols = centres if centres is not None else rf_centres(map_hw, image_hw)
    r_ok = (rows[None, :] >= windows[:, 0:1] - 0.5) & (rows[None, :] < windows[:, 2:3] - 0.5)  # (N, h)
    c_ok = (cols[None, :] >= windows[:, 1:2] - 0.5) & (cols[None, :] < windows[:, 3:4] - 0.5)  # (N, w)
    return r_ok[:, :, None] & c_ok[:, None, :]
