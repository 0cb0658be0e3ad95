"""Physiology figures (pure: table → matplotlib Figure): time courses of contained units, BO histograms, RF boxes.

Tables come from :mod:`preattentive.physiology` (``figure_ground_modulation``, ``border_ownership``). The
headline of every time course is the **contained** units (whole step-1 RF inside identical pixels); the
uncontrolled analysis, where drawn, is a thin dotted line of the same colour and says so in the legend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# Zhou, Friedman & von der Heydt 2000: fraction of orientation cells with significant side-of-figure modulation.
ZHOU_2000 = {"V1 (Zhou 2000)": 0.18, "V2 (Zhou 2000)": 0.50}


def _figure(n_panels: int, *, width: float = 3.6, height: float = 3.0, ncols: int | None = None):
    from matplotlib.figure import Figure

    ncols = ncols or min(n_panels, 3)
    nrows = -(-n_panels // ncols)
    fig = Figure(figsize=(width * ncols, height * nrows + 0.4), dpi=100)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


# Uncontrolled series get open markers: a one-step model's series is a single point, invisible as a line alone.
_UNCONTROLLED_MARK = {"marker": "o", "ms": 4, "mfc": "none"}


def _legend_below(ax) -> None:
    """The legend under the axes, not over the data (one-step panels had it covering most of the plot)."""
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False, ncol=1)


def _layer_colors(layers: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return {layer: cmap(k / max(len(layers) - 1, 1) * 0.85) for k, layer in enumerate(layers)}


def _mark_departure(ax, steps: pd.Series, values: pd.Series, p: pd.Series, color: Any, level: float) -> None:
    """A star on the first step whose population test passes ``level`` / steps tested (see departure_step)."""
    tested = p.notna()
    if not tested.any():
        return
    hit = (p < level / int(tested.sum())) & tested
    if hit.any():
        k = int(np.flatnonzero(hit.to_numpy())[0])
        ax.plot(steps.iloc[k], values.iloc[k], marker="*", ms=11, color=color, mec="k", mew=0.5, zorder=5)


def fg_timecourse_figure(fg: pd.DataFrame, *, region: str = "centre", level: float = 0.05,
                         title: str = "Figure–ground modulation of contained units over time steps"):
    """Mean modulation index of contained units (± s.e.m.) against time step: one panel per model, one colour per
    layer; a star marks the step at which the layer departs from 0 (population sign-flip test, Bonferroni over
    steps); dotted: every unit with its RF centre in the region (uncontrolled). Poort et al. 2012, figure 2.

    Example
    -------
    >>> fig = fg_timecourse_figure(figure_ground_modulation(rec, trials=trials))  # doctest: +SKIP
    """
    if fg.empty:
        raise ValueError("empty figure-ground table: expected rows from figure_ground_modulation")
    d_all = fg[fg["region"] == region]
    models = list(dict.fromkeys(d_all["model"]))
    fig, axes = _figure(len(models), height=4.2)
    for ax, model in zip(axes, models):
        d = d_all[d_all["model"] == model]
        layers = list(dict.fromkeys(d["layer"]))
        colors = _layer_colors(layers)
        for layer in layers:
            s = d[d["layer"] == layer].sort_values("step")
            ax.plot(s["step"], s["modulation_uncontrolled"], color=colors[layer], ls=":", lw=1, alpha=0.8,
                    **_UNCONTROLLED_MARK)
            if s["n_contained"].max() > 0:
                n = int(s["n_contained"].max())
                ax.errorbar(s["step"], s["modulation"], yerr=s["modulation_sem"].fillna(0), color=colors[layer],
                            marker="o", ms=3, capsize=2, label=f"{layer} ({int(s['rf_px'].iloc[0])} px, {n} units)")
                _mark_departure(ax, s["step"], s["modulation"], s["p_population"], colors[layer], level)
            else:
                ax.plot([], [], color=colors[layer], ls=":", label=f"{layer}: none contained (dotted: uncontrolled)",
                        **_UNCONTROLLED_MARK)
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_title(str(model), fontsize=9)
        ax.set_xlabel("time step")
        ax.set_ylabel(f"modulation at the figure {region}")
        ax.set_xticks(sorted(d["step"].unique()))
        _legend_below(ax)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def bo_fraction_figure(summary: pd.DataFrame, *, level: float = 0.05,
                       title: str = "Border-ownership-selective fraction of contained units"):
    """Fraction of contained units with significant BO selectivity against time step: one panel per model, one
    line per layer, a star at the step the layer departs from 0; the test's false-positive rate α and Zhou et
    al.'s V1 / V2 fractions as reference lines; dotted: uncontrolled units.

    Example
    -------
    >>> fig = bo_fraction_figure(border_ownership(rec, trials=trials).summary)  # doctest: +SKIP
    """
    if summary.empty:
        raise ValueError("empty border-ownership summary: expected rows from border_ownership")
    models = list(dict.fromkeys(summary["model"]))
    fig, axes = _figure(len(models), height=4.2)
    for ax, model in zip(axes, models):
        d = summary[summary["model"] == model]
        layers = list(dict.fromkeys(d["layer"]))
        colors = _layer_colors(layers)
        for layer in layers:
            s = d[d["layer"] == layer].sort_values("step")
            ax.plot(s["step"], s["fraction_significant_uncontrolled"], color=colors[layer], ls=":", lw=1,
                    **_UNCONTROLLED_MARK)
            if s["n_contained"].max() > 0:
                ax.plot(s["step"], s["fraction_significant"], marker="o", ms=3, color=colors[layer],
                        label=f"{layer} ({int(s['rf_px'].iloc[0])} px, {int(s['n_contained'].max())} units)")
                _mark_departure(ax, s["step"], s["fraction_significant"], s["p_population"], colors[layer], level)
            else:
                ax.plot([], [], color=colors[layer], ls=":", label=f"{layer}: none contained (dotted: uncontrolled)",
                        **_UNCONTROLLED_MARK)
        alpha = float(d["alpha"].iloc[0])
        ax.axhline(alpha, color="0.5", ls="--", lw=1, label=f"chance (α = {alpha:g})")
        for (name, value), ls in zip(ZHOU_2000.items(), ("-.", "--")):
            ax.axhline(value, color="#b2182b", ls=ls, lw=0.8, label=name)
        ax.set_ylim(0, 1)
        ax.set_xticks(sorted(d["step"].unique()))
        ax.set_xlabel("time step")
        ax.set_ylabel("fraction selective (p < α)")
        ax.set_title(str(model), fontsize=9)
        _legend_below(ax)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def bo_histogram_figure(units: pd.DataFrame, *, bins: int = 30, control: str = "contained",
                        title: str = "Border-ownership index per contained unit"):
    """Histograms of the BO index ``(A−B)/(|A|+|B|)`` of ``control`` units per (model, layer) at each layer's
    last step, significant units stacked in a darker shade (Zhou et al. 2000, figure 12).

    Example
    -------
    >>> fig = bo_histogram_figure(border_ownership(rec, trials=trials).units)  # doctest: +SKIP
    """
    units = units[units["control"] == control] if "control" in units else units
    if units.empty:
        raise ValueError(f"no {control} units in the border-ownership table")
    keys = list(dict.fromkeys(zip(units["model"], units["layer"])))
    fig, axes = _figure(len(keys), width=3.0, height=2.4, ncols=min(len(keys), 4))
    edges = np.linspace(-1, 1, bins + 1)
    for ax, (model, layer) in zip(axes, keys):
        d = units[(units["model"] == model) & (units["layer"] == layer)]
        t = int(d["step"].max())
        d = d[d["step"] == t]
        sig = d["significant"].astype(bool)
        ax.hist([d.loc[sig, "bo_index"], d.loc[~sig, "bo_index"]], bins=edges, stacked=True,
                color=["#1f4e79", "#9ecae1"], label=["p < α", "n.s."])
        ax.set_title(f"{model} · {layer} · step {t}\n{sig.mean():.0%} of {len(d)} units selective", fontsize=8)
        ax.set_xlabel("BO index")
        ax.set_xlim(-1, 1)
        ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def rf_boxes_figure(image_a: np.ndarray, image_b: np.ndarray, boxes: pd.DataFrame, *,
                    window: Any = None, title: str = "What 'contained' means: step-1 receptive fields on a pair"):
    """One panel per model: a border-ownership stimulus, the pixels its partner shares shaded green, the probe
    window (dashed white), and one unit's step-1 RF box per layer (solid: contained, i.e. wholly on green;
    dotted: sees pixels that differ between the pair).

    ``boxes`` has columns model, layer, rf_px, r0, c0, r1, c1 (half-open px), contained.

    Example
    -------
    >>> fig = rf_boxes_figure(a.image, b.image, rf_table, window=a.meta["window"])  # doctest: +SKIP
    """
    from matplotlib.patches import Rectangle

    if boxes.empty:
        raise ValueError("no receptive-field boxes to draw")
    same = np.all(np.asarray(image_a) == np.asarray(image_b), axis=-1)
    models = list(dict.fromkeys(boxes["model"]))
    fig, axes = _figure(len(models), width=3.2, height=3.4, ncols=min(len(models), 4))
    for ax, model in zip(axes, models):
        ax.imshow(image_a, interpolation="nearest")
        overlay = np.zeros(same.shape + (4,))
        overlay[same] = (0.1, 0.8, 0.2, 0.35)
        ax.imshow(overlay, interpolation="nearest")
        if window is not None:
            r0, c0, r1, c1 = window
            ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, ec="w", ls="--", lw=1))
        d = boxes[boxes["model"] == model]
        colors = _layer_colors(list(dict.fromkeys(d["layer"])))
        for r in d.itertuples():
            ax.add_patch(Rectangle((r.c0 - 0.5, r.r0 - 0.5), r.c1 - r.c0, r.r1 - r.r0, fill=False,
                                   ec=colors[r.layer], lw=1.6, ls="-" if r.contained else ":",
                                   label=f"{r.layer}: {int(r.rf_px)} px{'' if r.contained else ' (not contained)'}"))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(str(model), fontsize=9)
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(0, -0.02), frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
