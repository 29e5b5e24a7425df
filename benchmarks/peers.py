"""Side-by-side benchmark of arena_stats against the tools a user would otherwise pick.

One run, the same simulated battles for every tool (FastChat's schema, read from one Parquet
file per size into a pandas DataFrame of ``model_a, model_b, winner`` strings), ties counted as
half a win for each side everywhere. For every size and tool it measures

* ``fit``: the point Bradley-Terry fit, starting from that DataFrame (each tool's own
  preprocessing included);
* ``fit+boot``: the point fit plus a ``--rounds`` (default 1,000) round bootstrap;
* ``peak MB``: the peak resident memory of the process doing ``fit+boot`` (plus its worker
  processes, for tools that fork a pool), including the DataFrame itself;
* ``max |d|``: the largest difference, in Elo points, between the tool's point ratings and a
  high-precision reference fit (Newton's method to a gradient below 1e-13 per battle, written
  here independently of arena_stats, on counts taken with ``np.unique``), all centred on 1000.

Every measurement runs in a fresh child process (so that memory and imports do not leak from
one to the next) with a wall-clock limit (``--time-box``, default 300 s). A tool whose point fit
already predicts a bootstrap beyond the limit (``fit seconds x rounds / workers``) is not run
and the estimate is reported instead, marked ``est.``; a size beyond the limit for its point
fit likewise. Tools that are not installed are listed as such and skipped: they are never
failures.

The tools:

* ``arena_stats``: :func:`arena_stats.data.stream.stream_pair_counts` on the DataFrame, then
  :func:`arena_stats.models.bradley_terry.fit_counts` / :func:`arena_stats.inference.bootstrap.bootstrap`.
* ``fastchat``: FastChat's method re-implemented in ``fastchat_reference.py`` (unique-outcome
  compression, scipy L-BFGS-B per round, a process pool of ``os.cpu_count()`` workers).
* ``evalica``: ``evalica.bradley_terry`` and ``evalica.bootstrap(..., bootstrap_method=
  "percentile")`` (its Rust solver; the bootstrap resamples battles through scipy).
* ``choix``: ``choix.ilsr_pairwise`` on (winner, loser) pairs (each decisive battle twice, a tie
  once each way, which has the same maximum as ties counted half); its bootstrap is the plain
  loop a user writes (resample battles, refit).
* ``choix-dense``: ``choix.ilsr_pairwise_dense`` on the matrix of wins (ties half), the fast
  way to use choix on counts; its bootstrap redraws the counts from a multinomial, as FastChat.
* ``arena-rank``: LMArena's ``arena_rank`` package, ``PairDataset.from_pandas`` and
  ``BradleyTerry``; its bootstrap is ``compute_ratings_and_cis(ci_method="bootstrap")`` with
  ``n_jobs = os.cpu_count()``.

``--ingest`` also times reading the largest Parquet file to sufficient statistics against
pyarrow alone reading the same three columns; ``--stream-dir DIR`` streams a directory (e.g.
100 M battles from ``make_data.py``) and reports time and peak memory.

Usage (the exact command behind docs/benchmarks.md)::

    .venv-bench/bin/python benchmarks/peers.py --ingest --markdown benchmarks/out/peers.md

and ``--quick`` for a small smoke run (what the test suite does).
"""

from __future__ import annotations

import argparse
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
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # run from a checkout
sys.path.insert(0, HERE)

#: (battles, models) per size.
SIZES = [(10_000, 50), (100_000, 100), (1_000_000, 200), (10_000_000, 300)]
QUICK_SIZES = [(3_000, 8)]
ROUNDS = 1000
QUICK_ROUNDS = 20
TIME_BOX_S = 300.0
QUICK_TIME_BOX_S = 120.0
DATA_SEED = 20240813
#: New battles appended to a saved state in ``--update``.
UPDATE_BATTLES = 100_000
QUICK_UPDATE_BATTLES = 1_000
#: Rounds timed to estimate a bootstrap that the point fit predicts to run past the time box.
PROBE_ROUNDS = 50
#: Newton on the reference stops when the gradient per battle is below this.
REFERENCE_GRAD_TOL = 1e-13
DATA_COLUMNS = ["model_a", "model_b", "winner"]
DEFAULT_DATA_DIR = os.path.join(HERE, "out", "data")

#: peer -> (module it needs, worker processes its bootstrap uses: None = os.cpu_count())
PEERS: dict[str, tuple[str | None, int | None]] = {
    "arena_stats": (None, 1),
    "fastchat": (None, None),
    "evalica": ("evalica", 1),
    "choix": ("choix", 1),
    "choix-dense": ("choix", 1),
    "arena-rank": ("arena_rank", None),
}


# ------------------------------------------------------------------------------ data
def data_file(n_battles: int, n_models: int, directory: str) -> str:
    """The benchmark's Parquet file for one size, written on first use."""
    from make_data import write_file

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"battles_{n_battles}_{n_models}_{DATA_SEED}.parquet")
    if not os.path.exists(path):
        write_file(path, n_battles, n_models, DATA_SEED)
    return path


def load_frame(path: str) -> pd.DataFrame:
    import pyarrow.parquet as pq
    return pq.read_table(path, columns=DATA_COLUMNS).to_pandas()


def _distinct(df: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(models, distinct (a, b, outcome) rows with outcome 0 A, 1 B, 2 tie, counts)."""
    codes, models = pd.factorize(pd.concat([df["model_a"], df["model_b"]]), sort=True)
    n = len(df)
    winner = df["winner"].to_numpy()
    outcome = np.where(winner == "model_a", 0, np.where(winner == "model_b", 1, 2))
    rows = np.column_stack([codes[:n], codes[n:], outcome])
    distinct, counts = np.unique(rows, axis=0, return_counts=True)
    return [str(m) for m in models], distinct, counts.astype(np.float64)


def _elo(theta: np.ndarray, natural: bool = True) -> np.ndarray:
    """Strengths (natural log, or log10 when ``natural`` is false) -> Elo scale centred on 1000."""
    elo = theta * (400.0 / math.log(10.0) if natural else 400.0)
    return elo - elo.mean() + 1000.0


# ------------------------------------------------------------------------------ reference
def reference_ratings(df: pd.DataFrame) -> dict[str, float]:
    """High-precision BT MLE (ties half) by Newton's method, independent of arena_stats."""
    models, rows, counts = _distinct(df)
    m = len(models)
    a, b, o = rows[:, 0], rows[:, 1], rows[:, 2]
    score = np.where(o == 0, 1.0, np.where(o == 1, 0.0, 0.5))  # A's share of the battle
    total = counts.sum()
    theta = np.zeros(m)
    for _ in range(200):
        p = 1.0 / (1.0 + np.exp(-(theta[a] - theta[b])))
        r = counts * (score - p)
        grad = np.bincount(a, r, m) - np.bincount(b, r, m)
        if np.abs(grad).max() / total < REFERENCE_GRAD_TOL:
            break
        w = counts * p * (1 - p)
        hess = np.zeros((m, m))
        np.add.at(hess, (a, b), w)
        np.add.at(hess, (b, a), w)
        hess -= np.diag(hess.sum(axis=1))  # the Hessian of the log-likelihood: minus a Laplacian
        # the Laplacian is singular along 1; adding 11'/m makes the step the sum-zero one
        theta = theta + np.linalg.solve(-hess + np.ones((m, m)) / m, grad)
        theta -= theta.mean()
    else:
        raise RuntimeError("reference Newton did not converge")
    return dict(zip(models, _elo(theta).tolist()))


# ------------------------------------------------------------------------------ the tools
def _arena_stats(df: pd.DataFrame, rounds: int) -> dict[str, float]:
    from arena_stats.inference.bootstrap import bootstrap
    from arena_stats.models.bradley_terry import fit_counts
    from arena_stats.data.stream import stream_pair_counts

    counts = stream_pair_counts(df)
    if rounds:
        fit = bootstrap(counts, rounds=rounds, seed=0).point
    else:
        fit = fit_counts(counts)
    return dict(zip(fit.models, fit.ratings.to_numpy().tolist()))


def _fastchat(df: pd.DataFrame, rounds: int) -> dict[str, float]:
    import fastchat_reference as fc

    point = fc.compute_bt(df)
    if rounds:
        fc.compute_bootstrap_bt(df, rounds, num_cpu=os.cpu_count())
    return {str(k): float(v) for k, v in point.items()}


def _evalica_winners(df: pd.DataFrame) -> np.ndarray:
    winner = df["winner"].to_numpy()
    # evalica.Winner: Draw = 0, X (left) = 1, Y (right) = 2
    return np.where(winner == "model_a", 1, np.where(winner == "model_b", 2, 0)).astype(np.uint8)


def _evalica(df: pd.DataFrame, rounds: int) -> dict[str, float]:
    import evalica

    xs, ys, winners = df["model_a"].to_numpy(), df["model_b"].to_numpy(), _evalica_winners(df)
    fit = evalica.bradley_terry(xs, ys, winners, tie_weight=0.5)
    if rounds:
        evalica.bootstrap(evalica.bradley_terry, xs, ys, winners, tie_weight=0.5, n_resamples=rounds,
                          bootstrap_method="percentile", random_state=0)
    scores = fit.scores
    return dict(zip(map(str, scores.index), _elo(np.log10(scores.to_numpy()), natural=False).tolist()))


def _choix_pairs(df: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    codes, models = pd.factorize(pd.concat([df["model_a"], df["model_b"]]), sort=True)
    n = len(df)
    a, b = codes[:n], codes[n:]
    winner = df["winner"].to_numpy()
    a_won, b_won = winner == "model_a", winner == "model_b"
    tie = ~(a_won | b_won)
    # decisive battles twice, ties once each way: twice the ties-as-half likelihood, same maximum
    pairs = np.concatenate([np.column_stack([a[a_won], b[a_won]])] * 2 + [np.column_stack([b[b_won], a[b_won]])] * 2
                           + [np.column_stack([a[tie], b[tie]]), np.column_stack([b[tie], a[tie]])])
    return [str(m) for m in models], pairs


def _choix(df: pd.DataFrame, rounds: int) -> dict[str, float]:
    import choix

    models, pairs = _choix_pairs(df)
    params = choix.ilsr_pairwise(len(models), pairs)
    if rounds:
        rng = np.random.default_rng(0)
        for _ in range(rounds):
            choix.ilsr_pairwise(len(models), pairs[rng.integers(0, len(pairs), len(pairs))])
    return dict(zip(models, _elo(params).tolist()))


def _wins_matrix(m: int, rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
    a, b, o = rows[:, 0], rows[:, 1], rows[:, 2]
    mat = np.zeros((m, m))
    np.add.at(mat, (a, b), counts * np.where(o == 0, 1.0, np.where(o == 2, 0.5, 0.0)))
    np.add.at(mat, (b, a), counts * np.where(o == 1, 1.0, np.where(o == 2, 0.5, 0.0)))
    return mat


def _choix_dense(df: pd.DataFrame, rounds: int) -> dict[str, float]:
    import choix

    models, rows, counts = _distinct(df)
    m = len(models)
    params = choix.ilsr_pairwise_dense(_wins_matrix(m, rows, counts))
    if rounds:
        draws = np.random.default_rng(0).multinomial(int(counts.sum()), counts / counts.sum(), size=rounds)
        for d in draws:
            choix.ilsr_pairwise_dense(_wins_matrix(m, rows, d.astype(np.float64)))
    return dict(zip(models, _elo(params).tolist()))


def _arena_rank(df: pd.DataFrame, rounds: int) -> dict[str, float]:
    from arena_rank.models.bradley_terry import BradleyTerry
    from arena_rank.utils.data_utils import PairDataset

    data = PairDataset.from_pandas(df)
    model = BradleyTerry(n_competitors=len(data.competitors))
    if rounds:
        # its pool forks by default, which deadlocks under JAX's threads (JAX warns so): spawn
        import multiprocessing
        multiprocessing.set_start_method("spawn", force=True)
        out = model.compute_ratings_and_cis(data, ci_method="bootstrap", num_bootstrap=rounds,
                                            n_jobs=os.cpu_count())
        ratings = np.asarray(out["ratings"])
    else:
        model.fit(data)
        ratings = np.asarray(model.params["ratings"]) * model.alpha + model.init_rating
    return dict(zip(map(str, data.competitors), (ratings - ratings.mean() + 1000.0).tolist()))


TOOLS: dict[str, Callable[[pd.DataFrame, int], dict[str, float]]] = {
    "arena_stats": _arena_stats, "fastchat": _fastchat, "evalica": _evalica, "choix": _choix,
    "choix-dense": _choix_dense, "arena-rank": _arena_rank,
}
#: Imported before the clock starts: import time is not what is measured (JIT compiles are).
MODULES = {
    "arena_stats": ["arena_stats.bootstrap", "arena_stats.models.bradley_terry", "arena_stats.data.stream"],
    "fastchat": ["fastchat_reference"], "evalica": ["evalica"], "choix": ["choix"], "choix-dense": ["choix"],
    "arena-rank": ["arena_rank.models.bradley_terry", "arena_rank.utils.data_utils"],
    "stream_pair_counts": ["arena_stats.data.stream"], "load_battles+aggregate": ["arena_stats.data.aggregate"],
    "duckdb": ["duckdb"], "pyarrow": ["pyarrow.parquet"], "pyarrow-dictionary": ["pyarrow.parquet"],
    "stream": ["arena_stats.data.stream"],
}


# ------------------------------------------------------------------------------ ingest
def _ingest(task: str, path: str) -> dict[str, Any]:
    import pyarrow.parquet as pq

    if task == "pyarrow":
        pq.read_table(path, columns=DATA_COLUMNS)
    elif task == "pyarrow-dictionary":
        pq.read_table(path, columns=DATA_COLUMNS, read_dictionary=DATA_COLUMNS)
    elif task == "stream_pair_counts":
        from arena_stats.data.stream import stream_pair_counts
        stream_pair_counts(path)
    elif task == "load_battles+aggregate":
        from arena_stats import load_battles
        from arena_stats.data.aggregate import aggregate
        aggregate(load_battles(path))
    elif task == "duckdb":
        import duckdb
        source = path if path.endswith(".parquet") else os.path.join(path, "**", "*.parquet")
        duckdb.sql(f"SELECT model_a, model_b, winner, count(*) FROM read_parquet('{source}') GROUP BY ALL").fetchall()
    else:
        raise ValueError(task)
    return {}


INGEST_TASKS = {"pyarrow": None, "pyarrow-dictionary": None, "stream_pair_counts": None,
                "load_battles+aggregate": None, "duckdb": "duckdb"}


# ------------------------------------------------------------------------------ child process
def _peak_mb(workers: int | None) -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    n = workers if workers is not None else (os.cpu_count() or 1)
    return (own + (kids * n if kids else 0)) / 1024.0


def child(kind: str, name: str, path: str, rounds: int) -> dict[str, Any]:
    """One measurement in this (fresh) process; returns seconds, peak MB and ratings."""
    out: dict[str, Any] = {}
    for module in MODULES.get(name, []):
        importlib.import_module(module)
    if kind in ("fit", "boot", "reference"):
        df = load_frame(path)
        start = time.perf_counter()
        if kind == "reference":
            out["ratings"] = reference_ratings(df)
        else:
            out["ratings"] = TOOLS[name](df, rounds if kind == "boot" else 0)
    elif kind == "ingest":
        start = time.perf_counter()
        _ingest(name, path)
    elif kind == "update":
        import shutil

        from arena_stats.scale.state import update_state
        work = path + ".work.npz"
        shutil.copyfile(path, work)  # every run updates the same saved state
        start = time.perf_counter()
        state, fit = update_state(work, name)
        out["seconds"] = time.perf_counter() - start
        out["newton_iterations"] = fit.n_iter
        out["battles"] = state.n_battles
        out["ratings"] = dict(zip(fit.models, fit.ratings.to_numpy().tolist()))
        os.unlink(work)
        name = "update"
    elif kind == "stream-dir":
        from arena_stats.data.stream import stream_pair_counts
        start = time.perf_counter()
        counts = stream_pair_counts(path)
        out["battles"] = counts.n_battles
        out["models"] = counts.n_models
    else:
        raise ValueError(kind)
    out.setdefault("seconds", time.perf_counter() - start)
    out["peak_mb"] = _peak_mb(PEERS.get(name, (None, 1))[1] if kind == "boot" else 1)
    return out


def run_child(kind: str, name: str, path: str, rounds: int, time_box: float) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", kind, name, path, str(rounds)]
    # a session of its own, so that a timeout ends the child's worker pool too
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=time_box)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"status": "timeout", "note": f"stopped after {time_box:.0f} s"}
    if proc.returncode != 0:
        tail = (stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"status": "error", "note": tail[:200]}
    result = json.loads(stdout.strip().splitlines()[-1])
    result["status"] = "ok"
    return result


# ------------------------------------------------------------------------------ the run
def installed(name: str) -> bool:
    module = PEERS[name][0]
    return module is None or importlib.util.find_spec(module) is not None


def max_diff(ratings: dict[str, float], reference: dict[str, float]) -> float:
    common = sorted(set(ratings) & set(reference))
    if len(common) != len(reference):
        return float("nan")
    got = np.array([ratings[m] for m in common])
    want = np.array([reference[m] for m in common])
    return float(np.abs((got - got.mean()) - (want - want.mean())).max())


def bench_size(n: int, m: int, path: str, peers: list[str], rounds: int, time_box: float,
               history: dict[str, dict[str, float]], say: Callable[[str], None]) -> list[dict[str, Any]]:
    ref = run_child("reference", "reference", path, 0, time_box)
    if ref["status"] != "ok":
        raise RuntimeError(f"reference fit failed at {n:,} battles: {ref.get('note')}")
    rows = []
    for peer in peers:
        row: dict[str, Any] = {"battles": n, "models": m, "tool": peer}
        rows.append(row)
        if not installed(peer):
            row["note"] = "not installed"
            continue
        workers = PEERS[peer][1] or os.cpu_count() or 1
        prev = history.get(peer)
        if prev and prev["fit_s"] * n / prev["n"] > time_box:
            row["fit_s_est"] = prev["fit_s"] * n / prev["n"]
            row["boot_s_est"] = row["fit_s_est"] * (rounds + 1) / workers
            row["note"] = f"skipped: point fit est. {row['fit_s_est']:.0f} s > {time_box:.0f} s"
            continue
        fit = run_child("fit", peer, path, 0, time_box)
        if fit["status"] != "ok":
            row["note"] = f"fit {fit['status']}: {fit['note']}"
            continue
        row["fit_s"] = fit["seconds"]
        row["fit_peak_mb"] = fit["peak_mb"]
        row["max_abs_diff"] = max_diff(fit["ratings"], ref["ratings"])
        history[peer] = {"fit_s": fit["seconds"], "n": n}
        say(f"  {peer:<12} fit {fit['seconds']:8.3f} s  max|d| {row['max_abs_diff']:.2e}")
        if not rounds:
            continue
        estimate = fit["seconds"] * (rounds + 1) / workers
        if peer != "arena_stats" and estimate > time_box and rounds > PROBE_ROUNDS:
            # the fit's time overstates a round when preprocessing is shared: time a few rounds
            probe = run_child("boot", peer, path, PROBE_ROUNDS, time_box)
            if probe["status"] == "ok":
                per_round = max(probe["seconds"] - fit["seconds"], 0.0) / PROBE_ROUNDS
                estimate = fit["seconds"] + per_round * rounds
        if peer != "arena_stats" and estimate > time_box:
            row["boot_s_est"] = estimate
            row["note"] = f"bootstrap not run: est. {estimate:.0f} s > {time_box:.0f} s"
            continue
        boot = run_child("boot", peer, path, rounds, time_box)
        if boot["status"] != "ok":
            row["note"] = f"bootstrap {boot['status']}: {boot['note']}"
            row["boot_s_est"] = estimate
            continue
        row["boot_s"] = boot["seconds"]
        row["peak_mb"] = boot["peak_mb"]
        say(f"  {peer:<12} fit+{rounds} rounds {boot['seconds']:8.2f} s  peak {boot['peak_mb']:.0f} MB")
    _ratios(rows)
    return rows


def _ratios(rows: list[dict[str, Any]]) -> None:
    """Each tool's time as a multiple of arena_stats' (measured or estimated)."""
    ours = next((r for r in rows if r["tool"] == "arena_stats"), {})
    for r in rows:
        for key in ("fit", "boot"):
            t = r.get(f"{key}_s", r.get(f"{key}_s_est"))
            if t is not None and ours.get(f"{key}_s"):
                r[f"{key}_ratio"] = t / ours[f"{key}_s"]


def bench_ingest(path: str, time_box: float, say: Callable[[str], None], repeats: int = 3) -> list[dict[str, Any]]:
    rows = []
    for task, module in INGEST_TASKS.items():
        if module and importlib.util.find_spec(module) is None:
            rows.append({"task": task, "note": "not installed"})
            continue
        best: dict[str, Any] | None = None
        for _ in range(repeats):  # best of several: the machine may be shared
            res = run_child("ingest", task, path, 0, time_box)
            if res["status"] != "ok":
                best = {"note": res["note"]}
                break
            if best is None or res["seconds"] < best["seconds"]:
                best = res
        rows.append({"task": task, **(best or {})})
        if best and "seconds" in best:
            say(f"  ingest {task:<24} {best['seconds']:7.3f} s  peak {best['peak_mb']:.0f} MB")
    base = next((r.get("seconds") for r in rows if r["task"] == "pyarrow"), None)
    for r in rows:
        if base and r.get("seconds"):
            r["ratio_to_pyarrow"] = r["seconds"] / base
    return rows


def bench_update(path: str, n_models: int, directory: str, new_battles: int, time_box: float,
                 say: Callable[[str], None]) -> dict[str, Any]:
    """A saved state of the battles in ``path``, updated with ``new_battles`` more: time and equality."""
    from make_data import write_file

    from arena_stats.scale.state import REFIT_TOL, load_state, new_state
    from arena_stats.data.stream import merge_pair_counts, stream_pair_counts

    state_path = os.path.join(directory, os.path.basename(path) + ".state.npz")
    new_path = os.path.join(directory, f"new_{new_battles}_{n_models}.parquet")
    if not os.path.exists(new_path):
        write_file(new_path, new_battles, n_models, DATA_SEED + 1)
    start = time.perf_counter()
    new_state(path).refit()[0].save(state_path)
    built = time.perf_counter() - start
    best: dict[str, Any] | None = None
    for _ in range(3):
        res = run_child("update", new_path, state_path, 0, time_box)
        if res["status"] != "ok":
            return {"note": res["note"]}
        if best is None or res["seconds"] < best["seconds"]:
            best = res
    from arena_stats.models.bradley_terry import fit_counts
    full = fit_counts(merge_pair_counts(load_state(state_path).counts, stream_pair_counts(new_path)), tol=REFIT_TOL)
    diff = max_diff(best.pop("ratings"), dict(zip(full.models, full.ratings.to_numpy().tolist())))
    say(f"  update: {best['seconds']:.3f} s for +{new_battles:,} battles ({best['newton_iterations']} Newton "
        f"iterations); max |d| vs full refit {diff:.1e}")
    return {**best, "state_battles": load_state(state_path).n_battles, "new_battles": new_battles,
            "build_s": built, "max_abs_diff_full_refit": diff}


def _fmt(row: dict[str, Any], key: str, digits: int = 2) -> str:
    if row.get(key) is not None:
        return f"{row[key]:.{digits}f}"
    if row.get(f"{key[:-2]}_s_est") is not None and key.endswith("_s"):
        return f"est. {row[key[:-2] + '_s_est']:.0f}"
    return "-"


def markdown(result: dict[str, Any]) -> str:
    lines = [f"Rounds: {result['rounds']}; time box {result['time_box_s']:.0f} s per measurement; "
             f"{result['machine']}.", "",
             "| battles | models | tool | fit s | x ours | fit + boot s | x ours | peak MB | max abs diff (Elo) | note |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["peers"]:
        ratio = {k: (f"{r[k]:.1f}" if r.get(k) is not None else "-") for k in ("fit_ratio", "boot_ratio")}
        diff = f"{r['max_abs_diff']:.1e}" if r.get("max_abs_diff") is not None else "-"
        peak = f"{r['peak_mb']:.0f}" if r.get("peak_mb") is not None else "-"
        lines.append(f"| {r['battles']:,} | {r['models']} | {r['tool']} | {_fmt(r, 'fit_s', 3)} | {ratio['fit_ratio']} | "
                     f"{_fmt(r, 'boot_s')} | {ratio['boot_ratio']} | {peak} | {diff} | {r.get('note', '')} |")
    if result.get("ingest"):
        lines += ["", f"Ingest of {result['ingest_file']} ({result['ingest_battles']:,} battles):", "",
                  "| task | seconds | x pyarrow | peak MB | note |", "|---|---:|---:|---:|---|"]
        for r in result["ingest"]:
            ratio = f"{r['ratio_to_pyarrow']:.2f}" if r.get("ratio_to_pyarrow") else "-"
            secs = f"{r['seconds']:.3f}" if r.get("seconds") is not None else "-"
            peak = f"{r['peak_mb']:.0f}" if r.get("peak_mb") is not None else "-"
            lines.append(f"| {r['task']} | {secs} | {ratio} | {peak} | {r.get('note', '')} |")
    if result.get("update"):
        u = result["update"]
        if "seconds" in u:
            lines += ["", f"Incremental update: a saved state of {u['state_battles']:,.0f} battles plus "
                      f"{u['new_battles']:,} new battles (load, stream, merge, warm refit, atomic save) in "
                      f"{u['seconds']:.3f} s, {u['newton_iterations']} Newton iterations; max |d| against a full "
                      f"refit {u['max_abs_diff_full_refit']:.1e} Elo (building the state: {u['build_s']:.1f} s)."]
        else:
            lines += ["", f"Incremental update: {u.get('note')}"]
    if result.get("stream_dir"):
        s = result["stream_dir"]
        lines += ["", f"Streaming {s.get('path')}: {s.get('battles', 0):,.0f} battles, {s.get('models')} models in "
                  f"{s.get('seconds', float('nan')):.1f} s, peak RSS {s.get('peak_mb', float('nan')):.0f} MB."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small size, 20 rounds: a smoke run")
    parser.add_argument("--sizes", nargs="*", metavar="N:M", help="battles:models pairs (default 1e4:50 1e5:100 1e6:200 1e7:300)")
    parser.add_argument("--rounds", type=int, help=f"bootstrap rounds (default {ROUNDS}; quick {QUICK_ROUNDS})")
    parser.add_argument("--peers", nargs="*", default=list(PEERS), choices=list(PEERS))
    parser.add_argument("--time-box", type=float, help=f"seconds per measurement (default {TIME_BOX_S:.0f})")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="where the Parquet inputs are cached")
    parser.add_argument("--ingest", action="store_true", help="also time ingest of the largest file")
    parser.add_argument("--update", action="store_true",
                        help="also time updating a saved state of the largest size with 100k new battles")
    parser.add_argument("--stream-dir", metavar="DIR", help="also stream this directory and report peak memory")
    parser.add_argument("--out", default=os.path.join(HERE, "out", "peers.json"), help="JSON results")
    parser.add_argument("--markdown", metavar="FILE", help="also write the tables as markdown")
    parser.add_argument("--child", nargs=4, metavar=("KIND", "NAME", "PATH", "ROUNDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, name, path, rounds = args.child
        print(json.dumps(child(kind, name, path, int(rounds))))
        return 0

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.sizes:
        sizes = [(int(float(s.split(":")[0])), int(s.split(":")[1])) for s in args.sizes]
    else:
        sizes = QUICK_SIZES if args.quick else SIZES
    rounds = args.rounds if args.rounds is not None else (QUICK_ROUNDS if args.quick else ROUNDS)
    time_box = args.time_box or (QUICK_TIME_BOX_S if args.quick else TIME_BOX_S)
    result: dict[str, Any] = {
        "command": " ".join([os.path.relpath(sys.executable)] + sys.argv) if argv is None else "peers.main",
        "rounds": rounds, "time_box_s": time_box,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                   f"numpy {np.__version__}",
        "installed": {p: installed(p) for p in args.peers}, "peers": []}
    history: dict[str, dict[str, float]] = {}
    path = None
    for n, m in sizes:
        say(f"{n:,} battles, {m} models")
        path = data_file(n, m, args.data_dir)
        result["peers"].extend(bench_size(n, m, path, args.peers, rounds, time_box, history, say))
    if args.ingest and path:
        result["ingest_file"] = os.path.basename(path)
        result["ingest_battles"] = sizes[-1][0]
        result["ingest"] = bench_ingest(path, time_box, say, repeats=1 if args.quick else 3)
    if args.update and path:
        result["update"] = bench_update(path, sizes[-1][1], args.data_dir, UPDATE_BATTLES if not args.quick
                                        else QUICK_UPDATE_BATTLES, time_box, say)
    if args.stream_dir:
        res = run_child("stream-dir", "stream", args.stream_dir, 0, max(time_box, 600))
        result["stream_dir"] = {"path": args.stream_dir, **res}
        say(f"  stream {args.stream_dir}: {res}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    table = markdown(result)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
