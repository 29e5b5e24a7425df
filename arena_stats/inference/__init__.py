"""Layer 4, inference: the bootstrap, its exact resampling, and ranks."""
