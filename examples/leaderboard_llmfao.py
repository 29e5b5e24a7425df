"""A Bradley-Terry leaderboard of the LLMFAO crowd votes (real data), four ways.

Run from the project root (the data lives in ../shared/data):

    python examples/leaderboard_llmfao.py

It prints the top of the leaderboard with bootstrap intervals, compares the four tie
conventions by log-likelihood and tie parameter, and shows how much a voter-clustered
bootstrap widens the intervals (124 crowd workers cast the 8,931 votes).
"""

from __future__ import annotations

import sys
from pathlib import Path

from arena_stats import bootstrap, fit_bradley_terry, leaderboard, load_battles

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "llmfao" / "crowd-comparisons.csv"


def main() -> int:
    if not DATA.exists():
        print(f"data not found at {DATA}", file=sys.stderr)
        return 1
    battles = load_battles(DATA)  # left/right/tie columns are detected automatically
    print(battles)
    board = leaderboard(battles, rounds=1000, seed=0)
    print(board.head(10).to_string(index=False, float_format=lambda x: f"{x:.1f}"))

    print("\ntie convention   log-likelihood   tie parameter")
    for ties in ("half", "drop", "davidson", "rao-kupper"):
        fit = fit_bradley_terry(battles, ties=ties)
        extra = f"{fit.tie_param:.3f} +- {fit.tie_param_se:.3f}" if fit.tie_param else "-"
        print(f"{ties:<16} {fit.loglik:14.1f}   {extra}")

    plain = bootstrap(battles, rounds=500, seed=0)
    clustered = bootstrap(battles, rounds=500, seed=0, cluster="worker")
    ratio = ((clustered.ci_upper - clustered.ci_lower) / (plain.ci_upper - plain.ci_lower)).median()
    print(f"\nmedian interval width, clustered by worker / plain: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
