"""Exceptions raised by arena_stats.

Every error a user can trigger with bad input derives from :class:`ArenaStatsError`, so the CLI
can turn it into a one-line message and a non-zero exit instead of a traceback. Messages name
the file, the row and the column where that is known, and say what was expected.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["ArenaStatsError", "InputError", "NoMLEError", "ConvergenceError", "suggest"]


class ArenaStatsError(Exception):
    """Base class of every error arena_stats raises on purpose."""


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
            where.append(f"{file}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


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


def suggest(name: Any, candidates: Iterable[Any]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidates to a misspelt name, or ``""``.

    Examples
    --------
    >>> suggest("gpt4", ["gpt-4", "claude-2"])
    " (did you mean 'gpt-4'?)"
    """
    close = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
