"""arena_stats: Bradley-Terry leaderboards, bootstrap intervals, online Elo and preference
prediction for pairwise battles.

The names in ``__all__`` are the public API. The core (loading, filtering, the Bradley-Terry
fit, the bootstrap, the leaderboard) is imported with the package; everything else is imported
on first use through :func:`__getattr__` (PEP 562), because several of those modules pull in heavy
libraries (numba for Elo and Glicko-2, matplotlib for the plots, scipy.optimize and statsmodels
for the preference predictor) and ``import arena_stats`` should stay fast.
"""

import os as _os
import sys as _sys

if _os.path.basename(_sys.argv[0] if _sys.argv else "") in ("arena-stats", "-m"):
    # Run as the command line: the bootstrap parallelises across chunks itself, and
    # multi-threaded BLAS on top of that only spins on small matrices (measured: 135 x 135 solves
    # 0.1-0.4 s each on a busy 2-core machine). This must happen before numpy is imported; an
    # explicit setting by the user wins, and library users are left alone.
    from .parallel import BLAS_THREAD_VARS as _BLAS_THREAD_VARS  # stdlib only: before numpy

    for _var in _BLAS_THREAD_VARS:
        _os.environ.setdefault(_var, "1")

from .battles import Battles, filter_battles, load_battles
from .errors import ArenaStatsError, ConvergenceError, InputError, NoMLEError

__version__ = "0.1.0"

__all__ = ["Battles", "load_battles", "filter_battles", "ArenaStatsError", "InputError", "NoMLEError",
           "ConvergenceError", "__version__"]

from .bradley_terry import BTResult, fit_bradley_terry, fit_counts  # noqa: E402

__all__ += ["BTResult", "fit_bradley_terry", "fit_counts"]

from .bootstrap import BootstrapResult, bootstrap  # noqa: E402
from .leaderboard import leaderboard  # noqa: E402

__all__ += ["BootstrapResult", "bootstrap", "leaderboard"]

#: Imported on first access: public name -> submodule that defines it. The module named here is
#: only imported when one of its names is used (``arena_stats.plot_leaderboard`` imports
#: matplotlib, not ``import arena_stats``; numba loads on the first compiled Elo call).
_LAZY = {
    # aggregated pair counts and streaming larger-than-memory files into them
    "PairCounts": "aggregate",
    "stream_pair_counts": "stream",
    "merge_pair_counts": "stream",
    # the simulated arena (the bundled example)
    "SimulatedArena": "simulate",
    "simulate_arena": "simulate",
    # online Elo and Glicko-2 (numba when installed)
    "EloResult": "elo",
    "EloBootstrapResult": "elo",
    "compute_elo": "elo",
    "elo_bootstrap": "elo",
    "GlickoResult": "glicko",
    "glicko2": "glicko",
    "glicko2_update": "glicko",
    # ratings through time
    "RatingsOverTime": "over_time",
    "ratings_over_time": "over_time",
    # incremental state
    "ArenaState": "state",
    "new_state": "state",
    "load_state": "state",
    "update_state": "state",
    # category boards, covariates (style control), both-bad ties, pair re-weighting
    "CategoryBoards": "categories",
    "category_leaderboards": "categories",
    "ContextualResult": "contextual",
    "ContextualBootstrap": "contextual",
    "fit_contextual": "contextual",
    "bootstrap_contextual": "contextual",
    "contextual_leaderboard": "contextual",
    "add_style_features": "style",
    "BothBadResult": "bothbad",
    "fit_bothbad": "bothbad",
    "tie_model_comparison": "bothbad",
    "reweight_pairs": "reweight",
    # Dask (dask itself is imported only when these run)
    "pair_counts_dask": "distributed",
    "fit_dask": "distributed",
    "bootstrap_dask": "distributed",
    "fit_contextual_dask": "distributed",
    # plots (matplotlib)
    "plot_leaderboard": "plots",
    "plot_win_fraction": "plots",
    "plot_battle_counts": "plots",
    "plot_win_probability": "plots",
    "plot_calibration": "plots",
    "plot_ratings_over_time": "plots",
    "plot_bootstrap": "plots",
    # the preference predictor (scipy.optimize, statsmodels)
    "PreferencePredictor": "predictor",
    "EvaluationResult": "predictor",
}

__all__ += list(_LAZY)


def __getattr__(name: str):  # noqa: ANN202
    """Import the submodule that defines a lazily exported name (PEP 562) and cache the name."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
