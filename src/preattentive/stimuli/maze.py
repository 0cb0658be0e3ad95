"""(being written) stimulus family module: maze."""
