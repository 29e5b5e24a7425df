"""One board per component: the board a file holding only that component gives, on every path."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pandas as pd
import pytest

from arena_stats import leaderboard, load_battles
from arena_stats.boards.components import comparison_components, component_leaderboards
from arena_stats.cli import main
from arena_stats.data.aggregate import aggregate
from arena_stats.data.simulate import simulate_arena
from arena_stats.errors import InputError, NoMLEError


def _parts() -> list[pd.DataFrame]:
    one = simulate_arena(6, 4000, seed=1).battles.to_frame()
    two = simulate_arena(4, 1500, seed=2).battles.to_frame()
    two[["model_a", "model_b"]] = "two-" + two[["model_a", "model_b"]]
    three = simulate_arena(3, 600, seed=3).battles.to_frame()
    three[["model_a", "model_b"]] = "three-" + three[["model_a", "model_b"]]
    return [one, two, three]


@pytest.fixture(scope="module")
def parts() -> list[pd.DataFrame]:
    return _parts()


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_components_equal_a_union_find_over_the_battles_numbered_by_battles():
    rng = np.random.default_rng(0)
    names = [f"m{k:02d}" for k in range(40)]
    a = rng.integers(0, 40, 60)
    b = (a + rng.integers(1, 3, 60)) % 40
    keep = rng.random(60) < 0.5
    frame = pd.DataFrame({"model_a": np.array(names)[a[keep]], "model_b": np.array(names)[b[keep]],
                          "winner": "tie"})
    parent = {m: m for m in set(frame.model_a) | set(frame.model_b)}

    def find(m):
        while parent[m] != m:
            m = parent[m]
        return m
    for x, y in zip(frame.model_a, frame.model_b):
        parent[find(x)] = find(y)
    got = comparison_components(frame)
    for x in parent:
        for y in parent:
            assert (got[x] == got[y]) == (find(x) == find(y))
    battles = pd.concat([frame.model_a, frame.model_b]).map(got).value_counts()
    assert battles.sort_index().is_monotonic_decreasing  # component 1 has the most battles


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
def test_each_components_board_is_the_board_of_that_component_alone(parts, ci):
    boards = component_leaderboards(pd.concat(parts), ci=ci, rounds=60, seed=4)
    frame = boards.to_frame()
    assert frame.columns[0] == "component" and sorted(frame["component"].unique()) == [1, 2, 3]
    for number, part in zip([1, 2, 3], parts):
        want = leaderboard(part, ci=ci, rounds=60, seed=4).to_frame()
        got = frame[frame["component"] == number].drop(columns="component").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=1e-9)


def test_counts_and_the_streamed_cli_give_the_same_boards(parts, tmp_path):
    data = pd.concat(parts)
    api = component_leaderboards(aggregate(load_battles(data)), ci="sandwich").to_frame()
    loaded = component_leaderboards(data, ci="sandwich").to_frame()
    pd.testing.assert_frame_equal(api, loaded, check_exact=False, rtol=0, atol=1e-9)
    path = tmp_path / "multi.parquet"
    data.to_parquet(path, index=False)
    code, out, err = _cli(["leaderboard", str(path), "--components", "--ci", "sandwich", "--format", "csv", "-q"])
    assert code == 0
    cli = pd.read_csv(io.StringIO(out))
    assert cli["model"].tolist() == api["model"].tolist()
    np.testing.assert_allclose(cli["rating"], api["rating"], atol=0.051)  # printed to 0.1


def test_a_component_without_ratings_is_reported_not_dropped_and_a_prior_fits_it(parts):
    solo = pd.DataFrame({"model_a": ["solo-a", "solo-a"], "model_b": ["solo-b", "solo-b"], "winner": "model_a"})
    boards = component_leaderboards(pd.concat(parts + [solo]), ci="sandwich")
    assert boards.skipped["component"].tolist() == [4]
    assert "solo-a never lost" in boards.skipped["reason"].iloc[0] and "component 4" in boards.skipped_report()
    assert "solo-a" not in set(boards.to_frame()["model"])
    with pytest.warns(UserWarning, match="without the prior the MLE would not exist"):
        with_prior = component_leaderboards(pd.concat(parts + [solo]), ci="sandwich", l2=0.1)
    assert with_prior.skipped.empty and {"solo-a", "solo-b"} <= set(with_prior.to_frame()["model"])
    small = component_leaderboards(pd.concat(parts), ci="sandwich", min_models=4)
    assert small.skipped["component"].tolist() == [3] and "fewer than 4 models" in small.skipped_report()


def test_an_anchor_and_a_reference_apply_in_their_own_component(parts):
    boards = component_leaderboards(pd.concat(parts), ci="sandwich", anchor={"two-model-001": 1500.0},
                                    reference="two-model-002")
    frame = boards.to_frame().set_index("model")
    assert frame.loc["two-model-001", "rating"] == pytest.approx(1500.0)
    assert np.isclose(frame[frame["component"] == 1]["rating"].mean(), 1000.0)
    assert frame.loc["two-model-002", "diff"] == 0 and frame[frame["component"] != 2]["diff"].isna().all()
    with pytest.raises(InputError, match="anchor model 'nobody' is not among the models"):
        component_leaderboards(pd.concat(parts), anchor={"nobody": 1.0})


def test_the_whole_file_error_points_to_components_and_the_cli_refuses_mixing_options(parts, tmp_path):
    with pytest.raises(NoMLEError, match="--components"):
        leaderboard(pd.concat(parts), ci="none")
    path = tmp_path / "multi.csv"
    pd.concat(parts).to_csv(path, index=False)
    code, out, err = _cli(["leaderboard", str(path), "--components", "--by", "language", "-q"])
    assert code == 2 and "--components fits plain boards" in err and "Traceback" not in err
    code, out, err = _cli(["leaderboard", str(path), "--components", "--ci", "none"])
    assert code == 0 and "3 components of the comparison graph" in err
