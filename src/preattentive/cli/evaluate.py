"""``preattentive eval``: evaluate models on a suite (cached per model x trial) and print accuracy per level."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from preattentive.cli import app, fail, user_errors


@app.command("eval")
def eval_command(
    model: List[str] = typer.Option(..., "--model", "-m", help="Model spec: hf-vlm:ID_OR_DIR, hf-contrastive:ID_OR_DIR, "
                                    "hf-vision:ID_OR_DIR (aliases hf-llava:, hf-clip:), run:DIR or a preset (repeat "
                                    "for several models; `preattentive models list` shows them all)."),
    suite: str = typer.Option("core", help="Suite name (core, quick, serial) or a YAML file."),
    method: str = typer.Option("auto", help="auto | zero-shot | generative | choice-likelihood | probe | supervised "
                               "(auto: the model kind's first method)."),
    n: Optional[int] = typer.Option(None, "--n", help="Trials per (family, level); default: the suite's."),
    out: Path = typer.Option(..., "--out", "-o", help="Study directory; rows go to OUT/eval/*.parquet."),
    family: Optional[List[str]] = typer.Option(None, "--family", "-f", help="Only these families (repeatable)."),
    batch_size: int = typer.Option(16, help="Images per forward pass."),
    layer: Optional[str] = typer.Option(None, help="Probe: layer name (default: the last)."),
    step: Optional[int] = typer.Option(None, help="Probe: recurrent time step (default: the last)."),
    steps: Optional[int] = typer.Option(None, help="Supervised: recurrent iterations at test time (default: the "
                                        "net's own)."),
    template: Optional[str] = typer.Option(None, help="Generative / choice-likelihood: the question template with "
                                           "{question}, {choices}, {letters}; with {image} it is the whole prompt in "
                                           "the model's format (for checkpoints without a chat template)."),
    max_new_tokens: Optional[int] = typer.Option(None, help="Generative: tokens to generate."),
    reduce: Optional[str] = typer.Option(None, help="Choice-likelihood: mean (log-probability per choice token, the "
                                         "default) or sum (joint)."),
    device: str = typer.Option("cpu", help="torch device: cpu, cuda, cuda:N, mps or auto."),
    dtype: str = typer.Option("auto", help="auto (bf16 on a capable GPU, else fp32), float32, bfloat16, float16."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Evaluate MODEL(s) on a suite; re-running only computes the trials that are missing.

    Example: preattentive eval --model run:runs/hgru --suite core --method auto --n 200 --out study
    """
    from preattentive.evaluation import accuracy_table, evaluate

    if n is not None and n < 1:
        raise fail(f"--n {n}: expected >= 1")
    if batch_size < 1:
        raise fail(f"--batch-size {batch_size}: expected >= 1")
    opts = {k: v for k, v in dict(layer=layer, step=step, steps=steps, template=template,
                                  max_new_tokens=max_new_tokens, reduce=reduce).items() if v is not None}
    from preattentive.models.vlm_common import resolve_device, resolve_dtype

    if quiet:  # transformers' "Loading weights" bars and notices would crowd a one-line error
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    with user_errors():  # preflight of every model and the suite before the first trial is evaluated
        from preattentive.evaluation.suites import load_suite
        from preattentive.preflight import check_device

        check_device(device, option="--device")
        resolve_dtype(dtype, resolve_device(device))  # a bad dtype is one line before any model loads
        if isinstance(suite, str):
            load_suite(suite)
        for spec in model:
            check_spec_weights(spec)
    for spec in model:
        with user_errors(f"{spec}: " if len(model) > 1 else ""):
            df = evaluate(spec, suite, method=method, n=n, out=out, families=family or None, batch_size=batch_size,
                          progress=not quiet, device=device, dtype=dtype, **opts)
        if df.empty:  # every block skipped (e.g. a probe with too few trials per label): say why, on one line
            why = df.attrs.get("skipped") or ["no trials"]
            raise fail(f"{spec}: nothing evaluated, all {len(why)} blocks skipped ({why[0]}); use more trials (--n)")
        acc = accuracy_table(df)
        typer.echo(f"{spec} [{df['method'].iloc[0]}]: {df.attrs['computed']} new of {len(df)} trials")
        w = max([6, *(len(f) for f in acc["family"])])
        typer.echo(f"{'family':<{w}}  level      n  accuracy  95% CI        chance  unparsed")
        for r in acc.itertuples():
            typer.echo(f"{r.family:<{w}}  {r.level:>5}  {r.n:>5}  {r.accuracy:>8.3f}  [{r.ci_lo:.2f}, {r.ci_hi:.2f}]  "
                       f"{r.chance:>6.2f}  {r.unparsed:>8}")
        for s in df.attrs.get("skipped", [])[:5]:
            typer.echo(f"skipped: {s}")
        typer.echo(f"rows: {df.attrs['path']}")


def check_spec_weights(spec: str) -> None:
    """A model spec's weights on disk, checked before loading: its run record and every safetensors file whole.

    Hub ids not on disk are left to the loader (which reports them on one line).
    """
    from pathlib import Path

    from preattentive.evaluation.specs import parse_spec
    from preattentive.models.vlm_common import model_dir_of
    from preattentive.preflight import check_weights

    s = parse_spec(spec)
    target = Path(s.target).expanduser()
    if target.is_dir():
        local = model_dir_of(target)  # reads (and checks) run.json when it is a run folder
        if local is not None:
            check_weights(local)
