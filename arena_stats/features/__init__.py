"""Layer 2, features: numbers computed from the texts of battles (style counts, tokens, markdown)."""
