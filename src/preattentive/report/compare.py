"""A ``compare`` study on the page (pure: table → Figure): accuracy against test-time iterations, per test set.

Bansal et al. 2022's figure, for any study: each panel is one test condition (e.g. a maze size); a recurrent net is
a line over the iterations it was run for, a feedforward net (one step, whatever is asked) a dashed horizontal
line; bars and bands are Wilson 95 % intervals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from preattentive.report.html import FigureItem, Section, TableItem


def iterations_figure(table: pd.DataFrame, *, title: str = "Accuracy vs test-time iterations"):
    """One panel per test condition: accuracy (95 % CI) against the iterations each model was run for.

    ``table`` is a ``compare`` results table (:data:`preattentive.studies.compare.COLUMNS`): model, condition,
    test_steps, accuracy, ci_low, ci_high, n. Models with one row per condition are drawn as dashed lines.

    Example
    -------
    >>> fig = iterations_figure(pd.read_parquet("runs/s5path/results.parquet"))  # doctest: +SKIP
    """
    from matplotlib.figure import Figure

    if table.empty:
        raise ValueError("empty comparison table: expected rows with model, condition, test_steps, accuracy")
    conds = list(dict.fromkeys(table["condition"]))
    models = list(dict.fromkeys(table["model"]))
    colors = {m: c for m, c in zip(models, ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"))}
    fig = Figure(figsize=(3.6 * len(conds), 3.3), dpi=100)
    axes = np.atleast_1d(fig.subplots(1, len(conds), squeeze=False).ravel())
    xmax = max(int(table["test_steps"].max()), 2)
    for ax, cond in zip(axes, conds):
        d = table[table["condition"] == cond]
        for m in models:
            s = d[d["model"] == m].groupby("test_steps", as_index=False)[["accuracy", "ci_low", "ci_high"]].mean()
            if s.empty:
                continue
            if len(s) == 1 and int(s["test_steps"].iloc[0]) == 1:  # feedforward: one answer at any "iteration"
                r = s.iloc[0]
                ax.axhline(r["accuracy"], color=colors[m], ls="--", label=f"{m} (feedforward)")
                ax.axhspan(r["ci_low"], r["ci_high"], color=colors[m], alpha=0.15, lw=0)
                continue
            err = np.vstack([s["accuracy"] - s["ci_low"], s["ci_high"] - s["accuracy"]])
            ax.errorbar(s["test_steps"], s["accuracy"], yerr=err, marker="o", capsize=3, color=colors[m], label=m)
        ax.set_xlim(0, xmax * 1.05)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("iterations at test")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{cond} (n = {int(d['n'].max())})", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def sections(study: str | Path) -> list[Section]:
    """The "Training comparison" section of a study directory holding ``results.parquet`` (from ``compare``)."""
    study = Path(study)
    path = study / "results.parquet"
    if not path.is_file():
        return []
    table = pd.read_parquet(path)
    if table.empty:
        return []
    cfg = {}
    if (study / "compare.json").is_file():  # a damaged file is a one-line error naming it
        from preattentive.config_schema import read_json

        cfg = read_json(study / "compare.json", what="study config (from `preattentive compare`)")
    task = f"task {cfg.get('task', '?')} {cfg.get('params', {})} at {cfg.get('size', '?')} px" if cfg else ""
    budget = (f"{cfg.get('budget_minutes')} {cfg.get('clock', 'wall')}-minutes" if cfg.get("budget_minutes")
              else f"{cfg.get('budget_steps')} steps") if cfg else ""
    cols = ["model", "n_params", "train_steps", "train_cpu_s", "condition", "test_steps", "n", "accuracy", "ci_low",
            "ci_high"]
    return [Section(
        "Training comparison",
        "Trained the same way on the same trials, which models solve harder test sets, and does running a "
        "recurrent net for more iterations help?",
        text=f"Every model trained on {task} with the same budget ({budget}), optimiser and data; "
             "accuracy on held-out test trials of each condition.",
        figures=[FigureItem("compare_iterations", iterations_figure(table),
                            "Accuracy against iterations at test, one panel per test condition; dashed: feedforward "
                            "nets (one pass). Wilson 95 % intervals.")],
        tables=[TableItem("compare", table[[c for c in cols if c in table.columns]],
                          "Per model, condition and test iterations: correct of n with its 95 % interval.")],
    )]
