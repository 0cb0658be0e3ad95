"""The demo study's stages: each is a handful of calls into one room, recording what it produced.

A stage takes the :class:`Context` (config, output folder, notes, the runs trained so far) and adds to it. It
never computes results itself: training, evaluation, physiology and the report each live in their room.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

# Every room at module top: this module is imported only by ``run_demo`` (lazily, so that ``DemoConfig`` and the
# CLI's --help stay light), and the demo runs every stage, so nothing here is worth deferring.
from preattentive import stimuli
from preattentive.datasets import generate_set, preview_grid, save_png
from preattentive.datasets.parquet import set_status
from preattentive.evaluation import accuracy_table, compare_models, evaluate, load_model, read_results
from preattentive.evaluation.applicability import applicability
from preattentive.evaluation.suites import suite_from_dict
from preattentive.files import atomic_write_json
from preattentive.models.kinds import kind_for_run, resolve
from preattentive.physiology import (border_ownership, control_failures, departure_step, example_boxes,
                                     figure_ground_modulation, pair_differences, write_example, write_tables)
from preattentive.training import TrainConfig, load_run, train_supervised
from preattentive.training.clip import train_clip
from preattentive.training.config import TEST_SEED_OFFSET
from preattentive.training.llava import train_llava
from preattentive.training.runs import run_finished


@dataclass
class Context:
    """What the stages share: the config, the study folder, visible notes, trained runs and headline numbers."""

    cfg: Any  # DemoConfig
    out: Path
    notes: Any  # studies.demo.Notes
    log: Callable[[str], None]
    runs: dict[str, Path] = field(default_factory=dict)  # name -> run directory
    not_applicable: list[dict[str, Any]] = field(default_factory=list)  # blocks a model could not be asked
    summary: dict[str, Any] = field(default_factory=dict)  # headline numbers, written to summary.json

    def run_dir(self, name: str) -> Path:
        return self.out / "runs" / name


def _family_ids() -> list[str]:
    return stimuli.latest()  # the newest version of each family, so none is evaluated twice


# --------------------------------------------------------------------------------------------- stimuli
def stage_suite(ctx: Context) -> None:
    """Preview grids (one row per difficulty rung) for every registered stimulus family: ``stimuli/<id>.png``."""
    families = _family_ids()
    for fid in families:
        gen = _make_family(fid, ctx.cfg.suite_size, ctx.cfg.seed)
        path = save_png(preview_grid(gen, n_cols=ctx.cfg.preview_cols), ctx.out / "stimuli" / f"{fid}.png")
        ctx.log(f"  {fid}: {path}")
    ctx.summary["families"] = families


def _make_family(fid: str, size: int, seed: int, **params: Any):
    return stimuli.make(fid, seed=seed, size=size, **params)


# --------------------------------------------------------------------------------------------- training
def stage_nets(ctx: Context) -> None:
    """Train the parameter-matched feedforward and recurrent nets on each net task (the training room's loop).

    Each task's training set is generated once as Parquet (the datasets room) and shared by both nets, so they
    see the same images in the same order; both get the same step budget, with a wall-clock cap.
    """
    cfg = ctx.cfg
    for task in cfg.net_tasks:  # registered families (DemoConfig checks)
        # every difficulty rung in turn (mix_levels), so that the nets are tested on the distribution they saw;
        # or the task's curriculum: one set per stage, each stage starting from the previous stage's weights
        plan = [(f"{task}-train", {"mix_levels": True} if cfg.net_mix_levels else {}, cfg.net_steps,
                 cfg.net_minutes)]
        if task in cfg.net_curriculum:
            plan = [(f"{task}-L{st['level']}-train", {"level": st["level"]}, st["steps"],
                     float(st.get("minutes", cfg.net_minutes))) for st in cfg.net_curriculum[task]]
        sets = []
        for set_name, params, _, _ in plan:
            data = ctx.out / "data" / set_name
            set_params = {"size": cfg.net_size, **params}
            status = set_status(data, task, cfg.net_train_n, seed=cfg.seed, params=set_params)
            if status != "complete":  # an interrupted set is continued, another one replaced
                generate_set(task, cfg.net_train_n, data, seed=cfg.seed, params=set_params,
                             workers=cfg.workers, overwrite=status == "other", preview=False)
                ctx.log(f"  training set {set_name}: {cfg.net_train_n} trials in {data}")
            sets.append(data)
        for net in (cfg.feedforward_net, cfg.recurrent_net):
            name = f"{net}@{task}"  # display name in tables; the task decides what it is tested on
            run, prev = ctx.run_dir(name), None
            for k, ((_, params, steps, minutes), data) in enumerate(zip(plan, sets)):
                last = k == len(plan) - 1
                stage_run = run if last else ctx.run_dir(f"{name}-stage{k + 1}")
                if not run_finished(stage_run):
                    tc = TrainConfig(model=net, task=task, params=params, size=cfg.net_size, steps=steps,
                                     minutes=minutes, batch_size=cfg.net_batch_size, lr=cfg.net_lr,
                                     seed=cfg.seed, val_n=cfg.net_val_n, val_every=0, ckpt_every=0,
                                     step_loss=cfg.net_step_loss, data=str(data), init_from=prev)
                    result = train_supervised(tc, stage_run, show_progress=False)
                    ctx.log(f"  trained {name}" + ("" if len(plan) == 1 else f" stage {k + 1}/{len(plan)} "
                            f"(level {params.get('level')})") + f": {result.steps} steps, validation accuracy "
                            f"{result.val.get('acc', float('nan')):.3f}")
                prev = str(stage_run)
            ctx.runs[name] = run
            record = json.loads((run / "run.json").read_text())
            steps = record.get("steps")  # a curriculum's steps: every stage's
            if len(plan) > 1:
                steps = sum(json.loads((ctx.run_dir(f"{name}-stage{k + 1}") / "run.json").read_text()).get("steps", 0)
                            for k in range(len(plan) - 1)) + (steps or 0)
            ctx.summary.setdefault("nets", []).append({
                "model": name, "n_params": record.get("n_params"), "steps": steps, "stages": len(plan),
                "wall_s": round(float(record.get("elapsed", {}).get("wall", float("nan"))), 1),
                "val_acc": record.get("val", {}).get("acc"), "val_n": record.get("val", {}).get("n")})


def stage_clip(ctx: Context) -> None:
    """Train the tiny CLIP with NegCLIP hard negatives (the CLIP/LLaVA room's recipe)."""
    cfg = ctx.cfg
    run = ctx.run_dir("clip-hn")
    if not run_finished(run):
        # clock="cpu" (process CPU time): the same amount of training whatever else runs on the machine
        train_clip(preset=cfg.clip_preset, hard_negatives=True, steps=cfg.clip_steps, minutes=cfg.clip_minutes,
                   clock="cpu", batch_size=cfg.clip_batch_size, seed=cfg.seed, eval_every=0,
                   eval_n=cfg.clip_eval_n, out=run)
    ctx.runs["clip-hn"] = run
    ctx.log(f"  trained clip-hn: {run}")


def stage_llava(ctx: Context) -> None:
    """Train the tiny LLaVA on the CLIP tower (the CLIP/LLaVA room's recipe)."""
    cfg = ctx.cfg
    if "clip-hn" not in ctx.runs:
        ctx.notes.add("training", "LLaVA: needs the demo's CLIP, which did not train; left out")
        return
    run = ctx.run_dir("llava")
    if not run_finished(run):
        train_llava(preset=cfg.llava_preset, vision=str(ctx.runs["clip-hn"]), batch_size=cfg.llava_batch_size,
                    stage1_steps=cfg.llava_stage1_steps, stage1_minutes=cfg.llava_stage1_minutes,
                    stage2_steps=cfg.llava_stage2_steps, stage2_minutes=cfg.llava_stage2_minutes, clock="cpu",
                    eval_n=cfg.llava_check_n, max_new_tokens=8, seed=cfg.seed, out=run)
    ctx.runs["llava"] = run
    ctx.log(f"  trained llava: {run}")


# --------------------------------------------------------------------------------------------- evaluation
def _adapter(run: Path, name: str):
    adapter = load_model(f"run:{run}")
    adapter.name = name  # a short display name for tables and plots instead of the run path
    return adapter


def _evaluate(ctx: Context, adapter: Any, families: list[str], levels: Any, size: int, n: int, method: str,
              **options: Any) -> int:
    """Evaluate block by block (family x level), so that a rung a family cannot draw at ``size`` px becomes a
    note instead of sinking the whole evaluation. Returns the number of trials evaluated."""
    def suite(fid: str, levels: Any):
        # held-out trials: the training room's test seed, never a training or validation stream
        return suite_from_dict({"name": "demo", "seed": ctx.cfg.seed + TEST_SEED_OFFSET, "size": size, "n": n,
                                "families": [{"family": fid, "levels": levels}]})

    total = 0
    for fid in families:
        fid = stimuli.REGISTRY.resolve(fid)
        for block in suite(fid, list(levels) if isinstance(levels, tuple) else levels).blocks():
            ok, why = _askable(adapter, method, fid, block.level, size, n)
            if not ok:
                ctx.not_applicable.append({"model": adapter.name, "method": method, "family": fid,
                                           "level": block.level, "reason": why})
                continue
            try:
                one = suite(fid, "all" if block.level is None else [block.level])
                total += len(evaluate(adapter, one, method=method, out=ctx.out, progress=False, **options))
            except (ValueError, NotImplementedError) as e:
                ctx.notes.add("evaluation", f"{adapter.name} [{method}] on {fid} level {block.level}: left out ({e})")
    return total


def _askable(adapter: Any, method: str, fid: str, level: Any, size: int, n: int) -> tuple[bool, str]:
    """The applicability rule (evaluation.applicability): can this model be asked this block's prompts
    (zero-shot) or questions and answers (generative) at all?"""
    if method not in ("zero-shot", "generative"):
        return True, ""
    tok = getattr(getattr(adapter, "model", None), "tokenizer", None)
    gen = stimuli.make(fid, size=size, seed=0, **({} if level is None else {"level": level}))
    trials = [gen.trial(i) for i in range(min(n, 64))]
    if method == "zero-shot":
        return applicability(tok, [p for t in trials for p in t.prompts], what="prompt")
    return applicability(tok, [t.question for t in trials] + [c for t in trials for c in t.choices],
                         what="question or answer")


def stage_evaluate(ctx: Context) -> None:
    """Every trained model on held-out trials: nets supervised on their task (every rung), CLIP zero-shot and
    linear probes of its features, LLaVA generative (the evaluation room's harness; rows land in ``eval/``)."""
    cfg = ctx.cfg
    families = _family_ids()
    for name, run in ctx.runs.items():
        adapter = _adapter(run, name)
        if name == "clip-hn":
            n = _evaluate(ctx, adapter, families, cfg.eval_levels, cfg.suite_size, cfg.eval_n, "zero-shot")
            n += _evaluate(ctx, adapter, list(cfg.probe_families), cfg.probe_levels, cfg.suite_size, cfg.probe_n,
                           "probe", layer=cfg.probe_layer)
        elif name == "llava":
            n = _evaluate(ctx, adapter, families, cfg.eval_levels, cfg.suite_size, cfg.llava_eval_n, "generative",
                          max_new_tokens=16, batch_size=32, template=cfg.llava_template)
        else:
            n = _evaluate(ctx, adapter, [name.split("@", 1)[1]], "all", cfg.net_size, cfg.eval_n, "supervised")
        ctx.log(f"  evaluated {name}: {n} trials")
    if not ctx.runs:
        ctx.notes.add("evaluation", "no model was trained, so nothing was evaluated")


def stage_summary(ctx: Context) -> None:
    """Headline numbers from the evaluation rows: accuracy per model x family, the feedforward-vs-recurrent gap
    on each net task (paired McNemar on the same trials), into ``summary.json``."""
    _write_not_applicable(ctx)
    folder = ctx.out / "eval"
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return
    df = pd.concat([read_results(f) for f in files], ignore_index=True)
    acc = accuracy_table(df, by=["model", "method", "family"])
    ctx.summary["accuracy"] = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                               for r in acc[["model", "method", "family", "n", "accuracy", "ci_lo", "ci_hi",
                                             "chance"]].to_dict("records")]
    gaps = []
    for task in ctx.cfg.net_tasks:
        ff, rec = f"{ctx.cfg.feedforward_net}@{task}", f"{ctx.cfg.recurrent_net}@{task}"
        if {ff, rec} <= set(df["model"]):
            c = compare_models(df, ff, rec)
            for r in c.to_dict("records"):
                gaps.append({"task": task, "feedforward": ff, "recurrent": rec, "n": int(r["n"]),
                             "acc_feedforward": round(r["acc_a"], 4), "acc_recurrent": round(r["acc_b"], 4),
                             "gap": round(r["acc_b"] - r["acc_a"], 4), "mcnemar_p": float(r["p_value"])})
    ctx.summary["feedforward_vs_recurrent"] = gaps


def _write_not_applicable(ctx: Context) -> None:
    """``not_applicable.json``: one entry per (model, method, family) with the reason (the report's findings)."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in ctx.not_applicable:
        seen.setdefault((r["model"], r["method"], r["family"]), {k: r[k] for k in ("model", "method", "family",
                                                                                    "reason")})
    atomic_write_json(ctx.out / "not_applicable.json", list(seen.values()), indent=2, newline=False)


# --------------------------------------------------------------------------------------------- physiology
def _physiology_models(ctx: Context) -> list[tuple[str, Any, str]]:
    """``(name, model, recorder)`` for the models recorded: the nets trained on figure-ground, and CLIP; the
    recorder is the one the run's model kind names (:mod:`preattentive.models.kinds`)."""
    out = []
    for name, run in ctx.runs.items():
        if name.endswith("@figure-ground") or name == "clip-hn":
            model, record = load_run(run)
            recorder = kind_for_run(str(record.get("kind"))).recorder
            if recorder:
                out.append((name, model, recorder))
    return out


def _record(model: Any, recorder: str, images: Any, name: str):
    return resolve(recorder)(model, list(images), model=name)


def stage_physiology(ctx: Context) -> None:
    """Figure–ground modulation (Poort et al. 2012) and border-ownership selectivity (Zhou et al. 2000) of the
    recorded models' units per layer and time step, for units whose whole step-1 receptive field sees identical
    pixels in both trials of a pair (the physiology room's control); tables under ``physiology/``."""
    cfg = ctx.cfg
    models = _physiology_models(ctx)
    if not models:
        ctx.notes.add("physiology", "no model to record from (the nets trained on figure-ground and CLIP did not "
                                    "train); left out")
        return
    seed = cfg.seed + TEST_SEED_OFFSET
    fg_trials = _make_family("figure-ground", cfg.net_size, seed).generate(cfg.physiology_n).trials
    bo_trials = _make_family("border-ownership", cfg.net_size, seed).generate(2 * cfg.physiology_pairs).trials
    fg_images, bo_images = [t.image for t in fg_trials], [t.image for t in bo_trials]
    a, b = bo_trials[0], bo_trials[1]
    r0, c0, r1, c1 = a.meta["window"]
    differs = pair_differences([a.image, b.image], np.array([[0, 1]]))[0]
    fg, bo_units, bo_summary, rf = [], [], [], []
    for name, m, kind in models:
        fg.append(figure_ground_modulation(_record(m, kind, fg_images, name), trials=fg_trials, edge_px=cfg.edge_px,
                                           n_permutations=cfg.bo_permutations, seed=seed))
        rec = _record(m, kind, bo_images, name)
        bo = border_ownership(rec, trials=bo_trials, n_permutations=cfg.bo_permutations, alpha=cfg.bo_alpha,
                              min_pairs=cfg.bo_min_pairs, seed=seed)
        bo_units.append(bo.units)
        bo_summary.append(bo.summary)
        rf.append(example_boxes(rec, ((r0 + r1 - 1) / 2, (c0 + c1 - 1) / 2), differs))
    tables = {"fg": pd.concat(fg, ignore_index=True), "bo_units": pd.concat(bo_units, ignore_index=True),
              "bo_summary": pd.concat(bo_summary, ignore_index=True), "rf": pd.concat(rf, ignore_index=True)}
    tables["departure"] = pd.concat([
        departure_step(tables["bo_summary"]).assign(analysis="border-ownership"),
        departure_step(tables["fg"][tables["fg"]["region"] == "centre"]).assign(analysis="figure-ground")],
        ignore_index=True)
    write_tables(ctx.out, **tables)
    write_example(ctx.out, a.image, b.image, a.meta["window"])
    failed = control_failures(tables["bo_summary"], tables["fg"])
    if len(failed):
        ctx.notes.add("physiology", f"the identical-pixel control FAILED in {len(failed)} rows (see the report): a "
                                    "receptive-field rule is wrong; these physiology results cannot be trusted")
    ctx.log(f"  physiology: {len(fg_trials)} figure-ground trials, {len(bo_trials) // 2} border-ownership pairs, "
            f"{len(models)} models; control {'FAILED' if len(failed) else 'passed'}")
    ctx.summary["physiology"] = _physiology_headlines(tables, failed)


def _physiology_headlines(tables: dict[str, Any], failed: Any) -> dict[str, Any]:
    """Per model and layer: RF side, contained units, and the contained units' BO fraction / FG modulation at
    every step with the step at which each departs from 0; and whether the control held."""
    dep = tables["departure"].set_index(["analysis", "model", "layer"])["departure_step"]
    clean = lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 4)  # noqa: E731
    rows = []
    fg = tables["fg"][tables["fg"]["region"] == "centre"]
    for (model, layer), d in tables["bo_summary"].groupby(["model", "layer"], sort=False):
        f = fg[(fg["model"] == model) & (fg["layer"] == layer)].set_index("step")
        rows.append({
            "model": model, "layer": layer, "rf_px": int(d["rf_px"].iloc[0]),
            "bo_n_contained": int(d["n_contained"].max()),
            "fg_n_contained": int(f["n_contained"].max()) if len(f) else 0,
            "bo_fraction": [clean(v) for v in d.sort_values("step")["fraction_significant"]],
            "fg_modulation": [clean(f["modulation"].get(t)) for t in sorted(d["step"])],
            "bo_departure_step": clean(dep.get(("border-ownership", model, layer))),
            "fg_departure_step": clean(dep.get(("figure-ground", model, layer))),
            "note": str(d["note"].iloc[0])})
    return {"layers": rows, "control_passed": bool(len(failed) == 0), "control_failures": len(failed)}
