"""(being written) CLI commands: demo."""
