"""The one results schema: per-trial rows in Parquet, and the aggregate tables computed from them.

Every method writes the same columns (:data:`COLUMNS`), so a CLIP zero-shot run, a LLaVA generative run, a linear
probe and a trained net's readout line up trial by trial (``trial_key``) and can be compared with McNemar's test.

Example
-------
>>> df = read_results("study/eval")  # doctest: +SKIP
>>> accuracy_table(df)[["model", "family", "level", "accuracy", "ci_lo", "ci_hi"]]  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from preattentive.evaluation.stats import fit_psychometric, mcnemar, wilson_ci

# column -> (pandas dtype, meaning)
COLUMNS: dict[str, tuple[str, str]] = {
    "model": ("string", "model spec as given (display name)"),
    "model_fingerprint": ("string", "hash of the weights' files; cached rows of other weights are not reused"),
    "method": ("string", "zero-shot | generative | supervised | probe (probe:<layer>[@t<step>] when a layer is named)"),
    "options": ("string", "JSON of the method's options (layer, step, prompt template, ...)"),
    "family": ("string", "stimulus family id, e.g. maze-v1"),
    "params": ("string", "JSON of the generator parameters (level, size, ...)"),
    "level": ("int64", "difficulty-ladder rung (0 = easiest; -1 = none)"),
    "difficulty": ("string", "JSON of the trial's difficulty values"),
    "trial_id": ("string", "Trial.id: family/s<seed>/<index>"),
    "trial_key": ("string", "family/<params hash>/s<seed>/<index>: unique across levels and parameters"),
    "seed": ("int64", "stimulus seed"),
    "index": ("int64", "trial index within its (family, params, seed)"),
    "question": ("string", "the trial's question"),
    "answer": ("string", "the correct choice"),
    "label": ("int64", "index of the correct choice"),
    "n_choices": ("int64", "number of choices"),
    "chance": ("float64", "1 / n_choices"),
    "prediction": ("int64", "chosen index; -1 = unparseable (counted wrong)"),
    "predicted": ("string", "the chosen choice's text ('' when unparseable)"),
    "correct": ("bool", "prediction == label"),
    "raw": ("string", "raw output: generated text, or JSON of scores/probabilities"),
    "parse": ("string", "how the prediction was obtained: argmax | cv-argmax | exact | letter | ... | unparseable"),
}


def empty_results() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, (t, _) in COLUMNS.items()})


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Columns in schema order with schema dtypes (missing columns are an error)."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"results table lacks columns {missing}; expected all of {list(COLUMNS)}")
    return df[list(COLUMNS)].astype({c: t for c, (t, _) in COLUMNS.items()}).reset_index(drop=True)


def write_results(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write rows to Parquet atomically (temp file + ``os.replace``): never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        conform(df).to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_results(path: str | os.PathLike) -> pd.DataFrame:
    """Rows from one Parquet file, or every ``*.parquet`` in a directory (a study's ``eval/``), concatenated."""
    p = Path(path)
    files = sorted(p.glob("*.parquet")) if p.is_dir() else [p]
    if not files or not all(f.is_file() for f in files):
        return empty_results()
    return conform(pd.concat([pd.read_parquet(f) for f in files], ignore_index=True))


def slug(text: str) -> str:
    """A file-name-safe form of a model spec or method tag."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.")
    return s[:80] or "model"


# --------------------------------------------------------------------------------------------- aggregates
GROUP = ["model", "method", "family", "task", "level"]
_NOT_TASK = ("level", "mix_levels")  # parameters that vary along a psychometric curve, not between tasks


def task_of(family: str, params_json: str) -> str:
    """A family plus the generator parameters that make it a different task: ``curve-tracing-v1 [style=dashed]``.

    The level (and the default 64 px size) are left out, so one task's levels form one psychometric curve.
    """
    try:
        params = json.loads(params_json) if params_json else {}
    except json.JSONDecodeError:
        params = {}
    extra = [f"{k}={v}" for k, v in sorted(params.items())
             if k not in _NOT_TASK and not (k == "size" and v == 64)]
    return f"{family} [{', '.join(extra)}]" if extra else family


def with_task(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``task`` column (see :func:`task_of`), computed once per distinct (family, params)."""
    if "task" in df.columns:
        return df
    if df.empty:
        return df.assign(task=pd.Series(dtype="string"))
    keys = df[["family", "params"]].drop_duplicates()
    m = {(f, p): task_of(f, p) for f, p in zip(keys["family"], keys["params"])}
    return df.assign(task=[m[(f, p)] for f, p in zip(df["family"], df["params"])])


def accuracy_table(df: pd.DataFrame, by: list[str] | None = None, level: float = 0.95) -> pd.DataFrame:
    """Accuracy per group (default model x method x task x level; ``task`` = family + its non-level parameters,
    :func:`task_of`) with Wilson CIs, chance and unparsed counts.

    Example
    -------
    >>> accuracy_table(df).columns.tolist()  # doctest: +SKIP
    ['model', 'method', 'family', 'task', 'level', 'n', 'k', 'accuracy', 'ci_lo', 'ci_hi', 'chance', 'unparsed']
    """
    by = list(by or GROUP)
    if "task" in by:
        df = with_task(df)
    if df.empty:
        return pd.DataFrame(columns=[*by, "n", "k", "accuracy", "ci_lo", "ci_hi", "chance", "unparsed"])
    g = df.groupby(by, sort=True, dropna=False)
    t = g.agg(n=("correct", "size"), k=("correct", "sum"), chance=("chance", "mean"),
              unparsed=("prediction", lambda s: int((s < 0).sum()))).reset_index()
    t["accuracy"] = t["k"] / t["n"]
    t["ci_lo"], t["ci_hi"] = wilson_ci(t["k"].to_numpy(), t["n"].to_numpy(), level)
    return t[[*by, "n", "k", "accuracy", "ci_lo", "ci_hi", "chance", "unparsed"]]


def psychometric_table(df: pd.DataFrame, kind: str = "logistic") -> pd.DataFrame:
    """One psychometric fit of accuracy vs ladder level per (model, method, task); levels < 2 give no fit.

    Columns: model, method, family, task, kind, threshold (level units), alpha, beta, chance, n_levels, success.
    """
    rows = []
    acc = accuracy_table(df)
    for (m, meth, fam, task), t in acc.groupby(["model", "method", "family", "task"], sort=True):
        t = t[t["level"] >= 0].sort_values("level")
        row = {"model": m, "method": meth, "family": fam, "task": task, "kind": kind, "threshold": np.nan, "alpha": np.nan,
               "beta": np.nan, "chance": float(t["chance"].mean()) if len(t) else np.nan, "n_levels": len(t),
               "success": False}
        if len(t) >= 2:
            f = fit_psychometric(t["level"], t["k"], t["n"], float(t["chance"].mean()), kind=kind)
            in_range = t["level"].min() <= f.threshold <= t["level"].max()  # no extrapolated thresholds
            row.update(threshold=f.threshold, alpha=f.alpha, beta=f.beta, success=bool(f.success and in_range))
        rows.append(row)
    return pd.DataFrame(rows, columns=["model", "method", "family", "task", "kind", "threshold", "alpha", "beta",
                                       "chance", "n_levels", "success"])


def compare_models(df: pd.DataFrame, a: str, b: str, *, method_a: str | None = None, method_b: str | None = None,
                   test: str = "exact") -> pd.DataFrame:
    """Paired McNemar comparison of models ``a`` and ``b`` per task (family + parameters), on the trials both answered.

    Columns: family, task, model_a, method_a, model_b, method_b, n, acc_a, acc_b, only_a, only_b, p_value, test.

    Example
    -------
    >>> compare_models(df, "run:runs/cnn", "run:runs/hgru")  # doctest: +SKIP
    """
    sa = df[(df["model"] == a) & ((df["method"] == method_a) if method_a else True)]
    sb = df[(df["model"] == b) & ((df["method"] == method_b) if method_b else True)]
    for name, s in ((a, sa), (b, sb)):
        if s.empty:
            raise ValueError(f"no rows for model {name!r}; expected one of: {', '.join(sorted(df['model'].unique()))}")
        if s["method"].nunique() > 1:
            raise ValueError(f"model {name!r} has several methods {sorted(s['method'].unique())}; name one")
    j = with_task(sa).merge(sb[["trial_key", "method", "correct"]], on="trial_key", suffixes=("_a", "_b"))
    rows = []
    for (fam, task), t in j.groupby(["family", "task"], sort=True):
        r = mcnemar(t["correct_a"], t["correct_b"], method=test)
        rows.append({"family": fam, "task": task, "model_a": a, "method_a": t["method_a"].iloc[0], "model_b": b,
                     "method_b": t["method_b"].iloc[0], "n": r.n, "acc_a": float(t["correct_a"].mean()),
                     "acc_b": float(t["correct_b"].mean()), "only_a": r.only_a, "only_b": r.only_b,
                     "p_value": r.p_value, "test": test})
    return pd.DataFrame(rows, columns=["family", "task", "model_a", "method_a", "model_b", "method_b", "n", "acc_a",
                                       "acc_b", "only_a", "only_b", "p_value", "test"])


def compare_all(df: pd.DataFrame, test: str = "exact") -> pd.DataFrame:
    """:func:`compare_models` for every pair of (model, method) that shares trials."""
    keys = sorted({(m, k) for m, k in zip(df["model"], df["method"])})
    parts = []
    for (ma, ka), (mb, kb) in itertools.combinations(keys, 2):
        sub = df[((df["model"] == ma) & (df["method"] == ka)) | ((df["model"] == mb) & (df["method"] == kb))]
        if ma == mb:  # the same model under two methods: label the sides by method
            sub = sub.assign(model=np.where(sub["method"] == ka, f"{ma} [{ka}]", f"{mb} [{kb}]"))
            ma_, mb_ = f"{ma} [{ka}]", f"{mb} [{kb}]"
        else:
            ma_, mb_ = ma, mb
        c = compare_models(sub, ma_, mb_, method_a=ka, method_b=kb, test=test)
        if len(c):
            parts.append(c)
    cols = ["family", "task", "model_a", "method_a", "model_b", "method_b", "n", "acc_a", "acc_b", "only_a", "only_b",
            "p_value", "test"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
