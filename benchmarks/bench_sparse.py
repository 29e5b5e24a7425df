"""Many contestants, sparse comparisons: arena_stats' large-K fit and bootstrap side by side with
choix's and evalica's solvers on the same battles.

Data (issue 14's figures were measured on the first kind):

* ``nearby`` arenas: ``n`` contestants with strengths ``N(0, 1.5)`` sorted by strength; each
  battle draws a contestant uniformly and an opponent a rounded ``N(0, spread)`` number of
  places away (clipped to the ends, never itself), so every contestant meets nearby-strength
  opponents only; 10 % ties, the rest decided by the Bradley-Terry probability. Written once to
  Parquet in FastChat's schema (``model_a, model_b, winner`` with ``model_a / model_b / tie``)
  under ``benchmarks/out/sparse/`` (git-ignored). Sizes: 5,000 x 20,000 and 10,000 x 1,000,000
  (contestants x battles); ``--quick``: 1,200 x 5,000.
* ``atp``: the ATP tour-level matches 2000-2024 from ``../shared/data/tennis_atp`` (74,906
  matches, 2,639 players; no draws), read with ``load_battles(files, schema="winner-loser")``.
  Skipped with a message when the folder is absent.

For every data set, tool and ``--l2`` value one fresh child process (wall-clock limit
``--time-box``) measures:

* ``load s``: reading the data (arena_stats: ``load_battles(..., keep=[])``, which validates and
  encodes the names; the peers: a pandas DataFrame of name strings, read with pyarrow or
  ``pandas.read_csv``);
* ``point fit s``: from those battles to ratings, each tool's own preprocessing included
  (arena_stats: ``fit_bradley_terry(battles, l2=l2)``, solver ``auto``, which picks the sparse
  KKT factorisation above 1,000 contestants on sparse graphs);
* ``bootstrap s``: arena_stats: ``bootstrap(battles, rounds, l2=l2, point=fit, seed=0)``; the
  peers only with ``--peer-rounds N`` (their bootstraps at these sizes take minutes to hours):
  N rounds of their own resampling are timed and extrapolated to ``--rounds``, marked ``est.``;
* ``degenerate``: arena_stats' rounds without a finite MLE (``n_degenerate``; none with l2 > 0);
* ``peak MB``: the child's peak resident memory (``ru_maxrss``; its data included);
* ``max |diff| Elo``: the largest difference between the tool's point ratings and arena_stats'
  at the same l2, all centred, on the Elo scale (400 / ln 10 per natural-log unit), where the two
  maximise the same objective; otherwise ``-`` and the raw difference in the note.

The peers (installed in ``.venv-bench``, see README.md; one that is missing is reported and
skipped, never a failure), ties as half a win each way everywhere:

* ``choix``: ``choix.ilsr_pairwise(n, pairs, alpha=l2)`` (iterative Luce spectral ranking).
  ``pairs`` are (winner, loser) indices with each decisive battle entered twice and each tie
  once each way: twice the ties-as-half log-likelihood, the same maximum. Its ``alpha`` is
  *not* an L2 prior on the strengths: it is a rate added to every entry of the LSR Markov
  chain's dense ``n x n`` generator (``choix/lsr.py: _init_lsr``), so at its fixed point the
  prior's pull on contestant ``i`` is ``alpha * (n - n * w_i)`` with the weights ``w``
  normalised to mean 1 -- a different prior, so its ratings are compared only at ``l2 = 0``.
  Every iteration builds that dense matrix in a Python loop over the pairs and LU-factors it
  (``choix/utils.py: statdist``): O(n^2) memory, O(n^3) time per iteration.
* ``choix-opt``: ``choix.opt_pairwise(n, pairs, alpha=l2)`` (scipy Newton-CG), whose objective
  is ``sum over pairs of -log p + alpha * |theta|^2`` (``choix/opt.py: PairwiseFcts``) on the
  natural-log strengths. On the doubled pairs that is twice arena_stats' ``-loglik + l2 / 2 *
  |theta|^2``: the same maximiser at ``alpha = l2``, so it is compared at every l2. (Its
  Hessian is a dense ``n x n`` matrix filled in a Python loop.)
* ``evalica``: ``evalica.bradley_terry(xs, ys, winners, tie_weight=0.5)`` (its Rust solver,
  Newman's iteration, ``tolerance=1e-6, limit=100`` by default). It takes no regularisation
  (signature: ``index, weights, win_weight, tie_weight, solver, tolerance, limit``), so it is the
  plain MLE whatever ``--l2`` says: it runs once per data set (``l2`` column ``none``) and is
  compared with arena_stats only at ``l2 = 0``. Ratings are ``400 * log10(score)``. Where the
  MLE does not exist (a contestant without a win) its iteration collapses: every score ends
  equal to the tolerance after two iterations (noted in the row); where it takes more than
  ``limit`` iterations it stops there (noted too).
  With ``--peer-rounds``, its bootstrap is ``evalica.bootstrap(..., bootstrap_method=
  "percentile")`` (battles resampled through ``scipy.stats.bootstrap``); choix's is the loop a
  user writes (resample battles, rebuild the pairs, refit).

Usage (the exact command behind docs/benchmarks.md)::

    .venv-bench/bin/python benchmarks/bench_sparse.py --l2 0.01 1.0 --markdown benchmarks/out/sparse.md

and ``--quick`` for a smoke run of seconds (what the test suite does; no shared data needed).
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # run from a checkout

#: (contestants, battles) of the nearby arenas.
SIZES = [(5_000, 20_000), (10_000, 1_000_000)]
QUICK_SIZES = [(1_200, 5_000)]
ROUNDS = 1000
QUICK_ROUNDS = 20
L2 = [0.01]
TIME_BOX_S = 300.0
QUICK_TIME_BOX_S = 60.0
#: Rounds timed to estimate a bootstrap that ran past the time box.
PROBE_ROUNDS = 50
DATA_SEED = 0
SPREAD = 25
TIE = 0.1
ATP_DIR = os.path.join(os.path.dirname(ROOT), "shared", "data", "tennis_atp")
ATP_YEARS = range(2000, 2025)
DEFAULT_DATA_DIR = os.path.join(HERE, "out", "sparse")
ELO_PER_NAT = 400.0 / math.log(10.0)

#: tool -> the module it needs (None: arena_stats itself)
TOOLS: dict[str, str | None] = {"arena_stats": None, "choix": "choix", "choix-opt": "choix", "evalica": "evalica"}
#: evalica.bradley_terry's default iteration limit
EVALICA_LIMIT = 100
#: tools whose fit ignores l2: run once per data set
NO_L2 = {"evalica"}


# ------------------------------------------------------------------------------ data
def nearby(n: int, m: int, spread: int = SPREAD, seed: int = DATA_SEED, tie: float = TIE,
           path: str | None = None) -> Any:
    """A simulated arena of ``n`` contestants and ``m`` battles between nearby-strength opponents.

    Returns the Arrow table (``model_a, model_b, winner`` in FastChat's labels) and writes it to
    ``path`` as Parquet when given.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    theta = np.sort(rng.normal(0, 1.5, n))
    a = rng.integers(0, n, m)
    off = np.rint(rng.normal(0, spread, m)).astype(int)
    off[off == 0] = 1
    b = np.clip(a + off, 0, n - 1)
    same = a == b
    b[same] = np.where(a[same] > 0, a[same] - 1, 1)
    p = 1 / (1 + np.exp(-(theta[a] - theta[b])))
    u = rng.random(m)
    out = np.where(u < tie, 2, np.where(rng.random(m) < p, 0, 1)).astype(np.int8)  # 0 a wins, 1 b wins, 2 tie
    names = np.array([f"p{k:05d}" for k in range(n)])

    def strings(codes: np.ndarray, labels: Any) -> Any:
        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(labels)).cast(pa.string())

    table = pa.table({"model_a": strings(a, names), "model_b": strings(b, names),
                      "winner": strings(out, ["model_a", "model_b", "tie"])})
    if path is not None:
        tmp = path + ".tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    return table


def nearby_file(n: int, m: int, directory: str) -> str:
    """The Parquet file of one nearby arena, written on first use."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"nearby_{n}_{m}_s{SPREAD}_seed{DATA_SEED}.parquet")
    if not os.path.exists(path):
        nearby(n, m, path=path)
    return path


def atp_files(directory: str) -> list[str]:
    """The yearly ATP tour-level files 2000-2024 (``.csv`` or ``.csv.gz``); [] when absent."""
    files = []
    for year in ATP_YEARS:
        found = sorted(glob.glob(os.path.join(directory, f"atp_matches_{year}.csv*")))
        if not found:
            return []
        files.append(found[0])
    return files


def load_frame(source: str) -> Any:
    """The battles as a pandas DataFrame of strings ``model_a, model_b, winner`` (the peers' input)."""
    import pandas as pd

    if source.startswith("atp:"):
        frames = [pd.read_csv(f, usecols=["winner_name", "loser_name"]) for f in atp_files(source[4:])]
        df = pd.concat(frames, ignore_index=True)
        # names stripped of surrounding blanks as load_battles does (one player has a trailing blank)
        return pd.DataFrame({"model_a": df["winner_name"].str.strip().to_numpy(),
                             "model_b": df["loser_name"].str.strip().to_numpy(), "winner": "model_a"})
    import pyarrow.parquet as pq
    return pq.read_table(source, columns=["model_a", "model_b", "winner"]).to_pandas()


def load_battles(source: str) -> Any:
    from arena_stats import load_battles as load

    if source.startswith("atp:"):
        return load(atp_files(source[4:]), schema="winner-loser", keep=[])
    return load(source, keep=[])


# ------------------------------------------------------------------------------ the tools
def _centred(values: np.ndarray) -> np.ndarray:
    return values - values.mean()


def _choix_pairs(codes_a: np.ndarray, codes_b: np.ndarray, winner: np.ndarray) -> np.ndarray:
    """(winner, loser) pairs: each decisive battle twice, each tie once each way."""
    a_won, b_won = winner == "model_a", winner == "model_b"
    tie = ~(a_won | b_won)
    ab = np.column_stack([codes_a[a_won], codes_b[a_won]])
    ba = np.column_stack([codes_b[b_won], codes_a[b_won]])
    return np.concatenate([ab, ab, ba, ba, np.column_stack([codes_a[tie], codes_b[tie]]),
                           np.column_stack([codes_b[tie], codes_a[tie]])])


def _choix_fit(name: str, n: int, pairs: np.ndarray, l2: float) -> np.ndarray:
    import choix

    if name == "choix":
        return choix.ilsr_pairwise(n, pairs, alpha=l2)
    return choix.opt_pairwise(n, pairs, alpha=l2)


def run_choix(name: str, df: Any, l2: float, rounds: int, out: dict[str, Any]) -> None:
    import pandas as pd

    start = time.perf_counter()
    codes, models = pd.factorize(pd.concat([df["model_a"], df["model_b"]], ignore_index=True), sort=True)
    k, n = len(df), len(models)
    a, b, winner = codes[:k], codes[k:], df["winner"].to_numpy()
    params = _choix_fit(name, n, _choix_pairs(a, b, winner), l2)
    out["fit_s"] = time.perf_counter() - start
    out["ratings"] = dict(zip(map(str, models), (ELO_PER_NAT * _centred(params)).tolist()))
    if rounds:
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for _ in range(rounds):
            i = rng.integers(0, k, k)
            _choix_fit(name, n, _choix_pairs(a[i], b[i], winner[i]), l2)
        out["boot_s"] = time.perf_counter() - start


def run_evalica(df: Any, l2: float, rounds: int, out: dict[str, Any]) -> None:
    import evalica

    start = time.perf_counter()
    w = df["winner"].to_numpy()
    # evalica.Winner: Draw = 0, X (left) = 1, Y (right) = 2
    winners = np.where(w == "model_a", 1, np.where(w == "model_b", 2, 0)).astype(np.uint8)
    xs, ys = df["model_a"].to_numpy(), df["model_b"].to_numpy()
    fit = evalica.bradley_terry(xs, ys, winners, tie_weight=0.5)
    out["fit_s"] = time.perf_counter() - start
    scores = fit.scores.to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore"):
        elo = 400.0 * np.log10(scores)
    finite = np.isfinite(elo)
    elo[finite] -= elo[finite].mean()
    out["ratings"] = dict(zip(map(str, fit.scores.index), elo.tolist()))
    out["iterations"] = iterations = int(getattr(fit, "iterations", -1))
    if np.unique(scores).size == 1:
        out["note"] = f"every score equals {scores[0]:g} after {iterations} iterations: the solver collapsed"
    elif iterations >= EVALICA_LIMIT:
        out["note"] = f"stopped at its iteration limit ({EVALICA_LIMIT}) before its tolerance"
    if rounds:
        start = time.perf_counter()
        evalica.bootstrap(evalica.bradley_terry, xs, ys, winners, tie_weight=0.5, n_resamples=rounds,
                          bootstrap_method="percentile", random_state=0)
        out["boot_s"] = time.perf_counter() - start


def run_arena_stats(source: str, l2: float, rounds: int, out: dict[str, Any]) -> None:
    from arena_stats import bootstrap, fit_bradley_terry

    start = time.perf_counter()
    battles = load_battles(source)
    out["load_s"] = time.perf_counter() - start
    start = time.perf_counter()
    fit = fit_bradley_terry(battles, l2=l2)
    out["fit_s"] = time.perf_counter() - start
    out["ratings"] = dict(zip(map(str, fit.models), _centred(fit.ratings.to_numpy(dtype=np.float64)).tolist()))
    out["newton_iterations"] = int(fit.n_iter)
    out["models"] = len(fit.models)
    out["battles"] = float(battles.n_battles)
    print(json.dumps(out), flush=True)  # the point fit survives a bootstrap stopped by the time box
    if rounds:
        start = time.perf_counter()
        boot = bootstrap(battles, rounds, l2=l2, point=fit, seed=0)
        out["boot_s"] = time.perf_counter() - start
        out["degenerate"] = int(boot.n_degenerate)


def child(tool: str, source: str, l2: float, rounds: int) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    import warnings

    warnings.simplefilter("ignore")  # the l2 prior's notice on ATP (disconnected groups) is expected
    out: dict[str, Any] = {}
    if tool == "arena_stats":
        import arena_stats  # noqa: F401  (import time is not what is measured)
        run_arena_stats(source, l2, rounds, out)
    else:
        importlib.import_module(TOOLS[tool] or "")
        import pandas  # noqa: F401
        start = time.perf_counter()
        df = load_frame(source)
        out["load_s"] = time.perf_counter() - start
        if tool == "evalica":
            run_evalica(df, l2, rounds, out)
        else:
            run_choix(tool, df, l2, rounds, out)
        out["battles"] = float(len(df))
    out["peak_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                      + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024.0
    return out


def run_child(tool: str, source: str, l2: float, rounds: int, time_box: float) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", tool, source, repr(l2), str(rounds)]
    # a session of its own, so that a timeout ends anything the child started too
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=time_box)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, _ = proc.communicate()
        lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
        partial = json.loads(lines[-1]) if lines else {}  # what the child finished before the time box
        return {**partial, "status": "timeout", "note": f"stopped after {time_box:.0f} s"}
    if proc.returncode != 0:
        tail = (stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return {"status": "error", "note": tail[:200]}
    result = json.loads(stdout.strip().splitlines()[-1])
    result["status"] = "ok"
    return result


# ------------------------------------------------------------------------------ the run
def installed(tool: str) -> bool:
    module = TOOLS[tool]
    return module is None or importlib.util.find_spec(module) is not None


def max_diff(ratings: dict[str, float], reference: dict[str, float]) -> tuple[float, int]:
    """(largest |difference| of the centred ratings over the common finite ones, non-finite count)."""
    if set(ratings) != set(reference):
        return float("nan"), 0
    names = sorted(reference)
    got = np.array([ratings[m] for m in names])
    want = np.array([reference[m] for m in names])
    ok = np.isfinite(got) & np.isfinite(want)
    if not ok.any():
        return float("nan"), int((~ok).sum())
    return float(np.abs(_centred(got[ok]) - _centred(want[ok])).max()), int((~ok).sum())


def comparable(tool: str, l2: float) -> bool:
    """Whether the tool maximises arena_stats' objective at this l2 (see the module docstring)."""
    return tool in ("arena_stats", "choix-opt") or l2 == 0


def bench_data(label: str, source: str, tools: list[str], l2s: list[float], rounds: int, peer_rounds: int,
               time_box: float, say: Callable[[str], None]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    ours: dict[float, dict[str, float]] = {}
    for tool in tools:
        for l2 in ([None] if tool in NO_L2 else l2s):
            row: dict[str, Any] = {"data": label, "tool": tool, "l2": l2}
            rows.append(row)
            if not installed(tool):
                row["note"] = "not installed"
                say(f"  {tool:<12} not installed: skipped")
                continue
            n_rounds = rounds if tool == "arena_stats" else peer_rounds
            res = run_child(tool, source, 0.0 if l2 is None else l2, n_rounds, time_box)
            if res["status"] == "timeout" and "ratings" in res and n_rounds > PROBE_ROUNDS:
                # the point fit finished, the bootstrap did not: time a few rounds and extrapolate
                probe = run_child(tool, source, 0.0 if l2 is None else l2, PROBE_ROUNDS, time_box)
                res["status"] = "ok"
                res["boot_timeout_s"] = time_box
                if probe["status"] == "ok":
                    res["boot_s_est"] = probe["boot_s"] / PROBE_ROUNDS * n_rounds
                    res["rounds_timed"] = PROBE_ROUNDS
                    res["probe_degenerate"] = probe.get("degenerate")
                    res["peak_mb"] = probe["peak_mb"]  # of the probe: the same arrays, fewer rounds
            if res["status"] != "ok":
                row["note"] = f"{res['status']}: {res['note']}"
                say(f"  {tool:<12} l2={l2}: {row['note']}")
                continue
            for key in ("load_s", "fit_s", "boot_s", "degenerate", "peak_mb", "battles", "models",
                        "newton_iterations", "iterations", "boot_timeout_s", "boot_s_est", "rounds_timed",
                        "probe_degenerate"):
                if key in res:
                    row[key] = res[key]
            row["models"] = len(res["ratings"])
            if res.get("note"):
                row["note"] = res["note"]
            if tool == "arena_stats":
                ours[l2] = res["ratings"]
                row["rounds"] = rounds
            elif n_rounds:
                row["rounds"] = rounds
                row["rounds_timed"] = n_rounds
                row["boot_s_est"] = res["boot_s"] / n_rounds * rounds
            _compare(row, res["ratings"], ours)
            if "boot_timeout_s" in row:
                est = f"; est. {row['boot_s_est']:.0f} s from {PROBE_ROUNDS} rounds" if "boot_s_est" in row else ""
                row["note"] = f"bootstrap stopped after {time_box:.0f} s{est}"
            say(f"  {tool:<12} l2={l2}: load {row['load_s']:.2f} s, fit {row['fit_s']:.3f} s"
                + (f", {n_rounds} rounds {res['boot_s']:.2f} s" if "boot_s" in res else "")
                + (f", peak {row['peak_mb']:.0f} MB" if "peak_mb" in row else "")
                + (f"; {row['note']}" if row.get("note") else ""))
    sizes = next(((r["models"], r["battles"]) for r in rows if "battles" in r), None)
    for r in rows:  # a row that failed still names the data's size
        if sizes and "battles" not in r:
            r["models"], r["battles"] = sizes
    return rows


def _compare(row: dict[str, Any], ratings: dict[str, float], ours: dict[float, dict[str, float]]) -> None:
    """The row's max |diff| from arena_stats at the same l2 where comparable, else the raw one in the note."""
    tool = row["tool"]
    if tool == "arena_stats" or not ours:
        return
    l2 = 0.0 if row["l2"] is None else row["l2"]
    notes = [row["note"]] if row.get("note") else []
    target = l2 if l2 in ours else min(ours, key=lambda x: abs(x - l2))
    diff, bad = max_diff(ratings, ours[target])
    if bad:
        notes.append(f"{bad} non-finite ratings left out")
    if target != l2:
        notes.append(f"arena_stats has no fit at l2={l2:g}; max |diff| from its fit at l2={target:g}: {diff:.3g} Elo")
        row["raw_diff"] = diff
    elif comparable(tool, l2):
        row["max_abs_diff"] = diff
    else:
        what = "no L2 option (the plain MLE)" if tool in NO_L2 else "alpha is not an L2 on the strengths"
        notes.append(f"not comparable: {what}; max |diff| from arena_stats at l2={target:g}: {diff:.3g} Elo")
        row["raw_diff"] = diff
    if notes:
        row["note"] = "; ".join(notes)


def _num(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(result: dict[str, Any]) -> str:
    lines = [f"{result['machine']}; time box {result['time_box_s']:.0f} s per measurement.", "",
             "| data | contestants | battles | tool | l2 | load s | point fit s | bootstrap rounds | bootstrap s "
             "| degenerate | peak MB | max abs diff (Elo) | note |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["rows"]:
        if r.get("boot_s") is not None and r["tool"] == "arena_stats":
            boot = _num(r["boot_s"], 2)
        elif r.get("boot_s_est") is not None:
            boot = f"est. {r['boot_s_est']:,.0f} ({r['rounds_timed']} timed)"
        elif r.get("boot_timeout_s") is not None:
            boot = f"> {r['boot_timeout_s']:.0f}"
        else:
            boot = "-"
        diff = f"{r['max_abs_diff']:.1e}" if r.get("max_abs_diff") is not None else "-"
        l2 = "none" if r["l2"] is None else f"{r['l2']:g}"
        lines.append(
            f"| {r['data']} | {_num(r.get('models'), 0)} | {_num(r.get('battles'), 0)} | {r['tool']} "
            f"| {l2} | {_num(r.get('load_s'), 2)} | {_num(r.get('fit_s'), 3)} | {r.get('rounds', '-')} | {boot} "
            f"| {r.get('degenerate', '-')} | {_num(r.get('peak_mb'), 0)} | {diff} | {r.get('note', '')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small nearby arena, 20 rounds, no ATP: seconds")
    parser.add_argument("--sizes", nargs="*", metavar="N:M",
                        help="nearby arenas, contestants:battles (default 5000:20000 10000:1e6; quick 1200:5000)")
    parser.add_argument("--atp", metavar="DIR", default=None,
                        help=f"the tennis_atp folder (default {os.path.relpath(ATP_DIR, ROOT)}; not in --quick)")
    parser.add_argument("--no-atp", action="store_true", help="leave the ATP data out")
    parser.add_argument("--l2", nargs="+", type=float, default=None, help="L2 prior(s) (default 0.01)")
    parser.add_argument("--rounds", type=int, help=f"arena_stats' bootstrap rounds (default {ROUNDS}; quick "
                        f"{QUICK_ROUNDS})")
    parser.add_argument("--peer-rounds", type=int, default=0,
                        help="time this many rounds of each peer's own bootstrap and extrapolate (default 0: "
                             "point fit only)")
    parser.add_argument("--tools", nargs="*", default=list(TOOLS), choices=list(TOOLS))
    parser.add_argument("--time-box", type=float, help=f"seconds per measurement (default {TIME_BOX_S:.0f})")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="where the simulated arenas are cached")
    parser.add_argument("--out", default=os.path.join(HERE, "out", "sparse.json"), help="JSON results")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as markdown")
    parser.add_argument("--child", nargs=4, metavar=("TOOL", "SOURCE", "L2", "ROUNDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        tool, source, l2, rounds = args.child
        print(json.dumps(child(tool, source, float(l2), int(rounds))))
        return 0

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.sizes is not None:
        sizes = [(int(float(s.split(":")[0])), int(float(s.split(":")[1]))) for s in args.sizes]
    else:
        sizes = QUICK_SIZES if args.quick else SIZES
    rounds = args.rounds if args.rounds is not None else (QUICK_ROUNDS if args.quick else ROUNDS)
    time_box = args.time_box or (QUICK_TIME_BOX_S if args.quick else TIME_BOX_S)
    l2s = args.l2 or L2
    tools = ["arena_stats"] + [t for t in args.tools if t != "arena_stats"]  # ours first: the others compare to it
    result: dict[str, Any] = {
        "command": " ".join([os.path.relpath(sys.executable)] + sys.argv) if argv is None else "bench_sparse.main",
        "rounds": rounds, "peer_rounds": args.peer_rounds, "l2": l2s, "time_box_s": time_box,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                   f"numpy {np.__version__}",
        "installed": {t: installed(t) for t in tools}, "rows": []}
    datasets = []
    for n, m in sizes:
        say(f"nearby arena: {n:,} contestants, {m:,} battles")
        datasets.append((f"nearby {n:,} x {m:,}", nearby_file(n, m, args.data_dir)))
    use_atp = not args.no_atp and (args.atp is not None or not args.quick)
    if use_atp:
        directory = args.atp or ATP_DIR
        if atp_files(directory):
            datasets.append(("ATP 2000-2024", "atp:" + directory))
        else:
            say(f"ATP data not found at {directory} (atp_matches_2000..2024.csv[.gz]): skipped")
            result["atp"] = f"skipped: not found at {directory}"
    for label, source in datasets:
        say(label)
        result["rows"].extend(bench_data(label, source, tools, l2s, rounds, args.peer_rounds, time_box, say))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    table = markdown(result)
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
