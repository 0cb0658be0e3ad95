"""The study configs shipped with the package: one commented YAML per study, read with ``importlib.resources``.

``preattentive compare --config s1_curve_tracing`` (a packaged name) and ``--config my_study.yaml`` (a path) both
work; :func:`resolve_config` decides which: an existing file wins, then a packaged name (with or without
``.yaml``). ``preattentive configs list`` names them and ``preattentive configs show NAME > my.yaml`` gives an
editable copy.

Example
-------
>>> "demo" in list_configs()
True
>>> resolve_config("demo").name
'demo.yaml'
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import yaml

from preattentive.stimuli.base import ParamError


def _root():
    return resources.files("preattentive.configs")


def list_configs() -> list[str]:
    """Names of the packaged study configs (file stems), sorted."""
    return sorted(p.name[:-5] for p in _root().iterdir() if p.name.endswith(".yaml"))


def packaged_config(name: str):
    """The packaged config ``name`` (``"demo"`` or ``"demo.yaml"``) as an ``importlib.resources`` Traversable."""
    stem = name[:-5] if name.endswith(".yaml") else name
    return _root().joinpath(f"{stem}.yaml")


def resolve_config(name_or_path: str | os.PathLike) -> Path:
    """An existing YAML file, else the packaged config of that name; a ``ParamError`` naming both otherwise.

    Example
    -------
    >>> resolve_config("s1_curve_tracing.yaml").parent.name
    'configs'
    """
    p = Path(name_or_path).expanduser()
    if p.is_file():
        return p
    text = str(name_or_path)
    if os.sep not in text and "/" not in text:  # a bare name: look it up among the packaged configs
        res = packaged_config(text)
        if res.is_file():
            return Path(str(res))  # setuptools installs package data as plain files
    raise ParamError(f"config {text!r} does not exist: expected a YAML file or a packaged config "
                     f"({', '.join(list_configs())})")


def read_config(name_or_path: str | os.PathLike) -> dict:
    """The parsed YAML mapping of :func:`resolve_config` (an empty file gives ``{}``)."""
    p = resolve_config(name_or_path)
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, dict):
        raise ParamError(f"config {str(p)!r}: expected a mapping of settings, got {type(data).__name__}")
    return data


def describe(name: str) -> str:
    """The first comment line of a packaged config (what the study is), without the ``#``."""
    for line in packaged_config(name).read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


__all__ = ["describe", "list_configs", "packaged_config", "read_config", "resolve_config"]
