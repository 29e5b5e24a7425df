"""Ranks: the one rank rule, rank intervals, rank distributions and P(rank 1).

**The rule.** Given each model's rating interval ``[lower, upper]``, a model is *surely better*
than ``i`` when its lower bound exceeds ``i``'s upper bound, and *surely worse* when its upper
bound is below ``i``'s lower bound. Then

* ``rank = 1 + (number of models surely better)``: LMSYS's "Rank (UB)" -- models whose
  intervals overlap share a rank, which is what a defensible leaderboard should say;
* ``rank_lower = rank`` (the best rank the intervals allow) and
  ``rank_upper = n - (number of models surely worse)`` (the worst).

Bounds closer than :func:`tie_tolerance` (a billionth of the largest rating) count as equal,
so round-off never decides a rank.

So ``rank_lower <= rank <= rank_upper`` by construction, every board and plot takes its ranks
and tiers from here, and a board without intervals (zero-width intervals: the ratings
themselves) gets the plain competition ranking (equal ratings share the better rank). The rule
reads intervals, so shifting every rating by a constant (an anchor) changes no rank.

**The distribution.** A bootstrap also gives each model's rank in each round (1 + the number of
models strictly better in that round), their percentile interval and ``p_top``, the share of
rounds in which the model came first (:func:`rank_distribution`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._util import checks

__all__ = ["IntervalRanks", "rank_from_intervals", "rank_from_pairs", "board_ranks", "rank_ub", "rank_distribution",
           "round_ranks", "tiers", "TIE_RTOL", "tie_tolerance"]

#: Ratings (or bounds) closer than this share of the largest magnitude are equal when ranked:
#: 2.5e-6 Elo at ratings near 2,500, below the fits' own accuracy (steps of 1e-8 natural units,
#: 1.7e-6 Elo) and far above round-off. Without it, round-off decided ties: on the ATP tour at
#: l2 = 0.01, hundreds of players sit at the prior mean in a bootstrap round (no match in the
#: resample), so an interval bound of exactly that value compared with others by their last
#: bits, and two exact factorisations of the same rounds gave rank_upper 2,413 and 2,435.
TIE_RTOL = 1e-9


def tie_tolerance(*values: np.ndarray) -> float:
    """The gap below which ratings rank as equal (:data:`TIE_RTOL` of the largest finite magnitude).

    Examples
    --------
    >>> round(tie_tolerance(np.array([1000.0, -3.0])), 12)
    1e-06
    """
    top = max((float(np.abs(v[np.isfinite(v)]).max(initial=0.0)) for v in values), default=0.0)
    return TIE_RTOL * max(top, 1.0)


def rank_from_intervals(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rank, rank_lower, rank_upper)`` of each model from its rating interval (see above).

    Missing bounds (NaN) are an error: pass the ratings as both bounds for a board without
    intervals.

    Examples
    --------
    >>> rank, lo, hi = rank_from_intervals(np.array([10., 5., 0.]), np.array([12., 11., 4.]))
    >>> rank.tolist(), lo.tolist(), hi.tolist()
    ([1, 1, 3], [1, 1, 3], [2, 2, 3])
    """
    lower = np.asarray(lower, dtype=np.float64)
    upper = np.asarray(upper, dtype=np.float64)
    if lower.shape != upper.shape or lower.ndim != 1:
        raise ValueError("lower and upper must be 1-d arrays of the same length")
    if not (np.isfinite(lower).all() and np.isfinite(upper).all()):
        raise ValueError("rank intervals need finite bounds")
    n = len(lower)
    tol = tie_tolerance(lower, upper)
    # sorted bounds: "how many lower bounds exceed u" and "how many upper bounds are below l"
    # (by more than the tie tolerance)
    lo_sorted, up_sorted = np.sort(lower), np.sort(upper)
    better = n - np.searchsorted(lo_sorted, upper + tol, side="right")
    worse = np.searchsorted(up_sorted, lower - tol, side="left")
    rank = 1 + better
    return rank.astype(np.int64), rank.astype(np.int64), (n - worse).astype(np.int64)


def rank_from_pairs(n: int, above: np.ndarray, below: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rule in its pairwise form: ``(rank, rank_lower, rank_upper)`` of ``n`` models from the
    pairs known to be ordered, model ``above[k]`` surely better than ``below[k]``.

    :func:`rank_from_intervals` is this rule with "surely better" read from non-overlapping
    intervals; a simultaneous test (:mod:`~arena_stats.inference.simultaneous`) gives the pairs
    directly.

    Examples
    --------
    >>> rank, lo, hi = rank_from_pairs(3, np.array([0, 0]), np.array([1, 2]))
    >>> rank.tolist(), hi.tolist()
    ([1, 2, 2], [1, 3, 3])
    """
    above = np.asarray(above, dtype=np.int64)
    below = np.asarray(below, dtype=np.int64)
    rank = 1 + np.bincount(below, minlength=n)
    return rank, rank.copy(), n - np.bincount(above, minlength=n)


def board_ranks(rating: np.ndarray, lower: np.ndarray | None = None, upper: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`rank_from_intervals` where a model without an interval (NaN bounds, or none at
    all) counts as the zero-width interval at its rating: every board ranks this way.

    Examples
    --------
    >>> board_ranks(np.array([3.0, 1.0, 3.0]))[0].tolist()
    [1, 3, 1]
    """
    rating = np.asarray(rating, dtype=np.float64)
    lo = rating if lower is None else np.asarray(lower, dtype=np.float64)
    hi = rating if upper is None else np.asarray(upper, dtype=np.float64)
    have = np.isfinite(lo) & np.isfinite(hi)
    return rank_from_intervals(np.where(have, lo, rating), np.where(have, hi, rating))


def rank_ub(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """LMSYS "Rank (UB)": the ``rank`` of :func:`rank_from_intervals`.

    Examples
    --------
    >>> rank_ub(np.array([10., 5., 0.]), np.array([12., 11., 4.])).tolist()
    [1, 1, 3]
    """
    return rank_from_intervals(lower, upper)[0]


def round_ranks(samples: np.ndarray) -> np.ndarray:
    """Rank of each model in each round, ``(rounds, n)``: 1 + the number strictly better (by
    more than :func:`tie_tolerance`).

    A NaN rating (a model without battles in that round) ranks last.
    """
    filled = np.where(np.isfinite(samples), samples, -np.inf)
    order = np.sort(filled, axis=1)
    n = samples.shape[1]
    tol = tie_tolerance(samples)
    ranks = np.empty(samples.shape, np.int64)
    for r in range(samples.shape[0]):
        ranks[r] = n - np.searchsorted(order[r], filled[r] + tol, side="right") + 1
    return ranks


def rank_distribution(samples: np.ndarray, confidence: float = 0.95
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-round ranks, their percentile interval and P(rank = 1), from ``samples (rounds, n)``.

    Examples
    --------
    >>> s = np.array([[3.0, 2.0, 1.0], [2.0, 3.0, 1.0], [3.0, 1.0, 2.0], [3.0, 2.0, 1.0]])
    >>> ranks, lo, hi, p_top = rank_distribution(s, 0.5)
    >>> p_top.tolist()
    [0.75, 0.25, 0.0]
    """
    confidence = checks.probability("confidence", confidence)
    ranks = round_ranks(np.asarray(samples, dtype=np.float64))
    alpha = 1 - confidence
    lo = np.quantile(ranks, alpha / 2, axis=0, method="lower")
    hi = np.quantile(ranks, 1 - alpha / 2, axis=0, method="higher")
    return ranks, lo.astype(np.int64), hi.astype(np.int64), (ranks == 1).mean(axis=0)


def tiers(rank: np.ndarray) -> np.ndarray:
    """Tier of each model (0 = top): models with the same ``rank`` share a tier, numbered in
    order of rank. Plots shade the board's tiers; they are the board's ranks by construction.

    Examples
    --------
    >>> tiers(np.array([1, 1, 3, 4, 4])).tolist()
    [0, 0, 1, 2, 2]
    """
    _, inverse = np.unique(np.asarray(rank), return_inverse=True)
    return inverse.astype(np.int64)


class IntervalRanks:
    """``rank``, ``rank_lower`` and ``rank_upper`` of a result with rating intervals, by the rule.

    A mixin for results that hold ``ci_lower`` and ``ci_upper`` (Series by model) and say which
    rating they report (:meth:`_reported_rating`): the plain and online Elo bootstraps rank alike.
    """

    ci_lower: Any
    ci_upper: Any

    def _reported_rating(self) -> Any:
        raise NotImplementedError

    def _rank_series(self, k: int, name: str) -> Any:
        import pandas as pd
        rating = self._reported_rating().reindex(self.ci_lower.index).to_numpy()
        ranks = board_ranks(rating, self.ci_lower.to_numpy(), self.ci_upper.to_numpy())
        return pd.Series(ranks[k], index=self.ci_lower.index, name=name)

    @property
    def rank(self) -> Any:
        """LMSYS "Rank (UB)" from the percentile intervals (the one rank rule)."""
        return self._rank_series(0, "rank")

    @property
    def rank_lower(self) -> Any:
        """The best rank the intervals allow (equals :attr:`rank`)."""
        return self._rank_series(1, "rank_lower")

    @property
    def rank_upper(self) -> Any:
        """The worst rank the intervals allow."""
        return self._rank_series(2, "rank_upper")
