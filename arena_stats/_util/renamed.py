"""Keywords renamed in 0.2: the old spelling still works, with one kind of warning.

Every rename of the package's vocabulary (``top_k`` -> ``top``, ``rating`` -> ``init``,
``start``/``end`` -> ``since``/``until`` ...) goes through :func:`renamed`, so an old spelling
behaves the same everywhere: its value is used, a :class:`DeprecationWarning` names the new
spelling, and giving both is an error rather than a silent choice.
"""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["renamed"]


def renamed(old: str, old_value: Any, new: str, new_value: Any, *, where: str = "", stacklevel: int = 3) -> Any:
    """The value of keyword ``new``, taken from the deprecated keyword ``old`` when that was given.

    ``old_value`` is ``None`` when the old keyword was not given. ``where`` names the function
    for the message; ``stacklevel`` points the warning at the caller of that function.

    Examples
    --------
    >>> renamed("top_k", None, "top", 5)
    5
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     value = renamed("top_k", 3, "top", None, where="plot_leaderboard")
    >>> value, str(seen[0].message)
    (3, 'plot_leaderboard(top_k=...) is now top=, as everywhere in the package')
    """
    if old_value is None:
        return new_value
    call = f"{where}({old}=...)" if where else f"{old}="
    if new_value is not None:
        raise TypeError(f"give {new}= only: {call} is its old spelling")
    warnings.warn(f"{call} is now {new}=, as everywhere in the package", DeprecationWarning, stacklevel=stacklevel)
    return old_value
