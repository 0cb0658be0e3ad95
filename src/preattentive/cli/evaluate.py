"""(being written) CLI commands: evaluate."""
