"""The experiment's design: conditions, the suite's trials, counterbalanced lists in seeded order, practice trials.

A human experiment shows the *same* trials a model is evaluated on: it expands an evaluation suite with
:meth:`~preattentive.evaluation.suites.Suite.blocks`, so every trial carries the harness's ``trial_key`` and human rows
pair with model rows trial by trial. Each presentation condition (``masked-50``: 50 ms then a backward mask;
``unlimited``: the image stays until the answer) is a column of a Latin square: list ``L`` shows trial ``r`` of block
``b`` (one family x level; trials ranked by (label, index)) in condition ``(r + L + b) mod D``. So within one list every condition
gets the same number of trials per (family, level), with labels as even as the block allows, and across ``D`` lists
every trial is seen once in every condition (no participant sees an image twice). Within a list the order is a
seeded shuffle; a list is fixed at export time, so the browser and the simulated observer run identical sequences.

Example
-------
>>> conds = parse_conditions("50,100,unlimited")
>>> [c.name for c in conds]
['masked-50', 'masked-100', 'unlimited']
>>> plan = plan_experiment("quick", n=2, conditions="50,unlimited", families=["maze"])  # doctest: +SKIP
>>> len(plan.lists), len(plan.lists[0])  # doctest: +SKIP
(2, 4)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from preattentive.evaluation.suites import Block, Suite, load_suite

MASKS = ("pattern", "noise")
MAX_CHOICES = 10  # response keys 1..9 and 0 (the tenth choice)
MAX_DURATION_MS = 10_000.0  # a "brief" presentation longer than 10 s is a typo; use `unlimited`


class DesignError(ValueError):
    """A design that cannot be built (one-line message naming the bad value and what was expected)."""


@dataclass(frozen=True)
class Condition:
    """One presentation condition: ``duration_ms`` of stimulus then the mask, or ``None`` = until the answer."""

    name: str  # "masked-<ms>" | "unlimited": the `method` column of the human result rows
    duration_ms: float | None  # requested stimulus duration, ms (shown as whole display frames); None = unlimited

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "duration_ms": self.duration_ms}


def parse_conditions(text: str | list[str] | tuple[str, ...]) -> tuple[Condition, ...]:
    """``"50,100,unlimited"`` -> conditions, in the order given.

    Example
    -------
    >>> parse_conditions("33.3,unlimited")[0]
    Condition(name='masked-33.3', duration_ms=33.3)
    """
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if str(s).strip()]
    if not items:
        raise DesignError(f"durations {text!r}: expected a comma-separated list of ms values and/or 'unlimited'")
    out: list[Condition] = []
    for s in items:
        if s.lower() in ("unlimited", "inf", "none"):
            c = Condition("unlimited", None)
        else:
            try:
                ms = float(s)
            except ValueError:
                raise DesignError(f"duration {s!r}: expected a number of ms (e.g. 50) or 'unlimited'") from None
            if not 1.0 <= ms <= MAX_DURATION_MS:
                raise DesignError(f"duration {s!r} ms is out of range: expected 1 to {MAX_DURATION_MS:g} ms "
                                  f"or 'unlimited'")
            c = Condition(f"masked-{ms:g}", ms)
        if any(o.name == c.name for o in out):
            raise DesignError(f"duration {s!r} is listed twice; expected each condition once")
        out.append(c)
    return tuple(out)


@dataclass(frozen=True)
class TrialSpec:
    """What the page and the simulated observer need of one trial (regenerable from family, params, seed, index)."""

    key: str  # the evaluation harness's trial_key: family/<params hash>/s<seed>/<index>
    family: str
    params: str  # JSON of the generator parameters (the block's params_json)
    level: int  # ladder rung; -1 = the family has none
    seed: int
    index: int
    trial_id: str
    question: str
    choices: tuple[str, ...]
    label: int
    difficulty: str  # JSON of the trial's difficulty values
    image: str  # id of the image in the page (sha1 of its PNG bytes, 16 hex digits)
    mask: str  # id of the mask image shown after it ("" for none)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "family": self.family, "params": self.params, "level": self.level,
                "seed": self.seed, "index": self.index, "trial_id": self.trial_id, "question": self.question,
                "choices": list(self.choices), "label": self.label, "answer": self.choices[self.label],
                "difficulty": self.difficulty, "image": self.image, "mask": self.mask}


@dataclass(frozen=True)
class Design:
    """The resolved options of an experiment (what ``experiment.json`` records; units in the comments)."""

    suite: str  # suite name or path as given
    n: int | None  # trials per (family, level); None = the suite's own
    families: tuple[str, ...] | None  # only these families (None = the suite's)
    conditions: tuple[Condition, ...]
    mask: str = "pattern"  # "pattern": tiles of the same family's images; "noise": pixels of the family's colours
    mask_ms: float = 100.0  # backward-mask duration, ms (then a blank screen with the question)
    fixation_ms: float = 500.0  # fixation cross before the stimulus, ms
    display_px: int = 256  # side of the shown image, CSS px (the 64 px stimulus is magnified, nearest neighbour)
    practice: int = 6  # practice trials with feedback (easiest level, indices after the test trials)
    break_every: int = 40  # a self-paced break after this many test trials (0 = none)
    lists: int | None = None  # counterbalanced lists; None = one per condition (a complete Latin square)
    seed: int = 0  # order seed: list L's order is a shuffle by rng([seed, L])
    mask_pool: int = 8  # distinct masks per task (family + parameters), drawn per trial

    def __post_init__(self) -> None:
        if self.mask not in MASKS:
            raise DesignError(f"mask {self.mask!r}: expected one of {', '.join(MASKS)}")
        for name, v, lo, hi in (("mask_ms", self.mask_ms, 1, 5000), ("fixation_ms", self.fixation_ms, 1, 5000),
                                ("display_px", self.display_px, 32, 2048), ("practice", self.practice, 0, 200),
                                ("break_every", self.break_every, 0, 100_000), ("mask_pool", self.mask_pool, 1, 256)):
            if isinstance(v, bool) or not lo <= v <= hi:
                raise DesignError(f"{name}={v!r} is out of range: expected {lo} to {hi}")
        if self.lists is not None and not 1 <= self.lists <= 1000:
            raise DesignError(f"lists={self.lists!r} is out of range: expected 1 to 1000")
        if self.n is not None and self.n < 1:
            raise DesignError(f"n={self.n}: expected >= 1")

    @property
    def n_lists(self) -> int:
        return self.lists if self.lists is not None else len(self.conditions)

    def to_dict(self) -> dict[str, Any]:
        return {"suite": self.suite, "n": self.n, "families": list(self.families) if self.families else None,
                "conditions": [c.to_dict() for c in self.conditions], "mask": self.mask, "mask_ms": self.mask_ms,
                "fixation_ms": self.fixation_ms, "display_px": self.display_px, "practice": self.practice,
                "break_every": self.break_every, "lists": self.n_lists, "seed": self.seed,
                "mask_pool": self.mask_pool}


@dataclass
class Plan:
    """Blocks of the suite, the lists (each a sequence of (trial_key, condition name)) and the practice trials."""

    design: Design
    suite: Suite
    blocks: list[Block]
    lists: list[list[tuple[str, str]]]  # list L -> [(trial_key, condition name), ...] in presentation order
    practice: list[tuple[Block, int, str]]  # (block, trial index, condition name), in order
    balance: list[dict[str, Any]] = field(default_factory=list)  # per list x condition x block: n and label counts


def assign_conditions(labels: list[int], n_conditions: int, rotation: int) -> list[int]:
    """Condition index per trial of one block: rank trials by (label, index), condition = (rank + rotation) % D.

    Example
    -------
    >>> assign_conditions([0, 1, 0, 1], 2, 0)
    [0, 0, 1, 1]
    >>> assign_conditions([0, 1, 0, 1], 2, 1)
    [1, 1, 0, 0]
    """
    order = sorted(range(len(labels)), key=lambda i: (labels[i], i))
    out = [0] * len(labels)
    for rank, i in enumerate(order):
        out[i] = (rank + rotation) % n_conditions
    return out


def plan_experiment(suite: str | Suite, *, n: int | None = None, conditions: str | tuple[Condition, ...] = "50,unlimited",
                    families: list[str] | None = None, **options: Any) -> Plan:
    """Expand a suite into counterbalanced lists of (trial, condition) for a human experiment.

    Parameters
    ----------
    suite : a suite name (``core``, ``quick``, ``serial``), a YAML path, or a :class:`Suite`.
    n : trials per (family, level); must be a multiple of the number of conditions (each condition gets the same
        trials per level in every list).
    conditions : ``"50,100,unlimited"`` or parsed :class:`Condition` s.
    families : keep only these family ids.
    options : the remaining :class:`Design` fields (mask, mask_ms, fixation_ms, practice, lists, seed, ...).

    Example
    -------
    >>> plan = plan_experiment("quick", n=2, conditions="50,unlimited", families=["maze"], practice=2)
    >>> sorted({c for _, c in plan.lists[0]})
    ['masked-50', 'unlimited']
    """
    conds = parse_conditions(conditions) if isinstance(conditions, (str, list)) else tuple(conditions)
    s = suite if isinstance(suite, Suite) else load_suite(suite)
    design = Design(suite=s.name if isinstance(suite, Suite) else str(suite), n=n,
                    families=tuple(families) if families else None, conditions=conds, **options)
    blocks = s.blocks(n, families=list(families) if families else None)
    if not blocks:
        raise DesignError(f"suite {s.name!r} has no trials for families {families}")
    d = len(conds)
    labels: dict[int, list[int]] = {}
    for bi, b in enumerate(blocks):
        if b.n % d:
            raise DesignError(f"{b.family} level {b.level}: {b.n} trials with {d} conditions; expected a multiple of "
                              f"{d} so every condition gets the same trials per level (set --n)")
        gen = b.generator()
        trials = [gen.trial(i) for i in range(b.n)]
        labels[bi] = [t.label for t in trials]  # the trials' own labels (a family may map its label rule further)
        n_choices = max(len(t.choices) for t in trials)
        if n_choices > MAX_CHOICES:
            raise DesignError(f"{b.family}: {n_choices} answer choices; expected at most {MAX_CHOICES} (keys 1-9, 0)")
    lists, balance = [], []
    for L in range(design.n_lists):
        rows: list[tuple[str, str]] = []
        for bi, b in enumerate(blocks):
            cond = assign_conditions(labels[bi], d, (L + bi) % d)  # + bi: small blocks alternate label pairings
            rows += [(b.trial_key(i), conds[cond[i]].name) for i in range(b.n)]
            for c in range(d):
                got = [labels[bi][i] for i in range(b.n) if cond[i] == c]
                balance.append({"list": L, "condition": conds[c].name, "family": b.family, "level": b.level,
                                "params": b.params_json, "n": len(got),
                                "labels": json.dumps({str(k): got.count(k) for k in sorted(set(got))})})
        order = np.random.default_rng([int(design.seed), L, 0x0DE7]).permutation(len(rows))
        lists.append([rows[i] for i in order])
    return Plan(design, s, blocks, lists, _practice(blocks, conds, design.practice), balance)


def _practice(blocks: list[Block], conds: tuple[Condition, ...], k: int) -> list[tuple[Block, int, str]]:
    """``k`` practice trials: each family's easiest block in turn, trial indices after the test range (never a test
    image), conditions from the longest viewing to the briefest, so the task is learnt before it is made hard."""
    easiest: dict[str, Block] = {}
    for b in blocks:
        if b.family not in easiest or (b.level or 0) < (easiest[b.family].level or 0):
            easiest[b.family] = b
    fams = list(easiest.values())
    by_time = sorted(conds, key=lambda c: -(c.duration_ms if c.duration_ms is not None else float("inf")))
    out = []
    for j in range(k):
        b = fams[j % len(fams)]
        out.append((b, b.n + j // len(fams), by_time[min(len(by_time) - 1, j * len(by_time) // max(k, 1))].name))
    return out


__all__ = ["Condition", "Design", "DesignError", "MASKS", "Plan", "TrialSpec", "assign_conditions",
           "parse_conditions", "plan_experiment"]
