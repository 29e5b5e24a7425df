"""Streaming reduction: equal, cell for cell, to aggregate(load_battles(...)), in bounded batches."""

from __future__ import annotations

import glob
import gzip
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import arena_stats.data.stream as stream_mod
from arena_stats import load_battles
from arena_stats.data.aggregate import PairCounts, aggregate
from arena_stats.data.simulate import simulate_arena
from arena_stats.data.stream import input_files, merge_pair_counts, stream_pair_counts
from arena_stats.errors import InputError

FIELDS = ("i", "j", "cell_pair", "cell_outcome", "cell_count", "cell_weight")


def assert_same_counts(got: PairCounts, want: PairCounts) -> None:
    assert got.models == want.models
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f), err_msg=f)


@pytest.fixture(scope="module")
def arena_frame() -> pd.DataFrame:
    """3,000 battles in FastChat's schema, with ties of both kinds and per-battle weights."""
    frame = simulate_arena(n_models=15, n_battles=3000, seed=5).battles.to_frame()
    frame["weight"] = np.random.default_rng(0).choice([0.5, 1.0, 2.0], len(frame))
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory, arena_frame):
    """The same battles as Parquet, CSV, TSV, JSON Lines, gzip'd CSV and a JSON array."""
    d = tmp_path_factory.mktemp("stream")
    cols = ["model_a", "model_b", "winner", "weight", "judge"]
    frame = arena_frame[cols]
    out = {"parquet": d / "b.parquet", "csv": d / "b.csv", "tsv": d / "b.tsv", "jsonl": d / "b.jsonl",
           "csv.gz": d / "b.csv.gz", "json": d / "b.json"}
    # small row groups so that the Parquet reader yields many batches with changing dictionaries
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out["parquet"], row_group_size=700)
    frame.to_csv(out["csv"], index=False)
    frame.to_csv(out["tsv"], index=False, sep="\t")
    frame.to_json(out["jsonl"], orient="records", lines=True)
    with gzip.open(out["csv.gz"], "wt") as fh:
        frame.to_csv(fh, index=False)
    frame.to_json(out["json"], orient="records")
    return out


@pytest.mark.parametrize("kind", ["parquet", "csv", "tsv", "jsonl", "csv.gz", "json"])
def test_streamed_counts_equal_in_memory_counts_for_every_format(files, kind):
    path = files[kind]
    assert_same_counts(stream_pair_counts(path, batch_rows=500), aggregate(load_battles(path)))


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_streamed_weighted_counts_equal_in_memory_counts(files, kind):
    path = files[kind]
    got = stream_pair_counts(path, weight_col="weight", batch_rows=256)
    assert got.weighted
    assert_same_counts(got, aggregate(load_battles(path, weight_col="weight")))


def test_batch_size_does_not_change_the_counts(files):
    want = stream_pair_counts(files["parquet"], batch_rows=1 << 20)
    for rows in (1, 37, 1000):
        assert_same_counts(stream_pair_counts(files["parquet"], batch_rows=rows), want)


def test_sparse_path_for_many_models_equals_dense_path(files, monkeypatch):
    want = stream_pair_counts(files["parquet"])
    monkeypatch.setattr(stream_mod, "DENSE_SLOTS", 16)  # force the sparse keys from the first batch
    monkeypatch.setattr(stream_mod, "SPARSE_FLUSH_ROWS", 50)  # and many consolidations
    assert_same_counts(stream_pair_counts(files["parquet"], batch_rows=100), want)


def test_switch_from_dense_to_sparse_mid_stream_keeps_every_count(tmp_path, monkeypatch):
    # models keep arriving: the dense table must be carried over into sparse keys intact
    frames = [simulate_arena(n_models=4 + 6 * k, n_battles=400, seed=k).battles.to_frame()[
        ["model_a", "model_b", "winner"]] for k in range(4)]
    paths = []
    for k, f in enumerate(frames):
        p = tmp_path / f"part{k}.csv"
        f.assign(model_a="m" + f["model_a"] + str(k % 2), model_b="m" + f["model_b"] + str(k % 2)).to_csv(p, index=False)
        paths.append(str(p))
    monkeypatch.setattr(stream_mod, "DENSE_SLOTS", 4 * 20 * 20)
    assert_same_counts(stream_pair_counts(paths), aggregate(load_battles(paths)))


def test_directory_is_read_recursively_and_skips_marker_files(tmp_path, arena_frame):
    cols = ["model_a", "model_b", "winner"]
    (tmp_path / "year=2024").mkdir()
    arena_frame[cols][:1000].to_parquet(tmp_path / "a.parquet")
    arena_frame[cols][1000:2000].to_csv(tmp_path / "year=2024" / "b.csv", index=False)
    arena_frame[cols][2000:].to_json(tmp_path / "year=2024" / "c.jsonl", orient="records", lines=True)
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / ".hidden.csv").write_text("garbage")
    assert [p.split("/")[-1] for p in input_files(tmp_path)] == ["a.parquet", "b.csv", "c.jsonl"]
    assert_same_counts(stream_pair_counts(tmp_path), aggregate(load_battles(arena_frame[cols])))


def test_streaming_formats_never_load_a_whole_file(files, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("read whole: the file was not streamed")
    monkeypatch.setattr(stream_mod, "_read_whole", refuse)
    for kind in ("parquet", "csv", "tsv", "jsonl", "csv.gz"):
        stream_pair_counts(files[kind])


@pytest.mark.filterwarnings("ignore::arena_stats.errors.NameMergeWarning")  # " y " and "y": reported, as intended
def test_every_schema_streams_like_load_battles(tmp_path):
    cases = {
        "kaggle.csv": (pd.DataFrame({"model_a": ["x", "y", "z"], "model_b": ["y", "z", "x"],
                                     "winner_model_a": [1, 0, 0], "winner_model_b": [0, 1, 0],
                                     "winner_tie": [0, 0, 1]}), {}),
        "wl.parquet": (pd.DataFrame({"winner_name": ["x", "y", "x"], "loser_name": ["y", "z", "z"]}), {}),
        "agg.csv": (pd.DataFrame({"model_a": ["x", "y", "x"], "model_b": ["y", "z", "w"], "wins_a": [3, 0, 0],
                                  "wins_b": [1, 2, 0], "ties": [2, 0, 0]}), {}),
        "generic.jsonl": (pd.DataFrame({"p": ["x", "y", "z", " y "], "q": ["y", "z", "x", "x"],
                                        "res": ["x", "right", "0.5", "home"]}),
                          dict(model_a_col="p", model_b_col="q", outcome_col="res", outcome_map={"home": "model_a"})),
        "numeric.csv": (pd.DataFrame({"left": ["x", "y"], "right": ["y", "x"], "winner": [1.0, 0.5]}), {}),
    }
    for name, (frame, kwargs) in cases.items():
        path = tmp_path / name
        if name.endswith(".csv"):
            frame.to_csv(path, index=False)
        elif name.endswith(".parquet"):
            frame.to_parquet(path)
        else:
            frame.to_json(path, orient="records", lines=True)
        if name == "agg.csv":
            # a model seen only in rows with zero counts fought no battle: it is not a model
            assert "w" not in stream_pair_counts(path).models
            frame.iloc[:2].to_csv(path, index=False)
        assert_same_counts(stream_pair_counts(path, **kwargs), aggregate(load_battles(path, **kwargs)))


@pytest.mark.parametrize("row, column, change, match", [
    (1234, "winner", "model_c", "unknown outcome label"),
    (2500, "model_b", None, "model_a"),  # replaced below by model_a's name: a self-battle
    (77, "model_a", "  ", "blank contestant name"),
])
def test_bad_rows_are_reported_with_file_row_and_column_like_load_battles(tmp_path, arena_frame, row, column,
                                                                           change, match):
    frame = arena_frame[["model_a", "model_b", "winner"]].copy()
    frame.loc[row, column] = frame.loc[row, "model_a"] if change is None else change
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError) as streamed:
        stream_pair_counts(path, batch_rows=100)
    with pytest.raises(InputError) as loaded:
        load_battles(path)
    assert (streamed.value.file, streamed.value.row, streamed.value.column) == \
        (loaded.value.file, loaded.value.row, loaded.value.column) == (str(path), row + 1, column if change else "model_a")
    assert ("battles itself" if change is None else match) in str(streamed.value)


def test_unreadable_and_missing_inputs_raise_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        stream_pair_counts(tmp_path / "nope.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(InputError) as err:
        stream_pair_counts(bad)
    assert err.value.file == str(bad)
    (tmp_path / "cols.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(InputError, match="could not recognise the schema"):
        stream_pair_counts(tmp_path / "cols.csv")
    with pytest.raises(InputError, match="missing weight column"):
        stream_pair_counts(tmp_path / "cols.csv", model_a_col="a", model_b_col="b", outcome_col="c",
                           weight_col="wt")


def test_merged_counts_of_parts_equal_counts_of_the_whole(arena_frame):
    battles = load_battles(arena_frame[["model_a", "model_b", "winner", "weight"]], weight_col="weight")
    parts = [aggregate(load_battles(arena_frame[k::3][["model_a", "model_b", "winner", "weight"]],
                                    weight_col="weight")) for k in range(3)]
    assert_same_counts(merge_pair_counts(*parts), aggregate(battles))
    # in-memory inputs (PairCounts, DataFrames) mix freely
    middle = arena_frame[1::3][["model_a", "model_b", "winner", "weight"]]
    assert_same_counts(stream_pair_counts(parts[0], middle, parts[2], weight_col="weight"), aggregate(battles))


def test_streamed_ratings_equal_in_memory_ratings(files):
    from arena_stats.models.bradley_terry import fit_bradley_terry
    for ties in ("half", "davidson"):
        want = fit_bradley_terry(load_battles(files["parquet"]), ties)
        got = fit_bradley_terry(stream_pair_counts(files["parquet"], batch_rows=300), ties)
        np.testing.assert_allclose(got.ratings.to_numpy(), want.ratings.to_numpy(), rtol=0, atol=1e-9)


def test_real_data_streams_like_load_battles(shared_data, tmp_path):
    crowd = shared_data / "llmfao" / "crowd-comparisons.csv"
    assert_same_counts(stream_pair_counts(crowd, batch_rows=1000), aggregate(load_battles(crowd)))
    human = shared_data / "mt_bench_human_judgments" / "human.jsonl"
    assert_same_counts(stream_pair_counts(human), aggregate(load_battles(human)))
    tennis = sorted(glob.glob(str(shared_data / "tennis_atp" / "atp_matches_19[89]*.csv.gz")))
    assert len(tennis) == 20
    got = stream_pair_counts(tennis)
    assert got.n_models > 1000  # thousands of players: the sparse path on real data
    assert_same_counts(got, aggregate(load_battles(tennis)))
    json.dumps(got.models[:3])  # names are plain str


def test_dataframes_stream_through_arrow_like_load_battles(arena_frame):
    frame = arena_frame[["model_a", "model_b", "winner", "weight"]]
    want = aggregate(load_battles(frame))
    assert_same_counts(stream_pair_counts(frame, batch_rows=333), want)
    categorical = frame.astype({"model_a": "category", "model_b": "category", "winner": "category"})
    assert_same_counts(stream_pair_counts(categorical), want)
    # numeric verdicts and integer player ids; an object column mixing ints and strings falls back to pandas
    numeric = pd.DataFrame({"left": [1, 2, 3, 1], "right": [2, 3, 1, 3], "winner": [1.0, 0.0, 0.5, 1.0]})
    assert_same_counts(stream_pair_counts(numeric), aggregate(load_battles(numeric)))
    mixed = pd.DataFrame({"model_a": [1, "x", "y"], "model_b": ["x", "y", 1], "winner": ["a", "b", "tie"]})
    assert_same_counts(stream_pair_counts(mixed), aggregate(load_battles(mixed)))
    with pytest.raises(InputError) as err:
        stream_pair_counts(frame.assign(winner=frame["winner"].where(frame.index != 10, "??")))
    assert (err.value.file, err.value.row, err.value.column) == ("<DataFrame>", 11, "winner")
