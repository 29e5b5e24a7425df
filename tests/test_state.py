"""Saved state: appending battles and refitting warm equals a full refit; the file format is safe."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from arena_stats import load_battles
from arena_stats.data.aggregate import aggregate
from arena_stats.models.bradley_terry import fit_bradley_terry
from arena_stats.cli import main
from arena_stats.errors import InputError
from arena_stats.data.simulate import simulate_arena
from arena_stats.scale.state import REFIT_TOL, ArenaState, load_state, new_state, update_state

FIELDS = ("i", "j", "cell_pair", "cell_outcome", "cell_count", "cell_weight")


@pytest.fixture(scope="module")
def arena() -> pd.DataFrame:
    return simulate_arena(n_models=12, n_battles=9000, seed=21).battles.to_frame()


def test_append_then_refit_equals_full_refit_on_all_battles(arena):
    # late models appear only in the second and third parts: the warm start must handle them
    late = arena["model_a"].isin(["model-010", "model-011"]) | arena["model_b"].isin(["model-010", "model-011"])
    first, rest = arena[~late].iloc[:4000], pd.concat([arena[~late].iloc[4000:], arena[late]])
    state, fit0 = new_state(first).refit()
    assert "model-011" not in fit0.models
    state, fit = state.append(rest.iloc[:2000]).append(rest.iloc[2000:]).refit()
    full = fit_bradley_terry(arena, tol=REFIT_TOL)
    assert fit.models == full.models
    np.testing.assert_allclose(fit.ratings.to_numpy(), full.ratings.to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(fit.se.to_numpy(), full.se.to_numpy(), rtol=1e-9)
    assert fit.n_iter < full.n_iter  # the warm start saves Newton steps
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(state.counts, f), getattr(aggregate(load_battles(arena)), f))


@pytest.mark.parametrize("ties", ["davidson", "rao-kupper", "drop"])
def test_every_tie_convention_refits_to_the_full_fit(arena, ties):
    state, _ = new_state(arena.iloc[:5000], ties=ties).refit()
    state, fit = state.append(arena.iloc[5000:]).refit()
    full = fit_bradley_terry(arena, ties, tol=REFIT_TOL)
    np.testing.assert_allclose(fit.ratings.to_numpy(), full.ratings.to_numpy(), rtol=0, atol=1e-9)
    if full.tie_param is not None:
        assert fit.tie_param == pytest.approx(full.tie_param, rel=1e-9)


def test_saved_state_round_trips_exactly_and_survives_updates(arena, tmp_path):
    path = tmp_path / "arena.npz"
    state, _ = new_state(arena.iloc[:3000], ties="davidson", scale=173.7178, init=1500,
                         anchor={"model-000": 1200.0}).refit()
    state.save(path)
    back = load_state(path)
    assert back.models == state.models and back.settings["ties"] == "davidson"
    assert back.settings["anchor"] == {"model-000": 1200.0}
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(back.counts, f), getattr(state.counts, f))
    np.testing.assert_array_equal(back.theta, state.theta)
    assert back.log_tie == state.log_tie
    parquet = tmp_path / "new.parquet"
    arena.iloc[3000:].to_parquet(parquet)
    updated, fit = update_state(path, parquet)
    assert fit.ratings["model-000"] == pytest.approx(1200.0)
    full = fit_bradley_terry(arena, "davidson", scale=173.7178, init=1500, anchor={"model-000": 1200.0},
                             tol=REFIT_TOL)
    np.testing.assert_allclose(fit.ratings.to_numpy(), full.ratings.to_numpy(), rtol=0, atol=1e-9)
    assert [h["sources"] for h in load_state(path).history][-1] == [str(parquet)]


def test_state_file_is_plain_npz_without_pickles(arena, tmp_path):
    path = tmp_path / "s.npz"
    new_state(arena.iloc[:500]).save(path)
    with np.load(path, allow_pickle=False) as npz:  # would raise on any object array
        meta = json.loads(npz["meta"].tobytes())
        assert {"i", "j", "cell_pair", "cell_outcome", "cell_count", "cell_weight", "theta", "tie"} <= set(npz.files)
    assert meta["format"] == "arena-stats-state" and meta["version"] == 1
    assert meta["models"] == sorted(meta["models"])


def _rewrite(src, dst, **changes):
    with np.load(src, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays.update(changes)
    np.savez(dst, **arrays)


@pytest.mark.parametrize("change, message", [
    ({"i": np.array([5, 0])}, "0 <= i < j"),
    ({"cell_outcome": None}, "verdict out of range"),
    ({"cell_count": None}, "finite and non-negative"),
    ({"meta": np.frombuffer(b"{not json", dtype=np.uint8)}, "not JSON"),
    ({"theta": np.zeros(3)}, "theta"),
    ({"cell_pair": np.array(["a"], dtype=object)}, "cannot read it"),
])
def test_corrupt_or_hostile_state_files_raise_input_error(arena, tmp_path, change, message):
    good = tmp_path / "good.npz"
    new_state(arena.iloc[:300]).save(good)
    with np.load(good) as npz:
        if "cell_outcome" in change:
            change = {"cell_outcome": np.where(npz["cell_outcome"] == 2, 7, npz["cell_outcome"])}
        if "cell_count" in change:
            change = {"cell_count": -npz["cell_count"]}
        if "i" in change:
            change = {"i": np.full_like(npz["i"], 5)}
    bad = tmp_path / "bad.npz"
    _rewrite(good, bad, **change)
    with pytest.raises(InputError, match=message) as err:
        load_state(bad)
    assert err.value.file == str(bad)


def test_missing_or_non_state_files_raise_input_error(tmp_path):
    with pytest.raises(InputError, match="no such state"):
        load_state(tmp_path / "nope.npz")
    (tmp_path / "x.npz").write_bytes(b"garbage")
    with pytest.raises(InputError, match="cannot read"):
        load_state(tmp_path / "x.npz")
    with zipfile.ZipFile(tmp_path / "y.npz", "w") as z:
        z.writestr("other.npy", b"")
    with pytest.raises(InputError):
        load_state(tmp_path / "y.npz")


def test_cli_update_creates_appends_and_prints_the_full_refit(arena, tmp_path, capsys):
    state, parts = tmp_path / "arena.npz", []
    for k in range(3):
        p = tmp_path / f"part{k}.csv"
        arena.iloc[k * 3000:(k + 1) * 3000].to_csv(p, index=False)
        parts.append(str(p))
    assert main(["update", str(state), parts[0], "--new", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["update", str(state), parts[0], "--new", "--quiet"]) == 2  # refuses to overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["update", str(state), parts[1], parts[2], "--format", "csv", "--quiet"]) == 0
    board = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    full = fit_bradley_terry(arena, tol=REFIT_TOL)
    got = board.set_index("model")["rating"]
    np.testing.assert_allclose(got[full.models].to_numpy(), full.ratings.to_numpy(), atol=1e-3)  # csv rounding
    assert list(board.columns[:5]) == ["rank", "model", "rating", "ci_lower", "ci_upper"]
    assert board["battles"].sum() == 2 * len(arena)
    assert load_state(state).n_battles == len(arena)
    assert main(["update", str(state), parts[0], "--ties", "davidson", "--quiet"]) == 2
    assert "fit settings are fixed" in capsys.readouterr().err
    # a bootstrap board on a dry run: printed, state untouched (part 0 again, so allowed explicitly)
    assert main(["update", str(state), parts[0], "--ci", "bootstrap", "--bootstrap", "20", "--dry-run",
                 "--allow-duplicate", "--format", "csv", "--quiet"]) == 0
    boot_board = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert (boot_board["ci_lower"] < boot_board["ci_upper"]).all() and "p_top" not in boot_board
    assert load_state(state).n_battles == len(arena)


def test_state_summary_and_frame_describe_the_counts(arena):
    state, _ = new_state(arena.iloc[:2000]).refit()
    assert isinstance(state, ArenaState)
    assert "2,000 battles" in state.summary()
    frame = state.to_frame()
    assert frame["battles"].sum() == 2 * 2000 and frame["theta"].notna().all()
