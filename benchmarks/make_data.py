"""Write simulated arena battles to Parquet, for the benchmarks and the larger-than-memory demo.

The battles come from :func:`arena_stats.data.simulate.simulate_arena` and are written in FastChat's
schema (``model_a, model_b, winner`` plus ``tstamp, language, category, anony, judge``) with the
name and verdict columns as *plain strings* in the Arrow schema, as in files exported by
FastChat or the Hugging Face datasets (Parquet still dictionary-encodes them on disk, as every
writer does by default). Writing Arrow arrays straight from the simulator's integer codes keeps
a 10-million-battle file to a few seconds.

A file larger than memory is written as a directory of part files, ``--battles`` in total,
``--per-file`` per part. Each part is a separate simulated arena (seed ``seed + part``) with the
same model names, so the parts are statistically independent arenas: fine for throughput and
memory measurements, not for a meaningful leaderboard.

Usage::

    python benchmarks/make_data.py /tmp/arena_1e7.parquet --battles 1e7 --models 100
    python benchmarks/make_data.py /tmp/arena_1e8 --battles 1e8 --models 100 --per-file 5e6
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout
from arena_stats.data.battles import OUTCOME_NAMES  # noqa: E402
from arena_stats.data.simulate import simulate_arena  # noqa: E402

#: Rows per Parquet row group: large enough for fast scans, small enough for streaming readers.
ROW_GROUP_ROWS = 1_000_000
DEFAULT_SEED = 20240813


def _strings(codes: np.ndarray, names: list[str]) -> pa.Array:
    """Integer codes to a plain string column (decoded from a dictionary, which is fast)."""
    dictionary = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(names))
    return dictionary.cast(pa.string())


def arena_table(n_battles: int, n_models: int, seed: int) -> pa.Table:
    """A simulated arena as an Arrow table in FastChat's schema."""
    frame = simulate_arena(n_models=n_models, n_battles=n_battles, seed=seed).battles.frame
    models = list(frame["model_a"].cat.categories)
    columns = {
        "model_a": _strings(frame["model_a"].cat.codes.to_numpy(), models),
        "model_b": _strings(frame["model_b"].cat.codes.to_numpy(), models),
        "winner": _strings(frame["outcome"].to_numpy(), list(OUTCOME_NAMES)),
        "tstamp": pa.array(frame["tstamp"].to_numpy()),
        "language": _strings(frame["language"].cat.codes.to_numpy(), list(frame["language"].cat.categories)),
        "category": _strings(frame["category"].cat.codes.to_numpy(), list(frame["category"].cat.categories)),
        "anony": pa.array(frame["anony"].to_numpy()),
        "judge": pa.array(frame["judge"].to_numpy()),
    }
    return pa.table(columns)


def write_file(path: str, n_battles: int, n_models: int, seed: int = DEFAULT_SEED,
               row_group_rows: int = ROW_GROUP_ROWS) -> str:
    """Write one Parquet file of ``n_battles`` simulated battles; returns ``path``."""
    table = arena_table(n_battles, n_models, seed)
    tmp = path + ".tmp"
    pq.write_table(table, tmp, row_group_size=row_group_rows)
    os.replace(tmp, path)
    return path


def write_directory(directory: str, n_battles: int, n_models: int, per_file: int,
                    seed: int = DEFAULT_SEED, row_group_rows: int = ROW_GROUP_ROWS,
                    verbose: bool = False) -> list[str]:
    """Write ``n_battles`` battles as part files of ``per_file`` battles each; returns the paths."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    done, part = 0, 0
    while done < n_battles:
        size = min(per_file, n_battles - done)
        path = os.path.join(directory, f"part-{part:05d}.parquet")
        if not os.path.exists(path):  # resumable: a finished part is never rewritten
            write_file(path, size, n_models, seed + part, row_group_rows)
        paths.append(path)
        done += size
        part += 1
        if verbose:
            print(f"  {done:,} / {n_battles:,} battles written", file=sys.stderr)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="a .parquet file, or a directory when --per-file is given")
    parser.add_argument("--battles", type=float, default=1e6, help="number of battles (1e7 is fine)")
    parser.add_argument("--models", type=int, default=100, help="number of models")
    parser.add_argument("--per-file", type=float, default=None,
                        help="write a directory of part files with this many battles each")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--row-group", type=int, default=ROW_GROUP_ROWS, help="rows per row group")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.per_file:
        paths = write_directory(args.out, int(args.battles), args.models, int(args.per_file), args.seed,
                                args.row_group, verbose=True)
        size = sum(os.path.getsize(p) for p in paths)
    else:
        write_file(args.out, int(args.battles), args.models, args.seed, args.row_group)
        size = os.path.getsize(args.out)
    print(f"wrote {int(args.battles):,} battles ({size / 1e6:,.1f} MB) to {args.out} in "
          f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
