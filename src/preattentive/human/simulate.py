"""A simulated observer: a model answers an exported experiment as a synthetic participant, marked as such everywhere.

For development (the whole export -> data -> import -> report pipeline without people) and for planning (how
many trials a condition needs for a given precision). The observer sees exactly the exported trials: each one is
regenerated from (family, params, seed, index) and checked against the image hash in ``experiment.json``. It
answers with an evaluation method of the harness (``auto``: the model's own; any per-trial method). Viewing time
means nothing to a model unless it is told: ``steps`` maps a condition to the recurrent iterations a net may run
(``masked-50=2,unlimited=12``: the mask cuts recurrence short, Lamme & Roelfsema 2000), and ``lapse`` is the
probability of a random guess instead of the model's answer (a psychophysical lapse rate; Wichmann & Hill 2001).

Rows carry ``synthetic = true``, ``simulated_by = <model spec> [<method>]``, participant ids
``synthetic-<model>-<k>``, nominal 60 Hz timing (no frames were shown) and no reaction time; after import they are
``human:synthetic-...`` and ``human:pooled-synthetic``, and the study's notes say they are simulated.

Example
-------
>>> paths = simulate_observers("exp", "run:runs/hgru", participants=2, out="exp/synthetic")  # doctest: +SKIP
>>> import_responses(paths, "study")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preattentive.evaluation.adapters import Adapter
from preattentive.evaluation.harness import model_slug
from preattentive.evaluation.methods import resolve_method
from preattentive.evaluation.results import slug
from preattentive.evaluation.specs import load_model
from preattentive.evaluation.stats import wilson_ci
from preattentive.files import atomic_write_json
from preattentive.human.design import DesignError, parse_conditions
from preattentive.human.export import FORMAT, image_id, load_manifest, png_bytes

NOMINAL_FRAME_MS = 1000.0 / 60.0  # a simulated observer's "display": 60 Hz


def parse_steps(text: str | None, conditions: list[str]) -> dict[str, int]:
    """``"50=2,unlimited=12"`` (or ``masked-50=2``) -> ``{"masked-50": 2, "unlimited": 12}``.

    Example
    -------
    >>> parse_steps("50=2,unlimited=12", ["masked-50", "unlimited"])
    {'masked-50': 2, 'unlimited': 12}
    """
    out: dict[str, int] = {}
    for item in [s.strip() for s in (text or "").split(",") if s.strip()]:
        cond, sep, val = item.partition("=")
        name = cond.strip() if cond.strip().startswith("masked-") else (
            parse_conditions(cond.strip())[0].name if sep else "")
        if not sep or name not in conditions or not val.strip().isdigit() or int(val) < 1:
            raise DesignError(f"steps {item!r}: expected CONDITION=STEPS with a condition of the experiment "
                              f"({', '.join(conditions)}) and STEPS >= 1")
        out[name] = int(val)
    return out


def trials_for_ci(p: float, half_width: float = 0.05, level: float = 0.95) -> int:
    """Trials for a ``level`` confidence interval of half-width ``half_width`` around accuracy ``p`` (normal
    approximation, n = z^2 p (1 - p) / h^2): a planning number, not a guarantee.

    Example
    -------
    >>> trials_for_ci(0.75, 0.05)
    289
    """
    from scipy.stats import norm

    if not 0 < half_width < 1:
        raise ValueError(f"half_width={half_width}: expected a number in (0, 1)")
    z = norm.ppf(0.5 + level / 2)
    return int(math.ceil(z * z * max(p * (1 - p), 1e-9) / half_width ** 2))


def _trial(spec: dict[str, Any], cache: dict) -> Any:
    from preattentive import stimuli

    k = (spec["family"], spec["params"], int(spec["seed"]))
    if k not in cache:
        cache[k] = stimuli.make(spec["family"], seed=int(spec["seed"]), **json.loads(spec["params"]))
    t = cache[k].trial(int(spec["index"]))
    if image_id(png_bytes(t.image)) != spec["image"]:
        raise DesignError(f"trial {spec['key']} regenerates to a different image than the exported one; expected "
                          f"the same stimulus code as at export (re-export the experiment)")
    return t


def simulate_observers(experiment: str | os.PathLike, model: str | Adapter, *, participants: int = 1,
                       out: str | os.PathLike, method: str = "auto", lapse: float = 0.0, steps: str | None = None,
                       seed: int = 0, device: str = "cpu", batch_size: int = 16, name: str | None = None
                       ) -> list[Path]:
    """Answer the exported experiment with ``model`` as ``participants`` synthetic participants.

    Participant ``k`` runs list ``k mod n_lists`` in its exported order, practice included. Writes
    ``out/<participant>.json`` (the page's JSON download format, one object per trial) and returns the paths.

    Parameters
    ----------
    experiment : the directory ``human export`` wrote (or its ``experiment.json``).
    model : any spec :func:`~preattentive.evaluation.load_model` accepts (``run:DIR``, ``hf-clip:DIR``, ...), or an
        adapter.
    method : an evaluation method that answers trial by trial (``auto``, ``zero-shot``, ``generative``,
        ``supervised``).
    lapse : probability in [0, 1) of a uniformly random answer instead of the model's (seeded by seed, k, trial).
    steps : recurrent iterations per condition, e.g. ``"masked-50=2,unlimited=12"`` (method option ``steps``).

    Example
    -------
    >>> simulate_observers("exp", "run:runs/hgru", participants=3, out="exp/synthetic", lapse=0.05)  # doctest: +SKIP
    """
    m = load_manifest(experiment)
    if not isinstance(participants, int) or participants < 1:
        raise DesignError(f"participants={participants!r}: expected an integer >= 1")
    if not 0 <= lapse < 1:
        raise DesignError(f"lapse={lapse!r}: expected a probability in [0, 1)")
    conds = {c["name"]: c for c in m["conditions"]}
    step_map = parse_steps(steps, list(conds))
    adapter = model if isinstance(model, Adapter) else load_model(model, device=device)
    meth = resolve_method(method, adapter)
    if not meth.per_trial:
        raise DesignError(f"method {meth.name!r} is fitted per block, not answered trial by trial; expected a "
                          f"per-trial method (zero-shot, generative, supervised)")
    if step_map and "steps" not in meth.defaults:
        raise DesignError(f"--steps needs a method with a 'steps' option (supervised); {meth.name!r} has "
                          f"{', '.join(meth.defaults) or 'none'}")
    spec_text = f"{adapter.name} [{meth.name}]"
    lists = [m["lists"][k % len(m["lists"])] for k in range(participants)]
    wanted: dict[str, set[str]] = {}  # condition -> trial keys to answer under it
    for rows in lists:
        for key, cond in rows:
            wanted.setdefault(cond, set()).add(key)
    practice = {p["key"]: p for p in m["practice"]}
    for p in m["practice"]:
        wanted.setdefault(p["condition"], set()).add(p["key"])
    specs = {**m["trials"], **practice}
    task = (adapter.record.get("task") or {}).get("family") if meth.name == "supervised" else None
    other = sorted({s["family"] for s in specs.values()} - {task}) if task else []
    if other:  # a trained readout answers only its own task (as in the harness)
        raise DesignError(f"model {adapter.name!r} was trained on {task}, but the experiment shows {other[0]}; "
                          f"expected an experiment of that family only (human export --family {task})")
    cache: dict = {}
    answers: dict[tuple[str, str], Any] = {}  # (trial key, condition) -> Outcome
    for cond in sorted(wanted):
        opts = meth.options(**({"steps": step_map[cond]} if cond in step_map else {}))
        for fam in sorted({specs[k]["family"] for k in wanted[cond]}):  # one family per batch: one choice count
            keys = sorted(k for k in wanted[cond] if specs[k]["family"] == fam)
            for s in range(0, len(keys), batch_size):
                chunk = keys[s:s + batch_size]
                outs = meth.run(adapter, [_trial(specs[k], cache) for k in chunk], **opts)
                answers.update({(k, cond): o for k, o in zip(chunk, outs)})

    base = slug(name) if name else model_slug(adapter.name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, rows in enumerate(lists):
        pid = f"synthetic-{base}-{k + 1:02d}"[:64]
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, k, 0x51A7])
        seq = [(p, p["condition"], "practice", j) for j, p in enumerate(m["practice"])]
        seq += [(specs[key], cond, "test", j) for j, (key, cond) in enumerate(rows)]
        data = []
        for spec, cond, phase, j in seq:
            o = answers[(spec["key"], cond)]
            resp, source = int(o.prediction), "simulated"
            guess, which = rng.random(), int(rng.integers(len(spec["choices"])))  # drawn always: same stream
            if guess < lapse:
                resp, source = which, "simulated-lapse"
            data.append(_row(m, conds[cond], spec, phase, j, pid, k % len(m["lists"]), resp, source, spec_text))
        path = out / f"{pid}.json"
        atomic_write_json(path, data, indent=0)
        paths.append(path)
    return paths


def _row(m: dict, cond: dict, spec: dict, phase: str, number: int, pid: str, list_: int, resp: int, source: str,
         by: str) -> dict[str, Any]:
    d = m["design"]
    dur = cond["duration_ms"]
    frames = None if dur is None else max(1, round(dur / NOMINAL_FRAME_MS))
    return {
        "preattentive": FORMAT, "experiment_id": m["experiment_id"], "participant": pid, "list": list_,
        "synthetic": True, "simulated_by": by, "phase": phase, "trial_number": number, "trial_key": spec["key"],
        "trial_id": spec["trial_id"], "family": spec["family"], "params": spec["params"], "level": spec["level"],
        "seed": spec["seed"], "index": spec["index"], "question": spec["question"],
        "choices": json.dumps(spec["choices"]), "label": spec["label"], "answer": spec["answer"],
        "difficulty": spec["difficulty"], "condition": cond["name"], "duration_ms": "" if dur is None else dur,
        "mask": d["mask"], "mask_ms": d["mask_ms"], "fixation_ms": d["fixation_ms"],
        "frame_ms": round(NOMINAL_FRAME_MS, 3), "planned_frames": "" if frames is None else frames,
        "stim_frames": "" if frames is None else frames,
        "stim_ms": "" if frames is None else round(frames * NOMINAL_FRAME_MS, 3),
        "mask_frames": "" if frames is None else max(1, round(d["mask_ms"] / NOMINAL_FRAME_MS)),
        "max_interval_ms": "", "timing_ok": True, "response": resp, "response_key": "",
        "response_source": source, "predicted": spec["choices"][resp] if resp >= 0 else "",
        "correct": resp == spec["label"], "rt_ms": "", "user_agent": f"preattentive human simulate ({by})",
    }


def summarize(files: list[str | os.PathLike], half_width: float = 0.05) -> pd.DataFrame:
    """Accuracy per condition (test trials, all files) with Wilson 95 % CIs, and ``trials_needed``: the trials per
    condition a 95 % CI of ``half_width`` would need at that accuracy (:func:`trials_for_ci`).

    Example
    -------
    >>> summarize(simulate_observers("exp", "run:runs/hgru", out="sim"))  # doctest: +SKIP
    """
    from preattentive.human.responses import read_responses

    t = read_responses(files, verify=False)
    t = t[t["phase"] == "test"]
    g = t.groupby("condition", sort=True)["correct"].agg(n="size", k="sum").reset_index()
    g["accuracy"] = g["k"] / g["n"]
    g["ci_lo"], g["ci_hi"] = wilson_ci(g["k"].to_numpy(), g["n"].to_numpy())
    g["trials_needed"] = [trials_for_ci(p, half_width) for p in g["accuracy"]]
    g.attrs["half_width"] = half_width
    return g


__all__ = ["NOMINAL_FRAME_MS", "parse_steps", "simulate_observers", "summarize", "trials_for_ci"]
