"""Evaluation figures, pure: a table in, a matplotlib ``Figure`` out (no files, no global pyplot state).

Example
-------
>>> from preattentive.evaluation import accuracy_table, psychometric_table
>>> fig = psychometric_figure(accuracy_table(df), psychometric_table(df))  # doctest: +SKIP
>>> fig.savefig("psychometric.png")  # doctest: +SKIP
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pandas as pd

from preattentive.evaluation.stats import psychometric_curve, wilson_ci

# Okabe & Ito (2008) colour-blind-safe palette, then matplotlib's tab10 for more models
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def _fig(w: float, h: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=100)


def model_label(model: str, method: str) -> str:
    return f"{model} · {method}"


def model_colors(labels: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    extra = colormaps["tab10"].colors
    return {lab: (PALETTE + list(extra))[k % (len(PALETTE) + len(extra))] for k, lab in enumerate(labels)}


def psychometric_figure(acc: pd.DataFrame, fits: pd.DataFrame | None = None, *, ncols: int = 4,
                        ladders: dict[str, list[str]] | None = None) -> Any:
    """Accuracy vs difficulty level, one panel per family, one line per model x method.

    Shaded bands are Wilson 95 % CIs, the dashed grey line is chance, thin curves are psychometric fits with the
    threshold marked (a tick on the x axis) where the fit succeeded. ``acc`` is
    :func:`~preattentive.evaluation.accuracy_table` output; ``fits``
    :func:`~preattentive.evaluation.psychometric_table`;
    ``ladders`` optional tick labels per family (e.g. the rung's parameter values).
    """
    if acc.empty:
        raise ValueError("empty accuracy table: expected rows from accuracy_table")
    key = "task" if "task" in acc.columns else "family"  # one panel per task (family + non-level parameters)
    fams = sorted(acc[key].unique())
    labels = sorted({model_label(m, k) for m, k in zip(acc["model"], acc["method"])})
    colors = model_colors(labels)
    ncols = min(ncols, len(fams))
    nrows = -(-len(fams) // ncols)
    fig = _fig(3.3 * ncols, 2.7 * nrows + 0.4 + 0.22 * -(-(len(labels) + 1) // 4))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[len(fams):]:
        ax.set_visible(False)
    for ax, fam in zip(axes, fams):
        d = acc[acc[key] == fam]
        for (m, k), t in d.groupby(["model", "method"], sort=True):
            lab = model_label(m, k)
            t = t.sort_values("level")
            x = t["level"].clip(lower=0).to_numpy(float)
            ax.fill_between(x, t["ci_lo"], t["ci_hi"], color=colors[lab], alpha=0.15, lw=0)
            ax.plot(x, t["accuracy"], "o-", color=colors[lab], ms=3.5, lw=1.6, label=lab)
            if fits is not None and len(x) >= 2:
                f = fits[(fits[key if key in fits.columns else "family"] == fam) & (fits["model"] == m)
                         & (fits["method"] == k)]
                if len(f) and bool(f["success"].iloc[0]):
                    r = f.iloc[0]
                    xs = np.linspace(x.min(), x.max(), 100)
                    ax.plot(xs, psychometric_curve(r["kind"], xs, r["alpha"], r["beta"], 0.0, r["chance"]),
                            color=colors[lab], lw=0.8, alpha=0.7, ls=":")
                    if x.min() <= r["threshold"] <= x.max():
                        ax.plot([r["threshold"]], [0.02], marker="^", color=colors[lab], ms=6, clip_on=False)
        chance = float(d["chance"].mean())
        ax.axhline(chance, color="0.45", ls="--", lw=1, label="chance")
        ax.set_ylim(0, 1.04)
        levels = sorted(d["level"].clip(lower=0).unique())
        ax.set_xticks(levels)
        if ladders and fam in ladders:
            ax.set_xticklabels([ladders[fam][int(v)] if int(v) < len(ladders[fam]) else str(v) for v in levels],
                               fontsize=6.5, rotation=20)
        n = d["n"]
        ax.set_title(f"{fam}\n(n = {int(n.min())}{'' if n.min() == n.max() else f'–{int(n.max())}'} per level)",
                     fontsize=9)
        ax.set_xlabel("difficulty level (0 = easiest)", fontsize=8)
        ax.set_ylabel("accuracy", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25, lw=0.5)
        for s in ("top", "right"):
            ax.spines[s].set_visible(False)
    handles, labs = [], []
    for ax in axes[:len(fams)]:
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labs:
                handles.append(h)
                labs.append(l)
    if "chance" in labs:  # last, after the models
        k = labs.index("chance")
        handles.append(handles.pop(k))
        labs.append(labs.pop(k))
    fig.legend(handles, labs, loc="lower center", ncol=min(4, len(labs)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, min(0.3, (0.35 + 0.22 * -(-len(labs) // 4)) / fig.get_figheight()), 1, 1))
    return fig


def overview_figure(acc: pd.DataFrame, status: pd.DataFrame | None = None) -> Any:
    """Heatmap of accuracy pooled over levels (rows: model x method, columns: family), each cell annotated with
    accuracy and, small, its chance level. ``acc`` has at least model, method, family, n, k, chance.

    ``status`` (``evaluation.findings.curve_status``) greys out cells that are not results: "not informative"
    (at chance or at ceiling at every rung: the measurement could not move) and "not applicable" (the model could
    not be asked), each labelled so instead of an accuracy."""
    if acc.empty and (status is None or status.empty):
        raise ValueError("empty accuracy table: expected rows from accuracy_table")
    key = "task" if "task" in acc.columns else "family"
    g = acc.groupby(["model", "method", key], sort=True).agg(n=("n", "sum"), k=("k", "sum"),
                                                                  chance=("chance", "mean")).reset_index()
    g["label"] = [model_label(m, k) for m, k in zip(g["model"], g["method"])]
    g["accuracy"] = g["k"] / g["n"]
    flags: dict[tuple[str, str], str] = {}
    if status is not None and len(status):
        for r in status[status["status"] != "informative"].itertuples():
            flags[(model_label(r.model, r.method), r.task if key == "task" else r.family)] = (
                "not\napplicable" if r.status == "not applicable" else "not\ninformative")
    labels = sorted(set(g["label"]) | {lab for lab, _ in flags})
    cols = sorted(set(g[key]) | {c for _, c in flags})
    grid = g.pivot(index="label", columns=key, values="accuracy").reindex(index=labels, columns=cols)
    chance = g.pivot(index="label", columns=key, values="chance").reindex(index=labels, columns=cols)
    shown = grid.to_numpy(float).copy()
    for (lab, col) in flags:
        shown[labels.index(lab), cols.index(col)] = np.nan
    fig = _fig(max(5.0, 1.25 * grid.shape[1] + 3.2), 0.55 * grid.shape[0] + 1.6)
    ax = fig.subplots()
    ax.set_facecolor("0.93")
    im = ax.imshow(shown, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i, lab in enumerate(labels):
        for j, col in enumerate(cols):
            v = grid.iat[i, j]
            if (lab, col) in flags:
                ax.text(j, i, flags[(lab, col)], ha="center", va="center", fontsize=6.5, color="0.35")
            elif v == v:
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=9, color="white" if v < 0.6 else "black")
                ax.text(j, i + 0.32, f"chance {chance.iat[i, j]:.2f}", ha="center", va="center", fontsize=5.5,
                        color="white" if v < 0.6 else "0.2")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02).set_label("accuracy (all levels)", fontsize=8)
    fig.tight_layout()
    return fig


def stimulus_figure(examples: pd.DataFrame, *, max_cols: int = 6) -> Any:
    """Example stimuli: one row per family, one column per example (``image`` uint8 (H, W, 3)), titled with the
    level and the correct answer. ``examples`` columns: family, level, image, answer (+ question, once per row)."""
    if examples.empty:
        raise ValueError("no example stimuli: expected rows with family, level, image, answer")
    fams = list(dict.fromkeys(examples["family"]))
    ncols = min(max_cols, int(examples.groupby("family").size().max()))
    fig = _fig(1.55 * ncols + 2.0, 1.75 * len(fams))
    axes = fig.subplots(len(fams), ncols, squeeze=False)
    for i, fam in enumerate(fams):
        d = examples[examples["family"] == fam].head(ncols)
        for j in range(ncols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(d):
                ax.set_visible(False)
                continue
            r = d.iloc[j]
            ax.imshow(r["image"], interpolation="nearest")
            ax.set_title(f"level {r['level']}: {str(r['answer'])[:18]}", fontsize=7)
            for s in ax.spines.values():
                s.set_color("0.8")
        q = str(d["question"].iloc[0]) if "question" in d.columns else ""
        q = "\n".join(textwrap.wrap(q, 26)[:4])
        axes[i, 0].set_ylabel(f"{fam}\n{q}" if q else fam, fontsize=7.5, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def parse_probe_method(method: str) -> tuple[str | None, int | None]:
    """``"probe:layers.3@t2"`` -> ``("layers.3", 2)``; ``"probe"`` -> ``(None, None)``."""
    rest = method.split(":", 1)[1] if ":" in method else ""
    layer, _, step = rest.partition("@t")
    return (layer or None), (int(step) if step.isdigit() else None)


def probe_figure(acc: pd.DataFrame, *, ncols: int = 3) -> Any:
    """Linear-probe accuracy (pooled over levels, Wilson 95 % CI) per layer and time step; one panel per model x
    task. With time steps: x = step, one line per layer; without: x = layer. ``acc`` is ``accuracy_table`` output
    restricted to probe methods (``probe:<layer>[@t<step>]``)."""
    d = acc[acc["method"].str.startswith("probe")]
    if d.empty:
        raise ValueError("no probe rows: expected methods named probe[:<layer>[@t<step>]]")
    key = "task" if "task" in d.columns else "family"
    g = d.groupby(["model", key, "method"], sort=True).agg(n=("n", "sum"), k=("k", "sum"),
                                                          chance=("chance", "mean")).reset_index()
    parsed = [parse_probe_method(m) for m in g["method"]]
    g["layer"] = [p[0] or "last" for p in parsed]
    g["step"] = [p[1] for p in parsed]
    g["accuracy"] = g["k"] / g["n"]
    g["lo"], g["hi"] = wilson_ci(g["k"].to_numpy(), g["n"].to_numpy())
    panels = list(g.groupby(["model", key], sort=True))
    ncols = min(ncols, len(panels))
    nrows = -(-len(panels) // ncols)
    fig = _fig(3.6 * ncols, 2.8 * nrows + 0.3)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for ax, ((model, task), t) in zip(axes, panels):
        layers = list(dict.fromkeys(t["layer"]))
        colors = model_colors(layers)
        if t["step"].notna().any():
            for layer in layers:
                s = t[t["layer"] == layer].dropna(subset=["step"]).sort_values("step")
                ax.fill_between(s["step"], s["lo"], s["hi"], color=colors[layer], alpha=0.15, lw=0)
                ax.plot(s["step"], s["accuracy"], "o-", color=colors[layer], ms=3.5, label=layer)
            ax.set_xticks(sorted(int(v) for v in t["step"].dropna().unique()))
            ax.set_xlabel("time step", fontsize=8)
            ax.legend(fontsize=6.5, frameon=False)
        else:
            x = np.arange(len(layers))
            s = t.set_index("layer").loc[layers]
            ax.errorbar(x, s["accuracy"], yerr=[s["accuracy"] - s["lo"], s["hi"] - s["accuracy"]], fmt="o-",
                        color=PALETTE[0], ms=4, capsize=2)
            ax.set_xticks(x, layers, rotation=30, ha="right", fontsize=7)
            ax.set_xlabel("layer", fontsize=8)
        ax.axhline(float(t["chance"].mean()), color="0.45", ls="--", lw=1)
        ax.set_ylim(0, 1.04)
        ax.set_title(f"{model}\n{task}", fontsize=8.5)
        ax.set_ylabel("probe accuracy", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25, lw=0.5)
    fig.tight_layout()
    return fig
