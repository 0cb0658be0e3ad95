"""Read a study directory (layout in :mod:`preattentive.report`) and write ``report.html`` plus its figures.

Example
-------
>>> path = write_report("runs/demo")  # doctest: +SKIP
>>> path.name  # doctest: +SKIP
'report.html'
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preattentive.files import atomic_write_bytes, atomic_write_json
from preattentive.report.html import FigureItem, Section, TableItem, figure_png, render_page
from preattentive.report.physiology import sections as physiology_sections

SECTIONS = ("overview", "stimuli", "evaluation", "probes", "comparisons", "answers", "training", "physiology",
            "general")


METHODS_TEXT = (
    "Every model answers the same seeded trials (a trial is fixed by its family, parameters, seed and index), so "
    "models can be compared trial by trial. Zero-shot (CLIP-like models): the image is compared with one text "
    "prompt per answer choice and the most similar prompt is the answer. Generative (LLaVA-like models): the "
    "trial's question and its choices are asked, the answer is decoded greedily and mapped to a choice by a "
    "documented parser (exact option, option letter, number words, yes/no, a single unambiguous mention); "
    "answers it cannot read count as wrong. Supervised: the readout of a network trained on that task. Linear "
    "probe: a cross-validated logistic regression on frozen features of one layer and time step, fitted per family "
    "and level; it asks whether the information is present even when the model's own answer is not.\n\n"
    "Accuracy intervals are Wilson score 95 % intervals. Psychometric functions are logistic curves from chance "
    "(lower asymptote, 1 / number of choices) to the best accuracy, fitted by maximum binomial likelihood; the "
    "threshold is the level at which accuracy is halfway between the two and is reported only inside the tested "
    "range. Paired comparisons use McNemar's exact (binomial) test on the trials where exactly one of the two "
    "models was right.")


def _read_json(p: Path, default: Any) -> Any:
    try:
        return json.loads(p.read_text()) if p.is_file() else default
    except json.JSONDecodeError:
        return default


def read_notes(study: Path) -> dict[str, list[str]]:
    """``notes.json`` grouped by section (unknown sections go under "general")."""
    out: dict[str, list[str]] = {}
    raw = _read_json(study / "notes.json", [])
    for n in raw if isinstance(raw, list) else []:
        if isinstance(n, dict) and n.get("text"):
            sec = n.get("section", "general")
            out.setdefault(sec if sec in SECTIONS else "general", []).append(str(n["text"]))
        elif isinstance(n, str):
            out.setdefault("general", []).append(n)
    return out


def _examples(ev: pd.DataFrame, per_level: int = 1, max_cols: int = 6) -> tuple[pd.DataFrame, list[str]]:
    """Regenerate one example trial per (family, level) from the seeds and parameters in the eval rows."""
    from preattentive import stimuli

    rows, missing = [], []
    for fam, d in ev.groupby("family", sort=True):
        if fam not in stimuli.REGISTRY:
            missing.append(fam)
            continue
        first = d.sort_values(["level", "params", "index"]).groupby("level", sort=True).head(per_level)
        for r in first.head(max_cols * per_level).itertuples():
            tr = stimuli.make(fam, seed=int(r.seed), **json.loads(r.params)).trial(int(r.index))
            rows.append({"family": fam, "level": int(r.level), "image": tr.image, "answer": tr.answer,
                         "question": tr.question})
    return pd.DataFrame(rows, columns=["family", "level", "image", "answer", "question"]), missing


def _ladder_table(families: list[str]) -> pd.DataFrame:
    """family, level, parameters ("key=value, ...") for every registered family's ladder rung."""
    from preattentive import stimuli

    rows = []
    for fam in families:
        if fam in stimuli.REGISTRY:
            cls = stimuli.get(fam)
            for k, rung in enumerate(cls.ladder):
                rows.append({"family": fam, "level": k, "parameters": ", ".join(f"{a}={b}" for a, b in rung.items())})
    return pd.DataFrame(rows, columns=["family", "level", "parameters"])


def _png_file(p: Path) -> bytes | None:
    data = p.read_bytes()
    return data if data[:8] == b"\x89PNG\r\n\x1a\n" else None


def results_matrix(acc: pd.DataFrame, fits: pd.DataFrame | None) -> pd.DataFrame:
    """One row per model x method x task: accuracy [CI] per level as columns, then chance, n/level, threshold."""
    rows = []
    for (m, k, fam), t in acc.groupby(["model", "method", "task"], sort=True):
        row: dict[str, Any] = {"task": fam, "model": m, "method": k}
        for r in t.sort_values("level").itertuples():
            row[f"level {max(int(r.level), 0)}"] = f"{r.accuracy:.2f} [{r.ci_lo:.2f}, {r.ci_hi:.2f}]"
        row["chance"] = float(t["chance"].mean())
        row["n/level"] = int(t["n"].min())
        thr = np.nan
        if fits is not None:
            f = fits[(fits["model"] == m) & (fits["method"] == k) & (fits["task"] == fam)]
            if len(f) and bool(f["success"].iloc[0]):
                thr = float(f["threshold"].iloc[0])
        row["threshold"] = thr
        rows.append(row)
    df = pd.DataFrame(rows).sort_values(["task", "model", "method"], kind="stable")
    levels = sorted([c for c in df.columns if c.startswith("level ")], key=lambda c: int(c.split()[1]))
    return df[["task", "model", "method", *levels, "chance", "n/level", "threshold"]].fillna({c: "" for c in levels})


def _eval_sections(study: Path, ev: pd.DataFrame, notes: dict[str, list[str]],
                   status: pd.DataFrame | None = None) -> list[Section]:
    from preattentive.evaluation import accuracy_table, compare_all, psychometric_table
    from preattentive.report.figures import overview_figure, psychometric_figure, stimulus_figure

    out: list[Section] = []
    acc = accuracy_table(ev) if not ev.empty else None
    fits = psychometric_table(ev) if not ev.empty else None
    models = sorted({f"{m} · {k}" for m, k in zip(ev["model"], ev["method"])}) if not ev.empty else []

    ov = Section("At a glance", "How well does each model do on each stimulus family, pooled over difficulty?",
                 notes=notes.get("overview", []))
    if acc is not None:
        n_trials = len(ev)
        ov.text = (f"{len(models)} model × method combination(s), {ev['family'].nunique()} stimulus families, "
                   f"{n_trials} evaluated trials in total. Each cell is the fraction correct over all difficulty "
                   f"levels of a family; chance is printed under it.")
        ov.figures.append(FigureItem("overview", overview_figure(acc, status),
                                     "Accuracy pooled over difficulty levels (colour: 0 = dark, 1 = yellow). Grey "
                                     "cells are not results: 'not informative' (at chance or at ceiling at every "
                                     "rung) or 'not applicable' (the model could not be asked)."))
    else:
        ov.notes.append("No evaluation results (eval/*.parquet) in this study directory.")
    out.append(ov)

    st = Section("Stimuli", "What did the models see? Examples at each difficulty level, with the correct answer.",
                 notes=notes.get("stimuli", []), gallery=True)
    fams = sorted(ev["family"].unique()) if not ev.empty else []
    stim_dir = study / "stimuli"
    shown = set()
    if stim_dir.is_dir():
        for p in sorted(stim_dir.glob("*.png")):
            png = _png_file(p)
            if png is not None:
                st.figures.append(FigureItem(f"stimuli-{p.stem}", png, f"{p.stem}: rows are difficulty levels "
                                             "(easiest at the top), columns are independent trials."))
                shown.add(p.stem)
    rest = ev[~ev["family"].isin(shown)] if not ev.empty else ev
    if len(rest):
        ex, missing = _examples(rest)
        if len(ex):
            st.figures.append(FigureItem("stimuli-examples", stimulus_figure(ex),
                                         "Regenerated from the seeds of the evaluated trials: one example per level."))
        for fam in missing:
            st.notes.append(f"{fam}: family not registered in this installation; examples left out.")
    ladders = _ladder_table(fams)
    if len(ladders):
        st.tables.append(TableItem("ladders", ladders, "The difficulty ladders: the generator parameters each level "
                                   "sets (level 0 = easiest).", max_rows=0 if shown else 80))  # grids show them
    if not st.figures and not st.notes:
        st.notes.append("No stimulus examples: neither stimuli/*.png nor evaluation rows were found.")
    out.append(st)

    if acc is None:
        return out
    ev_sec = Section("Psychometric curves",
                     "Where does each model fall off as the task needs more than one feedforward sweep?",
                     notes=notes.get("evaluation", []))
    ns = acc["n"]
    curves = acc[~acc["method"].str.contains("@t", regex=False)]  # time-step sweeps get their own figure
    curves = curves if len(curves) else acc
    stepped = len(curves) < len(acc)
    person = curves["model"].str.match(r"human:(?!pooled)")  # one line per participant would bury the models
    curves = curves[~person] if curves["model"].str.startswith("human:pooled").any() else curves
    dropped = pd.DataFrame()
    if status is not None and len(status):  # curves that cannot move are not drawn as results
        bad = status[status["status"] != "informative"]
        keys = set(zip(bad["model"], bad["method"], bad["task"]))
        keep = [k not in keys for k in zip(curves["model"], curves["method"], curves["task"])]
        curves, dropped = curves[keep], bad
    if curves.empty:
        curves = acc.iloc[:0]
    if len(dropped):
        ev_sec.tables.append(TableItem("not_informative", dropped[["model", "method", "task", "status", "reason"]],
                                       "Not drawn as results: curves at chance or at ceiling at every rung (95 % "
                                       "Wilson CIs), and blocks the model could not be asked."))
    if curves.empty:
        ev_sec.notes.append("No curve is informative: every one is at chance or at ceiling at every rung, or not "
                            "applicable.")
    ev_sec.figures += [] if curves.empty else [FigureItem(
        "psychometric", psychometric_figure(curves, fits),
        f"Accuracy against difficulty level per family; one line per model · method. Bands: Wilson 95 % CIs "
        f"(n = {int(ns.min()) if ns.min() == ns.max() else f'{int(ns.min())}–{int(ns.max())}'} trials per point). "
        + ("Probes at several time steps are in 'Linear probes'. " if stepped else "")
        + ("People: pooled over participants (human:pooled; simulated observers: human:pooled-synthetic); each "
           "participant is in the tables. " if person.any() else "") +
        f"Dashed grey: chance. Dotted: logistic fit; "
        f"triangle: threshold (halfway between best accuracy and chance).")]
    ev_sec.tables.append(TableItem("results", results_matrix(acc, fits),
                                   "Accuracy per difficulty level [Wilson 95 % CI]; threshold = level at which the "
                                   "logistic fit is halfway between its best accuracy and chance ('–': no fit inside "
                                   "the tested range). Per-level counts are in tables/accuracy.csv.", max_rows=80))
    tab = acc.assign(**{"95% CI": [f"[{a:.2f}, {b:.2f}]" for a, b in zip(acc["ci_lo"], acc["ci_hi"])]})
    ev_sec.tables.append(TableItem("accuracy", tab[["model", "method", "task", "level", "n", "k", "accuracy",
                                                    "95% CI", "chance", "unparsed"]],
                                   "Every level: n trials, k correct, Wilson 95 % CI, unparsed answers.", max_rows=0))
    out.append(ev_sec)

    if ev["method"].str.startswith("probe").any():
        from preattentive.report.figures import probe_figure

        pr = Section("Linear probes", "Is the answer decodable from a layer's frozen features even where the "
                     "model's own answer fails, and from which time step on?", notes=notes.get("probes", []))
        pa = acc[acc["method"].str.startswith("probe")]
        pr.figures.append(FigureItem("probes", probe_figure(pa),
                                     "Cross-validated logistic-regression accuracy on frozen features, pooled over "
                                     f"difficulty levels (Wilson 95 % CIs; {int(pa['n'].sum())} probe trials). "
                                     "Dashed: chance."))
        out.append(pr)

    cmp = compare_all(ev)
    cm = Section("Paired comparisons", "On the very same trials, is one model reliably better than another?",
                 notes=notes.get("comparisons", []))
    if len(cmp):  # every pair of model x method that answered the same trials
        cmp = cmp.assign(diff=cmp["acc_b"] - cmp["acc_a"]).sort_values(["task", "model_a", "model_b"],
                                                                        kind="stable")
        cm.tables.append(TableItem("compare", cmp[["task", "model_a", "method_a", "model_b", "method_b", "n",
                                                   "acc_a", "acc_b", "diff", "only_a", "only_b", "p_value"]],
                                   "McNemar exact tests on paired correctness (only_a: trials only A got right). "
                                   "p-values are not corrected for multiple comparisons.", floatfmt="{:.4g}"))
    extra = sorted((study / "compare").glob("*.parquet")) if (study / "compare").is_dir() else []
    for f in extra:  # comparisons a study computed itself (e.g. feedforward vs recurrent at matched parameters)
        cm.tables.append(TableItem(f"compare-{f.stem}", pd.read_parquet(f), f"Precomputed comparison: {f.stem}.",
                                   floatfmt="{:.4g}"))
    if not cm.tables:
        cm.notes.append("No two models answered the same trials, so there is nothing to pair.")
    out.append(cm)

    gen = ev[ev["method"] == "generative"]
    if len(gen):
        ans = Section("Generated answers", "What did the language models actually say, and could we read it?",
                      notes=notes.get("answers", []))
        rules = gen.groupby(["model", "parse"]).size().rename("trials").reset_index()
        ans.tables.append(TableItem("parse_rules", rules, "How free-text answers were mapped to choices "
                                    "(unparseable answers count as wrong)."))
        bad = gen[gen["prediction"] < 0].drop_duplicates(["model", "family", "raw"]).groupby(
            ["model", "family"]).head(2).head(12)
        if len(bad):
            ans.tables.append(TableItem("unparsed", bad[["model", "family", "question", "answer", "raw"]],
                                        "Examples of unparseable answers."))
        out.append(ans)
    return out


def _physiology_sections(study: Path, notes: dict[str, list[str]]) -> list[Section]:
    secs: list[Section] = []
    failed = ""
    try:
        secs = list(physiology_sections(study) or [])
    except Exception as e:  # a broken physiology table must not take the whole page down; say so instead
        failed = f"The physiology sections could not be drawn ({type(e).__name__}: {e})."
    if not secs:
        secs = [Section("In-silico physiology", "Do the models' units show late figure–ground modulation and "
                        "border-ownership selectivity, as feedback produces in the brain?",
                        notes=[failed or "Physiology results are not built for this study (no physiology/*.parquet)."])]
    secs[0].notes = list(notes.get("physiology", [])) + list(secs[0].notes)
    return secs


def build_sections(study: str | os.PathLike) -> tuple[dict[str, Any], list[Section]]:
    """The page header (``study.json``) and every section, in page order."""
    header, secs, _ = _build(study)
    return header, secs


def _build(study: str | os.PathLike) -> tuple[dict[str, Any], list[Section], Any]:
    """:func:`build_sections` plus the findings the page opens with (None when there are none)."""
    from preattentive.evaluation import read_results

    study = Path(study)
    header = _read_json(study / "study.json", {})
    header = header if isinstance(header, dict) else {}
    notes = read_notes(study)
    from preattentive.evaluation.results import with_task

    ev = with_task(read_results(study / "eval") if (study / "eval").is_dir() else read_results(study / "missing"))
    compare_only = ev.empty and (study / "results.parquet").is_file()  # a `compare` directory, no evaluation
    try:
        findings = study_findings(study, ev, header)
        broken = ""
    except Exception as e:  # a broken table must not take the page down; the findings say why they are missing
        findings, broken = None, f"The findings could not be computed ({type(e).__name__}: {e})."
    secs = [] if compare_only else [_findings_section(findings)] if findings is not None else []
    if broken and not compare_only:
        secs.append(Section("Findings", "What did this study find?", notes=[broken]))
    secs += [] if compare_only else _eval_sections(study, ev, notes, findings.status if findings else None)
    from preattentive.report.compare import sections as compare_sections

    secs += compare_sections(study)  # a `compare` study's results.parquet, when present
    if notes.get("training"):
        secs.append(Section("Training", "", notes=notes["training"]))
    if not (compare_only and not (study / "physiology").is_dir() and not notes.get("physiology")):
        secs += _physiology_sections(study, notes)  # a training comparison alone is not asked for physiology
    if notes.get("general"):
        secs.append(Section("Notes", "What was left out of this study, and why.", notes=notes["general"]))
    methods = METHODS_TEXT + ("\n\nFindings are generated from the result tables by these rules: " + _rules_text()
                              if findings is not None else "")
    secs.append(Section("Methods", "How were these numbers computed?", text=methods))
    return header, secs, findings


def _rules_text() -> str:
    from preattentive.evaluation.findings import RULES

    return " ".join(line.strip() for line in RULES.splitlines()).replace("- **", "• ").replace("**", "")


def study_findings(study: Path, ev: pd.DataFrame, header: dict[str, Any]):
    """The study's findings by :mod:`preattentive.evaluation.findings` (None without any result table).

    ``study.json``'s ``pairs`` names the (feedforward, recurrent) pairs to compare (``trained_on``: what each
    net was trained on); ``not_applicable.json`` lists
    the blocks a study did not evaluate because the model could not be asked; ``physiology/*.parquet`` the
    physiology summaries."""
    from preattentive.evaluation.findings import compute_findings

    folder = study / "physiology"
    phys = {k: pd.read_parquet(folder / f) for k, f in (("bo_summary", "bo_summary.parquet"),
                                                         ("fg", "fg_modulation.parquet"),
                                                         ("departure", "departure.parquet"))
            if (folder / f).is_file()}
    na = _read_json(study / "not_applicable.json", [])
    if ev.empty and not phys and not na:
        return None
    pairs = [tuple(p) for p in header.get("pairs", []) if isinstance(p, (list, tuple)) and len(p) == 2]
    trained = header.get("trained_on")
    trained = {str(k): str(v) for k, v in trained.items()} if isinstance(trained, dict) else {}
    return compute_findings(ev, pairs=pairs, not_applicable=na if isinstance(na, list) else [], physiology=phys,
                            trained_on=trained)


def _findings_section(findings) -> Section:
    sec = Section("Findings", "What did this study find? Each sentence is computed from the result tables below by "
                  "a rule stated in Methods; nothing here is typed by hand.")
    sec.items = [(p["text"], "") for p in findings.paragraphs]
    order = ["ff-vs-recurrent", "border-ownership", "figure-ground", "threshold", "probe", "informative"]
    for kind in order:
        sec.items += [(f.text, f"#{f.panel}" if f.panel else "") for f in findings.items if f.kind == kind]
    if not sec.items:
        sec.notes.append("No finding: the study has no result a rule applies to.")
    return sec


def write_report(study: str | os.PathLike, *, svg: bool = True) -> Path:
    """Write ``study/report.html`` (self-contained) and ``study/figures/*.png|svg`` (+ ``tables/*.csv``).

    Example
    -------
    >>> write_report("runs/demo")  # doctest: +SKIP
    PosixPath('runs/demo/report.html')
    """
    study = Path(study)
    if not study.is_dir():
        raise FileNotFoundError(f"study directory {str(study)!r} does not exist")
    header, secs, findings = _build(study)
    figdir, tabdir = study / "figures", study / "tables"
    figdir.mkdir(exist_ok=True)
    pngs: dict[str, bytes] = {}
    for s in secs:
        for f in s.figures:
            png = f.figure if isinstance(f.figure, bytes) else figure_png(f.figure)
            pngs[f.name] = png
            atomic_write_bytes(figdir / f"{f.name}.png", png)
            if svg and not isinstance(f.figure, bytes):
                import io

                buf = io.BytesIO()
                f.figure.savefig(buf, format="svg", bbox_inches="tight")
                atomic_write_bytes(figdir / f"{f.name}.svg", buf.getvalue())
        for t in s.tables:
            tabdir.mkdir(exist_ok=True)
            atomic_write_bytes(tabdir / f"{t.name}.csv", t.table.to_csv(index=False).encode())
    title = str(header.get("title") or f"preattentive report: {study.resolve().name}")
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sub = " · ".join(x for x in (str(header.get("description", "")), f"generated {when}") if x)
    from preattentive import __version__

    foot = f"preattentive {__version__}" + (f" · command: {header['command']}" if header.get("command") else "")
    page = render_page(title, secs, subtitle=sub, footer=foot, pngs=pngs)
    if findings is not None:  # the same findings as a file, for scripts (and the demo's terminal summary)
        atomic_write_json(study / "findings.json", findings.to_dict(), indent=2, default=str, newline=False)
    out = study / "report.html"
    atomic_write_bytes(out, page.encode("utf-8"))
    return out


__all__ = ["build_sections", "read_notes", "write_report"]
