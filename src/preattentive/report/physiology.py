"""The report's physiology sections: the receptive-field control, figure–ground modulation and border ownership.

A study writes its tables to ``DIR/physiology/`` (``preattentive.physiology.write_tables``: ``rf_boxes``,
``fg_modulation``, ``bo_summary``, ``bo_index``, ``departure`` as Parquet, one example pair as ``bo_example.npz``)
and :func:`sections` turns them into report sections. Figures are in :mod:`.physiology_figures`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preattentive.report.physiology_figures import (ZHOU_2000, bo_fraction_figure, bo_histogram_figure,  # noqa: F401
                                                    fg_timecourse_figure, rf_boxes_figure)

# The study-directory format (preattentive.physiology.tables.FILES): the report reads files, not the room.
FILES = {"fg": "fg_modulation.parquet", "bo_units": "bo_index.parquet", "bo_summary": "bo_summary.parquet",
         "rf": "rf_boxes.parquet", "departure": "departure.parquet"}
EXAMPLE = "bo_example.npz"
CONTROL_TOL = 1e-6  # the physiology room's CONTROL_TOL: |index| of units whose RF sees identical pixels

RF_TEXT = (
    "Both analyses compare a unit's responses to two stimuli whose pixels are identical inside its receptive "
    "field, so that any difference must come from context outside it — from lateral or top-down connections "
    "(Zhou et al. 2000; Poort et al. 2012). A unit's RF is the box of pixels its response can depend on at all, "
    "computed from each layer's kernels, strides and paddings (Araujo et al. 2019) and, in recurrent nets, per "
    "time step (lateral kernels grow it every step; a top-down path brings in the RF of the layer above); it is "
    "checked against input gradients in the tests. A unit is contained in a pair when its step-1 (classical) RF "
    "lies wholly where the pair's two images are identical, pixel for pixel. Self-attention, GroupNorm over the "
    "spatial map and sequence scans mix every position within one sweep: those units see the whole image, are "
    "never contained, and are not analysed. The control runs every time: units whose RF at that step sees only "
    "identical pixels must give an index of exactly 0 — a feedforward unit cannot tell two identical inputs "
    "apart. The uncontrolled numbers (RF centre in the region, pixels not checked) are kept as dotted lines and "
    "*_uncontrolled columns for comparison only.")
FG_TEXT = (
    "Each figure-ground pair shares its texture segments where the figure is: figure in one trial, ground in "
    "the other (Lamme 1995). Per contained unit whose RF centre lies on the figure centre in one trial and on "
    "the ground in its partner, A and G are its mean responses; the modulation index is (A − G) / (|A| + |G|), "
    "averaged over units (± s.e.m.). A star marks the first step at which a layer's contained units depart from 0: "
    "a sign-flip permutation test over pairs applied to all units at once (statistic: mean |A − G| over units, "
    "scaled per unit), p < 0.05 / steps tested. In macaque V1, figure and ground responses are equal at first "
    "and modulation appears ~70–100 ms after onset, at the edge before the centre (Poort et al. 2012): the model "
    "signature is contained-unit modulation that is 0 at step 1 and departs from 0 later. Edge units see the "
    "boundary itself, which differs between the trials, so edge modulation is uncontrolled by construction "
    "(a boundary is visible to one feedforward sweep). Edges within {edge} of the boundary count as edge.")
BO_TEXT = (
    "Border-ownership pairs show a figure's edge in the probe window with the figure on opposite sides and "
    "reversed contrast, so the pixels around the edge are identical (Zhou et al. 2000). Per contained unit "
    "looking at the edge (RF centre in the window), the BO index is (A − B) / (|A| + |B|) for owner left (A) vs "
    "right (B); significance by a paired permutation test (owner labels shuffled within pairs), two-sided, at α "
    "per unit, so about α of the units pass by chance. A star marks the first step whose population test "
    "(the same sign flips for all units) passes p < 0.05 / steps tested. Zhou et al. found side-of-figure "
    "selectivity in ~18 % of V1 and > 50 % of V2 and V4 orientation cells, within ~10–25 ms of response onset.")


def _read(study: Path) -> dict[str, pd.DataFrame]:
    folder = study / "physiology"
    return {k: pd.read_parquet(folder / f) for k, f in FILES.items() if (folder / f).is_file()}


def _layer_list(rows: pd.DataFrame) -> str:
    """"model: layer (why), layer (why); model2: ..." for the layers of ``rows``."""
    parts = []
    for model, d in rows.groupby("model", sort=False):
        items = [f"{r.layer} ({int(r.rf_px)} px{': ' + _short(r.note) if r.note else ''})"
                 for r in d.drop_duplicates("layer").itertuples()]
        parts.append(f"{model}: " + "; ".join(items))
    return " — ".join(parts)


def _short(note: str) -> str:
    return str(note).removeprefix("no contained units: ").split(":")[0]


def control_status(tables: dict[str, pd.DataFrame]) -> tuple[bool, str]:
    """Whether the built-in control held in every table, and a sentence saying so (with the numbers)."""
    n, worst, bad = 0, 0.0, []
    for key in ("bo_summary", "fg"):
        t = tables.get(key)
        if t is None or "control_max_abs" not in t:
            continue
        ctl = t[t["n_control"] > 0]
        n += int(ctl["n_control"].sum())
        if len(ctl):
            worst = max(worst, float(ctl["control_max_abs"].max()))
        bad += [f"{r.model} {r.layer} step {r.step} (|x| = {r.control_max_abs:.2g})"
                for r in ctl[ctl["control_max_abs"] >= CONTROL_TOL].itertuples()]
    if not n:
        return True, "The built-in control had no unit to test (no RF fits inside a pair's identical pixels)."
    if bad:
        return False, (f"CONTROL FAILED: units whose RF sees only identical pixels responded differently in "
                       f"{len(bad)} (layer, step) rows — {', '.join(bad[:6])}. The receptive-field rule of that "
                       "model is wrong (or it is nondeterministic); its physiology results cannot be trusted.")
    return True, (f"Built-in control passed: {n} (unit, step) tests whose RF at that step saw only identical pixels "
                  f"gave a largest |index| of {worst:.1g} (required: < {CONTROL_TOL:g}).")


def sections(study: str | os.PathLike) -> list:
    """The report's physiology sections for a study directory (reads ``physiology/*.parquet``).

    Returns an empty list when the study has no physiology tables (the report then shows its "not built" note).

    Example
    -------
    >>> [s.title for s in sections("runs/demo")]  # doctest: +SKIP
    ['Receptive fields and the identical-pixel control', 'Figure–ground modulation over time', 'Border ownership']
    """
    from preattentive.report.html import FigureItem, Section, TableItem

    study = Path(study)
    tables = _read(study)
    if not tables:
        return []
    secs = []
    rf, dep = tables.get("rf"), tables.get("departure")
    ok, status = control_status(tables)
    none = _no_contained(tables)
    rf_figs, rf_tables = [], []
    example = study / "physiology" / EXAMPLE
    if rf is not None and len(rf) and example.is_file():
        with np.load(example) as z:
            a, b, window = z["a"], z["b"], z["window"]
        rf_figs.append(FigureItem("rf_boxes", rf_boxes_figure(a, b, rf, window=window),
                                  "One unit's step-1 RF per layer on a border-ownership stimulus: green = pixels its "
                                  "pair partner shares, dashed white = probe window; solid boxes are contained."))
    if rf is not None and len(rf):
        rf_tables.append(TableItem("rf_boxes", rf[["model", "layer", "rf_px", "rf_px_last", "steps", "note"]],
                                   "RF side per layer at step 1 and at the last step (px); why a layer sees the "
                                   "whole image."))
    secs.append(Section(
        "Receptive fields and the identical-pixel control",
        question="Which units see identical pixels in both trials of a pair, so that only context can change them?",
        text=RF_TEXT, figures=rf_figs, tables=rf_tables,
        notes=[status] + ([f"Layers with no contained units (not analysed): {none}."] if none else [])))
    fg = tables.get("fg")
    if fg is not None and len(fg):
        edge = _edge_words(study)
        cols = ["model", "layer", "step", "region", "rf_px", "n_units", "n_contained", "modulation", "modulation_sem",
                "p_population", "response", "response_ground", "n_uncontrolled", "modulation_uncontrolled", "note"]
        items = [TableItem("fg_summary", fg[cols], "Per (model, layer, step, region): RF side, units recorded and "
                                                   "contained, contained-unit modulation and its population test; "
                                                   "uncontrolled numbers for comparison.", max_rows=80)]
        if dep is not None and len(dep):
            items.insert(0, TableItem("fg_departure", dep[dep["analysis"] == "figure-ground"].drop(columns="analysis"),
                                      "First step at which contained centre units depart from 0 (NaN: none)."))
        secs.append(Section(
            "Figure–ground modulation over time",
            question="Do contained units respond differently to figure and ground, and only at later steps?",
            text=FG_TEXT.format(edge=edge),
            figures=[FigureItem("fg_modulation", fg_timecourse_figure(fg),
                                "Contained-unit modulation at the figure centre per step (± s.e.m.); star: departs "
                                "from 0; dotted: uncontrolled units.")],
            tables=items))
    summary, units = tables.get("bo_summary"), tables.get("bo_units")
    if summary is not None and len(summary):
        figs = [FigureItem("bo_fraction", bo_fraction_figure(summary),
                           "Fraction of contained units with significant border-ownership selectivity per step; "
                           "star: departs from 0; dashed grey: the test's chance rate α; red: Zhou et al. 2000; "
                           "dotted: uncontrolled units.")]
        if units is not None and (units.get("control") == "contained").any():
            figs.append(FigureItem("bo_index", bo_histogram_figure(units),
                                   "BO index per contained unit at each layer's last step; dark: p < α."))
        cols = ["model", "layer", "step", "rf_px", "n_units", "n_probe", "n_contained", "fraction_significant",
                "mean_abs_bo", "p_population", "n_uncontrolled", "fraction_significant_uncontrolled", "note"]
        items = [TableItem("bo_summary", summary[cols], "Per (model, layer, step): RF side, units recorded / looking "
                                                        "at the edge / contained, fraction selective among contained "
                                                        "units, population test; uncontrolled for comparison.",
                           max_rows=80)]
        if dep is not None and len(dep):
            items.insert(0, TableItem("bo_departure", dep[dep["analysis"] == "border-ownership"].drop(columns="analysis"),
                                      "First step at which contained units' BO signal departs from 0 (NaN: none)."))
        secs.append(Section(
            "Border ownership",
            question="Do units whose whole receptive field sees identical pixels signal which side owns the edge?",
            text=BO_TEXT, figures=figs, tables=items))
    return secs


def _no_contained(tables: dict[str, pd.DataFrame]) -> str:
    frames = []
    for key in ("bo_summary", "fg"):
        t = tables.get(key)
        if t is None or not len(t):
            continue
        t = t[t["region"] == "centre"] if "region" in t else t
        per = t.groupby(["model", "layer"], sort=False).agg(n=("n_contained", "max"), rf_px=("rf_px", "first"),
                                                             note=("note", "first")).reset_index()
        frames.append(per[per["n"] == 0])
    if not frames:
        return ""
    rows = pd.concat(frames).drop_duplicates(["model", "layer"])
    return _layer_list(rows) if len(rows) else ""


def _edge_words(study: Path) -> str:
    px = _study_config(study).get("edge_px")
    if isinstance(px, dict):  # nested config sections
        px = px.get("edge_px")
    return f"{px:g} px" if isinstance(px, (int, float)) else "one texture element"


def _study_config(study: Path) -> dict[str, Any]:
    p = study / "config.json"
    try:
        data = json.loads(p.read_text()) if p.is_file() else {}
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}
