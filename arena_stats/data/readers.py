"""Reading battles: files of every supported format, schema detection, names and verdict labels.

This is the one place where raw input is checked. Every reader (:func:`load_battles`, the
streaming reducer in :mod:`~arena_stats.data.stream`, the predictor's data loader) resolves
schemas, names and verdict labels with the rules defined here, so one file gives one answer on
every path.

* Contestant names are stored as one pandas ``Categorical`` per side sharing a single category
  list (the models, sorted), so the integer codes index every per-model array downstream and a
  10-million-row log costs a few bytes per battle.
* Unknown verdict labels are an error, never a tie: silently turning typos into ties would bias
  every rating towards the middle.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, suggest
from .battles import A_WINS, B_WINS, BOTHBAD, OUTCOME_NAMES, TIE, Battles, _drop_unused_models

__all__ = ["SCHEMAS", "KAGGLE_ONE_HOT", "AGGREGATED_COLUMNS", "load_battles", "read_table", "detect_schema",
           "as_battles"]

#: Schemas understood by :func:`load_battles`.
SCHEMAS = ("auto", "arena", "kaggle", "generic", "winner-loser", "aggregated")

KAGGLE_ONE_HOT = ("winner_model_a", "winner_model_b", "winner_tie")
AGGREGATED_COLUMNS = ("wins_a", "wins_b")
# every column name a schema may read by default (kept when ``keep=`` prunes the others)
_SCHEMA_COLUMNS = ("model_a", "model_b", "winner", "left", "right", "loser", "winner_name", "loser_name",
                   "ties", "ties_bothbad", *KAGGLE_ONE_HOT, *AGGREGATED_COLUMNS)

# Text spellings of each verdict accepted in the generic schema (compared lower-cased, stripped).
_LABELS: dict[str, int] = {}
for _code, _words in {
    A_WINS: ("model_a", "a", "left", "first", "1", "1.0", "win", "a_wins", "winner_model_a"),
    B_WINS: ("model_b", "b", "right", "second", "0", "0.0", "loss", "b_wins", "winner_model_b"),
    TIE: ("tie", "draw", "0.5", ".5", "winner_tie"),
    BOTHBAD: ("tie (bothbad)", "bothbad", "both_bad", "both bad", "tie (both bad)", "tie_bothbad"),
}.items():
    for _w in _words:
        _LABELS[_w] = _code

_FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".jsonl": "jsonl",
    ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet",
}


# ------------------------------------------------------------------------------------ reading
def _format_of(path: str) -> tuple[str, bool]:
    name = os.path.basename(path).lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    ext = os.path.splitext(name)[1]
    if ext not in _FORMATS:
        raise InputError(f"unknown file type {ext or '(none)'!r}; expected one of "
                         f"{', '.join(sorted(_FORMATS))} (optionally .gz)", file=path)
    return _FORMATS[ext], gz


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
        When the file is missing, unreadable, truncated or not of the stated format.
    """
    path = os.fspath(path)
    fmt, gz = _format_of(path) if format is None else (format, path.lower().endswith(".gz"))
    if not os.path.exists(path):
        raise InputError("no such file", file=path)
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
        opener = gzip.open if gz else open
        if fmt in ("csv", "tsv"):
            with opener(path, "rt", encoding="utf-8", newline="") as fh:
                wanted = None if columns is None else set(columns)
                return pd.read_csv(fh, sep="," if fmt == "csv" else "\t", low_memory=False,
                                   usecols=None if wanted is None else (lambda c: c in wanted))
        if fmt == "json":
            with opener(path, "rt", encoding="utf-8") as fh:
                text = fh.read()
            if text.lstrip()[:1] != "[":
                return _read_jsonl_text(text, path)
            try:
                records = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid or truncated JSON at line {exc.lineno}, column {exc.colno}: "
                                 f"{exc.msg}; expected an array of records", file=path) from None
            if not isinstance(records, list) or (records and not isinstance(records[0], dict)):
                raise InputError("expected a JSON array of records (objects)", file=path)
            return pd.DataFrame.from_records(records)
        if fmt == "jsonl":
            with opener(path, "rt", encoding="utf-8") as fh:
                return _read_jsonl_text(fh.read(), path)
    except InputError:
        raise
    except (EOFError, gzip.BadGzipFile, OSError, UnicodeDecodeError, ValueError,
            pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, EOFError):
            msg = "the compressed file ends early (truncated?)"
        raise InputError(f"could not read as {fmt}{' (gzip)' if gz else ''}: {msg}", file=path) from None
    except Exception as exc:  # pyarrow raises its own error types
        raise InputError(f"could not read as {fmt}: {exc}", file=path) from None
    raise InputError(f"unsupported format {fmt!r}", file=path)


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
            raise InputError(f"line {lineno} is not a JSON object", file=path)
        records.append(rec)
    return pd.DataFrame.from_records(records)


# ------------------------------------------------------------------------- schema + validation
def _require(frame: pd.DataFrame, cols: Sequence[str], file: str, schema: str) -> None:
    for c in cols:
        if c not in frame.columns:
            raise InputError(f"missing column {c!r} needed by the {schema} schema"
                             f"{suggest(c, frame.columns)}; columns present: {', '.join(map(str, frame.columns[:20]))}",
                             file=file, column=c)


def detect_schema(columns: Iterable[str]) -> str:
    """Guess the schema from column names (see :data:`SCHEMAS`)."""
    cols = set(columns)
    if set(KAGGLE_ONE_HOT) <= cols:
        return "kaggle"
    if {"model_a", "model_b", "winner"} <= cols:
        return "arena"
    if {"model_a", "model_b"} <= cols and set(AGGREGATED_COLUMNS) <= cols:
        return "aggregated"
    if {"left", "right", "winner"} <= cols:
        return "generic"
    if {"winner_name", "loser_name"} <= cols or {"winner", "loser"} <= cols:
        return "winner-loser"
    raise InputError(
        "could not recognise the schema from the columns "
        f"({', '.join(sorted(map(str, cols))[:20])}); expected a Chatbot Arena log "
        "(model_a, model_b, winner), the Kaggle LMSYS schema (model_a, model_b, winner_model_a, "
        "winner_model_b, winner_tie), aggregated counts (model_a, model_b, wins_a, wins_b[, ties]) "
        "or name the columns yourself (model_a_col=, model_b_col=, outcome_col=)")


def _names(series: pd.Series, file: str, column: str) -> pd.Categorical:
    """Contestant names as a Categorical of stripped strings; blank or missing names are errors.

    Works on the distinct values only (a factorize, or the dictionary of a Parquet column), so a
    10-million-row column costs one hash pass.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        uniques = series.cat.categories
    else:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    stripped = np.asarray(pd.Index(uniques).astype(str).str.strip(), dtype=object)
    blank = stripped == ""
    if blank.any() or (len(codes) and codes.min() < 0):
        bad = np.append(blank, True)[np.where(codes < 0, len(stripped), codes)]
        row = int(np.flatnonzero(bad)[0]) + 1
        raise InputError(f"missing or blank contestant name ({int(bad.sum())} such rows; "
                         "expected a model name)", file=file, row=row, column=column)
    cats, inverse = np.unique(stripped.astype(str), return_inverse=True)
    if len(cats) == len(stripped) and np.array_equal(inverse, np.arange(len(inverse))):
        return pd.Categorical.from_codes(codes, categories=pd.Index(cats))  # already clean and sorted
    # re-code through a lookup table of the codes' own (small) integer type: one gather, and
    # no copies to widen the codes and narrow them again (0.2 -> 0.03 s for 10M rows)
    small = np.int16 if len(cats) < np.iinfo(np.int16).max else np.int32
    lut = inverse.astype(np.promote_types(small, codes.dtype) if codes.dtype.kind == "i" else np.int32)
    return pd.Categorical.from_codes(lut[codes], categories=pd.Index(cats))


def _unify(*cats: pd.Categorical) -> tuple[list[np.ndarray], pd.Index]:
    """Re-code several Categoricals against the sorted union of their categories."""
    union = pd.Index(np.unique(np.concatenate([np.asarray(c.categories, dtype=str) for c in cats])))
    codes = []
    for c in cats:
        if len(c.categories) == len(union) and c.categories.equals(union):
            codes.append(np.asarray(c.codes))
            continue
        lut = union.get_indexer(c.categories).astype(np.int32)
        codes.append(lut[np.asarray(c.codes)])
    return codes, union


def _parse_outcomes(raw: pd.Series, a_names: pd.Categorical, b_names: pd.Categorical, file: str, column: str,
                    outcome_map: Mapping[Any, str] | None) -> np.ndarray:
    """Map outcome labels to codes; the winner's own name is accepted as a label too."""
    table = dict(_LABELS)
    if outcome_map:
        for k, v in outcome_map.items():
            key = str(k).strip().lower()
            vv = str(v).strip().lower()
            if vv not in _LABELS:
                raise InputError(f"outcome_map sends {k!r} to {v!r}, which is not one of "
                                 f"{', '.join(OUTCOME_NAMES)}")
            table[key] = _LABELS[vv]
    codes_raw, uniques = pd.factorize(raw, use_na_sentinel=True)
    keys = []
    for u in uniques:
        if isinstance(u, (float, np.floating)) and float(u).is_integer():
            keys.append(str(int(u)) if str(int(u)) in table else str(u).strip().lower())
        else:
            keys.append(str(u).strip().lower())
    lut = np.array([table.get(k, -1) for k in keys] + [-1], dtype=np.int8)
    codes = lut[codes_raw]  # na sentinel -1 picks the trailing -1
    unknown = codes < 0
    if unknown.any():
        # the winning contestant's name is a valid label
        idx = np.flatnonzero(unknown)
        rv = raw.iloc[idx].astype(str).str.strip().to_numpy()
        is_a = rv == np.asarray(a_names[idx], dtype=str)
        is_b = rv == np.asarray(b_names[idx], dtype=str)
        codes[idx[is_a]] = A_WINS
        codes[idx[is_b & ~is_a]] = B_WINS
        unknown = codes < 0
    if unknown.any():
        idx = np.flatnonzero(unknown)
        first = int(idx[0])
        labels = pd.unique(raw.iloc[idx].astype(str))[:5]
        raise InputError(
            f"unknown outcome label {raw.iloc[first]!r} ({len(idx)} rows with unknown labels, e.g. "
            f"{', '.join(map(repr, labels))}); expected model_a / model_b / tie / tie (bothbad), "
            "a / b / tie, left / right / tie, 1 / 0 / 0.5, or the winning contestant's name "
            "(pass outcome_map= to map other labels)", file=file, row=first + 1, column=column)
    return codes.astype(np.int8)


def _normalise(frame: pd.DataFrame, file: str, schema: str, cols: dict[str, str | None],
               outcome_map: Mapping[Any, str] | None) -> tuple[pd.DataFrame, str]:
    """Turn one input frame of any schema into the canonical columns (names still strings)."""
    if schema == "auto":
        if cols.get("model_a") and cols.get("model_b") and cols.get("outcome"):
            schema = "generic"
        elif cols.get("winner") and cols.get("loser"):
            schema = "winner-loser"
        else:
            schema = detect_schema(frame.columns)
    if schema not in SCHEMAS:
        raise InputError(f"unknown schema {schema!r}; expected one of {', '.join(SCHEMAS)}")
    ca = cols.get("model_a") or ("left" if schema == "generic" and "left" in frame and "model_a" not in frame
                                 else "model_a")
    cb = cols.get("model_b") or ("right" if schema == "generic" and "right" in frame and "model_b" not in frame
                                 else "model_b")
    if schema == "kaggle":
        _require(frame, [ca, cb, *KAGGLE_ONE_HOT], file, schema)
        hot = frame[list(KAGGLE_ONE_HOT)]
        vals = np.column_stack([pd.to_numeric(hot[c], errors="coerce").to_numpy(dtype=np.float64)
                                for c in KAGGLE_ONE_HOT])
        ok = np.isin(vals, (0.0, 1.0)).all(axis=1) & (np.nansum(vals, axis=1) == 1)
        if not ok.all():
            row = int(np.flatnonzero(~ok)[0])
            raise InputError(f"the outcome is not one-hot: winner_model_a, winner_model_b, winner_tie = "
                             f"{', '.join(map(str, hot.iloc[row].tolist()))}; expected exactly one 1 and two 0s "
                             f"({int((~ok).sum())} such rows)", file=file, row=row + 1, column="winner_model_a")
        outcome = np.argmax(vals, axis=1).astype(np.int8)  # column order = A_WINS, B_WINS, TIE
        used = [ca, cb, *KAGGLE_ONE_HOT]
    elif schema == "winner-loser":
        cw = cols.get("winner") or ("winner_name" if "winner_name" in frame else "winner")
        cl = cols.get("loser") or ("loser_name" if "loser_name" in frame else "loser")
        _require(frame, [cw, cl], file, schema)
        ca, cb = cw, cl
        outcome = np.zeros(len(frame), np.int8)
        used = [cw, cl]
    elif schema == "aggregated":
        cwa = cols.get("wins_a") or "wins_a"
        cwb = cols.get("wins_b") or "wins_b"
        ct = cols.get("ties") or ("ties" if "ties" in frame else None)
        cbb = cols.get("bothbad") or ("ties_bothbad" if "ties_bothbad" in frame else None)
        _require(frame, [ca, cb, cwa, cwb] + [c for c in (ct, cbb) if c], file, schema)
        parts = [(cwa, A_WINS), (cwb, B_WINS)] + ([(ct, TIE)] if ct else []) + ([(cbb, BOTHBAD)] if cbb else [])
        for c, _ in parts:
            v = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
            bad = ~np.isfinite(v) | (v < 0)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise InputError(f"count {frame[c].iloc[row]!r} is not a non-negative number", file=file,
                                 row=row + 1, column=c)
        names_a = _names(frame[ca], file, ca)
        names_b = _names(frame[cb], file, cb)
        _check_self(names_a, names_b, file, ca)
        pieces = []
        rest = frame.drop(columns=[ca, cb] + [c for c, _ in parts])
        for c, code in parts:
            piece = rest.copy()
            piece.insert(0, "model_a", names_a)
            piece.insert(1, "model_b", names_b)
            piece.insert(2, "outcome", np.int8(code))
            piece.insert(3, "count", pd.to_numeric(frame[c]).to_numpy(dtype=np.float64))
            pieces.append(piece)
        out = pd.concat(pieces, ignore_index=True)
        out = out[out["count"] > 0].reset_index(drop=True)
        return out, schema
    else:  # arena / generic
        co = cols.get("outcome") or "winner"
        _require(frame, [ca, cb, co], file, schema)
        used = [ca, cb, co]
    names_a = _names(frame[ca], file, ca)
    names_b = _names(frame[cb], file, cb)
    _check_self(names_a, names_b, file, ca)
    if schema in ("arena", "generic"):
        outcome = _parse_outcomes(frame[co], names_a, names_b, file, co, outcome_map)
    out = frame.drop(columns=[c for c in used if c in frame.columns])
    out.insert(0, "model_a", names_a)
    out.insert(1, "model_b", names_b)
    out.insert(2, "outcome", outcome)
    return out, schema


def _check_self(names_a: pd.Categorical, names_b: pd.Categorical, file: str, column: str) -> None:
    (ca, cb), union = _unify(names_a, names_b)
    same = ca == cb
    if same.any():
        row = int(np.flatnonzero(same)[0])
        raise InputError(f"contestant {str(union[ca[row]])!r} battles itself ({int(same.sum())} such rows; "
                         "expected two different contestants)", file=file, row=row + 1, column=column)


def _categorical_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Encode both name columns against one shared, sorted category list."""
    cats = [c if isinstance(c, pd.Categorical) else _names(pd.Series(c), "<input>", "model")
            for c in (frame["model_a"].array, frame["model_b"].array)]
    cats = [pd.Categorical(c) if not isinstance(c, pd.Categorical) else c for c in cats]
    (ca, cb), union = _unify(*cats)
    frame = frame.copy()
    frame["model_a"] = pd.Categorical.from_codes(ca, categories=union)
    frame["model_b"] = pd.Categorical.from_codes(cb, categories=union)
    return frame


def load_battles(source: Any, *more: Any, schema: str = "auto", model_a_col: str | None = None,
                 model_b_col: str | None = None, outcome_col: str | None = None,
                 winner_col: str | None = None, loser_col: str | None = None,
                 wins_a_col: str | None = None, wins_b_col: str | None = None,
                 ties_col: str | None = None, bothbad_col: str | None = None,
                 weight_col: str | None = None, outcome_map: Mapping[Any, str] | None = None,
                 format: str | None = None, keep: Iterable[str] | None = None) -> Battles:
    """Read battles from files or a DataFrame, detect the schema and validate every row.

    Parameters
    ----------
    source, *more : path, list of paths, pandas.DataFrame or Battles
        One or more inputs; all are read with the same options and concatenated.
        Files may be CSV, TSV, JSON (array of records), JSON Lines or Parquet, each optionally
        gzip-compressed (``.csv.gz`` ...).
    schema : {"auto", "arena", "kaggle", "generic", "winner-loser", "aggregated"}
        ``arena``: FastChat's ``model_a, model_b, winner``. ``kaggle``: the LMSYS competition's
        one-hot ``winner_model_a, winner_model_b, winner_tie``. ``generic``: name the columns with
        ``model_a_col``, ``model_b_col``, ``outcome_col``. ``winner-loser``: one row per decisive
        game (``winner_col``, ``loser_col``). ``aggregated``: one row per pair with ``wins_a``,
        ``wins_b`` and optional ``ties`` / ``ties_bothbad`` counts. ``auto`` picks from the columns.
    model_a_col, model_b_col, outcome_col, winner_col, loser_col, wins_a_col, wins_b_col, ties_col, bothbad_col : str, optional
        Column names, when they differ from the schema's defaults.
    weight_col : str, optional
        A column of non-negative per-battle weights.
    outcome_map : mapping, optional
        Extra outcome labels, e.g. ``{"-1": "model_b", "home": "model_a"}``.
    format : str, optional
        Force the file format instead of using the extension.
    keep : iterable of str, optional
        Other columns to keep (e.g. ``["tstamp", "judge"]``). ``None`` keeps every column; a
        list lets CSV and Parquet readers skip the rest, which is much faster on large files.

    Returns
    -------
    Battles

    Raises
    ------
    InputError
        With the file, row and column of the first problem: unknown outcome labels, a contestant
        battling itself, blank names, rows that are not one-hot, unreadable files, missing columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats import load_battles
    >>> df = pd.DataFrame({"left": ["x", "y"], "right": ["y", "x"], "winner": ["left", "tie"]})
    >>> load_battles(df).winner_labels().tolist()
    ['model_a', 'tie']
    """
    inputs: list[Any] = []
    for s in (source, *more):
        if isinstance(s, (list, tuple)):
            inputs.extend(s)
        else:
            inputs.append(s)
    if not inputs:
        raise InputError("no input given")
    cols = {"model_a": model_a_col, "model_b": model_b_col, "outcome": outcome_col,
            "winner": winner_col, "loser": loser_col, "wins_a": wins_a_col, "wins_b": wins_b_col,
            "ties": ties_col, "bothbad": bothbad_col}
    frames, sources, schemas = [], [], []
    for item in inputs:
        if isinstance(item, Battles):
            frames.append(item.to_frame().assign(winner=None).drop(columns="winner")
                          .assign(outcome=item.outcome))
            sources.extend(item.sources)
            schemas.append(item.schema)
            continue
        if isinstance(item, pd.DataFrame):
            raw, name = item.reset_index(drop=True), "<DataFrame>"
        elif isinstance(item, (str, os.PathLike)):
            name = os.fspath(item)
            if os.path.isdir(name):
                files = sorted(os.path.join(name, f) for f in os.listdir(name)
                               if not f.startswith(".") and os.path.isfile(os.path.join(name, f)))
                if not files:
                    raise InputError("directory holds no files", file=name)
                sub = load_battles(files, schema=schema, model_a_col=model_a_col, model_b_col=model_b_col,
                                   outcome_col=outcome_col, winner_col=winner_col, loser_col=loser_col,
                                   wins_a_col=wins_a_col, wins_b_col=wins_b_col, ties_col=ties_col,
                                   bothbad_col=bothbad_col, weight_col=weight_col, outcome_map=outcome_map,
                                   format=format, keep=keep)
                frames.append(sub.to_frame().drop(columns="winner").assign(outcome=sub.outcome))
                sources.extend(sub.sources)
                schemas.append(sub.schema)
                continue
            wanted = None
            if keep is not None:
                wanted = set(keep) | set(_SCHEMA_COLUMNS) | {c for c in cols.values() if c}
                if weight_col:
                    wanted.add(weight_col)
            raw = read_table(name, format=format, columns=wanted)
        else:
            raise InputError(f"cannot read battles from a {type(item).__name__}; expected a path or DataFrame")
        if len(raw) == 0:
            raise InputError("no rows", file=name)
        norm, used_schema = _normalise(raw, name, schema, cols, outcome_map)
        if weight_col is not None:
            if weight_col not in norm:
                raise InputError(f"missing weight column{suggest(weight_col, norm.columns)}",
                                 file=name, column=weight_col)
            w = pd.to_numeric(norm[weight_col], errors="coerce").to_numpy(dtype=np.float64)
            bad = ~np.isfinite(w) | (w < 0)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise InputError(f"weight {norm[weight_col].iloc[row]!r} is not a non-negative number",
                                 file=name, row=row + 1, column=weight_col)
            norm = norm.drop(columns=weight_col).assign(weight=w)
        frames.append(norm)
        sources.append(name)
        schemas.append(used_schema)
    if len(frames) > 1:
        # share one category list before concatenating so the names stay categorical
        cats = [f[col].array if isinstance(f[col].dtype, pd.CategoricalDtype)
                else _names(f[col], "<input>", col) for f in frames for col in ("model_a", "model_b")]
        codes, union = _unify(*cats)
        for k, f in enumerate(frames):
            frames[k] = f.assign(model_a=pd.Categorical.from_codes(codes[2 * k], categories=union),
                                 model_b=pd.Categorical.from_codes(codes[2 * k + 1], categories=union))
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if len(frame) == 0:
        raise InputError("no battles in the input")
    frame = _categorical_frame(frame.reset_index(drop=True))
    if "count" in frame:
        # zero-count aggregated rows are not battles: a name seen only there must not become a model
        frame = _drop_unused_models(frame)
    frame["outcome"] = frame["outcome"].astype(np.int8)
    schema_name = schemas[0] if len(set(schemas)) == 1 else "mixed"
    return Battles(frame=frame, steps=(), sources=tuple(sources), schema=schema_name)


def as_battles(data: Any, **kwargs: Any) -> Battles:
    """Return ``data`` if it already is :class:`Battles`, else :func:`load_battles` of it."""
    return data if isinstance(data, Battles) else load_battles(data, **kwargs)
