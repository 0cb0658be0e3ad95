"""(being written) stimulus family module: hard_boundary."""
