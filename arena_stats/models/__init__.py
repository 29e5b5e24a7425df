"""Layer 3, models: the likelihood families, the one solver engine, and fitted results."""
