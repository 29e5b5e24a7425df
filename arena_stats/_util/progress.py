"""A dependency-free progress bar on stderr.

Shown only when asked for *and* stderr is a terminal, so logs and pipes stay clean; the CLI
turns it off with ``--quiet``.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "progress"]

BAR_WIDTH = 30
MIN_INTERVAL_S = 0.1


class Progress:
    """Progress of ``total`` units of work; use as a context manager and call :meth:`update`."""

    def __init__(self, total: int, label: str = "", enabled: bool = True,
                 stream: TextIO | None = None) -> None:
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = bool(enabled) and bool(isatty())
        self.done = 0
        self._start = time.perf_counter()
        self._last = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()

    def update(self, n: int = 1) -> None:
        self.done = min(self.done + n, self.total)
        if self.enabled:
            self._draw()

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last < MIN_INTERVAL_S:
            return
        self._last = now
        frac = self.done / self.total
        filled = int(BAR_WIDTH * frac)
        elapsed = now - self._start
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                          f"{self.done}/{self.total} {elapsed:5.1f}s{self._eta(elapsed)}")
        self.stream.flush()

    def _eta(self, elapsed: float) -> str:
        """`` (about 12 s left)``: the time left at the pace so far, once some work is done."""
        if not 0 < self.done < self.total:
            return "   " + " " * 20
        left = elapsed * (self.total - self.done) / self.done
        return f" (about {left:,.0f} s left)".ljust(23)


def progress(total: int, label: str = "", enabled: bool = True) -> Progress:
    """A :class:`Progress` on stderr (drawn only if ``enabled`` and stderr is a terminal)."""
    return Progress(total, label, enabled)
