"""Room: physiology."""
