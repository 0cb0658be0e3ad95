"""``preattentive suites list`` and ``preattentive configs list|show``: what ships with the package.

Every ``list`` command prints a table for people and, with ``--json``, one JSON document for programs
(``preattentive stimuli list --json | jq``); :func:`emit` is the one place that decides which.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import typer

from preattentive.cli import app, fail

JSON_HELP = "Print JSON (one document on stdout) instead of a table."

suites_app = typer.Typer(help="Evaluation suites shipped with the package.", no_args_is_help=True)
configs_app = typer.Typer(help="Study configs shipped with the package.", no_args_is_help=True)
app.add_typer(suites_app, name="suites")
app.add_typer(configs_app, name="configs")


def emit(rows: list[dict[str, Any]], as_json: bool, table: Callable[[list[dict[str, Any]]], Any]) -> None:
    """Print ``rows`` as JSON (``as_json``) or as the rich table ``table(rows)`` builds."""
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    from rich.console import Console

    Console(width=160).print(table(rows))


def suite_rows() -> list[dict[str, Any]]:
    """One record per packaged suite: its settings and every (family, rung) block with its trial count."""
    from preattentive.evaluation import list_suites, load_suite

    rows = []
    for name in list_suites():
        s = load_suite(name)
        blocks = s.blocks()
        families: dict[str, dict[str, Any]] = {}
        for b in blocks:
            extra = {k: v for k, v in b.params.items() if k not in ("size", "level")}
            key = b.family + (json.dumps(extra, sort_keys=True) if extra else "")
            f = families.setdefault(key, {"family": b.family, "params": extra, "levels": [], "n": b.n})
            f["levels"].append(b.level)
        rows.append({"name": s.name, "description": s.description, "seed": s.seed, "size": s.size, "n": s.n,
                     "families": list(families.values()), "blocks": len(blocks), "trials": sum(b.n for b in blocks)})
    return rows


@suites_app.command("list")
def list_suites_cmd(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List the packaged suites: families x rungs x trials per rung (what `preattentive eval --suite` takes)."""

    def table(rows):
        from rich.table import Table

        t = Table("suite", "family", "params", "rungs", "n", "trials", title="preattentive evaluation suites")
        for r in rows:
            for i, f in enumerate(r["families"]):
                levels = ", ".join("-" if v is None else str(v) for v in f["levels"])
                t.add_row(r["name"] if i == 0 else "", f["family"], json.dumps(f["params"]) if f["params"] else "",
                          levels, str(f["n"]), str(f["n"] * len(f["levels"])))
            t.add_row("", f"[b]{r['blocks']} blocks[/b]", "", "", "", f"[b]{r['trials']}[/b]", end_section=True)
        return t

    emit(suite_rows(), as_json, table)


@configs_app.command("list")
def list_configs_cmd(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List the packaged study configs (`--config NAME` of demo, compare and bottleneck takes these names)."""
    from preattentive.configs import describe, list_configs, resolve_config

    rows = [{"name": n, "path": str(resolve_config(n)), "description": describe(n)} for n in list_configs()]

    def table(rows):
        from rich.table import Table

        t = Table("name", "description", title="preattentive study configs")
        for r in rows:
            t.add_row(r["name"], r["description"])
        return t

    emit(rows, as_json, table)


@configs_app.command("show")
def show_config(name: str = typer.Argument(..., help="A packaged config name, e.g. s1_curve_tracing.")) -> None:
    """Print a packaged config (commented YAML), e.g. to edit a copy: preattentive configs show demo > my.yaml."""
    from preattentive.configs import list_configs, packaged_config

    stem = name[:-5] if name.endswith(".yaml") else name
    if stem not in list_configs():
        raise fail(f"unknown config {name!r}; expected one of: {', '.join(list_configs())}")
    typer.echo(packaged_config(stem).read_text(), nl=False)
