"""Room 1 — seeded, parametric, label-verified stimulus families (numpy + OpenCV; never torch).

Example
-------
>>> from preattentive import stimuli
>>> gen = stimuli.make("maze", size=64, seed=0)
>>> trial = gen.trial(0)
>>> trial.image.shape
(64, 64, 3)
"""

from __future__ import annotations

import importlib
from typing import Any

from preattentive.registry import Registry
from preattentive.stimuli.base import MAX_SIZE, MIN_SIZE, Params, ParamError, StimulusFamily, StimulusSet, Trial

REGISTRY: Registry[type[StimulusFamily]] = Registry(
    "stimulus family", factory=lambda cls, seed=0, **kw: cls.from_kwargs(seed=seed, **kw)
)


def register_family(cls: type[StimulusFamily]) -> type[StimulusFamily]:
    """Class decorator: register a family under ``cls.id``."""
    REGISTRY.register(cls.id, cls)
    return cls


def make(id: str, *, seed: int = 0, **params: Any) -> StimulusFamily:
    """A generator for family ``id`` (``"maze"`` or ``"maze-v1"``) with ``params`` overriding the defaults."""
    return REGISTRY.make(id, seed=seed, **params)


def list() -> list[str]:  # noqa: A001 - the registry's public verb
    """Registered family ids, e.g. ``["border-ownership-v1", ...]``."""
    return REGISTRY.list()


def latest() -> list[str]:
    """The newest version of every family, e.g. ``["border-ownership-v1", "counting-v2", ...]``: what "every
    family" means for a suite, a study or a training mix (older versions stay available by their full id, so
    that published sets can be regenerated, but are not evaluated twice)."""
    return REGISTRY.latest()


def get(id: str) -> type[StimulusFamily]:
    """The family class for ``id``."""
    return REGISTRY.get(id)


# One module per family; importing a module registers its family.
_FAMILY_MODULES = ("figure_ground", "border_ownership", "curve_tracing", "maze", "maze_path", "counting", "search",
                   "hard_boundary", "scenes")
for _m in _FAMILY_MODULES:
    importlib.import_module(f"{__name__}.{_m}")

__all__ = ["MAX_SIZE", "MIN_SIZE", "ParamError", "Params", "REGISTRY", "StimulusFamily", "StimulusSet", "Trial",
           "get", "latest", "list", "make", "register_family"]
