"""Returning freed heap memory to the operating system.

SuperLU allocates each sparse factorisation (megabytes) with ``malloc`` and frees it when the
round converges. glibc raises its ``mmap`` threshold after such frees, so later factorisations
come from the heap, and with two threads (two malloc arenas) the freed blocks fragment instead
of going back: a sparse bootstrap of the ATP tour (2,639 players, l2 = 0.01, 256 rounds, two
threads) peaked at 1,114 MB resident, 651 MB with :func:`release_heap` after each batch of
refits (442 MB with the threshold pinned, which would change the whole process's allocator).
Factorisations by levels (:mod:`~arena_stats.models.elimination`) are numpy arrays of one size
that glibc reuses; the bootstrap hands the heap back only after SuperLU's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any

__all__ = ["release_heap"]


@cache
def _trim() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None)  # glibc only
    except OSError:
        return None


def release_heap() -> None:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Examples
    --------
    >>> release_heap()
    """
    trim = _trim()
    if trim is not None:
        trim(0)
