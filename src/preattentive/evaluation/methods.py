"""Evaluation methods: zero-shot, generative, linear probe, supervised — each maps trials to predicted choices.

A method turns a list of :class:`~preattentive.stimuli.base.Trial` into one :class:`Outcome` per trial through
an :class:`~preattentive.evaluation.adapters.Adapter`. Per-trial methods (zero-shot, generative, supervised) are
batched and cacheable trial by trial; the linear probe is fitted per block (one family x level) with
cross-validation, so its out-of-fold predictions depend on the whole block.

Example
-------
>>> outs = METHODS["zero-shot"].run(adapter, trials)  # doctest: +SKIP
>>> outs[0].prediction, outs[0].parse  # doctest: +SKIP
(1, 'argmax')
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from preattentive.evaluation.adapters import Adapter
from preattentive.evaluation.parsing import parse_answer

log = logging.getLogger("preattentive.evaluation")

# The generative prompt: the trial's question plus its choices. `{choices}` is "a, b or c"; `{letters}` is
# "(A) a (B) b (C) c". A model trained on bare questions (the tiny LLaVA) can be asked with template="{question}".
DEFAULT_TEMPLATE = "{question} Answer with one of: {choices}."


class TooFewTrials(ValueError):
    """A block too small for the method (e.g. a probe needs >= 2 trials per label); the harness skips it."""


@dataclass(frozen=True)
class Outcome:
    prediction: int  # index into the trial's choices; -1 = unparseable
    raw: str  # the model's raw output (text, or JSON of scores)
    parse: str  # how `prediction` was obtained


@dataclass(frozen=True)
class Method:
    """A named method: ``run(adapter, trials, **options) -> list[Outcome]``; ``per_trial``: cached per trial."""

    name: str
    run: Callable[..., list[Outcome]]
    per_trial: bool
    defaults: dict[str, Any]  # option name -> default value (what the options JSON records)
    doc: str = ""

    def options(self, **given: Any) -> dict[str, Any]:
        """The full, validated option dict (defaults filled in; unknown names are errors)."""
        bad = sorted(k for k, v in given.items() if k not in self.defaults and v is not None)
        if bad:
            raise ValueError(f"method {self.name!r} has no option {bad[0]!r}; expected: {', '.join(self.defaults)}")
        return {k: (given[k] if given.get(k) is not None else v) for k, v in self.defaults.items()}


def format_question(trial: Any, template: str = DEFAULT_TEMPLATE) -> str:
    """The generative prompt for a trial: ``template`` filled with its question and choices.

    Example
    -------
    >>> class T: question, choices = "How many dots?", ("2", "3", "4")
    >>> format_question(T())
    'How many dots? Answer with one of: 2, 3 or 4.'
    """
    ch = list(trial.choices)
    joined = ch[0] if len(ch) == 1 else ", ".join(ch[:-1]) + " or " + ch[-1]
    letters = " ".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(ch))
    return template.format(question=trial.question, choices=joined, letters=letters)


def _queries(trials: Sequence[Any]) -> np.ndarray:
    return np.array([int(t.meta.get("query_id", -1)) for t in trials], dtype=np.int64)


def _zero_shot(adapter: Adapter, trials: Sequence[Any]) -> list[Outcome]:
    probs = adapter.zero_shot([t.image for t in trials], [list(t.prompts) for t in trials])
    return [Outcome(int(np.argmax(p)), json.dumps([round(float(v), 6) for v in p]), "argmax") for p in probs]


def _generative(adapter: Adapter, trials: Sequence[Any], *, template: str = DEFAULT_TEMPLATE,
                max_new_tokens: int = 16) -> list[Outcome]:
    texts = adapter.generate([t.image for t in trials], [format_question(t, template) for t in trials],
                             max_new_tokens=int(max_new_tokens))
    out = []
    for t, text in zip(trials, texts):
        p = parse_answer(text, t.choices)
        if p.index < 0:  # counted wrong; logged so that a parser gap is visible, not silent
            log.info("unparseable answer %r to %r (choices %s)", text, t.question, list(t.choices))
        out.append(Outcome(p.index, text, p.rule))
    return out


def _supervised(adapter: Adapter, trials: Sequence[Any], *, steps: int | None = None) -> list[Outcome]:
    logits = adapter.classify([t.image for t in trials], _queries(trials), steps=steps)  # (B, C)
    n = {len(t.choices) for t in trials}
    if len(n) != 1 or logits.shape[1] != n.pop():
        raise ValueError(f"model {adapter.name!r} has {logits.shape[1]} outputs but the trials have "
                         f"{sorted({len(t.choices) for t in trials})} choices")
    return [Outcome(int(np.argmax(z)), json.dumps([round(float(v), 5) for v in z]), "argmax") for z in logits]


def probe_features(adapter: Adapter, trials: Sequence[Any], *, layer: str | None, step: int | None,
                   batch_size: int = 32) -> np.ndarray:
    """Frozen features ``(N, D)`` of ``trials`` at ``layer`` (and recurrent ``step``), batched."""
    parts = []
    for s in range(0, len(trials), batch_size):
        b = trials[s:s + batch_size]
        parts.append(adapter.features([t.image for t in b], layer, step, _queries(b)))
    return np.concatenate(parts, 0)


def _probe(adapter: Adapter, trials: Sequence[Any], *, layer: str | None = None, step: int | None = None,
           folds: int = 5, C: float = 1.0, seed: int = 0, batch_size: int = 32) -> list[Outcome]:
    """Out-of-fold predictions of a standardised L2 logistic regression on frozen features (Alain & Bengio 2016)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = probe_features(adapter, trials, layer=layer, step=step, batch_size=batch_size)
    y = np.array([t.label for t in trials])
    counts = np.bincount(y)
    k = int(min(folds, counts[counts > 0].min()))
    if k < 2 or (counts > 0).sum() < 2:
        raise TooFewTrials(f"a linear probe needs >= 2 trials of each of >= 2 labels; got label counts "
                         f"{counts.tolist()}")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=float(C), max_iter=2000))
    proba = cross_val_predict(clf, x, y, cv=StratifiedKFold(k, shuffle=True, random_state=int(seed)),
                              method="predict_proba")  # (N, n_seen_labels)
    seen = np.flatnonzero(counts > 0)
    pred = seen[np.argmax(proba, 1)]
    return [Outcome(int(p), json.dumps([round(float(v), 5) for v in pr]), "cv-argmax") for p, pr in zip(pred, proba)]


METHODS: dict[str, Method] = {
    "zero-shot": Method("zero-shot", _zero_shot, True, {},
                        "image vs the trial's prompts (one per choice), argmax of the probabilities"),
    "generative": Method("generative", _generative, True, {"template": DEFAULT_TEMPLATE, "max_new_tokens": 16},
                         "question + choices, greedy decoding, answer parsed to a choice"),
    "supervised": Method("supervised", _supervised, True, {"steps": None},
                         "a trained net's readout, argmax of the logits (steps: recurrent iterations at test time)"),
    "probe": Method("probe", _probe, False, {"layer": None, "step": None, "folds": 5, "C": 1.0, "seed": 0},
                    "logistic regression on frozen features, cross-validated per family x level"),
}


def register_method(method: Method) -> None:
    """Add a method (its name must be new)."""
    if method.name in METHODS:
        raise ValueError(f"method {method.name!r} is already registered")
    METHODS[method.name] = method


def resolve_method(name: str, adapter: Adapter) -> Method:
    """``auto`` -> the adapter's default; otherwise check the adapter supports ``name``."""
    if name == "auto":
        name = adapter.auto_method
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; expected auto or one of: {', '.join(METHODS)}")
    if adapter.methods and name not in adapter.methods:
        raise ValueError(f"model {adapter.name!r} ({adapter.kind}) does not support method {name!r}; "
                         f"expected one of: {', '.join(adapter.methods)}")
    return METHODS[name]
