"""The count bootstrap: exact multinomial draws, equivalence with the row bootstrap, coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arena_stats import bootstrap, fit_bradley_terry, load_battles
from arena_stats.data.simulate import simulate_arena
from arena_stats.inference.bootstrap import multinomial_counts, rank_summary


def test_multinomial_counts_mean_and_covariance():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(30))
    n = 500
    x = multinomial_counts(rng, n, p, 20_000)
    np.testing.assert_allclose(x.mean(axis=0), n * p, atol=5 * np.sqrt(n * p / 20_000).max() + 1e-9)
    cov = np.cov(x.T)
    theory = n * (np.diag(p) - np.outer(p, p))
    assert np.abs(cov - theory).max() < 0.08 * np.abs(theory).max()


def test_same_seed_gives_identical_numbers_and_threads_do_not_matter(small_arena):
    a = bootstrap(small_arena.battles, rounds=120, seed=7, threads=1)
    b = bootstrap(small_arena.battles, rounds=120, seed=7, threads=2)
    c = bootstrap(small_arena.battles, rounds=120, seed=8)
    assert np.array_equal(a.samples.to_numpy(), b.samples.to_numpy())
    assert not np.array_equal(a.samples.to_numpy(), c.samples.to_numpy())


@pytest.mark.parametrize("ties,l2", [("half", 0.0), ("drop", 0.0), ("half", 0.5), ("davidson", 0.0),
                                     ("rao-kupper", 0.0)])
def test_each_round_equals_a_full_fit_on_its_counts(small_arena, ties, l2):
    """Round r of the batched solver equals an independent fit on that round's counts."""
    from arena_stats.data.aggregate import aggregate
    from arena_stats.inference.bootstrap import CHUNK, _merge_tie_kinds, _RoundCounts
    pc = _merge_tie_kinds(aggregate(small_arena.battles))
    bs = bootstrap(small_arena.battles, rounds=3, seed=5, threads=1, ties=ties, l2=l2)
    rng = np.random.default_rng(np.random.SeedSequence(5).spawn(1)[0])
    tables = _RoundCounts(pc).draw(rng, 3)  # (verdict, pair, round)
    assert tables.shape == (3, pc.n_pairs, 3)
    assert (tables.sum(axis=(0, 1)) == small_arena.battles.n_battles).all()
    from dataclasses import replace
    for r in range(3):
        # the round's (pair x verdict) table, written back as cells: i won, j won, tie
        cells = replace(pc, cell_pair=np.repeat(np.arange(pc.n_pairs), 3),
                        cell_outcome=np.tile([0, 1, 2], pc.n_pairs), cell_count=tables[:, :, r].T.ravel(),
                        cell_weight=np.ones(3 * pc.n_pairs))
        refit = fit_bradley_terry(cells, ties=ties, l2=l2)
        # the round stops one chord step past |grad| <= 1e-8, the refit is polished to round-off
        np.testing.assert_allclose(bs.samples.iloc[r].to_numpy(), refit.ratings.to_numpy(), atol=1e-6)
    assert CHUNK >= 3


def test_weighted_rounds_equal_weighted_refits_on_their_drawn_counts(small_arena):
    """With per-battle weights a round resamples battles (weights attached) and refits on the
    drawn weight sums: each round equals an independent weighted fit on those sums."""
    from dataclasses import replace

    from arena_stats.data.aggregate import aggregate
    from arena_stats.inference.bootstrap import _merge_tie_kinds, _RoundCounts
    frame = small_arena.battles.to_frame()
    frame["w"] = np.random.default_rng(3).choice([0.5, 1.0, 2.0], len(frame))
    battles = load_battles(frame, weight_col="w")
    pc = _merge_tie_kinds(aggregate(battles))
    assert pc.weighted
    bs = bootstrap(battles, rounds=3, seed=5, threads=1)
    rng = np.random.default_rng(np.random.SeedSequence(5).spawn(1)[0])
    tables = _RoundCounts(pc).draw(rng, 3)
    for r in range(3):
        cells = replace(pc, cell_pair=np.repeat(np.arange(pc.n_pairs), 3),
                        cell_outcome=np.tile([0, 1, 2], pc.n_pairs), cell_count=tables[:, :, r].T.ravel(),
                        cell_weight=np.ones(3 * pc.n_pairs))
        refit = fit_bradley_terry(cells)
        np.testing.assert_allclose(bs.samples.iloc[r].to_numpy(), refit.ratings.to_numpy(), atol=1e-6)
    # the draws resample battles: on average each (pair, verdict) weight sum is the observed one
    many = _RoundCounts(pc).draw(np.random.default_rng(0), 4000)
    observed = pc.table()
    observed = np.stack([observed[:, 0], observed[:, 1], observed[:, 2] + observed[:, 3]])
    se = many.std(axis=2) / np.sqrt(many.shape[2])
    assert (np.abs(many.mean(axis=2) - observed) <= 5 * se + 1e-9).all()
    # and the rounds differ from the unweighted bootstrap's
    plain = bootstrap(small_arena.battles, rounds=3, seed=5, threads=1)
    assert not np.allclose(plain.samples.to_numpy(), bs.samples.to_numpy())


def _row_bootstrap_sd(battles, rounds, seed):
    frame = battles.to_frame()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(rounds):
        idx = rng.integers(0, len(frame), len(frame))
        out.append(fit_bradley_terry(load_battles(frame.iloc[idx])).ratings)
    return pd.DataFrame(out).std(ddof=1)


def test_count_bootstrap_widths_equal_row_bootstrap_widths():
    battles = simulate_arena(6, 4000, seed=3).battles
    rounds = 400
    sd_rows = _row_bootstrap_sd(battles, rounds, seed=1)
    sd_counts = bootstrap(battles, rounds=rounds, seed=2).samples.std(ddof=1)
    log_ratio = np.log(sd_counts / sd_rows.loc[sd_counts.index])
    se = np.sqrt(1 / rounds)  # relative s.e. of a ratio of two independent sd estimates
    assert abs(log_ratio.mean()) < 3 * se
    assert np.abs(log_ratio).max() < 4.5 * se


def test_cluster_bootstrap_is_wider_when_clusters_share_verdicts():
    """Votes copied within a cluster carry less information; clustering must see that."""
    base = simulate_arena(6, 1500, seed=4).battles.to_frame()
    copies = pd.concat([base.assign(voter=np.arange(len(base)))] * 4, ignore_index=True)
    battles = load_battles(copies)
    plain = bootstrap(battles, rounds=200, seed=1).samples.std().mean()
    clustered = bootstrap(battles, rounds=200, seed=1, cluster="voter").samples.std().mean()
    assert 1.6 < clustered / plain < 2.4  # sqrt(4) = 2


def test_one_battle_per_cluster_bootstraps_like_the_plain_bootstrap():
    """Clusters of one battle each: resampling clusters is resampling battles."""
    frame = simulate_arena(6, 3000, seed=6).battles.to_frame()
    battles = load_battles(frame.assign(voter=np.arange(len(frame))))
    rounds = 400
    sd_plain = bootstrap(battles, rounds=rounds, seed=1).samples.std(ddof=1)
    sd_cluster = bootstrap(battles, rounds=rounds, seed=2, cluster="voter").samples.std(ddof=1)
    log_ratio = np.log(sd_cluster / sd_plain)
    se = np.sqrt(1 / rounds)  # relative s.e. of a ratio of two independent sd estimates
    assert abs(log_ratio.mean()) < 3 * se
    assert np.abs(log_ratio).max() < 4.5 * se


def test_rank_summary_counts_strictly_better_models():
    ratings = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0], [2.0, 2.0, 1.0]])
    ranks, lo, hi, p_top = rank_summary(ratings, 0.95)
    assert ranks.tolist() == [[1, 2, 3], [3, 2, 1], [1, 1, 3]]
    assert p_top.tolist() == pytest.approx([2 / 3, 1 / 3, 1 / 3])


def test_intervals_contain_the_point_estimate_and_summary_reads(small_arena):
    bs = bootstrap(small_arena.battles, rounds=100, seed=0, ties="davidson")
    assert ((bs.ci_lower <= bs.point.ratings) & (bs.point.ratings <= bs.ci_upper)).all()
    assert "100 rounds" in bs.summary()
    assert list(bs.to_frame().columns) == ["model", "rating", "ci_lower", "ci_upper", "sd", "rank", "rank_lower",
                                           "rank_upper", "rank_ci_lower", "rank_ci_upper", "p_top"]
    frame = bs.to_frame()
    # the one rank rule on the percentile intervals: rank_lower <= rank <= rank_upper always
    assert (frame.rank_lower <= frame["rank"]).all() and (frame["rank"] <= frame.rank_upper).all()
    assert repr(bs).startswith("BootstrapResult(100 rounds") and len(repr(bs)) < 200
    with pytest.warns(DeprecationWarning, match="samples"):
        old = bs.ratings
    assert old is bs.samples


def test_degenerate_rounds_are_counted_not_hidden():
    frame = simulate_arena(5, 400, seed=1).battles.to_frame()
    # a model with two battles, one win and one loss: many resamples leave it without one of them
    extra = pd.DataFrame({"model_a": ["rare", "rare"], "model_b": ["model-000", "model-001"],
                          "winner": ["model_a", "model_b"]})
    battles = load_battles(pd.concat([frame, extra], ignore_index=True))
    bs = bootstrap(battles, rounds=100, seed=0)
    assert bs.n_degenerate > 0
    assert np.isfinite(bs.samples.to_numpy()).all()
    # with a prior every round has a finite estimate: none is degenerate, and a round in which
    # "rare" lost its only win is still its own exact fit (refitted with the same prior)
    prior = bootstrap(battles, rounds=100, seed=0, l2=0.5)
    assert prior.n_degenerate == 0
    assert np.isfinite(prior.samples.to_numpy()).all()
    assert prior.samples["rare"].min() < prior.point.ratings["rare"] - 100
    from dataclasses import replace

    from arena_stats.data.aggregate import aggregate
    from arena_stats.inference.bootstrap import _merge_tie_kinds, _RoundCounts, chunk_rounds
    pc = _merge_tie_kinds(aggregate(battles))
    chunk = chunk_rounds(pc.n_pairs)
    seeds = np.random.SeedSequence(0).spawn(-(-100 // chunk))
    tables = np.concatenate([_RoundCounts(pc).draw(np.random.default_rng(sd), min(chunk, 100 - k * chunk))
                             for k, sd in enumerate(seeds)], axis=2)
    worst = int(np.argmin(prior.samples["rare"].to_numpy()))
    cells = replace(pc, cell_pair=np.repeat(np.arange(pc.n_pairs), 3), cell_outcome=np.tile([0, 1, 2], pc.n_pairs),
                    cell_count=tables[:, :, worst].T.ravel(), cell_weight=np.ones(3 * pc.n_pairs))
    with pytest.warns(UserWarning, match="without the prior the MLE would not exist"):
        refit = fit_bradley_terry(cells, l2=0.5)  # that round is one where "rare" never won
    np.testing.assert_allclose(prior.samples.iloc[worst].to_numpy(), refit.ratings.to_numpy(), atol=1e-6)


@pytest.mark.slow
def test_bootstrap_and_sandwich_intervals_cover_the_truth_95_percent():
    hits_boot, hits_sand, total = 0, 0, 0
    for seed in range(200):
        sim = simulate_arena(8, 3000, seed=1000 + seed)
        bs = bootstrap(sim.battles, rounds=200, seed=seed)
        truth = sim.true_ratings.loc[bs.point.models]
        hits_boot += int(((bs.ci_lower <= truth) & (truth <= bs.ci_upper)).sum())
        se = bs.point.se_robust
        fit = bs.point.ratings
        hits_sand += int(((fit - 1.959964 * se <= truth) & (truth <= fit + 1.959964 * se)).sum())
        total += len(truth)
    assert 0.93 <= hits_boot / total <= 0.97, hits_boot / total
    assert 0.93 <= hits_sand / total <= 0.97, hits_sand / total
