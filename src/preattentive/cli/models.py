"""``preattentive models list``: every model kind, preset, net and run kind, with what each supports."""

from __future__ import annotations

import json

import typer

from preattentive.cli import app

models_app = typer.Typer(help="The model kinds, presets and nets this toolkit can build, load and evaluate.",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")


def catalogue() -> dict:
    """Kinds (from :mod:`preattentive.models.kinds`), evaluation presets, per-kind build presets and nets."""
    from preattentive.evaluation.specs import PRESETS
    from preattentive.models.kinds import list_kinds, resolve

    kinds = []
    for k in list_kinds():
        served = k.served()
        kinds.append({
            "kind": k.name, "summary": k.summary, "spec": f"{k.name}:ID_OR_DIR" if k.scheme else "run:DIR",
            "aliases": list(k.aliases), "run_kinds": list(k.run_kinds), "methods": list(k.methods),
            "auto": k.auto_method, "model_types": sorted(served) if served is not None else None,
            "build_presets": list(resolve(k.presets)()) if k.presets else [], "recorder": k.recorder or "",
            "trainer": k.trainer or "", "notes": dict(k.notes)})
    presets = {p: PRESETS.get(p) for p in PRESETS.list()}
    return {"kinds": kinds, "presets": presets}


@models_app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the text listing."),
    all_types: bool = typer.Option(False, "--all-types", help="List every model_type a kind serves (default: 12)."),
) -> None:
    """Print every model kind (spec scheme, methods, served model types, build presets, trainer, recorder),
    the pretrained presets and the run kinds.

    Example: preattentive models list --json
    """
    cat = catalogue()
    if as_json:
        typer.echo(json.dumps(cat, indent=1))
        return
    for k in cat["kinds"]:
        alias = f" (aliases: {', '.join(a + ':' for a in k['aliases'])})" if k["aliases"] else ""
        typer.echo(f"{k['spec']}{alias}\n  {k['summary']}")
        typer.echo(f"  methods: {', '.join(k['methods'])} (auto: {k['auto']})")
        types = k["model_types"]
        if types is not None:
            shown = types if all_types or len(types) <= 12 else types[:12] + [f"... {len(types) - 12} more"]
            typer.echo(f"  model types: {', '.join(shown)}")
        if k["run_kinds"]:
            typer.echo(f"  run kinds: {', '.join(k['run_kinds'])} (run.json \"kind\")")
        if k["build_presets"]:
            typer.echo(f"  build presets: {', '.join(k['build_presets'])}")
        typer.echo(f"  trained by: {k['trainer'] or '-'}; units recorded by: {k['recorder'] or '-'}")
        for key, note in k["notes"].items():
            typer.echo(f"  {key}: {note}")
    typer.echo("pretrained presets (weights must be in the local Hugging Face cache):")
    for p, spec in cat["presets"].items():
        typer.echo(f"  {p:<18} {spec}")
