"""The one rank rule, checked against brute force over pairs and against scipy's ranking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from arena_stats.inference.ranks import (
    board_ranks,
    rank_distribution,
    rank_from_intervals,
    rank_from_pairs,
    round_ranks,
    tiers,
)


def _random_intervals(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    centre = rng.normal(0, 30, n)
    # ties of bounds happen on real boards (rounded ratings): draw some on a grid
    half = rng.choice([0.0, 5.0, 10.0, 20.0], n)
    return np.round(centre - half), np.round(centre + half)


@pytest.mark.parametrize("seed", range(20))
def test_rank_from_intervals_equals_counting_every_pair(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    lower, upper = _random_intervals(rng, n)
    rank, rank_lower, rank_upper = rank_from_intervals(lower, upper)
    better = (lower[None, :] > upper[:, None]).sum(axis=1)  # j's lower bound above i's upper
    worse = (upper[None, :] < lower[:, None]).sum(axis=1)
    assert rank.tolist() == (1 + better).tolist()
    assert rank_lower.tolist() == rank.tolist()
    assert rank_upper.tolist() == (n - worse).tolist()
    assert np.all(rank_lower <= rank_upper)


@pytest.mark.parametrize("seed", range(10))
def test_pairwise_form_gives_the_interval_ranks_when_the_pairs_come_from_intervals(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 30))
    lower, upper = _random_intervals(rng, n)
    above, below = np.nonzero(lower[:, None] > upper[None, :])
    for got, want in zip(rank_from_pairs(n, above, below), rank_from_intervals(lower, upper)):
        assert got.tolist() == want.tolist()


def test_shifting_every_interval_changes_no_rank() -> None:
    lower, upper = _random_intervals(np.random.default_rng(7), 25)
    for got, want in zip(rank_from_intervals(lower + 1234.5, upper + 1234.5), rank_from_intervals(lower, upper)):
        assert got.tolist() == want.tolist()


def test_board_without_intervals_gets_competition_ranking() -> None:
    rating = np.array([1010.0, 990.0, 1010.0, 950.0, 990.0])
    want = stats.rankdata(-rating, method="min").astype(int)
    assert board_ranks(rating)[0].tolist() == want.tolist()
    # missing bounds for some models count as zero-width intervals at their ratings
    lower = np.array([np.nan, 980.0, 1000.0, np.nan, 985.0])
    upper = np.array([np.nan, 1000.0, 1020.0, np.nan, 995.0])
    filled_lo, filled_hi = np.where(np.isnan(lower), rating, lower), np.where(np.isnan(upper), rating, upper)
    for got, want_ in zip(board_ranks(rating, lower, upper), rank_from_intervals(filled_lo, filled_hi)):
        assert got.tolist() == want_.tolist()


def test_missing_bounds_are_an_error_for_the_interval_rule() -> None:
    with pytest.raises(ValueError, match="finite"):
        rank_from_intervals(np.array([0.0, np.nan]), np.array([1.0, 2.0]))


def test_round_ranks_equal_scipy_min_ranks_and_nan_ranks_last() -> None:
    rng = np.random.default_rng(3)
    samples = np.round(rng.normal(size=(50, 12)), 1)  # rounding makes ties
    samples[4, 2] = np.nan
    ranks = round_ranks(samples)
    for r in range(samples.shape[0]):
        filled = np.where(np.isnan(samples[r]), -np.inf, samples[r])
        assert ranks[r].tolist() == stats.rankdata(-filled, method="min").astype(int).tolist()
    assert ranks[4, 2] == 12


def test_rank_distribution_p_top_and_percentiles_by_counting() -> None:
    rng = np.random.default_rng(5)
    samples = rng.normal(size=(400, 6)) + np.arange(6)[::-1] * 0.5
    ranks, lo, hi, p_top = rank_distribution(samples, 0.9)
    assert np.allclose(p_top, [(samples.argmax(axis=1) == k).mean() for k in range(6)])
    assert np.isclose(p_top.sum(), 1.0)
    for k in range(6):
        srt = np.sort(ranks[:, k])
        assert lo[k] == srt[int(np.floor(0.05 * 399))]
        assert hi[k] == srt[int(np.ceil(0.95 * 399))]


def test_tiers_number_the_distinct_ranks_in_order() -> None:
    assert tiers(np.array([3, 1, 1, 4, 3])).tolist() == [1, 0, 0, 2, 1]


def test_round_off_never_decides_a_rank():
    """Bounds equal up to round-off (two exact solvers, two orders of summation) rank as equal:
    hundreds of players at one value, the others spread around it."""
    from arena_stats.inference.ranks import rank_from_intervals, round_ranks
    rng = np.random.default_rng(0)
    n = 600
    lower = np.where(rng.random(n) < 0.4, 1000.0, rng.uniform(700, 1300, n))
    upper = np.where(rng.random(n) < 0.4, 1000.0, lower + rng.uniform(0, 300, n))
    upper = np.maximum(upper, lower)
    noisy = [v * (1 + rng.uniform(-1e-15, 1e-15, n)) for v in (lower, upper)]
    for got, want in zip(rank_from_intervals(*noisy), rank_from_intervals(lower, upper)):
        np.testing.assert_array_equal(got, want)
    samples = np.where(rng.random((50, n)) < 0.3, 1000.0, rng.normal(1000, 100, (50, n)))
    jitter = samples * (1 + rng.uniform(-1e-15, 1e-15, samples.shape))
    np.testing.assert_array_equal(round_ranks(jitter), round_ranks(samples))
    # a nano-Elo gap is a tie, a milli-Elo gap is not
    assert rank_from_intervals(np.array([1000.0, 1000.0 + 1e-9]), np.array([1000.0, 1000.0 + 1e-9]))[0].tolist() == [1, 1]
    assert rank_from_intervals(np.array([1000.0, 1000.001]), np.array([1000.0, 1000.001]))[0].tolist() == [2, 1]
