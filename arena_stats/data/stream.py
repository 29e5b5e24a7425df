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
loaded whole by the code of :func:`~arena_stats.data.readers.load_battles` and merged in. So are
aggregated count files (one row per pair: small by nature), so that their count columns are
checked by one piece of code, and JSON Lines files whose first block pyarrow cannot type (a
column mixing text and lists). Names, verdict labels, invalid rows (``drop_invalid``) and
``fold_case`` follow the same rules as ``load_battles`` (:mod:`~arena_stats.data.readers`,
:mod:`~arena_stats.data.names`), applied to each batch's dictionary of distinct values.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._util.progress import progress as progress_bar
from ..errors import InputError, shorten, suggest
from .aggregate import PairCounts, aggregate
from .battles import A_WINS, B_WINS, Battles, FilterStep
from .names import NameLog, canonical_names, fold_map, lookalike_key, warn_lookalikes
from .readers import (
    INVALID_KINDS,
    KAGGLE_ONE_HOT,
    InvalidRows,
    ReadOptions,
    Spec,
    check_text_file,
    csv_header,
    format_of,
    input_files,
    invalid_masks,
    label_key,
    raise_first_invalid,
    read_inputs,
    resolve_columns,
    winner_codes,
)

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
#: Largest file read whole only to give load_battles' (better) message where pyarrow fails.
READ_WHOLE_MAX_BYTES = 256 << 20
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
        self.log = NameLog()
        self.invalid = InvalidRows()
        self.rows = 0  # rows kept (for the drop-invalid report)
        self._raw: dict[str, int] = {}  # raw text -> code (-1: not a name), so each is normalised once
        self._fold_keys: dict[str, int] = {}
        self.fold_id: list[int] = []  # per code: its look-alike group (fold_case)

    # -- names
    def code(self, name: str) -> int:
        c = self.index.get(name)
        if c is None:
            c = len(self.names)
            if c >= MAX_MODELS:
                raise InputError(f"more than {MAX_MODELS:,} distinct contestants")
            self.index[name] = c
            self.names.append(name)
            self.fold_id.append(self._fold_keys.setdefault(lookalike_key(name), len(self._fold_keys)))
        return c

    def codes(self, names: Sequence[str]) -> np.ndarray:
        return np.fromiter((self.code(n) for n in names), dtype=np.int64, count=len(names))

    def raw_code(self, value: Any) -> int:
        """The code of a raw name value through the name policy (-1: not a name)."""
        if isinstance(value, str):
            c = self._raw.get(value)
            if c is None:
                (name,), _ = canonical_names([value], self.log)
                c = self._raw[value] = -1 if name is None else self.code(name)
            return c
        (name,), _ = canonical_names([value])
        return -1 if name is None else self.code(name)

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
            assert self.dense is not None
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

    def result(self, fold_case: bool = False) -> PairCounts:
        names = self.names
        if fold_case:
            folded = fold_map(self._used_names())
            names = [folded.get(n, n) for n in names]
        return _pair_counts(names, *self.ordered(), fold_case=fold_case)

    def _used_names(self) -> list[str]:
        a, b, _, _, c = self.ordered()
        used = np.zeros(len(self.names), bool)
        used[a[c > 0]] = True
        used[b[c > 0]] = True
        return [n for n, u in zip(self.names, used) if u]


def _reduce(key: np.ndarray, w: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum ``c`` over equal (key, weight), sorted by key then weight."""
    order = np.lexsort((w, key))
    k, ws = key[order], w[order]
    new = np.ones(len(k), bool)
    new[1:] = (k[1:] != k[:-1]) | (ws[1:] != ws[:-1])
    group = np.cumsum(new) - 1
    return k[new], ws[new], np.bincount(group, weights=c[order])


def _pair_counts(names: list[str], a: np.ndarray, b: np.ndarray, o: np.ndarray, w: np.ndarray,
                 c: np.ndarray, fold_case: bool = False) -> PairCounts:
    """Ordered counts in any coding -> PairCounts on the sorted names, as ``aggregate`` builds it.

    Codes whose names are equal (look-alikes folded into one spelling) become one model.
    """
    keep = c > 0
    a, b, o, w, c = a[keep], b[keep], o[keep], w[keep], c[keep]
    used = np.zeros(len(names), bool)
    used[a] = True
    used[b] = True
    used_idx = np.flatnonzero(used)
    models = sorted({names[k] for k in used_idx})
    position = {m: k for k, m in enumerate(models)}
    rank = np.full(len(names), -1, np.int64)
    rank[used_idx] = [position[names[k]] for k in used_idx]
    n = len(models)
    ra, rb = rank[a], rank[b]
    if (ra == rb).any():
        raise InputError("a contestant battles itself once look-alike names are folded together "
                         f"({shorten(models[int(ra[ra == rb][0])])}); expected two different contestants")
    swap = ra > rb
    lo, hi = np.where(swap, rb, ra), np.where(swap, ra, rb)
    o = np.where(swap & (o == A_WINS), B_WINS, np.where(swap & (o == B_WINS), A_WINS, o))
    cells, cell_weight, cell_count = _reduce((lo * n + hi) * 4 + o, w, c)
    pairs, cell_pair = np.unique(cells // 4, return_inverse=True)
    return PairCounts(models=models, i=(pairs // n).astype(np.int64), j=(pairs % n).astype(np.int64),
                      cell_pair=cell_pair.astype(np.int64), cell_outcome=(cells % 4).astype(np.int64),
                      cell_count=cell_count, cell_weight=cell_weight, fold_case=fold_case)


def _add_pair_counts(acc: _Counts, counts: PairCounts) -> None:
    codes = acc.codes(counts.models)
    acc.add(codes[counts.i[counts.cell_pair]], codes[counts.j[counts.cell_pair]],
            counts.cell_outcome.astype(np.int64), counts.cell_count, counts.cell_weight)


def merge_pair_counts(*counts: PairCounts, fold_case: bool | None = None) -> PairCounts:
    """Add up :class:`PairCounts` computed on different battles (model lists may differ).

    The result equals ``aggregate`` of all the battles together, cell for cell. Names are
    folded (look-alikes as one contestant, see :mod:`~arena_stats.data.names`) when
    ``fold_case`` is true, or, by default, when any of the counts was read with ``fold_case``.

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
    fold = any(c.fold_case for c in counts) if fold_case is None else bool(fold_case)
    acc = _Counts()
    for c in counts:
        _add_pair_counts(acc, c)
    out = acc.result(fold)
    steps = tuple(step for c in counts for step in c.steps)
    return replace(out, steps=steps) if steps else out


# ------------------------------------------------------------------------------ columns of a file
@dataclass(frozen=True)
class _Plan:
    """Which columns of a file hold what: the readers' :class:`~arena_stats.data.readers.Spec`
    plus the per-battle weight and battles-per-row columns."""

    spec: Spec
    weight: str | None = None
    count: str | None = None  # battles per row, as ``Battles.counts`` reads a ``count`` column

    @property
    def text_columns(self) -> list[str]:
        return [self.spec.a, self.spec.b] + ([self.spec.outcome] if self.spec.outcome else [])

    @property
    def numeric_columns(self) -> list[str]:
        cols = list(KAGGLE_ONE_HOT) if self.spec.schema == "kaggle" else []
        return cols + [c for c in (self.weight, self.count) if c]

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(self.text_columns + self.numeric_columns))


def _plan(names: Sequence[str], file: str, opts: ReadOptions) -> _Plan:
    """The columns of one file, by the same rules (and errors) as ``load_battles``."""
    spec = resolve_columns(list(names), file, opts.schema, opts.cols, opts.not_counts, None, opts.weight_col)
    weight = opts.weight_col
    if weight is not None and weight not in names:
        raise InputError(f"missing weight column{suggest(weight, names)}", file=file, column=weight)
    # Battles reads columns named "weight" and "count" as weights and battles per row
    weight = weight or ("weight" if "weight" in names else None)
    count = "count" if "count" in names and spec.schema != "aggregated" else None
    return _Plan(spec, weight, count)


class _ReadWhole(Exception):
    """This input is read whole by the code of ``load_battles`` (see the module docstring).

    ``reason`` is set when reading it whole is only a better error message (a file pyarrow cannot
    read): then a file beyond :data:`READ_WHOLE_MAX_BYTES` gets pyarrow's message instead.
    """

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------------------ batch readers
def _parquet_batches(path: str, opts: ReadOptions) -> Iterator[tuple[_Plan, pa.RecordBatch]]:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    plan = _plan(schema.names, path, opts)
    if plan.spec.schema == "aggregated":
        raise _ReadWhole
    text = [c for c in plan.text_columns
            if pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type)]
    reader = pq.ParquetFile(path, read_dictionary=text)
    for batch in reader.iter_batches(batch_size=getattr(opts, "batch_rows", DEFAULT_BATCH_ROWS), columns=plan.columns):
        yield plan, batch


def _open_text(path: str, gz: bool) -> pa.NativeFile:
    return pa.input_stream(path, compression="gzip" if gz else None)


def _csv_batches(path: str, fmt: str, gz: bool, opts: ReadOptions) -> Iterator[tuple[_Plan, pa.RecordBatch]]:
    import pyarrow.csv as pcsv

    delimiter = "," if fmt == "csv" else "\t"
    header = csv_header(path, gz, delimiter)
    if not header:
        raise InputError("no rows (the file is empty)", file=path)
    plan = _plan(header, path, opts)
    if plan.spec.schema == "aggregated":
        raise _ReadWhole
    # names and labels as dictionary-encoded text; numbers as text too, converted per batch by
    # _numbers, so a bad value is reported with its row, as load_battles reports it
    text_type = pa.dictionary(pa.int32(), pa.string())
    types = {c: text_type for c in plan.text_columns}
    types.update({c: pa.string() for c in plan.numeric_columns})
    reader = pcsv.open_csv(
        _open_text(path, gz),
        read_options=pcsv.ReadOptions(block_size=TEXT_BLOCK_BYTES),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(include_columns=plan.columns, column_types=types,
                                            null_values=PANDAS_NA_STRINGS, strings_can_be_null=True))
    for batch in reader:
        yield plan, batch


def _jsonl_batches(path: str, gz: bool, opts: ReadOptions) -> Iterator[tuple[_Plan, pa.RecordBatch]]:
    import pyarrow.json as pjson

    try:
        reader = pjson.open_json(_open_text(path, gz), read_options=pjson.ReadOptions(block_size=TEXT_BLOCK_BYTES))
    except pa.ArrowInvalid as exc:
        # pyarrow cannot type the first block (a column mixing text and lists, or numbers and text):
        # load_battles' reader says what is wrong, or reads it
        raise _ReadWhole(str(exc)) from None
    plan = _plan(reader.schema.names, path, opts)
    if plan.spec.schema == "aggregated":
        raise _ReadWhole
    for batch in reader:
        yield plan, batch.select(plan.columns)


def _batches(path: str, fmt: str, gz: bool, opts: ReadOptions) -> Iterator[tuple[_Plan, pa.RecordBatch]]:
    if fmt == "parquet":
        return _parquet_batches(path, opts)
    if fmt in ("csv", "tsv"):
        return _csv_batches(path, fmt, gz, opts)
    return _jsonl_batches(path, gz, opts)


# ------------------------------------------------------------------------------ one batch
def _dictionary(arr: pa.Array) -> pa.DictionaryArray:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr)


def _indices(d: pa.DictionaryArray) -> np.ndarray:
    """Dictionary indices with nulls as ``len(dictionary)`` (a spare slot of every lookup table)."""
    return d.indices.fill_null(len(d.dictionary)).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def _is_nested(arr: pa.Array) -> bool:
    t = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
    return pa.types.is_nested(t)


def _name_codes(arr: pa.Array, acc: _Counts) -> np.ndarray:
    """Global codes of a name column through the name policy (-1: no name), on the dictionary."""
    if _is_nested(arr):  # JSON lists or objects: not names
        return np.full(len(arr), -1, np.int64)
    d = _dictionary(arr)
    idx = _indices(d)
    values = d.dictionary.to_pylist()
    used = np.bincount(idx, minlength=len(values) + 1)[:-1] > 0
    lut = np.full(len(values) + 1, -1, np.int64)
    for k in np.flatnonzero(used):
        lut[k] = acc.raw_code(values[k])
    return lut[idx]


def _verdict_codes(arr: pa.Array, a: np.ndarray, b: np.ndarray, acc: _Counts, opts: ReadOptions) -> np.ndarray:
    """Verdict codes from labels (-1: unknown); the winner's own name counts, as in ``load_battles``."""
    if _is_nested(arr):
        return np.full(len(arr), -1, np.int64)
    d = _dictionary(arr)
    values = d.dictionary.to_pylist()
    lut = np.array([opts.labels.get(label_key(v), -1) for v in values] + [-1], dtype=np.int64)
    # an unknown label may be a contestant's name: the winner of that row
    return winner_codes(lut, _indices(d), values, acc.names, a, b, opts.fold_case)


def _numbers(batch: pa.RecordBatch, column: str, file: str, row0: int, what: str, skip: np.ndarray) -> np.ndarray:
    arr = batch.column(column)
    try:
        v = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        v = pd.to_numeric(pd.Series(arr.to_pylist(), dtype=object), errors="coerce").to_numpy(np.float64)
    bad = (~np.isfinite(v) | (v < 0)) & ~skip
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(f"{what} {shorten(arr[row].as_py())} is not a non-negative number "
                         f"({int(bad.sum()):,} such rows among the rows read so far)", file=file, row=row0 + row + 1,
                         column=column)
    return v


def _one_hot(arr: pa.Array) -> np.ndarray:
    try:
        return arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pd.to_numeric(pd.Series(arr.to_pylist(), dtype=object), errors="coerce").to_numpy(np.float64)


def _add_batch(batch: pa.RecordBatch, plan: _Plan, acc: _Counts, opts: ReadOptions, file: str, row0: int) -> None:
    spec = plan.spec
    a = _name_codes(batch.column(spec.a), acc)
    b = _name_codes(batch.column(spec.b), acc)
    vals = None
    if spec.schema == "kaggle":
        vals = np.column_stack([_one_hot(batch.column(c)) for c in KAGGLE_ONE_HOT])
        ok = np.isin(vals, (0.0, 1.0)).all(axis=1) & (np.nansum(vals, axis=1) == 1)
        o = np.where(ok, np.argmax(vals, axis=1), -1).astype(np.int64)
    elif spec.schema == "winner-loser":
        o = np.zeros(len(a), np.int64)
    else:
        o = _verdict_codes(batch.column(spec.outcome), a, b, acc, opts)
    masks = invalid_masks(a, b, o, np.array(acc.fold_id + [-1], np.int64) if opts.fold_case else None)
    bad = masks[0] | masks[1] | masks[2]
    if bad.any():
        if not opts.drop_invalid:
            def raw_value(column: str | None, row: int) -> Any:
                if column is None:
                    return ", ".join(str(batch.column(c)[row].as_py()) for c in KAGGLE_ONE_HOT)
                return batch.column(column)[row].as_py()
            raise_first_invalid(file, row0, masks, a, b, (spec.a, spec.b, None if vals is not None else spec.outcome),
                                raw_value, acc.names.__getitem__, in_batch=True)
        for kind, mask in zip(INVALID_KINDS, masks):
            acc.invalid.add(kind, file, row0 + np.flatnonzero(mask) + 1)
    weight = _numbers(batch, plan.weight, file, row0, "weight", bad) if plan.weight else None
    count = _numbers(batch, plan.count, file, row0, "count", bad) if plan.count else None
    if bad.any():
        keep = ~bad
        a, b, o = a[keep], b[keep], o[keep]
        weight = None if weight is None else weight[keep]
        count = None if count is None else count[keep]
    acc.rows += len(a)
    acc.add(a, b, o, count, weight)


# ------------------------------------------------------------------------------ one input
def _read_whole(item: Any, acc: _Counts, opts: ReadOptions) -> None:
    """An input the batch readers do not take, read by ``load_battles``' code and merged in."""
    frame, _, _ = read_inputs([item], opts, acc.log, acc.invalid)
    if frame is None or len(frame) == 0:
        return
    acc.rows += len(frame)
    _add_pair_counts(acc, aggregate(Battles(frame=frame)))


def _stream_file(path: str, acc: _Counts, opts: ReadOptions) -> None:
    fmt, gz = format_of(path) if opts.format is None else (opts.format, path.lower().endswith(".gz"))
    if fmt not in _STREAMABLE or (fmt == "parquet" and gz):
        # JSON arrays and gzip-compressed Parquet have no batch reader: load whole, then merge
        _read_whole(path, acc, opts)
        return
    check_text_file(path, gz)
    row0 = 0
    try:
        for plan, batch in _batches(path, fmt, gz, opts):
            _add_batch(batch, plan, acc, opts, path, row0)
            row0 += batch.num_rows
    except _ReadWhole as whole:
        if whole.reason is not None and os.path.getsize(path) > READ_WHOLE_MAX_BYTES:
            raise InputError(f"could not read as {fmt}: {shorten(whole.reason.strip(), 200)[1:-1]}",
                             file=path) from None
        _read_whole(path, acc, opts)
        return
    except InputError:
        raise
    except (OSError, EOFError, UnicodeDecodeError, ValueError, pa.ArrowException) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"could not read as {fmt}{' (gzip)' if gz else ''} after {row0:,} rows: "
                         f"{shorten(msg, 200)[1:-1]}", file=path) from None
    if row0 == 0:
        raise InputError("no rows", file=path)


def _stream_frame(frame: pd.DataFrame, acc: _Counts, opts: ReadOptions) -> None:
    """A DataFrame through the same batch code, via a (mostly zero-copy) Arrow table."""
    name = "<DataFrame>"
    if len(frame) == 0:
        raise InputError("no rows", file=name)
    plan = _plan([str(c) for c in frame.columns], name, opts)
    if plan.spec.schema == "aggregated" or len(set(map(str, frame.columns))) != len(frame.columns):
        _read_whole(frame, acc, opts)
        return
    try:
        table = pa.Table.from_pandas(frame.reset_index(drop=True)[plan.columns], preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        # mixed-type object columns have no Arrow type: take the pandas route
        _read_whole(frame, acc, opts)
        return
    row0 = 0
    for batch in table.to_batches(max_chunksize=getattr(opts, "batch_rows", DEFAULT_BATCH_ROWS)):
        _add_batch(batch, plan, acc, opts, name, row0)
        row0 += batch.num_rows


@dataclass
class _StreamOptions(ReadOptions):
    batch_rows: int = DEFAULT_BATCH_ROWS


def stream_options(*, batch_rows: int = DEFAULT_BATCH_ROWS, **read_options: Any) -> _StreamOptions:
    """The options of :func:`stream_pair_counts`, checked (for callers that stream themselves)."""
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, (int, np.integer)) or int(batch_rows) < 1:
        raise InputError(f"batch_rows must be a whole number >= 1, got {shorten(batch_rows)}")
    try:
        base = ReadOptions.make(**read_options)
    except TypeError as exc:  # an unknown keyword: say which, as a bad call would
        raise TypeError(f"stream_pair_counts() {exc}".replace("make() ", "")) from None
    return _StreamOptions(**base.__dict__, batch_rows=int(batch_rows))


def stream_pair_counts(source: Any, *more: Any, schema: str = "auto", model_a_col: str | None = None,
                       model_b_col: str | None = None, outcome_col: str | None = None,
                       winner_col: str | None = None, loser_col: str | None = None,
                       wins_a_col: str | None = None, wins_b_col: str | None = None,
                       ties_col: str | None = None, bothbad_col: str | None = None,
                       weight_col: str | None = None, outcome_map: Mapping[Any, str] | None = None,
                       format: str | None = None, batch_rows: int = DEFAULT_BATCH_ROWS,
                       progress: bool = False, drop_invalid: bool = False, fold_case: bool = False,
                       not_counts: Sequence[str] = ()) -> PairCounts:
    """Reduce battle files of any size to :class:`PairCounts`, one batch at a time.

    Equal, cell for cell, to ``aggregate(load_battles(source, *more, **options))``, with the same
    options, the same validation and the same name policy, but memory is bounded by
    ``batch_rows`` instead of the size of the input.

    Parameters
    ----------
    source, *more : path, directory, list of them, DataFrame, Battles or PairCounts
        Parquet, CSV/TSV and JSON Lines files (optionally ``.gz``; Parquet uncompressed by gzip)
        are streamed; directories are expanded by :func:`~arena_stats.data.readers.input_files`
        (recursively; names starting with ``.`` or ``_`` are skipped). DataFrames go through the
        same batch code via Arrow (the fast way to reduce an in-memory frame); JSON arrays,
        ``.parquet.gz`` files and aggregated count files are loaded whole.
    schema, model_a_col, model_b_col, outcome_col, winner_col, loser_col : optional
        As in :func:`~arena_stats.data.readers.load_battles`.
    wins_a_col, wins_b_col, ties_col, bothbad_col, weight_col, outcome_map, format : optional
        As in :func:`~arena_stats.data.readers.load_battles`.
    drop_invalid, fold_case, not_counts : optional
        As in :func:`~arena_stats.data.readers.load_battles`. With ``drop_invalid`` the
        ``drop-invalid`` step is in the result's ``steps``.
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

    Warns
    -----
    NameMergeWarning, LookalikeNameWarning
        As ``load_battles``.

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
    opts = stream_options(schema=schema, model_a_col=model_a_col, model_b_col=model_b_col,
                          outcome_col=outcome_col, winner_col=winner_col, loser_col=loser_col,
                          wins_a_col=wins_a_col, wins_b_col=wins_b_col, ties_col=ties_col,
                          bothbad_col=bothbad_col, weight_col=weight_col, outcome_map=outcome_map,
                          format=format, batch_rows=batch_rows, drop_invalid=drop_invalid, fold_case=fold_case,
                          not_counts=not_counts)
    acc, result = reduce_sources(source, more, opts, progress)
    acc.log.warn(stacklevel=3)
    if fold_case:
        folded = fold_map(acc._used_names())
        if folded:
            warn_lookalikes(folded, folded=folded, stacklevel=3)
    else:
        warn_lookalikes(result.models, stacklevel=3)
    return result


def reduce_sources(source: Any, more: Sequence[Any], opts: _StreamOptions, progress: bool = False
            ) -> tuple[_Counts, PairCounts]:
    """The reduction, without warnings: the accumulator (names log, invalid rows) and the counts."""
    items = input_files(source, *more)
    acc = _Counts()
    carried: list[FilterStep] = []
    with progress_bar(len(items), "reading", enabled=progress) as bar:
        for item in items:
            if isinstance(item, PairCounts):
                _add_pair_counts(acc, item)
                carried.extend(item.steps)
            elif isinstance(item, Battles):
                _add_pair_counts(acc, aggregate(item))
                carried.extend(item.steps)
            elif isinstance(item, pd.DataFrame):
                _stream_frame(item, acc, opts)
            elif isinstance(item, str):
                _stream_file(item, acc, opts)
            else:
                raise InputError(f"cannot read battles from a {type(item).__name__}; expected a path, "
                                 "directory, DataFrame, Battles or PairCounts")
            bar.update()
    result = acc.result(opts.fold_case)
    if result.n_pairs == 0:
        note = f" ({acc.invalid.step(0)})" if acc.invalid.total else ""
        raise InputError(f"no battles in the input{note}")
    steps = tuple(carried) + ((acc.invalid.step(acc.rows),) if opts.drop_invalid else ())
    return acc, replace(result, steps=steps) if steps else result
