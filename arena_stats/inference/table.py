"""The per-model board table: one builder behind every leaderboard in the package.

Bradley-Terry boards (plain, contextual, per category, per date), online Elo and Glicko-2 boards
and the plots all build their table here, from ratings, interval bounds and per-model tallies,
so they share columns, order, rank rule and tie-breaking:

``rank, model, rating, ci_lower, ci_upper, rank_lower, rank_upper, battles, wins, losses, ties,
win_rate`` -- then whatever the caller adds (``p_top`` with a bootstrap, ``se`` ...), best
first (rating descending, then model name). Ranks come from
:func:`~arena_stats.inference.ranks.rank_from_intervals`; without intervals the bounds are
empty (NaN) and the ranks are the plain order of the ratings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .ranks import board_ranks

__all__ = ["BOARD_COLUMNS", "TALLY_COLUMNS", "board_table"]

#: Tallies of every board, from :func:`~arena_stats.data.aggregate.model_totals`.
TALLY_COLUMNS = ["battles", "wins", "losses", "ties", "win_rate"]
#: The columns of every board, in order (extra columns follow).
BOARD_COLUMNS = ["rank", "model", "rating", "ci_lower", "ci_upper", "rank_lower", "rank_upper", *TALLY_COLUMNS]


def board_table(models: Sequence[str], ratings: Any, lower: Any = None, upper: Any = None,
                tallies: pd.DataFrame | None = None, extra: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The board: ranks from the intervals, tallies per model, best first.

    Parameters
    ----------
    models : sequence of str
    ratings, lower, upper : array-like or pandas.Series
        Aligned with ``models`` (a Series is aligned by its index). ``lower`` / ``upper`` may be
        ``None``: no intervals.
    tallies : pandas.DataFrame, optional
        Indexed by model, with :data:`TALLY_COLUMNS` (models missing there get NaN).
    extra : mapping, optional
        More columns (aligned like ``ratings``), appended in order.

    Examples
    --------
    >>> board_table(["a", "b", "c"], [1010.0, 990.0, 1000.0], [1005.0, 980.0, 995.0],
    ...             [1015.0, 1000.0, 1005.0])[["rank", "model", "rank_upper"]].values.tolist()
    [[1, 'a', 2], [1, 'c', 3], [2, 'b', 3]]
    """
    models = [str(m) for m in models]
    index = pd.Index(models, name="model")

    def aligned(v: Any) -> np.ndarray:
        if isinstance(v, pd.Series):
            return v.reindex(index).to_numpy(dtype=np.float64)
        return np.asarray(v, dtype=np.float64).reshape(len(models))

    rating = aligned(ratings)
    nan = np.full(len(models), np.nan)
    lo = nan if lower is None else aligned(lower)
    hi = nan if upper is None else aligned(upper)
    rank, r_lo, r_hi = board_ranks(rating, lo, hi)
    frame = pd.DataFrame({"rank": rank, "model": models, "rating": rating, "ci_lower": lo, "ci_upper": hi,
                          "rank_lower": r_lo, "rank_upper": r_hi})
    if tallies is not None:
        t = tallies.reindex(index)
        for col in TALLY_COLUMNS:
            values = t[col].to_numpy()
            if col != "win_rate" and np.isfinite(values.astype(np.float64)).all() \
                    and np.array_equal(values, np.round(values.astype(np.float64))):
                values = values.astype(np.int64)
            frame[col] = values
    for name, values in (extra or {}).items():
        frame[name] = aligned(values) if not isinstance(values, pd.Series) or \
            pd.api.types.is_numeric_dtype(values) else values.reindex(index).to_numpy()
    return frame.sort_values(["rating", "model"], ascending=[False, True], kind="stable").reset_index(drop=True)
