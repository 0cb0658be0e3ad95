"""Training and held-out data for CLIP and LLaVA, drawn on the fly from the stimulus families.

``scenes`` (Radford et al. 2021; Yuksekgonul et al. 2023) supplies captions, swap twins (hard negatives) and
questions; caption classes are split into train and test with whole swap pairs held out together, so a model
trained with swap hard negatives never reads a test caption. Every other family contributes its own
``question``/``answer`` pairs to LLaVA's instruction stage.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

DESCRIBE = "describe the image."  # LLaVA stage-1 instruction (Liu et al. 2023: brief image descriptions)
TEST_SEED_OFFSET = 1_000_003  # held-out images come from a different trial stream than training images


TWIN_KINDS = ("swap", "transpose", "swap+transpose")  # relation hard negatives of a two-group scene


def _transpose(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mirror object centres across the main diagonal: distances (so gaps) are kept, "left of" becomes "above"."""
    out = []
    for o in objects:
        (r, c), h = o["centre"], o["half"]
        out.append(dict(o, centre=[c, r], bbox=[c - h, r - h, c + h, r + h]))
    return out


def _relation_twin(objects: list[dict[str, Any]], k: int, size: int, *, rng: np.random.Generator,
                   colors: Sequence[str], shapes: Sequence[str]) -> list[dict[str, Any]]:
    """Hard-negative twin ``k`` (0: swap, 1: transpose, 2: both); attribute twins for one-group scenes."""
    from preattentive.stimuli import scenes

    if len({int(o.get("group", 0)) for o in objects}) < 2:
        return scenes.twin(objects, "attribute", rng, size=size, colors=colors, shapes=shapes)
    objs = scenes.twin(objects, "swap", size=size) if k in (0, 2) else list(objects)
    return _transpose(objs) if k in (1, 2) else objs


class SceneCaptions:
    """Scene images with their captions: training batches (optionally with swap twins) and a held-out test set."""

    def __init__(self, overrides: dict[str, Any] | None = None, *, holdout_fraction: float = 0.25,
                 seed: int = 0) -> None:
        from preattentive import stimuli
        from preattentive.stimuli import scenes

        self.overrides = dict(overrides or {})
        params = {**self.overrides, "holdout_fraction": holdout_fraction}
        self.seed = seed
        self.train = stimuli.make("scenes", seed=seed, split="train", question="caption", **params)
        self.test = stimuli.make("scenes", seed=seed + TEST_SEED_OFFSET, split="test", question="caption", **params)
        p = self.train.params
        self.classes = scenes.caption_classes(p)  # every caption class, train and test
        train_classes, self.test_classes = scenes.caption_split(self.classes, p.holdout_fraction, p.split_seed)
        self.train_classes = frozenset(train_classes)

    def task(self) -> dict[str, Any]:
        """The run record's ``task``: family, parameters, class counts."""
        return {"family": self.train.id, "params": self.train.params.to_dict(), "seed": self.seed,
                "n_classes": len(self.classes), "n_test_classes": len(self.test_classes)}

    def texts(self) -> list[str]:
        """Sentences whose words make the tokenizer: the scenes vocabulary and every caption class."""
        from preattentive.stimuli import scenes

        return [" ".join(scenes.vocabulary()), *self.classes]

    def batch(self, step: int, n: int, *, hard_negatives: bool,
              twins: Sequence[str] = ("swap",)) -> tuple[list[np.ndarray], list[str]]:
        """Training pairs for ``step``: ``n`` scenes, then (``hard_negatives``) one twin of each kind in ``twins``.

        Twin kinds (Yuksekgonul et al. 2023, NegCLIP): ``"swap"`` exchanges the two groups ("a blue square left
        of a red circle"); ``"transpose"`` mirrors the layout across the diagonal, turning "left of" into
        "above" with the same objects; ``"swap+transpose"`` does both. One-group scenes get attribute twins.
        A twin whose caption is a held-out class is left out (the split holds out swap pairs, so a transposed
        twin can land in it): training never reads a test caption, and the batch may hold fewer than
        ``n * (1 + len(twins))`` pairs.
        """
        from preattentive.stimuli import scenes

        p = self.train.params
        trials = [self.train.trial(i) for i in range(step * n, (step + 1) * n)]
        images, captions = [t.image for t in trials], [t.meta["caption"] for t in trials]
        if hard_negatives:
            for k, kind in enumerate(twins):
                if kind not in TWIN_KINDS:
                    raise ValueError(f"twin kind {kind!r}: expected one of {', '.join(TWIN_KINDS)}")
                for t in trials:
                    objs = _relation_twin(t.meta["objects"], TWIN_KINDS.index(kind), p.size,
                                          rng=np.random.default_rng([t.index, k]), colors=p.colors, shapes=p.shapes)
                    caption = scenes.caption_of(objs, p.relations)
                    if caption in self.train_classes:
                        images.append(scenes.render_scene(objs, p.size, p.background))
                        captions.append(caption)
        return images, captions

    def test_set(self, n: int, *, seen: bool = False) -> tuple[list[np.ndarray], list[str]]:
        """``n`` held-out scenes of the test caption classes (``seen``: new images of training classes)."""
        gen = self.test if not seen else self.train
        start = 0 if not seen else 10**9  # far beyond any training step's trial indices
        trials = [gen.trial(i) for i in range(start, start + n)]
        return [t.image for t in trials], [t.meta["caption"] for t in trials]


def zero_shot_accuracy(clip: Any, data: SceneCaptions, n: int = 288) -> dict[str, float]:
    """Held-out zero-shot accuracy of a CLIP on scenes.

    Returns, for images of the held-out caption classes, ``acc_all`` (the exact caption among all caption
    classes), ``acc_heldout`` (among the held-out classes only) and ``acc_swap`` (the caption against its
    swapped twin: 0.5 is a bag of words); and ``acc_seen``: new images of training classes, among all classes.
    """
    import torch

    images, captions = data.test_set(n)
    with torch.no_grad():
        img = clip.encode_image(images)  # (n, D)
        txt = clip.encode_text(data.classes)  # (C, D)
        sims = (img @ txt.T).cpu()  # (n, C)
        idx = {c: k for k, c in enumerate(data.classes)}
        truth = torch.tensor([idx[c] for c in captions])
        held = torch.tensor([idx[c] for c in data.test_classes])
        acc_all = (sims.argmax(1) == truth).float().mean()
        acc_held = (held[sims[:, held].argmax(1)] == truth).float().mean()
        swapped = [_swapped(c) for c in captions]
        two = [c for c in swapped if c is not None]
        acc_swap = float("nan")
        if two:
            keep = torch.tensor([s is not None for s in swapped])
            s_true = sims[keep].gather(1, truth[keep, None]).squeeze(1)
            s_swap = sims[keep].gather(1, torch.tensor([idx[c] for c in two])[:, None]).squeeze(1)
            acc_swap = float((s_true > s_swap).float().mean())
        seen_images, seen_captions = data.test_set(n, seen=True)
        seen = (clip.encode_image(seen_images) @ txt.T).cpu().argmax(1)
        acc_seen = float(np.mean([data.classes[k] == c for k, c in zip(seen.tolist(), seen_captions)]))
    return {"acc_all": round(float(acc_all), 4), "acc_heldout": round(float(acc_held), 4),
            "acc_swap": round(acc_swap, 4), "acc_seen": round(acc_seen, 4), "n": n}


def _swapped(caption: str) -> str | None:
    from preattentive.stimuli.scenes import RELATIONS

    for r in RELATIONS:
        if f" {r} " in caption:
            a, b = caption.split(f" {r} ")
            return f"{b} {r} {a}"
    return None


def family_texts(families: Iterable[str], n: int = 64) -> list[str]:
    """Questions, answers and choices of the first ``n`` trials of each family (for an LM vocabulary)."""
    from preattentive import stimuli

    out: list[str] = []
    for fam in families:
        gen = stimuli.make(fam, mix_levels=True) if _has_ladder(fam) else stimuli.make(fam)
        for t in gen.trials(n):
            out += [t.question, *t.choices]
    return out


def _has_ladder(fam: str) -> bool:
    from preattentive import stimuli

    return bool(stimuli.get(fam).ladder)


# --------------------------------------------------------------------------------------------- LLaVA
def normalize_answer(text: str) -> str:
    """Lower case, single spaces, no trailing full stop: how generated answers are compared with the truth."""
    return " ".join(text.lower().replace(" ?", "?").split()).rstrip(".").strip()


def check_mix(mix: dict[str, float]) -> dict[str, float]:
    """Validate a question-type mix (``{"count": 2, "relation": 1}``: shares, normalised by their sum)."""
    from preattentive.stimuli.scenes import QUESTIONS

    bad = [k for k in mix if k not in QUESTIONS]
    if bad or not mix or any(v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError(f"qa_mix={mix!r}: expected non-negative shares of {', '.join(QUESTIONS)} (sum > 0)")
    return mix


def mix_counts(mix: dict[str, float], n: int) -> dict[str, int]:
    """``n`` samples split by shares (largest remainders), e.g. ``({"a": 1, "b": 1}, 3) -> {"a": 2, "b": 1}``."""
    total = sum(mix.values())
    exact = {k: n * v / total for k, v in mix.items()}
    out = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: out[k] - exact[k])[: n - sum(out.values())]:
        out[k] += 1
    return out


class QAStream:
    """LLaVA training triples (image, question, answer) from ``scenes`` (train caption classes) and other families.

    Stage 1: every scene with :data:`DESCRIBE` → its caption. Stage 2: ``scenes`` mixed questions (colour, shape,
    count, relation, caption) — or, with ``qa_mix``, a fixed number per batch of each question type — plus a
    share ``other_fraction`` of trials from every other registered family that generates (the families are
    cycled; a family whose generator fails is listed under ``task()["skipped"]``). Item ``k`` of step ``s``
    depends only on (seed, s, k).
    """

    def __init__(self, overrides: dict[str, Any] | None = None, *, other_fraction: float = 0.25,
                 seed: int = 0, families: Iterable[str] | None = None,
                 qa_mix: dict[str, float] | None = None, train_overrides: dict[str, Any] | None = None) -> None:
        from preattentive import stimuli

        self.overrides, self.seed, self.other_fraction = dict(overrides or {}), seed, other_fraction
        train = {**self.overrides, **(train_overrides or {})}  # e.g. mix_levels: the training scenes only
        self.captions = stimuli.make("scenes", seed=seed, split="train", question="caption", **train)
        self.questions = stimuli.make("scenes", seed=seed + 1, split="train", question="mixed", **train)
        self.qa_mix = dict(check_mix(qa_mix)) if qa_mix else None
        self.by_type = {q: stimuli.make("scenes", seed=seed + 1 + 7919 * (k + 1), split="train", question=q,
                                        **train) for k, q in enumerate(sorted(self.qa_mix or {}))}
        self.others, self.skipped = [], {}
        names = families if families is not None else [f for f in stimuli.latest() if not f.startswith("scenes")]
        for k, fam in enumerate(names if other_fraction > 0 else []):
            try:  # families land over time; one that cannot generate yet must not stop LLaVA training
                gen = stimuli.make(fam, seed=seed + 2 + k, mix_levels=_has_ladder(fam))
                gen.trial(0)
                self.others.append(gen)
            except Exception as e:  # noqa: BLE001 - recorded in the run's task, not hidden
                self.skipped[fam] = f"{type(e).__name__}: {e}"

    def task(self) -> dict[str, Any]:
        return {"family": self.questions.id, "params": self.questions.params.to_dict(), "seed": self.seed,
                "other_families": [g.id for g in self.others], "other_fraction": self.other_fraction,
                "qa_mix": self.qa_mix, "skipped": self.skipped}

    def scenes_texts(self) -> list[str]:
        from preattentive.stimuli import scenes

        return [" ".join(scenes.vocabulary()), *scenes.caption_classes(self.captions.params)]

    def texts(self) -> list[str]:
        """Sentences whose words make the LM vocabulary: scenes, the stage-1 instruction, other families' Q/A."""
        return [*self.scenes_texts(), DESCRIBE, *family_texts([g.id for g in self.others])]

    def caption_batch_fn(self, n: int):
        """``step -> (images, [DESCRIBE] * n, captions)``."""
        def fn(step: int) -> tuple[list[np.ndarray], list[str], list[str]]:
            trials = [self.captions.trial(i) for i in range(step * n, (step + 1) * n)]
            return [t.image for t in trials], [DESCRIBE] * n, [t.meta["caption"] for t in trials]
        return fn

    def qa_batch_fn(self, n: int):
        """``step -> (images, questions, answers)``: scenes questions with a share of other families' trials."""
        n_other = int(round(n * self.other_fraction)) if self.others else 0

        per_type = mix_counts(self.qa_mix, n - n_other) if self.qa_mix else None

        def fn(step: int) -> tuple[list[np.ndarray], list[str], list[str]]:
            if per_type is None:
                trials = [self.questions.trial(i) for i in range(step * (n - n_other), (step + 1) * (n - n_other))]
            else:  # each type's own stream, m of its trials per step
                trials = [self.by_type[q].trial(i) for q, m in per_type.items()
                          for i in range(step * m, (step + 1) * m)]
            for k in range(step * n_other, (step + 1) * n_other):
                gen = self.others[k % len(self.others)]
                trials.append(gen.trial(k // len(self.others)))
            return [t.image for t in trials], [t.question for t in trials], [t.answer for t in trials]
        return fn


def qa_accuracy(llava: Any, n: int = 256, *, scenes: dict[str, Any] | None = None, seed: int = 0,
                max_new_tokens: int = 16, batch_size: int = 64) -> dict[str, Any]:
    """Exact-answer accuracy of a LLaVA on ``n`` held-out ``scenes`` questions (test caption classes), by type.

    Example
    -------
    >>> qa_accuracy(llava, n=64)["acc"]  # doctest: +SKIP
    0.92
    """
    from preattentive import stimuli

    gen = stimuli.make("scenes", seed=seed + TEST_SEED_OFFSET, split="test", question="mixed", **(scenes or {}))
    trials = list(gen.trials(n))
    answers = llava.generate([t.image for t in trials], [t.question for t in trials],
                             max_new_tokens=max_new_tokens, batch_size=batch_size)
    hits: dict[str, list[bool]] = {}
    for t, a in zip(trials, answers):
        hits.setdefault(t.meta["question_type"], []).append(normalize_answer(a) == normalize_answer(t.answer))
    every = [h for v in hits.values() for h in v]
    return {"acc": round(sum(every) / len(every), 4), "n": len(every),
            "by_type": {k: round(sum(v) / len(v), 4) for k, v in sorted(hits.items())}}
