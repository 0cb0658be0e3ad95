"""Trial and stimulus-set records, parameter validation, and the protocol every stimulus family follows.

A family is a subclass of :class:`StimulusFamily` with a frozen :class:`Params` dataclass and a ``_make``
method that draws one trial for a requested label from a numpy ``Generator``. The base class owns
everything that must be identical across families: per-item seeding (item ``i`` depends only on
``(seed, i)``), balanced labels, difficulty-ladder rungs, and the checks on the returned record.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator, Mapping, Sequence

import numpy as np

MIN_SIZE, MAX_SIZE = 16, 1024  # image side in px; families may narrow this (e.g. a 33x33 maze needs >= 136 px)


class ParamError(ValueError):
    """A bad parameter value. The message names the value and what was expected, on one line."""


# --------------------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class Trial:
    """One stimulus with its label, question, answer choices, CLIP prompts, difficulty and checker metadata."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    label: int  # index into `choices`
    question: str  # a natural question a VLM can be asked
    choices: tuple[str, ...]  # answer options; `choices[label]` is the answer
    prompts: tuple[str, ...]  # one CLIP prompt per choice, same order
    difficulty: dict[str, Any]  # the difficulty values of this trial (JSON scalars)
    meta: dict[str, Any]  # what an independent checker needs; numpy arrays allowed (see `meta_to_json`)
    family: str = ""  # registry id, e.g. "maze-v1"; filled in by StimulusFamily.trial
    seed: int = 0
    index: int = 0

    @property
    def answer(self) -> str:
        return self.choices[self.label]

    @property
    def id(self) -> str:
        return f"{self.family}/s{self.seed}/{self.index:08d}"


@dataclass
class StimulusSet:
    """A list of trials with the resolved config that produced them."""

    trials: list[Trial]
    config: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.trials)

    def __getitem__(self, i: int) -> Trial:
        return self.trials[i]

    def __iter__(self) -> Iterator[Trial]:
        return iter(self.trials)

    @property
    def images(self) -> np.ndarray:  # (N, H, W, 3) uint8
        return np.stack([t.image for t in self.trials])

    @property
    def labels(self) -> np.ndarray:  # (N,) int64
        return np.array([t.label for t in self.trials], dtype=np.int64)


# --------------------------------------------------------------------------------------------- meta <-> JSON
def meta_to_json(meta: Mapping[str, Any]) -> str:
    """Serialise trial metadata to a JSON string; numpy arrays become ``{"__ndarray__": ...}`` objects.

    Boolean arrays (masks) are bit-packed, others stored raw; both base64. Keys are sorted so the same
    metadata always gives the same bytes.
    """

    def enc(o: Any) -> Any:  # called by json only for what it cannot write itself (arrays, numpy scalars)
        if isinstance(o, np.ndarray):
            if o.dtype == bool:
                data, kind = np.packbits(o, axis=None).tobytes(), "packbits"
            else:
                data, kind = np.ascontiguousarray(o).tobytes(), "raw"
            return {"__ndarray__": base64.b64encode(data).decode("ascii"), "dtype": str(o.dtype),
                    "shape": list(o.shape), "encoding": kind}
        if isinstance(o, np.generic):
            return o.item()
        raise TypeError(f"meta value of type {type(o).__name__} is not JSON serialisable")

    # json's C encoder walks the lists and dicts (a maze path of 400 cells is 800 numbers; a Python walk of them
    # took longer than the PNG); np.float64 is a float, written as its repr, as .item() would give.
    return json.dumps(dict(meta), sort_keys=True, separators=(",", ":"), default=enc)


def meta_from_json(text: str) -> dict[str, Any]:
    """Inverse of :func:`meta_to_json`: arrays come back as numpy arrays."""

    def dec(o: Any) -> Any:
        if isinstance(o, dict):
            if "__ndarray__" in o:
                raw = base64.b64decode(o["__ndarray__"])
                shape = tuple(o["shape"])
                if o["encoding"] == "packbits":
                    n = int(np.prod(shape))
                    return np.unpackbits(np.frombuffer(raw, np.uint8), count=n).astype(bool).reshape(shape)
                return np.frombuffer(raw, dtype=np.dtype(o["dtype"])).reshape(shape).copy()
            return {k: dec(v) for k, v in o.items()}
        if isinstance(o, list):
            return [dec(v) for v in o]
        return o

    return dec(json.loads(text))


# --------------------------------------------------------------------------------------------- params
def _coerce(value: Any, annotation: Any, name: str) -> Any:
    """Coerce a CLI string (``--param key=value``) to the field's annotated type."""
    if not isinstance(value, str):
        return value
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        if value.lower() in ("none", "null", ""):
            return None
        for a in args:
            try:
                return _coerce(value, a, name)
            except ParamError:
                continue
        raise ParamError(f"parameter {name}={value!r}: expected {annotation}")
    if origin is typing.Literal:
        return value
    if origin in (tuple, list):
        inner = args[0] if args else str
        return tuple(_coerce(v.strip(), inner, name) for v in value.split(",") if v.strip())
    try:
        if annotation is bool:
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if annotation is int:
            return int(value)
        if annotation is float:
            return float(value)
    except ValueError:
        raise ParamError(f"parameter {name}={value!r}: expected {getattr(annotation, '__name__', annotation)}") from None
    return value


@dataclass(frozen=True)
class Params:
    """Parameters every family shares. Subclasses add their own fields, each with a comment and units."""

    size: int = 64  # image side, px (square images)
    level: int | None = None  # difficulty-ladder rung (0 = easiest); overrides the ladder's fields
    mix_levels: bool = False  # True: trial i uses rung (i // n_classes) % n_rungs, for mixed-difficulty sets

    def __post_init__(self) -> None:
        check_range("size", self.size, MIN_SIZE, MAX_SIZE)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}


def check_range(name: str, value: Any, lo: float | None = None, hi: float | None = None) -> None:
    """Raise :class:`ParamError` unless ``lo <= value <= hi`` (either bound may be None)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParamError(f"{name}={value!r}: expected a number in [{lo}, {hi}]")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
        raise ParamError(f"{name}={value!r} is out of range: expected {rng}")


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> None:
    """Raise :class:`ParamError` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ParamError(f"{name}={value!r}: expected one of {', '.join(map(str, allowed))}")


# --------------------------------------------------------------------------------------------- families
def rng_for(seed: int, index: int) -> np.random.Generator:
    """The generator for item ``index`` of a set with ``seed``: depends on nothing else."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(index) & 0xFFFFFFFFFFFF, 0x5EED])


class StimulusFamily:
    """Base class of a stimulus family. Subclasses set the class attributes and implement ``_make``.

    Class attributes
    ----------------
    id : registry id with version, e.g. ``"maze-v1"`` (bump the version when output bytes change).
    citation : the paper(s) the design follows.
    ParamsType : the frozen dataclass of parameters (a subclass of :class:`Params`).
    ladder : difficulty rungs, easiest first; each a dict of parameter overrides.
    difficulty_keys : the parameter names reported in ``Trial.difficulty``.
    n_classes : number of labels; trial ``i`` asks for label ``i % n_classes`` (balanced by construction).
    mask_classes : classes of the dense per-pixel target ``meta["target_mask"]`` (an (H, W) bool or integer map), 0 when
        the family has none; ``maze-path`` marks its route (2).
    group_size : trials ``g*k .. g*k+g-1`` share one random stream, ``rng_for(seed, i // group_size)``, so that
        they can show the same geometry under different labels (border-ownership pairs use 2).
    """

    id: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    ParamsType: ClassVar[type[Params]] = Params
    ladder: ClassVar[tuple[dict[str, Any], ...]] = ()
    difficulty_keys: ClassVar[tuple[str, ...]] = ()
    n_classes: ClassVar[int] = 2
    mask_classes: ClassVar[int] = 0
    group_size: ClassVar[int] = 1

    def __init__(self, params: Params | None = None, *, seed: int = 0) -> None:
        self.params = params if params is not None else self.ParamsType()
        if not isinstance(self.params, self.ParamsType):
            raise TypeError(f"{self.id} needs {self.ParamsType.__name__}, got {type(self.params).__name__}")
        self.seed = int(seed)
        if self.params.level is not None:
            check_range("level", self.params.level, 0, len(self.ladder) - 1)
        self._rungs = [self._params_for_rung(k) for k in range(len(self.ladder))]

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_kwargs(cls, *, seed: int = 0, **kwargs: Any) -> "StimulusFamily":
        """Build from keyword (or CLI string) parameters, rejecting unknown names with the allowed list."""
        fields = {f.name: f for f in dataclasses.fields(cls.ParamsType)}
        hints = typing.get_type_hints(cls.ParamsType)
        unknown = sorted(set(kwargs) - set(fields))
        if unknown:
            raise ParamError(f"unknown parameter {unknown[0]!r} for {cls.id}; expected one of: {', '.join(fields)}")
        values = {k: _coerce(v, hints[k], k) for k, v in kwargs.items()}
        level = values.get("level")
        if level is not None:
            check_range("level", level, 0, len(cls.ladder) - 1)
            clash = sorted(set(values) & set(cls.ladder[level]))
            if clash:
                raise ParamError(f"parameter {clash[0]!r} is set both explicitly and by level={level}; give one")
            values = {**cls.ladder[level], **values}
        try:
            params = cls.ParamsType(**values)
        except TypeError as e:  # a wrong type that dataclasses could not take
            raise ParamError(f"{cls.id}: {e}") from None
        return cls(params, seed=seed)

    def _params_for_rung(self, k: int) -> Params:
        return dataclasses.replace(self.params, **self.ladder[k])

    # -- generation ---------------------------------------------------------------------------
    def _make(self, rng: np.random.Generator, label: int, p: Params) -> Trial:
        """Draw one trial whose true label is ``label`` with parameters ``p`` (family, seed, index unset)."""
        raise NotImplementedError

    def label_for(self, index: int) -> int:
        return index % self.n_classes

    def level_for(self, index: int) -> int | None:
        """The ladder rung item ``index`` is drawn at (None when no rung applies)."""
        if self.params.mix_levels and self._rungs:
            return (index // self.n_classes) % len(self._rungs)
        return self.params.level

    def params_for(self, index: int) -> Params:
        level = self.level_for(index)
        if self.params.mix_levels and level is not None:
            return self._rungs[level]
        return self.params

    def trial(self, index: int) -> Trial:
        """Item ``index`` of this set; depends only on (seed, index) and the parameters."""
        if index < 0:
            raise ParamError(f"index={index}: expected >= 0")
        p = self.params_for(index)
        t = self._make(rng_for(self.seed, index // self.group_size), self.label_for(index), p)
        t = dataclasses.replace(t, family=self.id, seed=self.seed, index=index)
        self._check(t, p)
        return t

    def trials(self, n: int, start: int = 0) -> Iterator[Trial]:
        for i in range(start, start + n):
            yield self.trial(i)

    def generate(self, n: int, start: int = 0) -> StimulusSet:
        """Items ``start .. start+n-1`` as a :class:`StimulusSet` with the resolved config."""
        check_range("n", n, 1, None)
        return StimulusSet(list(self.trials(n, start)), self.config())

    def config(self) -> dict[str, Any]:
        from preattentive import __version__

        return {"family": self.id, "seed": self.seed, "params": self.params.to_dict(),
                "ladder": [dict(r) for r in self.ladder], "difficulty_keys": list(self.difficulty_keys),
                "n_classes": self.n_classes, "citation": self.citation, "version": __version__}

    def _check(self, t: Trial, p: Params) -> None:
        img = t.image
        if img.dtype != np.uint8 or img.shape != (p.size, p.size, 3):
            raise AssertionError(f"{self.id}: image {img.dtype}{img.shape}, expected uint8 ({p.size}, {p.size}, 3)")
        if not (0 <= t.label < len(t.choices)) or len(t.prompts) != len(t.choices):
            raise AssertionError(f"{self.id}: label {t.label}, {len(t.choices)} choices, {len(t.prompts)} prompts")

    def describe(self) -> str:
        return (self.__doc__ or "").strip().splitlines()[0] if self.__doc__ else self.id
