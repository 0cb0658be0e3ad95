"""Figure–ground modulation per layer and time step — the in-silico version of Lamme 1995 and Poort et al. 2012.

In V1, responses to a texture-defined figure and to the ground are equal at first; ~70–100 ms after onset the
response of sites whose RF lies on the figure rises above the ground response (figure–ground modulation, FGM).
Edge modulation comes first, centre modulation (region filling, attributed to feedback) later (Poort et al. 2012,
Neuron 75:143). Here a unit is (layer, channel, map position); across trials its RF centre falls on the figure
centre, the figure edge or the ground (the figure moves, and the orientation-swapped control makes the same
location figure in one trial and ground in another), so each unit is compared with itself.

Per unit and time step, with ``A_r`` its mean response over the trials where its RF centre is in region ``r``:

* normalised response ``A_r / peak`` (``peak``: the unit's largest mean |response| over steps and regions —
  Poort et al. normalised each site to its peak response);
* modulation index ``(A_r - A_ground) / (|A_r| + |A_ground|)`` for ``r`` in centre, edge: for non-negative
  units the usual contrast index in [-1, 1]; 0 when figure and ground evoke the same response.

Layer values are means over the units that saw both conditions (and respond at all), with their standard error.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from preattentive.physiology.recording import Recording
from preattentive.physiology.units import EDGE, CENTRE, GROUND, REGION_NAMES, figure_ground_regions, unit_labels

FG_COLUMNS = ["model", "layer", "step", "region", "response", "response_sem", "modulation", "modulation_sem",
              "n_units"]
_EPS = 1e-6  # relative: units whose |A_r| + |A_ground| is below this fraction of the layer's scale are silent


def masks_from_trials(trials: Sequence[Any]) -> np.ndarray:
    """The figure masks ``(N, H, W)`` bool of ``figure-ground`` trials (``meta["mask"]``)."""
    try:
        return np.stack([np.asarray(t.meta["mask"], bool) for t in trials])
    except KeyError:
        raise ValueError("trials have no meta['mask']: expected figure-ground trials") from None


def _sem(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")


def figure_ground_modulation(rec: Recording, masks: np.ndarray | None = None, *, trials: Sequence[Any] | None = None,
                             edge_px: float = 2.0, ground_px: float | None = None,
                             layers: Sequence[str] | None = None) -> pd.DataFrame:
    """The figure–ground modulation time course: one row per (layer, step, region).

    Parameters
    ----------
    rec : a recording of the model's responses to the ``N`` figure-ground stimuli.
    masks : ``(N, H, W)`` bool figure masks (or give ``trials`` and they are read from ``meta["mask"]``).
    trials : the figure-ground trials, in recording order (alternative to ``masks``).
    edge_px, ground_px : region widths in px, see :func:`~preattentive.physiology.units.figure_ground_regions`.
    layers : layers to analyse (None: all recorded).

    Returns
    -------
    A tidy DataFrame with columns :data:`FG_COLUMNS`: ``region`` is centre / edge / ground, ``response`` the mean
    peak-normalised response, ``modulation`` the mean index against ground (NaN on ground rows), ``n_units`` the
    units averaged: those whose RF centre fell in both that region and the ground on some trials (ground rows:
    in both the figure centre and the ground).

    Example
    -------
    >>> fg = figure_ground_modulation(record_net(net, images, steps=6), trials=trials)  # doctest: +SKIP
    >>> fg[fg.region == "centre"].pivot(index="step", columns="layer", values="modulation")  # doctest: +SKIP
    """
    if masks is None:
        if trials is None:
            raise ValueError("figure_ground_modulation needs masks or trials")
        masks = masks_from_trials(trials)
    masks = np.asarray(masks, bool)
    if masks.shape[0] != rec.n_stimuli or masks.shape[1:] != tuple(rec.image_size):
        raise ValueError(f"masks {masks.shape} do not match the recording: {rec.n_stimuli} stimuli of "
                         f"{tuple(rec.image_size)} px")
    pixel_labels = np.stack([figure_ground_regions(m, edge_px=edge_px, ground_px=ground_px) for m in masks])
    rows = []
    for layer in (layers or rec.layers):
        steps = rec.steps(layer)
        if not steps:
            raise ValueError(f"layer {layer!r} is not in the recording: expected one of {rec.layers}")
        labels = unit_labels(pixel_labels, rec[(layer, steps[0])].shape[-2:])  # (N, h, w)
        means = {}  # step -> {region: (C, h, w) mean response}
        for step in steps:
            r = rec[(layer, step)].astype(np.float64)  # (N, C, h, w)
            means[step] = {}
            for code in (CENTRE, EDGE, GROUND):
                sel = (labels == code)[:, None]  # (N, 1, h, w)
                n = sel.sum(axis=0)  # (1, h, w) trials in which the unit's RF centre was in this region
                with np.errstate(invalid="ignore", divide="ignore"):
                    means[step][code] = np.where(n > 0, (r * sel).sum(axis=0) / n, np.nan)
        peak = np.nanmax(np.stack([np.abs(m) for s in steps for m in means[s].values()]), axis=0)  # (C, h, w)
        scale = np.nanmax(peak) if np.isfinite(peak).any() else 0.0
        live = peak > _EPS * max(scale, 1e-12)
        for step in steps:
            ground = means[step][GROUND]
            for code in (CENTRE, EDGE, GROUND):
                a = means[step][code]
                # the population compared: units that saw this region and the ground (ground rows: the units
                # that saw the figure centre and the ground), so each row's units were recorded in both conditions
                other = means[step][CENTRE] if code == GROUND else a
                ok = live & np.isfinite(other) & np.isfinite(ground)
                resp = (a[ok] / peak[ok]) if ok.any() else np.array([])
                if code == GROUND:
                    mod = np.array([])
                else:
                    denom = np.abs(a[ok]) + np.abs(ground[ok])
                    keep = denom > _EPS * max(scale, 1e-12)
                    mod = (a[ok][keep] - ground[ok][keep]) / denom[keep]
                rows.append({"model": rec.model, "layer": layer, "step": step, "region": REGION_NAMES[code],
                             "response": float(resp.mean()) if resp.size else float("nan"),
                             "response_sem": _sem(resp),
                             "modulation": float(mod.mean()) if mod.size else float("nan"),
                             "modulation_sem": _sem(mod), "n_units": int(ok.sum())})
    return pd.DataFrame(rows, columns=FG_COLUMNS)
