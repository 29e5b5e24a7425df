"""arena_stats: Bradley-Terry leaderboards, bootstrap intervals, online Elo and preference
prediction for pairwise battles."""

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
