"""One validation layer: config files and run records become typed, checked objects before any work or write.

Every entry point (the CLI and the public Python API alike) builds its settings through this module, with
pydantic (v2) underneath:

* config dataclasses call :func:`check_types` first in their ``__post_init__``: every field is checked (and
  coerced: ``"1e-3"`` from YAML becomes 0.001, a list a tuple) against its annotation before the class's own range
  checks run, so ``TrainConfig(lr="abc")`` and ``lr: abc`` in a study file fail alike;
* files are read with :func:`read_yaml` / :func:`read_json` (a syntax error names its line and column) and turned
  into objects with :func:`from_mapping` (an unknown key lists the allowed ones);
* records this package wrote (``run.json``, a checkpoint's ``state.json``, a stimulus set's ``config.json``) are
  checked with :func:`read_record` against the ``TypedDict`` s below.

A failure is a :class:`ConfigError` (a ``ValueError``) whose one-line message names the file, the key, the value and
what was expected — ``study.yaml: lr='abc': expected a number`` — which the CLI prints before exiting with code 2.
Imports neither torch nor any room of ours besides the stimuli room's ``ParamError``.

Example
-------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Budget:
...     steps: int = 10  # optimiser steps
...     def __post_init__(self) -> None:
...         check_types(self)
>>> from_mapping(Budget, {"steps": "abc"}, source="b.yaml")
Traceback (most recent call last):
...
preattentive.config_schema.ConfigError: b.yaml: steps='abc': expected an integer
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import types
import typing
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Collection, Mapping, TypeVar

import yaml
from pydantic import AfterValidator, ConfigDict, PydanticUserError, TypeAdapter, ValidationError
from typing_extensions import NotRequired, TypedDict

from preattentive.stimuli.base import ParamError

T = TypeVar("T")

# Stimulus generators seed each item from the low 32 bits of the seed (stimuli.base.rng_for), so a larger or a
# negative seed would silently give another seed's trials; a seed is an integer in [0, 2**32 - 1].
SEED_MAX = 2**32 - 1


class ConfigError(ParamError):
    """A setting, config file or record that does not parse or check; ``str(e)`` is one line.

    ``key`` is the top-level setting at fault when known (the CLI uses it to tell a flag from a file's key).
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def _seed(v: int) -> int:
    if not 0 <= v <= SEED_MAX:
        raise ValueError(f"expected an integer in [0, {SEED_MAX}] (stimuli use 32-bit seeds)")
    return v


def _non_negative(v: int) -> int:
    if v < 0:
        raise ValueError("expected an integer >= 0")
    return v


def _relative_name(v: str) -> str:
    p = PurePosixPath(v)
    if not v or p.is_absolute() or ".." in p.parts or "\\" in v:
        raise ValueError("expected a path inside the run folder (relative, without '..')")
    return v


Seed = Annotated[int, AfterValidator(_seed)]  # a generator / initialisation seed
NonNegativeInt = Annotated[int, AfterValidator(_non_negative)]
RunPath = Annotated[str, AfterValidator(_relative_name)]  # a path a record names inside its own folder

_CONFIG = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

# pydantic error type -> what was expected, in words
_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer (no fractional part)",
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "string_type": "a string", "bool_type": "true or false", "bool_parsing": "true or false",
    "tuple_type": "a list", "list_type": "a list", "iterable_type": "a list", "set_type": "a list",
    "dict_type": "a mapping (key: value)", "mapping_type": "a mapping (key: value)", "none_required": "null",
}


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe_error(err: Mapping[str, Any], prefix: tuple[Any, ...] = ()) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) as ``key=value: expected ...``."""
    kind, msg, ctx = err["type"], str(err["msg"]), err.get("ctx") or {}
    loc = _loc((*prefix, *err["loc"]))
    value = err.get("input")
    if kind in ("value_error", "assertion_error"):
        text = msg.split(", ", 1)[1] if msg.startswith(("Value error, ", "Assertion failed, ")) else msg
        return f"{loc}={_short(value)}: {text}" if text.startswith("expected") and loc else (
            f"{loc}: {text}" if loc and not text.startswith(loc.split(".")[-1]) else text)
    if kind in ("missing", "missing_argument"):
        return f"{loc} is required"
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        parent, key = _loc((*prefix, *err["loc"][:-1])), err["loc"][-1]
        return f"{parent}: unknown key {key!r}" if parent else f"unknown key {key!r}"
    if kind == "dataclass_type":
        words = f"a mapping of {ctx.get('class_name', 'settings')} settings"
    elif kind == "literal_error":
        words = f"one of {ctx.get('expected')}"
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        words = f"{op} {next(iter(ctx.values()))}"
    else:
        words = _EXPECTED.get(kind) or msg.removeprefix("Input should be ").removeprefix("Input ")
    return f"{loc}={_short(value)}: expected {words}" if loc else f"{_short(value)}: expected {words}"


def _adapter(hint: Any) -> TypeAdapter:
    try:
        return TypeAdapter(hint, config=_CONFIG)
    except PydanticUserError:  # a dataclass / TypedDict itself: it carries its own config
        return TypeAdapter(hint)


def _accepts(hint: Any, kind: type) -> bool:
    """Whether a value of ``kind`` (bool, str) is a valid choice of ``hint`` itself (through unions, Annotated)."""
    if hint is kind or (kind is bool and hint is Any):
        return True
    origin = typing.get_origin(hint)
    if origin is Annotated:
        return _accepts(typing.get_args(hint)[0], kind)
    return origin in (typing.Union, types.UnionType) and any(_accepts(a, kind) for a in typing.get_args(hint))


@functools.cache
def _field_checks(cls: type) -> tuple[tuple[str, TypeAdapter, str | None, bool], ...]:
    """Per field: its adapter, the words for "not true/false" (None when a bool is fine), whether it wants a str."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        out.append((f.name, _adapter(hint), None if _accepts(hint, bool) else _kind_words(hint), _accepts(hint, str)))
    return tuple(out)


def _kind_words(hint: Any) -> str:
    """What a field holds, for the "not true/false" message."""
    text = str(hint)
    return ("an integer" if "int" in text and "float" not in text else "a number" if "float" in text or "int" in text
            else "a string" if "str" in text else "a value")


def check_types(obj: Any) -> None:
    """Check (and coerce, in place) every field of dataclass ``obj`` against its annotation; raise ConfigError.

    Call it first in a config dataclass's ``__post_init__``. A bool is refused where the field wants a number
    (``steps: true``), a ``Path`` is accepted where it wants a string.

    Example
    -------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Rate:
    ...     lr: float = 1e-3
    ...     def __post_init__(self) -> None:
    ...         check_types(self)
    >>> Rate(lr="2e-3").lr
    0.002
    """
    for name, adapter, not_bool, str_ok in _field_checks(type(obj)):
        value = getattr(obj, name)
        if isinstance(value, bool) and not_bool:
            raise ConfigError(f"{name}={value!r}: expected {not_bool}, not true/false", key=name)
        if str_ok and isinstance(value, os.PathLike):
            value = os.fspath(value)
        try:
            new = adapter.validate_python(value)
        except ValidationError as e:
            raise ConfigError(describe_error(e.errors()[0], (name,)), key=name) from None
        if new is not getattr(obj, name):
            object.__setattr__(obj, name, new)


def check_value(hint: Any, value: Any, name: str) -> Any:
    """``value`` checked and coerced against the type ``hint`` (e.g. :data:`Seed`); raise ConfigError naming ``name``.

    Example
    -------
    >>> check_value(Seed, 7, "seed")
    7
    """
    if isinstance(value, bool) and not _accepts(hint, bool):
        raise ConfigError(f"{name}={value!r}: expected {_kind_words(hint)}, not true/false", key=name)
    try:
        return _adapter(hint).validate_python(value)
    except ValidationError as e:
        raise ConfigError(describe_error(e.errors()[0], (name,)), key=name) from None


# --------------------------------------------------------------------------------------------- files
def _where(source: Any) -> str:
    return f"{source}: " if source else ""


def read_yaml(path: str | os.PathLike, *, what: str = "config") -> dict[str, Any]:
    """The mapping in YAML file ``path`` (``safe_load``; an empty file is ``{}``); raise ConfigError otherwise.

    Example
    -------
    >>> read_yaml("/no/such.yaml")
    Traceback (most recent call last):
    ...
    preattentive.config_schema.ConfigError: /no/such.yaml: the config file does not exist
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: the {what} file does not exist" + (" (it is a directory)" if p.is_dir() else ""))
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{p}: not valid YAML{at} ({problem})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a text file; expected a YAML {what}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of {what} settings (key: value), got a YAML "
                          f"{type(data).__name__}")
    return data


def read_json(path: str | os.PathLike, *, what: str = "record") -> dict[str, Any]:
    """The JSON object in file ``path``; raise ConfigError (naming the file, line and column) otherwise."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: the {what} does not exist")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{p}: not valid JSON at line {e.lineno} column {e.colno} ({e.msg}); expected the "
                          f"{what}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a text file; expected the {what} (JSON)") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a JSON object (the {what}), got a JSON {type(data).__name__}")
    return data


_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[|\.|=|: | is )")


def _error_key(e: BaseException) -> str | None:
    key = getattr(e, "key", None)
    if key:
        return key
    m = _KEY.match(str(e))
    return m.group(1) if m else None


def from_mapping(cls: type[T], data: Any, *, source: Any = None, overrides: Collection[str] = (),
                 what: str | None = None) -> T:
    """Build config dataclass ``cls`` from ``data`` (a parsed file plus command-line ``overrides``); one-line errors.

    An error in a key that came from ``overrides`` is reported without the file's name (it is not in the file).

    Example
    -------
    >>> from preattentive.training.config import TrainConfig
    >>> from_mapping(TrainConfig, {"model": "cnn-30k", "task": "maze", "steps": 5, "bogus": 1}, source="x.yaml")
    Traceback (most recent call last):
    ...
    preattentive.config_schema.ConfigError: x.yaml: unknown TrainConfig option 'bogus'; expected one of: batch_size, ...
    """
    what = what or cls.__name__
    src = _where(source)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{src}expected a mapping of {what} settings (key: value), got {type(data).__name__}")
    fields = [f for f in dataclasses.fields(cls) if f.init]
    names = sorted(f.name for f in fields)
    unknown = sorted(str(k) for k in data if k not in names)
    if unknown:
        shown = ", ".join(names) if len(names) <= 40 else ", ".join(names[:40]) + ", ..."
        raise ConfigError(f"{src}unknown {what} option {unknown[0]!r}; expected one of: {shown}", key=unknown[0])
    missing = [f.name for f in fields if f.name not in data and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{src}{missing[0]!r} is required (a {what} setting)", key=missing[0])
    try:
        return cls(**data)
    except (ValueError, TypeError) as e:  # ConfigError / ParamError from the checks, TypeError from odd input
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        key = _error_key(e)
        if src and key is not None and key in overrides:
            src = ""
        raise ConfigError(f"{src}{text}", key=key) from None


def load_config(cls: type[T], path: str | os.PathLike, *, overrides: Mapping[str, Any] | None = None,
                what: str = "config") -> T:
    """``from_mapping(cls, read_yaml(path) | overrides)``: a config dataclass from a YAML file and flags."""
    data = read_yaml(path, what=what)
    return from_mapping(cls, {**data, **dict(overrides or {})}, source=path, overrides=tuple(overrides or ()))


# --------------------------------------------------------------------------------------------- records
class RunRecord(TypedDict, total=False):
    """``run.json`` of a run directory (``training.runs`` / ``training.vlm_runs`` write it)."""

    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]
    kind: str  # "supervised" | "clip" | "llava" | a kind registered with the evaluation room
    model_dir: RunPath  # the weights' folder inside the run
    status: str  # "running" | "done"
    config: dict[str, Any]  # the resolved training config
    task: dict[str, Any]
    steps: int
    elapsed: dict[str, float]
    n_params: int


class OptimizerState(TypedDict):
    param_groups: list[dict[str, Any]]  # AdamW's groups (lr, betas, ...; "params" are indices)
    scalars: dict[str, dict[str, Any]]  # per-parameter non-tensor state ("step" counts ...)


class CheckpointState(TypedDict):
    """``state.json`` of a checkpoint step directory (``training.checkpoint`` writes it)."""

    step: NonNegativeInt  # optimiser steps done
    elapsed: dict[str, float]  # seconds per clock before this checkpoint
    optimizer: OptimizerState
    extra: dict[str, Any]


class SetRecord(TypedDict):
    """``config.json`` of a stimulus set (``datasets.parquet`` writes it)."""

    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]
    family: str  # registry id with version
    seed: int
    n: int  # items in the whole set
    chunk_size: int
    n_chunks: int
    params: dict[str, Any]  # the resolved family parameters (size included)
    complete: NotRequired[bool]
    chunks_present: NotRequired[int]


def read_record(path: str | os.PathLike, record: type, *, what: str) -> dict[str, Any]:
    """The JSON object at ``path`` checked against ``record`` (a TypedDict above); one-line ConfigError otherwise.

    Example
    -------
    >>> read_record("/no/run/run.json", RunRecord, what="run record")
    Traceback (most recent call last):
    ...
    preattentive.config_schema.ConfigError: /no/run/run.json: the run record does not exist
    """
    data = read_json(path, what=what)
    try:
        return _record_adapter(record).validate_python(data)
    except ValidationError as e:
        raise ConfigError(f"{path}: {describe_error(e.errors()[0])}") from None


@functools.cache
def _record_adapter(record: type) -> TypeAdapter:
    return TypeAdapter(record)


__all__ = ["CheckpointState", "ConfigError", "RunPath", "RunRecord", "SEED_MAX", "Seed", "SetRecord", "check_types",
           "check_value", "describe_error", "from_mapping", "load_config", "read_json", "read_record", "read_yaml"]
