"""Bootstrap samples within a memory budget: where the rounds go, and what they add up to.

A bootstrap of ``R`` rounds over ``n`` models keeps an ``R x n`` table of ratings (the
percentile intervals need every round of every model) and the ``R x n`` ranks. Everything
else a bootstrap holds is bounded by its chunks of rounds, whose size the data fix. So a memory
budget (``memory=``, bytes; default :data:`MEMORY_FRACTION` of the memory this machine has
available) is met by three decisions taken before the first round is drawn
(:func:`plan_memory`):

* **How many chunks run at once**: each needs about :data:`CHUNK_BYTES_PER_VALUE` bytes per
  (pair, round) value; fewer threads than cores if the budget says so. Results never depend on
  the number of threads, so a budgeted run equals an unbudgeted one bit for bit.
* **Where the table lives**: in memory when it fits next to the chunks, else in a temporary
  file mapped into memory (``numpy.memmap``), written chunk by chunk and read back column by
  column -- any number of rounds runs in bounded memory, at the speed of the disk.
* **Whether it can run at all**: a request whose table fits neither in the budget nor on the
  temporary directory's free disk, or whose one chunk exceeds the budget, is refused at once
  with the estimate, instead of growing until the process is killed.

:class:`SampleStore` holds the table: each chunk of rounds is put on the Elo scale and ranked
as it arrives (ranks are per round), so nothing is ever concatenated; intervals are computed in
blocks of columns.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._util import checks
from ..errors import InputError
from .ranks import round_ranks

__all__ = ["SampleStore", "MemoryPlan", "plan_memory", "available_memory", "parse_memory", "MEMORY_FRACTION",
           "CHUNK_BYTES_PER_VALUE"]

#: The default budget: this share of the memory the machine has available when the run starts.
MEMORY_FRACTION = 0.5
#: The budget when the available memory cannot be read (no /proc/meminfo).
FALLBACK_MEMORY = 4 * 2**30
#: Peak working memory of one chunk per (pair, round) value, measured with tracemalloc: 54-61
#: bytes for half / drop, 158-161 for Davidson and Rao-Kupper (1M x 130 and 10,000-model arenas).
CHUNK_BYTES_PER_VALUE = 170
#: Bytes per (round, model) of the stored table: the rating (float64) and the rank (int32).
TABLE_BYTES_PER_CELL = 12
#: Columns read back at a time from a table on disk when computing intervals.
COLUMN_BLOCK = 64


def available_memory() -> int:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), else a fallback."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return FALLBACK_MEMORY


def parse_memory(value: Any) -> int:
    """A memory size: bytes, or a number with a unit (``"500M"``, ``"2G"``, ``"1.5GB"``).

    Examples
    --------
    >>> parse_memory("2G"), parse_memory("500 MB"), parse_memory(1024)
    (2147483648, 524288000, 1024)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return checks.integer("memory", value, 1)
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)i?B?\s*", str(value), re.IGNORECASE)
    if not match:
        raise InputError(f"memory must be a size such as 500M or 2G, got {str(value)[:40]!r}")
    scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[match.group(2).upper()]
    return checks.integer("memory", round(float(match.group(1)) * scale), 1)


def _size(n: float) -> str:
    for unit, size in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} bytes"


@dataclass(frozen=True)
class MemoryPlan:
    """How a bootstrap runs within its budget (see the module docstring)."""

    budget: int
    threads: int
    chunk_bytes: int
    table_bytes: int
    on_disk: bool


def plan_memory(rounds: int, n_models: int, chunk_values: int, threads: int, memory: Any = None) -> MemoryPlan:
    """Decide threads and table storage for a bootstrap, or refuse it with the estimate.

    ``chunk_values`` is the number of (pair, round) values of one chunk.
    """
    budget = int(available_memory() * MEMORY_FRACTION) if memory is None else parse_memory(memory)
    chunk_bytes = CHUNK_BYTES_PER_VALUE * chunk_values
    table_bytes = TABLE_BYTES_PER_CELL * rounds * n_models
    if chunk_bytes > budget:
        raise InputError(f"one chunk of bootstrap rounds needs about {_size(chunk_bytes)}, more than the memory "
                         f"budget of {_size(budget)}; raise the budget (memory= / --memory)")
    fits = max(1, (budget - chunk_bytes) // chunk_bytes + 1)
    in_memory = table_bytes + chunk_bytes * min(threads, fits) <= budget
    if not in_memory:
        free = shutil.disk_usage(tempfile.gettempdir()).free
        if table_bytes > free:
            raise InputError(f"{rounds:,} bootstrap rounds of {n_models:,} models need about {_size(table_bytes)} for "
                             f"their samples: more than the memory budget ({_size(budget)}) and the free disk in "
                             f"{tempfile.gettempdir()} ({_size(free)}); ask for fewer rounds")
    room = budget - (0 if not in_memory else table_bytes)
    return MemoryPlan(budget=budget, threads=int(max(1, min(threads, room // chunk_bytes))),
                      chunk_bytes=chunk_bytes, table_bytes=table_bytes, on_disk=not in_memory)


class SampleStore:
    """The rounds x models table of a bootstrap (ratings and ranks), in memory or on disk.

    Examples
    --------
    >>> store = SampleStore(4, 3)
    >>> store.put(0, np.array([[3.0, 2.0, 1.0], [2.0, 3.0, 1.0]]))
    >>> store.put(2, np.array([[3.0, 1.0, 2.0], [3.0, 2.0, 1.0]]))
    >>> store.p_top().tolist()
    [0.75, 0.25, 0.0]
    """

    def __init__(self, rounds: int, n_models: int, on_disk: bool = False) -> None:
        self.rounds, self.n = rounds, n_models
        self._files: list[str] = []
        self.samples = self._array((rounds, n_models), np.float64, on_disk)
        self.ranks = self._array((rounds, n_models), np.int32, on_disk)
        self._top = np.zeros(n_models, np.int64)

    def _array(self, shape: tuple[int, int], dtype: Any, on_disk: bool) -> np.ndarray:
        if not on_disk:
            return np.empty(shape, dtype)
        fd, path = tempfile.mkstemp(prefix="arena-stats-bootstrap-", suffix=".bin")
        os.close(fd)
        table = np.memmap(path, dtype=dtype, mode="w+", shape=shape)
        try:
            # POSIX keeps a mapped file's data until it is unmapped: unlinked now, it can never be
            # left behind, not even by a killed process
            os.unlink(path)
        except OSError:  # pragma: no cover - Windows: removed when the store goes
            self._files.append(path)
        return table

    def put(self, start: int, ratings: np.ndarray) -> None:
        """Store rounds ``start ...`` (Elo ratings; NaN where a model drew no battle) and rank them."""
        stop = start + len(ratings)
        self.samples[start:stop] = ratings
        ranks = round_ranks(ratings)
        self.ranks[start:stop] = ranks
        self._top += (ranks == 1).sum(axis=0)

    def _quantiles(self, table: np.ndarray, qs: list[float], method: Any, nan: bool) -> np.ndarray:
        out = np.empty((len(qs), self.n))
        for lo in range(0, self.n, COLUMN_BLOCK):
            cols = np.asarray(table[:, lo:lo + COLUMN_BLOCK], dtype=np.float64)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a column of NaN: a model never drawn
                # nanquantile goes column by column (~45 us each): only where a NaN needs it
                out[:, lo:lo + COLUMN_BLOCK] = (np.nanquantile(cols, qs, axis=0, method=method)
                                                if nan and np.isnan(cols).any()
                                                else np.quantile(cols, qs, axis=0, method=method))
        return out

    def intervals(self, confidence: float) -> tuple[np.ndarray, np.ndarray]:
        """Percentile intervals of the ratings (rounds without a model left out)."""
        alpha = 1 - checks.probability("confidence", confidence)
        lo, hi = self._quantiles(self.samples, [alpha / 2, 1 - alpha / 2], "linear", True)
        return lo, hi

    def rank_intervals(self, confidence: float) -> tuple[np.ndarray, np.ndarray]:
        """Percentile intervals of the round ranks (lower / higher order statistics)."""
        alpha = 1 - checks.probability("confidence", confidence)
        lo = self._quantiles(self.ranks, [alpha / 2], "lower", False)[0]
        hi = self._quantiles(self.ranks, [1 - alpha / 2], "higher", False)[0]
        return lo.astype(np.int64), hi.astype(np.int64)

    def p_top(self) -> np.ndarray:
        """Share of rounds in which each model ranked first."""
        return self._top / max(self.rounds, 1)

    def __del__(self) -> None:
        for path in self._files:
            try:
                os.unlink(path)
            except OSError:
                pass
