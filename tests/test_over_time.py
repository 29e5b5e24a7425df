"""Ratings over time: each date's board equals a direct fit on the battles up to that date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arena_stats import fit_bradley_terry
from arena_stats.boards.over_time import OVER_TIME_COLUMNS, period_cuts, ratings_over_time
from arena_stats.data.simulate import simulate_arena
from arena_stats.errors import InputError
from arena_stats.online.elo import compute_elo


@pytest.fixture(scope="module")
def arena():
    return simulate_arena(n_models=10, n_battles=8000, seed=5, days=120)


def _board(rot, date):
    return rot.at(date).set_index("model")


def test_last_date_equals_direct_fit_on_all_battles_up_to_it(arena):
    rot = ratings_over_time(arena.battles, "M")
    last = rot.dates[-1]
    direct = fit_bradley_terry(arena.battles.date_range(until=last + pd.Timedelta(days=1)))
    board = _board(rot, last)
    np.testing.assert_allclose(board["rating"].reindex(direct.models), direct.ratings, atol=1e-6)
    np.testing.assert_allclose((board["ci_upper"] - board["rating"]).reindex(direct.models),
                               1.959963984540054 * direct.se_robust, rtol=1e-5)
    assert board["battles"].sum() == 2 * len(arena.battles)
    assert list(rot.frame.columns) == OVER_TIME_COLUMNS


def test_every_date_equals_a_direct_fit_with_explicit_dates_and_ties_davidson(arena):
    dates = ["2024-02-15", "2024-03-10", "2024-04-01"]
    rot = ratings_over_time(arena.battles, dates, ties="davidson")
    assert [str(d.date()) for d in rot.dates] == dates
    for d in dates:
        direct = fit_bradley_terry(arena.battles.date_range(until=d), ties="davidson")
        board = _board(rot, d)
        assert sorted(board.index) == sorted(direct.models)
        np.testing.assert_allclose(board["rating"].reindex(direct.models), direct.ratings, atol=1e-6)


def test_window_equals_direct_fit_on_the_window(arena):
    rot = ratings_over_time(arena.battles, "W", window=4)
    d = rot.dates[-3]
    start = d + pd.Timedelta(days=1) - pd.Timedelta(weeks=4)
    direct = fit_bradley_terry(arena.battles.date_range(start, d + pd.Timedelta(days=1)))
    np.testing.assert_allclose(_board(rot, d)["rating"].reindex(direct.models), direct.ratings, atol=1e-6)
    assert not rot.cumulative and rot.window == 4


def test_elo_over_time_equals_elo_on_the_battles_so_far(arena):
    rot = ratings_over_time(arena.battles, "M", method="elo")
    for d in rot.dates:
        direct = compute_elo(arena.battles.date_range(until=d + pd.Timedelta(days=1)))
        board = _board(rot, d)
        np.testing.assert_allclose(board["rating"].reindex(direct.models), direct.ratings, atol=1e-9)
        np.testing.assert_array_equal(board["battles"].reindex(direct.models), direct.totals["battles"])
        assert board["ci_lower"].isna().all()
    win = ratings_over_time(arena.battles, "M", method="elo", window=1)
    d = win.dates[1]
    direct = compute_elo(arena.battles.date_range(win.dates[0] + pd.Timedelta(days=1), d + pd.Timedelta(days=1)))
    np.testing.assert_allclose(_board(win, d)["rating"].reindex(direct.models), direct.ratings, atol=1e-9)


def test_late_models_appear_from_their_first_battle_and_sparse_ones_are_flagged(arena):
    rot = ratings_over_time(arena.battles, "W", min_battles=50)
    ts = pd.to_datetime(arena.battles.frame["tstamp"], unit="s")
    frame = arena.battles.frame.assign(ts=ts)
    for model in arena.battles.models[:4]:
        involved = (frame["model_a"] == model) | (frame["model_b"] == model)
        first = frame.loc[involved, "ts"].min()
        rows = rot.frame[rot.frame["model"] == model]
        expected_first = first.to_period("W").end_time.normalize()
        assert rows["date"].min() == expected_first
    few = rot.frame[rot.frame["few_battles"]]
    assert len(few) > 0 and (few["battles"] < 50).all()
    assert (rot.frame.loc[~rot.frame["few_battles"], "battles"] >= 50).all()
    assert np.isfinite(rot.frame["rating"]).all()


def test_dates_without_a_finite_mle_are_fitted_with_a_ridge_and_flagged():
    # z only wins in January (no finite MLE); loses once in February
    df = pd.DataFrame({"model_a": ["x", "y", "z", "z", "z"], "model_b": ["y", "x", "x", "y", "x"],
                       "winner": ["model_a", "model_a", "model_a", "model_a", "model_b"],
                       "tstamp": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-20", "2024-01-21",
                                                 "2024-02-05"])})
    rot = ratings_over_time(df, "M")
    jan, feb = rot.at("2024-01-31"), rot.at("2024-02-29")
    assert jan["regularised"].all() and not feb["regularised"].any()
    assert np.isfinite(jan["rating"]).all() and jan["model"].iloc[0] == "z"


def test_period_cuts_label_by_last_day_and_reject_bad_frequencies():
    ts = pd.Series(pd.to_datetime(["2024-01-01 10:00", "2024-01-07 23:59", "2024-01-08 00:00"]))
    labels, cuts = period_cuts(ts, "W")
    assert [str(d.date()) for d in labels] == ["2024-01-07", "2024-01-14"]
    assert [str(d.date()) for d in cuts] == ["2024-01-08", "2024-01-15"]
    with pytest.raises(InputError, match="unknown frequency"):
        period_cuts(ts, "fortnightly")
    with pytest.raises(InputError, match="increasing"):
        period_cuts(ts, ["2024-02-01", "2024-01-01"])


def test_ratings_over_time_rejects_bad_input(arena):
    no_time = pd.DataFrame({"model_a": ["x"], "model_b": ["y"], "winner": ["tie"]})
    with pytest.raises(InputError, match="tstamp"):
        ratings_over_time(no_time)
    with pytest.raises(InputError, match="method"):
        ratings_over_time(arena.battles, method="glicko")
    with pytest.raises(InputError, match="window"):
        ratings_over_time(arena.battles, cumulative=False)
    with pytest.raises(InputError, match="window"):
        ratings_over_time(arena.battles, window=0)
