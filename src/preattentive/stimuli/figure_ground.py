"""(being written) stimulus family module: figure_ground."""
