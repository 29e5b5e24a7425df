"""Exceptions and warnings raised by arena_stats.

Every error a user can trigger with bad input derives from :class:`ArenaStatsError`, so the CLI
can turn it into a one-line message and a non-zero exit instead of a traceback. Messages name
the file, the row and the column where that is known, and say what was expected.

A message quotes values from the data (a name, a label, a column) through :func:`shorten`, so a
hostile file cannot make an error message as large as itself: a 5 MB contestant name is quoted as
its first :data:`MAX_QUOTED_CHARS` characters and its length. Quoting with ``repr`` also escapes
newlines and terminal control characters, which keeps every message on one line. As a last guard,
:class:`InputError` cuts any message at :data:`MAX_MESSAGE_CHARS`.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable
from typing import Any

__all__ = ["ArenaStatsError", "InputError", "OutputError", "NoMLEError", "ConvergenceError", "NameWarning",
           "NameMergeWarning", "LookalikeNameWarning", "suggest", "shorten", "MAX_QUOTED_CHARS",
           "MAX_MESSAGE_CHARS"]

#: Characters of one quoted value kept in a message: a long model name still reads in full.
MAX_QUOTED_CHARS = 80
#: Longest message an :class:`InputError` prints; a message built from many quoted values (a
#: list of columns, of names) is cut here so that it still fits on a terminal screen.
MAX_MESSAGE_CHARS = 1000
#: Candidates compared by :func:`suggest`; beyond this, difflib's quadratic matching would cost
#: more than the error is worth.
MAX_SUGGEST_CANDIDATES = 10_000


class ArenaStatsError(Exception):
    """Base class of every error arena_stats raises on purpose."""


def _printable(text: str) -> str:
    """``text`` itself, or with its control characters escaped when it has any (one line)."""
    return text if text.isprintable() else repr(text)[1:-1]


def shorten(value: Any, limit: int = MAX_QUOTED_CHARS) -> str:
    """Quote a value from the data for a message: its ``repr``, cut to ``limit`` characters.

    Strings longer than ``limit`` keep their first ``limit`` characters and say how long they
    were; other values go through :mod:`reprlib` (long lists and nested records are elided).
    Control characters come out escaped, so the result is always one line.

    Examples
    --------
    >>> shorten("gpt-4")
    "'gpt-4'"
    >>> shorten("x" * 1_000_000, limit=5)
    "'xxxxx'... (1,000,000 characters)"
    >>> shorten("two\\nlines")
    "'two\\\\nlines'"
    >>> shorten(["a"] * 100)
    "['a', 'a', 'a', 'a', 'a', 'a', ...]"
    """
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    r = reprlib.Repr()
    r.maxstring = r.maxother = max(limit, 12)
    text = r.repr(value)
    return text if len(text) <= 3 * limit else text[: 3 * limit] + "..."


class InputError(ArenaStatsError, ValueError):
    """Input data that cannot be read or does not fit the expected schema.

    Parameters
    ----------
    message : str
        What is wrong and what was expected.
    file : str, optional
        The file the problem was found in.
    row : int, optional
        1-based data row (the header is not counted).
    column : str, optional
        The offending column.
    """

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.detail = message
        where = []
        if file is not None:
            where.append(_printable(str(file)) if len(str(file)) <= 4 * MAX_QUOTED_CHARS else shorten(str(file)))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {shorten(column)}")
        prefix = ", ".join(where)
        text = f"{prefix}: {message}" if prefix else message
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[:MAX_MESSAGE_CHARS] + f"... (message cut at {MAX_MESSAGE_CHARS} characters)"
        super().__init__(text)


class OutputError(ArenaStatsError, OSError):
    """An output file that cannot be written (missing directory, a directory, no permission).

    Raised before anything is written where it can be foreseen, and otherwise with the previous
    file left as it was (outputs are written atomically).
    """


class NoMLEError(ArenaStatsError, ValueError):
    """The maximum-likelihood estimate does not exist for these battles.

    Raised when the comparison graph is disconnected or some models never lose (or never win)
    against the rest; ``models`` lists the models responsible.
    """

    def __init__(self, message: str, models: list[str] | None = None) -> None:
        self.models = list(models or [])
        super().__init__(message)


class ConvergenceError(ArenaStatsError, RuntimeError):
    """The solver did not reach the requested tolerance."""


class NameWarning(UserWarning):
    """Something about the contestant names that changes or may change who is who.

    The name policy is described in :mod:`arena_stats.data.names`.
    """


class NameMergeWarning(NameWarning):
    """Different spellings were read as one contestant (surrounding whitespace, Unicode
    normalisation, or, when asked for, letter case and invisible characters)."""


class LookalikeNameWarning(NameWarning):
    """Contestants whose names differ only by letter case or invisible characters were kept apart."""


def suggest(name: Any, candidates: Iterable[Any]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidates to a misspelt name, or ``""``.

    Examples
    --------
    >>> suggest("gpt4", ["gpt-4", "claude-2"])
    " (did you mean 'gpt-4'?)"
    """
    text = str(name)
    if len(text) > 4 * MAX_QUOTED_CHARS:
        return ""  # nothing useful is close to a name this long, and matching it is slow
    pool = []
    for c in candidates:
        c = str(c)
        if len(c) <= 4 * MAX_QUOTED_CHARS:
            pool.append(c)
        if len(pool) >= MAX_SUGGEST_CANDIDATES:
            break
    close = difflib.get_close_matches(text, pool, n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(shorten(c) for c in close)}?)" if close else ""
