"""A saved state of sufficient statistics: append new battles, refit warm-started.

A Bradley-Terry fit needs only the counts per (pair, verdict) cell
(:class:`~arena_stats.data.aggregate.PairCounts`), so a leaderboard over a growing log never needs
the old battles again: keep the counts, add the new battles' counts, refit. The refit starts
from the previous strengths (new models start at the mean), which are already close, so Newton
needs one to three iterations; and because the likelihood is the same, the result equals a fit
on all battles from scratch (to well below 1e-9 Elo; see :data:`REFIT_TOL`).

The on-disk format is a single NumPy ``.npz`` archive (a zip of ``.npy`` arrays), read with
``allow_pickle=False`` so that loading a state can never execute code. It holds:

================  ========  ======================================================================
member            dtype     content
================  ========  ======================================================================
``meta``          uint8     UTF-8 JSON: ``format`` (``"arena-stats-state"``), ``version`` (1),
                            ``models`` (list of names, sorted), ``settings`` (fit settings:
                            ``ties, l2, scale, base, init, anchor``; ``fold_case`` when names are
                            folded), ``history`` (one record per update: UTC time, sources,
                            battles added, ``sha256`` of every file added, rows dropped as
                            invalid), ``n_battles``
``i``, ``j``      int64     the compared pairs, ``i < j``, indices into ``models``
``cell_pair``     int64     for each cell, its pair
``cell_outcome``  int64     0: ``i`` won, 1: ``j`` won, 2: tie, 3: tie (bothbad)
``cell_count``    float64   battles in the cell
``cell_weight``   float64   per-battle weight of the cell (1 unless weights were given)
``theta``         float64   the last fit's natural-scale strengths (empty before the first fit)
``tie``           float64   the last fit's log tie parameter (Davidson / Rao-Kupper), else empty
================  ========  ======================================================================

Every member is checked on load (types, shapes, index ranges, finite non-negative counts, the
settings and the history records); a file that fails any check raises
:class:`~arena_stats.errors.InputError`. Writes are atomic.

**The same file twice.** Adding a log twice counts its battles twice, and nothing in the counts
shows it. So every file added is fingerprinted (SHA-256 of its bytes, :data:`FINGERPRINT`),
the fingerprint is kept in the history, and a file whose fingerprint is already there, or that
is given twice in one update, is refused unless ``allow_duplicate=True`` (``--allow-duplicate``).
Hashing reads the file once more, from the page cache once the check has read it; it runs at
about 1.5 GB/s, a small cost next to parsing (``docs/scale.md``). States written before
fingerprints existed load as before; their files are simply not known.

**Names.** New battles are read with the name policy of :mod:`arena_stats.data.names`. A state
created with ``fold_case=True`` keeps folding look-alike names on every update (the setting is
saved); giving ``fold_case=True`` to an update of a state without it folds from then on, the
state's own names included.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import math
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .._util.io import atomic_write
from ..data.aggregate import PairCounts
from ..data.names import fold_map, warn_lookalikes
from ..data.readers import input_files
from ..data.stream import merge_pair_counts, reduce_sources, stream_options
from ..errors import ConvergenceError, InputError, shorten
from ..models.bradley_terry import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE, STEP_TOL, TIES, BTResult, fit_counts

__all__ = ["ArenaState", "STATE_FORMAT", "STATE_VERSION", "REFIT_TOL", "FINGERPRINT", "new_state", "load_state",
           "update_state", "fingerprint"]

STATE_FORMAT = "arena-stats-state"
STATE_VERSION = 1
#: Step tolerance of the refit: the engine's own (no parameter's Newton step above 1e-8, and
#: that last step taken), which lands a warm and a cold start on the same point to round-off
#: (Newton converges quadratically); if rounding ever stops it short, the refit falls back to a
#: cold start.
REFIT_TOL = STEP_TOL
_INT_MEMBERS = ("i", "j", "cell_pair", "cell_outcome")
_FLOAT_MEMBERS = ("cell_count", "cell_weight", "theta", "tie")
#: The content fingerprint of every file added: its name in the history records, and the hash.
FINGERPRINT = "sha256"
#: Bytes read per hashing step: large enough for hashlib's full speed, small in memory.
HASH_CHUNK_BYTES = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NUMERIC_SETTINGS = ("l2", "scale", "base", "init")


def fingerprint(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (as stored: a compressed file is hashed compressed).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "b.csv")
    >>> _ = open(path, "w").write("model_a,model_b,winner\\n")
    >>> fingerprint(path)[:16]
    '55d1bad04d12afea'
    """
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(HASH_CHUNK_BYTES):
                h.update(chunk)
    except OSError as exc:
        raise InputError(f"could not read: {exc.strerror or exc}", file=os.fspath(path)) from None
    return h.hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class ArenaState:
    """Sufficient statistics of every battle seen so far, and the last fit.

    Attributes
    ----------
    counts : PairCounts
        All battles, as counts per (pair, verdict) cell.
    settings : dict
        Fit settings used by :meth:`refit`: ``ties, l2, scale, base, init, anchor``.
    theta : ndarray or None
        Natural-scale strengths of the last fit, aligned with ``counts.models``.
    log_tie : float or None
        Log tie parameter of the last fit (Davidson / Rao-Kupper).
    history : tuple of dict
        One record per update: ``time`` (UTC), ``sources``, ``battles`` added.

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> frame = simulate_arena(n_models=6, n_battles=4000, seed=3).battles.to_frame()
    >>> state = new_state(frame.iloc[:3000])
    >>> state, fit = state.append(frame.iloc[3000:]).refit()
    >>> state.counts.n_battles
    4000
    """

    counts: PairCounts
    settings: dict[str, Any] = field(default_factory=dict)
    theta: np.ndarray | None = None
    log_tie: float | None = None
    history: tuple[dict[str, Any], ...] = ()

    @property
    def models(self) -> list[str]:
        return list(self.counts.models)

    @property
    def n_battles(self) -> int | float:
        return self.counts.n_battles

    # ------------------------------------------------------------------ updating
    def fingerprints(self) -> dict[str, dict[str, Any]]:
        """Every file fingerprint in the history -> ``{"source", "time"}`` of the update that added it."""
        out: dict[str, dict[str, Any]] = {}
        for rec in self.history:
            for source, digest in (rec.get(FINGERPRINT) or {}).items():
                out.setdefault(digest, {"source": source, "time": rec.get("time")})
        return out

    def append(self, *new: Any, label: str | None = None, allow_duplicate: bool = False,
               **read_options: Any) -> ArenaState:
        """The state with more battles added (files, directories, DataFrames, Battles, PairCounts).

        ``read_options`` go to :func:`~arena_stats.data.stream.stream_pair_counts` (schema, column
        names, weights, ``drop_invalid``, ``fold_case`` ...); files are streamed, so the new battles
        may be larger than memory.

        Raises
        ------
        InputError
            When a file was added before (same SHA-256) or is given twice, unless
            ``allow_duplicate``.
        """
        fold = bool(read_options.pop("fold_case", False)) or bool(self.settings.get("fold_case"))
        items = input_files(list(new))
        digests = _check_duplicates(items, self.fingerprints(), allow_duplicate)
        log, added, unfolded = _read(items, dict(read_options, fold_case=fold))
        counts = merge_pair_counts(replace(self.counts, fold_case=fold), added, fold_case=fold)
        _warn_names(log, counts.models, self.models + unfolded, fold)
        record = _record([label] if label else _describe(new), added, digests)
        settings = dict(self.settings, fold_case=True) if fold else self.settings
        return replace(self, counts=replace(counts, steps=()), settings=settings, history=self.history + (record,))

    def start_point(self) -> np.ndarray | None:
        """Previous strengths mapped onto the current models (new models at the mean), or None."""
        if self.theta is None:
            return None
        old = dict(zip(self._fitted_models, self.theta))
        x0 = np.array([old.get(m, 0.0) for m in self.counts.models])
        x0 -= x0.mean()
        if self.settings.get("ties") in ("davidson", "rao-kupper"):
            x0 = np.append(x0, self.log_tie if self.log_tie is not None else 0.0)
        return x0

    @property
    def _fitted_models(self) -> list[str]:
        return list(self.settings.get("fitted_models", self.counts.models))

    def refit(self, tol: float = REFIT_TOL) -> tuple[ArenaState, BTResult]:
        """Fit on all counts, warm-started at the last fit; returns the new state and the fit."""
        s = self.settings
        x0 = self.start_point()
        fit_settings = {k: s[k] for k in ("l2", "scale", "base", "init", "anchor") if k in s}
        try:
            fit = fit_counts(self.counts, s.get("ties", "half"), tol=tol, x0=x0, **fit_settings)
        except ConvergenceError:
            # rounding kept Newton above the tolerance: the library default decides, cold
            fit = fit_counts(self.counts, s.get("ties", "half"), **fit_settings)
        settings = dict(s, fitted_models=list(fit.models))
        state = replace(self, theta=np.asarray(fit.theta, float).copy(), log_tie=fit.log_tie, settings=settings)
        return state, fit

    # ------------------------------------------------------------------ disk
    def save(self, path: str | os.PathLike) -> None:
        """Write the state atomically as an ``.npz`` archive (see the module docstring)."""
        pc = self.counts
        settings = {k: v for k, v in self.settings.items() if k != "fitted_models"}
        meta = {"format": STATE_FORMAT, "version": STATE_VERSION, "models": list(pc.models),
                "settings": settings, "history": list(self.history), "n_battles": pc.n_battles}
        theta = np.zeros(0) if self.theta is None else np.asarray(self.theta, np.float64)
        start = self.start_point()
        if start is not None and self._fitted_models != list(pc.models):
            # strengths of an older model list: keep them by name on the current list
            theta = start[: pc.n_models]
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
                  "i": pc.i, "j": pc.j, "cell_pair": pc.cell_pair, "cell_outcome": pc.cell_outcome,
                  "cell_count": pc.cell_count, "cell_weight": pc.cell_weight, "theta": theta,
                  "tie": np.zeros(0) if self.log_tie is None else np.array([self.log_tie])}
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
        with atomic_write(path, "wb") as fh:
            fh.write(buf.getvalue())

    def to_frame(self) -> pd.DataFrame:
        """One row per model: battles, and the last fit's strength (NaN before the first fit)."""
        from ..data.aggregate import model_totals
        frame = model_totals(self.counts).reset_index()
        start = self.start_point()
        frame["theta"] = np.nan if start is None else start[: self.counts.n_models]
        return frame

    def summary(self) -> str:
        s = self.settings
        lines = [f"arena-stats state: {self.n_battles:,.0f} battles, {self.counts.n_models} models, "
                 f"{self.counts.n_pairs:,} pairs, {len(self.counts.cell_count):,} cells",
                 f"fit settings: ties={s.get('ties', 'half')}, l2={s.get('l2', 0.0)}, scale={s.get('scale')}, "
                 f"base={s.get('base')}, init={s.get('init')}, anchor={s.get('anchor')}",
                 "last fit: " + ("none yet" if self.theta is None else "stored (warm start for the next refit)"),
                 f"updates: {len(self.history)}"]
        for rec in self.history[-5:]:
            lines.append(f"  {rec.get('time')}: +{rec.get('battles', 0):,.0f} battles from "
                         f"{', '.join(map(str, rec.get('sources', [])))}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _describe(items: tuple[Any, ...]) -> list[str]:
    out = []
    for item in items:
        for x in (item if isinstance(item, (list, tuple)) else [item]):
            out.append(os.fspath(x) if isinstance(x, (str, os.PathLike)) else f"<{type(x).__name__}>")
    return out


def _check_duplicates(items: Sequence[Any], known: Mapping[str, Mapping[str, Any]],
                      allow_duplicate: bool) -> dict[str, str]:
    """Fingerprints of the file inputs; one already in the state, or given twice, is refused."""
    digests: dict[str, str] = {}
    seen: dict[str, str] = {}
    for item in items:
        if not isinstance(item, str):
            continue
        digest = fingerprint(item)
        if not allow_duplicate:
            if digest in known:
                when = known[digest]
                raise InputError(f"this file was already added to the state (on {when.get('time')}, as "
                                 f"{shorten(str(when.get('source')))}; same SHA-256 {digest[:12]}...): its battles "
                                 "would count twice. allow_duplicate=True (--allow-duplicate) adds it again",
                                 file=item)
            if digest in seen:
                raise InputError(f"the same content is given twice in this update (also as {shorten(seen[digest])}; "
                                 "SHA-256 {digest[:12]}...): its battles would count twice. allow_duplicate=True "
                                 "(--allow-duplicate) adds it twice", file=item)
        seen[digest] = item
        digests[item] = digest
    return digests


def _read(items: Sequence[Any], read_options: Mapping[str, Any]) -> tuple[Any, PairCounts, list[str]]:
    """Stream the new battles (as ``stream_pair_counts``, whose warnings would cover the new names
    only): the names log, the counts, and the names as read before any folding, so that the
    warnings can cover the whole state."""
    options = dict(read_options)
    progress = bool(options.pop("progress", False))
    acc, counts = reduce_sources(items, (), stream_options(**options), progress)
    return acc.log, counts, acc._used_names()


def _warn_names(log: Any, merged: Sequence[str], unfolded: Sequence[str], fold: bool) -> None:
    """The name warnings of an update, over the state's names and the new ones together:
    ``merged`` the names of the result, ``unfolded`` every name as read (before ``fold_case``)."""
    log.warn(stacklevel=4)
    if fold:
        folded = fold_map(sorted(set(unfolded)))
        if folded:
            warn_lookalikes(folded, folded=folded, stacklevel=4)
    else:
        warn_lookalikes(merged, stacklevel=4)


def _record(sources: list[str], added: PairCounts, digests: Mapping[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {"time": _now(), "sources": sources, "battles": added.n_battles}
    if digests:
        record[FINGERPRINT] = dict(digests)
    for step in added.steps:
        if step.name == "drop-invalid":
            record["dropped"] = {k: n for k, n in step.by_kind if n}
            record["filters"] = [str(step)]
    return record


def new_state(*battles: Any, ties: str = "half", l2: float = 0.0, scale: float = DEFAULT_SCALE,
              base: float = DEFAULT_BASE, init: float = DEFAULT_INIT,
              anchor: Mapping[str, float] | None = None, allow_duplicate: bool = False,
              **read_options: Any) -> ArenaState:
    """A state holding ``battles`` (streamed like :func:`~arena_stats.data.stream.stream_pair_counts`).

    The fit settings are fixed here and used by every :meth:`ArenaState.refit`; so is
    ``fold_case`` when given. Every file's SHA-256 is recorded; the same content given twice is
    refused unless ``allow_duplicate``.
    """
    if ties not in TIES:
        raise InputError(f"unknown tie convention {shorten(ties)}; expected one of {', '.join(TIES)}")
    fold = bool(read_options.pop("fold_case", False))
    items = input_files(list(battles))
    digests = _check_duplicates(items, {}, allow_duplicate)
    log, counts, unfolded = _read(items, dict(read_options, fold_case=fold))
    _warn_names(log, counts.models, unfolded, fold)
    settings = dict(ties=ties, l2=float(l2), scale=float(scale), base=float(base), init=float(init),
                    anchor=dict(anchor) if anchor else None)
    if fold:
        settings["fold_case"] = True
    record = _record(_describe(battles), counts, digests)
    return ArenaState(counts=replace(counts, steps=()), settings=settings, history=(record,))


def _bad(path: str, what: str) -> InputError:
    return InputError(f"not a valid arena-stats state: {what}", file=path)


def load_state(path: str | os.PathLike) -> ArenaState:
    """Read and check a state written by :meth:`ArenaState.save` (never unpickles anything)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError("no such state file (create one with --new)", file=path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _bad(path, f"cannot read it as .npz ({exc})") from None
    missing = [k for k in ("meta", *_INT_MEMBERS, *_FLOAT_MEMBERS) if k not in arrays]
    if missing:
        raise _bad(path, f"members missing: {', '.join(missing)}")
    try:
        meta = json.loads(arrays["meta"].astype(np.uint8).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(path, f"metadata is not JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
        raise _bad(path, f"format is not {STATE_FORMAT!r}")
    if meta.get("version") != STATE_VERSION:
        raise _bad(path, f"version {meta.get('version')!r}; this arena_stats reads version {STATE_VERSION}")
    models = meta.get("models")
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models) or models != sorted(set(models)):
        raise _bad(path, "models must be a sorted list of distinct names")
    settings = meta.get("settings")
    if not isinstance(settings, dict) or settings.get("ties") not in TIES:
        raise _bad(path, "settings must name a tie convention")
    for k in _NUMERIC_SETTINGS:
        v = settings.get(k)
        if k in settings and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise _bad(path, f"setting {k} must be a finite number")
    anchor = settings.get("anchor")
    if anchor is not None and not (isinstance(anchor, dict) and all(
            isinstance(m, str) and isinstance(r, (int, float)) and not isinstance(r, bool) and math.isfinite(r)
            for m, r in anchor.items())):
        raise _bad(path, "the anchor must map model names to finite ratings")
    if not isinstance(settings.get("fold_case", False), bool):
        raise _bad(path, "fold_case must be true or false")
    for k in _INT_MEMBERS:
        if arrays[k].dtype.kind not in "iu" or arrays[k].ndim != 1:
            raise _bad(path, f"{k} must be a 1-d integer array")
    for k in _FLOAT_MEMBERS:
        if arrays[k].dtype != np.float64 or arrays[k].ndim != 1:
            raise _bad(path, f"{k} must be a 1-d float64 array")
    n = len(models)
    i, j = arrays["i"].astype(np.int64), arrays["j"].astype(np.int64)
    cp, co = arrays["cell_pair"].astype(np.int64), arrays["cell_outcome"].astype(np.int64)
    cc, cw = arrays["cell_count"], arrays["cell_weight"]
    if len(i) != len(j) or not ((0 <= i) & (i < j) & (j < n)).all():
        raise _bad(path, "pairs must satisfy 0 <= i < j < number of models")
    if not (len(cp) == len(co) == len(cc) == len(cw)):
        raise _bad(path, "cell members differ in length")
    if len(cp) and not (((0 <= cp) & (cp < len(i))).all() and ((0 <= co) & (co <= 3)).all()):
        raise _bad(path, "cell pair or verdict out of range")
    if not (np.isfinite(cc).all() and (cc >= 0).all() and np.isfinite(cw).all() and (cw >= 0).all()):
        raise _bad(path, "counts and weights must be finite and non-negative")
    theta, tie = arrays["theta"], arrays["tie"]
    if len(theta) not in (0, n) or len(tie) > 1 or not np.isfinite(theta).all():
        raise _bad(path, "theta must be empty or one finite strength per model")
    history = meta.get("history", [])
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise _bad(path, "history must be a list of records")
    for rec in history:
        battles = rec.get("battles", 0)
        sources = rec.get("sources", [])
        if isinstance(battles, bool) or not isinstance(battles, (int, float)) or not isinstance(sources, list):
            raise _bad(path, "each history record needs a number of battles and a list of sources")
        prints = rec.get(FINGERPRINT, {})
        if not isinstance(prints, dict) or not all(isinstance(k, str) and isinstance(v, str) and _HEX64.fullmatch(v)
                                                   for k, v in prints.items()):
            raise _bad(path, f"{FINGERPRINT} fingerprints must map sources to 64 hex digits")
    counts = PairCounts(models=models, i=i, j=j, cell_pair=cp, cell_outcome=co, cell_count=cc, cell_weight=cw,
                        fold_case=bool(settings.get("fold_case", False)))
    return ArenaState(counts=counts, settings=settings, theta=theta.copy() if len(theta) else None,
                      log_tie=float(tie[0]) if len(tie) else None, history=tuple(history))


def update_state(path: str | os.PathLike, *new: Any, allow_duplicate: bool = False,
                 **read_options: Any) -> tuple[ArenaState, BTResult]:
    """Load the state at ``path``, append ``new`` battles, refit warm-started, save; return both.

    A file already added (same SHA-256) is refused unless ``allow_duplicate``.

    Examples
    --------
    >>> import os, tempfile
    >>> from arena_stats.data.simulate import simulate_arena
    >>> frame = simulate_arena(n_models=5, n_battles=2000, seed=4).battles.to_frame()
    >>> path = os.path.join(tempfile.mkdtemp(), "arena.npz")
    >>> new_state(frame.iloc[:1500]).refit()[0].save(path)
    >>> state, fit = update_state(path, frame.iloc[1500:])
    >>> load_state(path).n_battles, round(float(fit.ratings.mean()), 6)
    (2000, 1000.0)
    """
    state = load_state(path).append(*new, allow_duplicate=allow_duplicate, **read_options)
    state, fit = state.refit()
    state.save(path)
    return state, fit
