"""Export a suite as an lmms-eval task folder: one task per (family, rung), a group, Parquet data, ``utils.py``.

``lmms-eval --model llava_hf --model_args pretrained=DIR --tasks preattentive_quick --include_path OUT`` then runs
the suite's trials through any model lmms-eval supports. The folder holds::

    OUT/_default_template_yaml         # keys every task shares (lmms-eval's include convention)
    OUT/preattentive_<suite>.yaml      # the group: every task, accuracy averaged over trials
    OUT/<task>.yaml                    # one per (family, rung): dataset_kwargs.data_files -> data/<task>.parquet
    OUT/data/<task>.parquet            # the trials (HF Image feature) plus `prompt`, `trial_key`, `params`
    OUT/utils.py                       # doc_to_visual / doc_to_text / doc_to_target / process_results
    OUT/preattentive_parsing.py        # a verbatim copy of preattentive.evaluation.parsing (scores answers)
    OUT/manifest.json  OUT/README.md   # what was exported, with which settings, and how to run it

The trials are exactly those ``preattentive eval --suite SUITE --n N`` asks (same generator, parameters, seed and
index, so the same ``trial_key``), the prompt is :func:`~preattentive.evaluation.format_question` with the same
template, and ``process_results`` scores with the same answer parser: given the same model outputs, lmms-eval's
``acc`` equals ``preattentive eval``'s accuracy. ``data_files`` are relative to the task YAML (lmms-eval >= 0.7
anchors local Parquet paths at the YAML's folder), so the folder can be moved or shared as it is.

Example
-------
>>> export = export_lmms_eval("quick", "lmms_tasks", n=16)  # doctest: +SKIP
>>> export.group, len(export.tasks)  # doctest: +SKIP
('preattentive_quick', 18)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from preattentive import __version__
from preattentive.datasets.parquet import SCHEMA, trial_row
from preattentive.evaluation import Block, Suite, format_question, load_suite
from preattentive.evaluation.methods import DEFAULT_TEMPLATE
from preattentive.files import atomic_dir, atomic_write_bytes, atomic_write_json

FORMAT = "preattentive-lmms-eval-export"  # manifest.json "format": what an --overwrite may replace
TEMPLATE_YAML = "_default_template_yaml"  # no .yaml suffix: lmms-eval's task index skips it, `include:` reads it
EXTRA_COLUMNS = ("prompt", "trial_key", "params")  # beyond a stimulus set's columns; all strings


def export_schema() -> pa.Schema:
    """A stimulus set's Parquet schema plus :data:`EXTRA_COLUMNS`, with the HF features metadata to match."""
    hf = json.loads(SCHEMA.metadata[b"huggingface"])
    hf["info"]["features"].update({k: {"dtype": "string", "_type": "Value"} for k in EXTRA_COLUMNS})
    schema = pa.schema([*SCHEMA, *(pa.field(k, pa.string()) for k in EXTRA_COLUMNS)])
    return schema.with_metadata({"huggingface": json.dumps(hf, sort_keys=True)})


class _Function(str):
    """A YAML scalar written as lmms-eval's ``!function module.name`` tag."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Function, lambda d, v: d.represent_scalar("!function", str(v)))


def _dump(obj: Any) -> bytes:
    text = yaml.dump(obj, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return re.sub(r"!function '([\w.]+)'", r"!function \1", text).encode()  # as lmms-eval's own task files


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(text).lower()).strip("_")


def task_name(group: str, block: Block) -> str:
    """``<group>_<family>[_<params>]_l<rung>``, e.g. ``preattentive_serial_curve_tracing_v1_style_dashed_l3``:
    the suite entry's own parameters (not size, not the rung's) are part of the name, so two entries of one
    family never collide."""
    extra = {k: v for k, v in block.params.items() if k not in ("size", "level")}
    ext = "_".join(f"{_slug(k)}_{_slug(json.dumps(v) if not isinstance(v, str) else v)}"
                   for k, v in sorted(extra.items()))
    if len(ext) > 40:  # long values (lists, dicts): a stable hash instead
        ext = block.condition
    level = "" if block.level is None else f"_l{block.level}"
    return "_".join(p for p in (group, _slug(block.family), ext) if p) + level


@dataclass(frozen=True)
class LmmsExport:
    """What :func:`export_lmms_eval` wrote: the folder, the group's name and one record per task."""

    out: Path
    group: str
    tasks: list[dict[str, Any]] = field(default_factory=list)  # task, tag, family, level, params, n, chance, data

    @property
    def n_trials(self) -> int:
        return sum(t["n"] for t in self.tasks)


def export_lmms_eval(suite: str | Suite, out: str | os.PathLike, *, n: int | None = None, seed: int | None = None,
                     families: list[str] | None = None, template: str = DEFAULT_TEMPLATE, max_new_tokens: int = 16,
                     overwrite: bool = False, progress: bool = False) -> LmmsExport:
    """Write ``suite`` as an lmms-eval task folder ``out`` (atomically: a killed export leaves no half folder).

    Parameters
    ----------
    suite : a packaged suite name (``core``, ``quick``, ``serial``), a YAML path, or a :class:`Suite`.
    out : the folder to create (an existing non-empty one only with ``overwrite``, and only a previous export).
    n : trials per (family, rung), overriding the suite's.
    seed : stimulus seed, overriding the suite's (e.g. to export held-out trials).
    families : keep only these family ids.
    template : the prompt, as ``preattentive eval --template`` (``{question}``, ``{choices}``, ``{letters}``).
    max_new_tokens : lmms-eval's ``generation_kwargs.max_new_tokens`` (greedy decoding, temperature 0).

    Example
    -------
    >>> export_lmms_eval("serial", "tasks/serial", n=100, seed=2000003).n_trials  # doctest: +SKIP
    2000
    """
    s = suite if isinstance(suite, Suite) else load_suite(suite)
    if seed is not None:
        s = dataclasses.replace(s, seed=int(seed))
    if int(max_new_tokens) < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens}: expected >= 1")
    for key in re.findall(r"{(\w*)}", template):
        if key not in ("question", "choices", "letters"):
            raise ValueError(f"template field {{{key}}}: expected {{question}}, {{choices}} or {{letters}}")
    blocks = s.blocks(n, families=families)
    if not blocks:
        raise ValueError(f"suite {s.name!r} has no blocks" + (f" for families {families}" if families else ""))
    out = Path(out)
    _check_out(out, overwrite)
    group = f"preattentive_{_slug(s.name)}"
    names = [task_name(group, b) for b in blocks]
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        raise ValueError(f"two suite entries give the same task {dup[0]!r}; expected distinct parameters")

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out) as tmp:  # replaces a previous export (checked above)
        tasks = _write(tmp, s, blocks, names, group, template, int(max_new_tokens), progress)
    return LmmsExport(out, group, tasks)


def _check_out(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise FileExistsError(f"output {str(out)!r} exists and is not a directory")
    if not any(out.iterdir()):
        return
    if not overwrite:
        raise FileExistsError(f"output directory {str(out)!r} exists and is not empty; pass --overwrite to replace it")
    try:
        previous = json.loads((out / "manifest.json").read_text()).get("format")
    except (OSError, ValueError, AttributeError):
        previous = None
    if previous != FORMAT:  # never delete a folder this function did not write
        raise FileExistsError(f"output directory {str(out)!r} is not a preattentive lmms-eval export "
                              f"(no manifest.json with format {FORMAT!r}); refusing to replace it")


def _write(d: Path, s: Suite, blocks: list[Block], names: list[str], group: str, template: str,
           max_new_tokens: int, progress: bool) -> list[dict[str, Any]]:
    from tqdm.auto import tqdm

    (d / "data").mkdir()
    schema = export_schema()
    tasks: list[dict[str, Any]] = []
    bar = tqdm(total=sum(b.n for b in blocks), desc=f"export {group}", unit="trial", disable=not progress,
               leave=False)
    for b, name in zip(blocks, names):
        gen = b.generator()
        rows = []
        for i in range(b.n):
            t = gen.trial(i)
            rows.append({**trial_row(t, b.level), "prompt": format_question(t, template),
                         "trial_key": b.trial_key(i), "params": b.params_json})
            bar.update(1)
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), sink, compression="zstd", row_group_size=256)
        data = f"data/{name}.parquet"
        atomic_write_bytes(d / data, sink.getvalue().to_pybytes())
        n_choices = sorted({len(r["choices"]) for r in rows})
        tag = f"{group}_{_slug(b.family)}"  # every rung of one family: `--tasks <tag>` runs them all
        tasks.append({"task": name, "tag": tag, "family": b.family, "level": b.level, "params": b.params, "n": b.n,
                      "seed": b.seed, "chance": round(sum(1 / len(r["choices"]) for r in rows) / len(rows), 6),
                      "n_choices": n_choices, "data": data})
        task_yaml = {"task": name, "tag": tag, "include": TEMPLATE_YAML,
                     "dataset_kwargs": {"data_files": {"test": data}},
                     "metadata": {"version": 1.0, "family": b.family, "level": -1 if b.level is None else b.level,
                                  "params": b.params_json, "seed": b.seed, "n": b.n}}
        atomic_write_bytes(d / f"{name}.yaml", _dump(task_yaml))
    bar.close()
    atomic_write_bytes(d / TEMPLATE_YAML, _dump(_template_yaml(max_new_tokens)))
    atomic_write_bytes(d / f"{group}.yaml", _dump({
        "group": group, "task": names,
        "aggregate_metric_list": [{"metric": "acc", "aggregation": "mean", "weight_by_size": True},
                                  {"metric": "unparsed", "aggregation": "mean", "weight_by_size": True}],
        "metadata": {"version": 1.0}}))
    pkg = resources.files("preattentive")
    parser = pkg.joinpath("evaluation", "parsing.py").read_bytes()
    atomic_write_bytes(d / "utils.py", pkg.joinpath("export", "lmms_utils.py").read_bytes())
    atomic_write_bytes(d / "preattentive_parsing.py", parser)
    manifest = {"format": FORMAT, "preattentive": __version__, "suite": s.name, "seed": s.seed, "group": group,
                "template": template, "max_new_tokens": max_new_tokens,
                "parser_sha256": hashlib.sha256(parser).hexdigest(), "tasks": tasks}
    atomic_write_json(d / "manifest.json", manifest, indent=2, sort_keys=True)
    atomic_write_bytes(d / "README.md", _readme(group, s, tasks, template).encode())
    return tasks


def _template_yaml(max_new_tokens: int) -> dict[str, Any]:
    return {
        "dataset_path": "parquet",  # datasets' local Parquet builder; each task names its file in data_files
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_visual": _Function("utils.doc_to_visual"),
        "doc_to_text": _Function("utils.doc_to_text"),
        "doc_to_target": _Function("utils.doc_to_target"),
        "process_results": _Function("utils.process_results"),
        # greedy decoding, as preattentive's generative method
        "generation_kwargs": {"max_new_tokens": max_new_tokens, "temperature": 0, "do_sample": False},
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                        {"metric": "unparsed", "aggregation": "mean", "higher_is_better": False}],
        "lmms_eval_specific_kwargs": {"default": {"pre_prompt": "", "post_prompt": ""}},
    }


def _readme(group: str, s: Suite, tasks: list[dict[str, Any]], template: str) -> str:
    rows = "\n".join(f"| `{t['task']}` | {t['family']} | {t['level']} | {t['n']} | {t['chance']:.3f} |"
                     for t in tasks)
    return (f"# lmms-eval tasks: preattentive suite `{s.name}` (seed {s.seed})\n\n"
            f"Exported by preattentive {__version__}. Run every task (the group) with\n\n"
            f"```bash\nlmms-eval --model llava_hf --model_args pretrained=llava-hf/llava-1.5-7b-hf "
            f"--tasks {group} --include_path THIS_FOLDER --batch_size 1\n```\n\n"
            f"or one family's rungs with `--tasks {tasks[0]['tag']}` (a tag), or a single task. "
            f"Prompt template: `{template}`; answers are scored by `preattentive_parsing.py` (a copy of "
            "`preattentive.evaluation.parsing`): `acc` is the fraction of parsed answers equal to the correct "
            "choice, `unparsed` the fraction no rule could map to a choice (counted wrong, as in "
            "`preattentive eval`).\n\n"
            f"| task | family | rung | n | chance |\n|---|---|---|---|---|\n{rows}\n")


__all__ = ["EXTRA_COLUMNS", "FORMAT", "LmmsExport", "export_lmms_eval", "export_schema", "task_name"]
