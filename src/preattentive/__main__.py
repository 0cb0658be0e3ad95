"""``python -m preattentive`` runs the CLI."""

from preattentive.cli import main

main()
