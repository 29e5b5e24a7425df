"""Options and helpers shared by the subcommands: input, filters, output formats."""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._util.io import atomic_write, check_output_path
from ..data.aggregate import PairCounts
from ..data.battles import Battles, check_min_battles, filter_battles, parse_date
from ..data.readers import SCHEMAS, load_battles
from ..errors import InputError, shorten

__all__ = ["add_input_args", "add_filter_args", "add_output_args", "load_from_args", "emit_table",
           "render_table", "parse_key_values", "read_options", "check_filter_args", "say"]

FORMATS = ("table", "markdown", "csv", "json")


def say(args: argparse.Namespace, message: str) -> None:
    """A status line on stderr, unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def add_input_args(parser: argparse.ArgumentParser, example: bool = True) -> None:
    g = parser.add_argument_group("input")
    g.add_argument("files", nargs="*", metavar="FILE",
                   help="battle files: CSV, TSV, JSON, JSON Lines or Parquet, optionally .gz; "
                        "several files or directories are read together (directories recursively, "
                        "skipping names that start with . or _)")
    if example:
        g.add_argument("--example", action="store_true",
                       help="use the bundled simulated arena (50 models, 100k battles, about 27%% ties) "
                            "instead of files")
    g.add_argument("--schema", choices=SCHEMAS, default="auto",
                   help="input schema (default: detect from the column names)")
    g.add_argument("--model-a-col", help="column holding contestant A (generic schema)")
    g.add_argument("--model-b-col", help="column holding contestant B (generic schema)")
    g.add_argument("--outcome-col", help="column holding the verdict (generic schema): model_a/model_b/"
                   "tie/tie (bothbad), a/b/tie, left/right/tie, 1/0/0.5, or the winner's name")
    g.add_argument("--winner-col", help="winner column (winner-loser schema)")
    g.add_argument("--loser-col", help="loser column (winner-loser schema)")
    g.add_argument("--wins-a-col", metavar="COL", help="count of A's wins (aggregated schema; default: wins_a, "
                   "a_wins, ...)")
    g.add_argument("--wins-b-col", metavar="COL", help="count of B's wins (aggregated schema; default: wins_b, "
                   "b_wins, ...)")
    g.add_argument("--ties-col", metavar="COL", help="count of ties (aggregated schema; default: ties, draws, ...)")
    g.add_argument("--bothbad-col", metavar="COL", help="count of both-bad ties (aggregated schema; default: "
                   "bothbad, both_bad, ties_bothbad, tie (bothbad), ...)")
    g.add_argument("--not-count", action="append", default=[], metavar="COL",
                   help="a numeric column of an aggregated file that is not a count (any other unread "
                        "numeric column is an error); repeatable")
    g.add_argument("--weight-col", help="column of per-battle weights")
    g.add_argument("--outcome-map", action="append", default=[], metavar="LABEL=VERDICT",
                   help="map another outcome label to model_a/model_b/tie/tie (bothbad); repeatable")
    g.add_argument("--drop-invalid", action="store_true",
                   help="drop rows with a missing or blank name, a self-battle or an unknown verdict, and "
                        "report how many of each (default: such a row is an error)")
    g.add_argument("--fold-case", action="store_true",
                   help="read names that differ only by letter case or invisible characters as one "
                        "contestant (default: kept apart, with a warning)")


def add_filter_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("filters (each reports on stderr how many rows it removed)")
    g.add_argument("--anonymous-only", action="store_true",
                   help="keep only battles marked anony (when an 'anony' column exists)")
    g.add_argument("--exclude", action="append", default=[], metavar="MODEL",
                   help="drop battles involving MODEL; repeatable")
    g.add_argument("--min-battles", default=0, metavar="N",
                   help="drop models with fewer than N battles (a whole number >= 0)")
    g.add_argument("--since", metavar="DATE", help="keep battles with tstamp on or after DATE")
    g.add_argument("--until", metavar="DATE", help="keep battles with tstamp before DATE")
    g.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                   help="keep rows whose COLUMN equals VALUE; repeatable")
    g.add_argument("--drop-ties", action="store_true", help="drop ties (both kinds)")
    g.add_argument("--drop-duplicates", action="store_true", help="drop exact duplicate rows")


def add_output_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("output")
    g.add_argument("--format", choices=FORMATS, default="table",
                   help="table (aligned text), markdown, csv or json (records)")
    g.add_argument("--output", "-o", metavar="FILE", help="write here (atomically) instead of stdout")
    g.add_argument("--quiet", "-q", action="store_true", help="no progress bar or status lines")


def parse_key_values(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"{what} {shorten(item)} must look like KEY=VALUE")
        k, v = item.split("=", 1)
        if not k.strip():
            raise InputError(f"{what} {shorten(item)} must look like KEY=VALUE (KEY is empty)")
        out[k.strip()] = v.strip()
    return out


def read_options(args: argparse.Namespace) -> dict[str, Any]:
    """The reader keywords (``load_battles`` and ``stream_pair_counts`` alike) of the input options."""
    return dict(schema=args.schema, model_a_col=args.model_a_col, model_b_col=args.model_b_col,
                outcome_col=args.outcome_col, winner_col=args.winner_col, loser_col=args.loser_col,
                wins_a_col=getattr(args, "wins_a_col", None), wins_b_col=getattr(args, "wins_b_col", None),
                ties_col=getattr(args, "ties_col", None), bothbad_col=getattr(args, "bothbad_col", None),
                weight_col=args.weight_col,
                outcome_map=parse_key_values(args.outcome_map, "--outcome-map") or None,
                drop_invalid=getattr(args, "drop_invalid", False), fold_case=getattr(args, "fold_case", False),
                not_counts=tuple(getattr(args, "not_count", []) or ()))


def check_filter_args(args: argparse.Namespace) -> None:
    """Validate the filter options before any file is read (one-line errors, exit 2)."""
    if not hasattr(args, "anonymous_only"):
        return
    raw = args.min_battles
    try:
        value = float(raw) if isinstance(raw, str) else raw
        args.min_battles = check_min_battles(value)
    except (ValueError, InputError):
        raise InputError(f"--min-battles must be a whole number >= 0, got {shorten(raw)}") from None
    parse_date(args.since, "--since")
    parse_date(args.until, "--until")


def load_from_args(args: argparse.Namespace) -> Battles:
    """Load (or simulate, with ``--example``) and filter battles; report filters on stderr.

    The options are checked, and the output path too, before anything is read: a typo fails at
    once, not after minutes of work.
    """
    check_filter_args(args)
    if getattr(args, "output", None):
        check_output_path(args.output)
    if getattr(args, "example", False):
        if args.files:
            raise InputError("give either FILE... or --example, not both")
        from ..data.simulate import simulate_arena
        battles = simulate_arena().battles
        say(args, "using the bundled example: a simulated arena (50 models, 100,000 battles)")
    else:
        if not args.files:
            raise InputError("no input: give one or more battle files (or --example)")
        battles = load_battles(args.files, keep=_columns_needed(args), **read_options(args))
    if hasattr(args, "anonymous_only"):
        battles = filter_battles(
            battles, anonymous_only=args.anonymous_only, exclude=args.exclude, min_battles=args.min_battles,
            since=args.since, until=args.until, where=parse_key_values(args.where, "--where") or None,
            drop_ties=args.drop_ties, drop_duplicates=args.drop_duplicates)
    for step in battles.steps:
        say(args, f"filter {step}")
    say(args, f"{battles.n_battles:,.0f} battles, {battles.n_models} models")
    return battles


def streamable(args: argparse.Namespace) -> bool:
    """Whether the options need no battle rows: then the files are reduced by the streaming
    reducer (:func:`~arena_stats.data.stream.stream_pair_counts`), which holds one batch in
    memory instead of every row, and the count-level filters (``--exclude``, ``--drop-ties``,
    ``--min-battles``) apply to the counts (:func:`~arena_stats.data.aggregate.filter_counts`)."""
    if getattr(args, "example", False) or not getattr(args, "files", None):
        return False
    row_level = (getattr(args, "anonymous_only", False), getattr(args, "since", None), getattr(args, "until", None),
                 getattr(args, "where", None), getattr(args, "drop_duplicates", False), getattr(args, "cluster", None))
    return not any(row_level) and not getattr(args, "keep_all_columns", False)


def counts_from_args(args: argparse.Namespace) -> PairCounts:
    """Stream the input files to counts and apply the count-level filters; report on stderr.

    The same numbers as :func:`load_from_args` followed by ``aggregate`` (tested), in bounded
    memory. Callers check :func:`streamable` first.
    """
    from ..data.aggregate import filter_counts
    from ..data.stream import stream_pair_counts
    check_filter_args(args)
    if getattr(args, "output", None):
        check_output_path(args.output)
    counts = stream_pair_counts(args.files, progress=not getattr(args, "quiet", False), **read_options(args))
    if hasattr(args, "anonymous_only"):
        counts = filter_counts(counts, exclude=args.exclude, drop_ties=args.drop_ties, min_battles=args.min_battles)
    for step in counts.steps:
        say(args, f"filter {step}")
    say(args, f"{counts.n_battles:,.0f} battles, {counts.n_models} models")
    return counts


def _columns_needed(args: argparse.Namespace) -> list[str] | None:
    """Columns the chosen options read, so big files load only those; None keeps everything."""
    if getattr(args, "drop_duplicates", False) or getattr(args, "keep_all_columns", True):
        return None
    need = []
    if getattr(args, "anonymous_only", False):
        need.append("anony")
    if getattr(args, "since", None) or getattr(args, "until", None):
        need.append("tstamp")
    need += [w.split("=", 1)[0].strip() for w in getattr(args, "where", []) or []]
    if getattr(args, "cluster", None):
        need.append(args.cluster)
    # columns a command reads when they exist (audit: timestamps and voters; report: --by)
    need += list(getattr(args, "extra_columns", ()))
    return need


def _json_value(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if math.isnan(float(v)) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


#: Float columns the aligned text and markdown formats print with three decimals, whatever the
#: ``float_digits`` default: probabilities, win fractions, Glicko-2 volatility.
THREE_DECIMAL_COLUMNS = ("win_rate", "p_top", "volatility")
#: Integer columns of counts, printed with thousands separators like whole-valued float columns
#: (``18,720`` whether a command's counts came out as integers or as floats).
COUNT_COLUMNS = ("battles", "wins", "losses", "ties", "bothbad", "count", "votes", "n", "n_battles")


def _is_count_column(col: str) -> bool:
    return col in COUNT_COLUMNS or col.endswith("_battles")


def _float_format(col: str, vals: pd.Series, digits: int | None, default: int) -> str:
    """The format spec of one float column: its explicit digits; else three for probability
    columns, a whole number for columns of counts (every value integral), ``default`` otherwise."""
    if digits is not None:
        return f".{digits}f"
    if col in THREE_DECIMAL_COLUMNS or col.startswith("p_"):
        return ".3f"
    if _is_count_column(col) and np.allclose(vals.dropna() % 1, 0):
        return ",.0f"  # whole battles (weights that happen to be whole): counts, not measurements
    return f".{default}f"


def render_table(frame: pd.DataFrame, fmt: str, float_digits: int | Mapping[Any, int] = 1,
                 count_columns: Sequence[Any] = ()) -> str:
    """Render a frame as aligned text, markdown, CSV or JSON records.

    ``csv`` and ``json`` keep every float at full precision (JSON writes NaN as null); only the
    ``table`` and ``markdown`` formats round. There ``float_digits`` sets the decimals of float
    columns: an int is the default for columns that are neither probabilities (``win_rate``,
    ``p_top``, ``p_*``, ``volatility``: three decimals) nor counts (all values whole: printed as
    integers with thousands separators, as are integer columns of counts such as ``battles``),
    e.g. ratings (one decimal); a mapping gives some columns exact decimals (``0``:
    integers) and leaves the rest to those rules with one decimal as the default.
    """
    if fmt == "csv":
        buf = io.StringIO()
        frame.to_csv(buf, index=False)
        return buf.getvalue()
    if fmt == "json":
        records = [{k: _json_value(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
        return json.dumps(records, indent=1) + "\n"
    if isinstance(float_digits, Mapping):
        per_column, default = dict(float_digits), 1
    else:
        per_column, default = {}, int(float_digits)
    shown = frame.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            spec = _float_format(str(col), shown[col], per_column.get(col), default)
            shown[col] = shown[col].map(lambda x, spec=spec: "" if pd.isna(x) else format(x, spec))
        elif pd.api.types.is_integer_dtype(shown[col]) and (_is_count_column(str(col)) or col in count_columns):
            shown[col] = shown[col].map(lambda x: format(int(x), ",d"))
    if fmt == "markdown":
        cols = [str(c) for c in shown.columns]
        lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        for row in shown.itertuples(index=False):
            lines.append("| " + " | ".join(str(v) for v in row) + " |")
        return "\n".join(lines) + "\n"
    return shown.to_string(index=False) + "\n"


def emit_table(frame: pd.DataFrame, args: argparse.Namespace, float_digits: int | Mapping[Any, int] = 1,
               count_columns: Sequence[Any] = ()) -> None:
    """Print or write (atomically) a frame in ``args.format``; ``float_digits`` and
    ``count_columns`` (more columns printed as counts) as in :func:`render_table`."""
    text = render_table(frame, args.format, float_digits, count_columns)
    if getattr(args, "output", None):
        with atomic_write(args.output, encoding="utf-8") as fh:
            fh.write(text)
        say(args, f"wrote {args.output}")
    else:
        sys.stdout.write(text)
