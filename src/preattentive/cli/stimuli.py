"""``preattentive stimuli ...``: list, preview and generate stimulus sets."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from preattentive.cli import app, fail, user_errors

stimuli_app = typer.Typer(help="Generate, list and preview stimulus families.", no_args_is_help=True)
app.add_typer(stimuli_app, name="stimuli")

PARAM_HELP = "Family parameter as key=value (repeatable), e.g. --param style=dashed --param length=14."


def parse_params(items: Optional[List[str]]) -> dict[str, str]:
    """``["a=1", "b=x"]`` → ``{"a": "1", "b": "x"}``; a malformed item is a one-line error (exit 2)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise fail(f"--param {item!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out


def merge_size(size: Optional[int], params: dict[str, str], default: int) -> dict[str, object]:
    """``params`` with the image side from ``--size`` (or ``--param size=N``); both, disagreeing, is an error."""
    if "size" in params and size is not None and params["size"].strip() != str(size):
        raise fail(f"--param size={params['size']} conflicts with --size {size}: give the image side once")
    if "size" in params:
        return dict(params)
    return {"size": default if size is None else size, **params}


@stimuli_app.command("list")
def list_families(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the registered stimulus families: id, classes, difficulty rungs and source."""
    from rich.table import Table

    from preattentive import stimuli
    from preattentive.cli.listing import emit

    rows = [{"id": fid, "n_classes": stimuli.make(fid).n_classes, "ladder": list(stimuli.get(fid).ladder),
             "difficulty_keys": list(stimuli.get(fid).difficulty_keys), "citation": stimuli.get(fid).citation}
            for fid in stimuli.list()]

    def table(rows):
        t = Table("id", "classes", "rungs", "difficulty", "source", title="preattentive stimulus families")
        for r in rows:
            t.add_row(r["id"], str(r["n_classes"]), str(len(r["ladder"])), ", ".join(r["difficulty_keys"]),
                      r["citation"].split(";")[0])
        return t

    emit(rows, as_json, table)


@stimuli_app.command("preview")
def preview(
    family: str = typer.Argument(..., help="Family id, e.g. curve-tracing or curve-tracing-v1."),
    out: Path = typer.Option(None, "--out", "-o", help="PNG to write (default: preview-FAMILY.png)."),
    size: Optional[int] = typer.Option(None, help="Image side in px (default 64)."),
    seed: int = typer.Option(0, help="Seed of the set."),
    cols: int = typer.Option(6, min=1, max=24, help="Examples per difficulty rung."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help=PARAM_HELP),
) -> None:
    """Write a labelled grid of examples, one row per difficulty rung."""
    from preattentive import stimuli
    from preattentive.config_schema import Seed, check_value
    from preattentive.datasets.preview import preview_grid, save_png

    params = merge_size(size, parse_params(param), 64)
    if out is not None and out.is_dir():
        raise fail(f"--out {str(out)!r} is a directory: expected the path of a .png file to write")
    if out is not None and not out.parent.is_dir():
        raise fail(f"--out {str(out)!r}: its folder {str(out.parent)!r} does not exist")
    with user_errors():
        seed = check_value(Seed, seed, "seed")
        gen = stimuli.make(family, seed=seed, **params)
        path = save_png(preview_grid(gen, n_cols=cols), out or Path(f"preview-{gen.id}.png"))
    typer.echo(str(path))


@stimuli_app.command("generate")
def generate(
    family: str = typer.Argument(..., help="Family id, e.g. maze or maze-v1 (see `preattentive stimuli list`)."),
    n: int = typer.Option(..., "--n", help="Number of trials in the whole set."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (Parquet shards, config.json, preview.png); "
                             "the same command continues an interrupted set there."),
    size: Optional[int] = typer.Option(None, help="Image side in px (default 64)."),
    seed: int = typer.Option(0, help="Seed: item i depends only on (seed, i)."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help=PARAM_HELP),
    shard: str = typer.Option("0/1", help="Write shard I of N (I/N): chunks k with k % N == I."),
    workers: int = typer.Option(1, help="Worker processes (same bytes as 1)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace what the output directory holds (another "
                                   "set, or this one from scratch)."),
    chunk_size: int = typer.Option(1000, help="Trials per Parquet file."),
) -> None:
    """Generate a stimulus set as Parquet (Hugging Face `datasets` Image feature), with config and preview.

    Interrupted (killed, out of time)? Run the same command again: only the missing chunks are written, and the set
    is byte-identical to an uninterrupted run.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from preattentive.datasets.parquet import generate_set, parse_shard

    params = merge_size(size, parse_params(param), 64)
    with user_errors():
        shard_i, shard_n = parse_shard(shard)
        with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), transient=True) as bar:
            task = bar.add_task(f"{family}", total=n if n > 0 else None)
            cfg = generate_set(family, n, out, seed=seed, params=params, shard=(shard_i, shard_n),
                               workers=workers, overwrite=overwrite, chunk_size=chunk_size,
                               progress=lambda done: bar.update(task, completed=done))
    bal = ", ".join(f"{k}: {v}" for k, v in cfg["balance"]["counts"].items())
    state = "complete" if cfg["complete"] else f"{cfg['chunks_present']}/{cfg['n_chunks']} chunks present"
    resumed = f"; {cfg['chunks_kept']} chunks already there kept" if cfg.get("chunks_kept") else ""
    typer.echo(f"wrote {out} ({cfg['family']}, {state}{resumed}; label counts {bal})")
