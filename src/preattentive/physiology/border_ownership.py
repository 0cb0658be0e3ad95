"""Border-ownership selectivity per unit, layer and time step — the in-silico version of Zhou et al. 2000.

Zhou, Friedman & von der Heydt (2000, J Neurosci 20:6594) showed a square's edge in a cell's receptive field
with the square on one side or the other, the pixels inside the RF identical; ~18 % of V1 and > 50 % of V2/V4
orientation cells preferred one side ("border ownership"). Here the stimuli come in pairs (trials ``2k, 2k+1``
of ``border-ownership``: identical pixels around the edge in ``meta["window"]``, opposite owner side).

The control that makes the measurement mean anything: a unit counts for a pair only when its **whole step-1
receptive field** (:mod:`preattentive.physiology.receptive_fields`) lies where the pair's two images are
identical, pixel for pixel (computed from the images, not from the generator's bookkeeping), and its RF centre lies
in the probe window (it looks at the edge). Such a unit cannot tell the two images apart in a feedforward sweep, so
its BO index is exactly 0 unless context from outside its RF reaches it — through lateral or top-down connections
at later steps, or through an operation that mixes the whole image (attention, GroupNorm), whose units are never
contained. Units with the RF centre in the window but an RF that sees differing pixels are reported separately
as *uncontrolled* (the analysis before this control; they need no context at all to differ).

Per unit, with ``A`` / ``B`` its mean response when the owner is on side 0 / side 1 (over its contained pairs):

* BO index ``(A - B) / (|A| + |B|)`` (Zhou et al.'s side-of-figure contrast for non-negative responses);
* a two-sided paired permutation test: shuffling the owner labels within each pair flips the sign of that pair's
  difference, so the null distribution of the mean pair difference comes from random sign flips;
* a unit is BO-selective when ``p < alpha``. Under no selectivity about ``alpha`` of the units pass;
* per (layer, step), a population test with the same sign flips applied to every unit at once (so correlations
  between units are kept): statistic = mean over units of |mean pair difference| / the unit's flip-invariant scale
  (mean of |A_k| + |B_k|). Its p-value decides whether the layer's contained units depart from 0 at that step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from preattentive.physiology.receptive_fields import contained
from preattentive.physiology.recording import Recording
from preattentive.physiology.units import in_window

CONTROLS = ("contained", "uncontrolled")  # the headline analysis, and the pre-control one kept for comparison
UNIT_COLUMNS = ["model", "layer", "step", "control", "channel", "row", "col", "rf_row", "rf_col", "rf_px",
                "n_pairs", "a", "b", "bo_index", "p_value", "significant"]
SUMMARY_COLUMNS = ["model", "layer", "step", "rf_px", "rf_global", "n_units", "n_probe", "n_contained",
                   "n_significant", "fraction_significant", "mean_abs_bo", "p_population", "alpha",
                   "n_uncontrolled", "fraction_significant_uncontrolled", "mean_abs_bo_uncontrolled", "n_control",
                   "control_max_abs", "note"]
# The built-in control: units whose RF AT THAT STEP (lateral and top-down paths included) sees identical pixels
# must give exactly this index, whatever the model; anything larger means the RF rule is wrong.
CONTROL_TOL = 1e-6


def pairs_from_trials(trials: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(windows (N, 4), owners (N,), pairs (K, 2))`` from border-ownership trials in recording order.

    Pairs are the trials sharing ``meta["pair_id"]``; the owner side is ``meta["owner_side"]`` when present
    ("left" = 0 / "right" = 1, or 0/1), else the trial's label.
    """
    try:
        windows = np.array([t.meta["window"] for t in trials], float)
        pair_ids = [t.meta["pair_id"] for t in trials]
    except KeyError as e:
        raise ValueError(f"trials have no meta[{e.args[0]!r}]: expected border-ownership trials") from None
    owners = np.array([_side(t.meta.get("owner_side", t.label)) for t in trials])
    groups: dict[Any, list[int]] = {}
    for i, pid in enumerate(pair_ids):
        groups.setdefault(pid, []).append(i)
    pairs = np.array([g for g in groups.values() if len(g) == 2], int).reshape(-1, 2)
    return windows, owners, pairs


# Owner sides as the border-ownership family names them ("left"/"right" of a vertical edge; "top"/"bottom").
SIDE_CODES = {"left": 0, "right": 1, "top": 0, "bottom": 1}


def _side(value: Any) -> int:
    if isinstance(value, str):
        if value not in SIDE_CODES:
            raise ValueError(f"owner side {value!r}: expected one of {', '.join(SIDE_CODES)} or 0/1")
        return SIDE_CODES[value]
    return int(value)


def _orient(pairs: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """Order each pair as (owner side 0, owner side 1); pairs without opposite owners are an error."""
    pairs = np.asarray(pairs, int).reshape(-1, 2)
    o = owners[pairs]
    if not np.all(o[:, 0] != o[:, 1]) or not np.isin(o, (0, 1)).all():
        bad = int(np.flatnonzero((o[:, 0] == o[:, 1]) | ~np.isin(o, (0, 1)).all(axis=1))[0])
        raise ValueError(f"pair {pairs[bad].tolist()} has owners {o[bad].tolist()}: expected one 0 and one 1")
    return np.where((o[:, 0] == 0)[:, None], pairs, pairs[:, ::-1])


@dataclass
class BorderOwnershipTables:
    """What :func:`border_ownership` measured: one row per tested unit, and one per (model, layer, step)."""

    units: pd.DataFrame  # UNIT_COLUMNS; ``control`` says which analysis the row belongs to
    summary: pd.DataFrame  # SUMMARY_COLUMNS: the contained units (headline) and the uncontrolled ones


def pair_differences(images: Any, pairs: np.ndarray) -> np.ndarray:
    """``(K, H, W)`` bool: where the two images of each pair differ in any channel (read from the pixels)."""
    ims = [np.asarray(im) for im in images]
    return np.stack([np.any(ims[a] != ims[b], axis=-1) if ims[a].ndim == 3 else ims[a] != ims[b]
                     for a, b in pairs]) if len(pairs) else np.zeros((0,) + ims[0].shape[:2], bool)


def _images_of(trials: Sequence[Any] | None, images: Any) -> Any:
    if images is not None:
        return images
    if trials is not None and all(hasattr(t, "image") for t in trials):
        return [t.image for t in trials]
    raise ValueError("the identical-pixel control needs the stimuli: pass trials= (with images) or images=")


def border_ownership(rec: Recording, windows: np.ndarray | None = None, owners: np.ndarray | None = None,
                     pairs: np.ndarray | None = None, *, trials: Sequence[Any] | None = None, images: Any = None,
                     n_permutations: int = 1000, alpha: float = 0.05, min_pairs: int = 4, seed: int = 0,
                     layers: Sequence[str] | None = None, chunk: int = 8192) -> BorderOwnershipTables:
    """Per-unit BO index and permutation p-value for contained (and uncontrolled) units, and the layer summary.

    Parameters
    ----------
    rec : a recording of the model's responses to the ``N`` border-ownership stimuli (with its ``rfs``).
    windows : ``(N, 4)`` probe windows ``[r0, c0, r1, c1]`` (half-open px); ``owners``: ``(N,)`` owner side 0/1;
        ``pairs``: ``(K, 2)`` stimulus indices with opposite owners.
    trials : the trials in recording order, instead of the three arrays and ``images`` (:func:`pairs_from_trials`).
    images : the ``N`` stimuli (``(H, W, 3)`` uint8), whose pixels decide which RFs a pair leaves identical.
    n_permutations : random sign-flip permutations per unit (the p-value's resolution is ``1 / (n + 1)``).
    alpha : significance level of each unit's test; the population test's threshold is the caller's.
    min_pairs : a unit is tested only with at least this many pairs (contained ones, for the headline).
    seed : seed of the permutations.
    layers : layers to analyse (None: all recorded).
    chunk : units per vectorised block (memory: ``n_permutations * chunk`` floats).

    Returns
    -------
    :class:`BorderOwnershipTables`. A layer whose step-1 RFs never fit inside a pair's identical pixels has summary
    rows with ``n_contained = 0``, NaN statistics and a ``note`` saying why.

    Example
    -------
    >>> bo = border_ownership(record_net(net, images), trials=trials)  # doctest: +SKIP
    >>> bo.summary[["layer", "step", "rf_px", "n_contained", "fraction_significant", "p_population"]]  # doctest: +SKIP
    """
    if trials is not None:
        windows, owners, pairs = pairs_from_trials(trials)
    if windows is None or owners is None or pairs is None:
        raise ValueError("border_ownership needs trials, or windows, owners and pairs")
    owners = np.asarray(owners, int)
    windows = np.asarray(windows, float).reshape(-1, 4)
    if len(owners) != rec.n_stimuli or len(windows) != rec.n_stimuli:
        raise ValueError(f"{len(owners)} owners / {len(windows)} windows for {rec.n_stimuli} recorded stimuli")
    pairs = _orient(pairs, owners)  # (K, 2): (side-0 trial, side-1 trial)
    if len(pairs) == 0:
        raise ValueError("no stimulus pairs: expected trials 2k, 2k+1 sharing meta['pair_id']")
    differs = pair_differences(_images_of(trials, images), pairs)  # (K, H, W)
    if differs.shape[1:] != tuple(rec.image_size):
        raise ValueError(f"stimuli of {differs.shape[1:]} px for a recording of {tuple(rec.image_size)} px")
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0], np.float32), size=(n_permutations, len(pairs)))  # (P, K)
    rfs = rec.receptive_fields
    unit_frames, summary_rows = [], []
    for layer in (layers or rec.layers):
        steps = rec.steps(layer)
        if not steps:
            raise ValueError(f"layer {layer!r} is not in the recording: expected one of {rec.layers}")
        n, c, h, w = rec[(layer, steps[0])].shape
        rf1 = rfs.get(layer, steps[0], (h, w))  # the classical (step-1) RF decides containment
        rows_c, cols_c = rf1.centres()
        win = in_window(windows, (h, w), rec.image_size, centres=(rows_c, cols_c))  # (N, h, w)
        probe = win[pairs[:, 0]] & win[pairs[:, 1]]  # (K, h, w): RF centre in the window in both members
        masks = {"contained": probe & contained(rf1.boxes(), differs), "uncontrolled": probe}
        for step in steps:
            rf_t = rfs.get(layer, step, (h, w))
            base = {"model": rec.model, "layer": layer, "step": step, "rf_px": rf_t.side_px,
                    "rf_global": rf_t.covers_image, "n_units": c * h * w, "n_probe": c * int(probe.any(0).sum()),
                    "alpha": alpha}
            stats = {}
            for control, mask in masks.items():
                frame, pop_p = _unit_stats(rec[(layer, step)], pairs, mask, signs, alpha, min_pairs, chunk)
                if len(frame):
                    frame.insert(0, "control", control)
                    for key in ("model", "layer", "step"):
                        frame.insert(0, key, base[key])
                    frame["rf_row"], frame["rf_col"] = rows_c[frame["row"]], cols_c[frame["col"]]
                    frame["rf_px"] = rf_t.side_px
                    unit_frames.append(frame)
                stats[control] = (frame, pop_p)
            (cu, pop), (un, _) = stats["contained"], stats["uncontrolled"]
            ctrl = probe & contained(rf_t.boxes(), differs)
            n_ctrl, ctrl_max = control_max_abs(rec[(layer, step)], pairs, ctrl, min_pairs)
            summary_rows.append({
                **base, "n_contained": len(cu), "n_significant": int(cu["significant"].sum()) if len(cu) else 0,
                "fraction_significant": float(cu["significant"].mean()) if len(cu) else np.nan,
                "mean_abs_bo": float(cu["bo_index"].abs().mean()) if len(cu) else np.nan, "p_population": pop,
                "n_uncontrolled": len(un),
                "fraction_significant_uncontrolled": float(un["significant"].mean()) if len(un) else np.nan,
                "mean_abs_bo_uncontrolled": float(un["bo_index"].abs().mean()) if len(un) else np.nan,
                "n_control": n_ctrl, "control_max_abs": ctrl_max,
                "note": "" if len(cu) else _why_none(rf1, rfs.notes.get(layer, rfs.notes.get("*", "")),
                                                      probe, masks["contained"], min_pairs)})
    units = (pd.concat(unit_frames, ignore_index=True)[UNIT_COLUMNS] if unit_frames
             else pd.DataFrame(columns=UNIT_COLUMNS))
    return BorderOwnershipTables(units, pd.DataFrame(summary_rows, columns=SUMMARY_COLUMNS))


def _why_none(rf1: Any, rule_note: str, probe: np.ndarray, mask: np.ndarray, min_pairs: int) -> str:
    """The summary's note for a layer without contained units."""
    if rule_note:
        return f"no contained units: {rule_note}"
    if not probe.any():
        return "no unit has its RF centre in the probe window"
    if mask.sum(0).max() == 0:
        return (f"no contained units: no step-1 RF ({rf1.side_px} px) fits inside the pixels a pair leaves "
                "identical")
    return f"no contained units: none is contained in >= {min_pairs} pairs"


def control_max_abs(resp: np.ndarray, pairs: np.ndarray, mask: np.ndarray, min_pairs: int) -> tuple[int, float]:
    """``(units, max |index|)`` over the units ``mask`` (K, h, w) admits in >= ``min_pairs`` pairs: the control's
    value, which must be 0 (< :data:`CONTROL_TOL`) when the mask comes from the RFs at the recorded step.
    ``pairs`` (K, 2) give the index's two conditions (owner sides; figure and ground trials)."""
    n_pairs = mask.sum(axis=0)
    pos = np.argwhere(n_pairs >= min_pairs)
    if len(pos) == 0:
        return 0, float("nan")
    m = mask[:, pos[:, 0], pos[:, 1]].astype(np.float64)[:, None, :]  # (K, 1, M)
    r = resp[:, :, pos[:, 0], pos[:, 1]].astype(np.float64)  # (N, C, M)
    a = (r[pairs[:, 0]] * m).sum(0)
    b = (r[pairs[:, 1]] * m).sum(0)
    denom = np.abs(a) + np.abs(b)
    live = denom > 0
    if not live.any():
        return 0, float("nan")
    return int(live.sum()), float(np.max(np.abs(a - b)[live] / denom[live]))


def _unit_stats(resp: np.ndarray, pairs: np.ndarray, mask: np.ndarray, signs: np.ndarray, alpha: float,
                min_pairs: int, chunk: int) -> tuple[pd.DataFrame, float]:
    """Per-unit statistics over the pairs ``mask`` (K, h, w) admits, and the population p-value (NaN if none)."""
    n_pairs = mask.sum(axis=0)  # (h, w)
    pos = np.argwhere(n_pairs >= min_pairs)  # (M, 2) map positions
    if len(pos) == 0:
        return pd.DataFrame(), float("nan")
    c = resp.shape[1]
    m = mask[:, pos[:, 0], pos[:, 1]].astype(np.float64)  # (K, M)
    r = resp[:, :, pos[:, 0], pos[:, 1]].astype(np.float64)  # (N, C, M)
    a_resp, b_resp = r[pairs[:, 0]], r[pairs[:, 1]]  # (K, C, M)
    d = (a_resp - b_resp) * m[:, None, :]  # (K, C, M), 0 for pairs not admitted
    cnt = m.sum(axis=0)[None, :]  # (1, M)
    a = (a_resp * m[:, None, :]).sum(axis=0) / cnt  # (C, M)
    b = (b_resp * m[:, None, :]).sum(axis=0) / cnt
    # flip-invariant scale of each unit (swapping a pair's members leaves |a_k| + |b_k| unchanged)
    scale = ((np.abs(a_resp) + np.abs(b_resp)) * m[:, None, :]).sum(axis=0) / cnt  # (C, M)
    flat = d.reshape(len(pairs), -1)  # (K, C*M)
    norm = (cnt.repeat(c, axis=0) * scale).reshape(-1)  # (C*M,)
    live = norm > 0
    p = np.ones(flat.shape[1])
    pop_null = np.zeros(signs.shape[0])
    obs_all = flat.sum(axis=0)
    sgn = signs.astype(np.float64)
    for s in range(0, flat.shape[1], chunk):
        block = flat[:, s:s + chunk]
        null = sgn @ block  # (P, chunk): sums under random owner swaps
        o = obs_all[s:s + chunk]
        # a tiny tolerance so that float rounding never makes the observed value beat itself
        exceed = (np.abs(null) >= np.abs(o)[None, :] * (1 - 1e-9) - 1e-12).sum(axis=0)
        p[s:s + chunk] = (exceed + 1) / (signs.shape[0] + 1)
        lv = live[s:s + chunk]
        pop_null += (np.abs(null[:, lv]) / norm[s:s + chunk][lv]).sum(axis=1)
    n_live = int(live.sum())
    if n_live == 0:
        return pd.DataFrame(), float("nan")
    t_obs = float((np.abs(obs_all[live]) / norm[live]).sum())
    pop_p = float(((pop_null >= t_obs * (1 - 1e-9) - 1e-12).sum() + 1) / (signs.shape[0] + 1))
    p = p.reshape(c, -1)
    denom = np.abs(a) + np.abs(b)
    with np.errstate(invalid="ignore", divide="ignore"):
        bo = np.where(denom > 0, (a - b) / denom, np.nan)
    ch, k = np.nonzero(live.reshape(c, -1))
    frame = pd.DataFrame({"channel": ch, "row": pos[k, 0], "col": pos[k, 1], "n_pairs": n_pairs[pos[k, 0], pos[k, 1]],
                          "a": a[ch, k], "b": b[ch, k], "bo_index": bo[ch, k], "p_value": p[ch, k],
                          "significant": p[ch, k] < alpha})
    return frame, pop_p


def border_ownership_units(rec: Recording, windows: np.ndarray | None = None, owners: np.ndarray | None = None,
                           pairs: np.ndarray | None = None, **kwargs: Any) -> pd.DataFrame:
    """The per-unit table of :func:`border_ownership` (both controls; see its ``control`` column)."""
    return border_ownership(rec, windows, owners, pairs, **kwargs).units


def control_failures(bo_summary: pd.DataFrame | None = None, fg: pd.DataFrame | None = None, *,
                     tol: float = CONTROL_TOL) -> pd.DataFrame:
    """The rows where the built-in control failed: units whose RF at that step sees only identical pixels gave a
    BO index / modulation of magnitude >= ``tol``. Empty when the analysis can be trusted; a non-empty result
    means a receptive-field rule is wrong (or the model is nondeterministic), whatever the headline says.

    Example
    -------
    >>> control_failures(bo.summary, fg).empty  # doctest: +SKIP
    True
    """
    frames = []
    for name, table in (("border-ownership", bo_summary), ("figure-ground", fg)):
        if table is None or not len(table):
            continue
        bad = table[table["control_max_abs"].fillna(0) >= tol]
        if len(bad):
            cols = [c for c in ("model", "layer", "step", "region", "n_control", "control_max_abs") if c in bad]
            frames.append(bad[cols].assign(analysis=name))
    cols = ["analysis", "model", "layer", "step", "region", "n_control", "control_max_abs"]
    return pd.concat(frames, ignore_index=True).reindex(columns=cols) if frames else pd.DataFrame(columns=cols)


def departure_step(summary: pd.DataFrame, *, p_column: str = "p_population", level: float = 0.05) -> pd.DataFrame:
    """Per (model, layer): the first time step whose contained units depart from 0 — the population test's
    p-value below ``level`` divided by the number of steps tested (Bonferroni over steps) — or NaN if none does.

    Works on the summaries of :func:`border_ownership` and
    :func:`~preattentive.physiology.figure_ground.figure_ground_modulation` (centre rows).

    Example
    -------
    >>> departure_step(bo.summary)  # doctest: +SKIP
    """
    rows = []
    for (model, layer), d in summary.groupby(["model", "layer"], sort=False):
        d = d.sort_values("step")
        tested = d[d[p_column].notna()]
        hit = tested[tested[p_column] < level / max(len(tested), 1)]
        rows.append({"model": model, "layer": layer, "n_steps": int(d["step"].nunique()),
                     "n_steps_tested": int(tested["step"].nunique()),
                     "departure_step": float(hit["step"].iloc[0]) if len(hit) else np.nan,
                     "threshold": level / max(len(tested), 1)})
    return pd.DataFrame(rows)
