"""arena_stats: Bradley-Terry leaderboards, bootstrap intervals, online Elo and preference
prediction for pairwise battles."""

import os as _os
import sys as _sys

if _os.path.basename(_sys.argv[0] if _sys.argv else "") in ("arena-stats", "-m"):
    # Run as the command line: the bootstrap parallelises across chunks itself, and
    # multi-threaded BLAS on top of that only spins on small matrices (measured: 135 x 135 solves
    # 0.1-0.4 s each on a busy 2-core machine). This must happen before numpy is imported; an
    # explicit setting by the user wins, and library users are left alone.
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        _os.environ.setdefault(_var, "1")

from .battles import Battles, filter_battles, load_battles
from .errors import ArenaStatsError, InputError, NoMLEError

__version__ = "0.1.0"

__all__ = ["Battles", "load_battles", "filter_battles", "ArenaStatsError", "InputError", "NoMLEError",
           "__version__"]

from .bradley_terry import BTResult, fit_bradley_terry  # noqa: E402

__all__ += ["BTResult", "fit_bradley_terry"]

from .bootstrap import BootstrapResult, bootstrap  # noqa: E402
from .leaderboard import leaderboard  # noqa: E402

__all__ += ["BootstrapResult", "bootstrap", "leaderboard"]
