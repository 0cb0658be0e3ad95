"""``preattentive human export | import | simulate``: people (or simulated observers) on the very same trials."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from preattentive.cli import app, fail

human_app = typer.Typer(help="A backward-masked browser experiment on a suite's trials, and its data back in.",
                        no_args_is_help=True)
app.add_typer(human_app, name="human")


def _one_line(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


@human_app.command("export")
def export_command(
    out: Path = typer.Option(..., "--out", "-o", help="Directory for index.html, experiment.json, README.txt."),
    suite: str = typer.Option("core", help="Suite name (core, quick, serial) or a YAML file: the same trials as "
                              "`preattentive eval --suite`."),
    n: Optional[int] = typer.Option(None, "--n", help="Trials per (family, level); a multiple of the number of "
                                    "durations. Default: the suite's."),
    durations: str = typer.Option("50,100,unlimited", help="Conditions: stimulus ms (shown as whole frames) then "
                                  "the mask, and/or 'unlimited'."),
    mask: str = typer.Option("pattern", help="pattern (tiles of the family's images) | noise (its pixels)."),
    family: Optional[List[str]] = typer.Option(None, "--family", "-f", help="Only these families (repeatable)."),
    mask_ms: float = typer.Option(100.0, help="Backward-mask duration, ms."),
    fixation_ms: float = typer.Option(500.0, help="Fixation cross before each stimulus, ms."),
    display_px: int = typer.Option(256, help="Side of the shown image, CSS px (nearest-neighbour magnified)."),
    practice: int = typer.Option(6, help="Practice trials with feedback (not analysed)."),
    break_every: int = typer.Option(40, help="A self-paced break after this many test trials (0: none)."),
    lists: Optional[int] = typer.Option(None, help="Counterbalanced lists (default: one per duration)."),
    seed: int = typer.Option(0, help="Seed of the lists' trial order."),
    post_url: Optional[str] = typer.Option(None, help="POST the responses (JSON) to this URL at the end."),
    title: str = typer.Option("", help="Page title and heading."),
) -> None:
    """Write an offline jsPsych experiment showing the suite's trials (no network request leaves the page).

    Example: preattentive human export --suite serial --n 12 --durations 50,100,unlimited --mask pattern --out exp
    """
    from preattentive.human import export_experiment
    from preattentive.human.export import load_manifest

    try:
        path = export_experiment(suite, out, n=n, conditions=durations, families=family or None, post_url=post_url,
                                 title=title, mask=mask, mask_ms=mask_ms, fixation_ms=fixation_ms,
                                 display_px=display_px, practice=practice, break_every=break_every, lists=lists,
                                 seed=seed)
    except (ValueError, FileNotFoundError) as e:
        raise fail(_one_line(e)) from None
    m = load_manifest(path)
    size = (path / "index.html").stat().st_size
    typer.echo(f"experiment {m['experiment_id']}: {len(m['trials'])} trials, {len(m['lists'])} list(s) of "
               f"{len(m['lists'][0])} trials, conditions {', '.join(c['name'] for c in m['conditions'])}, "
               f"{len(m['practice'])} practice")
    typer.echo(f"page: {path / 'index.html'} ({size / 1e6:.1f} MB, offline); design: {path / 'experiment.json'}")


@human_app.command("import")
def import_command(
    files: List[Path] = typer.Argument(..., help="The .csv or .json files the page downloaded (or POSTed)."),
    out: Path = typer.Option(..., "--out", "-o", help="Study directory: rows go to OUT/eval/human-*.parquet."),
    keep_bad_timing: bool = typer.Option(False, help="Keep masked trials with a dropped frame (excluded by "
                                         "default)."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Regenerate each trial and check its key, "
                                "label and choices."),
) -> None:
    """Turn downloaded responses into evaluation rows (human:<participant>, human:pooled) beside the models'.

    Example: preattentive human import data/*.csv --out study && preattentive report study
    """
    from preattentive.human.responses import import_responses

    try:
        s = import_responses(files, out, keep_bad_timing=keep_bad_timing, verify=verify)
    except (ValueError, FileNotFoundError) as e:
        raise fail(_one_line(e)) from None
    typer.echo(f"experiment {s['experiment_id']}: {len(s['participants'])} participant(s), {s['test_trials']} test "
               f"trials, {s['excluded']['timing']} excluded for a dropped frame; {s['rows']} rows")
    if s["synthetic"]:
        typer.echo(f"SYNTHETIC participants (simulated, not people): {', '.join(s['synthetic'])}")
    typer.echo(f"models: {', '.join(s['models'])}")
    typer.echo(f"rows: {out / 'eval'}")


@human_app.command("simulate")
def simulate_command(
    experiment: Path = typer.Argument(..., help="Directory written by `human export`."),
    model: str = typer.Option(..., "--model", "-m", help="Model spec: run:DIR, hf-clip:ID_OR_DIR, hf-llava:..."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the synthetic participants' JSON files."),
    participants: int = typer.Option(1, help="Synthetic participants (participant k runs list k mod lists)."),
    method: str = typer.Option("auto", help="auto | zero-shot | generative | supervised."),
    lapse: float = typer.Option(0.0, help="Probability of a random guess instead of the model's answer."),
    steps: Optional[str] = typer.Option(None, help="Recurrent steps per condition, e.g. 50=2,unlimited=12."),
    seed: int = typer.Option(0, help="Seed of the lapses."),
    device: str = typer.Option("cpu", help="torch device."),
    batch_size: int = typer.Option(16, help="Images per forward pass."),
    half_width: float = typer.Option(0.05, help="Planning: trials per condition for a 95% CI of this half-width."),
) -> None:
    """Answer an exported experiment with a model, as synthetic participants (marked synthetic everywhere).

    Example: preattentive human simulate exp --model run:runs/hgru --participants 3 --out exp/synthetic
    """
    from preattentive.human.simulate import simulate_observers, summarize

    if batch_size < 1:
        raise fail(f"--batch-size {batch_size}: expected >= 1")
    try:
        paths = simulate_observers(experiment, model, participants=participants, out=out, method=method,
                                   lapse=lapse, steps=steps, seed=seed, device=device, batch_size=batch_size)
        table = summarize(paths, half_width=half_width)
    except (ValueError, FileNotFoundError) as e:
        raise fail(_one_line(e)) from None
    typer.echo(f"SYNTHETIC: {len(paths)} simulated participant(s) answered by {model} [{method}]")
    typer.echo(f"{'condition':<14} {'n':>5} {'accuracy':>9}  95% CI        trials for ±{half_width:g}")
    for r in table.itertuples(index=False):
        typer.echo(f"{r.condition:<14} {r.n:>5} {r.accuracy:>9.3f}  [{r.ci_lo:.2f}, {r.ci_hi:.2f}]  "
                   f"{r.trials_needed:>8}")
    for p in paths:
        typer.echo(str(p))
