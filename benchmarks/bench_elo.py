"""Speed of online Elo: one ordering, and the LMSYS bootstrap vectorised across rounds.

Targets (issue 3): >= 5 M battle updates/s for one ordering, and 1,000 rounds of 1 M battles in
under 20 s on this project's 2-core machine. Run::

    python benchmarks/bench_elo.py                     # every installed backend, best of 3
    python benchmarks/bench_elo.py --backend numba --cold   # also numba's compile time
    python benchmarks/bench_elo.py --backend python    # the numpy / plain-Python fallback

Per backend it prints: ``compute_elo`` end to end (sorting, per-model totals and the result
frame included) and its kernel alone; the bootstrap (1,000 x 1 M by default); for numba, one
thread's time per update and the first-use cost (import, numba's start-up, loading the cached
machine code -- or compiling it, with ``--cold``). Timings are best of ``--repeat`` runs; the load
average is printed next to each, because other processes share the two cores.

The pure backend's bootstrap costs a fixed time per step for a given number of rounds (one
numpy pass of width ``rounds`` per battle), so it runs ``--python-boot-battles`` battles at the
full number of rounds and scales linearly to ``--battles``; scaling the rounds instead would not
be linear.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from arena_stats import load_battles
from arena_stats.online.elo import BACKENDS, compute_elo, default_backend, elo_bootstrap

LABELS = np.array(["model_a", "model_b", "tie", "tie (bothbad)"], dtype=object)


def make_battles(n_battles: int, n_models: int, seed: int = 0):
    """Skewed pair frequencies (log-normal popularity) as in a real arena; ~35 % ties."""
    rng = np.random.default_rng(seed)
    pop = rng.lognormal(0.0, 1.0, n_models)
    pop /= pop.sum()
    a = rng.choice(n_models, n_battles, p=pop)
    b = rng.choice(n_models, n_battles, p=pop)
    clash = a == b
    while clash.any():
        b[clash] = rng.choice(n_models, int(clash.sum()), p=pop)
        clash = a == b
    names = np.array([f"model-{i:03d}" for i in range(n_models)], dtype=object)
    df = pd.DataFrame({"model_a": names[a], "model_b": names[b],
                       "winner": LABELS[rng.choice(4, n_battles, p=[0.33, 0.32, 0.25, 0.10])]})
    return load_battles(df)


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def best_of(repeat: int, fn) -> tuple[float, str]:
    """Shortest of ``repeat`` timed calls, and the load average around them."""
    times = []
    before = load()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), f"{before} -> {os.getloadavg()[0]:.2f}"


def first_use(cold: bool) -> str:
    """A fresh process: seconds of its first compute_elo and first elo_bootstrap (numba)."""
    code = ("import time, sys; sys.path.insert(0, %r); from bench_elo import make_battles; "
            "from arena_stats.online.elo import compute_elo, elo_bootstrap; b = make_battles(2000, 5); "
            "t0 = time.perf_counter(); compute_elo(b, backend='numba'); t1 = time.perf_counter(); "
            "elo_bootstrap(b, rounds=2, backend='numba'); t2 = time.perf_counter(); "
            "print(f'{t1 - t0:.2f} {t2 - t1:.2f}')") % os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as empty:
        if cold:
            env["NUMBA_CACHE_DIR"] = empty
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    single, boot = out.stdout.split()
    how = "compiling: empty cache" if cold else "machine code from numba's cache"
    return f"first compute_elo {single} s, then first elo_bootstrap {boot} s ({how})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--battles", type=int, default=1_000_000)
    p.add_argument("--models", type=int, default=100)
    p.add_argument("--rounds", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=3, help="timed runs per figure; the best is shown (default 3)")
    p.add_argument("--python-boot-battles", type=int, default=100_000,
                   help="battles for the pure backend's bootstrap, scaled to --battles (default 100,000)")
    p.add_argument("--cold", action="store_true", help="also time numba compiling the kernels from scratch")
    p.add_argument("--backend", choices=BACKENDS, action="append",
                   help="repeatable; default: every installed backend")
    args = p.parse_args()
    backends = args.backend or (["numba", "python"] if default_backend() == "numba" else ["python"])
    battles = make_battles(args.battles, args.models)
    print(f"{args.battles:,} battles, {args.models} models; {os.cpu_count()} CPUs; {load()} "
          f"(other processes share the cores: compare with care)")
    from arena_stats import elo
    for backend in backends:
        # import numba and load the kernels (compiling them, and filling numba's cache, if it is stale)
        compute_elo(make_battles(2000, 5), backend=backend)
        elo_bootstrap(make_battles(2000, 5), rounds=2, backend=backend)
        if backend == "numba":
            print(f"[numba] first use in a new process: {first_use(False)}")
            if args.cold:
                print(f"[numba] first use in a new process: {first_use(True)}")
        dt, ld = best_of(args.repeat, lambda: compute_elo(battles, backend=backend))
        print(f"[{backend}] compute_elo: {dt:.3f} s = {args.battles / dt / 1e6:.1f} M updates/s end to end ({ld})")
        prep = elo._prepare(battles, elo.DEFAULT_K, elo.DEFAULT_SCALE, elo.DEFAULT_BASE)
        q = np.zeros(battles.n_models)
        empty = np.empty(0)
        if backend == "numba":
            single = elo._numba_kernels()["single"]
            kernel = lambda: single(prep.a, prep.b, prep.code, elo._SCORE_BY_CODE, prep.gains,  # noqa: E731
                                    prep.weighted, q, empty, empty)
        else:
            kernel = lambda: elo._pass_python(prep.a, prep.b, prep.code, prep.xtab, prep.gains,  # noqa: E731
                                              prep.weighted, q, False)
        dt, ld = best_of(max(args.repeat, 5), kernel)
        print(f"[{backend}] one ordering, kernel only: {dt * 1e3:.1f} ms = "
              f"{args.battles / dt / 1e6:.1f} M updates/s ({ld})")
        boot_battles = battles if backend == "numba" else make_battles(min(args.python_boot_battles, args.battles),
                                                                       args.models)
        n_boot = len(boot_battles)
        dt, ld = best_of(args.repeat, lambda: elo_bootstrap(boot_battles, rounds=args.rounds, seed=0, backend=backend))
        full = dt * args.battles / n_boot
        print(f"[{backend}] elo_bootstrap: {args.rounds} rounds x {n_boot:,} battles in {dt:.2f} s = "
              f"{args.rounds * n_boot / dt / 1e6:.1f} M updates/s"
              + (f"; scaled to {args.battles:,} battles: {full:.1f} s" if n_boot != args.battles else "") + f" ({ld})")
        if backend == "numba":
            import numba
            threads = numba.get_num_threads()
            numba.set_num_threads(1)
            few = max(2, args.rounds // 10)
            dt, ld = best_of(1, lambda: elo_bootstrap(battles, rounds=few, seed=0, backend=backend))
            numba.set_num_threads(threads)
            print(f"[{backend}] bootstrap on one thread: {dt / (few * args.battles) * 1e9:.1f} ns per update "
                  f"({few} rounds in {dt:.1f} s; {threads} threads by default) ({ld})")


if __name__ == "__main__":
    main()
