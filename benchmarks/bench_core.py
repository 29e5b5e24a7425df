"""Benchmark of the core pipeline: Parquet file -> validated battles -> counts -> BT fit ->
1,000-round bootstrap -> leaderboard, timed in a fresh process with its peak memory, and the
``arena-stats leaderboard`` command on the same file, timed from the shell (interpreter start,
imports, reading, fitting, bootstrap, writing the table).

Usage::

    python benchmarks/bench_core.py                 # 1M x 130 and 10M x 300 (the issue's targets)
    python benchmarks/bench_core.py --quick         # small sizes, seconds (run by the test suite)
    python benchmarks/bench_core.py --sizes 1000000:130 --rounds 1000
    python benchmarks/bench_core.py --shapes        # 10M x 300 in each arena shape (below)
    python benchmarks/bench_core.py --stream-dir /tmp/arena_1e8   # the command on a directory

Data are simulated arenas (``arena_stats.data.simulate.simulate_arena``) written once to Parquet under
``benchmarks/out/`` (git-ignored). Each measurement runs in a new interpreter so that the peak
resident memory (``ru_maxrss``) belongs to that run alone. ``load s`` and ``pipeline s`` start
before reading the file (the columns a leaderboard needs, as the command reads them) and end
when the battles, resp. the leaderboard frame, exist; ``command s`` is the wall time of the
whole command, the number a user waits for.

Shapes (``--shapes``): the same arena written three ways, since the time must not depend on
them: ``fastchat`` (the four FastChat verdicts including ``tie (bothbad)``, with ``tstamp``,
``language``, ``category``, ``anony`` and ``judge`` columns: what ``simulate_arena`` writes),
``three-verdict`` (no both-bad ties) and ``minimal`` (only ``model_a, model_b, winner``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
FULL_SIZES = [(1_000_000, 130), (10_000_000, 300)]
QUICK_SIZES = [(20_000, 20)]
DATA_SEED = 7


SHAPES = ("fastchat", "three-verdict", "minimal")


def data_file(n_battles: int, n_models: int, shape: str = "fastchat") -> Path:
    suffix = "" if shape == "fastchat" else f"_{shape}"
    path = OUT / f"arena_{n_battles}_{n_models}{suffix}.parquet"
    if not path.exists():
        from arena_stats.data.simulate import simulate_arena
        OUT.mkdir(parents=True, exist_ok=True)
        share = 0.0 if shape == "three-verdict" else 0.25
        frame = simulate_arena(n_models, n_battles, seed=DATA_SEED, bothbad_share=share).battles.to_frame()
        if shape == "minimal":
            frame = frame[["model_a", "model_b", "winner"]]
        tmp = path.with_suffix(".tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    return path


CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from arena_stats import load_battles, leaderboard
t_import = time.perf_counter() - t0
path, rounds = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
battles = load_battles(path, keep=[])
t_load = time.perf_counter() - t0
board = leaderboard(battles, rounds=rounds, seed=0)
t_total = time.perf_counter() - t0
print(json.dumps({"import_s": t_import, "load_s": t_load, "total_s": t_total,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "models": int(len(board)), "battles": float(battles.n_battles)}))
"""


def _blas_env() -> dict[str, str]:
    # the same BLAS threading as the arena-stats command (see arena_stats/__init__.py); bytecode
    # may be written (the first of the repeats writes it), as `pip install` does at install time,
    # so the best run does not recompile the package's modules
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_one(path: Path, rounds: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(rounds)], capture_output=True,
                         text=True, check=True, env=_blas_env())
    return json.loads(out.stdout.strip().splitlines()[-1])


COMMAND = r"""
import resource, subprocess, sys, time
t0 = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def run_command(path: Path, rounds: int) -> dict:
    """Wall time and peak memory of ``arena-stats leaderboard FILE --rounds rounds``."""
    exe = Path(sys.executable).with_name("arena-stats")
    cmd = [str(exe) if exe.exists() else "arena-stats", "leaderboard", str(path), "--rounds",
           str(rounds), "--seed", "0", "--format", "csv", "--quiet"]
    out = subprocess.run([sys.executable, "-c", COMMAND, *cmd], capture_output=True, text=True,
                         check=True, env=_blas_env())
    wall, peak = map(float, out.stdout.split())
    return {"command_s": wall, "command_peak_mb": peak}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only (seconds)")
    ap.add_argument("--sizes", nargs="*", metavar="BATTLES:MODELS", help="sizes to run")
    ap.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds (default 1000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size; the best is reported")
    ap.add_argument("--shapes", action="store_true",
                    help="each arena shape (fastchat, three-verdict, minimal) at 10M x 300 (or --sizes)")
    ap.add_argument("--stream-dir", metavar="DIR",
                    help="only time `arena-stats leaderboard DIR` on a directory of Parquet parts (written by "
                         "make_data.py): the command streams it")
    args = ap.parse_args(argv)
    if args.stream_dir:
        runs = [run_command(Path(args.stream_dir), args.rounds) for _ in range(args.repeat)]
        print(f"{args.stream_dir}: arena-stats leaderboard, {args.rounds} rounds: best of {args.repeat} "
              f"{min(r['command_s'] for r in runs):.2f} s, peak {max(r['command_peak_mb'] for r in runs):.0f} MB")
        return 0
    sizes = QUICK_SIZES if args.quick else ([(10_000_000, 300)] if args.shapes else FULL_SIZES)
    if args.sizes:
        sizes = [tuple(int(x) for x in s.split(":")) for s in args.sizes]
    shapes = SHAPES if args.shapes else ("fastchat",)
    print(f"{'battles':>12} {'models':>7} {'shape':>14} {'rounds':>7} {'load s':>8} {'pipeline s':>10} "
          f"{'peak MB':>8} {'command s':>10} {'peak MB':>8}")
    for n, m in sizes:
        for shape in shapes:
            path = data_file(n, m, shape)
            repeat = 1 if args.quick else args.repeat
            runs = [run_one(path, args.rounds) for _ in range(repeat)]
            commands = [run_command(path, args.rounds) for _ in range(repeat)]
            best = min(runs, key=lambda r: r["total_s"])
            print(f"{n:>12,} {m:>7} {shape:>14} {args.rounds:>7} {best['load_s']:8.2f} {best['total_s']:10.2f} "
                  f"{max(r['peak_mb'] for r in runs):8.0f} {min(c['command_s'] for c in commands):10.2f} "
                  f"{max(c['command_peak_mb'] for c in commands):8.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
