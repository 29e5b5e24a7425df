"""The peer benchmark runs end to end in quick mode, so it cannot rot; its reference fit is right."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_quick_benchmark_runs_and_arena_stats_matches_the_reference(tmp_path):
    out = tmp_path / "peers.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "peers.py"), "--quick", "--rounds", "10", "--ingest", "--update", "--out", str(out),
         "--data-dir", str(tmp_path / "data"), "--markdown", str(tmp_path / "peers.md")],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    rows = {r["tool"]: r for r in result["peers"]}
    assert set(rows) == {"arena_stats", "fastchat", "evalica", "choix", "choix-dense", "arena-rank"}
    ours = rows["arena_stats"]
    assert ours["max_abs_diff"] < 1e-6 and ours["boot_s"] > 0 and ours["peak_mb"] > 0
    assert rows["fastchat"]["fit_s"] > 0  # the re-implementation needs only numpy/scipy
    for tool, row in rows.items():
        # a peer that is not installed is skipped inside the script, never a failure
        assert row.get("fit_s") is not None or row["note"] == "not installed", (tool, row)
    tasks = {r["task"]: r for r in result["ingest"]}
    assert tasks["stream_pair_counts"]["seconds"] > 0 and tasks["pyarrow"]["seconds"] > 0
    assert result["update"]["max_abs_diff_full_refit"] < 1e-9  # the incremental path equals a full refit
    assert "| arena_stats |" in (tmp_path / "peers.md").read_text()


def test_reference_fit_agrees_with_an_independent_fit():
    sys.path.insert(0, str(BENCH))
    try:
        import peers
    finally:
        sys.path.remove(str(BENCH))
    from arena_stats.data.simulate import simulate_arena
    from arena_stats.models.bradley_terry import fit_bradley_terry

    frame = simulate_arena(n_models=9, n_battles=4000, seed=12).battles.to_frame()
    ref = peers.reference_ratings(frame)
    fit = fit_bradley_terry(frame, tol=1e-14)
    np.testing.assert_allclose([ref[m] for m in fit.models], fit.ratings.to_numpy(), rtol=0, atol=1e-9)
    assert peers.max_diff(dict(zip(fit.models, fit.ratings)), ref) < 1e-9
    assert np.isnan(peers.max_diff({"model-000": 1000.0}, ref))  # a missing model is never a match


@pytest.mark.parametrize("module", ["fastchat_reference"])
def test_fastchat_reimplementation_matches_the_mle_to_its_own_tolerance(module):
    sys.path.insert(0, str(BENCH))
    try:
        fc = __import__(module)
    finally:
        sys.path.remove(str(BENCH))
    from arena_stats.data.simulate import simulate_arena
    from arena_stats.models.bradley_terry import fit_bradley_terry

    frame = simulate_arena(n_models=6, n_battles=3000, seed=2).battles.to_frame()
    point = fc.compute_bt(frame)
    fit = fit_bradley_terry(frame, tol=1e-14)
    # L-BFGS-B stopped at gtol=1e-6 on the summed loss: close, not exact
    assert np.abs(point[fit.models].to_numpy() - fit.ratings.to_numpy()).max() < 0.05
    boot = fc.compute_bootstrap_bt(frame, 8, num_cpu=1)
    assert boot.shape == (8, 6) and list(boot.columns) == list(boot.median().sort_values(ascending=False).index)


def test_quick_sparse_benchmark_runs_and_skips_absent_peers(tmp_path):
    """bench_sparse.py --quick: seconds, no shared data; the peers run only from .venv-bench."""
    venv = BENCH.parent / ".venv-bench" / "bin" / "python"
    cmd = [str(venv)] if venv.exists() else [sys.executable]
    cmd += [str(BENCH / "bench_sparse.py"), "--quick", "--out", str(tmp_path / "sparse.json"),
            "--data-dir", str(tmp_path / "data"), "--markdown", str(tmp_path / "sparse.md")]
    if not venv.exists():
        cmd += ["--tools", "arena_stats"]  # no peers' environment: arena_stats alone
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / "sparse.json").read_text())
    assert {r["data"] for r in result["rows"]} == {"nearby 1,200 x 5,000"}  # no ATP in --quick
    rows = {r["tool"]: r for r in result["rows"]}
    ours = rows["arena_stats"]
    assert ours["fit_s"] > 0 and ours["boot_s"] > 0 and ours["peak_mb"] > 0 and ours["rounds"] == 20
    assert ours["degenerate"] == 0 and ours["battles"] == 5000 and ours["models"] == 1200
    for tool, row in rows.items():
        # a peer that is not installed is skipped inside the script, never a failure
        assert row.get("fit_s") is not None or row["note"] == "not installed", (tool, row)
    if rows.get("choix-opt", {}).get("fit_s") is not None:
        assert rows["choix-opt"]["max_abs_diff"] < 0.01  # the same penalised objective at alpha = l2
    assert "| arena_stats | 0.01 |" in (tmp_path / "sparse.md").read_text()


def test_nearby_arena_is_seeded_and_never_pits_a_contestant_against_itself():
    sys.path.insert(0, str(BENCH))
    try:
        import bench_sparse
    finally:
        sys.path.remove(str(BENCH))
    table = bench_sparse.nearby(40, 4000, spread=3, seed=5).to_pandas()
    assert table.equals(bench_sparse.nearby(40, 4000, spread=3, seed=5).to_pandas())
    assert list(table.columns) == ["model_a", "model_b", "winner"]
    assert (table["model_a"] != table["model_b"]).all()
    assert set(table["winner"]) == {"model_a", "model_b", "tie"}
    assert abs((table["winner"] == "tie").mean() - 0.1) < 0.02
    gap = (table["model_a"].str[1:].astype(int) - table["model_b"].str[1:].astype(int)).abs()
    assert gap.max() <= 15  # nearby opponents only: 5 standard deviations of the offset
