"""(being written) stimulus family module: search."""
