"""Layer 6, boards: the leaderboard, category boards and ratings over time."""
