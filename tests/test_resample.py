"""Table-inversion samplers: each draws exactly its distribution (chi-square against the pmf)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import binom, chisquare, multinomial, poisson

from arena_stats.inference.resample import (
    TABLE_MAX_MEAN,
    CategoricalTable,
    MultinomialSampler,
    PoissonTable,
    multinomial_counts,
)


def _chisquare_pvalue(draws: np.ndarray, pmf: np.ndarray) -> float:
    """Chi-square p-value of integer draws against a pmf on 0..len(pmf)-1, sparse bins pooled."""
    observed = np.bincount(draws, minlength=len(pmf)).astype(float)
    assert len(observed) == len(pmf), "a draw fell outside the support"
    expected = pmf / pmf.sum() * len(draws)
    # pool the bins with small expectations into one, so the chi-square approximation holds
    small = expected < 20
    obs = np.append(observed[~small], observed[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    keep = exp > 0
    return chisquare(obs[keep], exp[keep]).pvalue


@pytest.mark.parametrize("mean", [0.3, 7.0, 77.0, 999.0, 1.5 * TABLE_MAX_MEAN])
def test_poisson_table_draws_follow_the_poisson_pmf(mean):
    x = PoissonTable(np.array([mean, 0.0])).draw(np.random.default_rng(int(mean * 10)), 200_000)
    assert (x[:, 1] == 0).all()
    support = np.arange(int(mean + 12 * np.sqrt(mean) + 30))
    assert _chisquare_pvalue(x[:, 0], poisson.pmf(support, mean)) > 1e-3


class _FixedUniforms:
    """Stands in for a Generator: ``random(shape)`` returns the given uniforms."""

    def __init__(self, u):
        self.u = u

    def random(self, shape):
        return self.u.reshape(shape)


@pytest.mark.parametrize("mean", [0.0, 0.3, 7.0, 77.0, 640.0, 999.0])
def test_poisson_table_inverts_the_poisson_cdf_exactly_in_the_tails_too(mean):
    """Each draw is the first k with cdf(k) > u, also for u in the far tails (walk and bisection)."""
    from scipy.special import pdtr
    rng = np.random.default_rng(1)
    u = np.concatenate([rng.random(4000), 1 - 10.0 ** -rng.uniform(3, 16, 4000),
                        10.0 ** -rng.uniform(3, 300, 2000)])
    table = PoissonTable(np.array([mean]))
    got = np.empty((1, len(u)), np.int32)
    table._draw_block(_FixedUniforms(u), slice(0, 1), got)
    support = np.arange(int(mean + 20 * np.sqrt(mean) + 60))
    cdf = np.maximum.accumulate(pdtr(support, mean))
    expected = np.searchsorted(cdf, u, side="right")
    # the table is cut where a tail holds < 1e-17: beyond that u rounds to its end point (the
    # uniforms of a Generator are multiples of 2**-53, so none but 0 falls below the lower cut)
    first, last = table._start[0] - table._offset[0], table._last[0] - table._offset[0]
    np.testing.assert_array_equal(got[0], np.clip(expected, first, last))
    assert (expected > last).sum() <= (u > 1 - 1e-16).sum()
    assert (expected < first).sum() <= (u < 1e-17).sum()


def test_categorical_table_never_draws_a_zero_probability_index():
    p = np.array([0.0, 0.1, 0.0, 0.0, 0.6, 0.3, 0.0])
    idx = CategoricalTable(p).draw(np.random.default_rng(3), 100_000)
    assert set(np.unique(idx)) <= {1, 4, 5}
    assert _chisquare_pvalue(idx, p) > 1e-3


@pytest.mark.parametrize("sampler", ["table", "one-off"])
def test_multinomial_draws_match_the_exact_pmf_for_a_tiny_total(sampler):
    # n = 6: the table sampler's shrunk Poisson means are 0, so every battle is a top-up draw;
    # the one-off function draws unshrunk Poisson counts and both tops up and thins out
    p = np.array([0.5, 0.3, 0.2])
    n, draws = 6, 40_000
    rng = np.random.default_rng(0)
    x = MultinomialSampler(n, p).draw(rng, draws) if sampler == "table" else multinomial_counts(rng, n, p, draws)
    assert (x.sum(axis=1) == n).all()
    outcomes = [c for c in itertools.product(range(n + 1), repeat=3) if sum(c) == n]
    index = {c: k for k, c in enumerate(outcomes)}
    observed = np.bincount([index[tuple(r)] for r in x], minlength=len(outcomes))
    expected = multinomial.pmf(np.array(outcomes), n, p) * draws
    assert chisquare(observed, expected).pvalue > 1e-3


def test_multinomial_sampler_marginals_are_binomial_and_covariance_is_multinomial():
    counts = np.array([120.0, 0.0, 45.0, 3.0, 232.0])
    n = int(counts.sum())
    p = counts / n
    x = MultinomialSampler(n, counts).draw(np.random.default_rng(5), 60_000).astype(np.int64)
    assert (x.sum(axis=1) == n).all() and (x[:, 1] == 0).all()
    for k in (0, 2, 3, 4):
        assert _chisquare_pvalue(x[:, k], binom.pmf(np.arange(n + 1), n, p[k])) > 1e-3
    theory = n * (np.diag(p) - np.outer(p, p))
    assert np.abs(np.cov(x.T) - theory).max() < 0.05 * np.abs(theory).max()


def test_multinomial_sampler_is_reproducible_bit_for_bit():
    s = MultinomialSampler(5000, np.arange(1.0, 40.0))
    a = s.draw(np.random.default_rng(9), 7)
    b = s.draw(np.random.default_rng(9), 7)
    assert np.array_equal(a, b)


def test_poisson_table_rejects_negative_means():
    with pytest.raises(ValueError, match="non-negative"):
        PoissonTable(np.array([1.0, -2.0]))
