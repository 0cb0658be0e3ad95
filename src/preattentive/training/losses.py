"""Losses for the supervised loop: cross-entropy on the final step, the mean over steps, or progressive.

A loss is any ``loss_fn(model, batch) -> LossOutput``; the loop only needs ``.loss`` to call backward on.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from preattentive.stimuli.base import ParamError
from preattentive.training.data import net_inputs


@dataclass
class LossOutput:
    """A scalar loss to minimise plus float metrics to log (e.g. ``{"acc": 0.9}``)."""

    loss: torch.Tensor  # () differentiable
    metrics: dict[str, float] = field(default_factory=dict)


def step_cross_entropy(step_logits: torch.Tensor, labels: torch.Tensor, mode: str) -> torch.Tensor:
    """Cross-entropy of per-step logits ``(T, B, C)``: at the last step ("final") or averaged over steps ("mean").

    Averaging over steps is the BLT readout loss (Spoerer et al. 2020): every step must be a good answer.

    Example
    -------
    >>> step_cross_entropy(torch.zeros(3, 4, 2), torch.zeros(4, dtype=torch.long), "mean").item()  # ln 2
    0.6931471824645996
    """
    if mode == "final":
        return F.cross_entropy(step_logits[-1].float(), labels)
    t, b, c = step_logits.shape
    return F.cross_entropy(step_logits.reshape(t * b, c).float(), labels.repeat(t))


def _detach(x):
    """Detach a recurrent state of any nesting (tensor, tuple, list, dict)."""
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, (tuple, list)):
        return type(x)(_detach(v) for v in x)
    if isinstance(x, dict):
        return {k: _detach(v) for k, v in x.items()}
    return x


def _accepts(model: torch.nn.Module, name: str) -> bool:
    fwd = getattr(model, "module", model).forward  # unwrap DistributedDataParallel
    return name in inspect.signature(fwd).parameters


def dense_logits(out, model_id: str = "") -> torch.Tensor:
    """The final step's per-pixel logits ``(B, C, H, W)`` of a net output; a clear error for nets without them."""
    if getattr(out, "pixel_logits", None) is None:
        raise ParamError(f"target='mask' needs a net with a per-pixel head (e.g. recall-16, recall-16-ff); "
                         f"{model_id or 'this net'} has none: use target='label'")
    return out.pixel_logits


def no_dense_target(task: str) -> ParamError:
    """The error for ``target='mask'`` on a task whose trials carry no per-pixel target."""
    return ParamError(f"target='mask': task {task!r} has no dense target (meta['target_mask']); "
                      f"use target='label' or a family with one, e.g. maze-path")


def solved(pixel_logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B,) bool: every pixel's argmax class equals the target (Bansal et al.'s accuracy: the maze is solved)."""
    return (pixel_logits.argmax(1) == target).flatten(1).all(1)


def supervised_loss(config) -> Callable[[torch.nn.Module, dict[str, torch.Tensor]], LossOutput]:
    """The default loss of a :class:`~preattentive.training.config.TrainConfig`.

    ``step_loss="progressive"`` is Bansal et al. 2022's progressive loss: the total is
    ``(1 - a) * CE(T steps from scratch) + a * CE(k steps continued from the detached state after n steps)``,
    with ``n ~ U{0..T-1}`` and ``k ~ U{1..T-n}`` drawn per batch (from the batch's first trial index, so runs
    stay reproducible). It needs a recurrent net whose ``forward`` takes ``hidden=`` (the state to continue
    from) and returns it in ``NetOutput.hidden``; feedforward nets (``recurrent = False``) get plain
    cross-entropy, so one study config can train both kinds.

    ``target="mask"`` takes the cross-entropy per pixel (mean over pixels) between the net's ``pixel_logits``
    and the trial's dense target, as Bansal et al. train the maze route; its ``acc`` is the fraction solved.

    Example
    -------
    >>> from preattentive.training.config import TrainConfig
    >>> fn = supervised_loss(TrainConfig(model="cnn-30k", task="maze", steps=1))
    >>> # fn(net, batch).loss.backward()  # doctest: +SKIP
    """
    mode, alpha, iters = config.step_loss, config.progressive_alpha, config.train_iters
    dense = getattr(config, "target", "label") == "mask"

    def ce(out, batch) -> torch.Tensor:
        if dense:
            return F.cross_entropy(dense_logits(out, config.model).float(), batch["target"])
        return F.cross_entropy(out.logits.float(), batch["label"])

    def loss_fn(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> LossOutput:
        images, labels, kw = batch["image"], batch["label"], net_inputs(batch)
        if dense and "target" not in batch:
            raise no_dense_target(config.task)
        out = model(images, steps=iters, **kw)
        recurrent = getattr(getattr(model, "module", model), "recurrent", False)
        if dense and (mode == "final" or not recurrent):
            loss = ce(out, batch)
        elif dense and mode == "mean":
            maps = [s.get("pixel_logits") for s in out.states]
            if any(m is None for m in maps):
                raise ParamError(f"step_loss='mean' with target='mask' needs per-step 'pixel_logits' states; "
                                 f"{config.model!r} records none: use 'final' or 'progressive'")
            loss = torch.stack([F.cross_entropy(m.float(), batch["target"]) for m in maps]).mean()
        elif mode != "progressive" or not recurrent:
            # feedforward nets (one step) get plain cross-entropy: the same objective, so comparisons stay fair
            loss = step_cross_entropy(out.step_logits, labels, "final" if mode == "progressive" else mode)
        else:
            if not _accepts(model, "hidden") or getattr(out, "hidden", None) is None:
                raise ParamError(f"step_loss='progressive' needs a recurrent net with forward(..., hidden=) "
                                 f"and NetOutput.hidden; {config.model!r} has neither: use 'final' or 'mean'")
            t = out.step_logits.shape[0]
            g = torch.Generator().manual_seed(int(batch["index"][0]))
            n = int(torch.randint(0, t, (1,), generator=g))
            k = int(torch.randint(1, t - n + 1, (1,), generator=g))
            with torch.no_grad():
                state = model(images, steps=n, **kw).hidden if n > 0 else None
            state = _detach(state)
            prog = model(images, steps=k, hidden=state, **kw)
            loss = (1 - alpha) * ce(out, batch) + alpha * ce(prog, batch)
        if dense:
            acc = solved(out.pixel_logits.detach(), batch["target"]).float().mean().item()
        else:
            acc = (out.logits.detach().argmax(-1) == labels).float().mean().item()
        return LossOutput(loss=loss, metrics={"acc": acc})

    return loss_fn
