"""The leaderboard table: columns, LMSYS Rank (UB), interval methods, tallies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arena_stats import leaderboard, load_battles
from arena_stats.boards.leaderboard import BOOTSTRAP_COLUMNS, LEADERBOARD_COLUMNS, rank_ub
from arena_stats.data.aggregate import aggregate, model_totals, pairwise_matrices


def test_bootstrapped_board_has_the_documented_columns(small_arena):
    result = leaderboard(small_arena.battles, rounds=100)
    board = result.to_frame()
    assert list(board.columns) == LEADERBOARD_COLUMNS + BOOTSTRAP_COLUMNS
    assert result.bootstrap is not None and result.fit.models == sorted(board["model"])
    assert repr(result).startswith("Leaderboard(") and "<table" in result._repr_html_()
    assert "Leaderboard" in result.summary()
    assert board["rating"].is_monotonic_decreasing
    assert (board["ci_lower"] <= board["rating"]).all() and (board["rating"] <= board["ci_upper"]).all()
    assert board.attrs["rounds"] == 100 and board.attrs["ties"] == "half"


@pytest.mark.parametrize("ci", ["sandwich", "fisher", "none"])
def test_closed_form_boards_have_no_bootstrap_columns(small_arena, ci):
    board = leaderboard(small_arena.battles, ci=ci).to_frame()
    assert list(board.columns) == LEADERBOARD_COLUMNS
    # the one rank rule: rank_lower <= rank <= rank_upper, by construction
    assert (board.rank_lower <= board["rank"]).all() and (board["rank"] <= board.rank_upper).all()


def test_sandwich_interval_is_rating_plus_minus_z_se(small_arena):
    result = leaderboard(small_arena.battles, ci="sandwich", confidence=0.9)
    board, fit = result.to_frame(), result.fit
    se = fit.se_robust.loc[board["model"]].to_numpy()
    np.testing.assert_allclose(board["ci_upper"] - board["rating"], 1.6448536 * se, rtol=1e-6)


def test_return_results_still_works_and_warns(small_arena):
    with pytest.warns(DeprecationWarning, match="return_results"):
        board, fit, boot = leaderboard(small_arena.battles, ci="sandwich", return_results=True)
    assert isinstance(board, pd.DataFrame) and boot is None and fit.models == sorted(board["model"])


def test_rank_ub_is_one_plus_models_statistically_better():
    lo = np.array([100.0, 95.0, 80.0, 50.0])
    hi = np.array([110.0, 105.0, 99.0, 60.0])
    # model 2's upper bound 99 is below model 0's lower bound 100 only
    assert rank_ub(lo, hi).tolist() == [1, 1, 2, 4]


def test_tallies_count_battles_wins_losses_and_ties():
    df = pd.DataFrame({"model_a": ["x", "x", "y", "z"], "model_b": ["y", "z", "z", "x"],
                       "winner": ["model_a", "tie", "tie (bothbad)", "model_a"]})
    t = model_totals(load_battles(df))
    assert t.loc["x"].tolist() == [3, 1, 1, 1, 0.5]
    assert t.loc["z"].tolist() == [3, 1, 0, 2, (1 + 1) / 3]


def test_pairwise_matrices_are_consistent(small_arena):
    frac, count = pairwise_matrices(small_arena.battles)
    np.testing.assert_allclose(count.to_numpy(), count.to_numpy().T)
    met = count.to_numpy() > 0
    np.testing.assert_allclose((frac + frac.T).to_numpy()[met], 1.0)
    assert count.to_numpy().sum() / 2 == len(small_arena.battles)


def test_aggregate_table_equals_a_direct_count(small_arena):
    b = small_arena.battles
    pc = aggregate(b)
    frame = b.to_frame()
    for k in range(0, pc.n_pairs, 7):
        i, j = pc.models[pc.i[k]], pc.models[pc.j[k]]
        fwd = frame[(frame.model_a == i) & (frame.model_b == j)]
        rev = frame[(frame.model_a == j) & (frame.model_b == i)]
        direct = [
            (fwd.winner == "model_a").sum() + (rev.winner == "model_b").sum(),
            (fwd.winner == "model_b").sum() + (rev.winner == "model_a").sum(),
            (fwd.winner == "tie").sum() + (rev.winner == "tie").sum(),
            (fwd.winner == "tie (bothbad)").sum() + (rev.winner == "tie (bothbad)").sum(),
        ]
        assert pc.table()[k].tolist() == direct


def test_realistic_example_board_recovers_planted_order():
    from arena_stats.data.simulate import simulate_arena
    sim = simulate_arena()
    board = leaderboard(sim.battles, ci="sandwich").to_frame()
    truth = sim.true_ratings.loc[board["model"]].to_numpy()
    assert np.corrcoef(board["rating"], truth)[0, 1] > 0.98
