"""Streaming battles larger than memory to sufficient statistics, in bounded memory.

:func:`stream_pair_counts` reads Parquet, CSV/TSV and JSON Lines files (or directories of
them) batch by batch and returns the same :class:`~arena_stats.data.aggregate.PairCounts` as
``aggregate(load_battles(...))`` would, with the same validation and the same error messages
(file, row, column), while holding only one batch and a table of counts in memory. A billion
battles between 300 models reduce to at most ``4 * 300 * 299 / 2`` numbers, so memory is
bounded by the batch size (:data:`DEFAULT_BATCH_ROWS`), not by the input.

Design, chosen by measurement (``docs/scale.md``):

* **pyarrow batch readers, dictionary-encoded.** Contestant names and verdict labels are read
  as Arrow dictionary arrays (Parquet stores them dictionary-encoded already, so decoding is
  nearly free; CSV is read with dictionary column types; JSON Lines columns are
  dictionary-encoded per batch). Every per-name operation (whitespace stripping, blank
  checks, mapping to a global code, parsing verdict labels) then runs on the few hundred
  dictionary entries of a batch, never on the rows; the rows only see integer gathers and one
  ``bincount``. Reading a 10-million-battle Parquet file this way is faster than pyarrow
  alone decoding the same columns to strings. DuckDB was measured and is not needed.
* **Codes in order of first appearance, sorted at the end.** The global model list is not
  known until the last batch, so codes are handed out as names appear and the counts are kept
  per *ordered* (A, B, verdict) slot, dense while the models are few (:data:`DENSE_SLOTS`) and
  as sorted sparse keys otherwise (and whenever battles carry weights, which key the cells).
  At the end the codes are re-mapped to the sorted model list and each battle is flipped to
  ``i < j`` exactly as :func:`~arena_stats.data.aggregate.aggregate` does, so the result is equal
  cell for cell, in the same order.
* **Merging.** :func:`merge_pair_counts` combines counts with different model lists by the
  same route; it is what the Dask reduction (:mod:`arena_stats.scale.distributed`) and the saved
  state (:mod:`arena_stats.scale.state`) use.

JSON arrays (``.json``) and gzip-compressed Parquet cannot be read in batches; such files are
loaded whole with :func:`~arena_stats.data.battles.load_battles` and merged in.
"""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .aggregate import PairCounts, aggregate
from .battles import A_WINS, B_WINS, OUTCOME_NAMES, Battles
from .readers import _LABELS, KAGGLE_ONE_HOT, _format_of, _normalise, load_battles
from ..errors import InputError, suggest
from .._util.progress import progress as progress_bar

__all__ = ["stream_pair_counts", "merge_pair_counts", "input_files", "DEFAULT_BATCH_ROWS"]

#: Rows per batch: ~40 MB of working memory per million rows; larger batches gain little.
DEFAULT_BATCH_ROWS = 1 << 20
#: Ordered (A, B, verdict) slots kept as a dense array (32 MB); beyond ~1000 models, sparse keys.
DENSE_SLOTS = 1 << 22
#: Pending sparse rows that trigger a consolidation (sort + sum) of the sparse counts.
SPARSE_FLUSH_ROWS = 1 << 22
#: Bytes per CSV / JSON Lines block handed to pyarrow's streaming readers.
TEXT_BLOCK_BYTES = 16 << 20
#: Codes live in 30 bits each inside an int64 sparse key.
MAX_MODELS = 1 << 30
#: pandas' default missing-value strings, so that CSV input is read as ``load_battles`` reads it.
PANDAS_NA_STRINGS = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
                     "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
_STREAMABLE = ("parquet", "csv", "tsv", "jsonl")


# ------------------------------------------------------------------------------ accumulation
class _Counts:
    """Battle counts per ordered (A code, B code, verdict[, weight]) with codes by first appearance."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.cap = 0
        self.dense: np.ndarray | None = np.zeros(0)
        self.pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.pending_rows = 0

    # -- names
    def code(self, name: str) -> int:
        c = self.index.get(name)
        if c is None:
            c = len(self.names)
            if c >= MAX_MODELS:
                raise InputError(f"more than {MAX_MODELS:,} distinct contestants")
            self.index[name] = c
            self.names.append(name)
        return c

    def codes(self, names: Sequence[str]) -> np.ndarray:
        return np.fromiter((self.code(n) for n in names), dtype=np.int64, count=len(names))

    # -- counts
    def add(self, a: np.ndarray, b: np.ndarray, o: np.ndarray, count: np.ndarray | None = None,
            weight: np.ndarray | None = None) -> None:
        """Add battles (``count`` battles per row, default 1; per-battle ``weight``, default 1)."""
        if len(a) == 0:
            return
        if weight is not None and np.any(weight != 1.0):
            self._to_sparse()
        if self.dense is not None:
            n = len(self.names)
            if n * n * 4 > DENSE_SLOTS:
                self._to_sparse()
            else:
                if n > self.cap:
                    self._grow(n)
                key = (a * self.cap + b) * 4 + o
                self.dense += np.bincount(key, weights=count, minlength=self.cap * self.cap * 4)
                return
        key = (a << 32) | (b << 2) | o
        w = np.ones(len(key)) if weight is None else np.asarray(weight, np.float64)
        c = np.ones(len(key)) if count is None else np.asarray(count, np.float64)
        self.pending.append(_reduce(key, w, c))
        self.pending_rows += len(self.pending[-1][0])
        if self.pending_rows > SPARSE_FLUSH_ROWS:
            self._flush()

    def _grow(self, n: int) -> None:
        cap = max(8, 1 << int(np.ceil(np.log2(n))))
        new = np.zeros((cap, cap, 4))
        if self.cap:
            new[: self.cap, : self.cap] = self.dense.reshape(self.cap, self.cap, 4)
        self.dense, self.cap = new.reshape(-1), cap

    def _to_sparse(self) -> None:
        if self.dense is None:
            return
        slots = np.flatnonzero(self.dense)
        if len(slots):
            ab, o = np.divmod(slots, 4)
            a, b = np.divmod(ab, self.cap)
            self.pending.append(((a << 32) | (b << 2) | o, np.ones(len(slots)), self.dense[slots]))
            self.pending_rows += len(slots)
        self.dense = None

    def _flush(self) -> None:
        if len(self.pending) > 1:
            key, w, c = (np.concatenate(x) for x in zip(*self.pending))
            self.pending = [_reduce(key, w, c)]
            self.pending_rows = len(self.pending[0][0])

    def ordered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All counts as arrays ``(a, b, verdict, weight, count)`` in first-appearance codes."""
        self._to_sparse()
        self._flush()
        if not self.pending:
            e = np.zeros(0, np.int64)
            return e, e, e, np.zeros(0), np.zeros(0)
        key, w, c = self.pending[0]
        return key >> 32, (key >> 2) & (MAX_MODELS - 1), key & 3, w, c

    def result(self) -> PairCounts:
        return _pair_counts(self.names, *self.ordered())


def _reduce(key: np.ndarray, w: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum ``c`` over equal (key, weight), sorted by key then weight."""
    order = np.lexsort((w, key))
    k, ws = key[order], w[order]
    new = np.ones(len(k), bool)
    new[1:] = (k[1:] != k[:-1]) | (ws[1:] != ws[:-1])
    group = np.cumsum(new) - 1
    return k[new], ws[new], np.bincount(group, weights=c[order])


def _pair_counts(names: list[str], a: np.ndarray, b: np.ndarray, o: np.ndarray, w: np.ndarray,
                 c: np.ndarray) -> PairCounts:
    """Ordered counts in any coding -> PairCounts on the sorted names, as ``aggregate`` builds it."""
    keep = c > 0
    a, b, o, w, c = a[keep], b[keep], o[keep], w[keep], c[keep]
    used = np.zeros(len(names), bool)
    used[a] = True
    used[b] = True
    used_idx = np.flatnonzero(used)
    order = sorted(used_idx.tolist(), key=names.__getitem__)
    models = [names[k] for k in order]
    if len(set(models)) != len(models):
        raise InputError("the same contestant name appears twice in the counts")
    rank = np.full(len(names), -1, np.int64)
    rank[order] = np.arange(len(order))
    n = len(models)
    ra, rb = rank[a], rank[b]
    swap = ra > rb
    lo, hi = np.where(swap, rb, ra), np.where(swap, ra, rb)
    o = np.where(swap & (o == A_WINS), B_WINS, np.where(swap & (o == B_WINS), A_WINS, o))
    cells, cell_weight, cell_count = _reduce((lo * n + hi) * 4 + o, w, c)
    pairs, cell_pair = np.unique(cells // 4, return_inverse=True)
    return PairCounts(models=models, i=(pairs // n).astype(np.int64), j=(pairs % n).astype(np.int64),
                      cell_pair=cell_pair.astype(np.int64), cell_outcome=(cells % 4).astype(np.int64),
                      cell_count=cell_count, cell_weight=cell_weight)


def _add_pair_counts(acc: _Counts, counts: PairCounts) -> None:
    codes = acc.codes(counts.models)
    acc.add(codes[counts.i[counts.cell_pair]], codes[counts.j[counts.cell_pair]],
            counts.cell_outcome.astype(np.int64), counts.cell_count, counts.cell_weight)


def merge_pair_counts(*counts: PairCounts) -> PairCounts:
    """Add up :class:`PairCounts` computed on different battles (model lists may differ).

    The result equals ``aggregate`` of all the battles together, cell for cell.

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats import load_battles
    >>> from arena_stats.data.aggregate import aggregate
    >>> one = aggregate(load_battles(pd.DataFrame({"model_a": ["x"], "model_b": ["y"], "winner": ["model_a"]})))
    >>> two = aggregate(load_battles(pd.DataFrame({"model_a": ["z"], "model_b": ["x"], "winner": ["tie"]})))
    >>> both = merge_pair_counts(one, two)
    >>> both.models, both.table().tolist()
    (['x', 'y', 'z'], [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    """
    if not counts:
        raise InputError("nothing to merge")
    acc = _Counts()
    for c in counts:
        _add_pair_counts(acc, c)
    return acc.result()


# ------------------------------------------------------------------------------ input files
def input_files(source: Any, *more: Any) -> list[Any]:
    """Expand paths and directories (recursively, sorted) into the list of inputs to read.

    Files and folders whose names start with ``.`` or ``_`` (``_SUCCESS``, ``_metadata``) are
    skipped inside directories, as Spark and Hive write them. DataFrames, Battles and
    PairCounts pass through.
    """
    items: list[Any] = []
    pending = [source, *more]
    while pending:  # nested lists flatten, in order
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
                found = []
                for root, dirs, files in os.walk(path):
                    dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
                    found.extend(os.path.join(root, f) for f in sorted(files) if not f.startswith((".", "_")))
                if not found:
                    raise InputError("directory holds no files", file=path)
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


@dataclass(frozen=True)
class _Spec:
    """Which columns of a file hold what, resolved like ``load_battles`` does."""

    schema: str
    a: str
    b: str
    outcome: str | None = None
    verdict_columns: tuple[tuple[str, int], ...] = ()  # aggregated: (column, verdict code)
    weight: str | None = None
    count: str | None = None  # battles per row, as ``Battles.counts`` reads a ``count`` column

    @property
    def name_columns(self) -> list[str]:
        return [self.a, self.b]

    @property
    def columns(self) -> list[str]:
        cols = [self.a, self.b]
        if self.outcome:
            cols.append(self.outcome)
        if self.schema == "kaggle":
            cols.extend(KAGGLE_ONE_HOT)
        cols.extend(c for c, _ in self.verdict_columns)
        cols.extend(c for c in (self.weight, self.count) if c)
        return list(dict.fromkeys(cols))

    @property
    def numeric_columns(self) -> list[str]:
        cols = list(KAGGLE_ONE_HOT) if self.schema == "kaggle" else []
        cols += [c for c, _ in self.verdict_columns]
        return cols + [c for c in (self.weight, self.count) if c]


def _resolve(names: Sequence[str], file: str, opts: Mapping[str, Any]) -> _Spec:
    """The schema and columns of one file, by the same rules as ``load_battles``."""
    cols = opts["cols"]
    # load_battles' own normalisation on zero rows: the same schema detection, the same errors
    _, schema = _normalise(pd.DataFrame({c: pd.Series(dtype=object) for c in names}), file, opts["schema"],
                           cols, None)
    weight = opts["weight_col"]
    if weight is not None and weight not in names:
        raise InputError(f"missing weight column{suggest(weight, names)}", file=file, column=weight)
    # Battles reads columns named "weight" and "count" as weights and battles per row
    weight = weight or ("weight" if "weight" in names else None)
    count = "count" if "count" in names and schema != "aggregated" else None

    def pick(key: str, default: str, alternative: str | None = None) -> str:
        # an explicit column wins; else the schema's default, or its alternative spelling when only that exists
        if cols.get(key):
            return cols[key]
        return alternative if alternative and alternative in names and default not in names else default

    lr = schema == "generic"
    ca, cb = pick("model_a", "model_a", "left" if lr else None), pick("model_b", "model_b", "right" if lr else None)
    if schema == "kaggle":
        return _Spec(schema, ca, cb, weight=weight, count=count)
    if schema == "winner-loser":
        # here the *_name spelling wins whenever it exists, as in load_battles
        cw = cols.get("winner") or ("winner_name" if "winner_name" in names else "winner")
        cl = cols.get("loser") or ("loser_name" if "loser_name" in names else "loser")
        return _Spec(schema, cw, cl, weight=weight, count=count)
    if schema == "aggregated":
        verdicts = [(pick("wins_a", "wins_a"), 0), (pick("wins_b", "wins_b"), 1)]
        for key, default, code in (("ties", "ties", 2), ("bothbad", "ties_bothbad", 3)):
            if cols.get(key) or default in names:
                verdicts.append((pick(key, default), code))
        return _Spec(schema, ca, cb, verdict_columns=tuple(verdicts), weight=weight)
    return _Spec(schema, ca, cb, outcome=pick("outcome", "winner"), weight=weight, count=count)


# ------------------------------------------------------------------------------ batch readers
def _parquet_batches(path: str, opts: Mapping[str, Any]) -> Iterator[tuple[_Spec, pa.RecordBatch]]:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    spec = _resolve(schema.names, path, opts)
    text = [c for c in spec.name_columns + ([spec.outcome] if spec.outcome else [])
            if pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type)]
    reader = pq.ParquetFile(path, read_dictionary=text)
    for batch in reader.iter_batches(batch_size=opts["batch_rows"], columns=spec.columns):
        yield spec, batch


def _open_text(path: str, gz: bool) -> pa.NativeFile:
    return pa.input_stream(path, compression="gzip" if gz else None)


def _csv_header(path: str, gz: bool, delimiter: str) -> list[str]:
    opener = gzip.open if gz else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh, delimiter=delimiter), [])


def _csv_batches(path: str, fmt: str, gz: bool, opts: Mapping[str, Any]) -> Iterator[tuple[_Spec, pa.RecordBatch]]:
    import pyarrow.csv as pcsv

    delimiter = "," if fmt == "csv" else "\t"
    header = _csv_header(path, gz, delimiter)
    if not header:
        raise InputError("no rows", file=path)
    spec = _resolve(header, path, opts)
    text_type = pa.dictionary(pa.int32(), pa.string())
    types = {c: text_type for c in spec.name_columns + ([spec.outcome] if spec.outcome else [])}
    types.update({c: pa.float64() for c in spec.numeric_columns})
    reader = pcsv.open_csv(
        _open_text(path, gz),
        read_options=pcsv.ReadOptions(block_size=TEXT_BLOCK_BYTES),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(include_columns=spec.columns, column_types=types,
                                            null_values=PANDAS_NA_STRINGS, strings_can_be_null=True))
    for batch in reader:
        yield spec, batch


def _jsonl_batches(path: str, gz: bool, opts: Mapping[str, Any]) -> Iterator[tuple[_Spec, pa.RecordBatch]]:
    import pyarrow.json as pjson

    reader = pjson.open_json(_open_text(path, gz), read_options=pjson.ReadOptions(block_size=TEXT_BLOCK_BYTES))
    spec = _resolve(reader.schema.names, path, opts)
    for batch in reader:
        yield spec, batch.select(spec.columns)


def _batches(path: str, fmt: str, gz: bool, opts: Mapping[str, Any]) -> Iterator[tuple[_Spec, pa.RecordBatch]]:
    if fmt == "parquet":
        return _parquet_batches(path, opts)
    if fmt in ("csv", "tsv"):
        return _csv_batches(path, fmt, gz, opts)
    return _jsonl_batches(path, gz, opts)


# ------------------------------------------------------------------------------ one batch
def _dictionary(arr: pa.Array) -> pa.DictionaryArray:
    return arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr)


def _first_null(arr: pa.Array) -> int:
    return int(np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[0])


def _name_codes(arr: pa.Array, acc: _Counts, file: str, column: str, row0: int) -> np.ndarray:
    """Global codes of a name column; blank or missing names are an error, as in ``load_battles``."""
    if arr.null_count:
        raise InputError("missing or blank contestant name (expected a model name)", file=file,
                         row=row0 + _first_null(arr) + 1, column=column)
    d = _dictionary(arr)
    names = [str(v).strip() for v in d.dictionary.to_pylist()]
    lut = np.array([acc.code(n) if n else -1 for n in names] + [-1], dtype=np.int64)
    codes = lut[d.indices.to_numpy(zero_copy_only=False)]
    if lut[:-1].min(initial=0) < 0 and (codes < 0).any():
        bad = int((codes < 0).sum())
        raise InputError(f"missing or blank contestant name ({bad} such rows in this batch; expected a "
                         "model name)", file=file, row=row0 + int(np.flatnonzero(codes < 0)[0]) + 1,
                         column=column)
    return codes


def _label_table(outcome_map: Mapping[Any, str] | None) -> dict[str, int]:
    table = dict(_LABELS)
    for k, v in (outcome_map or {}).items():
        vv = str(v).strip().lower()
        if vv not in _LABELS:
            raise InputError(f"outcome_map sends {k!r} to {v!r}, which is not one of {', '.join(OUTCOME_NAMES)}")
        table[str(k).strip().lower()] = _LABELS[vv]
    return table


def _label_key(value: Any, table: Mapping[str, int]) -> str:
    if isinstance(value, float) and value.is_integer():
        whole = str(int(value))
        if whole in table:
            return whole
    return str(value).strip().lower()


def _verdict_codes(arr: pa.Array, a: np.ndarray, b: np.ndarray, acc: _Counts, table: Mapping[str, int],
                   file: str, column: str, row0: int) -> np.ndarray:
    """Verdict codes from labels; the winner's own name counts as a label, as in ``load_battles``."""
    d = _dictionary(arr)
    values = d.dictionary.to_pylist()
    lut = np.array([table.get(_label_key(v, table), -1) for v in values] + [-1], dtype=np.int64)
    idx = d.indices.fill_null(len(values)).to_numpy(zero_copy_only=False)
    codes = lut[idx]
    for k in np.flatnonzero(lut[:-1] < 0):
        # an unknown label may be a contestant's name: the winner of that row
        c = acc.index.get(str(values[k]).strip())
        if c is None:
            continue
        rows = idx == k
        codes[rows & (a == c)] = A_WINS
        codes[rows & (b == c) & (a != c)] = B_WINS
    unknown = codes < 0
    if unknown.any():
        first = int(np.flatnonzero(unknown)[0])
        shown = [repr(values[k]) if k < len(values) else "None" for k in pd.unique(idx[unknown])[:5]]
        raise InputError(
            f"unknown outcome label {shown[0]} ({int(unknown.sum())} rows with unknown labels in this batch, "
            f"e.g. {', '.join(shown)}); expected model_a / model_b / tie / tie (bothbad), a / b / tie, "
            "left / right / tie, 1 / 0 / 0.5, or the winning contestant's name (pass outcome_map= to map "
            "other labels)", file=file, row=row0 + first + 1, column=column)
    return codes


def _numbers(batch: pa.RecordBatch, column: str, file: str, row0: int, what: str) -> np.ndarray:
    arr = batch.column(column)
    try:
        v = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        v = pd.to_numeric(pd.Series(arr.to_pylist()), errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(v) | (v < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"{what} {arr[row].as_py()!r} is not a non-negative number", file=file,
                         row=row0 + row + 1, column=column)
    return v


def _add_batch(batch: pa.RecordBatch, spec: _Spec, acc: _Counts, table: Mapping[str, int], file: str,
               row0: int) -> None:
    a = _name_codes(batch.column(spec.a), acc, file, spec.a, row0)
    b = _name_codes(batch.column(spec.b), acc, file, spec.b, row0)
    same = a == b
    if same.any():
        row = int(np.flatnonzero(same)[0])
        raise InputError(f"contestant {acc.names[a[row]]!r} battles itself ({int(same.sum())} such rows in "
                         "this batch; expected two different contestants)", file=file, row=row0 + row + 1,
                         column=spec.a)
    weight = _numbers(batch, spec.weight, file, row0, "weight") if spec.weight else None
    count = _numbers(batch, spec.count, file, row0, "count") if spec.count else None
    if spec.schema == "aggregated":
        for column, verdict in spec.verdict_columns:
            count = _numbers(batch, column, file, row0, "count")
            acc.add(a, b, np.full(len(a), verdict, np.int64), count, weight)
        return
    if spec.schema == "kaggle":
        vals = np.column_stack([_one_hot(batch.column(c)) for c in KAGGLE_ONE_HOT])
        ok = np.isin(vals, (0.0, 1.0)).all(axis=1) & (np.nansum(vals, axis=1) == 1)
        if not ok.all():
            row = int(np.flatnonzero(~ok)[0])
            raise InputError(f"the outcome is not one-hot: winner_model_a, winner_model_b, winner_tie = "
                             f"{', '.join(map(str, vals[row].tolist()))}; expected exactly one 1 and two 0s",
                             file=file, row=row0 + row + 1, column="winner_model_a")
        o = np.argmax(vals, axis=1).astype(np.int64)
    elif spec.schema == "winner-loser":
        o = np.zeros(len(a), np.int64)
    else:
        o = _verdict_codes(batch.column(spec.outcome), a, b, acc, table, file, spec.outcome, row0)
    acc.add(a, b, o, count, weight)


def _one_hot(arr: pa.Array) -> np.ndarray:
    try:
        return arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return np.full(len(arr), np.nan)


# ------------------------------------------------------------------------------ the entry point
def _stream_file(path: str, acc: _Counts, opts: Mapping[str, Any]) -> None:
    fmt, gz = _format_of(path) if opts["format"] is None else (opts["format"], path.lower().endswith(".gz"))
    if fmt not in _STREAMABLE or (fmt == "parquet" and gz):
        # JSON arrays and gzip-compressed Parquet have no batch reader: load whole, then merge
        _add_pair_counts(acc, aggregate(load_battles(path, **opts["load_kwargs"])))
        return
    table = opts["labels"]
    row0 = 0
    try:
        for spec, batch in _batches(path, fmt, gz, opts):
            _add_batch(batch, spec, acc, table, path, row0)
            row0 += batch.num_rows
    except InputError:
        raise
    except (OSError, EOFError, UnicodeDecodeError, ValueError, pa.ArrowException) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"could not read as {fmt}{' (gzip)' if gz else ''} after {row0:,} rows: {msg}",
                         file=path) from None
    if row0 == 0:
        raise InputError("no rows", file=path)


def _stream_frame(frame: pd.DataFrame, acc: _Counts, opts: Mapping[str, Any]) -> None:
    """A DataFrame through the same batch code, via a (mostly zero-copy) Arrow table."""
    name = "<DataFrame>"
    if len(frame) == 0:
        raise InputError("no rows", file=name)
    spec = _resolve([str(c) for c in frame.columns], name, opts)
    try:
        table = pa.Table.from_pandas(frame.reset_index(drop=True)[spec.columns], preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        # mixed-type object columns have no Arrow type: take the pandas route
        _add_pair_counts(acc, aggregate(load_battles(frame, **opts["load_kwargs"])))
        return
    row0 = 0
    for batch in table.to_batches(max_chunksize=opts["batch_rows"]):
        _add_batch(batch, spec, acc, opts["labels"], name, row0)
        row0 += batch.num_rows


def stream_pair_counts(source: Any, *more: Any, schema: str = "auto", model_a_col: str | None = None,
                       model_b_col: str | None = None, outcome_col: str | None = None,
                       winner_col: str | None = None, loser_col: str | None = None,
                       wins_a_col: str | None = None, wins_b_col: str | None = None,
                       ties_col: str | None = None, bothbad_col: str | None = None,
                       weight_col: str | None = None, outcome_map: Mapping[Any, str] | None = None,
                       format: str | None = None, batch_rows: int = DEFAULT_BATCH_ROWS,
                       progress: bool = False) -> PairCounts:
    """Reduce battle files of any size to :class:`PairCounts`, one batch at a time.

    Equal, cell for cell, to ``aggregate(load_battles(source, *more, **options))``, with the same
    options and the same validation, but memory is bounded by ``batch_rows`` instead of the size
    of the input.

    Parameters
    ----------
    source, *more : path, directory, list of them, DataFrame, Battles or PairCounts
        Parquet, CSV/TSV and JSON Lines files (optionally ``.gz``; Parquet uncompressed by gzip)
        are streamed; directories are searched recursively (names starting with ``.`` or ``_``
        are skipped). DataFrames go through the same batch code via Arrow (the fast way to
        reduce an in-memory frame); JSON arrays and ``.parquet.gz`` files are loaded whole.
    schema, model_a_col, model_b_col, outcome_col, winner_col, loser_col, wins_a_col, wins_b_col, ties_col, bothbad_col, weight_col, outcome_map, format
        As in :func:`~arena_stats.data.battles.load_battles`.
    batch_rows : int
        Rows per Parquet batch (CSV / JSON Lines blocks are :data:`TEXT_BLOCK_BYTES`).
    progress : bool
        A progress bar over the input files on stderr (only when stderr is a terminal).

    Returns
    -------
    PairCounts

    Raises
    ------
    InputError
        As ``load_battles``: file, row (within the file) and column of the first problem.

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from arena_stats import load_battles
    >>> from arena_stats.data.aggregate import aggregate
    >>> df = pd.DataFrame({"model_a": ["x", "y", "z"], "model_b": ["y", "x", "x"],
    ...                    "winner": ["model_a", "tie", "model_b"]})
    >>> path = os.path.join(tempfile.mkdtemp(), "battles.csv")
    >>> df.to_csv(path, index=False)
    >>> streamed = stream_pair_counts(path)
    >>> streamed.models, streamed.table().tolist()
    (['x', 'y', 'z'], [[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    >>> bool((streamed.table() == aggregate(load_battles(path)).table()).all())
    True
    """
    if int(batch_rows) < 1:
        raise InputError(f"batch_rows must be at least 1, got {batch_rows!r}")
    load_kwargs = dict(schema=schema, model_a_col=model_a_col, model_b_col=model_b_col,
                       outcome_col=outcome_col, winner_col=winner_col, loser_col=loser_col,
                       wins_a_col=wins_a_col, wins_b_col=wins_b_col, ties_col=ties_col,
                       bothbad_col=bothbad_col, weight_col=weight_col, outcome_map=outcome_map)
    opts = dict(schema=schema, weight_col=weight_col, format=format, batch_rows=int(batch_rows),
                labels=_label_table(outcome_map), load_kwargs={**load_kwargs, "format": format},
                cols={"model_a": model_a_col, "model_b": model_b_col, "outcome": outcome_col,
                      "winner": winner_col, "loser": loser_col, "wins_a": wins_a_col,
                      "wins_b": wins_b_col, "ties": ties_col, "bothbad": bothbad_col})
    items = input_files(source, *more)
    acc = _Counts()
    with progress_bar(len(items), "reading", enabled=progress) as bar:
        for item in items:
            if isinstance(item, PairCounts):
                _add_pair_counts(acc, item)
            elif isinstance(item, Battles):
                _add_pair_counts(acc, aggregate(item))
            elif isinstance(item, pd.DataFrame):
                _stream_frame(item, acc, opts)
            elif isinstance(item, str):
                _stream_file(item, acc, opts)
            else:
                raise InputError(f"cannot read battles from a {type(item).__name__}; expected a path, "
                                 "directory, DataFrame, Battles or PairCounts")
            bar.update()
    result = acc.result()
    if result.n_pairs == 0:
        raise InputError("no battles in the input")
    return result
