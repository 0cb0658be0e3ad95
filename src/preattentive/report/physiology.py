"""Physiology figures (pure: table → matplotlib Figure) and the report's physiology sections.

Tables come from :mod:`preattentive.physiology` (``figure_ground_modulation``, ``border_ownership_units``,
``border_ownership_summary``); a study writes them to ``DIR/physiology/*.parquet`` and
:func:`sections` turns them into report sections.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# Zhou, Friedman & von der Heydt 2000: fraction of orientation cells with significant side-of-figure modulation.
ZHOU_2000 = {"V1 (Zhou 2000)": 0.18, "V2 (Zhou 2000)": 0.50}
FG_FILE, BO_UNITS_FILE, BO_SUMMARY_FILE = "fg_modulation.parquet", "bo_index.parquet", "bo_summary.parquet"


def _figure(n_panels: int, *, width: float = 3.6, height: float = 3.0, ncols: int | None = None):
    from matplotlib.figure import Figure

    ncols = ncols or min(n_panels, 3)
    nrows = -(-n_panels // ncols)
    fig = Figure(figsize=(width * ncols, height * nrows + 0.4), dpi=100)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def _layer_colors(layers: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return {layer: cmap(k / max(len(layers) - 1, 1) * 0.85) for k, layer in enumerate(layers)}


def fg_timecourse_figure(fg: pd.DataFrame, *, title: str = "Figure–ground modulation over time steps"):
    """Modulation index (figure vs ground) against time step: one panel per model, one colour per layer,
    solid = RF on the figure centre, dashed = on the figure edge (Poort et al. 2012, figure 2).

    Example
    -------
    >>> fig = fg_timecourse_figure(figure_ground_modulation(rec, trials=trials))  # doctest: +SKIP
    """
    if fg.empty:
        raise ValueError("empty figure-ground table: expected rows from figure_ground_modulation")
    models = list(dict.fromkeys(fg["model"]))
    fig, axes = _figure(len(models))
    for ax, model in zip(axes, models):
        d = fg[(fg["model"] == model) & (fg["region"] != "ground")]
        layers = list(dict.fromkeys(d["layer"]))
        colors = _layer_colors(layers)
        for layer in layers:
            for region, style in (("centre", "-"), ("edge", "--")):
                s = d[(d["layer"] == layer) & (d["region"] == region)].sort_values("step")
                if s.empty:
                    continue
                ax.errorbar(s["step"], s["modulation"], yerr=s["modulation_sem"].fillna(0), color=colors[layer],
                            linestyle=style, marker="o", ms=3, capsize=2,
                            label=f"{layer} ({region})")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_title(str(model), fontsize=9)
        ax.set_xlabel("time step")
        ax.set_ylabel("modulation (A−G)/(|A|+|G|)")
        steps = sorted(d["step"].unique())
        ax.set_xticks(steps)
        ax.legend(fontsize=6, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def bo_histogram_figure(units: pd.DataFrame, *, step: int | None = None, bins: int = 30,
                        title: str = "Border-ownership index per unit"):
    """Histograms of the BO index ``(A−B)/(|A|+|B|)`` per (model, layer) at ``step`` (default: each layer's last
    step), significant units stacked in a darker shade (Zhou et al. 2000, figure 12).

    Example
    -------
    >>> fig = bo_histogram_figure(border_ownership_units(rec, trials=trials))  # doctest: +SKIP
    """
    if units.empty:
        raise ValueError("empty border-ownership table: expected rows from border_ownership_units")
    keys = list(dict.fromkeys(zip(units["model"], units["layer"])))
    fig, axes = _figure(len(keys), width=3.0, height=2.4, ncols=min(len(keys), 4))
    edges = np.linspace(-1, 1, bins + 1)
    for ax, (model, layer) in zip(axes, keys):
        d = units[(units["model"] == model) & (units["layer"] == layer)]
        t = step if step is not None else int(d["step"].max())
        d = d[d["step"] == t]
        sig = d["significant"].astype(bool)
        ax.hist([d.loc[sig, "bo_index"], d.loc[~sig, "bo_index"]], bins=edges, stacked=True,
                color=["#1f4e79", "#9ecae1"], label=["p < α", "n.s."])
        frac = sig.mean() if len(d) else float("nan")
        ax.set_title(f"{model} · {layer} · step {t}\n{frac:.0%} of {len(d)} units selective", fontsize=8)
        ax.set_xlabel("BO index")
        ax.set_xlim(-1, 1)
        ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def bo_fraction_figure(summary: pd.DataFrame, *, title: str = "Fraction of border-ownership-selective units"):
    """Fraction of units with significant BO selectivity against time step: one panel per model, one line per
    layer; the test's false-positive rate α and Zhou et al.'s V1 / V2 fractions as reference lines.

    Example
    -------
    >>> fig = bo_fraction_figure(border_ownership_summary(units))  # doctest: +SKIP
    """
    if summary.empty:
        raise ValueError("empty border-ownership summary: expected rows from border_ownership_summary")
    models = list(dict.fromkeys(summary["model"]))
    fig, axes = _figure(len(models))
    for ax, model in zip(axes, models):
        d = summary[summary["model"] == model]
        layers = list(dict.fromkeys(d["layer"]))
        colors = _layer_colors(layers)
        for layer in layers:
            s = d[d["layer"] == layer].sort_values("step")
            ax.plot(s["step"], s["fraction_significant"], marker="o", ms=3, color=colors[layer], label=layer)
        alpha = float(d["alpha"].iloc[0])
        ax.axhline(alpha, color="0.5", ls=":", lw=1, label=f"chance (α = {alpha:g})")
        for (name, value), ls in zip(ZHOU_2000.items(), ("-.", "--")):
            ax.axhline(value, color="#b2182b", ls=ls, lw=0.8, label=name)
        ax.set_ylim(0, 1)
        ax.set_xticks(sorted(d["step"].unique()))
        ax.set_xlabel("time step")
        ax.set_ylabel("fraction selective (p < α)")
        ax.set_title(str(model), fontsize=9)
        ax.legend(fontsize=6, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------- report sections
FG_TEXT = ("Units are (layer, channel, map position) with the receptive-field centre at the map position's "
           "centre in image pixels. Each figure-ground pair shares its texture segments: at a given location the "
           "segments are figure in one trial and ground in the other (Lamme 1995). Per unit, A is its mean "
           "response where its RF centre lies on the figure centre (or edge, within {edge} of the boundary) and "
           "G its response at the same location in the partner trial, where it is ground; the modulation index "
           "is (A − G) / (|A| + |G|), averaged over units (± s.e.m.). In macaque V1, figure and ground responses "
           "are equal at first and modulation appears ~70–100 ms after onset, at the edge before the centre "
           "(Poort et al. 2012): in a model, the corresponding signature is modulation that is absent at step 1 "
           "and grows over steps. Feedforward models have one step.")
BO_TEXT = ("Border-ownership pairs have identical pixels in the probe window and the figure on opposite sides "
           "(Zhou et al. 2000). Per unit whose RF centre lies in the window, the BO index is (A − B) / (|A| + |B|) "
           "for owner left (A) vs right (B); significance by a paired permutation test (owner labels shuffled "
           "within pairs, i.e. random sign flips of the pair differences), two-sided, at α per unit, so about α "
           "of the units pass by chance. Zhou et al. found side-of-figure selectivity in ~18 % of V1 and > 50 % "
           "of V2 and V4 orientation cells.")


def _fg_headline(fg: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (model, layer), d in fg[fg["region"] != "ground"].groupby(["model", "layer"], sort=False):
        first, last = d["step"].min(), d["step"].max()
        row = {"model": model, "layer": layer, "steps": int(last)}
        for region in ("centre", "edge"):
            r = d[d["region"] == region].set_index("step")
            row[f"{region} step 1"] = r["modulation"].get(first, np.nan)
            row[f"{region} last step"] = r["modulation"].get(last, np.nan)
        row["units (centre)"] = int(d.loc[d["region"] == "centre", "n_units"].max())
        rows.append(row)
    return pd.DataFrame(rows)


def sections(study: str | os.PathLike) -> list:
    """The report's physiology sections for a study directory (reads ``physiology/*.parquet``).

    Returns an empty list when the study has no physiology tables (the report then shows its "not built" note).

    Example
    -------
    >>> secs = sections("runs/demo")  # doctest: +SKIP
    >>> [s.title for s in secs]  # doctest: +SKIP
    ['Figure–ground modulation over time', 'Border ownership']
    """
    from preattentive.report.html import FigureItem, Section, TableItem

    folder = Path(study) / "physiology"
    tables = {k: pd.read_parquet(folder / f) for k, f in
              (("fg", FG_FILE), ("bo_units", BO_UNITS_FILE), ("bo_summary", BO_SUMMARY_FILE)) if (folder / f).is_file()}
    secs = []
    fg = tables.get("fg")
    if fg is not None and len(fg):
        px = _study_config(study).get("edge_px")
        edge = f"{px:g} px" if isinstance(px, (int, float)) else "one texture element"
        secs.append(Section(
            "Figure–ground modulation over time",
            question="Do the models' units respond more to the figure than to the ground, and only at later steps?",
            text=FG_TEXT.format(edge=edge),
            figures=[FigureItem("fg_modulation", fg_timecourse_figure(fg),
                                "Figure–ground modulation index per time step; solid = RF on the figure centre, "
                                "dashed = on the figure edge; error bars ± s.e.m. over units.")],
            tables=[TableItem("fg_modulation_headline", _fg_headline(fg),
                              "Modulation index at the first and the last time step per layer."),
                    TableItem("fg_modulation", fg, "Every (model, layer, step, region) row.", max_rows=0)]))
    summary = tables.get("bo_summary")
    units = tables.get("bo_units")
    if summary is not None and len(summary):
        figs = [FigureItem("bo_fraction", bo_fraction_figure(summary),
                           "Fraction of units with significant border-ownership selectivity per time step; "
                           "dotted: the test's chance rate α; red: Zhou et al. 2000.")]
        if units is not None and len(units):
            figs.append(FigureItem("bo_index", bo_histogram_figure(units),
                                   "BO index per unit at each layer's last step; dark: p < α."))
        last = summary.loc[summary.groupby(["model", "layer"], sort=False)["step"].idxmax()]
        secs.append(Section(
            "Border ownership",
            question="Do units whose receptive field sees identical pixels signal which side owns the edge?",
            text=BO_TEXT, figures=figs,
            tables=[TableItem("bo_summary_last", last.reset_index(drop=True),
                              "Per layer at its last step: units tested, fraction significant."),
                    TableItem("bo_summary", summary, "Every (model, layer, step) row.", max_rows=0)]))
    return secs


def _study_config(study: str | os.PathLike) -> dict[str, Any]:
    import json

    p = Path(study) / "config.json"
    try:
        return json.loads(p.read_text()) if p.is_file() else {}
    except (OSError, ValueError):
        return {}
