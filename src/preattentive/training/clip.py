"""Contrastive CLIP training on ``scenes`` captions generated on the fly, with optional NegCLIP hard negatives.

Radford et al. 2021: symmetric InfoNCE with a learned temperature. Yuksekgonul et al. 2023 (NegCLIP): a batch that
holds each scene next to its twin with two objects swapped forces the model to read *which object is where*;
random batches leave a tower with learned positions (``clip-tiny-v1``) a bag of words (colours and shapes
right, relations at chance). Both modes are here because the contrast is itself a result; with fixed sin-cos
positions (``clip-tiny-v2``) random batches read the relations too, so the contrast needs ``preset="clip-tiny-v1"``.

Measured (clip-tiny, the defaults: batch 32 = 16 scenes + 16 swap twins, lr 6e-4, 5 CPU-minutes of one thread,
~1700 steps; an idle-ish 2-core CPU with one other job; held-out caption classes of scenes-v1 defaults, 288
images). ``clip-tiny-v2`` (fixed 2D sin-cos patch positions, the default since this note): acc_heldout
1.00 / 1.00 (seeds 0 / 1; 1740 / 1715 steps), acc_all 1.00 / 0.997; after 2 CPU-minutes (seed 0) already
0.97 (acc_all 0.90). Without hard negatives v2 scores as well: acc_heldout 1.00 / 1.00, acc_swap 1.00 / 1.00
(``python benchmarks/clip_llava.py --seed S``; with hard negatives there 1.00 / 1.00, 1601 / 1521 steps).

``clip-tiny-v1`` (learned positions; ``preset="clip-tiny-v1"``): acc_heldout 0.86 (seed 0) and 0.80 (seed 1),
acc_all 0.55 / 0.50, acc_swap 0.99 / 0.98; without hard negatives (seed 0) 0.61, 0.33, 0.71; after 2
CPU-minutes 0.70 (acc_all 0.36). Its errors were nearly all the relation axis: among all 144 classes, new
images of *training* classes scored 0.55, and 119 of their 130 errors named the right objects in the right
order with "above" for "left of" or back — v1 read which object comes first, not along which axis (a linear
probe of its patch tokens read the axis of held-out scenes at 0.71). Pilots on v1 (seed 0): after 2 minutes
batch 64 (lr 1e-3) 0.54, batch 32 0.61, batch 16 0.30, batch 64 with lr 2e-3 0.39; after 5 minutes batch 32
with lr 1e-3 0.84 and 6e-4 0.84. No help from transposed twins (batch 30: 0.44 vs 0.61 at 2 minutes), from
text-only "above" ↔ "left of" caption negatives (0.82 at 5 minutes), from every training caption as a text
negative (0.45 vs 0.54 at 2 minutes) or from twice the budget (10 CPU-minutes, 3614 steps: 0.87).

Run layout (``out/``): ``run.json`` (``"kind": "clip"``), ``metrics.jsonl``, ``model/`` (``save_pretrained`` +
processor + tokenizer), ``checkpoint/`` (safetensors weights + AdamW state, for ``resume=True``).

Example
-------
>>> run = train_clip(preset="clip-tiny", hard_negatives=True, minutes=5, out="runs/clip-hn")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from preattentive.config_schema import Seed, check_types
from preattentive.preflight import check_device, check_threads
from preattentive.training.vlm_runs import CLOCKS, BudgetSchedule, RunWriter, check_run_dir, configure_threads


@dataclass(frozen=True)
class ClipTrainConfig:
    """Everything that determines a CLIP training run (saved resolved in ``run.json``)."""

    preset: str = "clip-tiny"  # models.clip preset id
    hard_negatives: bool = True  # NegCLIP: each scene with its relation twins (`twins`) in the same batch
    twins: tuple[str, ...] = ("swap",)  # twin kinds per scene: swap, transpose, swap+transpose
    batch_size: int = 32  # image-caption pairs per step (scenes + twins when hard_negatives); 64 was slower
    lr: float = 6e-4  # peak AdamW learning rate (1e-3 gives the same at 5 minutes but is slower early)
    weight_decay: float = 0.1  # on matrices only (not biases, norms, embeddings' scale)
    warmup_steps: int = 50  # linear warm-up, steps
    steps: int = 3000  # step limit (also the cosine horizon when no time budget is given)
    minutes: float | None = 5.0  # time budget, minutes of `clock`; None = run all `steps`
    clock: str = "cpu"  # "cpu": process CPU time (all threads; comparable on a shared machine) or "wall"
    seed: Seed = 0  # weight init and data stream
    scenes: dict[str, Any] = field(default_factory=dict)  # scenes-v1 parameter overrides
    holdout_fraction: float = 0.25  # caption classes held out of training (whole swap pairs)
    eval_every: int = 500  # steps between held-out zero-shot checks (0 = only at the end); each costs ~1.5 CPU-s
    eval_n: int = 288  # held-out images per check
    threads: int | None = None  # torch threads; None = leave torch's default
    device: str | None = "cpu"  # "cpu" (the measured recipes), "cuda", or None = cuda when available

    def __post_init__(self) -> None:
        check_types(self)  # types first (JSON/CLI lists become tuples), then the ranges below
        from preattentive.training.vlm_data import TWIN_KINDS

        bad = [t for t in self.twins if t not in TWIN_KINDS]
        if bad or not self.twins:
            raise ValueError(f"twins={self.twins!r}: expected one or more of {', '.join(TWIN_KINDS)}")
        group = 1 + len(self.twins) if self.hard_negatives else 1
        if self.batch_size < 2 or self.batch_size % group:
            raise ValueError(f"batch_size={self.batch_size}: expected a multiple of {group} (>= 2)")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"minutes={self.minutes}: expected > 0 or None")
        if self.clock not in CLOCKS:
            raise ValueError(f"clock={self.clock!r}: expected one of {', '.join(CLOCKS)}")
        _check_common(self, steps_min=1)
        if not 0 < self.holdout_fraction < 1:
            raise ValueError(f"holdout_fraction={self.holdout_fraction}: expected a fraction in (0, 1)")


def _check_common(cfg: Any, *, steps_min: int) -> None:
    """Ranges shared by the CLIP and LLaVA configs (steps, learning rates, warm-up, evaluation, threads, device)."""
    for name in ("steps", "stage1_steps", "stage2_steps"):
        v = getattr(cfg, name, None)
        lo = 0 if name == "stage1_steps" else steps_min  # LLaVA may skip stage 1 (the paper's ablation)
        if v is not None and v < lo:
            raise ValueError(f"{name}={v}: expected an integer >= {lo}")
    for name in ("lr", "stage1_lr", "stage2_lr", "clip_minutes", "stage1_minutes", "stage2_minutes"):
        v = getattr(cfg, name, None)
        if v is not None and not v > 0:
            raise ValueError(f"{name}={v}: expected > 0")
    for name in ("warmup_steps", "eval_every"):
        if getattr(cfg, name) < 0:
            raise ValueError(f"{name}={getattr(cfg, name)}: expected an integer >= 0")
    if not cfg.weight_decay >= 0:
        raise ValueError(f"weight_decay={cfg.weight_decay}: expected >= 0")
    if cfg.eval_n < 1:
        raise ValueError(f"eval_n={cfg.eval_n}: expected an integer >= 1")
    check_threads(cfg.threads)
    if cfg.device is not None and str(cfg.device).split(":")[0] not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device={cfg.device!r}: expected cpu, cuda, cuda:N, mps or None (cuda when available)")


def clip_loss(logits_per_image: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE; ``same[i, j]`` marks caption j as a correct caption for image i (duplicates allowed).

    With distinct captions ``same`` is the identity and this is CLIP's loss exactly. Equal captions in one batch
    share the probability mass instead of being pushed apart as false negatives.
    """
    targets = same.float() / same.float().sum(1, keepdim=True)  # (B, B), rows sum to 1
    return (F.cross_entropy(logits_per_image, targets) + F.cross_entropy(logits_per_image.T, targets.T)) / 2


def clip_step_loss(model: Any, pixel_values: torch.Tensor, tokens: dict[str, torch.Tensor],
                   captions: list[str]) -> torch.Tensor:
    """The loss of one batch (the logit scale is clamped to 100 as in CLIP)."""
    img = F.normalize(model.get_image_features(pixel_values=pixel_values).pooler_output, dim=-1)  # (B, D)
    txt = F.normalize(model.get_text_features(**tokens).pooler_output, dim=-1)  # (B, D)
    scale = model.logit_scale.clamp(max=math.log(100.0)).exp()
    ids = {c: k for k, c in enumerate(dict.fromkeys(captions))}
    cid = torch.tensor([ids[c] for c in captions], device=img.device)
    return clip_loss(scale * img @ txt.T, cid[:, None] == cid[None, :])


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 and "embedding" not in name else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def train_clip(config: ClipTrainConfig | None = None, *, out: str | os.PathLike, resume: bool = False,
               **fields: Any) -> Path:
    """Train a CLIP from a preset on ``scenes`` captions; return the run directory.

    Parameters
    ----------
    config : a :class:`ClipTrainConfig`; keyword ``fields`` override it (or build one when it is None).
    out : run directory (created; an existing finished run is an error unless ``resume``).
    resume : continue from ``out/checkpoint`` (the time budget counts afresh).

    Example
    -------
    >>> run = train_clip(preset="clip-tiny", hard_negatives=False, minutes=5, out="runs/clip-bow")  # doctest: +SKIP
    >>> from preattentive.models.clip import load_clip
    >>> clip = load_clip(run)  # doctest: +SKIP
    """
    from preattentive.models.clip import build_clip
    from preattentive.models.vlm_common import resolve_device
    from preattentive.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
    from preattentive.training.vlm_data import SceneCaptions, zero_shot_accuracy

    from preattentive.models.clip import PRESETS

    unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(ClipTrainConfig)})
    if unknown:
        raise ValueError(f"unknown CLIP training option {unknown[0]!r}")
    cfg = dataclasses.replace(config or ClipTrainConfig(), **fields)
    cfg = dataclasses.replace(cfg, preset=PRESETS.resolve(cfg.preset))  # run.json names the version trained
    # preflight: everything below is checked or built before the run folder is written
    check_device(cfg.device)
    check_run_dir(out, "clip", resume=resume)
    configure_threads(cfg.threads)
    data = SceneCaptions(cfg.scenes, holdout_fraction=cfg.holdout_fraction, seed=cfg.seed)
    clip = build_clip(cfg.preset, texts=data.texts(), seed=cfg.seed)
    clip.model.to(resolve_device(cfg.device))
    model = clip.model.train()
    opt = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)
    step, spent, horizon = 0, 0.0, None
    ckpt = latest_checkpoint(Path(out) / "checkpoint") if resume else None
    if ckpt is not None:
        state = load_checkpoint(ckpt, model, opt, restore_rng=False)
        step, spent, horizon = state.step, float(state.elapsed.get(cfg.clock, 0.0)), state.extra.get("horizon")
    writer = RunWriter(out, "clip", cfg, task=data.task(), resume=resume)
    sched = BudgetSchedule(opt, cfg.warmup_steps, cfg.steps, cfg.minutes, horizon=horizon, done=step)
    n_pairs = cfg.batch_size // (1 + len(cfg.twins)) if cfg.hard_negatives else cfg.batch_size
    clock = CLOCKS[cfg.clock]
    start, wall0, first = clock(), time.perf_counter(), step
    while step < cfg.steps:
        images, captions = data.batch(step, n_pairs, hard_negatives=cfg.hard_negatives, twins=cfg.twins)
        loss = clip_step_loss(model, clip.pixel_values(images), clip.tokens(captions), captions)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        elapsed = clock() - start  # seconds of the budget's clock
        sched.after_step(step, step - first, elapsed)
        writer.log({"step": step, "loss": round(float(loss.detach()), 5), "lr": opt.param_groups[0]["lr"],
                    "temperature": round(float(1 / model.logit_scale.detach().exp()), 5),
                    f"{cfg.clock}_s": round(elapsed, 2), "wall_s": round(time.perf_counter() - wall0, 2)})
        if cfg.eval_every and step % cfg.eval_every == 0:
            model.eval()
            writer.log({"step": step, **_prefixed(zero_shot_accuracy(clip, data, n=cfg.eval_n))})
            model.train()
        if cfg.minutes is not None and elapsed > 60 * cfg.minutes:
            break
    used = spent + clock() - start
    save_checkpoint(writer.dir / "checkpoint", model, opt, step=step, elapsed={cfg.clock: used},
                    extra={"horizon": sched.horizon})
    model.eval()
    final = zero_shot_accuracy(clip, data, n=cfg.eval_n)
    writer.log({"step": step, **_prefixed(final)})
    spent_s = {"wall_s": round(time.perf_counter() - wall0, 1), f"{cfg.clock}_s": round(used, 1)}  # this session
    return writer.finish(clip.save, steps=step, metrics=final, **spent_s)


def _prefixed(metrics: dict[str, Any]) -> dict[str, Any]:
    return {f"eval/{k}": v for k, v in metrics.items()}
