"""The command line: formats, atomic output, filters on stderr, one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from arena_stats.boards.leaderboard import BOOTSTRAP_COLUMNS, LEADERBOARD_COLUMNS
from arena_stats.cli import main


@pytest.fixture()
def battles_csv(tmp_path, small_arena):
    path = tmp_path / "battles.csv"
    small_arena.battles.to_frame().to_csv(path, index=False)
    return path


def test_csv_and_json_use_exactly_the_documented_columns(battles_csv, tmp_path, capsys):
    assert main(["leaderboard", str(battles_csv), "--bootstrap", "50", "--format", "csv", "-q"]) == 0
    out = capsys.readouterr().out
    frame = pd.read_csv(pd.io.common.StringIO(out))
    assert list(frame.columns) == LEADERBOARD_COLUMNS + BOOTSTRAP_COLUMNS
    target = tmp_path / "board.json"
    assert main(["leaderboard", str(battles_csv), "--ci", "sandwich", "--format", "json", "-o", str(target),
                 "-q"]) == 0
    records = json.loads(target.read_text())
    assert list(records[0]) == LEADERBOARD_COLUMNS
    assert isinstance(records[0]["battles"], (int, float))


def test_markdown_and_table_formats(battles_csv, capsys):
    assert main(["leaderboard", str(battles_csv), "--ci", "fisher", "--format", "markdown", "-q"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| rank | model | rating |")
    assert main(["leaderboard", str(battles_csv), "--ci", "none", "-q"]) == 0
    assert "win_rate" in capsys.readouterr().out


def test_filters_report_on_stderr(battles_csv, capsys):
    assert main(["leaderboard", str(battles_csv), "--ci", "none", "--where", "language=English",
                 "--drop-ties", "--min-battles", "20"]) == 0
    err = capsys.readouterr().err
    assert "filter where language: removed" in err and "filter drop-ties: removed" in err
    assert "filter min-battles" in err


def test_anchor_and_ties_options(battles_csv, capsys):
    assert main(["leaderboard", str(battles_csv), "--ci", "none", "--ties", "davidson",
                 "--anchor", "model-000=1200", "--format", "csv", "-q"]) == 0
    frame = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out)).set_index("model")
    assert frame.loc["model-000", "rating"] == pytest.approx(1200.0)


def test_bad_input_is_one_line_exit_2_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("model_a,model_b,winner\nx,y,model_a\nx,y,maybe\n")
    assert main(["leaderboard", str(bad), "-q"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv, row 2, column 'winner': unknown outcome label 'maybe'" in err
    assert "Traceback" not in err


def test_no_mle_is_reported_cleanly(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("model_a,model_b,winner\nx,y,model_a\ny,z,model_a\nx,z,model_a\n")
    assert main(["leaderboard", str(bad), "-q"]) == 2
    assert "never lost" in capsys.readouterr().err


def test_output_is_written_atomically_and_leaves_no_temp_files(battles_csv, tmp_path):
    target = tmp_path / "out" / "board.csv"
    target.parent.mkdir()  # -o never creates directories (issue 11): tests/test_hostile.py checks the error
    assert main(["leaderboard", str(battles_csv), "--ci", "none", "--format", "csv", "-o", str(target), "-q"]) == 0
    assert target.exists() and [p.name for p in target.parent.iterdir()] == ["board.csv"]


def test_matrix_kinds(battles_csv, capsys):
    for kind in ("win-fraction", "counts", "predicted"):
        assert main(["matrix", str(battles_csv), "--kind", kind, "--top", "5", "--format", "csv", "-q"]) == 0
        frame = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
        assert frame.shape == (5, 6)


def test_example_runs_from_the_installed_entry_point():
    out = subprocess.run([sys.executable, "-m", "arena_stats", "leaderboard", "--example", "--bootstrap", "20",
                          "--format", "csv", "--quiet"], capture_output=True, text=True, check=True)
    frame = pd.read_csv(pd.io.common.StringIO(out.stdout))
    assert len(frame) == 50 and frame["battles"].sum() == 200_000


def test_every_command_has_help(capsys):
    for cmd in ("leaderboard", "matrix"):
        with pytest.raises(SystemExit) as info:
            main([cmd, "--help"])
        assert info.value.code == 0
        assert "--format" in capsys.readouterr().out


def test_sandwich_with_cluster_widens_intervals(battles_csv, capsys):
    args = ["leaderboard", str(battles_csv), "--ci", "sandwich", "--format", "csv", "-q"]
    assert main(args) == 0
    plain = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert main(args + ["--cluster", "language"]) == 0
    clustered = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert not plain[["ci_lower", "ci_upper"]].equals(clustered[["ci_lower", "ci_upper"]])
    assert main(["leaderboard", str(battles_csv), "--ci", "fisher", "--cluster", "judge", "-q"]) == 2


# ----------------------------------------------------------------------------- printed precision
def _decimals(cell: str) -> int:
    return len(cell.split(".", 1)[1]) if "." in cell else 0


def _table_cells(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of an aligned text table whose cells hold no spaces (blank cells dropped)."""
    lines = text.strip("\n").splitlines()
    return lines[0].split(), [line.split() for line in lines[1:]]


def test_render_table_decimals_per_kind_of_column():
    from arena_stats.cli.common import render_table
    frame = pd.DataFrame({"model": ["x", "y"], "rating": [1234.56789, 999.04321], "battles": [1200.0, 30.0],
                          "win_rate": [0.123456, 0.5], "p_top": [0.98765, 0.01235], "volatility": [0.0600049, 0.06],
                          "rd": [35.4321, 80.0]})
    text = render_table(frame, "table")
    header, rows = _table_cells(text)
    col = {name: k for k, name in enumerate(header)}
    assert [r[col["rating"]] for r in rows] == ["1234.6", "999.0"]
    assert [r[col["battles"]] for r in rows] == ["1,200", "30"]
    # integer counts print the same way as whole float counts; other integers as they are
    ints = render_table(pd.DataFrame({"rank": [1200, 3], "battles": [18720, 30]}), "table")
    assert _table_cells(ints)[1][0] == ["1200", "18,720"]
    assert [r[col["win_rate"]] for r in rows] == ["0.123", "0.500"]
    assert [r[col["p_top"]] for r in rows] == ["0.988", "0.012"]
    assert [r[col["volatility"]] for r in rows] == ["0.060", "0.060"]
    assert [r[col["rd"]] for r in rows] == ["35.4", "80.0"]
    # an int default changes the rating-like columns only; a mapping sets exact columns
    header, rows = _table_cells(render_table(frame, "table", float_digits=2))
    assert rows[0][header.index("rating")] == "1234.57" and rows[0][header.index("win_rate")] == "0.123"
    md = render_table(frame, "markdown", float_digits={"rating": 0, "win_rate": 4, "battles": 2})
    assert md.splitlines()[2] == "| x | 1235 | 1200.00 | 0.1235 | 0.988 | 0.060 | 35.4 |"


def test_render_table_csv_and_json_keep_full_precision():
    from arena_stats.cli.common import render_table
    frame = pd.DataFrame({"model": ["x", "y"], "rating": [1234.56789012345, float("nan")],
                          "win_rate": [0.1234567890123, 0.5]})
    back = pd.read_csv(pd.io.common.StringIO(render_table(frame, "csv", float_digits={"rating": 0})))
    assert back["rating"][0] == 1234.56789012345 and back["win_rate"][0] == 0.1234567890123
    records = json.loads(render_table(frame, "json", float_digits=0))
    assert records[0]["rating"] == 1234.56789012345 and records[1]["rating"] is None
    assert records[0]["win_rate"] == 0.1234567890123


def test_matrix_prints_win_fractions_with_three_decimals_and_counts_as_integers(battles_csv, capsys):
    from arena_stats.data.aggregate import aggregate, pairwise_matrices
    from arena_stats.data.readers import load_battles
    assert main(["matrix", str(battles_csv), "--top", "6", "-q"]) == 0
    header, rows = _table_cells(capsys.readouterr().out)
    assert header[0] == "model" and len(rows) == 6
    cells = [c for row in rows for c in row[1:]]
    assert len(cells) == 30  # the diagonal is blank
    assert all(_decimals(c) == 3 for c in cells), cells
    # the printed values are the observed fractions rounded to three decimals
    pc = aggregate(load_battles(str(battles_csv)))
    frac, count = pairwise_matrices(pc, header[1:])
    for row in rows:
        for name, cell in zip([c for c in header[1:] if c != row[0]], row[1:]):
            assert cell == f"{frac.loc[row[0], name]:.3f}"
    assert main(["matrix", str(battles_csv), "--top", "6", "--kind", "predicted", "--format", "markdown",
                 "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(_decimals(c.strip()) == 3 for line in lines[2:] for c in line.strip("|").split("|")[1:])
    assert main(["matrix", str(battles_csv), "--top", "6", "--kind", "counts", "-q"]) == 0
    header, rows = _table_cells(capsys.readouterr().out)
    for row in rows:
        assert [int(c) for c in row[1:]] == [int(count.loc[row[0], c]) for c in header[1:]]
    # csv keeps full precision
    assert main(["matrix", str(battles_csv), "--top", "6", "--format", "csv", "-q"]) == 0
    frame = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out)).set_index("model")
    assert frame.loc[header[1], header[2]] == frac.loc[header[1], header[2]]


def test_glicko_prints_ratings_with_one_decimal_and_volatility_with_three(battles_csv, capsys):
    assert main(["elo", str(battles_csv), "--glicko", "-q"]) == 0
    header, rows = _table_cells(capsys.readouterr().out)
    for name, digits in (("rating", 1), ("rd", 1), ("win_rate", 3), ("volatility", 3)):
        k = header.index(name)
        assert all(_decimals(row[k]) == digits for row in rows), (name, [row[k] for row in rows])


def test_usage_errors_are_one_short_line_with_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["leaderboard", "--example", "--ties", "x" * 100_000])
    err = capsys.readouterr().err
    assert info.value.code == 2 and len(err.strip().splitlines()) == 1 and len(err) < 600
    assert "--ties" in err and "characters" in err


def test_ratings_print_as_ratings_even_when_they_are_whole(tmp_path, capsys):
    path = tmp_path / "ties.csv"
    pd.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "x"], "winner": ["tie", "tie"]}).to_csv(path, index=False)
    assert main(["leaderboard", str(path), "--ci", "none", "-q"]) == 0
    out = capsys.readouterr().out
    assert "1000.0" in out and "1,000" not in out


def test_names_typed_on_the_command_line_follow_the_name_policy(battles_csv, capsys):
    assert main(["leaderboard", str(battles_csv), "--ci", "sandwich", "--anchor", "  model-002 =1234",
                 "--reference", " model-002", "--format", "csv", "-q"]) == 0
    board = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out)).set_index("model")
    assert board.loc["model-002", "rating"] == pytest.approx(1234.0) and board.loc["model-002", "diff"] == 0.0
