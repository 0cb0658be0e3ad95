"""Hub dataset cards: the ``README.md`` that makes a set directory loadable as ``datasets.load_dataset(DIR)``.

The card's YAML header follows the Hugging Face dataset-card format (``huggingface_hub.DatasetCardData``):
``configs`` / ``data_files`` name the Parquet shards (so no ``"parquet"`` builder argument is needed),
``dataset_info.features`` repeats the shards' own schema (the ``image`` column is an ``Image`` feature), and
``license``, ``task_categories``, ``size_categories`` and ``tags`` make it searchable once uploaded. The body gives
the family's citation and the generator's resolved configuration and seed, so the directory can be pushed to the
Hub as it is (``huggingface-cli upload NAME DIR --repo-type dataset``).

Same set, same card bytes: nothing in it depends on the clock or the machine.

Example
-------
>>> write_card("data/maze", cfg)  # doctest: +SKIP
PosixPath('data/maze/README.md')
>>> datasets.load_dataset("data/maze")["train"].features["image"]  # doctest: +SKIP
Image(mode=None, decode=True)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from preattentive.datasets.parquet import SCHEMA
from preattentive.files import atomic_write_bytes

CARD = "README.md"
LICENSE = "mit"  # the stimuli are made by this MIT-licensed code; nothing third-party is in them
SPLIT = "train"  # the Hub's default split name for data files given without one
# Hub task ids: every trial is an image with a question and a fixed set of answers (one of them correct).
TASK_CATEGORIES = ("image-classification", "visual-question-answering")
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
          (10_000_000, "1M<n<10M"))


def card_features(schema: pa.Schema = SCHEMA) -> list[dict[str, Any]]:
    """The card's ``dataset_info.features`` for a Parquet schema, in column order (``datasets``' YAML form).

    Example
    -------
    >>> card_features()[0]
    {'name': 'image', 'dtype': 'image'}
    """
    out = []
    for f in schema:
        if pa.types.is_struct(f.type) and {c.name for c in f.type} == {"bytes", "path"}:
            out.append({"name": f.name, "dtype": "image"})  # HF's Image feature: struct<bytes, path>
        elif pa.types.is_list(f.type):
            out.append({"name": f.name, "list": _dtype(f.type.value_type)})
        else:
            out.append({"name": f.name, "dtype": _dtype(f.type)})
    return out


def _dtype(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_integer(t):
        return str(t)  # int64, int32, uint8 ...: the same names in `datasets`
    named = {pa.float32(): "float32", pa.float64(): "float64", pa.bool_(): "bool"}
    if t in named:
        return named[t]
    raise ValueError(f"column type {t}: no dataset-card dtype for it; expected string, integer, float or bool")


def size_category(n: int) -> str:
    """The Hub's size bucket for ``n`` rows, e.g. ``"1K<n<10K"``."""
    for limit, name in _SIZES:
        if n < limit:
            return name
    return "n>10M"


def card_header(cfg: dict[str, Any], *, data_files: str = "data-*.parquet", pretty_name: str | None = None,
                schema: pa.Schema = SCHEMA) -> dict[str, Any]:
    """The card's YAML header for a set's resolved config (``config.json``) as a plain dict."""
    n_rows = int(sum(cfg.get("balance", {}).get("counts", {}).values()))
    family = str(cfg["family"])
    return {
        "license": LICENSE,
        "pretty_name": pretty_name or f"preattentive {family} (seed {cfg['seed']}, n={cfg['n']})",
        "task_categories": list(TASK_CATEGORIES),
        "language": ["en"],
        "size_categories": [size_category(n_rows)],
        "tags": ["preattentive", "synthetic", "psychophysics", "neuroscience", family.rsplit("-v", 1)[0]],
        "configs": [{"config_name": "default", "data_files": [{"split": SPLIT, "path": data_files}]}],
        "dataset_info": {"features": card_features(schema)},  # no `splits`: datasets wants their Arrow num_bytes
    }


def render_card(cfg: dict[str, Any], **header_options: Any) -> str:
    """The whole ``README.md``: YAML header, then what the set is, where it comes from and how it was made."""
    from preattentive import stimuli

    header = card_header(cfg, **header_options)
    family = str(cfg["family"])
    try:
        what = (stimuli.get(family).__doc__ or "").strip().splitlines()[0]
    except (KeyError, ValueError, IndexError):
        what = ""
    n_rows = int(sum(cfg.get("balance", {}).get("counts", {}).values()))
    state = "complete" if cfg.get("complete", True) else \
        f"partial: {cfg.get('chunks_present')} of {cfg.get('n_chunks')} shards present"
    balance = ", ".join(f"label {k}: {v}" for k, v in cfg.get("balance", {}).get("counts", {}).items())
    resolved = {k: cfg[k] for k in ("family", "seed", "n", "chunk_size", "params", "ladder", "difficulty_keys",
                                    "n_classes", "version") if k in cfg}
    lines = [
        "---", yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
        f"# {header['pretty_name']}", "",
        f"{what} Generated by preattentive {cfg.get('version', '')}: {n_rows} trials ({state}); the family's "
        "labels are verified in preattentive's tests by solvers that read only the pixels.", "",
        "## Source", "", f"{cfg.get('citation', '')}", "",
        "## Load", "", "```python", "import datasets", "", 'ds = datasets.load_dataset("path/to/this/folder")',
        f'ds["{SPLIT}"][0]["image"]  # a PIL image; "question", "choices", "answer", "label" describe the trial',
        "```", "",
        "## Columns", "",
        "`image` (PNG), `question` with its `choices` and the correct `answer` (`label` indexes `choices`), "
        "`prompts` (one caption per choice, for zero-shot CLIP), `level` (difficulty rung, -1 = none), "
        "`difficulty` and `meta` (JSON: what an independent checker needs), `id`, `family`, `seed`, `index` "
        "(trial `index` depends only on (`seed`, `index`)).", "",
        "## How it was made", "",
        f"Label counts: {balance or 'none yet'}. The generator's resolved configuration "
        "(`config.json` holds the same, plus the label fractions); regenerate the same bytes with "
        f"`preattentive stimuli generate {family} --n {cfg['n']} --seed {cfg['seed']}` and these parameters:", "",
        "```json", json.dumps(resolved, indent=2, sort_keys=True), "```", "",
    ]
    return "\n".join(lines)


def write_card(out: str | os.PathLike, cfg: dict[str, Any], **header_options: Any) -> Path:
    """Write ``out/README.md`` for the set whose resolved config is ``cfg`` (atomically); return its path.

    Example
    -------
    >>> write_card("data/maze", json.loads(Path("data/maze/config.json").read_text()))  # doctest: +SKIP
    PosixPath('data/maze/README.md')
    """
    path = Path(out) / CARD
    atomic_write_bytes(path, render_card(cfg, **header_options).encode())
    return path


__all__ = ["CARD", "card_features", "card_header", "render_card", "size_category", "write_card"]
