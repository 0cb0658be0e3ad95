"""(being written) CLI commands: vlm."""
