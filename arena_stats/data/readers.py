"""Reading battles: files of every supported format, schema detection, names and verdict labels.

This is the one place where raw input is checked. Every reader (:func:`load_battles`, the
streaming reducer in :mod:`~arena_stats.data.stream` and through it ``update`` and the Dask
reduction, the predictor's data loader via :func:`read_table`) uses the rules defined here, so
one file gives one answer on every path:

* **Files.** :func:`input_files` is the one expansion of paths and directories (recursive,
  sorted; names starting with ``.`` or ``_``, such as ``_SUCCESS`` and ``.crc`` files, are
  skipped). Text files may start with a UTF-8 byte-order mark; a UTF-16 or UTF-32 file is an
  error that says so; a CSV header naming a column twice is an error (readers would silently
  take one of the two).
* **Names** follow :mod:`~arena_stats.data.names` (NFC, whitespace, one text per number,
  look-alike warnings, ``fold_case``). Contestant names are stored as one pandas
  ``Categorical`` per side sharing a single category list (the models, sorted), so the integer
  codes index every per-model array downstream and a 10-million-row log costs a few bytes per
  battle. Unused categories of a categorical input are not models.
* **Verdicts.** Unknown verdict labels are an error, never a tie: silently turning typos into
  ties would bias every rating towards the middle.
* **Counts are never dropped.** An aggregated file's count columns are recognised under their
  usual spellings (:data:`COUNT_SPELLINGS`) or named explicitly; any other numeric column is an
  error naming it (a both-bad column nobody read would make a quarter of the votes vanish);
  a total column is checked against the sum of the counts.
* **Strict by default.** A row with a missing or blank name, a self-battle or an unknown verdict
  is an error naming file, row and column. ``drop_invalid=True`` drops such rows instead and
  records how many of each kind, with their first rows, as a
  :class:`~arena_stats.data.battles.FilterStep`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, shorten, suggest
from .battles import A_WINS, B_WINS, BOTHBAD, OUTCOME_NAMES, TIE, Battles, FilterStep, drop_unused_models
from .names import NameLog, canonical_names, fold_map, lookalike_key, text_name, warn_lookalikes

__all__ = ["SCHEMAS", "KAGGLE_ONE_HOT", "AGGREGATED_COLUMNS", "COUNT_SPELLINGS", "TOTAL_SPELLINGS",
           "INVALID_KINDS", "load_battles", "read_table", "detect_schema", "as_battles", "input_files",
           "label_key", "winner_codes"]

#: Schemas understood by :func:`load_battles`.
SCHEMAS = ("auto", "arena", "kaggle", "generic", "winner-loser", "aggregated")

KAGGLE_ONE_HOT = ("winner_model_a", "winner_model_b", "winner_tie")
AGGREGATED_COLUMNS = ("wins_a", "wins_b")
#: The usual spellings of the count columns of an aggregated file, per verdict. A column matches
#: when its name does with case, spaces, hyphens, underscores and brackets ignored, so
#: ``Wins A``, ``tie (bothbad)`` (FastChat's verdict label) and ``ties-bothbad`` all count.
COUNT_SPELLINGS: dict[str, tuple[str, ...]] = {
    "wins_a": ("wins_a", "a_wins", "win_a", "a_win", "wins_model_a", "model_a_wins", "model_a_win"),
    "wins_b": ("wins_b", "b_wins", "win_b", "b_win", "wins_model_b", "model_b_wins", "model_b_win"),
    "ties": ("ties", "tie", "draws", "draw", "n_ties", "num_ties", "n_draws"),
    "bothbad": ("bothbad", "both_bad", "ties_bothbad", "tie_bothbad", "tie (bothbad)", "ties (bothbad)",
                "tie_both_bad", "ties_both_bad", "bothbad_ties", "both_bad_ties", "n_bothbad"),
}
#: Spellings of a column holding each row's total: it is checked against the sum of the counts
#: (a mismatch means a count column was not read) and is not itself a count.
TOTAL_SPELLINGS = ("total", "totals", "n", "count", "battles", "n_battles", "num_battles", "total_battles",
                   "games", "n_games", "votes", "n_votes", "total_votes")
_COUNT_CODE = {"wins_a": A_WINS, "wins_b": B_WINS, "ties": TIE, "bothbad": BOTHBAD}
_COUNT_OPTION = {"wins_a": "wins_a_col (--wins-a-col)", "wins_b": "wins_b_col (--wins-b-col)",
                 "ties": "ties_col (--ties-col)", "bothbad": "bothbad_col (--bothbad-col)"}
#: Relative tolerance of the total-column check (counts may be fractional, e.g. reweighted).
TOTAL_RTOL = 1e-9

#: Kinds of invalid row that ``drop_invalid=True`` drops, in the order a row is checked.
MISSING_KIND, SELF_KIND, VERDICT_KIND = "missing or blank name", "self-battle", "unknown verdict"
INVALID_KINDS = (MISSING_KIND, SELF_KIND, VERDICT_KIND)
#: Row numbers of each kind quoted in a report or an error.
SHOWN_ROWS = 5
_DROP_HINT = "; drop_invalid=True (--drop-invalid) drops such rows and reports them"

# columns read as text from CSV/TSV (names and verdict labels), whichever schema applies
_TEXT_COLUMNS = ("model_a", "model_b", "winner", "left", "right", "loser", "winner_name", "loser_name")
# every column name a schema may read by default (kept when ``keep=`` prunes the others); "weight"
# and "count" because every reader takes them as per-battle weights and battles per row
_SCHEMA_COLUMNS = (*_TEXT_COLUMNS, "ties", "ties_bothbad", "weight", "count", *KAGGLE_ONE_HOT, *AGGREGATED_COLUMNS)

# Text spellings of each verdict (compared as :func:`label_key`: lower-cased, stripped, numbers in
# their canonical form, so 1.0, "1.00" and 1 are one label).
_LABELS: dict[str, int] = {}
for _code, _words in {
    A_WINS: ("model_a", "a", "left", "first", "1", "win", "a_wins", "winner_model_a"),
    B_WINS: ("model_b", "b", "right", "second", "0", "loss", "b_wins", "winner_model_b"),
    TIE: ("tie", "draw", "0.5", "winner_tie"),
    BOTHBAD: ("tie (bothbad)", "bothbad", "both_bad", "both bad", "tie (both bad)", "tie_bothbad"),
}.items():
    for _w in _words:
        _LABELS[_w] = _code

_FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".jsonl": "jsonl",
    ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet",
}
#: Byte-order marks of encodings that are not UTF-8 (read with ``utf-8-sig``, UTF-8's own mark is
#: skipped by every reader).
_FOREIGN_BOMS = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32", b"\xff\xfe": "UTF-16",
                 b"\xfe\xff": "UTF-16"}
#: Names a directory listing skips: hidden files and the markers Spark, Hive and Hadoop write
#: next to their part files (``_SUCCESS``, ``_metadata``, ``_delta_log/``, ``.part-0.crc``).
SKIPPED_PREFIXES = (".", "_")


# ------------------------------------------------------------------------------------ files
def input_files(source: Any, *more: Any) -> list[Any]:
    """Expand paths and directories (recursively, sorted) into the list of inputs to read.

    The one expansion every reader uses. Files and folders whose names start with ``.`` or ``_``
    (``_SUCCESS``, ``_metadata``, ``.part-0.crc``) are skipped inside directories, as Spark and
    Hive write them; a file named explicitly is always read. Nested lists flatten in order;
    DataFrames, Battles and PairCounts pass through.

    Raises
    ------
    InputError
        For a path that does not exist, a directory with no file to read, or no input at all.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> for name in ("b.csv", "a.csv", "_SUCCESS", ".hidden.csv"):
    ...     open(os.path.join(d, name), "w").close()
    >>> [os.path.basename(p) for p in input_files(d)]
    ['a.csv', 'b.csv']
    """
    items: list[Any] = []
    pending = [source, *more]
    while pending:
        s = pending.pop(0)
        if isinstance(s, (list, tuple)):
            pending[:0] = list(s)
        else:
            items.append(s)
    out: list[Any] = []
    for item in items:
        if isinstance(item, (str, os.PathLike)):
            path = os.fspath(item)
            if os.path.isdir(path):
                found: list[str] = []
                for root, dirs, files in os.walk(path):
                    dirs[:] = sorted(d for d in dirs if not d.startswith(SKIPPED_PREFIXES))
                    found.extend(os.path.join(root, f) for f in sorted(files) if not f.startswith(SKIPPED_PREFIXES))
                if not found:
                    raise InputError("directory holds no files to read (names starting with '.' or '_' are "
                                     "skipped)", file=path)
                out.extend(found)
            elif not os.path.exists(path):
                raise InputError("no such file", file=path)
            else:
                out.append(path)
        else:
            out.append(item)
    if not out:
        raise InputError("no input given")
    return out


def format_of(path: str) -> tuple[str, bool]:
    name = os.path.basename(path).lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    ext = os.path.splitext(name)[1]
    if ext not in _FORMATS:
        raise InputError(f"unknown file type {shorten(ext or '(none)')}; expected one of "
                         f"{', '.join(sorted(_FORMATS))} (optionally .gz)", file=path)
    return _FORMATS[ext], gz


def _open_text(path: str, gz: bool) -> io.TextIOBase:
    # utf-8-sig: a byte-order mark (Excel, Notepad) is not part of the first column's name
    if gz:
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def check_text_file(path: str, gz: bool) -> None:
    """Refuse a directory, or a text file in UTF-16/UTF-32 (it would read as garbage)."""
    if os.path.isdir(path):
        raise InputError("is a directory; expected a file", file=path)
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
            head = fh.read(4)
    except (OSError, EOFError) as exc:
        raise InputError(f"could not read{' (gzip)' if gz else ''}: {_first_line(exc)}", file=path) from None
    for bom, name in _FOREIGN_BOMS.items():
        if head.startswith(bom):
            raise InputError(f"the file is {name}-encoded; expected UTF-8 (save it as UTF-8)", file=path)


def csv_header(path: str, gz: bool, delimiter: str) -> list[str]:
    """The column names of a CSV/TSV file (``[]`` when empty); a name given twice is an error."""
    try:
        with _open_text(path, gz) as fh:
            line = fh.readline()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"could not read the header: {_first_line(exc)}", file=path) from None
    if not line.strip():
        return []
    try:
        header = next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), [])
    except csv.Error as exc:
        raise InputError(f"could not read the header: {exc}", file=path) from None
    seen: set[str] = set()
    for c in header:
        if c in seen:
            raise InputError(f"the header names column {shorten(c)} twice; expected distinct column names",
                             file=path, column=c)
        seen.add(c)
    return header


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return shorten(text.splitlines()[0], 200)[1:-1] if text else type(exc).__name__


def read_table(path: str | os.PathLike, format: str | None = None,
               columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Read one CSV/TSV/JSON/JSON Lines/Parquet file (optionally gzip-compressed) into a frame.

    Parameters
    ----------
    path : path-like
        The file. The format comes from the extension unless ``format`` is given.
    format : {"csv", "tsv", "json", "jsonl", "parquet"}, optional
    columns : iterable of str, optional
        Read only these columns where present (CSV/TSV/Parquet skip the others while reading);
        ``None`` reads every column.

    Raises
    ------
    InputError
        When the file is missing, a directory, unreadable, truncated, not of the stated format or
        not UTF-8, or when a CSV header names a column twice.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "b.csv")
    >>> with open(path, "w", encoding="utf-8-sig") as fh:  # with a byte-order mark, as Excel writes
    ...     _ = fh.write("model_a,model_b,winner\\nx,y,model_a\\n")
    >>> list(read_table(path).columns)
    ['model_a', 'model_b', 'winner']
    """
    path = os.fspath(path)
    fmt, gz = format_of(path) if format is None else (format, path.lower().endswith(".gz"))
    if not os.path.exists(path):
        raise InputError("no such file", file=path)
    check_text_file(path, gz)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq
            src: Any = io.BytesIO(gzip.open(path).read()) if gz else path
            # Dictionary-decode the name columns straight to Categorical: fast and small.
            schema_names = pq.read_schema(src).names
            if gz:
                src.seek(0)
            dict_cols = [c for c in ("model_a", "model_b", "winner") if c in schema_names]
            wanted = None if columns is None else [c for c in schema_names if c in set(columns)]
            return pq.read_table(src, columns=wanted, read_dictionary=dict_cols).to_pandas()
        if fmt in ("csv", "tsv"):
            sep = "," if fmt == "csv" else "\t"
            header = csv_header(path, gz, sep)
            if not header:
                raise InputError("no rows (the file is empty)", file=path)
            usecols = None if columns is None else set(columns)
            with _open_text(path, gz) as fh:
                # columns are typed by pandas (digits as numbers, true/false as booleans): the name
                # policy writes numbers and booleans as the streaming reader's text reads, and
                # forcing text here would make reading twice as slow
                return pd.read_csv(fh, sep=sep, low_memory=False,
                                   usecols=None if usecols is None else (lambda c: c in usecols))
        if fmt == "json":
            with _open_text(path, gz) as fh:
                text = fh.read()
            if text.lstrip()[:1] != "[":
                return _read_jsonl_text(text, path)
            try:
                records = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid or truncated JSON at line {exc.lineno}, column {exc.colno}: "
                                 f"{exc.msg}; expected an array of records", file=path) from None
            bad = next((k for k, r in enumerate(records) if not isinstance(r, dict)), None)
            if bad is not None:
                raise InputError(f"record {bad + 1} is {shorten(records[bad])}, not a JSON object; expected an "
                                 "array of records (objects)", file=path, row=bad + 1)
            return pd.DataFrame.from_records(records)
        if fmt == "jsonl":
            with _open_text(path, gz) as fh:
                return _read_jsonl_text(fh.read(), path)
    except InputError:
        raise
    except (EOFError, gzip.BadGzipFile, OSError, UnicodeDecodeError, ValueError, csv.Error,
            pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = _first_line(exc)
        if isinstance(exc, EOFError):
            msg = "the compressed file ends early (truncated?)"
        raise InputError(f"could not read as {fmt}{' (gzip)' if gz else ''}: {msg}", file=path) from None
    except Exception as exc:  # pyarrow raises its own error types
        raise InputError(f"could not read as {fmt}: {_first_line(exc)}", file=path) from None
    raise InputError(f"unsupported format {shorten(fmt)}", file=path)


def _read_jsonl_text(text: str, path: str) -> pd.DataFrame:
    records = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid or truncated JSON on line {lineno}: {exc.msg}", file=path) from None
        if not isinstance(rec, dict):
            raise InputError(f"line {lineno} is {shorten(rec)}, not a JSON object", file=path)
        records.append(rec)
    return pd.DataFrame.from_records(records)


def peek_columns(path: str, format: str | None = None) -> list[str] | None:
    """The column names of a CSV/TSV/Parquet file without reading its rows (None for JSON)."""
    fmt, gz = format_of(path) if format is None else (format, path.lower().endswith(".gz"))
    if fmt in ("csv", "tsv") and os.path.isfile(path):
        check_text_file(path, gz)
        return csv_header(path, gz, "," if fmt == "csv" else "\t")
    if fmt == "parquet" and not gz and os.path.isfile(path):
        import pyarrow.parquet as pq
        try:
            return list(pq.read_schema(path).names)
        except Exception:  # unreadable: read_table reports it
            return None
    return None


# ------------------------------------------------------------------------- schema detection
def _column_key(name: Any) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


_COUNT_KEYS = {_column_key(s): verdict for verdict, spellings in COUNT_SPELLINGS.items() for s in spellings}
_TOTAL_KEYS = {_column_key(s) for s in TOTAL_SPELLINGS}


def _count_candidates(columns: Iterable[Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for c in columns:
        verdict = _COUNT_KEYS.get(_column_key(c))
        if verdict:
            found.setdefault(verdict, []).append(c)
    return found


def _require(frame_columns: Sequence[Any], cols: Sequence[str], file: str, schema: str) -> None:
    for c in cols:
        if c not in frame_columns:
            present = ", ".join(shorten(str(x), 40)[1:-1] for x in list(frame_columns)[:20])
            raise InputError(f"missing column {shorten(c)} needed by the {schema} schema"
                             f"{suggest(c, frame_columns)}; columns present: {present}",
                             file=file, column=c)


def detect_schema(columns: Iterable[str]) -> str:
    """Guess the schema from column names (see :data:`SCHEMAS`).

    Examples
    --------
    >>> detect_schema(["model_a", "model_b", "winner", "tstamp"])
    'arena'
    >>> detect_schema(["model_a", "model_b", "a_wins", "b_wins", "draws", "bothbad"])
    'aggregated'
    """
    cols = set(columns)
    if set(KAGGLE_ONE_HOT) <= cols:
        return "kaggle"
    if {"model_a", "model_b", "winner"} <= cols:
        return "arena"
    found = _count_candidates(cols)
    if {"model_a", "model_b"} <= cols and "wins_a" in found and "wins_b" in found:
        return "aggregated"
    if {"left", "right", "winner"} <= cols:
        return "generic"
    if {"winner_name", "loser_name"} <= cols or {"winner", "loser"} <= cols:
        return "winner-loser"
    shown = ", ".join(shorten(str(c), 40)[1:-1] for c in sorted(map(str, cols))[:20])
    raise InputError(
        f"could not recognise the schema from the columns ({shown}); expected a Chatbot Arena log "
        "(model_a, model_b, winner), the Kaggle LMSYS schema (model_a, model_b, winner_model_a, "
        "winner_model_b, winner_tie), aggregated counts (model_a, model_b, wins_a, wins_b[, ties, bothbad]) "
        "or name the columns yourself (model_a_col=, model_b_col=, outcome_col=)")


def _resolve_schema(columns: Sequence[Any], schema: str, cols: Mapping[str, str | None]) -> str:
    if schema == "auto":
        if cols.get("model_a") and cols.get("model_b") and cols.get("outcome"):
            return "generic"
        if cols.get("winner") and cols.get("loser"):
            return "winner-loser"
        if cols.get("wins_a") and cols.get("wins_b"):
            return "aggregated"
        return detect_schema(columns)
    if schema not in SCHEMAS:
        raise InputError(f"unknown schema {shorten(schema)}; expected one of {', '.join(SCHEMAS)}")
    return schema


@dataclass(frozen=True)
class Spec:
    """Which columns of one input hold what: the schema resolved once, for every reader."""

    schema: str
    a: str
    b: str
    outcome: str | None = None
    #: aggregated: (column, verdict code) of every count column
    counts: tuple[tuple[str, int], ...] = ()
    #: aggregated: columns holding each row's total
    totals: tuple[str, ...] = ()


def resolve_columns(columns: Sequence[Any], file: str, schema: str, cols: Mapping[str, str | None],
                    not_counts: Iterable[str] = (), numeric: Iterable[str] | None = None,
                    weight_col: str | None = None) -> Spec:
    """Resolve the schema and its columns from the column names (and, for aggregated counts,
    which other columns are numeric); raises the same errors on every path."""
    schema = _resolve_schema(columns, schema, cols)
    present = set(columns)

    def pick(key: str, default: str, alternative: str | None = None) -> str:
        if cols.get(key):
            return str(cols[key])
        return alternative if alternative and alternative in present and default not in present else default

    lr = schema == "generic"
    ca = pick("model_a", "model_a", "left" if lr else None)
    cb = pick("model_b", "model_b", "right" if lr else None)
    if schema == "kaggle":
        _require(columns, [ca, cb, *KAGGLE_ONE_HOT], file, schema)
        return Spec(schema, ca, cb)
    if schema == "winner-loser":
        # here the *_name spelling wins whenever it exists
        cw = cols.get("winner") or ("winner_name" if "winner_name" in present else "winner")
        cl = cols.get("loser") or ("loser_name" if "loser_name" in present else "loser")
        _require(columns, [cw, cl], file, schema)
        return Spec(schema, cw, cl)
    if schema == "aggregated":
        return _aggregated_spec(columns, file, cols, ca, cb, not_counts, numeric, weight_col)
    co = pick("outcome", "winner")
    _require(columns, [ca, cb, co], file, schema)
    return Spec(schema, ca, cb, outcome=co)


def _aggregated_spec(columns: Sequence[Any], file: str, cols: Mapping[str, str | None], ca: str, cb: str,
                     not_counts: Iterable[str], numeric: Iterable[str] | None, weight_col: str | None) -> Spec:
    found = _count_candidates(c for c in columns if c not in (ca, cb))
    explicit = {k: cols.get(f"{k}") for k in ("wins_a", "wins_b", "ties", "bothbad")}
    named = {str(v) for v in explicit.values() if v}
    chosen: dict[str, str] = {}
    for verdict in ("wins_a", "wins_b", "ties", "bothbad"):
        if explicit[verdict]:
            chosen[verdict] = str(explicit[verdict])
            continue
        options = [c for c in found.get(verdict, []) if c not in named]
        if len(options) > 1:
            raise InputError(f"columns {', '.join(shorten(c) for c in options)} could each hold the "
                             f"{verdict} counts; name the one to use with {_COUNT_OPTION[verdict]}", file=file,
                             column=options[1])
        if options:
            chosen[verdict] = options[0]
    for verdict in ("wins_a", "wins_b"):
        if verdict not in chosen:
            _require(columns, [verdict], file, "aggregated")
    _require(columns, [ca, cb, *chosen.values()], file, "aggregated")
    totals = tuple(c for c in columns if _column_key(c) in _TOTAL_KEYS and c not in chosen.values()
                   and c not in (ca, cb))
    # every other numeric column is a count nobody would read: an error, never a silent drop
    known = {ca, cb, *chosen.values(), *totals, *not_counts, "weight"} | ({weight_col} if weight_col else set())
    for c in numeric if numeric is not None else ():
        if c not in known:
            second = _COUNT_KEYS.get(_column_key(c))
            hint = (f"it looks like a second {second} column; name the one to use with {_COUNT_OPTION[second]}"
                    if second else "name it as a count (wins_a_col, wins_b_col, ties_col, bothbad_col; "
                    "--wins-a-col ... on the command line) or declare it not a count (not_counts=, --not-count)")
            raise InputError(f"numeric column {shorten(c)} is not a count this aggregated file is read with, "
                             f"and counts are never dropped silently: {hint}", file=file, column=c)
    codes = tuple((chosen[v], _COUNT_CODE[v]) for v in ("wins_a", "wins_b", "ties", "bothbad") if v in chosen)
    return Spec("aggregated", ca, cb, counts=codes, totals=totals)


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Columns of numbers, stored as numbers or as text (JSON ``"5"``): candidates for counts.

    Only aggregated files are checked, and they are small (a row per pair), so parsing text
    columns here costs nothing that matters.
    """
    out = []
    for c in frame.columns:
        col = frame[c]
        if pd.api.types.is_bool_dtype(col):
            continue
        if pd.api.types.is_numeric_dtype(col):
            out.append(c)
        elif col.dtype == object or pd.api.types.is_string_dtype(col):
            present = col.dropna()
            if len(present) and not present.map(lambda v: isinstance(v, (list, dict))).any() \
                    and pd.to_numeric(present, errors="coerce").notna().all():
                out.append(c)
    return out


# ------------------------------------------------------------------------------ names
_NOT_HASHABLE = ("<not hashable>",)  # a tuple: hashable itself, and never a name


def _factorize(series: pd.Series) -> tuple[np.ndarray, Any]:
    """Codes (-1: missing) and distinct values; a Categorical (a Parquet dictionary) is already
    factorized, and hashing its 10 million codes again would cost 50 ms."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), series.cat.categories
    try:
        return pd.factorize(series, use_na_sentinel=True)
    except TypeError:
        # a JSON list or object in the column: only on this (rare) path is every row looked at
        return pd.factorize(series.map(lambda v: _NOT_HASHABLE if isinstance(v, (list, dict, set)) else v),
                            use_na_sentinel=True)


def _names(series: pd.Series, log: NameLog | None) -> tuple[np.ndarray, pd.Index]:
    """Codes into the sorted canonical names (``-1``: not a name), and the names.

    Works on the distinct values only (a factorize, or the categories of a Categorical, e.g. a
    Parquet dictionary), so a 10-million-row column costs one hash pass.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        uniques = series.cat.categories
        used = np.zeros(len(uniques) + 1, bool)
        used[codes] = True  # code -1 (missing) marks the spare last slot
        used = used[:-1]
    else:
        codes, uniques = _factorize(series)
        used = None
    values = list(uniques) if used is None or used.all() else [u if k else None for k, u in zip(used, uniques)]
    names, why = canonical_names(values, log)
    if used is not None and not used.all():
        why = {k: w for k, w in why.items() if used[k]}
        names = [n if used[k] else None for k, n in enumerate(names)]
    # sorted in Python, not as a numpy string array: that would be fixed-width, and one hostile
    # 5 MB name would make every entry 20 MB
    cats = sorted({n for n in names if n is not None})
    if not why and len(cats) == len(names) and cats == names and all(isinstance(u, str) for u in values):
        return codes, pd.Index(cats)  # already clean and sorted
    position = {n: k for k, n in enumerate(cats)}
    # re-code through a lookup table of the codes' own (small) integer type: one gather, and
    # no copies to widen the codes and narrow them again (0.2 -> 0.03 s for 10M rows)
    small = np.int16 if len(cats) < np.iinfo(np.int16).max else np.int32
    dtype = np.promote_types(small, codes.dtype) if codes.dtype.kind == "i" else np.int32
    lut = np.array([position[n] if n is not None else -1 for n in names] + [-1], dtype=dtype)
    return lut[codes], pd.Index(cats)


def _unify(*sides: tuple[np.ndarray, pd.Index]) -> tuple[list[np.ndarray], pd.Index]:
    """Re-code several (codes, names) against the sorted union of their names (-1 stays -1)."""
    union = pd.Index(sorted(set().union(*(n for _, n in sides))))
    out = []
    for codes, names in sides:
        if len(names) == len(union) and names.equals(union):
            out.append(codes)
            continue
        lut = np.append(union.get_indexer(names), -1).astype(np.int32)
        out.append(lut[codes])
    return out, union


def label_key(value: Any) -> str:
    """How a verdict label is compared: lower-cased, stripped, numbers in one form.

    Examples
    --------
    >>> label_key(" Model_A "), label_key(1.0), label_key("1.00"), label_key(".5")
    ('model_a', '1', '1', '0.5')
    """
    if isinstance(value, str):
        return text_name(value).lower()
    (name,), _ = canonical_names([value])
    return (name or str(value)).lower()


def label_table(outcome_map: Mapping[Any, str] | None) -> dict[str, int]:
    """The verdict labels, with ``outcome_map``'s extra labels."""
    table = dict(_LABELS)
    for k, v in (outcome_map or {}).items():
        vv = str(v).strip().lower()
        if vv not in _LABELS:
            raise InputError(f"outcome_map sends {shorten(k)} to {shorten(v)}, which is not one of "
                             f"{', '.join(OUTCOME_NAMES)}")
        table[label_key(k)] = _LABELS[vv]
    return table


def winner_refs(labels: Sequence[Any], names: Sequence[str], fold_case: bool) -> tuple[np.ndarray, np.ndarray]:
    """For labels that may be a contestant's name: (a reference per label, one per name), equal
    where the label names that contestant (-1: none). With ``fold_case``, look-alikes match."""
    canon, _ = canonical_names(labels)
    if fold_case:
        keys: dict[str, int] = {}
        name_ref = np.array([keys.setdefault(lookalike_key(n), len(keys)) for n in names] + [-2], dtype=np.int64)
        label_ref = np.array([keys.get(lookalike_key(c), -1) if c is not None else -1 for c in canon] + [-1],
                             dtype=np.int64)
        return label_ref, name_ref
    index = {n: k for k, n in enumerate(names)}
    label_ref = np.array([index.get(c, -1) if c is not None else -1 for c in canon] + [-1], dtype=np.int64)
    return label_ref, np.append(np.arange(len(names), dtype=np.int64), -2)


def _outcomes(raw: pd.Series, a: np.ndarray, b: np.ndarray, names: pd.Index, table: Mapping[str, int],
              fold_case: bool) -> np.ndarray:
    """Verdict codes from labels (-1: unknown); the winner's own name is a label too."""
    codes_raw, uniques = _factorize(raw)
    lut = np.array([table.get(label_key(u), -1) if not isinstance(u, tuple) else -1 for u in uniques] + [-1],
                   dtype=np.int8)
    return winner_codes(lut, codes_raw, uniques, list(names), a, b, fold_case)  # na sentinel -1: the trailing -1


def winner_codes(lut: np.ndarray, index: np.ndarray, labels: Sequence[Any], names: Sequence[str], a: np.ndarray,
                 b: np.ndarray, fold_case: bool) -> np.ndarray:
    """Verdict codes ``lut[index]`` of rows whose label is ``labels[index]``, where a label that is
    no verdict but names the row's contestant ``a`` (``b``) means that contestant won.

    One rule for the loaded and the streamed readers. ``lut`` has one entry per label and a
    trailing -1 (rows with no label), -1 where the label is no verdict.
    """
    codes = lut[index]
    unknown_labels = np.flatnonzero(lut[:-1] < 0)
    if len(unknown_labels) and (codes < 0).any():
        label_ref, name_ref = winner_refs([labels[int(k)] for k in unknown_labels], names, fold_case)
        ref_of = np.full(len(labels) + 1, -1, np.int64)
        ref_of[unknown_labels] = label_ref[:-1]
        ref = ref_of[index]
        unknown = codes < 0
        is_a = unknown & (ref >= 0) & (ref == name_ref[a])
        is_b = unknown & ~is_a & (ref >= 0) & (ref == name_ref[b])
        codes[is_a] = A_WINS
        codes[is_b] = B_WINS
    return codes


# ------------------------------------------------------------------------------ invalid rows
@dataclass
class InvalidRows:
    """Invalid rows found (and dropped, with ``drop_invalid``): how many of each kind, and where."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INVALID_KINDS, 0))
    where: dict[str, list[tuple[str, int]]] = field(default_factory=lambda: {k: [] for k in INVALID_KINDS})

    def add(self, kind: str, file: str, rows: np.ndarray) -> None:
        """Record invalid rows of one kind (``rows``: 1-based row numbers in ``file``)."""
        if len(rows) == 0:
            return
        self.counts[kind] += len(rows)
        room = SHOWN_ROWS - len(self.where[kind])
        if room > 0:
            self.where[kind].extend((file, int(r)) for r in rows[:room])

    def update(self, other: InvalidRows) -> None:
        for kind in INVALID_KINDS:
            self.counts[kind] += other.counts[kind]
            room = SHOWN_ROWS - len(self.where[kind])
            self.where[kind].extend(other.where[kind][:max(room, 0)])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def step(self, remaining: int) -> FilterStep:
        """The ``drop-invalid`` :class:`~arena_stats.data.battles.FilterStep`."""
        parts = []
        for kind in INVALID_KINDS:
            n = self.counts[kind]
            if not n:
                continue
            files = list(dict.fromkeys(f for f, _ in self.where[kind]))
            shown = "; ".join(f"{f} row{'s' if sum(1 for g, _ in self.where[kind] if g == f) > 1 else ''} "
                              + ", ".join(str(r) for g, r in self.where[kind] if g == f) for f in files)
            more = ", ..." if n > len(self.where[kind]) else ""
            parts.append(f"{n:,} {kind}{'s' if n > 1 and kind != MISSING_KIND else ''} ({shown}{more})")
        reason = ", ".join(parts) if parts else "no invalid rows"
        return FilterStep("drop-invalid", self.total, int(remaining), reason,
                          by_kind=tuple((k, self.counts[k]) for k in INVALID_KINDS))


def _such(n: int) -> str:
    return f"{n:,} such row{'s' if n != 1 else ''}"


def _name_problem(value: Any) -> str:
    _, why = canonical_names([value])
    kind = why.get(0, "blank")
    if kind == "not a name":
        return f"contestant name {shorten(value)} is not text or a number"
    if kind == "missing":
        return "missing or blank contestant name"
    return f"missing or blank contestant name {shorten(value)}"


def fold_ids(names: Sequence[str]) -> np.ndarray:
    """One id per :func:`~arena_stats.data.names.lookalike_key` of each name, and a spare -1 last:
    with ``fold_case``, two names with one id are one contestant."""
    keys: dict[str, int] = {}
    return np.array([keys.setdefault(lookalike_key(n), len(keys)) for n in names] + [-1], dtype=np.int64)


def invalid_masks(name_a: np.ndarray, name_b: np.ndarray, verdict: np.ndarray | None,
                  same_id: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Per kind of :data:`INVALID_KINDS`, which rows are invalid (each row counted once).

    ``same_id`` (from :func:`fold_ids`, with ``fold_case``) makes look-alikes one contestant, so
    a row between two of them is a self-battle.
    """
    # min() is nearly free, so the usual all-valid batch costs one comparison pass
    none = np.zeros(len(name_a), bool)
    missing = (name_a < 0) | (name_b < 0) if len(name_a) and min(name_a.min(), name_b.min()) < 0 else none
    same = (name_a == name_b) if same_id is None else (same_id[name_a] == same_id[name_b])
    if missing is not none:
        same &= ~missing
    if verdict is None or not len(verdict) or verdict.min() >= 0:
        return missing, same, none
    return missing, same, (verdict < 0) & ~missing & ~same


def raise_first_invalid(file: str, row0: int, masks: tuple[np.ndarray, ...], name_a: np.ndarray,
                        name_b: np.ndarray, columns: tuple[str, str, str | None], raw_value: Any,
                        describe_name: Any, in_batch: bool = False) -> None:
    """The error for the first invalid row (by row; within a row: A's name, B's name, self-battle,
    verdict), the same on every path. ``raw_value(column, index)`` and ``describe_name(code)`` look
    up what to quote."""
    any_bad = masks[0] | masks[1] | masks[2]
    first = int(np.flatnonzero(any_bad)[0])
    # streaming stops at the first invalid part it reads: its count is of the rows read so far
    scope = " among the rows read so far" if in_batch else ""
    ca, cb, co = columns
    if masks[0][first]:
        column = ca if name_a[first] < 0 else cb
        n = int(masks[0].sum())
        raise InputError(f"{_name_problem(raw_value(column, first))} ({_such(n)}{scope}; expected a model "
                         f"name){_DROP_HINT}", file=file, row=row0 + first + 1, column=column)
    if masks[1][first]:
        n = int(masks[1].sum())
        who = shorten(describe_name(int(name_a[first])))
        if name_a[first] != name_b[first]:  # look-alikes, folded
            who = (f"{who} (as {shorten(describe_name(int(name_b[first])))}: one contestant once letter case and "
                   "invisible characters are ignored, fold_case)")
        raise InputError(f"contestant {who} battles itself ({_such(n)}{scope}; expected two different "
                         f"contestants){_DROP_HINT}", file=file, row=row0 + first + 1, column=ca)
    n = int(masks[2].sum())
    if co is None:  # Kaggle one-hot columns
        values = raw_value(None, first)
        raise InputError(f"the outcome is not one-hot: winner_model_a, winner_model_b, winner_tie = {values}; "
                         f"expected exactly one 1 and two 0s ({_such(n)}{scope}){_DROP_HINT}", file=file,
                         row=row0 + first + 1, column="winner_model_a")
    raise InputError(
        f"unknown outcome label {shorten(raw_value(co, first))} ({n:,} row{'s' if n != 1 else ''} with unknown "
        f"labels{scope}); expected "
        "model_a / model_b / tie / tie (bothbad), a / b / tie, left / right / tie, 1 / 0 / 0.5, or the winning "
        f"contestant's name (outcome_map= / --outcome-map maps other labels){_DROP_HINT}", file=file,
        row=row0 + first + 1, column=co)


# ------------------------------------------------------------------------------ one input
@dataclass
class ReadOptions:
    """Every option of the readers, resolved once (``load_battles`` and ``stream_pair_counts``)."""

    schema: str = "auto"
    cols: dict[str, str | None] = field(default_factory=dict)
    weight_col: str | None = None
    outcome_map: Mapping[Any, str] | None = None
    format: str | None = None
    keep: Iterable[str] | None = None
    drop_invalid: bool = False
    fold_case: bool = False
    not_counts: tuple[str, ...] = ()
    labels: dict[str, int] = field(default_factory=dict)

    @classmethod
    def make(cls, *, schema: str = "auto", model_a_col: str | None = None, model_b_col: str | None = None,
             outcome_col: str | None = None, winner_col: str | None = None, loser_col: str | None = None,
             wins_a_col: str | None = None, wins_b_col: str | None = None, ties_col: str | None = None,
             bothbad_col: str | None = None, weight_col: str | None = None,
             outcome_map: Mapping[Any, str] | None = None, format: str | None = None,
             keep: Iterable[str] | None = None, drop_invalid: bool = False, fold_case: bool = False,
             not_counts: Iterable[str] = ()) -> ReadOptions:
        if schema not in SCHEMAS:
            raise InputError(f"unknown schema {shorten(schema)}; expected one of {', '.join(SCHEMAS)}")
        if isinstance(not_counts, str):
            not_counts = [not_counts]
        return cls(schema=schema, cols={"model_a": model_a_col, "model_b": model_b_col, "outcome": outcome_col,
                                        "winner": winner_col, "loser": loser_col, "wins_a": wins_a_col,
                                        "wins_b": wins_b_col, "ties": ties_col, "bothbad": bothbad_col},
                   weight_col=weight_col, outcome_map=outcome_map, format=format,
                   keep=None if keep is None else list(keep), drop_invalid=bool(drop_invalid),
                   fold_case=bool(fold_case), not_counts=tuple(not_counts), labels=label_table(outcome_map))


def _check_numbers(frame: pd.DataFrame, column: str, file: str, what: str,
                   skip: np.ndarray | None = None) -> np.ndarray:
    """The column as finite non-negative floats, or an error at its first other value (rows in
    ``skip`` are being dropped as invalid and are not checked)."""
    v = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(v) | (v < 0)
    if skip is not None:
        bad &= ~skip
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"{what} {shorten(frame[column].iloc[row])} is not a non-negative number "
                         f"({_such(int(bad.sum()))})", file=file, row=row + 1, column=column)
    return v


def _normalise(frame: pd.DataFrame, file: str, opts: ReadOptions, log: NameLog | None,
               invalid: InvalidRows) -> tuple[pd.DataFrame, str]:
    """One input frame of any schema -> the canonical columns (names as Categoricals, per input)."""
    columns = list(frame.columns)
    # which columns hold numbers matters only in an aggregated file (small): never parse the text
    # columns of a 10-million-row log for it
    aggregated = _resolve_schema(columns, opts.schema, opts.cols) == "aggregated"
    spec = resolve_columns(columns, file, opts.schema, opts.cols, opts.not_counts,
                           _numeric_columns(frame) if aggregated else None, opts.weight_col)
    ca, cb = spec.a, spec.b
    side_a, side_b = _names(frame[ca], log), _names(frame[cb], log)
    (a, b), union = _unify(side_a, side_b)
    kaggle_values = None
    if spec.schema == "kaggle":
        vals = np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
                                for c in KAGGLE_ONE_HOT])
        ok = np.isin(vals, (0.0, 1.0)).all(axis=1) & (np.nansum(vals, axis=1) == 1)
        outcome = np.where(ok, np.argmax(vals, axis=1), -1).astype(np.int8)  # column order = A, B, TIE
        kaggle_values = frame[list(KAGGLE_ONE_HOT)]
        used = [ca, cb, *KAGGLE_ONE_HOT]
    elif spec.schema == "winner-loser":
        outcome = np.zeros(len(frame), np.int8)
        used = [ca, cb]
    elif spec.schema == "aggregated":
        outcome = None
        used = [ca, cb]
    else:
        assert spec.outcome is not None
        outcome = _outcomes(frame[spec.outcome], a, b, union, opts.labels, opts.fold_case)
        used = [ca, cb, spec.outcome]
    masks = invalid_masks(a, b, outcome, fold_ids(union) if opts.fold_case else None)
    bad = masks[0] | masks[1] | masks[2]
    if bad.any():
        if not opts.drop_invalid:
            def raw_value(column: str | None, row: int) -> Any:
                if column is None:
                    assert kaggle_values is not None
                    return ", ".join(map(str, kaggle_values.iloc[row].tolist()))
                return frame[column].iloc[row]
            raise_first_invalid(file, 0, masks, a, b, (ca, cb, spec.outcome if spec.schema != "kaggle" else None),
                                raw_value, lambda code: union[code])
        for kind, mask in zip(INVALID_KINDS, masks):
            invalid.add(kind, file, np.flatnonzero(mask) + 1)
    # per-battle weights and battles per row, checked as the streaming reader checks them: a
    # negative or non-numeric value is an error, never a silent number
    extra: dict[str, np.ndarray] = {}
    if opts.weight_col is not None:
        if opts.weight_col not in frame:
            raise InputError(f"missing weight column{suggest(opts.weight_col, frame.columns)}",
                             file=file, column=opts.weight_col)
        extra["weight"] = _check_numbers(frame, opts.weight_col, file, "weight", bad)
        used.append(opts.weight_col)
    elif "weight" in frame:
        extra["weight"] = _check_numbers(frame, "weight", file, "weight", bad)
    if "count" in frame and spec.schema != "aggregated":
        extra["count"] = _check_numbers(frame, "count", file, "count", bad)
    if spec.schema == "aggregated":
        return _expand_counts(frame, file, spec, a, b, union, bad, extra, used), spec.schema
    out = frame.drop(columns=[c for c in dict.fromkeys(used) if c in frame.columns])
    out.insert(0, "model_a", pd.Categorical.from_codes(a, categories=union))
    out.insert(1, "model_b", pd.Categorical.from_codes(b, categories=union))
    out.insert(2, "outcome", outcome)
    for k, v in extra.items():
        out[k] = v
    if bad.any():
        out = out.loc[~bad].reset_index(drop=True)
    return out, spec.schema


def _expand_counts(frame: pd.DataFrame, file: str, spec: Spec, a: np.ndarray, b: np.ndarray, union: pd.Index,
                   bad: np.ndarray, extra: Mapping[str, np.ndarray], used: Sequence[str]) -> pd.DataFrame:
    """Aggregated rows -> one row per (pair, verdict) with its ``count``."""
    counts = {c: _check_numbers(frame, c, file, "count", bad) for c, _ in spec.counts}
    total: np.ndarray = np.sum(list(counts.values()), axis=0)
    for c in spec.totals:
        t = _check_numbers(frame, c, file, "total", bad)
        off = ~np.isclose(total, t, rtol=TOTAL_RTOL, atol=0) & ~bad
        if off.any():
            row = int(np.flatnonzero(off)[0])
            read = ", ".join(col for col, _ in spec.counts)
            raise InputError(f"the counts of this row ({read}) add up to {total[row]:g} but column {shorten(c)} "
                             f"says {t[row]:g} ({int(off.sum()):,} such rows): is a count column missing? Name it "
                             "with wins_a_col / wins_b_col / ties_col / bothbad_col (--wins-a-col ...)",
                             file=file, row=row + 1, column=c)
    rest = frame.drop(columns=list(dict.fromkeys([*used, *counts, *spec.totals, *extra])))
    keep = ~bad
    pieces = []
    for c, code in spec.counts:
        piece = rest.loc[keep].copy() if bad.any() else rest.copy()
        piece.insert(0, "model_a", pd.Categorical.from_codes(a[keep], categories=union))
        piece.insert(1, "model_b", pd.Categorical.from_codes(b[keep], categories=union))
        piece.insert(2, "outcome", np.int8(code))
        piece.insert(3, "count", counts[c][keep])
        for k, v in extra.items():
            piece[k] = v[keep]
        pieces.append(piece)
    out = pd.concat(pieces, ignore_index=True)
    return out[out["count"].to_numpy() > 0].reset_index(drop=True)


def read_inputs(inputs: Sequence[Any], opts: ReadOptions, log: NameLog | None, invalid: InvalidRows,
                ) -> tuple[pd.DataFrame | None, list[str], list[str]]:
    """Read and normalise every input; the frame has model_a / model_b as Categoricals on one
    shared, sorted category list (not yet folded), or is None when nothing was read."""
    frames: list[pd.DataFrame] = []
    sources: list[str] = []
    schemas: list[str] = []
    for item in input_files(*inputs) if inputs else []:
        if isinstance(item, Battles):
            frames.append(item.frame)
            sources.extend(item.sources)
            schemas.append(item.schema)
            continue
        if isinstance(item, pd.DataFrame):
            raw, name = item.reset_index(drop=True), "<DataFrame>"
        elif isinstance(item, str):
            name = item
            wanted = None
            if opts.keep is not None:
                header = peek_columns(name, opts.format)
                aggregated = False
                if header is not None:
                    try:
                        aggregated = _resolve_schema(header, opts.schema, opts.cols) == "aggregated"
                    except InputError:
                        aggregated = False  # read_table and the full check will say what is wrong
                if not aggregated:  # an aggregated file is read whole: every numeric column is checked
                    wanted = set(opts.keep) | set(_SCHEMA_COLUMNS) | {str(c) for c in opts.cols.values() if c}
                    if opts.weight_col:
                        wanted.add(opts.weight_col)
            raw = read_table(name, format=opts.format, columns=wanted)
        else:
            raise InputError(f"cannot read battles from a {type(item).__name__}; expected a path or DataFrame")
        if len(raw) == 0:
            raise InputError("no rows", file=name)
        if len(set(map(str, raw.columns))) != len(raw.columns):
            dup = pd.Index(map(str, raw.columns))
            raise InputError(f"column {shorten(dup[dup.duplicated()][0])} appears twice; expected distinct "
                             "column names", file=name)
        norm, used_schema = _normalise(raw, name, opts, log, invalid)
        frames.append(norm)
        sources.append(name)
        schemas.append(used_schema)
    if not frames:
        return None, sources, schemas
    # share one category list before concatenating so the names stay categorical
    sides = [(f[c].cat.codes.to_numpy(), f[c].cat.categories) for f in frames for c in ("model_a", "model_b")]
    codes, union = _unify(*sides)
    for k, f in enumerate(frames):
        frames[k] = f.assign(model_a=pd.Categorical.from_codes(codes[2 * k], categories=union),
                             model_b=pd.Categorical.from_codes(codes[2 * k + 1], categories=union))
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return frame.reset_index(drop=True), sources, schemas


def fold_frame(frame: pd.DataFrame, fold_case: bool) -> pd.DataFrame:
    """Apply ``fold_case`` (and warn about look-alikes kept apart) on the final name list."""
    names = list(frame["model_a"].cat.categories)
    if not fold_case:
        warn_lookalikes(names, stacklevel=4)
        return frame
    folded = fold_map(names)
    if not folded:
        return frame
    target = [folded.get(n, n) for n in names]
    union = pd.Index(sorted(set(target)))
    lut = np.append(union.get_indexer(target), -1).astype(np.int32)
    codes_a, codes_b = (lut[frame[side].cat.codes.to_numpy()] for side in ("model_a", "model_b"))
    frame = frame.assign(model_a=pd.Categorical.from_codes(codes_a, categories=union),
                         model_b=pd.Categorical.from_codes(codes_b, categories=union))
    warn_lookalikes(names, folded=folded, stacklevel=4)
    return frame


def load_battles(source: Any, *more: Any, schema: str = "auto", model_a_col: str | None = None,
                 model_b_col: str | None = None, outcome_col: str | None = None,
                 winner_col: str | None = None, loser_col: str | None = None,
                 wins_a_col: str | None = None, wins_b_col: str | None = None,
                 ties_col: str | None = None, bothbad_col: str | None = None,
                 weight_col: str | None = None, outcome_map: Mapping[Any, str] | None = None,
                 format: str | None = None, keep: Iterable[str] | None = None, drop_invalid: bool = False,
                 fold_case: bool = False, not_counts: Iterable[str] = ()) -> Battles:
    """Read battles from files or a DataFrame, detect the schema and validate every row.

    Parameters
    ----------
    source, *more : path, directory, list of them, pandas.DataFrame or Battles
        One or more inputs; all are read with the same options and concatenated. Files may be
        CSV, TSV, JSON (array of records), JSON Lines or Parquet, each optionally
        gzip-compressed (``.csv.gz`` ...). Directories are read recursively, skipping names that
        start with ``.`` or ``_`` (see :func:`input_files`).
    schema : {"auto", "arena", "kaggle", "generic", "winner-loser", "aggregated"}
        ``arena``: FastChat's ``model_a, model_b, winner``. ``kaggle``: the LMSYS competition's
        one-hot ``winner_model_a, winner_model_b, winner_tie``. ``generic``: name the columns with
        ``model_a_col``, ``model_b_col``, ``outcome_col``. ``winner-loser``: one row per decisive
        game (``winner_col``, ``loser_col``). ``aggregated``: one row per pair with counts of
        A's wins, B's wins and optionally ties and both-bad ties, under any spelling of
        :data:`COUNT_SPELLINGS` (``wins_a``/``a_wins``, ``ties``/``draws``,
        ``bothbad``/``tie (bothbad)`` ...). ``auto`` picks from the columns.
    model_a_col, model_b_col, outcome_col, winner_col, loser_col : str, optional
        Column names, when they differ from the schema's defaults.
    wins_a_col, wins_b_col, ties_col, bothbad_col : str, optional
        The count columns of aggregated input, when they differ from the recognised spellings.
    weight_col : str, optional
        A column of non-negative per-battle weights (a column named ``weight`` is one anyway).
    outcome_map : mapping, optional
        Extra outcome labels, e.g. ``{"-1": "model_b", "home": "model_a"}``.
    format : str, optional
        Force the file format instead of using the extension.
    keep : iterable of str, optional
        Other columns to keep (e.g. ``["tstamp", "judge"]``). ``None`` keeps every column; a
        list lets CSV and Parquet readers skip the rest, which is much faster on large files.
        Aggregated files are always read whole.
    drop_invalid : bool
        Drop rows with a missing or blank name, a self-battle or an unknown verdict instead of
        raising; how many of each kind and their first rows are recorded as the ``drop-invalid``
        step of :attr:`Battles.steps`.
    fold_case : bool
        Read names that differ only by letter case or invisible characters as one contestant
        (see :mod:`~arena_stats.data.names`); without it such names stay apart, with a
        :class:`~arena_stats.errors.LookalikeNameWarning`.
    not_counts : iterable of str
        Numeric columns of an aggregated file that are not counts (any other numeric column
        that is not a recognised count is an error: counts are never dropped silently).

    Returns
    -------
    Battles

    Raises
    ------
    InputError
        With the file, row and column of the first problem: unknown outcome labels, a contestant
        battling itself, blank names, rows that are not one-hot, unread numeric columns of an
        aggregated file, unreadable files, missing columns.

    Warns
    -----
    NameMergeWarning
        When different spellings of a name were read as one contestant.
    LookalikeNameWarning
        When names that differ only by case or invisible characters were kept apart.

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats import load_battles
    >>> df = pd.DataFrame({"left": ["x", "y"], "right": ["y", "x"], "winner": ["left", "tie"]})
    >>> load_battles(df).winner_labels().tolist()
    ['model_a', 'tie']
    >>> messy = pd.DataFrame({"model_a": ["x", "x", "y"], "model_b": ["y", "x", "z"],
    ...                       "winner": ["model_a", "tie", "??"]})
    >>> print(load_battles(messy, drop_invalid=True).filter_report())
    drop-invalid: removed 2 rows (1 self-battle (<DataFrame> row 2), 1 unknown verdict (<DataFrame> row 3)); 1 left
    """
    opts = ReadOptions.make(schema=schema, model_a_col=model_a_col, model_b_col=model_b_col,
                            outcome_col=outcome_col, winner_col=winner_col, loser_col=loser_col,
                            wins_a_col=wins_a_col, wins_b_col=wins_b_col, ties_col=ties_col,
                            bothbad_col=bothbad_col, weight_col=weight_col, outcome_map=outcome_map,
                            format=format, keep=keep, drop_invalid=drop_invalid, fold_case=fold_case,
                            not_counts=not_counts)
    log, invalid = NameLog(), InvalidRows()
    frame, sources, schemas = read_inputs([source, *more], opts, log, invalid)
    log.warn(stacklevel=3)
    if frame is None or len(frame) == 0:
        note = f" ({invalid.step(0)})" if invalid.total else ""
        raise InputError(f"no battles in the input{note}")
    if "count" in frame or invalid.total:
        # zero-count aggregated rows and dropped rows are not battles: their names are not models
        frame = drop_unused_models(frame)
    frame = fold_frame(frame, opts.fold_case)
    frame["outcome"] = frame["outcome"].astype(np.int8)
    schema_name = schemas[0] if len(set(schemas)) == 1 else "mixed"
    steps: tuple[FilterStep, ...] = (invalid.step(len(frame)),) if opts.drop_invalid else ()
    return Battles(frame=frame, steps=steps, sources=tuple(sources), schema=schema_name)


def as_battles(data: Any, **kwargs: Any) -> Battles:
    """Return ``data`` if it already is :class:`Battles`, else :func:`load_battles` of it."""
    return data if isinstance(data, Battles) else load_battles(data, **kwargs)
