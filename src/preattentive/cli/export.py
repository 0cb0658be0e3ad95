"""``preattentive export lmms-eval``: write a suite as an lmms-eval task folder."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from preattentive.cli import app, fail

export_app = typer.Typer(help="Export suites into other tools' formats (lmms-eval).", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("lmms-eval")
def lmms_eval_cmd(
    suite: str = typer.Option("core", help="Suite name (core, quick, serial; `preattentive suites list`) or YAML."),
    n: Optional[int] = typer.Option(None, "--n", help="Trials per (family, rung); default: the suite's."),
    out: Path = typer.Option(..., "--out", "-o", help="Task folder to create (lmms-eval's --include_path)."),
    seed: Optional[int] = typer.Option(None, help="Stimulus seed; default: the suite's (as preattentive eval)."),
    family: Optional[List[str]] = typer.Option(None, "--family", "-f", help="Only these families (repeatable)."),
    template: Optional[str] = typer.Option(None, help="Prompt template with {question}, {choices}, {letters} "
                                           "(default: preattentive eval's generative prompt)."),
    max_new_tokens: int = typer.Option(16, "--max-new-tokens", help="Tokens to generate (greedy)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a previous export in --out."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Write SUITE as lmms-eval tasks: one per (family, rung), a group, Parquet data and utils.py.

    Example: preattentive export lmms-eval --suite quick --n 16 --out lmms_tasks
    """
    from preattentive.evaluation.methods import DEFAULT_TEMPLATE
    from preattentive.export import export_lmms_eval

    if n is not None and n < 1:
        raise fail(f"--n {n}: expected >= 1")
    try:
        export = export_lmms_eval(suite, out, n=n, seed=seed, families=family or None,
                                  template=template if template is not None else DEFAULT_TEMPLATE,
                                  max_new_tokens=max_new_tokens, overwrite=overwrite, progress=not quiet)
    except (ValueError, KeyError, FileExistsError, FileNotFoundError) as e:
        raise fail(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__) from None
    typer.echo(f"wrote {export.out}: group {export.group}, {len(export.tasks)} tasks, {export.n_trials} trials")
    typer.echo(f"run: lmms-eval --model llava_hf --model_args pretrained=MODEL --tasks {export.group} "
               f"--include_path {export.out} --batch_size 1")
