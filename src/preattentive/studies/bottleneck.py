"""The bottleneck study (the seed's claim S7): accuracy against the image-token budget, question-independent vs
question-conditioned encoder, on cluttered counting and visual search.

For each task, token budget (64 → 16 → 4 pooled patch tokens) and encoder conditioning (``late``: LLaVA's
question-independent encoder; ``film``: the question modulates the encoder before the bottleneck), one
:class:`~preattentive.models.token_budget.TokenBudgetNet` is trained with the training room's loop and tested
with the evaluation room's harness on held-out trials; the study writes ``bottleneck.csv`` (accuracy with
Wilson 95 % CIs per task x tokens x conditioning), ``figures/accuracy_vs_tokens.png`` and the standard report.

Example
-------
>>> from preattentive.configs import resolve_config
>>> from preattentive.studies.bottleneck import BottleneckConfig, run_bottleneck
>>> result = run_bottleneck(BottleneckConfig.load(resolve_config("bottleneck")), "runs/bottleneck")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from preattentive.config_schema import Seed, check_types, from_mapping, read_yaml
from preattentive.files import atomic_write_json, atomic_write_text
from preattentive.preflight import check_name, check_threads
from preattentive.stimuli.base import ParamError


def _default_tasks() -> dict[str, dict[str, Any]]:
    # Cluttered, question-varying versions of each task: the question (meta["query_id"]) decides what counts.
    return {
        "counting": {"level": 2, "params": {"query": "mixed", "n_min": 1, "n_max": 6}},  # 4 distractors, one colour
        "visual-search": {"level": 1, "params": {"mode": "conjunction", "target": "mixed"}},  # 8 items
    }


@dataclass(frozen=True)
class BottleneckConfig:
    """Settings of the bottleneck study (mirrored, with comments, in the packaged ``configs/bottleneck.yaml``)."""

    seed: Seed = 0  # training streams and initialisation; held-out trials use seed + 2000003
    size: int = 64  # px, stimulus side
    patch: int = 8  # px, ViT patch: 64 px / 8 = an 8 x 8 grid of 64 patch tokens
    budgets: tuple[int, ...] = (64, 16, 4)  # image tokens after pooling (square numbers <= 64)
    conditionings: tuple[str, ...] = ("late", "film")  # question-independent / question-conditioned encoder
    tasks: Mapping[str, Mapping[str, Any]] = field(default_factory=_default_tasks)  # family -> level + params
    steps: int = 1500  # optimiser steps per model (equal for every model unless a `minutes` cap stops one)
    minutes: float | None = None  # wall-clock cap per model (None: none, every model gets exactly `steps`)
    batch_size: int = 32  # images per step
    lr: float = 1e-3  # peak AdamW learning rate
    train_n: int = 4000  # trials in each task's training set (generated once as Parquet, shared by all models)
    workers: int = 2  # processes generating the training sets
    eval_n: int = 256  # held-out test trials per task
    threads: int | None = 1  # torch intra-op threads during the study (None: torch's default), as in the demo

    def __post_init__(self) -> None:
        check_types(self)  # types first (budgets: abc, tasks: [counting] ...), then the ranges
        if not self.budgets or not self.conditionings or not self.tasks:
            raise ParamError("budgets, conditionings and tasks: expected at least one each")
        for mode in self.conditionings:
            if mode not in ("late", "film", "none"):
                raise ParamError(f"conditioning {mode!r}: expected late, film or none")
        for task, spec in self.tasks.items():
            check_name(task, what="task")  # it names folders: data/<task>-train, runs/...@<task>
            extra = sorted(set(spec) - {"level", "params"})
            if extra:
                raise ParamError(f"task {task!r}: unknown key {extra[0]!r}; expected level, params")
            level, params = spec.get("level"), spec.get("params")
            if level is not None and (isinstance(level, bool) or not isinstance(level, int) or level < 0):
                raise ParamError(f"task {task!r}: level={level!r}; expected a rung index >= 0 or null")
            if params is not None and not isinstance(params, Mapping):
                raise ParamError(f"task {task!r}: params={params!r}; expected a mapping of family parameters")
        for name in ("size", "patch", "steps", "batch_size", "train_n", "workers", "eval_n"):
            if getattr(self, name) < 1:
                raise ParamError(f"{name}={getattr(self, name)!r}: expected an integer >= 1")
        if self.minutes is not None and not self.minutes > 0:
            raise ParamError(f"minutes={self.minutes!r}: expected > 0 or null")
        if not self.lr > 0:
            raise ParamError(f"lr={self.lr!r}: expected > 0")
        check_threads(self.threads)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, **overrides: Any) -> "BottleneckConfig":
        """Defaults, then the YAML at ``path`` (when given), then ``overrides``; one-line errors naming the file,
        key and value (an unknown key lists the allowed ones)."""
        data = read_yaml(path, what="bottleneck config") if path is not None else {}
        return from_mapping(cls, {**data, **overrides}, source=path, overrides=tuple(overrides),
                            what="bottleneck")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["tasks"] = {k: dict(v) for k, v in self.tasks.items()}
        return d


@dataclass
class BottleneckResult:
    out: Path
    table: Any  # pandas DataFrame: task, tokens, conditioning, model, n, accuracy, ci_lo, ci_hi, chance
    figure: Path | None
    report: Path
    notes: list[dict[str, str]] = field(default_factory=list)


def _name(tokens: int, mode: str, task: str) -> str:
    return f"budget-{tokens}-{mode}@{task}"


def run_bottleneck(cfg: BottleneckConfig, out: str | os.PathLike, *,
                   log: Callable[[str], None] = print) -> BottleneckResult:
    """Train and test every (task, budget, conditioning) model; write the table, the figure and the report.

    Finished runs under ``out/runs`` are reused, so an interrupted study resumes where it stopped.
    """
    import torch

    before = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _run(cfg, Path(out), log)
    finally:
        torch.set_num_threads(before)


def _train_config(cfg: BottleneckConfig, task: str, tokens: int, mode: str, data: Path):
    from preattentive.training import TrainConfig

    spec = cfg.tasks[task]
    level, params = spec.get("level"), dict(spec.get("params") or {})
    train_params = {**params, **({"level": level} if level is not None else {})}
    return TrainConfig(model=f"budget-{tokens}-{mode}", task=task, params=train_params, size=cfg.size,
                       model_overrides={"patch": cfg.patch}, steps=cfg.steps, minutes=cfg.minutes,
                       batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed, val_n=64, val_every=0, ckpt_every=0,
                       data=str(data))


def preflight(cfg: BottleneckConfig) -> None:
    """Build every model's training config and net, and each task's test suite, before anything is written."""
    from preattentive.evaluation.suites import suite_from_dict
    from preattentive.training.preflight import preflight_supervised

    for task, spec in cfg.tasks.items():
        suite_from_dict({"name": f"bottleneck-{task}", "seed": cfg.seed, "size": cfg.size, "n": cfg.eval_n,
                         "families": [{"family": task, "params": dict(spec.get("params") or {}),
                                       "levels": "all" if spec.get("level") is None else [spec["level"]]}]}).blocks()
        for tokens in cfg.budgets:
            for mode in cfg.conditionings:  # on the fly: the training set is generated only after these checks
                preflight_supervised(_train_config(cfg, task, tokens, mode, Path(".")).replace(data=None))


def _run(cfg: BottleneckConfig, out: Path, log: Callable[[str], None]) -> BottleneckResult:
    import pandas as pd

    from preattentive.datasets import generate_set
    from preattentive.datasets.parquet import set_status
    from preattentive.datasets.preview import save_png
    from preattentive.evaluation import accuracy_table, evaluate, load_model
    from preattentive.evaluation.suites import suite_from_dict
    from preattentive.report import write_report
    from preattentive.report.bottleneck import accuracy_vs_tokens_figure
    from preattentive.training.runs import run_finished
    from preattentive.training import train_supervised
    from preattentive.training.config import TEST_SEED_OFFSET

    out = Path(out)
    preflight(cfg)  # a bad task, budget or option fails here, before a folder or a trial exists
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", cfg.to_dict(), indent=2, newline=False)
    atomic_write_json(out / "study.json", {
        "title": "Bottleneck study: accuracy vs image-token budget",
        "description": ("LLaVA-style nets (ViT encoder → patch tokens pooled to a budget → linear projector → "
                        "transformer reader with the question) trained per task, token budget "
                        f"{', '.join(map(str, cfg.budgets))} and encoder conditioning "
                        f"({', '.join(cfg.conditionings)}: late = question-independent, film = question-conditioned)."),
        "command": "preattentive bottleneck"}, indent=2, newline=False)
    notes: list[dict[str, str]] = []
    frames = []
    for task, spec in cfg.tasks.items():
        level, params = spec.get("level"), dict(spec.get("params") or {})
        train_params = {**params, **({"level": level} if level is not None else {})}
        suite = suite_from_dict({"name": f"bottleneck-{task}", "seed": cfg.seed + TEST_SEED_OFFSET, "size": cfg.size,
                                 "n": cfg.eval_n, "families": [{"family": task, "params": params,
                                                                 "levels": "all" if level is None else [level]}]})
        data = out / "data" / f"{task}-train"
        set_params = {**train_params, "size": cfg.size}
        status = set_status(data, task, cfg.train_n, seed=cfg.seed, params=set_params)
        if status != "complete":  # an interrupted set is continued, another one replaced
            generate_set(task, cfg.train_n, data, seed=cfg.seed, params=set_params,
                         workers=cfg.workers, overwrite=status == "other", preview=False)
            log(f"  training set {task}: {cfg.train_n} trials in {data}")
        for tokens in cfg.budgets:
            for mode in cfg.conditionings:
                name = _name(tokens, mode, task)
                run = out / "runs" / name
                if not run_finished(run):
                    train_supervised(_train_config(cfg, task, tokens, mode, data), run, show_progress=False)
                adapter = load_model(f"run:{run}")
                adapter.name = name
                df = evaluate(adapter, suite, method="supervised", out=out, progress=False)
                acc = accuracy_table(df, by=["model", "family"])
                acc["task"], acc["tokens"], acc["conditioning"] = task, tokens, mode
                acc["train_steps"] = json.loads((run / "run.json").read_text()).get("steps")
                frames.append(acc)
                log(f"  {name}: accuracy {acc['accuracy'].iloc[0]:.3f} (n={int(acc['n'].iloc[0])})")
    table = pd.concat(frames, ignore_index=True)[["task", "tokens", "conditioning", "model", "family",
                                                   "train_steps", "n", "k", "accuracy", "ci_lo", "ci_hi", "chance"]]
    atomic_write_text(out / "bottleneck.csv", table.to_csv(index=False))
    figure = save_png(accuracy_vs_tokens_figure(table), out / "figures" / "accuracy_vs_tokens.png")
    notes.append({"section": "general", "text": f"Accuracy vs token budget: {figure.relative_to(out)} and "
                                                "bottleneck.csv (the report below shows each model's accuracy)."})
    atomic_write_json(out / "notes.json", notes, indent=2, newline=False)
    report = write_report(out)
    return BottleneckResult(out, table, figure, report, notes)
