"""(being written) stimulus family module: scenes."""
