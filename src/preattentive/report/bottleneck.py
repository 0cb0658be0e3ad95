"""The bottleneck study's figure (pure: table → matplotlib Figure): accuracy against the image-token budget."""

from __future__ import annotations

import numpy as np
import pandas as pd

CONDITIONING_LABELS = {"late": "question-independent encoder (LLaVA)", "film": "question-conditioned encoder (FiLM)",
                       "none": "no question"}


def accuracy_vs_tokens_figure(table: pd.DataFrame, *, title: str = "Accuracy vs image-token budget"):
    """One panel per task: accuracy (Wilson 95 % CI bars) against the number of image tokens the reader sees
    (log scale), one line per encoder conditioning, chance dashed.

    ``table`` needs columns task, tokens, conditioning, accuracy, ci_lo, ci_hi, chance (as written by
    :func:`preattentive.studies.bottleneck.run_bottleneck`).

    Example
    -------
    >>> fig = accuracy_vs_tokens_figure(pd.read_csv("runs/bottleneck/bottleneck.csv"))  # doctest: +SKIP
    """
    from matplotlib.figure import Figure

    if table.empty:
        raise ValueError("empty bottleneck table: expected rows with task, tokens, conditioning, accuracy")
    tasks = list(dict.fromkeys(table["task"]))
    fig = Figure(figsize=(4.2 * len(tasks), 3.4), dpi=100)
    axes = np.atleast_1d(fig.subplots(1, len(tasks), squeeze=False).ravel())
    colors = {"late": "#d95f02", "film": "#1b9e77", "none": "#7570b3"}
    for ax, task in zip(axes, tasks):
        d = table[table["task"] == task]
        for mode, s in d.groupby("conditioning", sort=False):
            s = s.sort_values("tokens")
            err = np.vstack([s["accuracy"] - s["ci_lo"], s["ci_hi"] - s["accuracy"]])
            ax.errorbar(s["tokens"], s["accuracy"], yerr=err, marker="o", capsize=3, color=colors.get(mode),
                        label=CONDITIONING_LABELS.get(mode, mode))
        ax.axhline(float(d["chance"].mean()), color="0.5", ls="--", lw=1, label="chance")
        ax.set_xscale("log", base=2)
        ticks = sorted(d["tokens"].unique())
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(int(t)) for t in ticks])
        ax.set_ylim(0, 1)
        ax.set_xlabel("image tokens (pooled patch grid)")
        ax.set_ylabel("accuracy")
        ax.set_title(str(task), fontsize=9)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
