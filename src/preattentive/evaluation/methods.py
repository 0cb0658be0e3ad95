"""Evaluation methods: zero-shot, generative, choice likelihood, linear probe, supervised — trials -> choices.

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
# A template holding `{image}` is a whole prompt in the model's own format (for checkpoints without a chat
# template): `"USER: {image}\n{question} ASSISTANT:"`; otherwise the model's chat template wraps it.
DEFAULT_TEMPLATE = "{question} Answer with one of: {choices}."
TEMPLATE_FIELDS = ("question", "choices", "letters", "image")


class TooFewTrials(ValueError):
    """A block too small for the method (e.g. a probe needs >= 2 trials per label); the harness skips it."""


@dataclass(frozen=True)
class Outcome:
    prediction: int  # index into the trial's choices; -1 = unparseable
    raw: str  # the model's raw output (text, or JSON of scores)
    parse: str  # how `prediction` was obtained
    prompt: str = ""  # the exact text prompt sent to a generative model ("" for other methods)


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
    import string

    bad = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None and f not in TEMPLATE_FIELDS]
    if bad:
        raise ValueError(f"template field {{{bad[0]}}}: expected only {', '.join('{%s}' % f for f in TEMPLATE_FIELDS)}")
    ch = list(trial.choices)
    joined = ch[0] if len(ch) == 1 else ", ".join(ch[:-1]) + " or " + ch[-1]
    letters = " ".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(ch))
    return template.format(question=trial.question, choices=joined, letters=letters, image="{image}")


def _queries(trials: Sequence[Any]) -> np.ndarray:
    return np.array([int(t.meta.get("query_id", -1)) for t in trials], dtype=np.int64)


def _zero_shot(adapter: Adapter, trials: Sequence[Any]) -> list[Outcome]:
    probs = adapter.zero_shot([t.image for t in trials], [list(t.prompts) for t in trials])
    return [Outcome(int(np.argmax(p)), json.dumps([round(float(v), 6) for v in p]), "argmax") for p in probs]


def _generative(adapter: Adapter, trials: Sequence[Any], *, template: str = DEFAULT_TEMPLATE,
                max_new_tokens: int = 16) -> list[Outcome]:
    questions = [format_question(t, template) for t in trials]
    texts = adapter.generate([t.image for t in trials], questions, max_new_tokens=int(max_new_tokens))
    out = []
    for t, text, prompt in zip(trials, texts, adapter.prompts(questions)):
        p = parse_answer(text, t.choices)
        if p.index < 0:  # counted wrong; logged so that a parser gap is visible, not silent
            log.info("unparseable answer %r to %r (choices %s)", text, t.question, list(t.choices))
        out.append(Outcome(p.index, text, p.rule, prompt))
    return out


def _choice_likelihood(adapter: Adapter, trials: Sequence[Any], *, template: str = DEFAULT_TEMPLATE,
                       reduce: str = "mean") -> list[Outcome]:
    """The choice whose tokens the model finds most likely after the prompt (no generation, no parsing).

    ``reduce="mean"`` ranks by the mean log-probability per choice token, ``"sum"`` by the joint log-probability
    (favours short choices). Ties go to the first choice (numpy's argmax).
    """
    if reduce not in ("mean", "sum"):
        raise ValueError(f"reduce={reduce!r}: expected 'mean' or 'sum'")
    questions = [format_question(t, template) for t in trials]
    scores = adapter.score_choices([t.image for t in trials], questions, [list(t.choices) for t in trials],
                                   reduce=reduce)
    return [Outcome(int(np.argmax(s)), json.dumps([round(float(v), 5) for v in s]), f"loglik-{reduce}", p)
            for s, p in zip(scores, adapter.prompts(questions))]


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
           folds: int = 5, C: float = 1.0, seed: int = 0, batch_size: int = 32) -> list[Outcome | None]:
    """Out-of-fold predictions of a standardised L2 logistic regression on frozen features (Alain & Bengio 2016).

    The probe reads out the *answer* (the correct choice's text), not its index: a block may mix questions whose
    choices differ (``scenes``: colour questions with three choices, yes/no questions), where the same index
    means different things. Each trial's prediction is the most probable of its own choices. Where every trial
    has the same choices this is the classic probe on label indices (same classes, same folds). Trials whose
    answer occurs only once in the block cannot be cross-validated: they come back as ``None`` (left out and
    reported by the harness); with fewer than two answers left the block raises :class:`TooFewTrials`.
    """
    from collections import Counter

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    answers = [str(t.choices[t.label]) for t in trials]
    counts = Counter(answers)
    keep = [i for i, a in enumerate(answers) if counts[a] >= 2]
    kept = Counter(answers[i] for i in keep)
    if len(kept) < 2:
        raise TooFewTrials(f"a linear probe needs >= 2 trials of each of >= 2 answers; got answer counts "
                           f"{dict(sorted(counts.items()))}")
    x = probe_features(adapter, [trials[i] for i in keep], layer=layer, step=step, batch_size=batch_size)
    y = np.array([answers[i] for i in keep])
    k = int(min(folds, min(kept.values())))
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=float(C), max_iter=2000))
    proba = cross_val_predict(clf, x, y, cv=StratifiedKFold(k, shuffle=True, random_state=int(seed)),
                              method="predict_proba")  # (n_kept, n_answers), columns in sorted answer order
    classes = sorted(kept)
    out: list[Outcome | None] = [None] * len(trials)
    for i, pr in zip(keep, proba):
        own = [float(pr[classes.index(c)]) if c in kept else 0.0 for c in trials[i].choices]  # its choices only
        out[i] = Outcome(int(np.argmax(own)), json.dumps([round(v, 5) for v in own]), "cv-argmax")
    return out


METHODS: dict[str, Method] = {
    "zero-shot": Method("zero-shot", _zero_shot, True, {},
                        "image vs the trial's prompts (one per choice), argmax of the probabilities"),
    "generative": Method("generative", _generative, True, {"template": DEFAULT_TEMPLATE, "max_new_tokens": 16},
                         "question + choices, greedy decoding, answer parsed to a choice"),
    "choice-likelihood": Method("choice-likelihood", _choice_likelihood, True,
                                {"template": DEFAULT_TEMPLATE, "reduce": "mean"},
                                "log-probability of each choice's tokens after the prompt (mean per token, or sum), "
                                "argmax; no generation, no parsing"),
    "supervised": Method("supervised", _supervised, True, {"steps": None},
                         "a trained net's readout, argmax of the logits (steps: recurrent iterations at test time)"),
    "probe": Method("probe", _probe, False, {"layer": None, "step": None, "folds": 5, "C": 1.0, "seed": 0},
                    "logistic regression on frozen features reading out the answer, cross-validated per family x level"),
}


def register_method(method: Method) -> None:
    """Add a method (its name must be new)."""
    if method.name in METHODS:
        raise ValueError(f"method {method.name!r} is already registered")
    METHODS[method.name] = method


def resolve_method(name: str, adapter: Adapter) -> Method:
    """``auto`` -> the model kind's default; otherwise check the kind declares ``name``."""
    if name == "auto":
        name = adapter.auto_method
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; expected auto or one of: {', '.join(METHODS)}")
    if adapter.methods and name not in adapter.methods:
        raise ValueError(f"model {adapter.name!r} ({adapter.kind}) does not support method {name!r}; "
                         f"expected one of: {', '.join(adapter.methods)}")
    return METHODS[name]
