"""Fair comparison: train several nets on one task under one budget, test them alike, write one table.

Every model gets the same trials (same seed, same batches), optimiser, schedule and budget. A step budget gives
equal steps, a time budget equal (wall or CPU) time; the table always reports both the steps done and the
seconds used, plus parameters, FLOPs per image and training images/s, and test accuracy per condition, per
recurrent-iteration count and per difficulty level with 95 % Wilson intervals.

Layout of ``out``::

    compare.json      the resolved CompareConfig
    <model>/          one run directory per model (see preattentive.training.runs); finished runs are reused
    curriculum/<model>/<k>-<stage>/   the curriculum stages' runs (when the study has a ``curriculum``)
    results.parquet   one row per (model, condition, test steps, level)
    results.md        the same table in markdown
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from preattentive.config_schema import Seed, check_types, from_mapping
from preattentive.evaluation.stats import wilson_ci
from preattentive.files import atomic_path, atomic_write_text
from preattentive.preflight import check_name, confined
from preattentive.stimuli.base import ParamError

COLUMNS = ("model", "net_id", "n_params", "flops_per_image", "train_steps", "train_images", "train_wall_s",
           "train_cpu_s", "train_images_per_s", "train_images_per_cpu_s", "val_acc", "condition", "test_steps",
           "level", "n", "correct", "accuracy", "ci_low", "ci_high")


@dataclass(frozen=True)
class TestCondition:
    """A test set: the training task with some parameters changed, run at some recurrent step counts."""

    name: str  # label in the table, e.g. "len14" or "13x13"
    params: Mapping[str, Any] = field(default_factory=dict)  # family parameter overrides (may include "size")
    steps: tuple[int | None, ...] = (None,)  # recurrent iterations at test (None: the net's training default)

    def __post_init__(self) -> None:
        check_types(self)
        if not self.name.strip():
            raise ParamError("test condition name='': expected a label such as 'len14'")
        bad = [s for s in self.steps if s is not None and s < 1]
        if bad or not self.steps:
            raise ParamError(f"test condition {self.name!r}: steps={list(self.steps)}; expected integers >= 1 "
                             "(or null for the net's default)")


@dataclass(frozen=True)
class CurriculumStage:
    """A training stage before the main task: every model trains on it, then starts the next stage from there.

    Stages run in order, each with its own budget, fresh optimiser and warm-up + cosine schedule; the main task
    (the study's ``params``/``data``/budget) is the last stage. The table's steps and seconds sum all stages.
    """

    name: str  # e.g. "len6"
    params: Mapping[str, Any] = field(default_factory=dict)  # task-parameter overrides (may include "size")
    budget_steps: int | None = None  # optimiser steps of this stage
    budget_minutes: float | None = None  # minutes (the study's clock) of this stage
    data: str | None = None  # a Parquet set for this stage (None: generated on the fly)

    def __post_init__(self) -> None:
        check_types(self)
        check_name(self.name, what="curriculum stage name")  # it names the stage's run folder
        if self.budget_steps is None and self.budget_minutes is None:
            raise ParamError(f"curriculum stage {self.name!r}: give budget_steps and/or budget_minutes")


@dataclass(frozen=True)
class CompareConfig:
    """A study: which models, which task, which budget, which tests (a YAML file maps onto these fields).

    Example
    -------
    >>> cfg = CompareConfig(models=("cnn-30k", "hgru-16"), task="curve-tracing", budget_steps=200)
    >>> cfg.conditions[0].name
    'train-task'
    """

    models: tuple[str, ...]  # net registry ids
    task: str  # stimulus family id
    params: Mapping[str, Any] = field(default_factory=dict)  # family parameters of the training task
    size: int = 32  # image side, px
    budget_steps: int | None = None  # optimiser steps per model (equal steps)
    budget_minutes: float | None = None  # minutes per model (equal time); with both, whichever ends first
    clock: str = "wall"  # "wall" or "cpu" time for budget_minutes
    batch_size: int = 32  # images per step
    lr: float = 1e-3  # peak AdamW learning rate (same for every model: fairness)
    weight_decay: float = 0.01  # AdamW weight decay
    warmup: float = 0.05  # warm-up fraction of the budget
    seed: Seed = 0  # data and initialisation seed (same for every model)
    val_n: int = 256  # validation trials during training
    val_every: int = 500  # validation period, steps
    step_loss: str = "final"  # recurrent nets: "final", "mean" or "progressive"
    progressive_alpha: float = 0.5  # weight of the progressive term (Bansal et al. 2022 use 0.01 for mazes)
    train_iters: int | None = None  # recurrent steps unrolled in training (None: each net's default)
    model_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # per-model make_net overrides
    data: str | None = None  # a Parquet training set shared by every model (None: generated on the fly)
    num_workers: int = 0  # DataLoader workers generating trials (their CPU time is not in a "cpu" budget)
    test_n: int = 1000  # test trials per condition (seed + TEST_SEED_OFFSET)
    tests: tuple[TestCondition, ...] = ()  # test conditions; empty: the training task itself
    curriculum: tuple[CurriculumStage, ...] = ()  # stages trained in order before the main task (same for all)
    target: str = "label"  # "label" or "mask" (per-pixel, e.g. maze-path; accuracy = fraction solved)

    def __post_init__(self) -> None:
        check_types(self)
        if not self.models:
            raise ParamError("models: expected at least one net id")
        for m in self.models:
            check_name(m, what="model")  # each model trains in out/<model>
        if self.budget_steps is None and self.budget_minutes is None:
            raise ParamError("give a budget: budget_steps and/or budget_minutes")
        if len(set(self.models)) != len(self.models):
            raise ParamError(f"models {list(self.models)}: each model may appear once")
        names = [t.name for t in self.tests]
        if len(set(names)) != len(names):
            raise ParamError(f"tests {names}: each test condition needs its own name")
        if self.test_n < 1:
            raise ParamError(f"test_n={self.test_n}: expected >= 1")
        stages = [c.name for c in self.curriculum]
        if len(set(stages)) != len(stages):
            raise ParamError(f"curriculum {stages}: each stage needs its own name")
        from preattentive.training.config import check_size_param

        check_size_param(self.params, self.size)

    @property
    def conditions(self) -> tuple[TestCondition, ...]:
        return self.tests or (TestCondition("train-task"),)

    def stage_configs(self, model: str, out: str | os.PathLike) -> list[tuple[Path, Any]]:
        """``(run directory, TrainConfig)`` of each training stage of ``model`` in order, the main task last.

        Curriculum stage k trains in ``out/curriculum/<model>/<k>-<name>`` from stage k-1's weights; the main
        task trains in ``out/<model>`` from the last stage's.
        """
        out, runs, prev = Path(out), [], None
        main = self.train_config(model)
        for k, st in enumerate(self.curriculum, 1):
            params = {**dict(self.params), **dict(st.params)}
            size = int(params.pop("size", self.size))
            d = confined(out, "curriculum", model, f"{k}-{st.name}")
            runs.append((d, main.replace(params=params, size=size, steps=st.budget_steps,
                                         minutes=st.budget_minutes, data=st.data, init_from=prev)))
            prev = str(d)
        runs.append((confined(out, model), main.replace(init_from=prev) if prev else main))
        return runs

    def train_config(self, model: str):
        from preattentive.training.config import TrainConfig

        return TrainConfig(model=model, task=self.task, params=dict(self.params), size=self.size,
                           model_overrides=dict(self.model_overrides.get(model, {})), steps=self.budget_steps,
                           minutes=self.budget_minutes, clock=self.clock, batch_size=self.batch_size, lr=self.lr,
                           weight_decay=self.weight_decay, warmup=self.warmup, seed=self.seed, val_n=self.val_n,
                           val_every=self.val_every, ckpt_every=self.val_every, step_loss=self.step_loss,
                           progressive_alpha=self.progressive_alpha, train_iters=self.train_iters, data=self.data,
                           num_workers=self.num_workers, target=self.target)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: Any = None, overrides: tuple[str, ...] = ()
                  ) -> "CompareConfig":
        """Build from a plain mapping (a parsed YAML study file); unknown keys and wrong types are one-line errors.

        ``source`` (the file) and ``overrides`` (keys that came from command-line flags) only shape the message.
        """
        return from_mapping(cls, _normalise(d), source=source, overrides=overrides, what="study")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, **overrides: Any) -> "CompareConfig":
        """A study from its YAML file, ``overrides`` (e.g. command-line flags) winning over the file's keys."""
        from preattentive.config_schema import read_yaml

        data = {**read_yaml(path, what="study"), **overrides}
        return cls.from_dict(data, source=path, overrides=tuple(overrides))


def _normalise(d: Any) -> Any:
    """The shorthands a study file may use: ``models: a,b`` and a test condition's scalar ``steps: 12``."""
    if not isinstance(d, Mapping):
        return d
    d = dict(d)
    if isinstance(d.get("models"), str):
        d["models"] = [m.strip() for m in d["models"].split(",") if m.strip()]
    if isinstance(d.get("tests"), (list, tuple)):
        d["tests"] = [{**t, "steps": t["steps"] if isinstance(t.get("steps", [None]), (list, tuple))
                       else [t["steps"]]} if isinstance(t, Mapping) and "steps" in t else t for t in d["tests"]]
    return d


def _test_family(cfg: CompareConfig, cond: TestCondition):
    from preattentive.training.config import TEST_SEED_OFFSET
    from preattentive.training.data import make_family

    params = {**dict(cfg.params), **dict(cond.params)}
    size = int(params.pop("size", cfg.size))
    return make_family(cfg.task, params, size, cfg.seed + TEST_SEED_OFFSET)


def _test_loader(cfg: CompareConfig, cond: TestCondition):
    """The test trials of a condition (seed + TEST_SEED_OFFSET), drawn once and shared by every model."""
    from preattentive.training.data import held_out

    return held_out(_test_family(cfg, cond), cfg.test_n, 2 * cfg.batch_size)


def preflight(cfg: CompareConfig, out: str | os.PathLike) -> dict[str, list[tuple[Path, Any]]]:
    """Check the whole study before the first model trains; return each model's ``(run dir, TrainConfig)`` stages.

    Every model id, net option, curriculum stage, data set and test condition is built once (nets discarded);
    a run folder already in ``out`` must have been trained with the same settings (only budgets may differ).
    """
    from preattentive.training.preflight import preflight_supervised
    from preattentive.training.runs import check_out_dir

    stages = {m: cfg.stage_configs(m, out) for m in cfg.models}
    for m in cfg.models:
        for k, (run_dir, train_cfg) in enumerate(stages[m]):
            if (run_dir / "run.json").is_file():  # reused or resumed: the same study's run, or an error
                check_out_dir(run_dir, train_cfg, resume=True)
            preflight_supervised(train_cfg, check_init=k == 0)
    for cond in cfg.conditions:
        _test_family(cfg, cond).trial(0)
    return stages


def _test_rows(net, cond: TestCondition, loader, base: dict[str, Any], target: str = "label") -> list[dict[str, Any]]:
    from preattentive.training.loop import predict

    rows = []
    recurrent = bool(getattr(net, "recurrent", False))
    for steps in cond.steps if recurrent else (None,):  # a feedforward net has one step whatever is asked
        p = predict(net, loader, steps=steps, target=target)
        levels = sorted(set(p["level"].tolist()))
        for lv in levels:
            m = p["level"] == lv
            n, k = int(m.sum()), int(p["correct"][m].sum())
            lo, hi = (float(v) for v in wilson_ci(k, n))
            used = steps if steps is not None else (int(getattr(net, "default_steps", 1)) if recurrent else 1)
            rows.append({**base, "condition": cond.name, "test_steps": used, "level": int(lv), "n": n,
                         "correct": k, "accuracy": k / n, "ci_low": lo, "ci_high": hi})
    return rows


def compare(cfg: CompareConfig, out: str | os.PathLike, *, show_progress: bool = True):
    """Train every model of ``cfg`` into ``out/<model>`` (reusing finished runs), test, write the table.

    Returns the results as a pandas DataFrame with :data:`COLUMNS`.

    Example
    -------
    >>> cfg = CompareConfig(models=("cnn-30k", "vit-30k"), task="curve-tracing", budget_steps=100)
    >>> table = compare(cfg, "runs/cmp")  # doctest: +SKIP
    >>> table[["model", "accuracy"]]  # doctest: +SKIP
    """
    import pandas as pd

    from preattentive.models import flops_per_image
    from preattentive.training.loop import load_run, train_supervised
    from preattentive.training.runs import read_run, run_finished, write_record

    out = Path(out)
    stages = preflight(cfg, out)  # every model, stage and test is checked before the first one trains
    out.mkdir(parents=True, exist_ok=True)
    write_record(out / "compare.json", cfg.to_dict())
    rows: list[dict[str, Any]] = []
    loaders: dict[str, Any] = {}
    for m in cfg.models:
        steps, el = 0, {"wall": 0.0, "cpu": 0.0}
        for run_dir, train_cfg in stages[m]:  # curriculum stages (if any), then the main task in out/<model>
            if not run_finished(run_dir):
                resume = (run_dir / "run.json").is_file()
                train_supervised(train_cfg, run_dir, resume=resume, show_progress=show_progress)
            r = read_run(run_dir)
            steps += int(r["steps"])
            el = {k: el[k] + float(r["elapsed"][k]) for k in el}
        net, rec = load_run(run_dir)
        net.eval()
        base = {"model": m, "net_id": rec.get("model", m), "n_params": int(rec["n_params"]),
                "flops_per_image": int(flops_per_image(net, cfg.size, steps=cfg.train_iters)), "train_steps": steps,
                "train_images": steps * cfg.batch_size, "train_wall_s": float(el["wall"]),
                "train_cpu_s": float(el["cpu"]), "train_images_per_s": steps * cfg.batch_size / max(1e-9, el["wall"]),
                "train_images_per_cpu_s": steps * cfg.batch_size / max(1e-9, el["cpu"]),
                "val_acc": float(rec.get("val", {}).get("acc", float("nan")))}
        for cond in cfg.conditions:
            if cond.name not in loaders:
                loaders[cond.name] = _test_loader(cfg, cond)
            rows.extend(_test_rows(net, cond, loaders[cond.name], base, cfg.target))
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    with atomic_path(out / "results.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    atomic_write_text(out / "results.md", to_markdown(table, cfg))
    return table


def to_markdown(table, cfg: CompareConfig | None = None) -> str:
    """The comparison table as GitHub markdown (accuracy as ``xx.x % [lo, hi]``)."""
    head = ("| model | params | MFLOPs/img | steps | train s (wall / cpu) | img/s (wall / cpu) | condition | T "
            "| level | n | accuracy [95 % CI] |\n|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|\n")
    lines = []
    for r in table.itertuples(index=False):
        lines.append(f"| {r.model} | {r.n_params:,} | {r.flops_per_image / 1e6:.2f} | {r.train_steps} | "
                     f"{r.train_wall_s:.0f} / {r.train_cpu_s:.0f} | {r.train_images_per_s:.0f} / "
                     f"{r.train_images_per_cpu_s:.0f} | {r.condition} | "
                     f"{r.test_steps} | {r.level} | {r.n} | {100 * r.accuracy:.1f} % "
                     f"[{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}] |")
    title = ""
    if cfg is not None:
        budget = " and ".join(x for x in (f"{cfg.budget_steps} steps" if cfg.budget_steps else "",
                                          f"{cfg.budget_minutes} {cfg.clock}-minutes" if cfg.budget_minutes else "")
                              if x)
        stages = "".join(
            f"{st.name} {dict(st.params)} for "
            + " and ".join(x for x in (f"{st.budget_steps} steps" if st.budget_steps else "",
                                       f"{st.budget_minutes} {cfg.clock}-minutes" if st.budget_minutes else "") if x)
            + ", then " for st in cfg.curriculum)
        title = (f"Task `{cfg.task}` {dict(cfg.params)} at {cfg.size} px; budget per model: {stages}{budget}"
                 f"{' (steps and seconds below sum all stages)' if stages else ''}; "
                 f"batch {cfg.batch_size}, lr {cfg.lr}, seed {cfg.seed}.\n\n")
    return title + head + "\n".join(lines) + "\n"


__all__ = ["COLUMNS", "CompareConfig", "CurriculumStage", "TestCondition", "compare", "to_markdown"]
