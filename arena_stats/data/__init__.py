"""Layer 1, data: battle records, readers, streaming, and the reduction to pair counts."""
