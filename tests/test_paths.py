"""The same battles give the same numbers on every path: API, CLI, update, plot, contextual, Dask.

One engine, one board builder, one rank rule: ratings, intervals and ranks must agree between
``leaderboard()``, ``arena-stats leaderboard``, ``arena-stats update``, the forest plot, a
contextual fit without covariates and the Dask reduction -- for the closed-form intervals and
for the bootstrap (the same seed gives the same rounds on every path).
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pandas as pd
import pytest

from arena_stats import fit_bradley_terry, leaderboard
from arena_stats.cli import main
from arena_stats.data.simulate import simulate_arena

COLUMNS = ["rank", "model", "rating", "ci_lower", "ci_upper", "rank_lower", "rank_upper", "battles"]


@pytest.fixture(scope="module")
def arena(tmp_path_factory):
    sim = simulate_arena(12, 6000, seed=31)
    path = tmp_path_factory.mktemp("paths") / "battles.csv"
    sim.battles.to_frame().to_csv(path, index=False)
    return sim.battles, path


def _cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    assert code == 0, err.getvalue()
    return pd.read_csv(io.StringIO(out.getvalue()))


def _same(a: pd.DataFrame, b: pd.DataFrame, atol: float = 1e-9):
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    assert a["model"].tolist() == b["model"].tolist()
    for col in ("rank", "rank_lower", "rank_upper", "battles"):
        assert a[col].tolist() == b[col].tolist(), col
    for col in ("rating", "ci_lower", "ci_upper"):
        np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=0, atol=atol, err_msg=col)


@pytest.mark.parametrize("ci", ["sandwich", "fisher", "bootstrap"])
def test_api_cli_and_update_give_the_same_board(arena, tmp_path, ci):
    battles, path = arena
    opts = ["--ci", ci, "--rounds", "60", "--seed", "7", "--format", "csv", "-q"]
    api = leaderboard(battles, ci=ci, rounds=60, seed=7).to_frame()
    cli = _cli(["leaderboard", str(path), *opts])
    upd = _cli(["update", str(tmp_path / f"state-{ci}.npz"), str(path), "--new", *opts])
    _same(api, cli)
    _same(api, upd)


@pytest.fixture
def reader_spy(monkeypatch):
    """The ``keep=`` of every call of the CLI's reader (which columns it loads), in order."""
    from arena_stats.cli import common
    calls: list = []
    real = common.load_battles

    def spy(*args, **kwargs):
        calls.append(kwargs.get("keep"))
        return real(*args, **kwargs)
    monkeypatch.setattr(common, "load_battles", spy)
    return calls


def test_the_forest_plot_draws_the_board(arena):
    from arena_stats.plots import plot_leaderboard
    battles, _ = arena
    board = leaderboard(battles, ci="sandwich", confidence=0.8, anchor={"model-003": 1200.0})
    fig = plot_leaderboard(board)
    ax = fig.axes[0]
    frame = board.to_frame()
    assert [t.get_text() for t in ax.get_yticklabels()] == frame["model"].tolist()
    drawn = next(ln for ln in ax.lines if ln.get_marker() == "o").get_xdata()
    np.testing.assert_allclose(drawn, frame["rating"].to_numpy(), rtol=0, atol=1e-9)
    segments = ax.collections[0].get_segments()
    np.testing.assert_allclose([s[0][0] for s in segments], frame["ci_lower"], atol=1e-9)
    np.testing.assert_allclose([s[1][0] for s in segments], frame["ci_upper"], atol=1e-9)
    # the rank labels on the right are the board's ranks
    labels = [t.get_text() for t in fig.axes[0].child_axes[0].get_yticklabels()] if fig.axes[0].child_axes else []
    shown = [int(t.split()[1]) for t in labels if t]
    assert shown == [r for k, r in enumerate(frame["rank"]) if k == 0 or frame["rank"].iloc[k - 1] != r]


def test_the_plot_command_draws_the_board_of_its_options(arena, tmp_path):
    import argparse

    from arena_stats.cli.plot import make_figure
    battles, _ = arena
    args = argparse.Namespace(ties="half", l2=0.0, scale=400.0, base=10.0, init=1000.0, anchor="model-003=1200",
                              ci="sandwich", rounds=1000, seed="0", confidence=0.8, cluster=None, top=None,
                              style="default", quiet=True, elo=False, violin=False)
    fig = make_figure("leaderboard", battles, args)
    frame = leaderboard(battles, ci="sandwich", confidence=0.8, anchor={"model-003": 1200.0}).to_frame()
    np.testing.assert_allclose(next(ln for ln in fig.axes[0].lines if ln.get_marker() == "o").get_xdata(), frame["rating"].to_numpy(), atol=1e-9)


@pytest.mark.parametrize("ci", ["sandwich", "fisher", "bootstrap"])
def test_a_board_without_covariates_is_the_plain_board(arena, ci):
    battles, _ = arena
    plain = leaderboard(battles, ci=ci, rounds=40, seed=2).to_frame()
    _same(plain, leaderboard(battles, covariates=[], ci=ci, rounds=40, seed=2).to_frame())


@pytest.mark.parametrize("ties", ["half", "davidson"])
def test_a_contextual_fit_without_covariates_equals_the_plain_fit(arena, ties):
    from arena_stats import fit_bradley_terry
    from arena_stats.models.contextual import fit_contextual
    battles, _ = arena
    ctx, plain = fit_contextual(battles, None, ties), fit_bradley_terry(battles, ties)
    np.testing.assert_allclose(ctx.ratings.to_numpy(), plain.ratings.to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ctx.se.to_numpy(), plain.se.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(ctx.se_robust.to_numpy(), plain.se_robust.to_numpy(), rtol=1e-9)
    for a, b in zip(ctx.intervals(0.9), plain.intervals(0.9)):
        np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-8)


def test_dask_gives_the_local_fit_and_bootstrap(arena):
    pytest.importorskip("dask.dataframe")
    import dask
    import dask.dataframe as dd

    from arena_stats import bootstrap, fit_bradley_terry
    from arena_stats.scale.distributed import fit_dask, pair_counts_dask
    battles, _ = arena
    frame = battles.to_frame()
    with dask.config.set(scheduler="synchronous"):
        counts = pair_counts_dask(dd.from_pandas(frame, npartitions=4))
        remote = fit_dask(counts)
    local = fit_bradley_terry(battles)
    np.testing.assert_allclose(remote.ratings.to_numpy(), local.ratings.to_numpy(), rtol=0, atol=1e-9)
    a, b = bootstrap(counts, rounds=30, seed=5), bootstrap(battles, rounds=30, seed=5)
    np.testing.assert_array_equal(a.samples.to_numpy(), b.samples.to_numpy())


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
def test_intervals_and_ranks_do_not_depend_on_the_anchor(arena, ci):
    """An anchor is a pure shift: for every choice of anchor model, every rating and bound moves
    by one constant, widths and ranks stay."""
    battles, _ = arena
    base = leaderboard(battles, ci=ci, rounds=80, seed=4).to_frame().set_index("model")
    for model in base.index[::3]:
        board = leaderboard(battles, ci=ci, rounds=80, seed=4, anchor={model: 1500.0}).to_frame().set_index("model")
        board = board.loc[base.index]
        shift = board["rating"] - base["rating"]
        assert board.loc[model, "rating"] == pytest.approx(1500.0, abs=1e-9)
        assert np.ptp(shift.to_numpy()) < 1e-9
        for col in ("ci_lower", "ci_upper"):
            np.testing.assert_allclose((board[col] - base[col]).to_numpy(), shift.to_numpy(), atol=1e-9)
        for col in ("rank", "rank_lower", "rank_upper"):
            assert board[col].tolist() == base[col].tolist()


def test_reference_gives_intervals_of_differences_and_changes_nothing_else(arena):
    battles, _ = arena
    plain = leaderboard(battles, ci="sandwich").to_frame()
    ref = leaderboard(battles, ci="sandwich", reference="model-004").to_frame()
    _same(plain, ref[plain.columns])
    row = ref.set_index("model")
    assert row.loc["model-004", "diff"] == 0.0 and row.loc["model-004", "diff_ci_lower"] == 0.0
    np.testing.assert_allclose(row["diff"], row["rating"] - row.loc["model-004", "rating"], atol=1e-9)
    # the difference's interval is not the difference of the two marginal intervals
    assert ((row["diff_ci_upper"] - row["diff_ci_lower"]) > 0).sum() == len(row) - 1


def test_every_board_format_reads_back(arena, tmp_path):
    battles, path = arena
    api = leaderboard(battles, ci="sandwich").to_frame()
    out = tmp_path / "board.json"
    assert main(["leaderboard", str(path), "--ci", "sandwich", "--format", "json", "-o", str(out), "-q"]) == 0
    back = pd.read_json(out)
    _same(api, back)


def test_old_cli_spellings_still_work(arena):
    battles, path = arena
    new = _cli(["leaderboard", str(path), "--rounds", "30", "--l2", "0.1", "--format", "csv", "-q"])
    old = _cli(["leaderboard", str(path), "--bootstrap", "30", "--prior", "0.1", "--format", "csv", "-q"])
    _same(new, old)
    a = _cli(["matrix", str(path), "--top", "4", "--format", "csv", "-q"])
    b = _cli(["matrix", str(path), "--top-k", "4", "--format", "csv", "-q"])
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("filters", [[], ["--exclude", "model-003", "--min-battles", "900"], ["--drop-ties"]])
def test_the_cli_streams_and_gives_the_loaded_board(arena, tmp_path, monkeypatch, filters):
    """Without row-level options the command reads through the streaming reducer; the numbers are
    those of loading the rows and filtering them."""
    battles, path = arena
    frame = battles.to_frame()
    folder = tmp_path / "parts"
    folder.mkdir()
    for k in range(3):
        frame.iloc[k::3].to_parquet(folder / f"part-{k}.parquet", index=False)
    (folder / "_SUCCESS").write_text("")
    from arena_stats import filter_battles
    from arena_stats.data import readers
    loaded = filter_battles(readers.load_battles(folder), exclude=filters[1:2] if "--exclude" in filters else (),
                            min_battles=900 if "--min-battles" in filters else 0, drop_ties="--drop-ties" in filters)
    want = leaderboard(loaded, ci="sandwich").to_frame()

    def refuse(*args, **kwargs):
        raise AssertionError("the rows were loaded")
    monkeypatch.setattr("arena_stats.cli.common.load_battles", refuse)
    got = _cli(["leaderboard", str(folder), "--ci", "sandwich", *filters, "--format", "csv", "-q"])
    _same(want, got)
    counts = _cli(["matrix", str(folder), "--kind", "counts", *filters, "--format", "csv", "-q"])
    # each battle is in the matrix twice ([a, b] and [b, a]) and in the board twice (once per model)
    assert counts.drop(columns="model").to_numpy().sum() == want["battles"].sum()
    from arena_stats.inference.planning import next_pairs
    plan = next_pairs(fit_bradley_terry(loaded), 500).pairs
    streamed_plan = _cli(["next-pairs", str(folder), "--budget", "500", *filters, "--format", "csv", "-q"])
    assert streamed_plan[["model_a", "model_b", "battles"]].values.tolist() == \
        plan[["model_a", "model_b", "battles"]].values.tolist()


def test_row_level_filters_load_the_rows_they_need(arena, monkeypatch, reader_spy):
    battles, path = arena
    calls = reader_spy
    got = _cli(["leaderboard", str(path), "--ci", "sandwich", "--where", "language=English", "--format", "csv", "-q"])
    assert calls == [["language"]]  # only the column the filter reads, beside the battles
    from arena_stats import filter_battles
    want = leaderboard(filter_battles(battles, where={"language": "English"}), ci="sandwich").to_frame()
    _same(want, got)


def test_audit_loads_only_the_columns_its_checks_read_and_gives_the_same_verdicts(arena, tmp_path, monkeypatch, reader_spy):
    battles, path = arena
    frame = battles.to_frame()
    frame["judge"] = np.arange(len(frame)) % 37
    frame["long_text"] = "x" * 50
    wide = tmp_path / "wide.parquet"
    frame.to_parquet(wide, index=False)
    calls = reader_spy
    out = tmp_path / "audit.json"
    assert main(["audit", str(wide), "--rounds", "50", "--json", str(out), "-q"]) == 0
    assert calls and "long_text" not in calls[0] and "judge" in calls[0] and "tstamp" in calls[0]
    from arena_stats import load_battles
    from arena_stats.boards.audit import audit
    want = audit(load_battles(wide), rounds=50)
    import json
    got = json.loads(out.read_text())
    assert [c["verdict"] for c in got["checks"]] == [c.verdict for c in want.checks]
    assert [c["value"] for c in got["checks"]] == pytest.approx([c.value for c in want.checks], nan_ok=True)


def test_filters_that_leave_nothing_say_so_in_one_line_on_the_streamed_and_loaded_paths(arena, tmp_path, capsys):
    battles, path = arena
    lines = []
    for extra in ([], ["--where", "anony=True"]):  # streamed, then loaded (a row-level filter)
        code = main(["leaderboard", str(path), "--min-battles", "100000000", "--ci", "none", *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2
        lines.append(err[-1])
    for line in lines:
        assert line.startswith("arena-stats: error: no battles left after filtering: ")


@pytest.mark.parametrize("command, wanted", [
    (["matrix", "--format", "csv"], {"language"}),
    (["elo", "--format", "csv"], {"language", "tstamp"}),
    (["plot", "-o", "fig.png", "--ci", "sandwich"], {"language", "tstamp"}),
])
def test_every_command_loads_only_the_columns_its_options_read(arena, tmp_path, monkeypatch, command, wanted, reader_spy):
    battles, path = arena
    calls = reader_spy
    monkeypatch.chdir(tmp_path)
    head = [command[0], "leaderboard"] if command[0] == "plot" else [command[0]]
    assert main([*head, str(path), *command[1:], "--where", "language=English", "-q"]) == 0
    assert calls and set(calls[0]) == wanted
