"""Layer 5, online ratings: Elo and Glicko-2 in time order."""
