"""Speed of online Elo: one ordering, and the LMSYS bootstrap vectorised across rounds.

Targets (issue 3): >= 5 M battle updates/s for one ordering, and 1,000 rounds of 1 M battles in
under 20 s. Run::

    python benchmarks/bench_elo.py                       # every installed backend
    python benchmarks/bench_elo.py --backend python --rounds 100   # the numpy fallback, shorter

The numpy fallback's bootstrap time grows linearly in rounds x battles, so a shorter run
extrapolates (the script prints the projection for the full size).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from arena_stats import load_battles
from arena_stats.elo import BACKENDS, compute_elo, default_backend, elo_bootstrap

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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--battles", type=int, default=1_000_000)
    p.add_argument("--models", type=int, default=100)
    p.add_argument("--rounds", type=int, default=1000)
    p.add_argument("--backend", choices=BACKENDS, action="append",
                   help="repeatable; default: every installed backend")
    args = p.parse_args()
    backends = args.backend or (["numba", "python"] if default_backend() == "numba" else ["python"])
    battles = make_battles(args.battles, args.models)
    print(f"{args.battles:,} battles, {args.models} models; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} (other processes share the cores: compare with care)")
    for backend in backends:
        compute_elo(make_battles(2000, 5), backend=backend)  # compile / warm up
        elo_bootstrap(make_battles(2000, 5), rounds=2, backend=backend)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            compute_elo(battles, backend=backend)
            times.append(time.perf_counter() - t0)
        best = min(times)
        print(f"[{backend}] compute_elo: {best:.3f} s (best of 3) = {args.battles / best / 1e6:.1f} M updates/s "
              "(including sorting, result frame and per-model totals)")
        t0 = time.perf_counter()
        res = elo_bootstrap(battles, rounds=args.rounds, seed=0, backend=backend)
        dt = time.perf_counter() - t0
        full = dt * (1000 / args.rounds) * (1_000_000 / args.battles)
        print(f"[{backend}] elo_bootstrap: {args.rounds} rounds x {args.battles:,} battles in {dt:.1f} s = "
              f"{args.rounds * args.battles / dt / 1e6:.1f} M updates/s; projected 1,000 x 1 M: {full:.1f} s "
              f"(median rating of the best model {res.rating.max():.1f})")
        if backend == "numba":
            import numba
            threads = numba.get_num_threads()
            numba.set_num_threads(1)
            few = max(1, args.rounds // 20)
            t0 = time.perf_counter()
            elo_bootstrap(battles, rounds=few, seed=0, backend=backend)
            dt = time.perf_counter() - t0
            numba.set_num_threads(threads)
            print(f"[{backend}] one thread: {dt / (few * args.battles) * 1e9:.1f} ns per update "
                  f"({few} rounds in {dt:.1f} s)")


if __name__ == "__main__":
    main()
