"""(being written) CLI commands: report."""
