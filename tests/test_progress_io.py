"""Progress bar only on terminals; atomic writes never leave partial files."""

from __future__ import annotations

import io

import pytest

from arena_stats._util.io import atomic_write
from arena_stats._util.progress import Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_and_stays_silent_on_a_pipe():
    tty, pipe = _Tty(), io.StringIO()
    with Progress(10, "bootstrap", stream=tty) as bar:
        bar.update(10)
    with Progress(10, "bootstrap", stream=pipe) as bar:
        bar.update(10)
    assert "10/10" in tty.getvalue() and pipe.getvalue() == ""
    quiet = _Tty()
    with Progress(10, "bootstrap", enabled=False, stream=quiet) as bar:
        bar.update(5)
    assert quiet.getvalue() == ""


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "board.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write("partial")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["board.csv"]
