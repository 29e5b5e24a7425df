"""Layer 7, scale: incremental state and the Dask cluster path."""
