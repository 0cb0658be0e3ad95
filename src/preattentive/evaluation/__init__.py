"""Room: evaluation."""
