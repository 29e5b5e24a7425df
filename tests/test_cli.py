"""The command line: formats, atomic output, filters on stderr, one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from arena_stats.cli import main
from arena_stats.leaderboard import BOOTSTRAP_COLUMNS, LEADERBOARD_COLUMNS


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
