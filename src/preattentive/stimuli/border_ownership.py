"""(being written) stimulus family module: border_ownership."""
