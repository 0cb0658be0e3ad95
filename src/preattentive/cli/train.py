"""``preattentive train ...``: the training sub-app; each model family registers its command on ``train_app``."""

from __future__ import annotations

import typer

from preattentive.cli import app

train_app = typer.Typer(help="Train models (supervised nets, CLIP, LLaVA).", no_args_is_help=True)
app.add_typer(train_app, name="train")
