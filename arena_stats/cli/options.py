"""Model, interval and display options shared by the subcommands, in the one vocabulary.

Every subcommand that fits or draws a board takes the same options with the same names as the
API keywords (``docs/contributing.md``): ``--ties``, ``--l2``, ``--scale``, ``--base``,
``--init``, ``--anchor``, ``--reference``, ``--ci``, ``--rounds``, ``--seed``, ``--confidence``,
``--cluster``, ``--top``. Old spellings stay as aliases (``--prior`` for ``--l2``,
``--bootstrap`` for ``--rounds``, ``--top-k`` for ``--top``). Defaults come from the library's
constants, never from numbers written here, and every value is validated by the library's own
checks (:mod:`arena_stats._util.checks`) when the functions run.
"""

from __future__ import annotations

import argparse
from typing import Any

from .._util import checks
from ..errors import InputError
from ..inference.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_ROUNDS
from ..models.elo_scale import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE
from ..models.families import TIES
from .common import say

__all__ = ["add_fit_args", "add_interval_args", "add_top_arg", "parse_anchor", "fit_kwargs", "interval_kwargs",
           "CI_CHOICES", "progress_wanted", "report_fit"]

CI_CHOICES = ("bootstrap", "sandwich", "fisher", "none")


def add_fit_args(parser: argparse.ArgumentParser, *, reference: bool = True) -> None:
    """``--ties --l2 --scale --base --init --anchor [--reference]``."""
    g = parser.add_argument_group("model")
    g.add_argument("--ties", choices=TIES, default="half",
                   help="how ties enter the fit: half (a tie is half a win each way; LMSYS, default), "
                        "drop, davidson or rao-kupper (tie parameter estimated)")
    g.add_argument("--l2", "--prior", dest="l2", type=float, default=0.0, metavar="L2",
                   help="Gaussian prior (L2 penalty) on the natural-scale strengths (default 0: the plain MLE); "
                        "--prior is the old spelling")
    g.add_argument("--scale", type=float, default=DEFAULT_SCALE, help=f"Elo scale (default {DEFAULT_SCALE:g})")
    g.add_argument("--base", type=float, default=DEFAULT_BASE, help=f"Elo base (default {DEFAULT_BASE:g})")
    g.add_argument("--init", type=float, default=DEFAULT_INIT, help=f"mean rating (default {DEFAULT_INIT:g})")
    g.add_argument("--anchor", metavar="MODEL=RATING",
                   help="shift every rating so that MODEL has RATING (a pure shift: intervals and ranks "
                        "do not change)")
    if reference:
        g.add_argument("--reference", metavar="MODEL",
                       help="also report each model's difference from MODEL with its interval "
                            "(columns diff, diff_ci_lower, diff_ci_upper)")


def add_interval_args(parser: argparse.ArgumentParser, *, ci_default: str = "bootstrap",
                      cluster: bool = True) -> None:
    """``--ci --rounds (--bootstrap) --seed --confidence [--cluster]``."""
    g = parser.add_argument_group("uncertainty")
    g.add_argument("--ci", choices=CI_CHOICES, default=ci_default,
                   help="interval method: bootstrap (percentile, on counts), sandwich (closed form, robust), "
                        f"fisher (closed form), none (default {ci_default})")
    g.add_argument("--rounds", "--bootstrap", dest="rounds", type=float, default=DEFAULT_ROUNDS, metavar="N",
                   help=f"bootstrap rounds (default {DEFAULT_ROUNDS}); --bootstrap is the old spelling")
    g.add_argument("--seed", default="0", help="random seed of the bootstrap, a whole number >= 0 (default 0)")
    g.add_argument("--confidence", type=float, default=DEFAULT_CONFIDENCE,
                   help=f"interval level, strictly between 0 and 1 (default {DEFAULT_CONFIDENCE})")
    g.add_argument("--memory", metavar="SIZE",
                   help="memory budget of the bootstrap, e.g. 2G or 500M (default: half the available memory); "
                        "larger requests spill the samples to a temporary file, impossible ones are refused")
    if cluster:
        g.add_argument("--cluster", metavar="COLUMN",
                       help="resample whole clusters of this column (voter, prompt, ...); the sandwich sums "
                            "scores within clusters")


def add_top_arg(parser: Any, help_text: str = "only the best K models") -> None:
    """``--top K`` (old spelling ``--top-k``)."""
    parser.add_argument("--top", "--top-k", dest="top", type=float, default=None, metavar="K", help=help_text)


def top_value(args: argparse.Namespace) -> int | None:
    """The validated ``--top`` (a whole number of at least 1), or None."""
    top = getattr(args, "top", None)
    return None if top is None else checks.integer("top", top, 1)


def parse_anchor(text: str | None) -> dict[str, float] | None:
    """``MODEL=RATING`` as ``{model: rating}`` (the rating validated finite)."""
    if not text:
        return None
    if "=" not in text:
        raise InputError(f"--anchor {text[:80]!r} must look like MODEL=RATING")
    name, value = text.rsplit("=", 1)
    return {name.strip(): checks.finite("anchor rating", value.strip() or "nan")}


def fit_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The fit options as the API's keywords: ``ties, l2, scale, base, init, anchor``.

    The rating scale's values are checked here, before any file is read (whether the anchor's
    model exists can only be checked after).
    """
    from ..models.elo_scale import EloScale
    anchor = parse_anchor(args.anchor)
    EloScale(args.scale, args.base, args.init, anchor)  # raises InputError on a bad value
    return dict(ties=args.ties, l2=checks.non_negative("l2", args.l2), scale=args.scale, base=args.base,
                init=args.init, anchor=anchor)


def progress_wanted(args: argparse.Namespace) -> bool:
    import sys
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def interval_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The interval options as the API's keywords: ``ci, rounds, seed, confidence, cluster``.

    ``rounds`` is validated only when a bootstrap will run.
    """
    rounds = checks.integer("rounds", args.rounds, 1, checks.MAX_ROUNDS) if args.ci == "bootstrap" else \
        DEFAULT_ROUNDS
    from ..inference.samples import parse_memory
    memory = getattr(args, "memory", None)
    return dict(ci=args.ci, rounds=rounds, seed=checks.seed(args.seed),
                confidence=checks.probability("confidence", args.confidence),
                cluster=getattr(args, "cluster", None), memory=None if memory is None else parse_memory(memory))


def report_fit(args: argparse.Namespace, board: Any) -> None:
    """Status lines about a board on stderr: the tie parameter, degenerate bootstrap rounds."""
    fit = board.fit
    if fit.tie_param is not None:
        name = "nu" if fit.ties == "davidson" else "eta"
        say(args, f"tie parameter {name} = {fit.tie_param:.4f} (se {fit.tie_param_se:.4f})")
    boot = board.bootstrap
    if boot is not None and boot.n_degenerate:
        say(args, f"warning: {boot.n_degenerate} bootstrap rounds had no finite MLE (a model never won or never "
                  "lost in the resample); they were fitted with a tiny ridge")
