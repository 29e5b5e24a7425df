"""Per-category leaderboards: equal to fits on each subset, threshold reported, overview of ranks."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pandas as pd
import pytest

from arena_stats import InputError
from arena_stats.boards.categories import OVERALL, category_leaderboards, rank_change
from arena_stats.boards.leaderboard import leaderboard
from arena_stats.cli import main
from arena_stats.data.battles import Battles
from arena_stats.data.simulate import simulate_arena


@pytest.fixture(scope="module")
def arena():
    return simulate_arena(8, 12000, seed=21).battles


def test_each_category_board_equals_the_board_fitted_on_that_subset(arena):
    boards = category_leaderboards(arena, "category", min_category_battles=500, ci="sandwich")
    assert boards.boards
    for value, board in boards.boards.items():
        sub = arena.frame[arena.frame["category"] == value]
        direct = leaderboard(Battles(sub.reset_index(drop=True)), ci="sandwich").to_frame()
        merged = board.merge(direct, on="model", suffixes=("", "_direct"))
        assert len(merged) == len(board) == len(direct)
        assert np.allclose(merged["rating"], merged["rating_direct"], atol=1e-8)
        assert (merged["rank"] == merged["rank_direct"]).all()
        assert (merged["battles"] == merged["battles_direct"]).all()


def test_values_below_the_threshold_are_skipped_and_reported(arena):
    counts = arena.frame["language"].value_counts()
    threshold = int(counts.iloc[1]) + 1  # only the most common language qualifies
    boards = category_leaderboards(arena, "language", min_category_battles=threshold, ci="none")
    assert list(boards.boards) == [counts.index[0]]
    assert set(boards.skipped) == set(counts.index[1:].astype(str))
    report = boards.skipped_report()
    assert f"{threshold:,}" in report and str(counts.index[1]) in report
    assert boards.n_battles[counts.index[1]] == counts.iloc[1]


def test_overview_rank_change_is_overall_rank_minus_category_rank(arena):
    boards = category_leaderboards(arena, "category", min_category_battles=500, ci="sandwich")
    ov = boards.overview()
    assert list(ov.columns[:2]) == ["model", OVERALL]
    for value, board in boards.boards.items():
        ranks = board.set_index("model")["rank"]
        assert (ov.set_index("model")[value] == ranks.reindex(ov["model"]).to_numpy()).all()
        change = ov[OVERALL] - ov[value]
        assert (ov[f"{value}_change"] == change).all()
    assert (ov[OVERALL].to_numpy() == boards.overall["rank"].to_numpy()).all()


def test_list_valued_column_puts_a_battle_in_each_listed_category():
    b = simulate_arena(5, 3000, seed=22).battles
    tags = [["coding", "math"] if k % 3 == 0 else ["coding"] for k in range(len(b))]
    tagged = Battles(b.frame.assign(tags=tags))
    boards = category_leaderboards(tagged, "tags", min_category_battles=100, ci="none")
    assert boards.n_battles["coding"] == len(b)
    assert boards.n_battles["math"] == sum(1 for k in range(len(b)) if k % 3 == 0)
    assert boards.boards["coding"]["rating"].tolist() == pytest.approx(boards.overall["rating"].tolist())


def test_category_without_a_finite_mle_is_skipped_with_the_reason():
    en = pd.DataFrame({"model_a": ["x", "y", "x", "y", "z"], "model_b": ["y", "x", "z", "z", "x"],
                       "winner": ["model_a", "model_a", "model_a", "model_b", "model_a"], "lang": "en"})
    de = pd.DataFrame({"model_a": ["z", "y", "x"], "model_b": ["x", "z", "y"],  # z never loses in German
                       "winner": ["model_a", "model_b", "tie"], "lang": "de"})
    df = pd.concat([en, de], ignore_index=True)
    boards = category_leaderboards(df, "lang", min_category_battles=1, ci="none")
    assert "en" in boards.boards and "de" in boards.skipped and "no fit" in boards.skipped["de"]


def test_rank_change_is_positive_when_a_model_moves_up():
    plain = pd.DataFrame({"rank": [1, 2, 3], "model": ["a", "b", "c"], "rating": [3.0, 2.0, 1.0]})
    new = pd.DataFrame({"rank": [1, 2, 2], "model": ["c", "a", "b"], "rating": [3.0, 2.0, 1.9]})
    out = rank_change(new, plain).set_index("model")
    assert out.loc["c", "rank_change"] == 2 and out.loc["a", "rank_change"] == -1
    assert out.loc["b", "rank_change"] == 0


def test_missing_column_is_an_error(arena):
    with pytest.raises(InputError, match="languag"):
        category_leaderboards(arena, "languag")


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_cli_by_prints_one_tidy_table_and_the_overview_on_request(tmp_path):
    b = simulate_arena(6, 6000, seed=23).battles
    path = tmp_path / "battles.csv"
    b.to_frame().to_csv(path, index=False)
    base = ["leaderboard", str(path), "--by", "category", "--min-category-battles", "700", "--ci", "sandwich"]
    code, text, err = _run(base)
    assert code == 0 and "threshold: 700 battles" in err and "math" in err
    assert text.split("\n")[0].split()[:3] == ["category", "rank", "model"] and OVERALL in text
    code, text, _ = _run(base + ["--overview"])
    assert code == 0 and "coding_change" in text


@pytest.mark.parametrize("fmt", ["csv", "json", "table", "markdown"])
def test_cli_by_output_reads_back_as_one_table_in_every_format(tmp_path, fmt):
    b = simulate_arena(6, 6000, seed=23).battles
    path = tmp_path / "battles.csv"
    b.to_frame().to_csv(path, index=False)
    out = tmp_path / f"board.{fmt}"
    code, _, _ = _run(["leaderboard", str(path), "--by", "category", "--min-category-battles", "700",
                       "--ci", "sandwich", "--format", fmt, "-o", str(out), "-q"])
    assert code == 0
    boards = category_leaderboards(b, "category", min_category_battles=700, ci="sandwich")
    expected = boards.to_frame()
    if fmt == "csv":
        back = pd.read_csv(out)
    elif fmt == "json":
        back = pd.read_json(out)
    elif fmt == "markdown":
        lines = [ln for ln in out.read_text().splitlines() if ln.startswith("|") and "---" not in ln]
        cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
        back = pd.DataFrame(cells[1:], columns=cells[0])
    else:
        back = pd.read_fwf(out)
    assert list(back.columns) == list(expected.columns)
    assert len(back) == len(expected)
    assert back["category"].astype(str).tolist() == expected["category"].tolist()
    assert back["model"].astype(str).tolist() == expected["model"].tolist()
    if fmt in ("csv", "json"):
        np.testing.assert_allclose(back["rating"], expected["rating"], rtol=1e-12)


def test_cli_by_split_writes_one_file_per_category(tmp_path):
    b = simulate_arena(6, 6000, seed=23).battles
    path = tmp_path / "battles.csv"
    b.to_frame().to_csv(path, index=False)
    out = tmp_path / "board.csv"
    code, _, _ = _run(["leaderboard", str(path), "--by", "category", "--min-category-battles", "700",
                       "--ci", "sandwich", "--format", "csv", "-o", str(out), "--split", "-q"])
    assert code == 0
    boards = category_leaderboards(b, "category", min_category_battles=700, ci="sandwich")
    assert pd.read_csv(out)["model"].tolist() == boards.overall["model"].tolist()
    for name, board in boards.boards.items():
        part = pd.read_csv(tmp_path / f"board.{name}.csv")
        assert part["model"].tolist() == board["model"].tolist()
    code, _, err = _run(["leaderboard", str(path), "--by", "category", "--ci", "none", "--split"])
    assert code == 2 and "--output" in err


def test_min_battles_is_the_old_name_of_min_category_battles(arena):
    with pytest.warns(DeprecationWarning, match="is now min_category_battles="):
        old = category_leaderboards(arena, "category", min_battles=500, ci="none")
    new = category_leaderboards(arena, "category", min_category_battles=500, ci="none")
    pd.testing.assert_frame_equal(old.to_frame(), new.to_frame())
