"""The demo study: generate the core suite, train, evaluate, record and report — only calls into the rooms.

``run_demo(config, out)`` runs the stages of :mod:`preattentive.studies.stages` in turn. A stage that fails records
its error as a visible note (``notes.json`` and the report; traceback in ``errors.log``), never faked, and the study
goes on, so the report always shows what did run.

Example
-------
>>> from preattentive.studies.demo import DemoConfig, run_demo
>>> result = run_demo(DemoConfig.preset(quick=True), "runs/demo-quick")  # doctest: +SKIP
>>> result.report  # doctest: +SKIP
PosixPath('runs/demo-quick/report.html')
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from preattentive.config_schema import Seed, check_types, from_mapping, read_yaml
from preattentive.configs import packaged_config
from preattentive.files import atomic_write_json
from preattentive import stimuli
from preattentive.preflight import check_name, check_threads
from preattentive.stimuli.base import ParamError

DEFAULT_CONFIG = packaged_config("demo")  # preattentive/configs/demo.yaml, read with importlib.resources


@dataclass(frozen=True)
class DemoConfig:
    """Defaults of the demo study (mirrored, with comments, in ``configs/demo.yaml``): 2 CPU cores, <= 20 min."""

    seed: Seed = 0  # seed of every training stream and model initialisation; held-out trials use seed + 2000003
    suite_size: int = 64  # px, stimulus side for the preview grids and CLIP / LLaVA (their towers' input size)
    net_size: int = 32  # px, stimulus side for the nets' training, testing and physiology (Pathfinder-32)
    preview_cols: int = 6  # trials per difficulty rung in each family's preview grid
    workers: int = 2  # processes generating stimulus sets
    threads: int | None = 1  # torch intra-op threads during the study (None: torch's default; see run_demo)
    # nets: a parameter-matched feedforward / recurrent pair on the tasks that need more than one sweep
    feedforward_net: str = "cnn-30k"  # models registry id (~31 k parameters)
    recurrent_net: str = "blt-30k"  # models registry id (~29 k parameters; BLT, Spoerer et al. 2017)
    net_tasks: tuple[str, ...] = ("curve-tracing", "figure-ground")  # stimulus family ids
    net_train_n: int = 4000  # trials in each task's training set (generated once, shared by both nets)
    net_mix_levels: bool = True  # training sets cycle through every difficulty rung (False: the default params)
    net_steps: int = 400  # optimiser steps per net, equal for both (a wall-clock cap may stop one earlier)
    net_minutes: float = 2.0  # wall-clock cap per net, minutes
    net_batch_size: int = 32  # images per step
    net_lr: float = 2e-3  # peak AdamW learning rate
    net_val_n: int = 128  # held-out validation trials at the end of training
    net_step_loss: str = "mean"  # recurrent nets: loss on the "final" step, the "mean" over steps, "progressive"
    # per net task, training in stages (a curriculum, as Linsley et al. 2018 / Kim et al. 2020 train Pathfinder):
    # each stage {level: rung, steps: N[, minutes: cap]} on its own set, from the previous stage's weights; the
    # last stage's run is the net. A task not listed trains net_steps on the net_mix_levels set.
    net_curriculum: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # CLIP (NegCLIP hard negatives, Yuksekgonul et al. 2023) and LLaVA on its tower
    clip_preset: str = "clip-tiny"  # models.clip preset id
    clip_steps: int = 3000  # step limit
    clip_minutes: float = 5.0  # CPU minutes (process CPU time, all threads): the benchmark's budget
    clip_batch_size: int = 32  # image-caption pairs per step (scenes + swapped twins), as train_clip's default
    clip_eval_n: int = 144  # held-out scene images for the trainer's own zero-shot check
    llava_preset: str = "llava-tiny"  # models.llava preset id
    llava_batch_size: int = 32  # (image, question, answer) triples per step
    llava_stage1_steps: int = 2000  # projector-only steps on captions (limit)
    llava_stage1_minutes: float = 0.5  # CPU minutes of stage 1 (the benchmark's budget)
    llava_stage2_steps: int = 5000  # projector + LM steps on questions and answers (limit)
    llava_stage2_minutes: float = 4.5  # CPU minutes of stage 2 (the benchmark's budget)
    llava_check_n: int = 128  # held-out scene questions for the trainer's own check
    # evaluation (held-out trials, the evaluation room's harness)
    eval_n: int = 32  # trials per (family, level) for CLIP zero-shot and the nets
    eval_levels: str | int | tuple[str | int, ...] = "all"  # rungs evaluated for CLIP / LLaVA ("all", or
    # names first/middle/last or indices); nets: all rungs
    llava_eval_n: int = 16  # trials per (family, level) for LLaVA's generative answers
    # LLaVA's prompt in the evaluation: the tiny LLaVA is trained on bare questions, so it is asked them bare
    # (the harness's default, "{question} Answer with one of: {choices}.", suits checkpoints tuned on such prompts)
    llava_template: str = "{question}"
    probe_families: tuple[str, ...] = ("figure-ground", "curve-tracing", "counting")  # linear probes of CLIP
    probe_layer: str | None = None  # CLIP layer probed (None: the last)
    probe_levels: str | int | tuple[str | int, ...] = ("first", "last")  # rungs probed
    probe_n: int = 64  # trials per (family, level) for a probe (5-fold cross-validated)
    # physiology
    physiology_n: int = 96  # figure-ground trials recorded
    physiology_pairs: int = 48  # border-ownership pairs recorded
    edge_px: float | None = None  # px: RF centres this close to the boundary are "edge" (None: one texture element)
    bo_permutations: int = 1000  # sign-flip permutations per unit
    bo_alpha: float = 0.05  # significance level per unit
    bo_min_pairs: int = 4  # a unit is tested when its RF centre is in the window of >= this many pairs

    def __post_init__(self) -> None:
        check_types(self)  # types first (seed: abc, net_tasks: 5 ...), then the ranges below
        for name in ("suite_size", "net_size"):
            if getattr(self, name) < 16:
                raise ParamError(f"{name}={getattr(self, name)!r}: expected an image side >= 16 px")
        for name in ("preview_cols", "workers", "net_train_n", "net_steps", "net_batch_size", "net_val_n",
                     "clip_steps", "clip_batch_size", "clip_eval_n", "llava_batch_size", "llava_stage2_steps",
                     "llava_check_n", "eval_n", "llava_eval_n", "probe_n", "physiology_n", "physiology_pairs",
                     "bo_permutations", "bo_min_pairs"):
            if getattr(self, name) < 1:
                raise ParamError(f"{name}={getattr(self, name)!r}: expected an integer >= 1")
        if self.llava_stage1_steps < 0:
            raise ParamError(f"llava_stage1_steps={self.llava_stage1_steps!r}: expected an integer >= 0")
        for name in ("net_minutes", "clip_minutes", "llava_stage1_minutes", "llava_stage2_minutes", "net_lr"):
            if not getattr(self, name) > 0:
                raise ParamError(f"{name}={getattr(self, name)!r}: expected > 0")
        if not 0 < self.bo_alpha < 1:
            raise ParamError(f"bo_alpha={self.bo_alpha!r}: expected a significance level in (0, 1)")
        for task, stages in self.net_curriculum.items():
            _check_curriculum(task, stages)
        for task in self.net_tasks:
            check_name(task, what="net task")  # it names folders: data/<task>-train, runs/<net>@<task>
        for what, ids in (("net_tasks", self.net_tasks), ("probe_families", self.probe_families)):
            unknown = [f for f in ids if f not in stimuli.REGISTRY]
            if unknown:
                raise ParamError(f"{what}: unknown stimulus family {unknown[0]!r}; expected one of: "
                                 f"{', '.join(stimuli.REGISTRY.list())}")
        check_threads(self.threads)

    @classmethod
    def preset(cls, *, quick: bool = False, path: str | os.PathLike | None = None) -> "DemoConfig":
        """Load ``path`` (default: the packaged ``configs/demo.yaml``; a missing one is an error, never a silent
        fall-back to the dataclass defaults).

        The YAML's top-level keys override the defaults; with ``quick=True``, :data:`QUICK` and then the YAML's
        ``quick:`` section are applied on top. Unknown keys are an error naming the allowed ones.
        """
        p = Path(path) if path is not None else DEFAULT_CONFIG
        if not p.is_file():
            raise ParamError(f"config {str(p)!r} does not exist: expected a YAML file")
        data = read_yaml(p, what="demo config")
        quick_data = data.pop("quick", None) or {}
        if not isinstance(quick_data, dict):
            raise ParamError(f"{p}: quick={quick_data!r}: expected a mapping of demo settings")
        cfg = cls().with_overrides(data, source=p)
        return cfg.with_overrides({**QUICK, **quick_data}, source=f"{p} (quick)") if quick else cfg

    def with_overrides(self, data: dict[str, Any], *, source: Any = None) -> "DemoConfig":
        """A copy with ``data``'s settings (checked: unknown keys, types and ranges are one-line errors)."""
        return from_mapping(type(self), {**self.to_dict(), **data}, source=source, what="demo")

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def _trained_on(config: DemoConfig, task: str) -> str:
    """What the nets were trained on for ``task``, in words, for the findings (rungs beyond it test transfer)."""
    stages = config.net_curriculum.get(task)
    if stages:
        levels = sorted({st["level"] for st in stages})
        return (f"rung{'s' if len(levels) > 1 else ''} {', '.join(map(str, levels))} only (a curriculum of "
                + " then ".join(f"{st['steps']} steps on rung {st['level']}" for st in stages) + ")")
    return (f"every rung in turn ({config.net_steps} steps)" if config.net_mix_levels
            else f"the family's default parameters ({config.net_steps} steps)")


def _check_curriculum(task: str, stages: Any) -> None:
    """One-line errors for a ``net_curriculum`` entry: a non-empty list of ``{level, steps[, minutes]}``."""
    check_name(task, what="net task")
    if not isinstance(stages, list) or not stages:
        raise ParamError(f"net_curriculum[{task!r}]={stages!r}: expected a non-empty list of {{level, steps}} stages")
    for k, st in enumerate(stages):
        where = f"net_curriculum[{task!r}][{k}]"
        if not isinstance(st, dict) or set(st) - {"level", "steps", "minutes"} or not {"level", "steps"} <= set(st):
            raise ParamError(f"{where}={st!r}: expected a mapping with level, steps and optionally minutes")
        if isinstance(st["level"], bool) or not isinstance(st["level"], int) or st["level"] < 0:
            raise ParamError(f"{where}: level={st['level']!r}: expected a rung index >= 0")
        if isinstance(st["steps"], bool) or not isinstance(st["steps"], int) or st["steps"] < 1:
            raise ParamError(f"{where}: steps={st['steps']!r}: expected an integer >= 1")
        if "minutes" in st and not (isinstance(st["minutes"], (int, float)) and st["minutes"] > 0):
            raise ParamError(f"{where}: minutes={st['minutes']!r}: expected > 0")


# What ``--quick`` changes (mirrored in the YAML's ``quick:`` section, which wins over these): every stage still
# runs, on micro models and a few trials, in about a minute.
QUICK: dict[str, Any] = {
    "preview_cols": 3, "net_tasks": ("figure-ground",), "net_train_n": 160, "net_steps": 10, "net_minutes": 0.1,
    "net_batch_size": 16, "net_val_n": 16,
    "net_curriculum": {"figure-ground": [{"level": 0, "steps": 4}, {"level": 1, "steps": 6}]}, "clip_preset": "clip-micro", "clip_steps": 15, "clip_minutes": 0.1,
    "clip_batch_size": 16, "clip_eval_n": 16, "llava_preset": "llava-micro", "llava_batch_size": 8,
    "llava_stage1_steps": 5, "llava_stage1_minutes": 0.05, "llava_stage2_steps": 10, "llava_stage2_minutes": 0.1,
    "llava_check_n": 8, "eval_n": 8, "eval_levels": ("first", "last"), "llava_eval_n": 4, "probe_n": 16,
    "probe_families": ("figure-ground",), "physiology_n": 16, "physiology_pairs": 8, "bo_permutations": 200,
    "bo_min_pairs": 2,
}


class Notes(list):
    """Visible "left out / failed" notes, each ``{"section": ..., "text": ...}`` (the report's notes.json)."""

    def add(self, section: str, text: str) -> None:
        self.append({"section": section, "text": text})


@dataclass
class DemoResult:
    """What a demo run produced: the output folder, the report (None when it could not be written), notes."""

    out: Path
    report: Path | None
    notes: list[dict[str, str]] = field(default_factory=list)  # {"section": ..., "text": ...}
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    summary: dict[str, Any] = field(default_factory=dict)  # headline numbers (summary.json)
    findings: list[str] = field(default_factory=list)  # findings.json's sentences: per-model paragraphs first


def _write_json(path: Path, obj: Any) -> None:
    """The demo's JSON files (config, study, summary, notes, timings): indent 2, no final newline."""
    atomic_write_json(path, obj, indent=2, default=str, newline=False)


def stage_report(ctx) -> Path:
    """The study's HTML page (the report room)."""
    from preattentive.report import write_report

    return Path(write_report(ctx.out))


def run_demo(config: DemoConfig, out: str | os.PathLike, *, log: Callable[[str], None] = print,
             command: str = "preattentive demo") -> DemoResult:
    """Run the demo study into ``out`` and return what it produced.

    Parameters
    ----------
    config : the study's settings (``DemoConfig.preset(quick=...)``).
    out : output folder (created; finished training runs in it are reused, everything else is rewritten).
    log : progress printer.
    command : the command line that ran the study (shown in the report's header).

    Example
    -------
    >>> run_demo(DemoConfig.preset(quick=True), "/tmp/demo")  # doctest: +SKIP
    """
    import torch

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "config.json", config.to_dict())
    # One intra-op thread by default: on 2 cores the second is busy generating stimuli, and torch's spinning
    # threads collapse on a busy machine (20 steps of cnn-30k on the shared 2-core dev box: 9 s wall with 1
    # thread, 85 s with 2). Restored afterwards.
    threads_before = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        return _run(config, out, log, command)
    finally:
        torch.set_num_threads(threads_before)


def _run(config: DemoConfig, out: Path, log: Callable[[str], None], command: str) -> DemoResult:
    from preattentive.studies import stages  # lazy: torch and transformers, which DemoConfig and --help never need

    _write_json(out / "study.json", {
        "title": "preattentive demo study",
        "description": (f"Stimulus suite; {config.feedforward_net} vs {config.recurrent_net} (parameter-matched "
                        f"feedforward vs recurrent) on {', '.join(config.net_tasks)}; a tiny CLIP trained with hard "
                        "negatives and a tiny LLaVA on its tower; zero-shot, generative, supervised and linear-probe "
                        "evaluation on held-out trials; figure-ground and border-ownership physiology."),
        "command": command,
        # the (feedforward, recurrent) pairs the findings compare, trained on the same task with the same budget
        "pairs": [[f"{config.feedforward_net}@{t}", f"{config.recurrent_net}@{t}"] for t in config.net_tasks],
        "trained_on": {f"{net}@{t}": _trained_on(config, t) for t in config.net_tasks
                       for net in (config.feedforward_net, config.recurrent_net)}})
    (out / "errors.log").unlink(missing_ok=True)
    notes = Notes()
    ctx = stages.Context(cfg=config, out=out, notes=notes, log=log)
    result = DemoResult(out=out, report=None, notes=notes, summary=ctx.summary)
    plan: list[tuple[str, str, Callable]] = [
        ("stimuli", "stimuli", stages.stage_suite), ("nets", "training", stages.stage_nets),
        ("clip", "training", stages.stage_clip), ("llava", "training", stages.stage_llava),
        ("evaluate", "evaluation", stages.stage_evaluate), ("physiology", "physiology", stages.stage_physiology),
        ("summary", "general", stages.stage_summary)]
    for name, section, fn in plan:
        t0 = time.perf_counter()
        log(f"[demo] {name}")
        _guarded(fn, ctx, name, section)
        result.timings[name] = round(time.perf_counter() - t0, 2)
    _write_json(out / "summary.json", ctx.summary)
    _write_json(out / "notes.json", list(notes))
    t0 = time.perf_counter()
    log("[demo] report")
    result.report = _guarded(stage_report, ctx, "report", "general")
    result.timings["report"] = round(time.perf_counter() - t0, 2)
    findings = out / "findings.json"
    if result.report is not None and findings.is_file():
        data = json.loads(findings.read_text())
        result.findings = [p["text"] for p in data["paragraphs"]] + [f["text"] for f in data["findings"]]
    _write_json(out / "notes.json", list(notes))
    _write_json(out / "timings.json", result.timings)
    return result


def format_summary(summary: dict[str, Any]) -> list[str]:
    """The headline numbers of ``summary.json`` as short terminal lines."""
    lines = [f"trained {n['model']} ({n['n_params']} parameters): {n['steps']} steps in {n['wall_s']} s, validation "
             f"accuracy {n['val_acc']:.3f} (n={n['val_n']})" for n in summary.get("nets", [])
             if n.get("val_acc") is not None]
    for g in summary.get("feedforward_vs_recurrent", []):
        lines.append(f"{g['task']}: {g['feedforward']} {g['acc_feedforward']:.3f} vs {g['recurrent']} "
                     f"{g['acc_recurrent']:.3f} (recurrent - feedforward = {g['gap']:+.3f}, n={g['n']}, "
                     f"McNemar p={g['mcnemar_p']:.3g})")
    by_model: dict[str, list[str]] = {}
    for r in summary.get("accuracy", []):
        if r["model"] in ("clip-hn", "llava"):
            fam = r["family"].rsplit("-v", 1)[0]
            by_model.setdefault(f"{r['model']} [{r['method']}]", []).append(f"{fam} {r['accuracy']:.2f}")
    lines += [f"{k}: {', '.join(v)}" for k, v in by_model.items()]
    phys = summary.get("physiology", {})
    for r in phys.get("layers", []):
        if not (r["bo_n_contained"] or r["fg_n_contained"]):
            lines.append(f"physiology {r['model']} {r['layer']} (RF {r['rf_px']} px): no contained units — "
                         f"{r['note'].removeprefix('no contained units: ')}")
            continue
        fmt = lambda xs: " ".join("-" if x is None else f"{x:+.2f}" for x in xs)  # noqa: E731
        lines.append(f"physiology {r['model']} {r['layer']} (RF {r['rf_px']} px): BO-selective fraction of "
                     f"{r['bo_n_contained']} contained units by step [{fmt(r['bo_fraction'])}] (departs at step "
                     f"{r['bo_departure_step'] or 'none'}); figure-ground modulation of {r['fg_n_contained']} by "
                     f"step [{fmt(r['fg_modulation'])}] (departs at step {r['fg_departure_step'] or 'none'})")
    if phys:
        lines.append("physiology control: " + ("passed (contained units exactly 0 wherever the RF saw identical "
                                               "pixels)" if phys.get("control_passed") else
                                               f"FAILED in {phys.get('control_failures')} rows"))
    return lines


def _guarded(fn: Callable, ctx, name: str, section: str) -> Any:
    """Run one stage: an error becomes a "failed" note (the traceback in ``errors.log``), the others still run."""
    try:
        return fn(ctx)
    except Exception as e:  # noqa: BLE001 - one stage's failure must not hide the others' results
        ctx.notes.add(section, f"{name}: failed ({type(e).__name__}: {e}); left out — see errors.log")
        with open(ctx.out / "errors.log", "a") as f:
            f.write(f"== {name}\n{traceback.format_exc()}\n")
    return None
