"""Evaluation suites: commented YAML files naming families x difficulty levels x trials per level.

A suite file (see ``evaluation/suites/core.yaml``)::

    name: core
    seed: 0          # stimulus seed
    size: 64         # image side, px
    n: 200           # trials per (family, level)
    families:
      - family: "*"  # the newest version of every registered family
        levels: all  # or [0, 2, 4], or [first, last]
        params: {}   # extra family parameters (optional)
        n: 100       # per-entry override (optional)

:func:`load_suite` takes a packaged suite name (``core``, ``quick``, ``serial``) or a path to a YAML file.
:meth:`Suite.blocks` expands it into :class:`Block` s, one per (family, parameters, level).

Example
-------
>>> suite = load_suite("core")
>>> blocks = suite.blocks(n=20)  # doctest: +SKIP
>>> blocks[0].family, blocks[0].level, blocks[0].n  # doctest: +SKIP
('border-ownership-v1', 0, 20)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from preattentive.config_schema import ConfigError, Seed, check_types, from_mapping, read_yaml
from preattentive.stimuli.base import ParamError


class SuiteError(ConfigError):
    """A suite that cannot be found or read (one-line message naming the file, key and value)."""


@dataclass(frozen=True)
class Block:
    """One (family, parameters, level) cell of a suite: trials ``0 .. n-1`` of that generator."""

    family: str  # full registry id, e.g. "maze-v1"
    level: int | None  # ladder rung (None: the family has no ladder)
    n: int  # trials
    seed: int  # stimulus seed
    params: dict[str, Any] = field(default_factory=dict)  # family parameters (level and size included)

    @property
    def params_json(self) -> str:
        return json.dumps(self.params, sort_keys=True, separators=(",", ":"))

    @property
    def condition(self) -> str:
        """Short hash of the generator parameters: part of every trial key, so two blocks never collide."""
        return hashlib.sha1(f"{self.family}|{self.params_json}".encode()).hexdigest()[:8]

    def trial_key(self, index: int) -> str:
        return f"{self.family}/{self.condition}/s{self.seed}/{index:08d}"

    def generator(self):
        """The stimulus generator for this block."""
        from preattentive import stimuli

        return stimuli.make(self.family, seed=self.seed, **self.params)


@dataclass(frozen=True)
class SuiteEntry:
    family: str  # family id or "*" (the newest version of every registered family)
    levels: str | int | tuple[str | int, ...] = "all"  # "all", rung indices, or names "first" / "middle" / "last"
    params: dict[str, Any] = field(default_factory=dict)
    n: int | None = None  # trials per level; None = the suite's n

    def __post_init__(self) -> None:
        check_types(self)
        if self.n is not None and self.n < 1:
            raise SuiteError(f"n={self.n}: expected trials per level >= 1 (family {self.family!r})")


@dataclass(frozen=True)
class Suite:
    """A named list of entries; :meth:`blocks` expands it against the stimulus registry."""

    name: str
    entries: tuple[SuiteEntry, ...]
    seed: Seed = 0  # stimulus seed
    size: int = 64  # image side, px
    n: int = 200  # trials per (family, level)
    description: str = ""

    def __post_init__(self) -> None:
        check_types(self)
        if self.n < 1:
            raise SuiteError(f"n={self.n}: expected trials per (family, level) >= 1")

    def blocks(self, n: int | None = None, *, families: list[str] | None = None) -> list[Block]:
        """Expand into blocks; ``n`` overrides every entry's trial count, ``families`` keeps only those ids."""
        from preattentive import stimuli

        out: list[Block] = []
        for e in self.entries:
            ids = stimuli.latest() if e.family == "*" else [stimuli.REGISTRY.resolve(e.family)]
            for fid in ids:
                if families is not None and fid not in families and fid.rsplit("-v", 1)[0] not in families:
                    continue
                ladder = stimuli.get(fid).ladder
                for level in _levels(e.levels, len(ladder), fid):
                    rung = ladder[level] if level is not None else {}
                    params = {"size": self.size, **e.params}
                    params = {k: v for k, v in params.items() if k not in rung}  # the rung decides its own fields
                    if level is not None:
                        params["level"] = level
                    count = int(n if n is not None else (e.n if e.n is not None else self.n))
                    if count < 1:
                        raise SuiteError(f"suite {self.name!r}: n={count}; expected >= 1")
                    out.append(Block(fid, level, count, self.seed, params))
        return out


def _levels(spec: Any, n_rungs: int, fid: str) -> list[int | None]:
    if n_rungs == 0:
        return [None]
    if spec in (None, "all"):
        return list(range(n_rungs))
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    out: list[int] = []
    for it in items:
        k = {"first": 0, "last": n_rungs - 1, "middle": n_rungs // 2}.get(it, it)
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < n_rungs:
            raise SuiteError(f"{fid}: level {it!r}; expected all, first, middle, last or 0..{n_rungs - 1}")
        if k not in out:
            out.append(k)
    return out


def list_suites() -> list[str]:
    """Names of the suites shipped with the package."""
    return sorted(p.name[:-5] for p in resources.files("preattentive.evaluation").joinpath("suites").iterdir()
                  if p.name.endswith(".yaml"))


def load_suite(name_or_path: str | Path) -> Suite:
    """A packaged suite by name or a YAML file by path; raise :class:`SuiteError` naming the problem.

    Example
    -------
    >>> load_suite("quick").n
    16
    """
    p = Path(str(name_or_path)).expanduser()
    if p.suffix in (".yaml", ".yml") or p.is_file():
        try:
            data = read_yaml(p, what="suite")
        except ConfigError as e:
            raise SuiteError(str(e)) from None
        return suite_from_dict(data, default_name=p.stem, source=p)
    res = resources.files("preattentive.evaluation").joinpath("suites", f"{name_or_path}.yaml")
    if not res.is_file():
        raise SuiteError(f"unknown suite {str(name_or_path)!r}; expected one of: {', '.join(list_suites())} "
                         f"or a path to a .yaml file")
    return suite_from_dict(yaml.safe_load(res.read_text()) or {}, default_name=p.stem, source=f"suite {p.stem}")


@dataclass(frozen=True)
class SuiteFile:
    """The keys of a suite YAML file (a family may be given as a bare id string)."""

    families: tuple[SuiteEntry, ...]  # what to draw (non-empty)
    name: str = "suite"
    description: str = ""
    seed: Seed = 0  # stimulus seed
    size: int = 64  # image side, px
    n: int = 200  # trials per (family, level)

    def __post_init__(self) -> None:
        check_types(self)
        if not self.families:
            raise SuiteError("families=[]: expected a non-empty list of families")
        if self.n < 1:
            raise SuiteError(f"n={self.n}: expected trials per (family, level) >= 1")


def suite_from_dict(d: Any, *, default_name: str = "suite", source: Any = None) -> Suite:
    """Build a :class:`Suite` from parsed YAML (checked: unknown keys, wrong types and ranges are one-line errors).

    Example
    -------
    >>> suite_from_dict({"families": ["maze"], "n": 0}, source="s.yaml")
    Traceback (most recent call last):
    ...
    preattentive.evaluation.suites.SuiteError: s.yaml: n=0: expected trials per (family, level) >= 1
    """
    data = dict(d) if isinstance(d, dict) else d
    if isinstance(data, dict) and isinstance(data.get("families"), (list, tuple)):
        data["families"] = [{"family": f} if isinstance(f, str) else f for f in data["families"]]
    if isinstance(data, dict):
        data.setdefault("name", default_name)
    try:
        f = from_mapping(SuiteFile, data, source=source, what="suite")
        return Suite(str(f.name), f.families, f.seed, f.size, f.n, f.description)
    except ConfigError as e:
        raise SuiteError(str(e)) from None


__all__ = ["Block", "ParamError", "Suite", "SuiteEntry", "SuiteError", "list_suites", "load_suite", "suite_from_dict"]
