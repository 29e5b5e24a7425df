"""Layer 8, report: the leaderboard page people can publish (one self-contained HTML file)."""

from .page import Report, build_report

__all__ = ["Report", "build_report"]
