"""Reading, schema detection, validation messages and filters."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from arena_stats import InputError, filter_battles, load_battles
from arena_stats.data.battles import A_WINS, B_WINS, BOTHBAD, TIE
from arena_stats.data.readers import read_table
from arena_stats.errors import NameMergeWarning

ARENA = pd.DataFrame({
    "model_a": ["gpt-4", "claude-2", "llama-2", "gpt-4", "claude-2"],
    "model_b": ["claude-2", "llama-2", "gpt-4", "llama-2", "gpt-4"],
    "winner": ["model_a", "tie", "model_b", "tie (bothbad)", "model_a"],
    "tstamp": [1.70e9, 1.70e9 + 86400, 1.70e9 + 2 * 86400, 1.70e9 + 3 * 86400, 1.70e9 + 4 * 86400],
    "anony": [True, True, False, True, True],
    "language": ["English", "German", "English", "English", "Chinese"],
})
CODES = [A_WINS, TIE, B_WINS, BOTHBAD, A_WINS]


def _write(frame: pd.DataFrame, path, fmt: str, gz: bool = False):
    if fmt == "parquet":
        frame.to_parquet(path)
        if gz:
            data = path.read_bytes()
            path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
            return path.with_name(path.name + ".gz")
        return path
    if fmt == "csv":
        text = frame.to_csv(index=False)
    elif fmt == "tsv":
        text = frame.to_csv(index=False, sep="\t")
    elif fmt == "json":
        text = frame.to_json(orient="records")
    else:
        text = frame.to_json(orient="records", lines=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "parquet"])
@pytest.mark.parametrize("gz", [False, True])
def test_every_format_reads_the_same_battles(tmp_path, fmt, gz):
    path = _write(ARENA, tmp_path / f"battles.{fmt}", fmt, gz)
    b = load_battles(path)
    assert b.schema == "arena"
    assert b.frame["model_a"].astype(str).tolist() == ARENA["model_a"].tolist()
    assert b.outcome.tolist() == CODES
    assert b.models == ["claude-2", "gpt-4", "llama-2"]


def test_several_files_are_concatenated_and_named(tmp_path):
    p1 = _write(ARENA.iloc[:2], tmp_path / "a.csv", "csv")
    p2 = _write(ARENA.iloc[2:], tmp_path / "b.jsonl", "jsonl")
    b = load_battles([p1, p2])
    assert len(b) == 5 and b.sources == (str(p1), str(p2))
    assert b.outcome.tolist() == CODES


def test_directory_reads_every_file(tmp_path):
    _write(ARENA.iloc[:2], tmp_path / "a.csv", "csv")
    _write(ARENA.iloc[2:], tmp_path / "b.csv", "csv")
    assert len(load_battles(tmp_path)) == 5


def test_fastchat_json_keeps_nested_metadata(tmp_path):
    records = [
        {"model_a": "x", "model_b": "y", "winner": "model_a", "judge": "u1", "turn": 1,
         "conv_metadata": {"sum_assistant_a_tokens": 10, "header_count_a": {"h1": 1}},
         "category_tag": {"math_v0.1": {"math": True}}, "question_id": "q1"},
        {"model_a": "y", "model_b": "x", "winner": "tie (bothbad)", "judge": "u2", "turn": 2,
         "conv_metadata": {"sum_assistant_a_tokens": 3, "header_count_a": {"h1": 0}},
         "category_tag": {"math_v0.1": {"math": False}}, "question_id": "q2"},
    ]
    path = tmp_path / "clean_battle_20240101.json"
    path.write_text(json.dumps(records))
    b = load_battles(path)
    assert b.frame["conv_metadata"].iloc[0]["header_count_a"] == {"h1": 1}
    assert b.outcome.tolist() == [A_WINS, BOTHBAD]
    assert b.to_frame()["winner"].tolist() == ["model_a", "tie (bothbad)"]


def test_kaggle_schema_reads_one_hot_outcomes():
    df = pd.DataFrame({"id": [1, 2, 3], "model_a": ["x", "y", "x"], "model_b": ["y", "x", "y"],
                       "prompt": ['["hi"]'] * 3, "response_a": ['["a"]'] * 3, "response_b": ['["b"]'] * 3,
                       "winner_model_a": [1, 0, 0], "winner_model_b": [0, 1, 0], "winner_tie": [0, 0, 1]})
    b = load_battles(df)
    assert b.schema == "kaggle" and b.outcome.tolist() == [A_WINS, B_WINS, TIE]
    assert "prompt" in b.frame and "response_a" in b.frame


@pytest.mark.parametrize("labels,expected", [
    (["model_a", "model_b", "tie", "tie (bothbad)"], [A_WINS, B_WINS, TIE, BOTHBAD]),
    (["a", "b", "tie", "A"], [A_WINS, B_WINS, TIE, A_WINS]),
    (["left", "right", "tie", "draw"], [A_WINS, B_WINS, TIE, TIE]),
    ([1, 0, 0.5, 1.0], [A_WINS, B_WINS, TIE, A_WINS]),
    (["p", "q", "p", "tie"], [A_WINS, B_WINS, B_WINS, TIE]),  # the winner's own name
])
def test_generic_outcome_spellings(labels, expected):
    df = pd.DataFrame({"m1": ["p", "p", "q", "p"], "m2": ["q", "q", "p", "q"], "res": labels})
    b = load_battles(df, model_a_col="m1", model_b_col="m2", outcome_col="res")
    assert b.outcome.tolist() == expected


def test_outcome_map_adds_labels():
    df = pd.DataFrame({"home": ["p", "q"], "away": ["q", "p"], "result": [-1, 1]})
    b = load_battles(df, model_a_col="home", model_b_col="away", outcome_col="result",
                     outcome_map={-1: "model_b"})
    assert b.outcome.tolist() == [B_WINS, A_WINS]


def test_winner_loser_schema():
    df = pd.DataFrame({"winner_name": ["p", "q"], "loser_name": ["q", "r"]})
    b = load_battles(df)
    assert b.schema == "winner-loser" and b.outcome.tolist() == [A_WINS, A_WINS]


def test_aggregated_schema_expands_counts():
    df = pd.DataFrame({"model_a": ["p", "p"], "model_b": ["q", "r"], "wins_a": [3, 0], "wins_b": [1, 2],
                       "ties": [2, 0]})
    b = load_battles(df)
    assert b.schema == "aggregated" and b.n_battles == 8
    from arena_stats.data.aggregate import model_totals
    t = model_totals(b)
    assert t.loc["p", "wins"] == 3 and t.loc["p", "losses"] == 3 and t.loc["p", "ties"] == 2


def test_aggregated_rows_with_zero_counts_create_no_model():
    df = pd.DataFrame({"model_a": ["p", "p", "q"], "model_b": ["q", "ghost", "r"], "wins_a": [3, 0, 1],
                       "wins_b": [1, 0, 1], "ties": [0, 0, 0]})
    b = load_battles(df)
    assert b.models == ["p", "q", "r"] and b.n_battles == 6


def test_llmfao_left_right_is_detected(shared_data):
    b = load_battles(shared_data / "llmfao" / "crowd-comparisons.csv")
    assert b.n_battles == 8931 and b.n_models == 59
    counts = np.bincount(b.outcome, minlength=4)
    assert counts.tolist() == [2911, 2549, 3471, 0]


def test_mt_bench_human_judgments(shared_data):
    b = load_battles(shared_data / "mt_bench_human_judgments" / "human.jsonl")
    assert b.n_battles == 3355 and b.n_models == 6
    assert np.bincount(b.outcome, minlength=4)[:3].tolist() == [1293, 1282, 780]


# ------------------------------------------------------------------------------ bad input
def _err(frame_or_path, match, **kw):
    with pytest.raises(InputError, match=match) as info:
        load_battles(frame_or_path, **kw)
    return info.value


def test_unknown_outcome_label_names_row_and_column_and_is_never_a_tie(tmp_path):
    df = ARENA.copy()
    df.loc[3, "winner"] = "tei"
    path = _write(df, tmp_path / "b.csv", "csv")
    err = _err(path, "unknown outcome label 'tei'")
    assert err.row == 4 and err.column == "winner" and err.file == str(path)
    assert "b.csv, row 4, column 'winner'" in str(err)


def test_self_battle_is_rejected_with_its_row():
    df = ARENA.copy()
    df.loc[2, "model_b"] = "llama-2"
    err = _err(df, "battles itself")
    assert err.row == 3


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_missing_or_blank_names_are_rejected(blank):
    df = ARENA.copy()
    df["model_a"] = df["model_a"].astype(object)
    df.loc[1, "model_a"] = blank
    err = _err(df, "missing or blank contestant name")
    assert err.row == 2 and err.column == "model_a"


@pytest.mark.parametrize("row", [[1, 1, 0], [0, 0, 0], [0.5, 0.5, 0], ["x", 0, 1]])
def test_kaggle_rows_that_are_not_one_hot_are_rejected(row):
    df = pd.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "x"], "winner_model_a": [1, row[0]],
                       "winner_model_b": [0, row[1]], "winner_tie": [0, row[2]]})
    err = _err(df, "not one-hot")
    assert err.row == 2


def test_wrong_column_names_suggest_close_matches():
    df = ARENA.rename(columns={"winner": "winer"})
    _err(df, "did you mean 'winer'", model_a_col="model_a", model_b_col="model_b", outcome_col="winner")
    _err(ARENA.rename(columns={"winner": "verdict", "model_a": "x"}), "could not recognise the schema")


def test_truncated_gzip_is_reported(tmp_path):
    path = _write(ARENA, tmp_path / "b.csv", "csv", gz=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    err = _err(path, "truncated|could not read")
    assert err.file == str(path)


def test_truncated_json_is_reported(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(ARENA.to_json(orient="records")[:-40])
    _err(path, "invalid or truncated JSON")


def test_truncated_jsonl_names_the_line(tmp_path):
    path = tmp_path / "b.jsonl"
    text = ARENA.to_json(orient="records", lines=True)
    path.write_text(text[:-20])
    _err(path, "line 5")


def test_unreadable_parquet_is_reported(tmp_path):
    path = tmp_path / "b.parquet"
    path.write_bytes(b"not a parquet file at all")
    _err(path, "could not read as parquet")


def test_missing_file_and_unknown_extension(tmp_path):
    _err(tmp_path / "nope.csv", "no such file")
    (tmp_path / "x.xlsx").write_text("")
    _err(tmp_path / "x.xlsx", "unknown file type")


def test_empty_after_filtering_is_an_error():
    b = load_battles(ARENA)
    with pytest.raises(InputError, match="no battles left after filtering"):
        filter_battles(b, where={"language": "Klingon"})


def test_read_table_reads_plain_csv(tmp_path):
    path = _write(ARENA, tmp_path / "b.csv", "csv")
    assert read_table(path).shape == ARENA.shape


# ------------------------------------------------------------------------------ filters
def test_every_filter_reports_what_it_removed():
    b = load_battles(pd.concat([ARENA, ARENA.iloc[[0]]], ignore_index=True))
    out = filter_battles(b, drop_duplicates=True, anonymous_only=True, where={"language": "English"},
                         drop_ties=True)
    removed = {s.name: s.removed for s in out.steps}
    assert removed == {"drop-duplicates": 1, "anonymous": 1, "where language": 2, "drop-ties": 1}
    assert len(out) == 1
    assert "removed 1 rows" in out.filter_report()


def test_exclude_and_min_battles():
    b = load_battles(ARENA)
    out = b.exclude_models(["llama-2"])
    assert out.steps[-1].removed == 3 and "llama-2" not in out.models
    with pytest.raises(InputError, match="did you mean 'llama-2'"):
        b.exclude_models(["llama2"])
    out = b.min_battles(4)
    assert out.steps[-1].removed == 5 - len(out)
    assert "fewer than 4" in out.steps[-1].reason


def test_date_range_on_unix_timestamps():
    b = load_battles(ARENA)
    out = b.date_range("2023-11-15", "2023-11-17")
    assert len(out) == 2 and out.steps[-1].removed == 3


def test_anonymous_filter_without_column_is_reported_not_silent():
    b = load_battles(ARENA.drop(columns="anony")).anonymous_only()
    assert b.steps[-1].removed == 0 and "no 'anony' column" in b.steps[-1].reason


@pytest.mark.parametrize("as_category", [False, True])
def test_names_are_stripped_and_merged_whatever_the_column_type(as_category):
    """' x' and 'x ' are the model x; codes follow the sorted clean names (Parquet hands over
    dictionary-encoded columns in first-seen order, CSV plain strings)."""
    frame = pd.DataFrame({"model_a": ["zeta ", " alpha", "zeta", "mid"], "model_b": ["alpha", "mid ", " mid", "zeta"],
                          "winner": ["model_a", "model_b", "tie", "model_a"]})
    if as_category:
        frame = frame.astype({"model_a": "category", "model_b": "category"})
        frame["model_a"] = frame["model_a"].cat.reorder_categories(["zeta ", " alpha", "zeta", "mid"])
    with pytest.warns(NameMergeWarning, match="'mid' from ' mid', 'mid', 'mid '"):  # reported, not silent
        battles = load_battles(frame)
    assert battles.models == ["alpha", "mid", "zeta"]
    out = battles.to_frame()
    assert out["model_a"].astype(str).tolist() == ["zeta", "alpha", "zeta", "mid"]
    assert out["model_b"].astype(str).tolist() == ["alpha", "mid", "mid", "zeta"]


# ------------------------------------------------------------------------------ option values and files
@pytest.mark.parametrize("bound", ["yesterday", "2024-13-45", "", [2024], object()])
def test_a_date_bound_that_is_not_a_date_is_an_input_error_naming_it(bound):
    b = load_battles(ARENA)
    with pytest.raises(InputError, match="since.*is not a date"):
        b.date_range(since=bound)
    with pytest.raises(InputError, match="until.*is not a date"):
        filter_battles(b, until=bound)


def test_the_old_names_of_the_date_bounds_still_work_with_a_warning():
    b = load_battles(ARENA)
    new = filter_battles(b, since="2023-11-15", until="2023-11-17")
    with pytest.warns(DeprecationWarning) as seen:
        old = filter_battles(b, start="2023-11-15", end="2023-11-17")
    assert [str(w.message).split(",")[0] for w in seen] == ["filter_battles(start=...) is now since=",
                                                            "filter_battles(end=...) is now until="]
    pd.testing.assert_frame_equal(new.to_frame(), old.to_frame())
    with pytest.warns(DeprecationWarning, match="is now until="):
        assert len(b.date_range(end="2023-11-17")) == len(b.date_range(until="2023-11-17")) == 3
    with pytest.raises(TypeError, match="give since= only"):
        filter_battles(b, since="2024-01-02", start="2024-01-02")


def test_date_bounds_with_offsets_compare_in_utc_and_missing_times_are_counted():
    frame = ARENA.assign(tstamp=["2024-01-01T10:00+02:00", "2024-01-01T09:30Z", None, "2024-01-02", "2024-01-03"])
    b = load_battles(frame)
    out = b.date_range("2024-01-01T07:45Z", "2024-01-01T12:00+03:00")  # 07:45 to 09:00 UTC: only 08:00
    assert len(out) == 1 and "1 of them without a tstamp" in out.steps[-1].reason
    with pytest.raises(InputError, match="too large: milliseconds"):
        load_battles(ARENA.assign(tstamp=ARENA["tstamp"] * 1000)).date_range("2024-01-01")


@pytest.mark.parametrize("n", [-1, 1.5, "3", float("nan"), True])
def test_min_battles_must_be_a_whole_number_at_least_zero(n):
    with pytest.raises(InputError, match="min_battles must be a whole number >= 0"):
        filter_battles(load_battles(ARENA), min_battles=n)


def test_no_battles_left_is_reported_on_one_line():
    with pytest.raises(InputError) as err:
        filter_battles(load_battles(ARENA), where={"language": "Klingon"}, drop_ties=True)
    assert "\n" not in str(err.value) and "where language: removed 5 rows" in str(err.value)


def test_excluded_names_are_compared_as_the_readers_store_them():
    b = load_battles(ARENA)
    assert b.exclude_models([" llama-2\t"]).steps[-1].removed == 3
    numeric = load_battles(pd.DataFrame({"model_a": [1, 2, 3], "model_b": [2, 3, 1], "winner": ["tie"] * 3}))
    assert numeric.exclude_models([1.0]).models == ["2", "3"]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl"])
def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path, fmt):
    path = _write(ARENA, tmp_path / f"b.{fmt}", fmt)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_table(path).columns[0] == "model_a"
    assert load_battles(path).outcome.tolist() == CODES


def test_utf16_and_duplicate_headers_and_non_object_records_are_clear_errors(tmp_path):
    (tmp_path / "u.csv").write_bytes(ARENA.to_csv(index=False).encode("utf-16"))
    _err(tmp_path / "u.csv", "UTF-16-encoded; expected UTF-8")
    (tmp_path / "d.csv").write_text("model_a,model_b,winner,model_b\nx,y,tie,z\n")
    _err(tmp_path / "d.csv", "names column 'model_b' twice")
    (tmp_path / "r.json").write_text('[{"model_a": "x", "model_b": "y", "winner": "tie"}, 3]')
    _err(tmp_path / "r.json", "record 2 is 3, not a JSON object")


def test_a_weight_or_count_column_is_checked_on_every_path(tmp_path):
    from arena_stats.data.stream import stream_pair_counts
    for column, value in (("weight", -1.0), ("weight", "heavy"), ("count", -2)):
        frame = ARENA.assign(**{column: [1, 1, value, 1, 1]})
        for read in (load_battles, stream_pair_counts):
            with pytest.raises(InputError, match=f"{column} .* is not a non-negative number") as err:
                read(frame)
            assert (err.value.row, err.value.column) == (3, column)


def test_anonymous_is_the_old_name_of_anonymous_only():
    b = load_battles(ARENA)
    with pytest.warns(DeprecationWarning, match=r"filter_battles\(anonymous=...\) is now anonymous_only="):
        old = filter_battles(b, anonymous=True)
    pd.testing.assert_frame_equal(old.to_frame(), filter_battles(b, anonymous_only=True).to_frame())


@pytest.mark.parametrize("counted", [False, True])
def test_aggregate_counts_every_cell_or_sorts_the_battles_with_the_same_result(monkeypatch, counted):
    """Few battles among many models are sorted, many among few counted in every possible cell:
    the same PairCounts either way (with and without a count column)."""
    from arena_stats.data import aggregate as agg
    from arena_stats.data.battles import Battles
    from arena_stats.data.simulate import simulate_arena
    frame = simulate_arena(300, 2000, seed=4).battles.frame.copy()
    if counted:
        frame["count"] = np.random.default_rng(0).integers(1, 4, len(frame)).astype(np.float64)
    battles = Battles(frame)
    assert ("count" in battles.frame) == counted
    got = {}
    for path, per_battle in (("sort", 0), ("count", 10**9)):
        monkeypatch.setattr(agg, "DENSE_CELLS_PER_BATTLE", per_battle)
        got[path] = agg.aggregate(battles)
    for field in ("i", "j", "cell_pair", "cell_outcome", "cell_count", "cell_weight"):
        np.testing.assert_array_equal(getattr(got["sort"], field), getattr(got["count"], field))
