"""(being written) stimulus family module: counting."""
