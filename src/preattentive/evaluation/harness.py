"""The evaluation loop: a model x a suite x a method -> per-trial rows, cached per (model, trial) on disk.

Re-running with the same ``out`` only computes the trials that are missing: rows are keyed by ``trial_key``
(family, generator parameters, seed, index) and kept only while the model's weights fingerprint and the method's
options are unchanged. Results are saved after every block (atomically), so an interrupted run loses at most one
block.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preattentive.evaluation.adapters import Adapter
from preattentive.evaluation.methods import Method, TooFewTrials, resolve_method
from preattentive.evaluation.results import conform, empty_results, read_results, slug, write_results
from preattentive.evaluation.specs import load_model
from preattentive.evaluation.suites import Block, Suite, load_suite


def _json(o: Any) -> str:
    return json.dumps(o, sort_keys=True, separators=(",", ":"),
                      default=lambda v: v.item() if isinstance(v, np.generic) else str(v))


def results_path(out: str | os.PathLike, model: str, method: str, options: dict[str, Any]) -> Path:
    """Where the rows of (model, method, options) live: ``out/eval/<model>__<method>[-<layer>-t<step>].parquet``."""
    tag = method
    if method == "probe":
        tag += f"-{options.get('layer') or 'last'}-t{'last' if options.get('step') is None else options['step']}"
    rest = {k: v for k, v in options.items() if k not in ("layer", "step")}
    from preattentive.evaluation.methods import METHODS

    if method in METHODS and rest != {k: v for k, v in METHODS[method].defaults.items() if k not in ("layer", "step")}:
        tag += "-" + hashlib.sha1(_json(rest).encode()).hexdigest()[:6]  # non-default options get their own file
    return Path(out) / "eval" / f"{model_slug(model)}__{slug(tag)}.parquet"


def model_slug(model: str) -> str:
    """A short file name for a model spec: ``run:/a/b/runs/hgru`` -> ``run-runs-hgru-<hash>``; plain ids as is."""
    scheme, sep, target = model.partition(":")
    if not sep or "/" not in target:
        return slug(model)
    parts = [p for p in target.replace("\\", "/").split("/") if p not in ("", ".", "..")][-2:]
    return slug("-".join([scheme, *parts])) + "-" + hashlib.sha1(model.encode()).hexdigest()[:6]


def method_label(method: str, options: dict[str, Any]) -> str:
    """The ``method`` column: the method's name, plus the layer/step for probes (``probe:layers.3@t2``) and the
    test-time steps of a recurrent readout (``supervised@t20``), so that variants never pool into one accuracy."""
    if method == "supervised" and options.get("steps") is not None:
        return f"supervised@t{options['steps']}"  # a recurrent net iterated a chosen number of steps
    if method != "probe" or (options.get("layer") is None and options.get("step") is None):
        return method
    step = f"@t{options['step']}" if options.get("step") is not None else ""
    return f"probe:{options.get('layer') or 'last'}{step}"


def _rows(adapter: Adapter, method: Method, options_json: str, block: Block, trials, outcomes) -> list[dict]:
    label = method_label(method.name, json.loads(options_json))
    rows = []
    prompt_format = ""
    if method.name in ("generative", "choice-likelihood"):
        whole = "{image}" in str(json.loads(options_json).get("template", ""))
        prompt_format = "--template with {image} (the whole prompt)" if whole else adapter.prompt_format
    for t, o in zip(trials, outcomes):
        if o is None:  # a trial the method left out (a probe's choice set with too few trials)
            continue
        rows.append({
            "model": adapter.name, "model_fingerprint": adapter.fingerprint, "method": label,
            "options": options_json, "family": block.family, "params": block.params_json,
            "level": -1 if block.level is None else int(block.level), "difficulty": _json(t.difficulty),
            "trial_id": t.id, "trial_key": block.trial_key(t.index), "seed": block.seed, "index": t.index,
            "question": t.question, "answer": t.answer, "label": int(t.label), "n_choices": len(t.choices),
            "chance": 1.0 / len(t.choices), "prediction": int(o.prediction),
            "predicted": t.choices[o.prediction] if o.prediction >= 0 else "", "correct": o.prediction == t.label,
            "raw": o.raw, "parse": o.parse, "prompt": o.prompt, "prompt_format": prompt_format})
    return rows


def evaluate(model: str | Adapter, suite: str | Suite = "core", *, method: str = "auto", n: int | None = None,
             out: str | os.PathLike | None = None, families: list[str] | None = None, batch_size: int = 16,
             progress: bool = True, device: str = "cpu", dtype: Any = None, **options: Any) -> pd.DataFrame:
    """Evaluate ``model`` on ``suite`` with ``method``; return the per-trial rows (schema: ``results.COLUMNS``).

    Parameters
    ----------
    model : a spec string (``hf-clip:DIR``, ``run:DIR``, a preset; see :mod:`~preattentive.evaluation.specs`) or
        a loaded :class:`~preattentive.evaluation.adapters.Adapter`.
    suite : a packaged suite name (``core``, ``quick``, ``serial``), a YAML path, or a :class:`Suite`.
    method : ``auto`` (the model kind's first method: zero-shot for contrastive models, generative for VLMs,
        probe for vision backbones, supervised for trained nets), ``zero-shot``, ``generative``,
        ``choice-likelihood``, ``probe`` or ``supervised``.
    n : trials per (family, level), overriding the suite's.
    out : study directory; rows are cached in ``out/eval/`` and only missing trials are computed.
    families : keep only these family ids (``"maze"`` or ``"maze-v1"``).
    device, dtype : where and in what precision to run (checked before loading; dtype ``auto``: bf16 on a capable
        GPU, else fp32).
    options : method options, e.g. ``layer="layers.3"``, ``step=2`` (probe), ``template=...`` (generative,
        choice-likelihood), ``reduce="sum"`` (choice-likelihood).

    Returns
    -------
    DataFrame of this model x method on the suite's trials; ``df.attrs["computed"]`` counts the new trials and
    ``df.attrs["skipped"]`` lists blocks left out (with why).

    Example
    -------
    >>> df = evaluate("run:runs/hgru-curve", "core", n=200, out="study")  # doctest: +SKIP
    >>> accuracy_table(df)  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    adapter = model if isinstance(model, Adapter) else load_model(model, device=device, dtype=dtype)
    m = resolve_method(method, adapter)
    opts = m.options(**options)
    adapter.check_method(m.name, opts)  # e.g. a VLM with no prompt format: one line now, not after loading data
    options_json = _json(opts)
    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    blocks = suite.blocks(n, families=families)
    skipped: list[str] = []
    if m.name == "supervised":  # a trained readout only answers the task it was trained on
        task = (adapter.record.get("task") or {}).get("family")
        if task:
            skipped = [f"{b.family} level {b.level}: {adapter.name} was trained on {task}" for b in blocks
                       if b.family != task]
            blocks = [b for b in blocks if b.family == task]
    if not blocks:
        raise ValueError(f"no trials to evaluate for {adapter.name!r} on suite {suite.name!r}"
                         + (f" ({skipped[0]})" if skipped else ""))

    path = results_path(out, adapter.name, m.name, opts) if out is not None else None
    cached = read_results(path) if path is not None and path.is_file() else empty_results()
    cached = cached[(cached["model_fingerprint"] == adapter.fingerprint) & (cached["options"] == options_json)
                    & (cached["model"] == adapter.name)]
    have = set(cached["trial_key"])
    work = []
    for b in blocks:
        todo = [i for i in range(b.n) if b.trial_key(i) not in have]
        if todo and not m.per_trial:  # a probe is fitted on the whole block: redo it all
            todo = list(range(b.n))
            cached = cached[~cached["trial_key"].isin([b.trial_key(i) for i in range(b.n)])]
        if todo:
            work.append((b, todo))

    parts = [cached]
    bar = tqdm(total=sum(len(t) for _, t in work), desc=f"{adapter.name} [{m.name}]", unit="trial",
               disable=not progress, leave=False)
    computed = 0
    try:
        for b, todo in work:
            gen = b.generator()
            rows: list[dict] = []
            step = batch_size if m.per_trial else len(todo)
            for s in range(0, len(todo), step):
                trials = [gen.trial(i) for i in todo[s:s + step]]
                kw = dict(opts) if m.per_trial else {**opts, "batch_size": batch_size}
                try:
                    outcomes = m.run(adapter, trials, **kw)
                except TooFewTrials as e:  # e.g. 10-way counting with 12 trials: no probe, said so
                    skipped.append(f"{b.family} level {b.level}: {e}")
                    bar.update(len(trials))
                    continue
                left_out = sum(o is None for o in outcomes)
                if left_out:
                    skipped.append(f"{b.family} level {b.level}: {left_out} of {len(trials)} trials left out (their "
                                   "answer occurs only once in the block: nothing to cross-validate)")
                rows += _rows(adapter, m, options_json, b, trials, outcomes)
                bar.update(len(trials))
            if not rows:
                continue
            computed += len(rows)
            parts.append(conform(pd.DataFrame(rows)))
            if path is not None:  # save after every block: an interrupted run keeps what it finished
                write_results(pd.concat(parts, ignore_index=True), path)
    finally:
        bar.close()
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else cached
    keys = {b.trial_key(i) for b in blocks for i in range(b.n)}
    df = conform(df[df["trial_key"].isin(keys)].sort_values(["family", "params", "index"], kind="stable"))
    df.attrs["computed"] = computed
    df.attrs["skipped"] = skipped
    df.attrs["path"] = str(path) if path is not None else None
    return df


def probe_sweep(model: str | Adapter, suite: str | Suite = "core", *, layers: list[str | None],
                steps: list[int | None] = (None,), **kwargs: Any) -> pd.DataFrame:
    """Linear probes at every (layer, time step): does the information exist in the representation, and when?

    Loads the model once and calls :func:`evaluate` with ``method="probe"`` per (layer, step); rows land in
    separate cache files and carry ``method = "probe:<layer>@t<step>"``.

    Example
    -------
    >>> df = probe_sweep("run:runs/hgru", "core", layers=["conv1", "hgru"], steps=[0, 3, 7],
    ...                  n=100, out="study")  # doctest: +SKIP
    """
    adapter = model if isinstance(model, Adapter) else load_model(model, device=kwargs.pop("device", "cpu"),
                                                                   dtype=kwargs.pop("dtype", None))
    parts = [evaluate(adapter, suite, method="probe", layer=layer, step=step, **kwargs)
             for layer in layers for step in steps]
    df = pd.concat(parts, ignore_index=True) if parts else empty_results()
    df.attrs["skipped"] = [s for p in parts for s in p.attrs.get("skipped", [])]
    df.attrs["computed"] = sum(p.attrs.get("computed", 0) for p in parts)
    return df
