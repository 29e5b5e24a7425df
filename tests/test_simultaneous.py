"""Simultaneous separation: the max-t critical value against closed forms and simulation, the
family-wise guarantee, P(A > B) and the tiers of the one rank rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr
from scipy.stats import studentized_range

from arena_stats import fit_bradley_terry, leaderboard
from arena_stats.data.simulate import simulate_arena
from arena_stats.errors import InputError
from arena_stats.inference.bootstrap import percentile_interval
from arena_stats.inference.ranks import tiers
from arena_stats.inference.simultaneous import (
    PAIR_COLUMNS,
    _from_bootstrap,
    max_t_critical_value,
    pair_index,
    separation,
)


@pytest.mark.parametrize("k", [4, 10])
def test_max_t_critical_value_equals_tukeys_studentized_range_for_exchangeable_ratings(k):
    """Ratings that sum to zero with exchangeable errors (a balanced round robin): every
    difference is e_a - e_b of independent errors, so max |t| is the range over sqrt(2)."""
    cov = np.eye(k) - 1.0 / k
    c = max_t_critical_value(cov, 0.95, draws=60_000, seed=3)
    assert c == pytest.approx(studentized_range.ppf(0.95, k, np.inf) / np.sqrt(2), abs=0.03)


def test_bootstrap_max_t_matches_the_normal_max_t_on_gaussian_rounds():
    """Rounds drawn from the normal of a real fit's covariance: the bootstrap's max-t critical
    value and the covariance path's agree (two computations of one quantile)."""
    fit = fit_bradley_terry(simulate_arena(9, 4000, seed=7).battles)
    cov = fit.cov.to_numpy()
    rng = np.random.default_rng(0)
    w, v = np.linalg.eigh(cov)
    samples = fit.ratings.to_numpy() + rng.standard_normal((8000, 9)) @ (v * np.sqrt(np.clip(w, 0, None))).T
    a, b = pair_index(9)
    r = fit.ratings.to_numpy()
    se, lo, hi, c_boot, p = _from_bootstrap(samples, r[a] - r[b], a, b, 0.95)
    c_cov = max_t_critical_value(cov, 0.95, draws=40_000, seed=1)
    assert c_boot == pytest.approx(c_cov, abs=0.06)
    d = np.diag(cov)
    np.testing.assert_allclose(se, np.sqrt(d[a] + d[b] - 2 * cov[a, b]), rtol=0.03)


@pytest.fixture(scope="module")
def boards():
    out = {}
    for n, battles, seed in ((2, 600, 1), (3, 900, 2), (8, 5000, 3), (20, 12000, 4)):
        sim = simulate_arena(n, battles, seed=seed)
        out[n] = {ci: leaderboard(sim.battles, ci=ci, rounds=300, seed=seed) for ci in ("bootstrap", "sandwich",
                                                                                       "fisher")}
    return out


@pytest.mark.parametrize("ci", ["bootstrap", "sandwich", "fisher"])
@pytest.mark.parametrize("n", [2, 3, 8, 20])
def test_simultaneous_separation_is_never_less_conservative_than_marginal(boards, n, ci):
    sep = separation(boards[n][ci], draws=4000)
    p = sep.pairs
    assert list(p.columns) == PAIR_COLUMNS and len(p) == n * (n - 1) // 2
    assert (p.sim_lower <= p.ci_lower + 1e-9).all() and (p.sim_upper >= p.ci_upper - 1e-9).all()
    assert not (p.separated_simultaneous & ~p.separated).any()
    if ci != "bootstrap":  # from a covariance, c is at least the one-pair z by construction
        assert sep.critical_value >= 1.959
    # more pairs, a larger price for looking at all of them
    if n >= 8:
        assert sep.critical_value > 2.9


def test_marginal_intervals_are_the_boards_reference_intervals(boards):
    """The marginal answer is the one the board gives with reference= (one answer per question)."""
    for ci in ("bootstrap", "sandwich"):
        board = boards[8][ci]
        sep = separation(board)
        top = sep.models[0]
        ref = leaderboard(board.fit.counts, ci=ci, rounds=300, seed=3, reference=top).frame.set_index("model")
        rows = sep.pairs[sep.pairs.model_a == top].set_index("model_b")
        # the reference board reports rating(m) - rating(top): the negated difference
        np.testing.assert_allclose(-rows["ci_upper"], ref.loc[rows.index, "diff_ci_lower"], atol=1e-8)
        np.testing.assert_allclose(-rows["ci_lower"], ref.loc[rows.index, "diff_ci_upper"], atol=1e-8)


def test_family_wise_coverage_of_a_planted_truth():
    """Over simulated arenas with known ratings, the sandwich max-t intervals cover every true
    difference at once about 95 % of the time; the marginal ones do not."""
    all_sim, all_marg = [], []
    for seed in range(60):
        sim = simulate_arena(8, 3000, seed=100 + seed)
        fit = fit_bradley_terry(sim.battles)
        sep = separation(fit, draws=3000, seed=seed)
        truth = sim.true_ratings
        d = truth[sep.pairs.model_a].to_numpy() - truth[sep.pairs.model_b].to_numpy()
        all_sim.append(bool(((sep.pairs.sim_lower <= d) & (d <= sep.pairs.sim_upper)).all()))
        all_marg.append(bool(((sep.pairs.ci_lower <= d) & (d <= sep.pairs.ci_upper)).all()))
    assert np.mean(all_sim) >= 0.85
    assert np.mean(all_marg) < np.mean(all_sim) - 0.15


def test_p_greater_is_the_share_of_rounds_or_phi_of_z(boards):
    board = boards[8]["bootstrap"]
    sep = separation(board)
    s = board.bootstrap.samples
    row = sep.pairs.iloc[3]
    share = float((s[row.model_a] > s[row.model_b]).mean() + 0.5 * (s[row.model_a] == s[row.model_b]).mean())
    assert row.p_greater == pytest.approx(share)
    sep_s = separation(boards[8]["sandwich"])
    np.testing.assert_allclose(sep_s.pairs.p_greater, ndtr(sep_s.pairs["diff"] / sep_s.pairs.se))
    m = sep_s.prob_greater()
    np.testing.assert_allclose(m.to_numpy() + m.to_numpy().T, 1.0)


def test_tiers_follow_the_one_rank_rule(boards):
    sep = separation(boards[20]["bootstrap"])
    above = {m: 0 for m in sep.models}
    for r in sep.pairs[sep.pairs.separated_simultaneous].itertuples():
        above[r.model_b] += 1
    rank = np.array([1 + above[m] for m in sep.models])
    assert sep.rank.tolist() == rank.tolist()
    assert sep.tier.tolist() == (tiers(rank) + 1).tolist()
    frame = sep.to_frame()
    assert frame["above_simultaneous"].tolist() == (rank - 1).tolist()
    assert (frame["above_marginal"] >= frame["above_simultaneous"]).all()


def test_clear_gaps_give_one_tier_per_group():
    """Three groups of models far apart, equal within: three tiers, in order."""
    rng = np.random.default_rng(0)
    truth = np.repeat([300.0, 0.0, -300.0], 3)
    rows = []
    for _ in range(9000):
        a, b = rng.choice(9, 2, replace=False)
        p = 1 / (1 + 10 ** ((truth[b] - truth[a]) / 400))
        rows.append((f"m{a}", f"m{b}", "model_a" if rng.random() < p else "model_b"))
    battles = pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])
    sep = separation(leaderboard(battles, ci="sandwich"))
    groups = [sorted(sep.tier.index[sep.tier == t]) for t in (1, 2, 3)]
    assert groups == [["m0", "m1", "m2"], ["m3", "m4", "m5"], ["m6", "m7", "m8"]]


def test_same_seed_same_critical_value_and_bad_sources_are_refused(boards):
    fit = boards[8]["sandwich"].fit
    assert separation(fit, seed=5, draws=2000).critical_value == separation(fit, seed=5, draws=2000).critical_value
    with pytest.raises(InputError, match="Leaderboard"):
        separation(pd.DataFrame())
    with pytest.raises(InputError, match="bootstrap"):
        separation(boards[8]["sandwich"], method="bootstrap")
    with pytest.raises(InputError, match="method"):
        separation(fit, method="tukey")


def test_percentile_interval_reused_for_the_marginal_bootstrap_interval(boards):
    board = boards[3]["bootstrap"]
    sep = separation(board)
    s = board.bootstrap.samples
    r = sep.pairs.iloc[0]
    lo, hi = percentile_interval((s[r.model_a] - s[r.model_b]).to_numpy()[:, None], 0.95)
    assert (r.ci_lower, r.ci_upper) == pytest.approx((lo[0], hi[0]))
