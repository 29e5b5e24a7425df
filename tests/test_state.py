"""Saved state: appending battles and refitting warm equals a full refit; the file format is safe."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from arena_stats import load_battles
from arena_stats.cli import main
from arena_stats.data.aggregate import aggregate
from arena_stats.data.simulate import simulate_arena
from arena_stats.errors import InputError, LookalikeNameWarning, NameMergeWarning
from arena_stats.models.bradley_terry import fit_bradley_terry
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
    assert main(["update", str(state), parts[0], "--ci", "bootstrap", "--rounds", "20", "--dry-run",
                 "--allow-duplicate", "--format", "csv", "--quiet"]) == 0
    boot_board = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    # the same board as `arena-stats leaderboard` with the bootstrap: the same columns
    assert (boot_board["ci_lower"] < boot_board["ci_upper"]).all() and "p_top" in boot_board
    assert load_state(state).n_battles == len(arena)


def test_state_summary_and_frame_describe_the_counts(arena):
    state, _ = new_state(arena.iloc[:2000]).refit()
    assert isinstance(state, ArenaState)
    assert "2,000 battles" in state.summary()
    frame = state.to_frame()
    assert frame["battles"].sum() == 2 * 2000 and frame["theta"].notna().all()


# ------------------------------------------------------------------------------ given settings
@pytest.fixture
def part_files(arena, tmp_path):
    paths = []
    for k in range(3):
        p = tmp_path / f"part{k}.csv"
        arena.iloc[k * 3000:(k + 1) * 3000].to_csv(p, index=False)
        paths.append(str(p))
    return paths


@pytest.mark.parametrize("created, given", [
    (["--ties", "davidson"], ["--ties", "half"]),          # the default value, given explicitly
    (["--l2", "0.5"], ["--l2", "0"]),
    (["--prior", "0.5"], ["--l2", "0"]),                   # the old spelling sets the same setting
    (["--scale", "173.7"], ["--scale", "400"]),
    (["--base", "2.718"], ["--base", "10"]),
    (["--init", "1500"], ["--init", "1000"]),
    (["--anchor", "model-000=1200"], ["--anchor", "model-000=1250"]),
    ([], ["--ties", "davidson"]),                          # a non-default value on a default state
])
def test_update_refuses_every_given_fit_setting_that_differs_from_the_state(tmp_path, part_files, capsys,
                                                                              created, given):
    state = tmp_path / "s.npz"
    assert main(["update", str(state), part_files[0], "--new", "-q", *created]) == 0
    before = state.read_bytes()
    capsys.readouterr()
    assert main(["update", str(state), part_files[1], "-q", *given]) == 2
    err = capsys.readouterr().err
    assert "fit settings are fixed" in err and given[0] in err and "Traceback" not in err
    assert state.read_bytes() == before


def test_update_accepts_the_state_own_settings_given_again(tmp_path, part_files, capsys):
    state = tmp_path / "s.npz"
    assert main(["update", str(state), part_files[0], "--new", "-q", "--ties", "davidson", "--scale", "200"]) == 0
    assert main(["update", str(state), part_files[1], "-q", "--ties", "davidson", "--scale", "200.0"]) == 0
    assert load_state(state).settings["ties"] == "davidson"


# ------------------------------------------------------------------------------ the same file twice
def test_a_file_added_before_is_refused_whatever_its_name_unless_allowed(tmp_path, part_files, capsys):
    state = tmp_path / "s.npz"
    assert main(["update", str(state), part_files[0], "--new", "-q"]) == 0
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(open(part_files[0], "rb").read())
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "again.csv").write_bytes(copy.read_bytes())
    before = state.read_bytes()
    for again in ([part_files[0]], [str(copy)], [str(folder)], [part_files[1], part_files[1]]):
        capsys.readouterr()
        assert main(["update", str(state), *again, "-q"]) == 2, again
        err = capsys.readouterr().err
        assert "would count twice" in err and "--allow-duplicate" in err and len(err.splitlines()) == 1
        assert state.read_bytes() == before
    assert main(["update", str(state), str(copy), "--allow-duplicate", "-q"]) == 0
    assert load_state(state).n_battles == 6000
    with pytest.raises(InputError, match="already added"):
        load_state(state).append(part_files[0])


def test_fingerprints_are_recorded_for_every_file_of_a_directory(tmp_path, part_files):
    state = new_state(tmp_path)  # the directory: every part file
    recorded = state.history[0]["sha256"]
    assert sorted(recorded) == sorted(part_files)
    assert all(len(h) == 64 for h in recorded.values())
    state.save(tmp_path / "s.npz")
    assert load_state(tmp_path / "s.npz").fingerprints().keys() == set(recorded.values())


def test_states_without_fingerprints_still_load_and_update(tmp_path, part_files):
    """A state written before fingerprints existed (no sha256 in its history) is version 1 as well."""
    path = tmp_path / "old.npz"
    new_state(part_files[0]).refit()[0].save(path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["meta"].tobytes())
    for rec in meta["history"]:
        rec.pop("sha256")
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    old = load_state(path)
    assert old.fingerprints() == {} and old.n_battles == 3000
    state, _ = update_state(path, part_files[1])
    assert state.n_battles == 6000 and len(state.fingerprints()) == 1


@pytest.mark.parametrize("history, message", [
    ([1, 2], "history must be a list of records"),
    ([{"sha256": {"x.csv": "not-hex"}}], "64 hex digits"),
    ([{"battles": "many", "sources": []}], "number of battles"),
])
def test_hostile_history_records_are_refused_on_load(arena, tmp_path, history, message):
    path = tmp_path / "s.npz"
    new_state(arena.iloc[:500]).save(path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["history"] = history
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=message):
        load_state(path)


# ------------------------------------------------------------------------------ names and invalid rows
def test_fold_case_is_a_saved_setting_applied_to_every_update(tmp_path):
    first = pd.DataFrame({"model_a": ["GPT-4", "x", "y"] * 3, "model_b": ["x", "y", "GPT-4"] * 3,
                          "winner": ["model_a", "model_b", "tie"] * 3})
    later = first.replace({"GPT-4": "gpt-4"})
    with pytest.warns(NameMergeWarning):
        state = new_state(first, fold_case=True).append(later)
    assert state.settings["fold_case"] is True and state.models == ["GPT-4", "x", "y"]
    state.save(tmp_path / "s.npz")
    with pytest.warns(NameMergeWarning):
        again = load_state(tmp_path / "s.npz").append(later.replace({"gpt-4": "Gpt-4\u200b"}))
    assert again.models == ["GPT-4", "x", "y"] and again.n_battles == 27
    with pytest.warns(LookalikeNameWarning):  # without fold_case, look-alikes across updates are reported
        new_state(first).append(later)


def test_rows_dropped_by_update_are_reported_and_recorded(tmp_path, arena, capsys):
    messy = arena.iloc[:400].copy()
    messy.loc[messy.index[[5, 9]], "winner"] = "??"
    messy.loc[messy.index[7], "model_b"] = messy.loc[messy.index[7], "model_a"]
    path = tmp_path / "messy.csv"
    messy.to_csv(path, index=False)
    state = tmp_path / "s.npz"
    assert main(["update", str(state), str(path), "--new"]) == 2
    assert "row 6, column 'winner'" in capsys.readouterr().err
    assert main(["update", str(state), str(path), "--new", "--drop-invalid", "--ci", "none"]) == 0
    err = capsys.readouterr().err
    assert "filter drop-invalid: removed 3 rows (1 self-battle (" in err and "rows 6, 10)" in err
    record = load_state(state).history[0]
    assert record["dropped"] == {"self-battle": 1, "unknown verdict": 2} and record["battles"] == 397
