"""Battle records: the validated data model, its verdict codes, and the filters.

A *battle* is one comparison of two contestants with one of four verdicts: ``model_a`` wins,
``model_b`` wins, ``tie`` or ``tie (bothbad)``. Everything downstream (aggregation, fits,
bootstrap, Elo) reads the :class:`Battles` object built here and never the raw files, so this
module is the one place where input is checked. The design choices:

* Contestant names are stored as one pandas ``Categorical`` per side sharing a single category
  list (the models, sorted), so the integer codes index every per-model array downstream and a
  10-million-row log costs a few bytes per battle.
* Verdicts are stored as ``int8`` codes (:data:`A_WINS`, :data:`B_WINS`, :data:`TIE`,
  :data:`BOTHBAD`). ``tie (bothbad)`` stays distinct; the fits decide what it means.
* Unknown verdict labels are an error, never a tie: silently turning typos into ties would bias
  every rating towards the middle.
* Every filter records how many rows it removed and why (:attr:`Battles.steps`); nothing is
  dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .._util.renamed import renamed
from ..errors import InputError, shorten, suggest

__all__ = [
    "A_WINS", "B_WINS", "TIE", "BOTHBAD", "OUTCOME_NAMES", "Battles", "FilterStep", "filter_battles",
    "timestamps", "parse_date", "check_min_battles", "whole",
]

A_WINS, B_WINS, TIE, BOTHBAD = 0, 1, 2, 3
#: Canonical verdict labels, indexed by outcome code (FastChat's spelling).
OUTCOME_NAMES: tuple[str, ...] = ("model_a", "model_b", "tie", "tie (bothbad)")


@dataclass(frozen=True)
class FilterStep:
    """One filter applied to a set of battles: what it did and how many rows it removed.

    ``by_kind`` splits ``removed`` by reason where a filter has several (``drop-invalid``:
    missing or blank names, self-battles, unknown verdicts).
    """

    name: str
    removed: int
    remaining: int
    reason: str
    by_kind: tuple[tuple[str, int], ...] = ()

    def __str__(self) -> str:
        return f"{self.name}: removed {self.removed:,} rows ({self.reason}); {self.remaining:,} left"


@dataclass(frozen=True)
class Battles:
    """Validated pairwise battles.

    Use :func:`~arena_stats.data.readers.load_battles` to build one. ``frame`` has the columns
    ``model_a`` and ``model_b`` (``Categorical`` with the same categories, the sorted model
    names), ``outcome`` (``int8``
    codes, see :data:`OUTCOME_NAMES`), optionally ``count`` (battles per row, for aggregated
    input) and ``weight`` (per-battle weight), and every other input column unchanged.

    Attributes
    ----------
    frame : pandas.DataFrame
        The battles.
    steps : tuple of FilterStep
        Every filter applied so far, in order, with the rows it removed.
    sources : tuple of str
        The files (or ``"<DataFrame>"``) the battles came from.
    schema : str
        The input schema that was detected or chosen.

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats import load_battles
    >>> df = pd.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "z"],
    ...                    "winner": ["model_a", "tie"]})
    >>> b = load_battles(df)
    >>> len(b), b.models
    (2, ['x', 'y', 'z'])
    """

    frame: pd.DataFrame
    steps: tuple[FilterStep, ...] = ()
    sources: tuple[str, ...] = ()
    schema: str = "arena"

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return len(self.frame)

    @property
    def models(self) -> list[str]:
        """Model names, sorted; the integer codes of :attr:`a` and :attr:`b` index this list."""
        return list(self.frame["model_a"].cat.categories)

    @property
    def n_models(self) -> int:
        return len(self.frame["model_a"].cat.categories)

    @property
    def a(self) -> np.ndarray:
        """Integer code of contestant A for each row."""
        return self.frame["model_a"].cat.codes.to_numpy()

    @property
    def b(self) -> np.ndarray:
        """Integer code of contestant B for each row."""
        return self.frame["model_b"].cat.codes.to_numpy()

    @property
    def outcome(self) -> np.ndarray:
        """Verdict code for each row (:data:`A_WINS`, :data:`B_WINS`, :data:`TIE`, :data:`BOTHBAD`)."""
        return self.frame["outcome"].to_numpy()

    @property
    def counts(self) -> np.ndarray:
        """Number of battles each row stands for (1 unless the input was aggregated)."""
        if "count" in self.frame:
            return self.frame["count"].to_numpy(dtype=np.float64)
        return np.ones(len(self.frame))

    @property
    def weights(self) -> np.ndarray | None:
        """Per-battle weights, or ``None`` when every battle weighs 1."""
        if "weight" in self.frame:
            return self.frame["weight"].to_numpy(dtype=np.float64)
        return None

    @property
    def n_battles(self) -> int | float:
        """Total number of battles (rows times their counts): an int, unless counts are fractional."""
        return whole(float(self.counts.sum())) if "count" in self.frame else len(self.frame)

    def winner_labels(self) -> pd.Series:
        """The verdicts as FastChat labels (``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``)."""
        return pd.Series(np.asarray(OUTCOME_NAMES, dtype=object)[self.outcome],
                         index=self.frame.index, name="winner")

    def to_frame(self) -> pd.DataFrame:
        """The battles in the FastChat schema: ``model_a, model_b, winner`` plus other columns."""
        out = self.frame.copy()
        out["model_a"] = out["model_a"].astype(object)
        out["model_b"] = out["model_b"].astype(object)
        out.insert(2, "winner", self.winner_labels().to_numpy())
        return out.drop(columns="outcome")

    def filter_report(self) -> str:
        """Every filter step, one per line."""
        return "\n".join(str(s) for s in self.steps) if self.steps else "no filters applied"

    def __repr__(self) -> str:
        return (f"Battles({self.n_battles:,.0f} battles, {self.n_models} models, schema={self.schema!r}, "
                f"{len(self.steps)} filter steps)")

    # ---------------------------------------------------------------- filters
    def keep_rows(self, mask: np.ndarray, name: str, reason: str) -> Battles:
        mask = np.asarray(mask, dtype=bool)
        removed = int((~mask).sum())
        frame = self.frame.loc[mask] if removed else self.frame
        frame = drop_unused_models(frame)
        step = FilterStep(name, removed, len(frame), reason)
        return replace(self, frame=frame, steps=self.steps + (step,))

    def anonymous_only(self) -> Battles:
        """Keep battles whose ``anony`` column is true (a no-op, reported, when there is none)."""
        if "anony" not in self.frame:
            step = FilterStep("anonymous", 0, len(self), "no 'anony' column; nothing to filter")
            return replace(self, steps=self.steps + (step,))
        col = self.frame["anony"]
        mask = col.fillna(False).astype(str).str.lower().isin(["true", "1", "1.0", "yes"]).to_numpy()
        return self.keep_rows(mask, "anonymous", "battles not marked anony")

    def exclude_models(self, models: Iterable[str]) -> Battles:
        """Drop every battle involving one of ``models`` (names must exist; they are compared as
        the readers store them, see :func:`~arena_stats.data.names.canonical_name`)."""
        from .names import canonical_name
        models = [canonical_name(m) for m in models]
        known = set(self.models)
        for m in models:
            if m not in known:
                raise InputError(f"cannot exclude unknown model {shorten(m)}{suggest(m, known)}")
        a = self.frame["model_a"].isin(models).to_numpy()
        b = self.frame["model_b"].isin(models).to_numpy()
        return self.keep_rows(~(a | b), "exclude", f"battles involving {', '.join(models)}")

    def min_battles(self, n: int) -> Battles:
        """Drop models with fewer than ``n`` battles (one pass, as LMSYS does)."""
        n = check_min_battles(n)
        per_model = np.bincount(self.a, weights=self.counts, minlength=self.n_models) + \
            np.bincount(self.b, weights=self.counts, minlength=self.n_models)
        low = per_model < n
        if not low.any():
            return self.keep_rows(np.ones(len(self), bool), "min-battles", f"no model below {n} battles")
        names = [m for m, lo in zip(self.models, low) if lo]
        mask = ~(low[self.a] | low[self.b])
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        return self.keep_rows(mask, "min-battles", f"{len(names)} models with fewer than {n} battles: {shown}")

    def date_range(self, since: Any = None, until: Any = None, *, start: Any = None, end: Any = None) -> Battles:
        """Keep battles with ``since <= tstamp < until`` (either bound may be ``None``).

        Bounds are anything :func:`parse_date` reads; battles without a timestamp are dropped
        and counted apart in the report. ``start``/``end`` are the old names of the bounds (the
        CLI's ``--since``/``--until``).

        Examples
        --------
        >>> from arena_stats import load_battles
        >>> battles = load_battles(pd.DataFrame({"model_a": ["a", "b"], "model_b": ["b", "a"],
        ...                                      "winner": ["model_a", "tie"], "tstamp": ["2024-01-01", "2024-02-01"]}))
        >>> len(battles.date_range(since="2024-01-15"))
        1
        """
        start = renamed("start", start, "since", since, where="date_range")
        end = renamed("end", end, "until", until, where="date_range")
        lo, hi = parse_date(start, "since"), parse_date(end, "until")
        if "tstamp" not in self.frame:
            raise InputError("a date range needs a 'tstamp' column, and these battles have none",
                             column="tstamp")
        ts = timestamps(self.frame["tstamp"])
        missing = ts.isna().to_numpy()
        mask = ~missing
        if lo is not None:
            mask &= (ts >= lo).to_numpy()
        if hi is not None:
            mask &= (ts < hi).to_numpy()
        reason = f"tstamp outside [{start}, {end})"
        if missing.any():
            reason += f"; {int(missing.sum()):,} of them without a tstamp"
        return self.keep_rows(mask, "date-range", reason)

    def where(self, **conditions: Any) -> Battles:
        """Keep rows where each named column equals the value (or is in the list of values)."""
        out = self
        for col, value in conditions.items():
            if col not in out.frame:
                raise InputError(f"cannot filter on missing column{suggest(col, out.frame.columns)}",
                                 column=col)
            values = list(value) if isinstance(value, (list, tuple, set)) else [value]
            series = out.frame[col]
            mask = series.isin(values).to_numpy() | series.astype(str).isin([str(v) for v in values]).to_numpy()
            out = out.keep_rows(mask, f"where {col}", f"{col} not in {values}")
        return out

    def drop_ties(self, bothbad: bool = True) -> Battles:
        """Drop ties (and ``tie (bothbad)`` unless ``bothbad=False``)."""
        codes = [TIE, BOTHBAD] if bothbad else [TIE]
        return self.keep_rows(~np.isin(self.outcome, codes), "drop-ties", "ties")

    def drop_duplicates(self) -> Battles:
        """Drop rows that repeat an earlier row exactly, in every column."""
        frame = self.frame
        hashable = frame.copy()
        for col in hashable.columns:
            if hashable[col].dtype == object:
                hashable[col] = hashable[col].map(lambda v: json.dumps(v, sort_keys=True, default=str)
                                                  if isinstance(v, (dict, list)) else v)
        mask = ~hashable.duplicated().to_numpy()
        return self.keep_rows(mask, "drop-duplicates", "exact duplicate rows")


def drop_unused_models(frame: pd.DataFrame) -> pd.DataFrame:
    a, b = frame["model_a"], frame["model_b"]
    used = np.zeros(len(a.cat.categories), bool)
    used[a.cat.codes.to_numpy()] = True
    used[b.cat.codes.to_numpy()] = True
    if used.all():
        return frame
    cats = a.cat.categories[used]
    frame = frame.copy()
    frame["model_a"] = a.cat.set_categories(cats)
    frame["model_b"] = b.cat.set_categories(cats)
    return frame


#: Unix times beyond this many seconds are in milliseconds (or worse): 1e11 s is the year 5138.
MAX_UNIX_SECONDS = 1e11


def timestamps(series: pd.Series) -> pd.Series:
    """Parse a ``tstamp`` column: Unix seconds (FastChat) or date strings, to UTC-naive datetimes.

    Raises
    ------
    InputError
        When the column cannot be read as times (naming the first value that cannot).
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        return _utc_naive(series)
    if pd.api.types.is_bool_dtype(series):
        raise InputError("could not parse timestamps: the column holds true/false values; expected Unix "
                         "seconds or dates", column="tstamp")
    if pd.api.types.is_numeric_dtype(series):
        v = series.to_numpy(dtype=np.float64)
        big = np.abs(v) > MAX_UNIX_SECONDS
        if big.any():
            row = int(np.flatnonzero(big)[0])
            raise InputError(f"timestamp {shorten(series.iloc[row])} is not Unix seconds (too large: milliseconds?)",
                             row=row + 1, column="tstamp")
        return pd.to_datetime(series, unit="s")
    try:
        try:  # one format, inferred from the first value: fast
            return _utc_naive(pd.to_datetime(series, utc=True))
        except (ValueError, TypeError):  # values in several formats: parsed one by one
            return _utc_naive(pd.to_datetime(series, utc=True, format="mixed"))
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"could not parse timestamps: {shorten(str(exc), 200)[1:-1]}", column="tstamp") from None


def _utc_naive(ts: pd.Series) -> pd.Series:
    return ts.dt.tz_convert("UTC").dt.tz_localize(None) if getattr(ts.dt, "tz", None) is not None else ts


def parse_date(value: Any, what: str = "date") -> pd.Timestamp | None:
    """A date bound (``since``/``until``) as a UTC-naive Timestamp, or ``None``.

    Accepts anything ``pandas.Timestamp`` reads (``2024-01-31``, ``2024-01-31T12:00``, with an
    offset, which is converted to UTC); a number is Unix seconds.

    Raises
    ------
    InputError
        When ``value`` is not a date, naming it.

    Examples
    --------
    >>> parse_date("2024-01-31T12:00+02:00")
    Timestamp('2024-01-31 10:00:00')
    """
    if value is None:
        return None
    try:
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            ts = pd.Timestamp(float(value), unit="s")
        else:
            if isinstance(value, str) and not value.strip():
                raise ValueError("empty")
            ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise InputError(f"{what} {shorten(value)} is not a date; expected e.g. 2024-01-31 or "
                         "2024-01-31T12:00") from None
    if ts is pd.NaT or pd.isna(ts):
        raise InputError(f"{what} {shorten(value)} is not a date; expected e.g. 2024-01-31 or 2024-01-31T12:00")
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def check_min_battles(n: Any) -> int:
    """``n`` as a whole number of battles >= 0, or an :class:`InputError` naming it.

    Examples
    --------
    >>> check_min_battles(5), check_min_battles(5.0)
    (5, 5)
    """
    if isinstance(n, bool) or not isinstance(n, (int, float, np.integer, np.floating)) \
            or not np.isfinite(n) or float(n) != int(n) or n < 0:
        raise InputError(f"min_battles must be a whole number >= 0, got {shorten(n)}")
    return int(n)


def whole(total: float) -> int | float:
    """A count as an int when it is whole (``1e6``, not ``1000000.0``), else the float.

    >>> whole(3.0), whole(2.5)
    (3, 2.5)
    """
    return int(total) if float(total).is_integer() and abs(total) < 2**53 else total


def filter_battles(battles: Battles, *, anonymous_only: bool = False, exclude: Sequence[str] = (),
                   min_battles: int = 0, since: Any = None, until: Any = None,
                   where: Mapping[str, Any] | None = None, drop_ties: bool = False,
                   drop_duplicates: bool = False, start: Any = None, end: Any = None,
                   anonymous: bool | None = None) -> Battles:
    """Apply the standard filters in a fixed order, recording each in ``battles.steps``.

    The order is: duplicates, anonymous, date range (``since <= tstamp < until``, the CLI's
    ``--since``/``--until``; ``start``/``end`` are their old names), column equality, excluded
    models, ties, minimum battles per model (last, so it counts what is left). Every keyword is
    the CLI option of the same name (``anonymous_only`` is ``--anonymous-only``; ``anonymous`` is
    its old name).

    Raises
    ------
    InputError
        When no battle survives the filters.
    """
    if anonymous is not None:
        anonymous_only = bool(renamed("anonymous", anonymous, "anonymous_only", anonymous_only or None,
                                      where="filter_battles"))
    since = renamed("start", start, "since", since, where="filter_battles")
    until = renamed("end", end, "until", until, where="filter_battles")
    out = battles
    if drop_duplicates:
        out = out.drop_duplicates()
    if anonymous_only:
        out = out.anonymous_only()
    if since is not None or until is not None:
        out = out.date_range(since, until)
    if where:
        out = out.where(**where)
    if exclude:
        out = out.exclude_models(exclude)
    if drop_ties:
        out = out.drop_ties()
    if check_min_battles(min_battles):
        out = out.min_battles(min_battles)
    if len(out) == 0:
        # one line, as every message: the CLI prints it after "arena-stats: error:"
        raise InputError("no battles left after filtering: " + "; ".join(map(str, out.steps)))
    return out


#: Names that lived in this module until 0.2 and now live in :mod:`~arena_stats.data.readers`.
_MOVED_TO_READERS = ("load_battles", "read_table", "as_battles", "detect_schema", "SCHEMAS",
                     "KAGGLE_ONE_HOT", "AGGREGATED_COLUMNS")


def __getattr__(name: str) -> Any:
    """Old imports (``from arena_stats.battles import load_battles``) keep working (PEP 562)."""
    if name in _MOVED_TO_READERS:
        from . import readers
        return getattr(readers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
