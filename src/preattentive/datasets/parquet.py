"""Write and read stimulus sets as Parquet shards whose ``image`` column is a Hugging Face ``Image`` feature.

Layout of a set directory::

    DIR/data-00000-of-00004.parquet   # chunk k holds items [k*chunk_size, (k+1)*chunk_size)
    DIR/config.json                   # resolved parameters, package version, label balance
    DIR/preview.png                   # a labelled grid of examples (one row per difficulty rung)

The chunk a file holds is fixed by the set (``n``, ``chunk_size``), never by how it was produced, so
``--shard I/N`` (chunks ``k`` with ``k % N == I``) and ``--workers W`` write byte-identical files to one
process writing them all. Every file is written to a temporary name in the same directory and renamed, so a
killed run leaves only whole files; ``config.json`` is written before the first chunk, so running the same
command again continues the set, writing only the missing chunks.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from preattentive import __version__, stimuli
from preattentive.config_schema import Seed, SetRecord, check_value, read_record
from preattentive.datasets.png import decode_png, encode_png  # noqa: F401 - re-exported (datasets.encode_png)
from preattentive.files import atomic_write_bytes, atomic_write_json
from preattentive.stimuli.base import ParamError, StimulusFamily, Trial, meta_to_json

MAX_N = 10_000_000  # items per set; ids are zero-padded to 8 digits
CHUNK_SIZE = 1000  # items per Parquet file: ~1-3 MB at 64 px

# The schema HF `datasets` writes for an Image feature is struct<bytes: binary, path: string>; the
# "huggingface" schema metadata tells `load_dataset("parquet", ...)` to decode it as an Image.
SCHEMA = pa.schema([
    ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
    ("id", pa.string()),
    ("family", pa.string()),
    ("seed", pa.int64()),
    ("index", pa.int64()),
    ("label", pa.int64()),
    ("answer", pa.string()),
    ("question", pa.string()),
    ("choices", pa.list_(pa.string())),
    ("prompts", pa.list_(pa.string())),
    ("level", pa.int64()),  # difficulty-ladder rung, -1 when none applies
    ("difficulty", pa.string()),  # JSON object of this trial's difficulty values
    ("meta", pa.string()),  # JSON object; numpy arrays as {"__ndarray__": ...} (see stimuli.base.meta_to_json)
])
_HF_FEATURES = {
    "image": {"_type": "Image"},
    **{k: {"dtype": "string", "_type": "Value"} for k in ("id", "family", "answer", "question", "difficulty", "meta")},
    **{k: {"dtype": "int64", "_type": "Value"} for k in ("seed", "index", "label", "level")},
    "choices": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"},
    "prompts": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"},
}
SCHEMA = SCHEMA.with_metadata({"huggingface": json.dumps({"info": {"features": _HF_FEATURES}}, sort_keys=True)})


# --------------------------------------------------------------------------------------------- encoding
def trial_row(t: Trial, level: int | None) -> dict[str, Any]:
    """One Parquet row for trial ``t``."""
    return {"image": {"bytes": encode_png(t.image), "path": None}, "id": t.id, "family": t.family, "seed": t.seed,
            "index": t.index, "label": int(t.label), "answer": t.answer, "question": t.question,
            "choices": list(t.choices), "prompts": list(t.prompts), "level": -1 if level is None else int(level),
            "difficulty": json.dumps(t.difficulty, sort_keys=True, default=_json_scalar),
            "meta": meta_to_json(t.meta)}


def _json_scalar(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


# --------------------------------------------------------------------------------------------- writing
@dataclass(frozen=True)
class SetSpec:
    """What a stimulus set is: family, parameters, seed, size of the set. Picklable, for worker processes."""

    family: str  # registry id, resolved with version
    params: dict[str, Any]  # parameter overrides as given (strings from the CLI are fine)
    seed: int
    n: int  # items in the whole set
    chunk_size: int = CHUNK_SIZE

    @property
    def n_chunks(self) -> int:
        return -(-self.n // self.chunk_size)

    def chunk_name(self, k: int) -> str:
        return f"data-{k:05d}-of-{self.n_chunks:05d}.parquet"

    def generator(self) -> StimulusFamily:
        return stimuli.make(self.family, seed=self.seed, **self.params)


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` → ``(2, 4)``; raises ParamError naming the allowed range."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ParamError(f"shard {text!r}: expected I/N with integers, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise ParamError(f"shard {text!r}: index {i} out of range, expected 0 <= I < N with N >= 1 (N={n})")
    return i, n


def chunk_bytes(gen: StimulusFamily, start: int, stop: int) -> bytes:
    """The Parquet file holding items ``start .. stop-1`` of ``gen``: generation, PNG encoding and Parquet writing.

    What :func:`write_chunk` writes (and what ``benchmarks/stimuli.py`` times as "generation + PNG + Parquet").
    """
    rows = [trial_row(gen.trial(i), gen.level_for(i)) for i in range(start, stop)]
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    sink = pa.BufferOutputStream()
    # zstd at its default level: ~0.015 ms a row at 224 px for a third off uncompressed Parquet (the PNGs' deflate
    # leaves redundancy it finds); level 3 / 9 save 1-2% more at 1.6x / 3.4x the time (docs/results.md, issue 14).
    pq.write_table(table, sink, compression="zstd", row_group_size=256)
    return sink.getvalue().to_pybytes()


def write_chunk(spec: SetSpec, k: int, out: str | os.PathLike) -> Path:
    """Generate chunk ``k`` of ``spec`` and write it atomically to ``out``; returns the file path."""
    start = k * spec.chunk_size
    path = Path(out) / spec.chunk_name(k)
    atomic_write_bytes(path, chunk_bytes(spec.generator(), start, min(start + spec.chunk_size, spec.n)))
    return path


def _set_state(out: Path, spec: SetSpec) -> tuple[str, str]:
    """What ``out`` holds: ("new" | "same" | "other", why). "same" is this set, whole or interrupted."""
    if not out.exists():
        return "new", ""
    if not out.is_dir():
        raise FileExistsError(f"output {str(out)!r} exists and is not a directory")
    names = sorted(p.name for p in out.iterdir())
    if not names:
        return "new", ""
    if "config.json" not in names:
        return "other", f"it holds {names[0]!r} and no config.json"
    previous = read_record(out / "config.json", SetRecord, what="stimulus set config")
    mine = _identity(set_config(spec))
    for key, value in _identity(previous).items():
        if value != mine[key]:
            return "other", f"it holds another set ({key}={value!r}, not {mine[key]!r})"
    return "same", ""


def _clear(out: Path) -> None:
    """Delete the files a set consists of (and stale temporaries); anything else in ``out`` is kept."""
    for p in out.iterdir():
        if (p.name.startswith("data-") and p.suffix == ".parquet" or p.name in ("config.json", "preview.png", "README.md")
                or p.name.startswith(".") and p.name.endswith(".tmp")):
            p.unlink()


def _chunk_ok(out: Path, spec: SetSpec, k: int) -> bool:
    """Chunk ``k`` is on disk, readable, with its rows (files are renamed into place whole, so this is cheap)."""
    path = out / spec.chunk_name(k)
    if not path.is_file():
        return False
    try:
        return pq.read_metadata(path).num_rows == min(spec.chunk_size, spec.n - k * spec.chunk_size)
    except (pa.ArrowException, OSError):
        return False


def _watch_parent(parent: int) -> None:
    """Worker initialiser: exit as soon as the parent is gone (``kill -9``), instead of waiting on its pipe forever."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _identity(config: dict[str, Any]) -> Any:
    return {k: config.get(k) for k in ("family", "seed", "n", "chunk_size", "params")}


def set_config(spec: SetSpec) -> dict[str, Any]:
    """The resolved configuration of a set (no timestamps: same set, same bytes)."""
    gen = spec.generator()
    cfg = gen.config()
    return {"family": cfg["family"], "seed": spec.seed, "n": spec.n, "chunk_size": spec.chunk_size,
            "n_chunks": spec.n_chunks, "params": cfg["params"], "ladder": cfg["ladder"],
            "difficulty_keys": cfg["difficulty_keys"], "n_classes": cfg["n_classes"], "citation": cfg["citation"],
            "package": "preattentive", "version": __version__}


def write_config(out: Path, spec: SetSpec) -> dict[str, Any]:
    """(Re)write ``config.json`` with the label balance over the chunks present in ``out``."""
    cfg = set_config(spec)
    present = [k for k in range(spec.n_chunks) if (out / spec.chunk_name(k)).exists()]
    counts: dict[int, int] = {}
    for k in present:
        labels = pq.read_table(out / spec.chunk_name(k), columns=["label"]).column("label").to_numpy()
        for lab, c in zip(*np.unique(labels, return_counts=True)):
            counts[int(lab)] = counts.get(int(lab), 0) + int(c)
    total = sum(counts.values())
    cfg["complete"] = len(present) == spec.n_chunks
    cfg["chunks_present"] = len(present)
    cfg["balance"] = {"counts": {str(k): v for k, v in sorted(counts.items())},
                      "fractions": {str(k): round(v / total, 6) for k, v in sorted(counts.items())} if total else {}}
    atomic_write_json(out / "config.json", cfg, indent=2, sort_keys=True)
    return cfg


def generate_set(family: str, n: int, out: str | os.PathLike, *, seed: int = 0, params: dict[str, Any] | None = None,
                 shard: tuple[int, int] = (0, 1), workers: int = 1, overwrite: bool = False,
                 chunk_size: int = CHUNK_SIZE, preview: bool = True,
                 progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Generate a stimulus set (or one shard of it) as Parquet files in ``out``; returns the config written.

    ``config.json`` is written first (``"complete": false``) and again at the end, so an interrupted run is
    recognised: calling again with the same arguments writes only the chunks that are missing, and the set is
    byte-identical to an uninterrupted one. A folder holding anything else is refused unless ``overwrite``
    (which deletes the set's files there and starts afresh). Worker processes exit when the parent dies.

    Parameters
    ----------
    family : registry id, e.g. ``"maze"`` or ``"maze-v1"``.
    n : number of items in the whole set (1 .. 10,000,000).
    seed : integer in [0, 2**32 - 1] (item i depends only on (seed, i)).
    shard : ``(i, N)``: write only chunks ``k`` with ``k % N == i``.
    workers : processes generating chunks in parallel (same bytes as 1).
    progress : called with the number of items finished (chunks already on disk included) after each chunk.

    Returns the ``config.json`` contents plus ``chunks_kept`` (chunks found whole on disk and not rewritten).

    Example
    -------
    >>> cfg = generate_set("maze", 100, "/tmp/mazes", seed=1, params={"size": 64})  # doctest: +SKIP
    """
    params = dict(params or {})
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_N:
        raise ParamError(f"n={n!r} is out of range: expected an integer in [1, {MAX_N}]")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1 or workers > 256:
        raise ParamError(f"workers={workers!r}: expected an integer in [1, 256]")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ParamError(f"chunk_size={chunk_size!r}: expected an integer >= 1")
    i, num = shard
    if num < 1 or not 0 <= i < num:
        raise ParamError(f"shard {i}/{num}: expected 0 <= I < N")
    seed = check_value(Seed, seed, "seed")
    fid = stimuli.REGISTRY.resolve(family)
    spec = SetSpec(fid, params, int(seed), int(n), int(chunk_size))
    gen = spec.generator()  # validates every parameter before anything touches the disk
    gen.trial(0)  # and that a trial can actually be drawn at these settings
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"output {str(out)!r} exists and is not a directory")
    state, why = ("other", "") if overwrite else _set_state(out, spec)
    if state == "other" and not overwrite:
        raise FileExistsError(f"output directory {str(out)!r} exists and is not empty ({why}); pass --overwrite to "
                              "replace it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    if overwrite:
        _clear(out)
    chunks = [k for k in range(spec.n_chunks) if k % num == i]
    for k in chunks:  # temporaries of our own chunks left by a killed run (never another shard's)
        for tmp in out.glob(f".{spec.chunk_name(k)}.*.tmp"):
            tmp.unlink(missing_ok=True)
    write_config(out, spec)  # the set's identity on disk from the start: a re-run continues it
    todo = [k for k in chunks if not _chunk_ok(out, spec, k)]
    kept = len(chunks) - len(todo)
    done = sum(min(spec.chunk_size, n - k * spec.chunk_size) for k in chunks if k not in todo)
    if progress and done:
        progress(done)
    if workers == 1 or len(todo) <= 1:
        for k in todo:
            write_chunk(spec, k, out)
            done += min(spec.chunk_size, n - k * spec.chunk_size)
            if progress:
                progress(done)
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=mp.get_context("fork"),
                                 initializer=_watch_parent, initargs=(os.getpid(),)) as ex:
            for k, _ in zip(todo, ex.map(write_chunk, [spec] * len(todo), todo, [out] * len(todo))):
                done += min(spec.chunk_size, n - k * spec.chunk_size)
                if progress:
                    progress(done)
    cfg = write_config(out, spec)
    from preattentive.datasets.card import write_card

    write_card(out, cfg)  # README.md: the Hub dataset card, so that datasets.load_dataset(out) reads the set
    if preview:
        from preattentive.datasets.preview import preview_grid, save_png

        save_png(preview_grid(gen), out / "preview.png")
    return {**cfg, "chunks_kept": kept}


def set_status(out: str | os.PathLike, family: str, n: int, *, seed: int = 0, params: dict[str, Any] | None = None,
               chunk_size: int = CHUNK_SIZE) -> str:
    """``"complete"`` (this set, every chunk there), ``"partial"`` (this set, interrupted), ``"absent"`` or
    ``"other"`` (the folder holds something else): lets a study reuse, continue or replace its training set.

    Example
    -------
    >>> set_status("/no/such/set", "maze", 10)
    'absent'
    """
    spec = SetSpec(stimuli.REGISTRY.resolve(family), dict(params or {}), int(seed), int(n), int(chunk_size))
    state, _ = _set_state(Path(out), spec)
    if state != "same":
        return "absent" if state == "new" else "other"
    return "complete" if all(_chunk_ok(Path(out), spec, k) for k in range(spec.n_chunks)) else "partial"


def check_set(directory: str | os.PathLike, *, family: str | None = None, size: int | None = None,
              option: str = "data") -> dict[str, Any]:
    """A finished set's ``config.json``, after checking it is whole and holds ``family`` trials of side ``size``.

    Raises a one-line ``ParamError`` naming what disagrees, before any training starts.

    Example
    -------
    >>> check_set("/no/such/set")
    Traceback (most recent call last):
    ...
    preattentive.stimuli.base.ParamError: data='/no/such/set': no such directory; expected a stimulus set (from `preattentive stimuli generate ... --out DIR`)
    """
    d = Path(directory)
    if not d.is_dir():
        raise ParamError(f"{option}={str(d)!r}: no such directory; expected a stimulus set (from `preattentive "
                         "stimuli generate ... --out DIR`)")
    if not (d / "config.json").is_file():
        raise ParamError(f"{option}={str(d)!r}: no config.json; expected a stimulus set written by `preattentive "
                         "stimuli generate`")
    rec = read_record(d / "config.json", SetRecord, what="stimulus set config")
    spec = SetSpec(rec["family"], {}, rec["seed"], rec["n"], rec["chunk_size"])
    missing = [k for k in range(spec.n_chunks) if not (d / spec.chunk_name(k)).is_file()]
    if missing:
        raise ParamError(f"{option}={str(d)!r}: {spec.n_chunks - len(missing)} of {spec.n_chunks} chunks present "
                         f"(first missing: {spec.chunk_name(missing[0])}); expected a complete set (re-run its "
                         "`stimuli generate` command to finish it)")
    if family is not None and rec["family"] != family:
        raise ParamError(f"{option}={str(d)!r} holds {rec['family']} trials (its config.json); expected {family}, "
                         "the task")
    have = rec["params"].get("size")
    if size is not None and have != size:
        raise ParamError(f"{option}={str(d)!r} holds {have} px images (its config.json); expected {size} px, the "
                         "size")
    return rec


# --------------------------------------------------------------------------------------------- reading
def parquet_files(directory: str | os.PathLike) -> list[Path]:
    """The set's data files in item order."""
    files = sorted(Path(directory).glob("data-*.parquet"))
    if not files:
        raise FileNotFoundError(f"no data-*.parquet files in {str(directory)!r}")
    return files


def read_set(directory: str | os.PathLike, columns: Iterable[str] | None = None) -> pa.Table:
    """All rows of a set as one Arrow table (in item order)."""
    return pa.concat_tables([pq.read_table(f, columns=list(columns) if columns else None)
                             for f in parquet_files(directory)])


def iter_rows(directory: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """Rows as dicts with the image decoded to an RGB array and ``meta``/``difficulty`` parsed."""
    from preattentive.stimuli.base import meta_from_json

    for f in parquet_files(directory):
        for row in pq.read_table(f).to_pylist():
            row["image"] = decode_png(row["image"]["bytes"])
            row["meta"] = meta_from_json(row["meta"])
            row["difficulty"] = json.loads(row["difficulty"])
            yield row
