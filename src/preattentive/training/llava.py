"""Two-stage LLaVA training on stimulus questions: projector on captions, then projector + LM on Q/A pairs.

Liu et al. 2023 (NeurIPS, LLaVA): stage 1 (feature alignment) trains only the projection W on image → caption
with the vision tower and the LM frozen; stage 2 (instruction tuning) trains W and the LM on question/answer
pairs. Here the captions and the stage-2 questions come from ``scenes`` (colour, shape, count, relation,
caption) plus every other stimulus family's ``question``/``answer``; the loss counts answer tokens only.

The good recipe, and the default: a frozen vision tower from a tiny CLIP trained with swap hard negatives
(``vision=None`` trains one first, into ``out/vision``). ``vision="scratch", freeze_vision=False`` gives the
end-to-end contrast.

Measured (``python benchmarks/clip_llava.py --seed S``: defaults, 0.5 + 4.5 CPU-minutes of one thread, batch 32,
10 % other families, on the 5-CPU-minute default clip-tiny-v2 tower; 256 held-out scenes questions, exact
answers): ``llava-tiny`` (= v2, the tower's last layer with its CLS token) 0.95 (seed 0: caption 0.98, colour
1.00, count 0.75, relation 0.97, shape 0.96) and 0.96 (seed 1). The paper's features (``llava-tiny-v1``: layer
-2, patch tokens only) gave 0.70-0.88 on the same recipe: the from-scratch LM did not learn to bind colour, shape
and position from patch tokens within the budget (wrong on new images of training classes too; relation direction
at chance on some seeds, not fixed by 2x more steps through ``pool=2``, a higher learning rate, ``stage1_lm``,
``qa_mix``, weight decay or a per-sample loss). docs/results.md, "Issue 3", has every pilot.

Run layout as for CLIP (``run.json`` with ``"kind": "llava"``, ``metrics.jsonl``, ``model/``, ``checkpoint/``).

Example
-------
>>> run = train_llava(vision="runs/clip-hn", out="runs/llava-tiny")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from preattentive.config_schema import Seed, check_types
from preattentive.preflight import check_device, check_weights
from preattentive.training.vlm_runs import CLOCKS, BudgetSchedule, RunWriter, check_run_dir, configure_threads


@dataclass(frozen=True)
class LlavaTrainConfig:
    """Everything that determines a LLaVA training run (saved resolved in ``run.json``)."""

    preset: str = "llava-tiny"  # models.llava preset id
    projector: str = "mlp2x_gelu"  # "linear" (v1) or "mlp2x_gelu" (v1.5)
    # None = the preset's value (llava-tiny = v2: last layer, CLS token too, no pooling; v1: the paper's -2, default)
    pool: int | None = None  # k x k average pooling of the tower's patch grid before the projector (1 = none)
    feature_layer: int | None = None  # tower layer the LM reads (-2 = the paper's penultimate layer)
    select_strategy: str | None = None  # "default": patch tokens (the paper); "full": the tower's CLS token too
    vision: str | None = None  # CLIP run/dir/hub id; None = train clip-tiny with hard negatives first; "scratch"
    freeze_vision: bool = True  # keep the tower fixed in both stages (the paper's recipe)
    clip_minutes: float = 5.0  # budget of the CLIP trained when vision is None, minutes
    batch_size: int = 32  # (image, question, answer) triples per step
    stage1_steps: int = 2000  # projector-only steps on describe → caption (limit; 0 skips stage 1)
    stage1_minutes: float | None = 0.5  # stage-1 budget, minutes of `clock`
    stage1_lr: float = 2e-3  # peak learning rate, stage 1
    stage1_lm: bool = False  # also train the (new) LM in stage 1; measured worse: it learns the training captions
    stage2_steps: int = 5000  # projector + LM steps on Q/A (limit)
    stage2_minutes: float | None = 4.5  # stage-2 budget, minutes of `clock` (stages 1 + 2: 5 minutes)
    stage2_lr: float = 1e-3  # peak learning rate, stage 2
    clock: str = "cpu"  # budget clock: "cpu" (process CPU time, all threads) or "wall"
    warmup_steps: int = 30  # linear warm-up per stage, steps
    weight_decay: float = 0.0  # AdamW weight decay (LLaVA uses none)
    other_fraction: float = 0.1  # share of stage-2 samples from the other stimulus families
    qa_mix: dict[str, float] | None = None  # scenes question type -> share in stage 2; None = the "mixed" stream
    loss_per: str = "token"  # answer-token loss averaged per "token" (HF) or per "sample" (short answers count)
    scenes: dict[str, Any] = field(default_factory=dict)  # scenes-v1 parameter overrides (training and test)
    train_scenes: dict[str, Any] = field(default_factory=dict)  # more overrides for the training scenes only
    eval_n: int = 256  # held-out scenes questions in the final check
    eval_every: int = 0  # steps between checks during stage 2 (0 = only at the end)
    max_new_tokens: int = 16  # generation limit when evaluating
    seed: Seed = 0  # weight init and data streams
    threads: int | None = None  # torch threads; None = torch's default
    device: str | None = "cpu"  # "cpu" (the measured recipes), "cuda", or None = cuda when available

    def __post_init__(self) -> None:
        check_types(self)  # types first, then the ranges below
        from preattentive.training.clip import _check_common

        if self.clock not in CLOCKS:
            raise ValueError(f"clock={self.clock!r}: expected one of {', '.join(CLOCKS)}")
        _check_common(self, steps_min=1)
        for name in ("batch_size", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: expected an integer >= 1")
        if self.pool is not None and self.pool < 1:
            raise ValueError(f"pool={self.pool}: expected an integer >= 1 (1 = no pooling)")
        if self.loss_per not in ("token", "sample"):
            raise ValueError(f"loss_per={self.loss_per!r}: expected 'token' or 'sample'")
        if not 0.0 <= self.other_fraction <= 1.0:
            raise ValueError(f"other_fraction={self.other_fraction}: expected a fraction in [0, 1]")
        if self.qa_mix is not None:
            from preattentive.training.vlm_data import check_mix

            check_mix(self.qa_mix)


def _trainable(llava: Any, stage: int, freeze_vision: bool, stage1_lm: bool = False) -> list[torch.nn.Parameter]:
    """Stage 1: projector only (+ LM when ``stage1_lm``). Stage 2: projector + LM (+ tower when not frozen)."""
    m = llava.model.model
    for p in llava.model.parameters():
        p.requires_grad_(False)
    lm = stage == 2 or stage1_lm
    parts = [m.multi_modal_projector] + ([m.language_model, llava.model.lm_head] if lm else [])
    if not freeze_vision:
        parts.append(m.vision_tower)  # note: layer -2 features leave the last ViT block without gradient
    if stage == 2 and hasattr(m, "image_newline"):
        m.image_newline.requires_grad_(True)
    for part in parts:
        for p in part.parameters():
            p.requires_grad_(True)
    return [p for p in llava.model.parameters() if p.requires_grad]


def _run_stage(llava: Any, stage: int, batch_fn: Callable[[int], tuple], cfg: LlavaTrainConfig, writer: RunWriter,
               *, resume: bool) -> dict[str, Any]:
    """One training stage with its own AdamW, schedule, budget and checkpoint; returns a summary."""
    from preattentive.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint

    steps, minutes, lr = ((cfg.stage1_steps, cfg.stage1_minutes, cfg.stage1_lr) if stage == 1
                          else (cfg.stage2_steps, cfg.stage2_minutes, cfg.stage2_lr))
    params = _trainable(llava, stage, cfg.freeze_vision, cfg.stage1_lm)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    root = writer.dir / "checkpoint"
    ckpt = latest_checkpoint(root) if resume else None
    if ckpt is not None:  # resume is per stage: a checkpoint is written when a stage ends
        saved = load_checkpoint(ckpt, llava.model, None, restore_rng=False)
        if saved.extra.get("stage", 0) >= stage:
            return {"stage": stage, "steps": 0, "skipped": "finished before resume"}
    sched = BudgetSchedule(opt, cfg.warmup_steps, steps, minutes)
    llava.model.train()
    clock = CLOCKS[cfg.clock]
    start, wall0, step, losses = clock(), time.perf_counter(), 0, []
    while step < steps:
        images, questions, answers = batch_fn(step)
        loss = llava.loss(llava.batch(images, questions, answers), per=cfg.loss_per)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        elapsed = clock() - start  # seconds of the budget's clock
        sched.after_step(step, step, elapsed)
        losses.append(float(loss.detach()))
        writer.log({"stage": stage, "step": step, "loss": round(losses[-1], 5), "lr": opt.param_groups[0]["lr"],
                    f"{cfg.clock}_s": round(elapsed, 2), "wall_s": round(time.perf_counter() - wall0, 2)})
        if stage == 2 and cfg.eval_every and step % cfg.eval_every == 0:
            from preattentive.training.vlm_data import qa_accuracy

            llava.model.eval()
            writer.log({"stage": stage, "step": step, "eval": qa_accuracy(
                llava, n=cfg.eval_n, scenes=cfg.scenes, max_new_tokens=cfg.max_new_tokens)})
            llava.model.train()
        if minutes is not None and elapsed > 60 * minutes:
            break
    used = clock() - start
    save_checkpoint(root, llava.model, opt, step=step, elapsed={cfg.clock: used}, extra={"stage": stage})
    llava.model.eval()
    head = sum(losses[:10]) / max(len(losses[:10]), 1)
    tail = sum(losses[-10:]) / max(len(losses[-10:]), 1)
    return {"stage": stage, "steps": step, f"{cfg.clock}_s": round(used, 1),
            "wall_s": round(time.perf_counter() - wall0, 1), "trainable": sum(p.numel() for p in params),
            "loss_first10": round(head, 4), "loss_last10": round(tail, 4)}


def train_llava(config: LlavaTrainConfig | None = None, *, out: str | Path, resume: bool = False,
                **fields: Any) -> Path:
    """Train a LLaVA in two stages on stimulus questions; return the run directory.

    Parameters
    ----------
    config : a :class:`LlavaTrainConfig`; keyword ``fields`` override it (or build one when it is None).
    out : run directory (an existing run is an error unless ``resume``).
    resume : continue from ``out/checkpoint`` (a finished stage is not repeated).

    Example
    -------
    >>> run = train_llava(vision="runs/clip-hn", stage2_minutes=4, out="runs/llava")  # doctest: +SKIP
    >>> from preattentive.models.llava import load_llava
    >>> load_llava(run).generate([image], ["what color is the circle?"])  # doctest: +SKIP
    """
    from preattentive.models.clip import build_clip, load_clip
    from preattentive.models.clip import PRESETS as CLIP_PRESETS
    from preattentive.models.llava import PRESETS, build_llava, check_pool
    from preattentive.models.vlm_common import locate, resolve_device
    from preattentive.training.clip import train_clip
    from preattentive.training.vlm_data import QAStream, qa_accuracy

    unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(LlavaTrainConfig)})
    if unknown:
        raise ValueError(f"unknown LLaVA training option {unknown[0]!r}")
    cfg = dataclasses.replace(config or LlavaTrainConfig(), **fields)
    cfg = dataclasses.replace(cfg, preset=PRESETS.resolve(cfg.preset))  # run.json names the version trained
    # preflight: everything up to RunWriter is checked, loaded or built before the run folder is written
    check_device(cfg.device)
    check_run_dir(out, "llava", resume=resume)
    configure_threads(cfg.threads)
    arch = {k: v for k, v in dict(projector=cfg.projector, pool=cfg.pool, feature_layer=cfg.feature_layer,
                                  select_strategy=cfg.select_strategy).items() if v is not None}
    pool = PRESETS.make(cfg.preset, **arch).pool  # an unknown preset, projector or pooling: an error before the run
    own_tower = cfg.vision in (None, "scratch")
    where = None if own_tower else locate(cfg.vision, "CLIP")  # likewise a missing tower
    if pool > 1:  # and a pool that does not divide the tower's patch grid (a clip-tiny preset has the geometry)
        from transformers import AutoConfig

        tower = CLIP_PRESETS.make("clip-tiny") if own_tower else AutoConfig.from_pretrained(where).vision_config
        check_pool(pool, tower)
    data = QAStream(cfg.scenes, other_fraction=cfg.other_fraction, seed=cfg.seed, qa_mix=cfg.qa_mix,
                    train_overrides=cfg.train_scenes)
    vision_source = cfg.vision
    clip = None
    if cfg.vision == "scratch":
        clip = build_clip("clip-tiny", texts=data.scenes_texts(), seed=cfg.seed)
    elif cfg.vision is not None:  # a given tower: whole weights, loaded (or fetched) before anything is written
        check_weights(where)
        try:
            clip = load_clip(cfg.vision, dtype="float32")  # train in fp32 whatever the device
        except OSError as e:  # a hub id transformers could not fetch (no network, no such repository)
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ValueError(f"vision={cfg.vision!r}: {first}") from None
    if resume:  # a damaged checkpoint is an error now, not after the record is rewritten
        from preattentive.training.checkpoint import check_checkpoint, latest_checkpoint

        ck = latest_checkpoint(Path(out) / "checkpoint")
        if ck is not None:
            check_checkpoint(ck)
    writer = RunWriter(out, "llava", cfg, task=data.task(), resume=resume)
    if cfg.vision is None:  # the good recipe: a tiny CLIP trained with swap hard negatives
        vdir = writer.dir / "vision"
        if not (resume and (vdir / "model" / "config.json").is_file()):
            train_clip(out=vdir, hard_negatives=True, minutes=cfg.clip_minutes, clock=cfg.clock, seed=cfg.seed,
                       scenes=cfg.scenes,
                       threads=cfg.threads, device=cfg.device, resume=resume and (vdir / "run.json").is_file())
        clip, vision_source = load_clip(vdir, dtype="float32"), str(vdir)
    clip.model.to(resolve_device(cfg.device))
    llava = build_llava(cfg.preset, vision=clip, texts=data.texts(), seed=cfg.seed, **arch)
    del clip
    stages = [_run_stage(llava, 1, data.caption_batch_fn(cfg.batch_size), cfg, writer, resume=resume),
              _run_stage(llava, 2, data.qa_batch_fn(cfg.batch_size), cfg, writer, resume=resume)]
    for s in stages:
        writer.log({"summary": s})
    final = qa_accuracy(llava, n=cfg.eval_n, scenes=cfg.scenes, max_new_tokens=cfg.max_new_tokens)
    writer.log({"eval": final})
    return writer.finish(llava.save, stages=stages, metrics=final, vision=vision_source)
