"""Hostile input, generated class by class, through every reader and every command.

Each test builds its inputs from a class of problem (a count column under another spelling, names
that differ by whitespace or case, a byte-order mark, invalid rows at random places, bad option
values, huge values...) rather than fixed examples, and runs them through ``load_battles`` in
every format, ``stream_pair_counts``, and the commands ``leaderboard``, ``matrix``, ``elo``,
``update``, ``plot``, ``audit``, ``next-pairs`` and ``report`` (in-process). Each run must either give the right numbers, computed here
independently of the library, or fail with exit status 2 and one specific ``arena-stats: error:``
line: never a traceback, never a silently wrong number, never a partial output file.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import random
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena_stats import load_battles
from arena_stats.cli import main
from arena_stats.data.aggregate import aggregate, model_totals
from arena_stats.data.stream import stream_pair_counts
from arena_stats.errors import InputError, LookalikeNameWarning, NameMergeWarning
from arena_stats.scale.state import load_state

FORMATS = ("csv", "tsv", "json", "jsonl", "parquet", "csv.gz")
COMMANDS = ("leaderboard", "matrix", "elo", "update", "plot", "audit", "next-pairs", "report")
VERDICTS = ("model_a", "model_b", "tie", "tie (bothbad)")
FIELDS = ("i", "j", "cell_pair", "cell_outcome", "cell_count", "cell_weight")


# ------------------------------------------------------------------------------ writing inputs
def write(records: list[dict], path: Path, fmt: str) -> Path:
    """Records as a file of ``fmt``; JSON formats keep Python types (lists, ints vs floats)."""
    path = path.with_name(f"{path.name}.{fmt}")
    frame = pd.DataFrame.from_records(records)
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt in ("csv", "tsv", "csv.gz"):
        text = frame.to_csv(index=False, sep="\t" if fmt == "tsv" else ",")
        if fmt == "csv.gz":
            path.write_bytes(gzip.compress(text.encode("utf-8")))
        else:
            path.write_text(text, encoding="utf-8")
    elif fmt == "json":
        path.write_text(json.dumps(records), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def battle_records(rng: random.Random, n: int, models: list[str]) -> list[dict]:
    """``n`` valid battles between ``models``, every model in at least one, every verdict seen."""
    out = []
    for k in range(n):
        a, b = rng.sample(models, 2) if k >= len(models) else (models[k], models[(k + 1) % len(models)])
        out.append({"model_a": a, "model_b": b, "winner": VERDICTS[k % 4] if k < 4 else rng.choice(VERDICTS)})
    return out


# ------------------------------------------------------------------------------ the truth
def expected_totals(battles: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """Per model: battles, wins, losses, ties (both kinds), from (a, b, verdict, count) tuples."""
    t: dict[str, Counter] = {}
    for a, b, v, c in battles:
        if not c:
            continue
        for m in (a, b):
            t.setdefault(m, Counter())["battles"] += c
        if v == "model_a":
            t[a]["wins"] += c
            t[b]["losses"] += c
        elif v == "model_b":
            t[b]["wins"] += c
            t[a]["losses"] += c
        else:
            t[a]["ties"] += c
            t[b]["ties"] += c
    frame = pd.DataFrame({m: {k: float(c[k]) for k in ("battles", "wins", "losses", "ties")} for m, c in t.items()}).T
    return frame.sort_index()


def as_tuples(records: list[dict], a="model_a", b="model_b", w="winner") -> list[tuple]:
    return [(r[a], r[b], r[w], 1) for r in records]


def totals_of(result) -> pd.DataFrame:
    t = model_totals(result)[["battles", "wins", "losses", "ties"]].astype(float)
    return t.sort_index()


def assert_totals(got: pd.DataFrame, want: pd.DataFrame, where: str) -> None:
    got = got[["battles", "wins", "losses", "ties"]].astype(float).sort_index()
    assert list(got.index) == list(want.index), f"{where}: models {list(got.index)} != {list(want.index)}"
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy(), err_msg=where)


# ------------------------------------------------------------------------------ running the CLI
def cli(args: list[str]) -> tuple[int, str, str]:
    """Run ``arena-stats`` in-process; (exit status, stdout, stderr). Never a traceback."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            rc = exc.code
    stderr = err.getvalue()
    assert "Traceback" not in stderr, stderr
    return rc, out.getvalue(), stderr


def cli_flags(options: dict) -> list[str]:
    flags = []
    for key, value in options.items():
        flag = "--" + {"not_counts": "not-count"}.get(key, key.replace("_", "-"))
        if value is True:
            flags.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                flags += [flag, v]
        else:
            flags += [flag, value]
    return flags


def command_line(command: str, inputs: list, tmp: Path, options: dict | None = None) -> list:
    """The arguments of ``command`` on ``inputs`` printing a CSV table (plot: writing a PNG)."""
    flags = cli_flags(options or {})
    if command == "leaderboard":
        return ["leaderboard", *inputs, "--ci", "none", "--format", "csv", "-q", *flags]
    if command == "matrix":
        return ["matrix", *inputs, "--kind", "counts", "--format", "csv", "-q", *flags]
    if command == "elo":
        return ["elo", *inputs, "--format", "csv", "-q", *flags]
    if command == "update":
        state = tmp / f"state{len(list(tmp.glob('state*')))}.npz"
        return ["update", state, *inputs, "--new", "--ci", "none", "--format", "csv", "-q", *flags]
    if command == "audit":
        return ["audit", *inputs, "--ci", "none", "--only", "connectivity", "--only", "ties", "-q", *flags]
    if command == "next-pairs":
        return ["next-pairs", *inputs, "--budget", "10", "--format", "csv", "-q", *flags]
    if command == "report":
        return ["report", *inputs, "-o", tmp / "page.html", "--ci", "none", "-q", *flags]
    return ["plot", "leaderboard", *inputs, "-o", tmp / "plot.png", "--rounds", "5", "-q", *flags]


def cli_totals(command: str, stdout: str) -> pd.DataFrame | None:
    """Per-model totals from a command's CSV (matrix: only battles per model), or None (plot)."""
    if command in ("plot", "audit", "next-pairs", "report"):
        return None
    frame = pd.read_csv(io.StringIO(stdout), keep_default_na=False)
    frame["model"] = frame["model"].astype(str)
    if command == "matrix":
        return frame.set_index("model").drop(columns=[]).sum(axis=1).to_frame("battles")
    return frame.set_index("model")[["battles", "wins", "losses", "ties"]]


def check_command_counts(command: str, inputs: list, tmp: Path, want: pd.DataFrame, options: dict | None = None):
    rc, out, err = cli(command_line(command, inputs, tmp, options))
    assert rc == 0, err
    got = cli_totals(command, out)
    if got is None:
        if command == "plot":
            assert (tmp / "plot.png").stat().st_size > 0
        elif command == "report":
            assert (tmp / "page.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        elif command == "audit":
            assert "connectivity" in out
        else:  # next-pairs: a plan over the models that were read
            plan = pd.read_csv(io.StringIO(out), keep_default_na=False, dtype=str)
            assert set(plan["model_a"]) | set(plan["model_b"]) <= {str(m) for m in want.index}
        return err
    if command == "matrix":
        np.testing.assert_array_equal(got["battles"].sort_index().to_numpy(), want["battles"].to_numpy(),
                                      err_msg=command)
        assert list(got.sort_index().index) == list(want.index)
    else:
        assert_totals(got, want, command)
    return err


def check_command_error(command: str, inputs: list, tmp: Path, pattern: str, options: dict | None = None) -> str:
    """Exit 2, one ``arena-stats: error:`` line matching ``pattern``, nothing written."""
    before = set(os.listdir(tmp))
    rc, out, err = cli(command_line(command, inputs, tmp, options))
    assert rc == 2, (command, rc, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("arena-stats: error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert re.search(pattern, errors[0]), (pattern, errors[0])
    assert out == ""
    assert set(os.listdir(tmp)) == before, "an output file was written on error"
    return errors[0]


def api_error(call, pattern: str) -> InputError:
    with pytest.raises(InputError) as info:
        call()
    assert re.search(pattern, str(info.value)), (pattern, str(info.value))
    return info.value


def quiet(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args, **kwargs)


# ==================================================================== 1. aggregated count files
#: Spellings files use for each count column, written down here (not taken from the library, so
#: that a spelling the readers stop recognising fails a test).
COUNT_SPELLINGS = {
    "wins_a": ("wins_a", "a_wins", "win_a", "wins_model_a", "model_a_wins", "a_win"),
    "wins_b": ("wins_b", "b_wins", "win_b", "wins_model_b", "model_b_wins", "b_win"),
    "ties": ("ties", "tie", "draws", "draw", "n_ties"),
    "bothbad": ("bothbad", "both_bad", "ties_bothbad", "tie_bothbad", "tie (bothbad)", "ties (bothbad)",
                "tie_both_bad", "both bad", "Tie (Both Bad)", "bothbad_ties", "n_bothbad"),
}


def _spelling_variants(rng: random.Random, spelling: str) -> str:
    """The spelling as files write it: upper case, spaces or hyphens for underscores."""
    style = rng.randrange(4)
    if style == 1:
        return spelling.upper()
    if style == 2:
        return spelling.replace("_", " ")
    if style == 3:
        return spelling.replace("_", "-").title()
    return spelling


def aggregated_case(seed: int, with_total: bool = False) -> tuple[list[dict], pd.DataFrame, dict[str, str]]:
    """Counts of random pairs under the ``seed``-th spelling of every verdict column."""
    rng = random.Random(seed)
    names = {v: _spelling_variants(rng, s[seed % len(s)]) for v, s in COUNT_SPELLINGS.items()}
    models = [f"m{k}" for k in range(5)]
    pairs = [(a, b) for k, a in enumerate(models) for b in models[k + 1:]]
    records, truth = [], []
    for a, b in rng.sample(pairs, 7):
        row = {"model_a": a, "model_b": b}
        counts = {v: rng.randrange(0, 9) for v in COUNT_SPELLINGS}
        counts["bothbad"] = max(counts["bothbad"], 1)  # both-bad votes are the ones that used to vanish
        for v, c in counts.items():
            row[names[v]] = c
        if with_total:
            row["total"] = sum(counts.values())
        records.append(row)
        truth += [(a, b, verdict, counts[v]) for v, verdict in zip(COUNT_SPELLINGS, VERDICTS)]
    return records, expected_totals(truth), names


@pytest.mark.parametrize("seed", range(11))
def test_aggregated_counts_are_read_under_every_spelling_by_every_reader(tmp_path, seed):
    records, want, names = aggregated_case(seed, with_total=seed % 3 == 0)
    path = write(records, tmp_path / "counts", FORMATS[seed % len(FORMATS)])
    assert_totals(totals_of(aggregate(load_battles(path))), want, f"load_battles {names}")
    assert_totals(totals_of(stream_pair_counts(path)), want, f"stream_pair_counts {names}")
    # pruning columns for speed (the CLI does) must not hide a count column
    assert_totals(totals_of(aggregate(load_battles(path, keep=[]))), want, "load_battles(keep=[])")


@pytest.mark.parametrize("command", COMMANDS)
def test_aggregated_counts_are_read_under_every_spelling_by_every_command(tmp_path, command):
    seed = COMMANDS.index(command) + 3
    records, want, _ = aggregated_case(seed)
    path = write(records, tmp_path / "counts", FORMATS[seed % len(FORMATS)])
    check_command_counts(command, [path], tmp_path, want)


@pytest.mark.parametrize("seed", range(4))
def test_count_columns_named_on_the_command_line_are_read(tmp_path, seed):
    rng = random.Random(seed)
    records, want, names = aggregated_case(seed)
    odd = {v: f"col_{rng.randrange(10**6)}_{v[::-1]}" for v in COUNT_SPELLINGS}
    records = [{odd.get(next((v for v, n in names.items() if n == k), ""), k): x for k, x in r.items()}
               for r in records]
    path = write(records, tmp_path / "counts", "csv")
    options = {f"{v}_col": odd[v] for v in COUNT_SPELLINGS}
    assert_totals(totals_of(aggregate(load_battles(path, **options))), want, "load_battles")
    assert_totals(totals_of(stream_pair_counts(path, **options)), want, "stream")
    check_command_counts(("leaderboard", "update")[seed % 2], [path], tmp_path, want, options)


@pytest.mark.parametrize("seed", range(6))
def test_an_unread_numeric_column_of_an_aggregated_file_is_an_error_naming_it(tmp_path, seed):
    rng = random.Random(seed)
    records, want, _ = aggregated_case(seed)
    extra = rng.choice(["score", "n_bb", "bad_votes", "tie bb", "weird", "x1"]) + str(seed)
    for r in records:
        r[extra] = rng.randrange(5)
    fmt = FORMATS[seed % len(FORMATS)]
    path = write(records, tmp_path / "counts", fmt)
    pattern = f"column '{re.escape(extra)}'.*never dropped silently"
    for read in (load_battles, stream_pair_counts):
        err = api_error(lambda read=read: read(path), pattern)
        assert err.column == extra and err.file == str(path)
    check_command_error(COMMANDS[seed % len(COMMANDS)], [path], tmp_path, pattern)
    # declared not a count, it is data and the counts are right
    assert_totals(totals_of(stream_pair_counts(path, not_counts=[extra])), want, "stream not_counts")
    assert_totals(totals_of(aggregate(load_battles(path, not_counts=[extra]))), want, "load not_counts")
    check_command_counts("leaderboard", [path], tmp_path, want, {"not_counts": [extra]})


def test_a_total_that_disagrees_with_the_counts_is_an_error(tmp_path):
    records, _, names = aggregated_case(2, with_total=True)
    bothbad = names["bothbad"]
    for r in records:
        del r[bothbad]  # the total still includes them: a count column is missing
    path = write(records, tmp_path / "counts", "csv")
    for read in (load_battles, stream_pair_counts):
        api_error(lambda read=read: read(path), "add up to .* but column 'total' says .* count column missing")
    check_command_error("update", [path], tmp_path, "column 'total'")


def test_two_columns_for_one_verdict_are_an_error_naming_both(tmp_path):
    records, _, _ = aggregated_case(0)
    for r in records:
        r["draws"] = 1  # next to "ties"
    path = write(records, tmp_path / "counts", "parquet")
    for read in (load_battles, stream_pair_counts):
        api_error(lambda read=read: read(path), "'ties', 'draws' could each hold the ties counts")
    check_command_error("matrix", [path], tmp_path, "could each hold the ties counts")


# ==================================================================== 2. names
def name_case(kind: str, rng: random.Random) -> tuple[list[str], str | None, type | None]:
    """Spellings of one contestant of this ``kind``, the name the policy gives them (None: kept
    apart), and the warning expected."""
    base = rng.choice(["gpt-4", "Claude 2", "llama", "vicuña", "Ünïcode", "mixtral"])
    if kind == "whitespace":
        return [base, f" {base}", f"{base}\u00a0", f"\t{base} "], base, NameMergeWarning
    if kind == "nfc":
        import unicodedata
        decomposed = unicodedata.normalize("NFD", base + "é")
        return [base + "é", decomposed], base + "é", NameMergeWarning
    if kind == "case":
        return [base, base.upper(), base.title()], None, LookalikeNameWarning
    if kind == "invisible":
        return [base, base + "\u200b", "\ufeff" + base, base[:2] + "\u00ad" + base[2:]], None, LookalikeNameWarning
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["whitespace", "nfc", "case", "invisible"])
@pytest.mark.parametrize("fold_case", [False, True])
def test_name_policy_is_the_same_on_every_reader(tmp_path, kind, fold_case):
    rng = random.Random(hash((kind, fold_case)) % 1000)
    spellings, merged, warning = name_case(kind, rng)
    # every spelling wins and loses against two others, so that each has a finite rating when kept apart
    records = [{"model_a": s, "model_b": o, "winner": v} for s in spellings for o in ("other-1", "other-2")
               for v in ("model_a", "model_b", rng.choice(VERDICTS))]
    records += [{"model_a": "other-1", "model_b": "other-2", "winner": v} for v in ("model_a", "model_b")]
    if merged is None and fold_case:  # folded into the spelling with fewest invisible characters, then sorted
        merged = min(spellings, key=lambda s: (sum(ch in "\u200b\ufeff\u00ad" for ch in s), s))
    canon = (lambda s: merged if s in spellings else s) if merged is not None else (lambda s: s)
    want = expected_totals([(canon(r["model_a"]), r["model_b"], r["winner"], 1) for r in records])
    if merged is not None and kind in ("case", "invisible"):
        warning = NameMergeWarning  # fold_case reports what it merged
    options = {"fold_case": True} if fold_case else {}
    for fmt in ("csv", "jsonl", "parquet"):
        path = write(records, tmp_path / f"names_{fmt}", fmt)
        for name, read in (("load_battles", lambda p: aggregate(load_battles(p, **options))),
                           ("stream_pair_counts", lambda p: stream_pair_counts(p, **options))):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                got = read(path)
            assert_totals(totals_of(got), want, f"{name} {fmt} {kind}")
            categories = {type(w.message) for w in caught}
            if warning is not None:
                assert warning in categories, (name, fmt, [str(w.message) for w in caught])
            if warning is not LookalikeNameWarning:
                assert LookalikeNameWarning not in categories
    path = tmp_path / "names_csv.csv"
    for command in ("leaderboard", "update"):
        err = check_command_counts(command, [path], tmp_path, want, options)
        assert ("arena-stats: warning:" in err) == (warning is not None), err


def test_numbers_as_names_have_one_text_whatever_the_column_type(tmp_path):
    """Integer ids in one file, float ids in another (NaN elsewhere made the column float), text
    ids with leading zeros in a third: the same players."""
    d = tmp_path / "ids"
    d.mkdir()
    rng = random.Random(7)
    games = [(a, b) for a, b in (rng.sample(range(1, 6), 2) for _ in range(30))]
    want = expected_totals([(str(a), str(b), "model_a", 1) for a, b in games])
    pd.DataFrame({"winner": [a for a, _ in games[:10]], "loser": [b for _, b in games[:10]]}).to_parquet(d / "a.parquet")
    pd.DataFrame({"winner": [float(a) for a, _ in games[10:20]],
                  "loser": [float(b) for _, b in games[10:20]]}).to_csv(d / "b.csv", index=False)
    (d / "c.jsonl").write_text("".join(json.dumps({"winner": f"00{a}", "loser": f"{b}.0"}) + "\n"
                                       for a, b in games[20:]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numbers merge silently: no name warning
        assert_totals(totals_of(aggregate(load_battles(d))), want, "load_battles")
        assert_totals(totals_of(stream_pair_counts(d)), want, "stream_pair_counts")
    for command in ("leaderboard", "elo", "update"):
        err = check_command_counts(command, [d], tmp_path, want)
        assert "warning" not in err


def test_fold_case_gives_the_same_names_when_counts_are_merged_in_parts(tmp_path):
    """Dask and a saved state merge counts read in parts: the folded name must not depend on
    which spellings each part saw."""
    from arena_stats.scale.distributed import pair_counts_dask
    from arena_stats.scale.state import new_state
    parts = []
    for k, spelling in enumerate(["gpt-4", "GPT-4", "Gpt-4\u200b"]):
        p = tmp_path / f"part{k}.csv"
        pd.DataFrame({"model_a": [spelling] * 3, "model_b": ["x", "y", "x"],
                      "winner": ["model_a", "tie", "model_b"]}).to_csv(p, index=False)
        parts.append(p)
    whole = quiet(stream_pair_counts, parts, fold_case=True)
    assert whole.models == ["GPT-4", "x", "y"]
    state = quiet(new_state, parts[2], fold_case=True)
    state = quiet(state.append, parts[0])
    state = quiet(state.append, parts[1])
    dask = quiet(pair_counts_dask, [str(p) for p in parts], fold_case=True, scheduler="synchronous")
    for got in (state.counts, dask):
        assert got.models == whole.models
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(got, f), getattr(whole, f), err_msg=f)


# ==================================================================== 3. every path, one reader
def _bom_file(records: list[dict], path: Path, fmt: str) -> Path:
    path = write(records, path, fmt)
    raw = path.read_bytes()
    if fmt == "csv.gz":
        path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + gzip.decompress(raw)))
    else:
        path.write_bytes(b"\xef\xbb\xbf" + raw)
    return path


def _same_counts_on_every_path(source, tmp_path: Path, want: pd.DataFrame, options: dict | None = None) -> None:
    options = options or {}
    battles = quiet(load_battles, source, **options)
    assert_totals(totals_of(aggregate(battles)), want, "load_battles")
    streamed = quiet(stream_pair_counts, source, **options)
    assert_totals(totals_of(streamed), want, "stream_pair_counts")
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(streamed, f), getattr(aggregate(battles), f), err_msg=f)
    if isinstance(source, (str, Path)):
        state = tmp_path / "paths.npz"
        rc, _, err = cli(["update", state, source, "--new", "--ci", "none", "-q", *cli_flags(options)])
        assert rc == 0, err
        saved = load_state(state).counts
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(saved, f), getattr(streamed, f), err_msg=f"state {f}")
        state.unlink()
        check_command_counts("leaderboard", [source], tmp_path, want, options)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "csv.gz"])
def test_files_with_a_byte_order_mark_read_the_same_on_every_path(tmp_path, fmt):
    records = battle_records(random.Random(fmt), 40, ["a", "b", "c", "d"])
    _same_counts_on_every_path(_bom_file(records, tmp_path / "bom", fmt), tmp_path, expected_totals(as_tuples(records)))


def test_utf16_files_are_a_clear_error_on_every_path(tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes("model_a,model_b,winner\nx,y,tie\n".encode("utf-16"))
    for read in (load_battles, stream_pair_counts):
        api_error(lambda read=read: read(path), "UTF-16-encoded; expected UTF-8")
    check_command_error("update", [path], tmp_path, "UTF-16")


@pytest.mark.parametrize("seed", range(3))
def test_directories_with_marker_and_hidden_files_read_the_same_on_every_path(tmp_path, seed):
    rng = random.Random(seed)
    d = tmp_path / "log"
    (d / "day=2").mkdir(parents=True)
    records = battle_records(rng, 60, ["p", "q", "r", "s"])
    write(records[:20], d / "part-0", FORMATS[seed])
    write(records[20:40], d / "day=2" / "part-1", FORMATS[seed + 1])
    write(records[40:], d / "part-2", "jsonl")
    for junk in ("_SUCCESS", "_metadata", ".part-0.crc", ".DS_Store", "_committed_123"):
        (d / junk).write_bytes(b"\x00garbage")
    (d / "_delta_log").mkdir()
    (d / "_delta_log" / "0.json").write_text("{not json")
    _same_counts_on_every_path(d, tmp_path, expected_totals(as_tuples(records)))
    from arena_stats.scale.distributed import pair_counts_dask
    dask = pair_counts_dask(str(d), scheduler="synchronous")
    assert_totals(totals_of(dask), expected_totals(as_tuples(records)), "dask")


def test_an_empty_directory_or_one_of_markers_only_is_a_clear_error(tmp_path):
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "_SUCCESS").write_text("")
    for read in (load_battles, stream_pair_counts):
        api_error(lambda read=read: read(tmp_path / "log"), "directory holds no files")
    check_command_error("elo", [tmp_path / "log"], tmp_path, "directory holds no files")


@pytest.mark.parametrize("as_parquet", [False, True])
def test_categorical_columns_with_unused_categories_read_the_same_on_every_path(tmp_path, as_parquet):
    rng = random.Random(3)
    records = battle_records(rng, 50, ["a", "b", "c"])
    frame = pd.DataFrame.from_records(records)
    for col in ("model_a", "model_b", "winner"):
        extra = ["ghost", " a", "zz"] if col != "winner" else ["never"]
        frame[col] = pd.Categorical(frame[col], categories=sorted(set(frame[col])) + extra)
    source: object = frame
    if as_parquet:
        source = tmp_path / "cat.parquet"
        frame.to_parquet(source)
        assert isinstance(pd.read_parquet(source)["model_a"].dtype, pd.CategoricalDtype)
    _same_counts_on_every_path(source, tmp_path, expected_totals(as_tuples(records)))


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
@pytest.mark.parametrize("bad", [["x"], {"name": "x"}, [], [["nested"]]])
def test_list_or_object_names_are_errors_or_dropped_on_every_path(tmp_path, fmt, bad):
    records = battle_records(random.Random(1), 12, ["x", "y", "z"])
    row = 7
    records[row - 1] = dict(records[row - 1], model_b=bad)
    path = write(records, tmp_path / "lists", fmt)
    for read in (load_battles, stream_pair_counts):
        err = api_error(lambda read=read: read(path), "is not text or a number|missing or blank")
        assert (err.row, err.column) == (row, "model_b")
    for command in ("leaderboard", "update"):
        check_command_error(command, [path], tmp_path, f"row {row}, column 'model_b'")
    kept = records[: row - 1] + records[row:]
    _same_counts_on_every_path(path, tmp_path, expected_totals(as_tuples(kept)), {"drop_invalid": True})


# ==================================================================== 4. messy logs
def messy(seed: int, n: int = 80) -> tuple[list[dict], list[dict], dict[str, list[int]]]:
    """A log with invalid rows of random kinds at random places: (records, the valid ones, kind -> rows)."""
    rng = random.Random(seed)
    records = battle_records(rng, n, ["m1", "m2", "m3", "m4"])
    where: dict[str, list[int]] = {"missing or blank name": [], "self-battle": [], "unknown verdict": []}
    for row in sorted(rng.sample(range(6, n + 1), 7)):
        kind = rng.choice(list(where))
        r = records[row - 1]
        if kind == "self-battle":
            r["model_b"] = r["model_a"]
        elif kind == "unknown verdict":
            r["winner"] = rng.choice(["model_c", "tei", "A wins", "2", "¿"])
        else:
            r[rng.choice(["model_a", "model_b"])] = rng.choice([None, "", "   ", "\u200b"])
        where[kind].append(row)
    bad = {r for rows in where.values() for r in rows}
    return records, [r for k, r in enumerate(records, 1) if k not in bad], where


@pytest.mark.parametrize("seed", range(6))
def test_invalid_rows_are_errors_naming_file_row_and_column_on_every_path(tmp_path, seed):
    records, _, where = messy(seed)
    first = min(r for rows in where.values() for r in rows)
    fmt = FORMATS[seed % len(FORMATS)]
    if fmt == "parquet":
        fmt = "csv"  # None next to text: parquet is covered by the drop test
    path = write(records, tmp_path / "messy", fmt)
    kind = next(k for k, rows in where.items() if first in rows)
    row = records[first - 1]
    pattern = {"missing or blank name": "missing or blank contestant name",
               "self-battle": f"contestant '{row['model_a']}' battles itself",
               "unknown verdict": f"unknown outcome label {re.escape(repr(row['winner']))}"}[kind]
    errors = []
    for read in (load_battles, stream_pair_counts):
        err = api_error(lambda read=read: read(path), pattern + ".*--drop-invalid")
        assert (err.file, err.row) == (str(path), first)
        errors.append(err.column)
    assert errors[0] == errors[1]
    check_command_error(COMMANDS[seed % len(COMMANDS)], [path], tmp_path, f"row {first}, column '{errors[0]}'")


@pytest.mark.parametrize("seed", range(6))
def test_drop_invalid_drops_and_reports_each_kind_with_its_first_rows_on_every_path(tmp_path, seed):
    records, valid, where = messy(seed + 10)
    fmt = FORMATS[seed % len(FORMATS)]
    path = write(records, tmp_path / "messy", fmt)
    want = expected_totals(as_tuples(valid))
    by_kind = tuple((k, len(v)) for k, v in where.items())
    battles = quiet(load_battles, path, drop_invalid=True)
    streamed = quiet(stream_pair_counts, path, drop_invalid=True)
    for got, step in ((aggregate(battles), battles.steps[0]), (streamed, streamed.steps[-1])):
        assert_totals(totals_of(got), want, step.name)
        assert step.name == "drop-invalid" and step.by_kind == by_kind
        assert step.removed == sum(n for _, n in by_kind)
        for kind, rows in where.items():
            if rows:
                assert ", ".join(map(str, rows[:5])) in step.reason, (kind, step.reason)
    for command in ("leaderboard", "matrix", "elo", "update"):
        err = check_command_counts(command, [path], tmp_path, want, {"drop_invalid": True})
        assert err == "" or "warning" in err  # -q: status lines off
    rc, _, err = cli(["leaderboard", path, "--drop-invalid", "--ci", "none"])
    assert rc == 0 and f"filter drop-invalid: removed {sum(n for _, n in by_kind)} rows" in err


@pytest.mark.parametrize("batch_rows", [1, 7, 30])
def test_invalid_rows_keep_their_row_numbers_across_batches(tmp_path, batch_rows):
    records, valid, where = messy(batch_rows)
    frame = pd.DataFrame.from_records(records)
    path = tmp_path / "messy.parquet"
    frame.to_parquet(path)
    first = min(r for rows in where.values() for r in rows)
    for source in (frame, path):
        with pytest.raises(InputError) as err:
            stream_pair_counts(source, batch_rows=batch_rows)
        assert err.value.row == first
        step = quiet(stream_pair_counts, source, drop_invalid=True, batch_rows=batch_rows).steps[-1]
        for kind, rows in where.items():
            if rows:
                assert ", ".join(map(str, rows[:5])) in step.reason, (kind, step.reason)
        assert step.reason == quiet(load_battles, source, drop_invalid=True).steps[0].reason


# ==================================================================== 5. option values
BAD_OPTIONS = [
    (["--since", "yesterday"], "--since 'yesterday' is not a date"),
    (["--until", "2024-13-45"], "--until '2024-13-45' is not a date"),
    (["--since", ""], "--since '' is not a date"),
    (["--min-battles", "-1"], "--min-battles must be a whole number >= 0, got '-1'"),
    (["--min-battles", "1.5"], "--min-battles must be a whole number >= 0"),
    (["--min-battles", "many"], "--min-battles must be a whole number >= 0"),
    (["--min-battles", "nan"], "--min-battles must be a whole number >= 0"),
    (["--where", "language"], "--where 'language' must look like KEY=VALUE"),
    (["--where", "=x"], "KEY is empty"),
    (["--where", "nope=1"], "cannot filter on missing column"),
    (["--outcome-map", "x"], "--outcome-map 'x' must look like KEY=VALUE"),
    (["--outcome-map", "x=win-ish"], "which is not one of"),
    (["--exclude", "nobody"], "cannot exclude unknown model 'nobody'"),
    (["--weight-col", "w"], "missing weight column"),
    (["--model-a-col", "p", "--model-b-col", "q", "--outcome-col", "r"], "missing column 'p'"),
]


@pytest.fixture(scope="module")
def small_log(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("small")
    records = battle_records(random.Random(0), 60, ["a", "b", "c", "d"])
    for k, r in enumerate(records):
        r["tstamp"] = 1.7e9 + 3600 * k
    return write(records, d / "log", "csv")


@pytest.mark.parametrize("options, message", BAD_OPTIONS, ids=[" ".join(o) for o, _ in BAD_OPTIONS])
def test_bad_input_option_values_are_one_line_errors_in_every_command(tmp_path, small_log, options, message):
    filters = options[0] in ("--since", "--until", "--min-battles", "--where", "--exclude")
    for command in COMMANDS:
        if command == "update" and filters:
            continue  # update takes no filters
        args = command_line(command, [small_log], tmp_path)
        rc, out, err = cli(args + options)
        assert rc == 2, (command, err)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert lines[-1].startswith("arena-stats: error:") and message in lines[-1], (command, err)
        assert sum(ln.startswith("arena-stats: error:") for ln in lines) == 1
        assert out == "" and not (tmp_path / "plot.png").exists()
        assert not list(tmp_path.glob("state*.npz"))


@pytest.mark.parametrize("where", ["directory", "missing directory", "unwritable"])
def test_bad_output_paths_are_one_line_errors_that_write_nothing(tmp_path, small_log, where):
    if where == "directory":
        target, message = tmp_path / "out.png", "it is a directory"  # an image name too, for plot
        target.mkdir()
    elif where == "missing directory":
        target, message = tmp_path / "no" / "such" / "board.csv", "does not exist"
    else:
        target, message = Path("/sys/arena-stats-board.csv"), "ermission denied|Read-only"
        if os.access("/sys", os.W_OK) and os.getuid() != 0:
            pytest.skip("/sys is writable here")
    for command in COMMANDS:
        args = command_line(command, [small_log], tmp_path)
        if command == "plot":
            args[args.index("-o") + 1] = str(target) if where == "directory" else str(target) + ".png"
        elif command == "report":  # a page: its name ends in .html
            page = target.with_suffix(".html")
            if where == "directory":
                page.mkdir(exist_ok=True)
            args[args.index("-o") + 1] = str(page)
        elif command == "audit":  # its outputs are --json and --markdown
            args += ["--json", target]
        else:
            args += ["-o", target]
        rc, out, err = cli(args)
        assert rc == 2 and re.search(message, err.splitlines()[-1]), (command, err)
        assert not (tmp_path / "no").exists() and not list(tmp_path.glob("state*.npz")), command
        assert not (target.is_file() if where != "directory" else any(target.iterdir()))
    # update: an unwritable state is refused before anything is read
    rc, _, err = cli(["update", tmp_path / "nodir" / "s.npz", small_log, "--new", "-q"])
    assert rc == 2 and "does not exist" in err


# ==================================================================== 6. huge values in messages
HUGE = 5_000_000


@pytest.mark.parametrize("case", ["self-battle", "label", "column", "exclude", "count", "blank-ish"])
def test_huge_values_from_the_data_are_shortened_in_every_message(tmp_path, case):
    huge = "A" * HUGE
    records = battle_records(random.Random(2), 10, ["a", "b", "c"])
    extra: list[str] = []
    if case == "self-battle":
        records[4] = {"model_a": huge, "model_b": huge, "winner": "tie"}
    elif case == "label":
        records[4]["winner"] = huge
    elif case == "column":
        records = [{("model_a" if k != "model_a" else huge[:200_000]): v for k, v in r.items()} for r in records]
    elif case == "exclude":
        extra = ["--exclude", huge[:100_000]]
    elif case == "count":
        records = [{"model_a": "a", "model_b": "b", "wins_a": huge, "wins_b": 1}]
    else:
        records[4]["model_a"] = "\u200b" * 100_000 + "\n"
    path = write(records, tmp_path / "huge", "csv")
    messages = []
    if case != "exclude":
        for read in (load_battles, stream_pair_counts):
            with pytest.raises(InputError) as info:
                read(path)
            messages.append(str(info.value))
    for command in ("leaderboard",) if case == "exclude" else ("leaderboard", "update"):
        rc, _, err = cli(command_line(command, [path], tmp_path) + extra)
        assert rc == 2
        messages.append(err)
    for m in messages:
        assert len(m) < 2000 and "\n" not in m.strip(), m[:300]
        if case in ("self-battle", "label", "exclude"):  # the value itself is shortened, not only the message
            assert re.search(r"'A{80}'\.\.\. \([0-9,]+ characters\)", m), m[:300]


def test_a_message_built_from_many_values_is_cut_at_its_limit():
    from arena_stats.errors import MAX_MESSAGE_CHARS
    err = InputError("columns present: " + ", ".join(f"column_{k}" for k in range(10_000)), file="f.csv")
    assert MAX_MESSAGE_CHARS < len(str(err)) < MAX_MESSAGE_CHARS + 100 and str(err).endswith("characters)")


# ==================================================================== 8. update
def test_the_same_file_read_by_update_and_by_load_gives_the_same_counts(tmp_path):
    records, want, _ = aggregated_case(5)
    path = write(records, tmp_path / "counts", "tsv")
    state = tmp_path / "s.npz"
    rc, _, err = cli(["update", state, path, "--new", "-q", "--ci", "none"])
    assert rc == 0, err
    saved, loaded = load_state(state).counts, aggregate(load_battles(path))
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(saved, f), getattr(loaded, f), err_msg=f)
    assert_totals(totals_of(saved), want, "state")


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_count_and_weight_columns_are_read_on_every_path(tmp_path, fmt):
    """A ``count`` column (battles per row) and a ``weight`` column are read by every reader, also
    when the CLI reads only the columns it needs."""
    rng = random.Random(fmt)
    records = battle_records(rng, 30, ["a", "b", "c", "d"])
    for r in records:
        r["count"] = rng.randrange(1, 4)
        r["weight"] = rng.choice([0.5, 1.0, 2.0])
    path = write(records, tmp_path / "counted", fmt)
    want = expected_totals([(r["model_a"], r["model_b"], r["winner"], r["count"]) for r in records])
    streamed = stream_pair_counts(path)
    assert streamed.weighted
    for got in (aggregate(load_battles(path)), aggregate(load_battles(path, keep=[]))):
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(got, f), getattr(streamed, f), err_msg=f)
    assert_totals(totals_of(streamed), want, "stream")
    for command in ("leaderboard", "update", "matrix"):
        check_command_counts(command, [path], tmp_path, want)


# ==================================================================== real data
def test_a_real_fastchat_log_with_a_self_battle_is_strict_by_default_and_cleaned_on_request(shared_data):
    """GenAI-Arena's log (FastChat's schema) has one self-battle, row 1820: an error naming it on
    every path, or dropped and reported with drop_invalid, with the same counts everywhere."""
    from arena_stats.scale.state import new_state
    path = shared_data / "genai_arena" / "clean_battle_20240220.json"
    for read in (load_battles, stream_pair_counts):
        err = api_error(lambda read=read: read(path), "contestant 'imagenhub_SDXLTurbo_generation' battles itself")
        assert (err.row, err.column) == (1820, "model_a")
    battles = load_battles(path, drop_invalid=True)
    assert battles.n_battles == 2060 and battles.steps[0].by_kind[1] == ("self-battle", 1)
    loaded = aggregate(battles)
    for got in (stream_pair_counts(path, drop_invalid=True), new_state(path, drop_invalid=True).counts):
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(got, f), getattr(loaded, f), err_msg=f)
    records = json.loads(path.read_text())
    want = expected_totals([(r["model_a"], r["model_b"], r["winner"], 1) for r in records
                            if r["model_a"] != r["model_b"]])
    assert_totals(totals_of(loaded), want, "genai")


def test_numbers_stored_as_text_in_an_aggregated_file_are_counts_too(tmp_path):
    records, _, _ = aggregated_case(1)
    for r in records:
        r["bb"] = str(r["model_a"] == "m0")  # text: "True"/"False" is not a number
        r["votes_bad"] = "3"  # a number as JSON text
    path = write(records, tmp_path / "text_counts", "json")
    for read in (load_battles, stream_pair_counts):
        err = api_error(lambda read=read: read(path), "numeric column 'votes_bad'")
        assert err.column == "votes_bad"


@pytest.mark.parametrize("command", [["leaderboard"], ["matrix"], ["elo"], ["audit"], ["next-pairs", "--budget", "10"],
                                     ["report", "-o", "page.html"]])
@pytest.mark.parametrize("option", [["--scale", "-1"], ["--base", "1"], ["--init", "nan"]])
def test_bad_scale_options_fail_before_any_file_is_read(command, option, tmp_path, monkeypatch, capsys):
    from arena_stats.cli import common
    from arena_stats.cli import main as cli_main

    def refuse(*args, **kwargs):
        raise AssertionError("a file was read before the options were checked")
    monkeypatch.setattr(common, "load_battles", refuse)
    monkeypatch.setattr("arena_stats.data.stream.stream_pair_counts", refuse)
    monkeypatch.chdir(tmp_path)
    code = cli_main([command[0], str(tmp_path / "missing.csv"), *command[1:], *option])
    err = capsys.readouterr().err
    assert code == 2 and option[0].lstrip("-") in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
