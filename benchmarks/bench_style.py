"""Benchmark of style control: a contextual Bradley-Terry fit with 4 continuous covariates.

Usage::

    python benchmarks/bench_style.py                    # 1M battles x 130 models, 100 rounds
    python benchmarks/bench_style.py --quick            # 20k x 20, 10 rounds (seconds)
    python benchmarks/bench_style.py --battles 1000000 --models 130 --rounds 100 --threads 2

The arena is simulated (``simulate_arena``) and given four style-like covariates: per-model
"verbosity" and markdown habits drawn once, per-battle counts around them, each feature
``(a - b) / (a + b + 1)`` standardised, as LMSYS's style control. The covariates are continuous,
so the fit runs on the rows (no cell reduction): the hardest case. Timed, in a fresh process:

* ``point_s``: ``fit_contextual`` from the Battles object (covariate checks, canonical form,
  Newton, both covariance matrices);
* ``bootstrap_s``: ``bootstrap_contextual`` with ``--rounds`` rounds (includes its own point fit).

``--blas-threads`` sets ``OPENBLAS_NUM_THREADS`` (and friends) in the child before numpy loads.
The default is 1: the Hessian is only ~135 x 135, and on a busy 2-core machine a multi-threaded
BLAS spins and can make each 135 x 135 solve 1000x slower (measured: 0.1-0.4 s instead of 0.1 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import numpy as np
from arena_stats.data.battles import Battles
from arena_stats.models.contextual import bootstrap_contextual, fit_contextual
from arena_stats.data.simulate import simulate_arena

n_battles, n_models, rounds, threads = map(int, sys.argv[1:5])
sim = simulate_arena(n_models, n_battles, seed=7)
b = sim.battles
rng = np.random.default_rng(8)
a, bb = b.a, b.b
cols = []
frame = b.frame.copy()
for k, mean in enumerate((300.0, 1.0, 4.0, 3.0)):      # tokens, headers, list items, bold
    habit = mean * np.exp(rng.normal(0, 0.6, b.n_models))
    ca, cb = rng.poisson(habit[a]), rng.poisson(habit[bb])
    x = (ca - cb) / (ca + cb + 1.0)
    frame[f"style_{k}"] = (x - x.mean()) / x.std()
    cols.append(f"style_{k}")
battles = Battles(frame)
t0 = time.perf_counter()
fit = fit_contextual(battles, cols)
point_s = time.perf_counter() - t0
t0 = time.perf_counter()
boot = bootstrap_contextual(battles, cols, rounds=rounds, seed=0, threads=threads)
boot_s = time.perf_counter() - t0
print(json.dumps({"battles": n_battles, "models": int(battles.n_models), "covariates": len(cols),
                  "fitted_units": fit.n_units, "newton_iterations": fit.n_iter, "point_s": round(point_s, 3),
                  "rounds": rounds, "threads": threads, "bootstrap_s": round(boot_s, 2),
                  "degenerate_rounds": boot.n_degenerate,
                  "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""

BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--battles", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=130)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2, help="bootstrap worker threads")
    parser.add_argument("--blas-threads", default="1", help="BLAS threads in the child ('' = leave unset)")
    parser.add_argument("--quick", action="store_true", help="20k x 20, 10 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.battles, args.models, args.rounds = 20_000, 20, 10
    env = dict(os.environ)
    if args.blas_threads:
        env.update({v: str(args.blas_threads) for v in BLAS_VARS})
    out = subprocess.run([sys.executable, "-c", CHILD, str(args.battles), str(args.models), str(args.rounds),
                          str(args.threads)], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        return out.returncode
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["blas_threads"] = args.blas_threads or "default"
    result["cpus"] = os.cpu_count()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
