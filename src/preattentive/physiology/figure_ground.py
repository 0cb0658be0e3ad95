"""Figure–ground modulation per layer and time step — the in-silico version of Lamme 1995 and Poort et al. 2012.

In V1, responses to a texture-defined figure and to the ground are equal at first; ~70–100 ms after onset the
response of sites whose RF lies on the figure rises above the ground response (figure–ground modulation, FGM).
Edge modulation comes first, centre modulation (region filling, attributed to feedback) later (Poort et al. 2012,
Neuron 75:143). Here a unit is (layer, channel, map position); in a pair of trials (``figure-ground``'s pairs: a
figure and its homogeneous or orientation-swapped partner) the same location holds the same texture segments,
figure in one trial and ground in the other (Lamme 1995), so each unit is compared with itself.

The control: a unit counts for an ordered pair (i, j) — its RF centre on the figure centre (or edge) in trial i
and on the ground in trial j — as **contained** only when its whole step-1 receptive field
(:mod:`preattentive.physiology.receptive_fields`) lies where the two images are identical, pixel for pixel. A
contained unit cannot tell the trials apart in a feedforward sweep: its modulation is exactly 0 unless context from
outside its RF reaches it. Units that see differing pixels (an edge unit sees the boundary by definition; a large
RF sees the figure's far side) are reported as *uncontrolled*: their modulation needs no context at all.

Per unit and time step, with ``A`` its mean response in trial i and ``G`` in trial j over its admitted pairs:

* normalised responses ``A / peak``, ``G / peak`` (``peak``: the unit's largest |A| or |G| over steps — Poort et
  al. normalised each site to its peak response);
* modulation index ``(A - G) / (|A| + |G|)``: for non-negative units the usual contrast index in [-1, 1]; 0 when
  figure and ground evoke the same response;
* per (layer, step, region), a population test for contained units: pair-wise sign flips (which member is "figure"
  is exchangeable under the null), applied to every unit at once; statistic = mean over units of |mean difference|
  / the unit's flip-invariant scale (mean of |A_k| + |G_k|). Its p-value (``p_population``) decides whether the
  layer departs from 0 at that step (:func:`~preattentive.physiology.border_ownership.departure_step`).

Layer values are means over units (± s.e.m.).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from preattentive.physiology.border_ownership import control_max_abs, pair_differences
from preattentive.physiology.receptive_fields import contained
from preattentive.physiology.recording import Recording
from preattentive.physiology.units import CENTRE, EDGE, GROUND, REGION_NAMES, figure_ground_regions, unit_labels

FG_COLUMNS = ["model", "layer", "step", "region", "rf_px", "rf_global", "n_units", "n_contained", "response",
              "response_ground", "response_sem", "modulation", "modulation_sem", "p_population", "n_uncontrolled",
              "modulation_uncontrolled", "modulation_uncontrolled_sem", "n_control", "control_max_abs", "note"]
_EPS = 1e-6  # relative: units whose |A| + |G| is below this fraction of the layer's scale are silent
EDGE_NOTE = ("edge units' RFs straddle the figure boundary, which differs between the trials: their modulation "
             "needs no context (a boundary is visible to one feedforward sweep)")


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


def _selection_stats(r: np.ndarray, ordered: np.ndarray | None, sel: Any, min_pairs: int, *,
                     differences: bool = False) -> dict:
    """Per-unit means for one selection. ``r`` (N, C, h, w); paired: ``sel`` (2K, h, w) over ordered pairs
    ``ordered`` (2K, 2) = (figure-side trial, partner); unpaired (``ordered`` None): ``sel`` is ``(fig, gnd)``,
    two (N, h, w) masks of the trials where the unit's RF centre is in the region / on the ground.
    ``differences``: also keep the admitted pair differences for the population test."""
    if ordered is None:
        fig, gnd = sel
        nf, ng = fig.sum(0), gnd.sum(0)  # (h, w)
        ok = (nf >= min_pairs) & (ng >= min_pairs)
        with np.errstate(invalid="ignore", divide="ignore"):
            a = (r * fig[:, None]).sum(0) / nf
            g = (r * gnd[:, None]).sum(0) / ng
        return {"a": a, "g": g, "ok": ok}
    n_sel = sel.sum(0)  # (h, w)
    ri, rj = r[ordered[:, 0]], r[ordered[:, 1]]  # (2K, C, h, w)
    w = sel[:, None].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = (ri * w).sum(0) / n_sel
        g = (rj * w).sum(0) / n_sel
        scale = ((np.abs(ri) + np.abs(rj)) * w).sum(0) / n_sel
    out = {"a": a, "g": g, "ok": n_sel >= min_pairs, "n": n_sel, "scale": scale}
    if differences:
        out["d"] = ((ri - rj) * w).astype(np.float32)  # (2K, C, h, w); identical inputs give exact zeros
    return out


def _population_p(st: dict, live: np.ndarray, signs: np.ndarray) -> float:
    """Sign-flip test of "no unit tells figure from ground", all units flipped together (see the module doc)."""
    if not live.any() or "d" not in st:
        return float("nan")
    d = st["d"][:, live].astype(np.float64)  # (2K, U): admitted differences of the live units
    norm = (np.broadcast_to(st["n"], st["scale"].shape) * st["scale"])[live]  # (U,)
    both = np.concatenate([signs, signs], axis=1)  # a flip of pair k flips both of its orders
    null = np.abs(both @ d) / norm  # (P, U)
    t_obs = float((np.abs(d.sum(0)) / norm).mean())
    t_null = null.mean(axis=1)
    return float(((t_null >= t_obs * (1 - 1e-9) - 1e-12).sum() + 1) / (len(signs) + 1))


def figure_ground_modulation(rec: Recording, masks: np.ndarray | None = None, *, trials: Sequence[Any] | None = None,
                             pairs: np.ndarray | None = None, images: Any = None, edge_px: float | None = None,
                             ground_px: float | None = None, layers: Sequence[str] | None = None,
                             min_pairs: int = 1, n_permutations: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The figure–ground modulation time course of contained (and uncontrolled) units: one row per
    (layer, step, region).

    Parameters
    ----------
    rec : a recording of the model's responses to the ``N`` figure-ground stimuli (with its ``rfs``).
    masks : ``(N, H, W)`` bool figure masks (or give ``trials`` and they are read from ``meta["mask"]``).
    trials : the figure-ground trials, in recording order (alternative to ``masks`` and ``images``; their
        ``meta["pair_id"]`` gives ``pairs``).
    pairs : ``(K, 2)`` trial indices of pairs sharing their texture segments. Without pairs there is no partner
        with identical pixels, so only the uncontrolled analysis (ground reference: every trial where the unit's
        RF centre was on the ground) is computed.
    images : the ``N`` stimuli, whose pixels decide which RFs a pair leaves identical (default: the trials').
    edge_px, ground_px : region widths in px, see :func:`~preattentive.physiology.units.figure_ground_regions`.
        ``edge_px=None``: one texture element (the trials' median ``meta["spacing"]``), else 2 px.
    layers : layers to analyse (None: all recorded).
    min_pairs : a unit is averaged only with at least this many admitted pairs (unpaired: trials per condition).
    n_permutations, seed : the population test's sign flips.

    Returns
    -------
    A tidy DataFrame with columns :data:`FG_COLUMNS`. ``modulation`` / ``response`` / ``p_population`` describe the
    contained units (NaN, with a ``note``, when none is contained); ``*_uncontrolled`` every unit with its RF centre
    in the region; ``rf_px`` the RF side at that step; ``n_units`` the layer's recorded units.

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
    differs = ordered = None
    if pairs is not None:
        pairs = np.asarray(pairs, int).reshape(-1, 2)
        if pairs.size and (pairs.min() < 0 or pairs.max() >= rec.n_stimuli):
            raise ValueError(f"pairs index trials {pairs.min()}..{pairs.max()}: expected 0..{rec.n_stimuli - 1}")
        if len(pairs):
            ims = images if images is not None else ([t.image for t in trials] if trials is not None else None)
            if ims is None:
                raise ValueError("the identical-pixel control needs the stimuli: pass trials= (with images) or "
                                 "images=")
            differs = pair_differences(ims, pairs)  # (K, H, W)
            ordered = np.concatenate([pairs, pairs[:, ::-1]])  # (2K, 2): (figure-side trial, partner)
        else:
            pairs = None
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(n_permutations, len(pairs) if pairs is not None
                                                                   else 0))
    pixel_labels = np.stack([figure_ground_regions(m, edge_px=edge_px, ground_px=ground_px) for m in masks])
    rfs = rec.receptive_fields
    rows = []
    for layer in (layers or rec.layers):
        steps = rec.steps(layer)
        if not steps:
            raise ValueError(f"layer {layer!r} is not in the recording: expected one of {rec.layers}")
        n, c, h, w = rec[(layer, steps[0])].shape
        rf1 = rfs.get(layer, steps[0], (h, w))
        labels = unit_labels(pixel_labels, (h, w), centres=rf1.centres())  # (N, h, w)
        selections = {}
        for code in (CENTRE, EDGE):
            if ordered is None:
                selections[code] = {"uncontrolled": (labels == code, labels == GROUND)}
                continue
            unc = (labels[ordered[:, 0]] == code) & (labels[ordered[:, 1]] == GROUND)  # (2K, h, w)
            cont = np.concatenate([contained(rf1.boxes(), differs)] * 2)
            selections[code] = {"uncontrolled": unc, "contained": unc & cont}
        stats = {(code, ctl, step): _selection_stats(rec[(layer, step)].astype(np.float64), ordered, sel, min_pairs,
                                                     differences=ctl == "contained")
                 for code, by in selections.items() for ctl, sel in by.items() for step in steps}
        for code in (CENTRE, EDGE):
            for step in steps:
                rf_t = rfs.get(layer, step, (h, w))
                row = {"model": rec.model, "layer": layer, "step": step, "region": REGION_NAMES[code],
                       "rf_px": rf_t.side_px, "rf_global": rf_t.covers_image, "n_units": c * h * w}
                for ctl in ("contained", "uncontrolled"):
                    if ctl not in selections[code]:
                        row.update(_summarise(None, None, ctl))
                        continue
                    per_step = [stats[(code, ctl, t)] for t in steps]
                    row.update(_summarise(stats[(code, ctl, step)], per_step, ctl, signs))
                row["n_control"], row["control_max_abs"] = 0, np.nan
                if ordered is not None:  # the built-in control: RFs at THIS step inside identical pixels -> 0
                    ctrl = (labels[ordered[:, 0]] == code) & (labels[ordered[:, 1]] == GROUND) & np.concatenate(
                        [contained(rf_t.boxes(), differs)] * 2)
                    row["n_control"], row["control_max_abs"] = control_max_abs(rec[(layer, step)], ordered, ctrl,
                                                                               min_pairs)
                if not row["n_contained"]:
                    row["note"] = _fg_note(ordered, rfs.notes.get(layer, rfs.notes.get("*", "")), rf1.side_px,
                                           code)
                rows.append(row)
    return pd.DataFrame(rows, columns=FG_COLUMNS)


def _summarise(st: dict | None, per_step: list[dict] | None, ctl: str, signs: np.ndarray | None = None) -> dict:
    """Layer-level numbers of one selection at one step (``per_step``: every step's, for the units' peaks)."""
    out = ({"n_contained": 0, "response": np.nan, "response_ground": np.nan, "response_sem": np.nan,
            "modulation": np.nan, "modulation_sem": np.nan, "p_population": np.nan, "note": ""}
           if ctl == "contained" else
           {"n_uncontrolled": 0, "modulation_uncontrolled": np.nan, "modulation_uncontrolled_sem": np.nan})
    if st is None:
        return out
    stacked = np.stack([np.maximum(np.abs(s["a"]), np.abs(s["g"])) for s in per_step])  # (T, C, h, w)
    peak = np.where(np.isnan(stacked), -np.inf, stacked).max(axis=0)  # units never admitted stay -inf
    peak = np.where(np.isfinite(peak), peak, 0.0)  # (C, h, w), 0: never admitted
    scale = float(peak.max()) if peak.size else 0.0
    ok = st["ok"][None] & (peak > _EPS * max(scale, 1e-12)) & np.isfinite(st["a"]) & np.isfinite(st["g"])
    a, g = st["a"][ok], st["g"][ok]
    denom = np.abs(a) + np.abs(g)
    keep = denom > _EPS * max(scale, 1e-12)
    mod = (a[keep] - g[keep]) / denom[keep]
    if ctl == "uncontrolled":
        return {"n_uncontrolled": int(ok.sum()), "modulation_uncontrolled": float(mod.mean()) if mod.size else np.nan,
                "modulation_uncontrolled_sem": _sem(mod)}
    if not ok.any():
        return out
    resp = a / peak[ok]
    live = ok.copy()
    live[ok] = keep
    return {**out, "n_contained": int(ok.sum()), "response": float(resp.mean()),
            "response_ground": float((g / peak[ok]).mean()), "response_sem": _sem(resp),
            "modulation": float(mod.mean()) if mod.size else np.nan, "modulation_sem": _sem(mod),
            "p_population": _population_p(st, live, signs)}


def _fg_note(ordered: np.ndarray | None, rule_note: str, rf_side: int, code: int) -> str:
    if ordered is None:
        return "unpaired trials: no partner with identical pixels, so nothing is contained"
    if rule_note:
        return f"no contained units: {rule_note}"
    if code == EDGE:
        return f"no contained units: {EDGE_NOTE}"
    return f"no contained units: no step-1 RF ({rf_side} px) fits inside the texture a pair shares"
