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
    from ._util.parallel import BLAS_THREAD_VARS as _BLAS_THREAD_VARS  # stdlib only: before numpy

    for _var in _BLAS_THREAD_VARS:
        _os.environ.setdefault(_var, "1")

from .data.battles import Battles, filter_battles
from .data.readers import load_battles
from .errors import (
    ArenaStatsError,
    ConvergenceError,
    InputError,
    LookalikeNameWarning,
    NameMergeWarning,
    NameWarning,
    NoMLEError,
    OutputError,
)

__version__ = "0.1.0"

__all__ = ["Battles", "load_battles", "filter_battles", "ArenaStatsError", "InputError", "OutputError",
           "NoMLEError", "ConvergenceError", "NameWarning", "NameMergeWarning", "LookalikeNameWarning",
           "__version__"]

from .models.bradley_terry import BTResult, fit_bradley_terry, fit_counts  # noqa: E402

__all__ += ["BTResult", "fit_bradley_terry", "fit_counts"]

from .boards.leaderboard import leaderboard  # noqa: E402
from .inference.bootstrap import BootstrapResult, bootstrap  # noqa: E402

__all__ += ["BootstrapResult", "bootstrap", "leaderboard"]

from . import _compat  # noqa: E402

_compat.install()  # the flat module paths of earlier releases (arena_stats.models.bradley_terry ...)

#: Imported on first access: public name -> submodule that defines it. The module named here is
#: only imported when one of its names is used (``arena_stats.plot_leaderboard`` imports
#: matplotlib, not ``import arena_stats``; numba loads on the first compiled Elo call).
_LAZY = {
    # aggregated pair counts and streaming larger-than-memory files into them
    "PairCounts": "data.aggregate",
    "stream_pair_counts": "data.stream",
    "merge_pair_counts": "data.stream",
    # the simulated arena (the bundled example)
    "SimulatedArena": "data.simulate",
    "simulate_arena": "data.simulate",
    # online Elo and Glicko-2 (numba when installed)
    "EloResult": "online.elo",
    "EloBootstrapResult": "online.elo",
    "compute_elo": "online.elo",
    "elo_bootstrap": "online.elo",
    "GlickoResult": "online.glicko",
    "glicko2": "online.glicko",
    "glicko2_update": "online.glicko",
    # ratings through time
    "RatingsOverTime": "boards.over_time",
    "ratings_over_time": "boards.over_time",
    # incremental state
    "ArenaState": "scale.state",
    "new_state": "scale.state",
    "load_state": "scale.state",
    "update_state": "scale.state",
    # category boards, covariates (style control), both-bad ties, pair re-weighting
    "CategoryBoards": "boards.categories",
    "category_leaderboards": "boards.categories",
    "ContextualResult": "models.contextual",
    "ContextualBootstrap": "inference.contextual_bootstrap",
    "fit_contextual": "models.contextual",
    "bootstrap_contextual": "inference.contextual_bootstrap",
    "contextual_leaderboard": "boards.leaderboard",
    "Leaderboard": "boards.leaderboard",
    "add_style_features": "features.style",
    "BothBadResult": "models.bothbad",
    "fit_bothbad": "models.bothbad",
    "tie_model_comparison": "models.bothbad",
    "reweight_pairs": "data.reweight",
    # Dask (dask itself is imported only when these run)
    "pair_counts_dask": "scale.distributed",
    "fit_dask": "scale.distributed",
    "bootstrap_dask": "scale.distributed",
    "fit_contextual_dask": "scale.distributed",
    # plots (matplotlib)
    "plot_leaderboard": "plots",
    "plot_win_fraction": "plots",
    "plot_battle_counts": "plots",
    "plot_win_probability": "plots",
    "plot_calibration": "plots",
    "plot_ratings_over_time": "plots",
    "plot_bootstrap": "plots",
    # the preference predictor (scipy.optimize, statsmodels)
    "ComponentBoards": "boards.components",
    "component_leaderboards": "boards.components",
    "comparison_components": "boards.components",
    "Audit": "boards.audit",
    "audit": "boards.audit",
    "Separation": "inference.simultaneous",
    "separation": "inference.simultaneous",
    "QuasiVariances": "inference.quasi",
    "quasi_variances": "inference.quasi",
    "SamplingPlan": "inference.planning",
    "next_pairs": "inference.planning",
    "battles_needed": "inference.planning",
    "simulate_policies": "inference.planning",
    "Report": "report",
    "build_report": "report",

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
