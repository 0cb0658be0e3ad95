"""(being written) stimulus family module: curve_tracing."""
