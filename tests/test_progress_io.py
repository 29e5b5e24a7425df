"""Progress bar only on terminals; atomic writes never leave partial or temporary files and give
outputs the mode a plain open() would."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

import arena_stats._util.io as io_mod
from arena_stats._util.io import atomic_write
from arena_stats._util.progress import Progress
from arena_stats.errors import OutputError


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


# ------------------------------------------------------------------------------ output files
@pytest.fixture(params=["anonymous", "named"])
def temp_kind(request, monkeypatch):
    """Both ways of writing: Linux O_TMPFILE, and the named temporary file used elsewhere."""
    if request.param == "named":
        monkeypatch.setattr(io_mod, "_anonymous", lambda directory: None)
    elif not hasattr(os, "O_TMPFILE"):
        pytest.skip("no O_TMPFILE on this system")
    return request.param


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002, 0o027])
def test_a_new_output_gets_the_mode_open_would_give_under_any_umask(tmp_path, temp_kind, umask):
    old = os.umask(umask)
    try:
        with open(tmp_path / "plain.txt", "w") as fh:
            fh.write("x")
        with atomic_write(tmp_path / "atomic.txt") as fh:
            fh.write("x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "atomic.txt") == _mode(tmp_path / "plain.txt") == 0o666 & ~umask


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o664, 0o640])
def test_an_overwritten_output_keeps_its_mode(tmp_path, temp_kind, mode):
    target = tmp_path / "board.csv"
    target.write_text("old")
    os.chmod(target, mode)
    old = os.umask(0o077)
    try:
        with atomic_write(target) as fh:
            fh.write("new")
    finally:
        os.umask(old)
    assert target.read_text() == "new" and _mode(target) == mode
    assert os.listdir(tmp_path) == ["board.csv"]


def test_a_symbolic_link_is_written_through_and_devices_in_place(tmp_path, temp_kind):
    real = tmp_path / "real.csv"
    real.write_text("old")
    (tmp_path / "link.csv").symlink_to(real)
    with atomic_write(tmp_path / "link.csv") as fh:
        fh.write("new")
    assert (tmp_path / "link.csv").is_symlink() and real.read_text() == "new"
    with atomic_write(os.devnull) as fh:  # cannot be replaced, and need not be
        fh.write("discarded")
    assert sorted(os.listdir(tmp_path)) == ["link.csv", "real.csv"]


def test_outputs_that_cannot_be_written_are_output_errors_and_nothing_is_created(tmp_path):
    (tmp_path / "adir").mkdir()
    for path, message in ((tmp_path / "adir", "is a directory"), (tmp_path / "none" / "x.csv", "does not exist"),
                          ("", "empty file name"), (tmp_path / "a\0b", "NUL")):
        with pytest.raises(OutputError, match=message):
            with atomic_write(path) as fh:
                fh.write("x")
    assert sorted(os.listdir(tmp_path)) == ["adir"] and os.listdir(tmp_path / "adir") == []


_SLOW_WRITER = textwrap.dedent("""
    import sys, time
    import arena_stats._util.io as io_mod
    if sys.argv[2] == "named":
        io_mod._anonymous = lambda directory: None
    with io_mod.atomic_write(sys.argv[1]) as fh:
        fh.write("partial " * 1000)
        fh.flush()
        print("writing", flush=True)
        time.sleep(60)
""")


def test_a_killed_writer_leaves_the_old_file_and_no_temporary_file_after_the_next_write(tmp_path, temp_kind):
    target = tmp_path / "state.npz"
    target.write_text("old")
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(target), temp_kind], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        left = sorted(os.listdir(tmp_path))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert target.read_text() == "old"
    stray = [n for n in os.listdir(tmp_path) if io_mod.TEMP_TAG in n]
    if temp_kind == "anonymous":
        assert left == ["state.npz"] and stray == []  # the kernel freed the unnamed file
    else:
        assert len(stray) == 1 and stray[0].startswith(".state.npz.")  # recognisable by its name
    with atomic_write(tmp_path / "other.csv") as fh:  # the next write into the directory sweeps it
        fh.write("x")
    assert sorted(os.listdir(tmp_path)) == ["other.csv", "state.npz"]


def test_the_sweep_keeps_temporary_files_of_live_writers(tmp_path):
    mine = tmp_path / f".b.csv.{io_mod.TEMP_TAG}.{io_mod._host_tag()}.{os.getpid()}.abcd"
    other_host = tmp_path / f".b.csv.{io_mod.TEMP_TAG}.00000000.1.abcd"
    mine.write_text("")
    other_host.write_text("")
    assert io_mod.sweep_temporaries(str(tmp_path)) == []
    os.utime(other_host, (0, 0))  # older than STALE_TEMP_SECONDS: stale wherever it came from
    assert io_mod.sweep_temporaries(str(tmp_path)) == [other_host.name]
