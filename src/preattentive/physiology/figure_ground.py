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

import warnings
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


def pairs_from_meta(trials: Sequence[Any]) -> np.ndarray | None:
    """``(K, 2)`` indices of trials sharing ``meta["pair_id"]`` (recording order), or None without pair ids."""
    if not trials or any("pair_id" not in t.meta for t in trials):
        return None
    groups: dict[Any, list[int]] = {}
    for i, t in enumerate(trials):
        groups.setdefault(t.meta["pair_id"], []).append(i)
    pairs = [g for g in groups.values() if len(g) == 2]
    return np.array(pairs, int).reshape(-1, 2) if pairs else None


def _masked_mean(r: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Mean of ``r`` (n, C, h, w) over the n axis where ``sel`` (n, h, w) holds; NaN where it never does."""
    n = sel.sum(axis=0)  # (h, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (r * sel[:, None]).sum(axis=0) / n, np.nan)  # (C, h, w)


def _condition_means(r: np.ndarray, labels: np.ndarray, pairs: np.ndarray | None) -> dict[int, tuple]:
    """Per region (centre, edge): the units' mean figure-side response ``A`` and ground reference ``G``.

    Unpaired: ``G`` is the mean over all trials where the unit's RF centre was on the ground. Paired: for each
    ordered pair (i, j) where the unit is in the region in trial i and on the ground in its partner j, ``A``
    averages trial i and ``G`` trial j — the same unit, the same segments, only the context differs (Lamme 1995).
    """
    if pairs is None:
        g = _masked_mean(r, labels == GROUND)
        return {code: (_masked_mean(r, labels == code), g) for code in (CENTRE, EDGE)}
    ordered = np.concatenate([pairs, pairs[:, ::-1]])  # (2K, 2): (figure-side trial, partner)
    li, lj = labels[ordered[:, 0]], labels[ordered[:, 1]]  # (2K, h, w)
    ri, rj = r[ordered[:, 0]], r[ordered[:, 1]]  # (2K, C, h, w)
    out = {}
    for code in (CENTRE, EDGE):
        sel = (li == code) & (lj == GROUND)
        out[code] = (_masked_mean(ri, sel), _masked_mean(rj, sel))
    return out


def figure_ground_modulation(rec: Recording, masks: np.ndarray | None = None, *, trials: Sequence[Any] | None = None,
                             pairs: np.ndarray | None = None, edge_px: float | None = None,
                             ground_px: float | None = None,
                             layers: Sequence[str] | None = None) -> pd.DataFrame:
    """The figure–ground modulation time course: one row per (layer, step, region).

    Parameters
    ----------
    rec : a recording of the model's responses to the ``N`` figure-ground stimuli.
    masks : ``(N, H, W)`` bool figure masks (or give ``trials`` and they are read from ``meta["mask"]``).
    trials : the figure-ground trials, in recording order (alternative to ``masks``; their ``meta["pair_id"]``
        gives ``pairs``).
    pairs : ``(K, 2)`` trial indices with identical texture segments (``figure-ground``'s pairs: a figure and
        the homogeneous or orientation-swapped partner). Given, each unit's ground reference comes from the
        partner trial at the same location (Lamme 1995's comparison); None: from every trial where the unit's RF
        centre was on the ground.
    edge_px, ground_px : region widths in px, see :func:`~preattentive.physiology.units.figure_ground_regions`.
        ``edge_px=None``: one texture element (the trials' median ``meta["spacing"]``), else 2 px. A segment
        belongs to the figure by its centre, so pixels up to about half an element inside the boundary can still
        carry ground segments: "centre" units sit at least one element deep, where the pair's pixels agree.
    layers : layers to analyse (None: all recorded).

    Returns
    -------
    A tidy DataFrame with columns :data:`FG_COLUMNS`: ``region`` is centre / edge / ground, ``response`` the mean
    peak-normalised response, ``modulation`` the mean index against the ground reference (NaN on ground rows),
    ``n_units`` the units averaged: those with both a figure-side and a ground response for that region (ground
    rows: the ground reference of the centre units).

    Example
    -------
    >>> fg = figure_ground_modulation(record_net(net, images, steps=6), trials=trials)  # doctest: +SKIP
    >>> fg[fg.region == "centre"].pivot(index="step", columns="layer", values="modulation")  # doctest: +SKIP
    """
    if masks is None:
        if trials is None:
            raise ValueError("figure_ground_modulation needs masks or trials")
        masks = masks_from_trials(trials)
    if pairs is None and trials is not None:
        pairs = pairs_from_meta(trials)
    if edge_px is None:
        spacing = [t.meta["spacing"] for t in trials or () if t.meta.get("spacing")]
        edge_px = float(np.median(spacing)) if spacing else 2.0
    masks = np.asarray(masks, bool)
    if masks.shape[0] != rec.n_stimuli or masks.shape[1:] != tuple(rec.image_size):
        raise ValueError(f"masks {masks.shape} do not match the recording: {rec.n_stimuli} stimuli of "
                         f"{tuple(rec.image_size)} px")
    if pairs is not None:
        pairs = np.asarray(pairs, int).reshape(-1, 2)
        if pairs.size and (pairs.min() < 0 or pairs.max() >= rec.n_stimuli):
            raise ValueError(f"pairs index trials {pairs.min()}..{pairs.max()}: expected 0..{rec.n_stimuli - 1}")
    pixel_labels = np.stack([figure_ground_regions(m, edge_px=edge_px, ground_px=ground_px) for m in masks])
    rows = []
    for layer in (layers or rec.layers):
        steps = rec.steps(layer)
        if not steps:
            raise ValueError(f"layer {layer!r} is not in the recording: expected one of {rec.layers}")
        labels = unit_labels(pixel_labels, rec[(layer, steps[0])].shape[-2:])  # (N, h, w)
        means = {step: _condition_means(rec[(layer, step)].astype(np.float64), labels, pairs) for step in steps}
        # Poort et al. normalised each site to its peak response: here the unit's largest mean |response| over
        # steps and conditions
        with warnings.catch_warnings():  # units never in a condition are all-NaN: they stay NaN, silently
            warnings.simplefilter("ignore", RuntimeWarning)
            peak = np.nanmax(np.stack([np.abs(x) for s in steps for ag in means[s].values() for x in ag]), axis=0)
        scale = np.nanmax(peak) if np.isfinite(peak).any() else 0.0
        live = peak > _EPS * max(scale, 1e-12)
        for step in steps:
            for code in (CENTRE, EDGE, GROUND):
                a, g = means[step][CENTRE if code == GROUND else code]
                ok = live & np.isfinite(a) & np.isfinite(g)  # ground rows: the centre units' ground reference
                if code == GROUND:
                    a = g
                resp = (a[ok] / peak[ok]) if ok.any() else np.array([])
                mod = np.array([])
                if code != GROUND:
                    denom = np.abs(a[ok]) + np.abs(g[ok])
                    keep = denom > _EPS * max(scale, 1e-12)
                    mod = (a[ok][keep] - g[ok][keep]) / denom[keep]
                rows.append({"model": rec.model, "layer": layer, "step": step, "region": REGION_NAMES[code],
                             "response": float(resp.mean()) if resp.size else float("nan"),
                             "response_sem": _sem(resp),
                             "modulation": float(mod.mean()) if mod.size else float("nan"),
                             "modulation_sem": _sem(mod), "n_units": int(ok.sum())})
    return pd.DataFrame(rows, columns=FG_COLUMNS)
