"""Thread pool defaults and the chunk runner."""

from __future__ import annotations

from arena_stats._util.parallel import MAX_THREADS, _default_threads, run_chunks


def test_default_threads_follow_the_environment_then_the_cores(monkeypatch):
    monkeypatch.setenv("ARENA_STATS_THREADS", "3")
    assert _default_threads() == 3
    monkeypatch.setenv("ARENA_STATS_THREADS", "zero")  # not a positive integer: ignored
    assert 1 <= _default_threads() <= MAX_THREADS
    monkeypatch.delenv("ARENA_STATS_THREADS")
    assert 1 <= _default_threads() <= MAX_THREADS


def test_chunks_come_back_in_order_whatever_the_threads():
    expected = [c * c for c in range(7)]
    for threads in (1, 2, 4):
        assert list(run_chunks(lambda c: c * c, 7, threads=threads)) == expected
