"""Contestant names: one canonical text per contestant, the same on every reading path.

Files spell the same contestant in different ways: ``"gpt-4 "`` with a trailing space, ``"café"``
composed or decomposed, ``1`` in an integer column and ``1.0`` in a float column (or ``"1.0"`` in a
CSV that one reader parses as numbers and another keeps as text). Left alone, each spelling
becomes a separate model with an identical-looking leaderboard row. The policy, applied by
:func:`~arena_stats.data.readers.load_battles`, :func:`~arena_stats.data.stream.stream_pair_counts`
(hence ``update`` and the Dask reduction) alike:

1. **Text** is Unicode NFC-normalised and stripped of surrounding whitespace. When this makes two
   different spellings one contestant, a :class:`~arena_stats.errors.NameMergeWarning` lists them.
2. **Numbers** have one canonical text: whole numbers without a decimal point, sign of zero or
   leading zeros (``1``, ``1.0``, ``"001"``, ``"1e0"`` are all ``"1"``), other numbers in Python's
   shortest round-trip form (``0.50`` is ``"0.5"``). Text that is a plain decimal number is read
   as that number, because readers disagree on whether a column of digits is text: pandas reads a
   CSV column of ``1, 2, 3`` as integers, the streaming reader as strings. This merge is silent:
   ``1`` and ``1.0`` are the same number, not two spellings. For the same reason the words
   ``true`` and ``false`` (as pandas spells booleans: ``True``, ``TRUE``, ``true``) are ``True``
   and ``False``.
3. **Not names**: missing values, blank text (empty once whitespace and invisible characters are
   removed) and non-scalar values (a JSON list or object). They are errors, or dropped and
   reported with ``drop_invalid=True``.
4. **Look-alikes**: names that differ only by letter case or by invisible characters (zero-width
   spaces and joiners, soft hyphens, byte-order marks, direction marks, variation selectors: the
   Unicode *Default_Ignorable_Code_Point* set, :data:`IGNORABLE`) stay separate contestants, since
   ``GPT-4`` and ``gpt-4`` may really be different models, but a
   :class:`~arena_stats.errors.LookalikeNameWarning` lists every such group. With
   ``fold_case=True`` (``--fold-case``) each group becomes one contestant, named by its spelling
   with the fewest invisible characters, then the first in code-point order (capitals first).
   That choice is a minimum, so folding parts and folding their merge give the same name: the
   streaming, incremental and Dask paths agree with a single pass.

Everything here runs on *distinct* values (a factorize, a Parquet or Arrow dictionary), never on
rows: a 10-million-row log with 300 models costs 300 normalisations.
"""

from __future__ import annotations

import math
import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from numbers import Number
from typing import Any

import numpy as np

from ..errors import InputError, LookalikeNameWarning, NameMergeWarning, shorten

__all__ = ["canonical_name", "canonical_names", "lookalike_key", "lookalike_groups", "fold_map",
           "NameLog", "warn_lookalikes", "IGNORABLE", "NOT_A_NAME", "MISSING_NAME", "BLANK_NAME"]

#: Unicode Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 15): characters that
#: render as nothing. Hard-coded because ``unicodedata`` does not expose the property and
#: scanning every code point at import costs 0.2 s.
IGNORABLE = ("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
             "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
             "\U0001d173-\U0001d17a\U000e0000-\U000e0fff")
_IGNORABLE_RE = re.compile(f"[{IGNORABLE}]")
#: A plain decimal number, as pandas' CSV reader would parse it (ASCII digits only: ``int()``
#: also takes other scripts' digits and underscores, which no CSV reader reads as numbers).
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: Names listed per group in a warning, and groups per warning.
SHOWN_NAMES = 4
SHOWN_GROUPS = 8

#: Why a value is not a contestant name (the ``why`` of :func:`canonical_names`).
MISSING_NAME, BLANK_NAME, NOT_A_NAME = "missing", "blank", "not a name"
_NOT_SCALAR = (list, tuple, dict, set, frozenset, np.ndarray)


def _number_text(value: float) -> str | None:
    if math.isnan(value):
        return None
    if value.is_integer():
        return str(int(value))  # also drops the sign of -0.0
    return repr(float(value))


#: The words pandas' CSV reader reads as booleans (a column of nothing else becomes bool).
_BOOLEAN_WORDS = {"True": "True", "TRUE": "True", "true": "True", "False": "False", "FALSE": "False",
                  "false": "False"}


def text_name(text: str) -> str:
    """Canonical form of one text (rule 1, then rule 2 for numeric and boolean text)."""
    t = text.strip() if text.isascii() else unicodedata.normalize("NFC", text).strip()
    if t and (t[0] in "+-." or "0" <= t[0] <= "9"):
        if _INTEGER_RE.fullmatch(t):
            return str(int(t))  # exact, however long
        if _DECIMAL_RE.fullmatch(t):
            return _number_text(float(t)) or t
    return _BOOLEAN_WORDS.get(t, t)


def _canonical(value: Any) -> tuple[str | None, str | None]:
    """(canonical text, None) of one raw value, or (None, why it is not a name)."""
    if isinstance(value, str):
        t = text_name(value)
        if not t or (not t.isascii() and not _IGNORABLE_RE.sub("", t).strip()):
            return None, BLANK_NAME
        return t, None
    if value is None:
        return None, MISSING_NAME
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)), None
    if isinstance(value, (int, np.integer)):
        return str(int(value)), None
    if isinstance(value, (float, np.floating)):
        if math.isinf(value):
            return ("inf" if value > 0 else "-inf"), None
        text = _number_text(float(value))
        return (text, None) if text is not None else (None, MISSING_NAME)
    if isinstance(value, _NOT_SCALAR):
        return None, NOT_A_NAME
    try:
        import pandas as pd
        if pd.isna(value):  # pd.NA, NaT
            return None, MISSING_NAME
    except (TypeError, ValueError):
        return None, NOT_A_NAME
    if isinstance(value, Number):  # Decimal, Fraction: numbers, written as numbers are
        try:
            return _canonical(float(value))  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            pass
    return _canonical(str(value))


def _is_number(name: str) -> bool:
    return bool(_DECIMAL_RE.fullmatch(name)) or name in ("inf", "-inf", "True", "False")


def canonical_names(values: Sequence[Any], log: NameLog | None = None) -> tuple[list[str | None], dict[int, str]]:
    """Canonical text of each of some *distinct* values, and why the others are not names.

    Parameters
    ----------
    values : sequence
        Distinct raw values (a factorize's uniques, an Arrow dictionary).
    log : NameLog, optional
        Records which text spellings became the same name, for :meth:`NameLog.warn`.

    Returns
    -------
    names : list of str or None
        The canonical name of each value, ``None`` where it is not a name.
    why : dict
        Index -> :data:`MISSING_NAME`, :data:`BLANK_NAME` or :data:`NOT_A_NAME`.

    Examples
    --------
    >>> canonical_names([" gpt-4", 1.0, "001", 2, "caf\\u0065\\u0301", "", None, ["x"]])
    (['gpt-4', '1', '1', '2', 'café', None, None, None], {5: 'blank', 6: 'missing', 7: 'not a name'})
    """
    out: list[str | None] = []
    why: dict[int, str] = {}
    for k, v in enumerate(values):
        name, problem = _canonical(v)
        out.append(name)
        if problem is not None:
            why[k] = problem
        elif log is not None and isinstance(v, str) and name is not None:
            log.note(v, name)
    return out, why


def canonical_name(value: Any) -> str:
    """The canonical text of one contestant name (see the module docstring).

    Use it to look up a name a user typed (``--exclude``, ``--anchor``, ``--reference``) among
    the models of a result.

    Raises
    ------
    InputError
        When ``value`` is missing, blank or not a scalar.

    Examples
    --------
    >>> canonical_name(" gpt-4\\t"), canonical_name(7.0), canonical_name("07")
    ('gpt-4', '7', '7')
    """
    (name,), why = canonical_names([value])
    if name is None:
        raise InputError(f"{shorten(value)} is not a contestant name ({why[0]})")
    return name


def lookalike_key(name: str) -> str:
    """What two look-alike names share: case-folded, invisible characters removed.

    Examples
    --------
    >>> lookalike_key("GPT\\u200b-4") == lookalike_key("gpt-4")
    True
    """
    if name.isascii():
        return name.casefold()
    return unicodedata.normalize("NFC", _IGNORABLE_RE.sub("", name).casefold())


def lookalike_groups(names: Iterable[str]) -> list[list[str]]:
    """Groups (sorted, two or more names each) of names with the same :func:`lookalike_key`.

    Examples
    --------
    >>> lookalike_groups(["gpt-4", "GPT-4", "claude", "x\\u200b", "x"])
    [['GPT-4', 'gpt-4'], ['x', 'x\\u200b']]
    """
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(lookalike_key(n), []).append(n)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def _representative(group: Sequence[str]) -> str:
    # a minimum over a fixed order: folding parts, then their union, names the same spelling
    return min(group, key=lambda n: (len(_IGNORABLE_RE.findall(n)), n))


def fold_map(names: Iterable[str]) -> dict[str, str]:
    """Each look-alike name -> the spelling its group is folded into (others are absent).

    Examples
    --------
    >>> fold_map(["gpt-4", "GPT-4", "\\u200bGPT-4", "claude"])
    {'GPT-4': 'GPT-4', 'gpt-4': 'GPT-4', '\\u200bGPT-4': 'GPT-4'}
    """
    out: dict[str, str] = {}
    for group in lookalike_groups(names):
        rep = _representative(group)
        out.update((n, rep) for n in group)
    return out


def _describe(groups: Mapping[str, Sequence[str]], joiner: str) -> str:
    parts = []
    for name, spellings in list(groups.items())[:SHOWN_GROUPS]:
        shown = ", ".join(shorten(s) for s in spellings[:SHOWN_NAMES])
        more = f" and {len(spellings) - SHOWN_NAMES} more" if len(spellings) > SHOWN_NAMES else ""
        parts.append(f"{shorten(name)}{joiner}{shown}{more}")
    extra = f"; and {len(groups) - SHOWN_GROUPS} more" if len(groups) > SHOWN_GROUPS else ""
    return "; ".join(parts) + extra


class NameLog:
    """Which different text spellings became one name (rule 1), across files and batches.

    Keeps the first spelling of every name and, for names read from several spellings, up to
    :data:`SHOWN_NAMES` + 1 of them: memory grows with the number of models, not of rows.

    Examples
    --------
    >>> log = NameLog()
    >>> _ = canonical_names(["x ", "y"], log), canonical_names(["x"], log)
    >>> log.merged
    {'x': ['x ', 'x']}
    """

    def __init__(self) -> None:
        self.first: dict[str, str] = {}
        self.merged: dict[str, list[str]] = {}

    def note(self, raw: str, name: str) -> None:
        """Record that the text ``raw`` was read as ``name``."""
        if _is_number(name):
            return  # rule 2 is silent, and readers differ on whether digits are text at all
        first = self.first.setdefault(name, raw)
        if raw == first:
            return
        seen = self.merged.setdefault(name, [first])
        if raw not in seen and len(seen) <= SHOWN_NAMES:
            seen.append(raw)

    def update(self, other: NameLog) -> None:
        """Add the spellings another log saw."""
        for name, raw in other.first.items():
            self.note(raw, name)
        for name, spellings in other.merged.items():
            for raw in spellings:
                self.note(raw, name)

    def message(self) -> str | None:
        """The :class:`~arena_stats.errors.NameMergeWarning` text, or ``None`` when nothing merged."""
        if not self.merged:
            return None
        merged = dict(sorted((k, sorted(v)) for k, v in self.merged.items()))
        return ("different spellings read as one contestant (surrounding whitespace and Unicode "
                f"normalisation are ignored): {_describe(merged, ' from ')}")

    def warn(self, stacklevel: int = 3) -> None:
        """Issue the :class:`~arena_stats.errors.NameMergeWarning`, if anything merged."""
        text = self.message()
        if text:
            warnings.warn(text, NameMergeWarning, stacklevel=stacklevel)


def warn_lookalikes(names: Iterable[str], folded: Mapping[str, str] | None = None, stacklevel: int = 3) -> None:
    """Warn about look-alike names: merged by ``fold_case`` (``folded``), or kept apart.

    ``folded`` is the :func:`fold_map` that was applied; without it ``names`` are checked for
    groups that were kept apart.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_lookalikes(["gpt-4", "GPT-4", "claude"])
    >>> caught[0].category.__name__, str(caught[0].message)[:60]
    ('LookalikeNameWarning', 'contestants whose names differ only by letter case or invisi')
    """
    if folded:
        groups: dict[str, list[str]] = {}
        for n, rep in sorted(folded.items()):
            groups.setdefault(rep, []).append(n)
        warnings.warn("names that differ only by letter case or invisible characters read as one contestant "
                      f"(fold_case): {_describe(groups, ' from ')}", NameMergeWarning, stacklevel=stacklevel)
        return
    found = lookalike_groups(names)
    if found:
        text = _describe({g[0]: g[1:] for g in found}, " / ")
        warnings.warn("contestants whose names differ only by letter case or invisible characters are kept "
                      f"apart: {text} (fold_case=True, --fold-case on the command line, merges them)",
                      LookalikeNameWarning, stacklevel=stacklevel)
