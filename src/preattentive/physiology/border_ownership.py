"""Border-ownership selectivity per unit, layer and time step — the in-silico version of Zhou et al. 2000.

Zhou, Friedman & von der Heydt (2000, J Neurosci 20:6594) showed a square's edge in a cell's receptive field
with the square on one side or the other, the pixels inside the RF identical; ~18 % of V1 and > 50 % of V2/V4
orientation cells preferred one side ("border ownership"). Here the stimuli come in pairs (trials ``2k, 2k+1``
of ``border-ownership``: identical pixels in ``meta["window"]``, opposite owner side), and a unit counts for a
pair when its RF centre lies in that pair's window.

Per unit, with ``A`` / ``B`` its mean response when the owner is on side 0 / side 1:

* BO index ``(A - B) / (|A| + |B|)`` (Zhou et al.'s side-of-figure contrast for non-negative responses);
* a two-sided paired permutation test: shuffling the owner labels within each pair flips the sign of that pair's
  difference, so the null distribution of the mean pair difference comes from random sign flips;
* a unit is BO-selective when ``p < alpha``. Under no selectivity about ``alpha`` of the units pass.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from preattentive.physiology.recording import Recording
from preattentive.physiology.units import in_window, rf_centres

UNIT_COLUMNS = ["model", "layer", "step", "channel", "row", "col", "rf_row", "rf_col", "n_pairs", "a", "b",
                "bo_index", "p_value", "significant"]
SUMMARY_COLUMNS = ["model", "layer", "step", "n_units", "n_significant", "fraction_significant", "mean_abs_bo",
                   "alpha"]


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


def border_ownership_units(rec: Recording, windows: np.ndarray | None = None, owners: np.ndarray | None = None,
                           pairs: np.ndarray | None = None, *, trials: Sequence[Any] | None = None,
                           n_permutations: int = 1000, alpha: float = 0.05, min_pairs: int = 4, seed: int = 0,
                           layers: Sequence[str] | None = None, chunk: int = 8192) -> pd.DataFrame:
    """Per-unit BO index and permutation p-value, one row per (layer, step, channel, position) tested.

    Parameters
    ----------
    rec : a recording of the model's responses to the ``N`` border-ownership stimuli.
    windows : ``(N, 4)`` probe windows ``[r0, c0, r1, c1]`` (half-open px); ``owners``: ``(N,)`` owner side 0/1;
        ``pairs``: ``(K, 2)`` stimulus indices with identical window pixels and opposite owners.
    trials : the trials in recording order, instead of the three arrays (see :func:`pairs_from_trials`).
    n_permutations : random sign-flip permutations per unit (the p-value's resolution is ``1 / (n + 1)``).
    alpha : significance level of each unit's test.
    min_pairs : a unit is tested only when its RF centre lies in the window of at least this many pairs.
    seed : seed of the permutations.
    layers : layers to analyse (None: all recorded).
    chunk : units per vectorised block (memory: ``n_permutations * chunk`` floats).

    Returns
    -------
    DataFrame with :data:`UNIT_COLUMNS`; silent units (``|A| + |B| == 0``) are left out.

    Example
    -------
    >>> units = border_ownership_units(record_net(net, images), trials=trials)  # doctest: +SKIP
    >>> border_ownership_summary(units)  # doctest: +SKIP
    """
    if trials is not None:
        windows, owners, pairs = pairs_from_trials(trials)
    if windows is None or owners is None or pairs is None:
        raise ValueError("border_ownership_units needs trials, or windows, owners and pairs")
    owners = np.asarray(owners, int)
    if len(owners) != rec.n_stimuli or len(windows) != rec.n_stimuli:
        raise ValueError(f"{len(owners)} owners / {len(windows)} windows for {rec.n_stimuli} recorded stimuli")
    pairs = _orient(pairs, owners)  # (K, 2): (side-0 trial, side-1 trial)
    if len(pairs) == 0:
        raise ValueError("no stimulus pairs: expected trials 2k, 2k+1 sharing meta['pair_id']")
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0], np.float32), size=(n_permutations, len(pairs)))  # (P, K)
    frames = []
    for layer in (layers or rec.layers):
        steps = rec.steps(layer)
        if not steps:
            raise ValueError(f"layer {layer!r} is not in the recording: expected one of {rec.layers}")
        n, c, h, w = rec[(layer, steps[0])].shape
        win = in_window(windows, (h, w), rec.image_size)  # (N, h, w)
        both = win[pairs[:, 0]] & win[pairs[:, 1]]  # (K, h, w): RF centre in the window in both members
        n_pairs = both.sum(axis=0)  # (h, w)
        tested = n_pairs >= min_pairs
        if not tested.any():
            continue
        pos = np.argwhere(tested)  # (M, 2) map positions
        m = both[:, pos[:, 0], pos[:, 1]].astype(np.float32)  # (K, M)
        rf_r, rf_c = rf_centres((h, w), rec.image_size)
        for step in steps:
            r = rec[(layer, step)][:, :, pos[:, 0], pos[:, 1]]  # (N, C, M)
            a_resp, b_resp = r[pairs[:, 0]], r[pairs[:, 1]]  # (K, C, M)
            d = (a_resp - b_resp).astype(np.float32) * m[:, None, :]  # (K, C, M), 0 outside the window
            cnt = m.sum(axis=0)[None, :]  # (1, M)
            a = (a_resp * m[:, None, :]).sum(axis=0) / cnt  # (C, M)
            b = (b_resp * m[:, None, :]).sum(axis=0) / cnt
            flat = d.reshape(len(pairs), -1)  # (K, C*M)
            p = np.empty(flat.shape[1])
            for s in range(0, flat.shape[1], chunk):
                null = signs @ flat[:, s:s + chunk]  # (P, chunk): sums under random owner swaps
                o = flat[:, s:s + chunk].sum(axis=0)
                # a tiny tolerance so that float rounding never makes the observed value beat itself
                exceed = (np.abs(null) >= np.abs(o)[None, :] * (1 - 1e-6) - 1e-12).sum(axis=0)
                p[s:s + chunk] = (exceed + 1) / (n_permutations + 1)
            p = p.reshape(c, -1)
            denom = np.abs(a) + np.abs(b)
            live = denom > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                bo = np.where(live, (a - b) / denom, np.nan)
            ch, k = np.nonzero(live)
            frames.append(pd.DataFrame({
                "model": rec.model, "layer": layer, "step": step, "channel": ch, "row": pos[k, 0],
                "col": pos[k, 1], "rf_row": rf_r[pos[k, 0]], "rf_col": rf_c[pos[k, 1]],
                "n_pairs": n_pairs[pos[k, 0], pos[k, 1]], "a": a[ch, k], "b": b[ch, k], "bo_index": bo[ch, k],
                "p_value": p[ch, k], "significant": p[ch, k] < alpha}))
    if not frames:
        return pd.DataFrame(columns=UNIT_COLUMNS)
    return pd.concat(frames, ignore_index=True)[UNIT_COLUMNS]


def border_ownership_summary(units: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Fraction of BO-selective units per (model, layer, step): the in-silico counterpart of Zhou et al.'s
    18 % (V1) / > 50 % (V2, V4). ``alpha`` is only recorded (the units' ``significant`` column decides).

    Example
    -------
    >>> border_ownership_summary(units)[["layer", "step", "fraction_significant"]]  # doctest: +SKIP
    """
    if units.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    g = units.groupby(["model", "layer", "step"], sort=False)
    out = g.agg(n_units=("significant", "size"), n_significant=("significant", "sum"),
                mean_abs_bo=("bo_index", lambda x: float(np.abs(x).mean()))).reset_index()
    out["fraction_significant"] = out["n_significant"] / out["n_units"]
    out["alpha"] = alpha
    out["n_significant"] = out["n_significant"].astype(int)
    return out[SUMMARY_COLUMNS]
