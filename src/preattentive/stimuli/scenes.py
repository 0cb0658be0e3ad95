"""scenes: coloured shapes with counts and spatial relations, captions, questions and hard-negative twins.

The training and test data for CLIP and LLaVA. Radford et al. 2021 (CLIP: zero-shot classification by the
nearest caption); Liu et al. 2023 (LLaVA: caption pre-training, then question answering); Yuksekgonul et al.
2023 (ARO / NegCLIP: CLIP behaves like a bag of words on relations and word order unless trained with hard
negatives, e.g. the same caption with two objects swapped).

A scene is one or two *groups* of identical objects ("two red circles left of a blue square"). A caption
class is a :class:`SceneSpec`; every image has exactly one caption among :func:`caption_classes`, because the
caption relations never contain a word and its inverse ("left of" and "right of"). Public API, used by the
CLIP/LLaVA code:

- :class:`SceneSpec` / :class:`GroupSpec` — a caption class; ``spec.caption()``.
- ``objects`` — a list of dicts ``{"shape", "colour", "size" (size word or ""), "half" (half-extent, px),
  "centre" [row, col] px, "bbox" [r0, c0, r1, c1] px, "group" (0 or 1)}``; ``meta["objects"]`` of a trial.
- :func:`render_scene` (objects -> image), :func:`caption_of` (objects -> caption, read from geometry),
  :func:`twin` (swap / attribute hard negatives), :meth:`ScenesFamily.twin_trial`.
- :func:`vocabulary` (every word of any caption, question, choice or prompt), :func:`caption_classes`,
  :func:`caption_split` (held-out caption classes, whole swap pairs held out together).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from preattentive.stimuli import register_family
from preattentive.stimuli.base import ParamError, StimulusFamily, Trial
from preattentive.stimuli.scene_graph import (  # noqa: F401 - re-exported: the public scenes API
    INVERSE, MIN_GAP, MIN_HALF, MIN_HALF_CROSS, NUMBERS, PLURAL, QUESTIONS, RELATIONS, SCENE_SHAPES,
    SIZE_FACTOR, GroupSpec, SceneSpec, ScenesParams, _enumerate, _key, _valid, caption_of, caption_split,
    relation_of, render_scene, spec_of, twin, vocabulary)
from preattentive.stimuli.scene_layout import check_fit, layout

__all__ = ["GroupSpec", "SceneSpec", "ScenesFamily", "ScenesParams", "caption_classes", "caption_of",
           "caption_split", "relation_of", "render_scene", "spec_of", "twin", "vocabulary"]


# --------------------------------------------------------------------------------------------- family
def _choices(p: ScenesParams, qtype: str) -> tuple[str, ...]:
    if qtype == "colour":
        return tuple(p.colors)
    if qtype == "shape":
        return tuple(p.shapes)
    if qtype == "count":
        return ("zero",) + tuple(NUMBERS[c] for c in sorted(p.counts))
    if qtype == "relation":
        return tuple(r for r in RELATIONS if r in p.relations or INVERSE[r] in p.relations)
    return ("",) * p.n_caption_choices


def _qtypes(p: ScenesParams) -> tuple[str, ...]:
    if p.question != "mixed":
        return (p.question,)
    return tuple(q for q in QUESTIONS if not (q == "relation" and p.n_objects == 1))


class _Table:
    """The caption classes of one parameter set, as arrays for fast conditional sampling."""

    def __init__(self, p: ScenesParams) -> None:
        everything = _enumerate(p.colors, p.shapes, p.sizes, p.counts, p.relations, p.n_objects)
        self.class_index = {s.caption(): i for i, s in enumerate(everything)}
        if p.split == "all":
            self.specs = everything
        else:
            train, test = caption_split(list(self.class_index), p.holdout_fraction, p.split_seed)
            keep = set(train if p.split == "train" else test)
            self.specs = [s for s in everything if s.caption() in keep]
        if len(self.specs) < max(2, p.n_caption_choices if "caption" in _qtypes(p) else 1):
            raise ParamError(f"split={p.split!r} leaves {len(self.specs)} caption classes: expected >= "
                             f"{max(2, p.n_caption_choices)} (a larger vocabulary or holdout_fraction)")
        self.captions = {s.caption() for s in self.specs}
        g = [[s.groups[min(k, len(s.groups) - 1)] for s in self.specs] for k in range(2)]
        self.colour = np.array([[p.colors.index(x.colour) for x in gk] for gk in g])  # (2, n_classes)
        self.shape = np.array([[p.shapes.index(x.shape) for x in gk] for gk in g])
        self.count = np.array([[x.count for x in gk] for gk in g])
        self.rel = np.array([s.relation or "" for s in self.specs])
        self.types = _qtypes(p)
        self.n_codes = sum(len(_choices(p, q)) for q in self.types)

    def candidates(self, mask: np.ndarray, what: str) -> np.ndarray:
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            raise ParamError(f"no caption class in this split can answer {what}; use a larger vocabulary")
        return idx


@register_family
class ScenesFamily(StimulusFamily):
    """Scenes of coloured shapes with counts and relations; captions, questions and hard-negative twins.

    Radford et al. 2021 (CLIP); Liu et al. 2023 (LLaVA); Yuksekgonul et al. 2023 (ARO / NegCLIP). Labels:
    with ``question`` fixed, trial ``i`` has label ``i % len(choices)`` (balanced by construction). With
    ``question="mixed"`` the codes ``i % n_classes`` run over every (question type, label) pair, so each type's
    labels are exactly balanced, and types appear in proportion to their number of choices; there
    ``label_for(i)`` is that code, not the trial's label. ``meta``: ``caption``, ``objects``, ``question_type``,
    ``class_index`` (into ``caption_classes(params)``), ``split``.
    """

    id = "scenes-v1"
    citation = ("Radford et al. 2021 (ICML, CLIP); Liu et al. 2023 (NeurIPS, LLaVA); "
                "Yuksekgonul et al. 2023 (ICLR, ARO/NegCLIP)")
    ParamsType = ScenesParams
    # Harder rungs: smaller objects, packed closer, relations nearer the diagonal. Vocabulary stays fixed.
    ladder = (
        {"obj_size": 0.15, "margin": 0.08, "dominance": 3.0},
        {"obj_size": 0.12, "margin": 0.04, "dominance": 2.0},
        {"obj_size": 0.09, "margin": 0.03, "dominance": 1.5},
        {"obj_size": 0.07, "margin": 0.03, "dominance": 1.2},
    )
    difficulty_keys = ("obj_size", "margin", "dominance")

    def __init__(self, params: ScenesParams | None = None, *, seed: int = 0) -> None:
        super().__init__(params, seed=seed)
        self._tables: dict[ScenesParams, _Table] = {}
        self._batch: dict[ScenesParams, int] = {}
        self.n_classes = self._table(self.params).n_codes
        rungs = self._rungs if self.params.mix_levels else []
        for q in [self.params, *rungs]:
            self._table(q)
            self._batch[q] = check_fit(q)

    def _table(self, p: ScenesParams) -> _Table:
        if p not in self._tables:
            self._tables[p] = _Table(p)
        return self._tables[p]

    # -- one trial ----------------------------------------------------------------------------
    def _make(self, rng: np.random.Generator, label: int, p: ScenesParams) -> Trial:
        tab = self._table(p)
        code = label % tab.n_codes
        for qtype in tab.types:
            n = len(_choices(p, qtype))
            if code < n:
                break
            code -= n
        label = code
        spec, target = self._draw_spec(rng, tab, p, qtype, label)
        objects = layout(rng, spec, p, self._batch.get(p) or check_fit(p))
        question, choices, prompts = _pose(rng, tab, p, spec, qtype, label, target)
        meta = {"caption": spec.caption(), "objects": objects, "question_type": qtype,
                "class_index": tab.class_index[spec.caption()], "split": p.split}
        return Trial(render_scene(objects, p.size, p.background), label, question, choices, prompts,
                     {k: getattr(p, k) for k in self.difficulty_keys}, meta)

    def _draw_spec(self, rng, tab: _Table, p: ScenesParams, qtype: str, label: int) -> tuple[SceneSpec, Any]:
        two = p.n_objects == 2
        if qtype in ("colour", "shape", "count") and label >= (1 if qtype == "count" else 0):
            arr, v = {"colour": (tab.colour, label), "shape": (tab.shape, label),
                      "count": (tab.count, sorted(p.counts)[label - 1] if qtype == "count" else 0)}[qtype]
            k = int(rng.choice(tab.candidates((arr[0] == v) | (arr[1] == v), f"{qtype}={label}")))
            spec = tab.specs[k]
            hits = [i for i, g in enumerate(spec.groups) if arr[i, k] == v]
            return spec, hits[int(rng.integers(len(hits)))]
        if qtype == "relation":
            word = _choices(p, "relation")[label]
            canon = word if word in p.relations else INVERSE[word]
            k = int(rng.choice(tab.candidates(tab.rel == canon, f"relation={word}")))
            return tab.specs[k], 0 if word in p.relations else 1
        k = int(rng.integers(len(tab.specs)))  # count == zero (asks about an absent object) or caption
        spec = tab.specs[k]
        if qtype == "count":
            present = {_key(g) for g in spec.groups}
            absent = [GroupSpec(0, c, s, z) for z in (p.sizes or ("",)) for c in p.colors for s in p.shapes
                      if (c, s, z) not in present]
            if not absent:
                raise ParamError("question='count' needs more colour/shape combinations than groups")
            return spec, absent[int(rng.integers(len(absent)))]
        return spec, None

    # -- twins --------------------------------------------------------------------------------
    def twin_trial(self, index: int, kind: str = "swap") -> Trial:
        """The hard-negative twin of trial ``index`` (see :func:`twin`), posed as a two-way caption choice.

        Choices are ``(twin caption, original caption)``, label 0; ``meta`` has ``objects``, ``caption``,
        ``twin_kind`` and ``twin_of`` (the original trial's id). Depends only on (seed, index, kind).

        Example
        -------
        >>> gen = ScenesFamily(seed=0)
        >>> t = gen.twin_trial(0, "swap")
        >>> t.choices[1] == gen.trial(0).meta["caption"] != t.choices[0]
        True
        """
        t = self.trial(index)
        p = self.params_for(index)
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, index, 0x7717])
        objs = twin(t.meta["objects"], kind, rng, size=p.size, colors=p.colors, shapes=p.shapes)
        cap = caption_of(objs, p.relations)
        choices = (cap, t.meta["caption"])
        meta = {"caption": cap, "objects": objs, "question_type": "caption", "twin_kind": kind, "twin_of": t.id}
        return dataclasses.replace(t, image=render_scene(objs, p.size, p.background), label=0,
                                   question="which caption describes the image?", choices=choices,
                                   prompts=choices, meta=meta)


# --------------------------------------------------------------------------------------------- questions
def _with(spec: SceneSpec, i: int, **change: Any) -> SceneSpec:
    groups = list(spec.groups)
    groups[i] = dataclasses.replace(groups[i], **change)
    return SceneSpec(tuple(groups), spec.relation)


def _be(g: GroupSpec) -> str:
    return "are" if g.count > 1 else "is"


def _pose(rng: np.random.Generator, tab: _Table, p: ScenesParams, spec: SceneSpec, qtype: str, label: int,
          target: Any) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(question, choices, prompts) for one question type; ``target`` is the asked group (index or GroupSpec)."""
    choices = _choices(p, qtype)
    if qtype == "caption":
        choices = _caption_choices(rng, tab, p, spec, label)
        return "which caption describes the image?", choices, choices
    if qtype == "count":
        g = spec.groups[target] if isinstance(target, int) else target
        prompts = tuple(f"no {g.noun(True)}" if c == 0 else dataclasses.replace(g, count=c).phrase()
                        for c in [0, *sorted(p.counts)])
        return f"how many {g.noun(True)} are there?", choices, prompts
    t = spec.groups[target]
    where = ""
    if len(spec.groups) == 2:
        o = spec.groups[1 - target]
        rel = spec.relation if target == 0 else INVERSE[spec.relation]
        where = f" {rel} the {o.noun()}"
    if qtype == "colour":
        ref = dataclasses.replace(t, colour="").noun()
        prompts = tuple(_with(spec, target, colour=c).caption() for c in choices)
        return f"what color {_be(t)} the {ref}{where}?", choices, prompts
    if qtype == "shape":
        ref = " ".join(w for w in (t.size, t.colour, "objects" if t.count > 1 else "object") if w)
        prompts = tuple(_with(spec, target, shape=s).caption() for s in choices)
        return f"what shape {_be(t)} the {ref}{where}?", choices, prompts
    o = spec.groups[1 - target]  # relation
    prompts = tuple(f"{t.phrase()} {w} {o.phrase()}" for w in choices)
    return f"where {_be(t)} the {t.noun()} relative to the {o.noun()}?", choices, prompts


def _caption_choices(rng: np.random.Generator, tab: _Table, p: ScenesParams, spec: SceneSpec,
                     label: int) -> tuple[str, ...]:
    """The true caption at position ``label`` among hard negatives from the same split: the swapped twin
    first (Yuksekgonul et al. 2023), then other relations and single-attribute changes, then any class."""
    true = spec.caption()
    swap = [spec.swapped()] if len(spec.groups) == 2 else []
    near = [SceneSpec(spec.groups, r) for r in p.relations if r != spec.relation and len(spec.groups) == 2]
    for i in range(len(spec.groups)):
        near += [_with(spec, i, colour=c) for c in p.colors] + [_with(spec, i, shape=s) for s in p.shapes]
        near += [_with(spec, i, size=z) for z in p.sizes] + [_with(spec, i, count=n) for n in p.counts]
    near = [near[j] for j in rng.permutation(len(near))]
    picked: list[str] = []
    for s in swap + near:
        c = s.caption()
        if _valid(s) and c in tab.captions and c != true and c not in picked:
            picked.append(c)
    picked = picked[: p.n_caption_choices - 1]
    while len(picked) < p.n_caption_choices - 1:
        c = tab.specs[int(rng.integers(len(tab.specs)))].caption()
        if c != true and c not in picked:
            picked.append(c)
    negatives = [picked[j] for j in rng.permutation(len(picked))]
    return tuple(negatives[:label] + [true] + negatives[label:])


def caption_classes(params: "ScenesParams | None" = None) -> list[str]:
    """All captions the configured vocabulary can produce (one per caption class), in a fixed order; a trial's
    ``meta["class_index"]`` indexes this list. The classes of a ``split`` are
    ``caption_split(caption_classes(p), p.holdout_fraction, p.split_seed)`` (train, test), as the family uses.

    Example
    -------
    >>> len(caption_classes())  # 3 colours x 3 shapes, ordered distinct pairs, 2 relations
    144
    """
    p = params if params is not None else ScenesParams()
    return [s.caption() for s in _enumerate(p.colors, p.shapes, p.sizes, p.counts, p.relations, p.n_objects)]
