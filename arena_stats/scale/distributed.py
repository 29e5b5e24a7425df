"""Across machines with Dask: battles reduced per partition, bootstrap rounds spread over workers.

Needs the optional extra: ``pip install 'arena-stats[dask]'`` (``dask[dataframe]`` and
``distributed``). Nothing here is a home-made cluster: the work is ordinary Dask tasks, run by
whatever scheduler is active (a ``dask.distributed.Client`` connected to a
``LocalCluster``, to a scheduler address, or Dask's local threads when there is none).

Reduction. Sufficient statistics add up: the counts of a union of battles are the sum of the
counts of its parts. So every partition of a Dask DataFrame (or every file of a glob) is reduced
on a worker to :class:`~arena_stats.data.aggregate.PairCounts` by the same code as the local path
(:func:`~arena_stats.data.stream.stream_pair_counts`: same validation, same errors), and the partial
counts are merged in a tree (:data:`FAN_IN` at a time) with
:func:`~arena_stats.data.stream.merge_pair_counts`. Only counts travel: at most
``4 * n_models * (n_models - 1) / 2`` numbers per task, whatever the number of battles. The
result equals ``aggregate(load_battles(...))`` cell for cell, so every fit on it equals the local
fit exactly.

* A Dask DataFrame: one task per partition (``<partition k>`` is named in error messages).
* A glob or list of local paths (``/data/battles/*.parquet``): one task per file, read on the
  worker with pyarrow's batch readers; the paths must be visible to every worker (a shared
  filesystem; on a single machine, ``LocalCluster``).
* A URL glob (``s3://bucket/battles/*.parquet``, ``gs://...``): read with
  ``dask.dataframe.read_parquet`` / ``read_csv`` / ``read_json`` (fsspec does the remote
  access), then reduced per partition.

Contextual (style-control) fits. With continuous covariates there are no small sufficient
statistics, but the log-likelihood is still a *sum over battles*, so are its gradient and
Hessian. :func:`fit_contextual_dask` keeps each partition's design on its worker (persisted) and,
for every Newton step, has each worker evaluate its partition's log-likelihood, gradient and
Hessian at the current parameters; the client sums them (a tree, like the counts) and takes the
step. The Newton iteration and the result (standard errors, sandwich) are those of
:mod:`arena_stats.models.contextual` itself, handed an objective whose sums run on the cluster, so the
distributed fit is the local fit up to the order of floating-point additions.

Bootstrap. :func:`bootstrap_dask` runs :func:`~arena_stats.inference.bootstrap.bootstrap` with its chunks
of rounds submitted to the cluster through ``Client.get_executor()``. Every chunk draws from its
own random stream spawned from the seed, so the result is the local result, bit for bit.
"""

from __future__ import annotations

import glob as _glob
import os
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..data.aggregate import PairCounts
from ..data.battles import FilterStep
from ..data.names import warn_lookalikes
from ..data.stream import input_files, merge_pair_counts, stream_pair_counts
from ..errors import InputError, NameWarning
from ..inference.bootstrap import DEFAULT_ROUNDS, bootstrap
from ..models.bradley_terry import BTResult, fit_counts

__all__ = ["pair_counts_dask", "fit_dask", "bootstrap_dask", "fit_contextual_dask", "FAN_IN"]

#: Partial counts merged per reduction task.
FAN_IN = 8
_READERS = {".parquet": "read_parquet", ".pq": "read_parquet", ".csv": "read_csv", ".jsonl": "read_json",
            ".ndjson": "read_json"}


def _require_dask() -> Any:
    try:
        import dask
        import dask.dataframe  # noqa: F401
    except ImportError:
        raise ImportError("arena_stats.scale.distributed needs Dask: pip install 'arena-stats[dask]'") from None
    return dask


def _quietly(read: Any, *args: Any, **kwargs: Any) -> PairCounts:
    """Counts of one part without the name-policy warnings: a worker's warnings are lost or
    repeated, and look-alike names split across parts are only seen on the merged counts."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NameWarning)
        return read(*args, **kwargs)


def _partition_counts(frame: Any, k: int, read_options: dict[str, Any]) -> PairCounts | None:
    if len(frame) == 0:
        return None  # an empty partition (after a filter, say) holds no battles
    try:
        return _quietly(stream_pair_counts, frame, **read_options)
    except InputError as exc:
        raise InputError(exc.detail, file=f"<partition {k}>", row=exc.row, column=exc.column) from None


def _file_counts(path: str, read_options: dict[str, Any]) -> PairCounts:
    return _quietly(stream_pair_counts, path, **read_options)


def _one_invalid_step(counts: PairCounts) -> PairCounts:
    """The parts' ``drop-invalid`` steps as one step of the whole input."""
    parts = [s for s in counts.steps if s.name == "drop-invalid"]
    if len(parts) <= 1:
        return counts
    kinds: dict[str, int] = {}
    for s in parts:
        for kind, n in s.by_kind:
            kinds[kind] = kinds.get(kind, 0) + n
    removed = sum(s.removed for s in parts)
    reason = ", ".join(f"{n:,} {kind}" for kind, n in kinds.items()) + f" (in {len(parts)} parts)"
    step = FilterStep("drop-invalid", removed, sum(s.remaining for s in parts), reason, tuple(kinds.items()))
    others = tuple(s for s in counts.steps if s.name != "drop-invalid")
    return replace(counts, steps=others + (step,))


def _merge(*parts: PairCounts | None) -> PairCounts | None:
    present = [p for p in parts if p is not None]
    return merge_pair_counts(*present) if present else None


def _tree(tasks: list[Any], fan_in: int) -> Any:
    from dask import delayed
    merge = delayed(_merge, pure=True)
    while len(tasks) > 1:
        tasks = [merge(*tasks[k:k + fan_in]) for k in range(0, len(tasks), fan_in)]
    return tasks[0]


def _expand(source: str | Sequence[str]) -> list[str]:
    paths: list[str] = []
    for s in [source] if isinstance(source, (str, os.PathLike)) else list(source):
        s = os.fspath(s)
        if "://" in s:
            paths.append(s)
        elif any(ch in s for ch in "*?["):
            found = sorted(_glob.glob(s, recursive=True))
            if not found:
                raise InputError("no file matches this pattern", file=s)
            paths.extend(found)
        else:
            paths.extend(input_files(s))
    return paths


def _remote_frame(url: str) -> Any:
    import dask.dataframe as dd
    base = url.split("?")[0].lower().removesuffix(".gz")
    ext = os.path.splitext(base)[1]
    if ext not in _READERS:
        raise InputError(f"cannot tell the format of {url!r}; expected one of {', '.join(sorted(_READERS))}")
    reader = getattr(dd, _READERS[ext])
    return reader(url, lines=True) if reader.__name__ == "read_json" else reader(url)


def pair_counts_dask(data: Any, *, fan_in: int = FAN_IN, compute: bool = True, scheduler: str | None = None,
                     **read_options: Any) -> Any:
    """Reduce a Dask DataFrame, or a glob / list of battle files, to :class:`PairCounts` on a cluster.

    Parameters
    ----------
    data : dask.dataframe.DataFrame, str or list of str
        Battles as a Dask DataFrame (any of the schemas of
        :func:`~arena_stats.data.battles.load_battles`), or paths, directories and globs of
        Parquet / CSV / JSON Lines files (local paths must be visible to every worker), or URL
        globs (``s3://...``) read through ``dask.dataframe``.
    fan_in : int
        Partial counts merged per reduction task.
    compute : bool
        Return the counts (default), or the Dask ``Delayed`` that computes them.
    scheduler : str, optional
        A Dask scheduler name (``"sync"``, ``"threads"``, ``"processes"``); default: the active
        client, else Dask's default.
    **read_options
        Schema and column options, as for :func:`~arena_stats.data.stream.stream_pair_counts`.

    Returns
    -------
    PairCounts
        Equal, cell for cell, to ``aggregate(load_battles(...))`` of the same battles.

    Examples
    --------
    >>> import dask.dataframe as dd, pandas as pd
    >>> frame = pd.DataFrame({"model_a": ["x", "y", "z", "x"], "model_b": ["y", "z", "x", "z"],
    ...                       "winner": ["model_a", "tie", "model_b", "model_a"]})
    >>> counts = pair_counts_dask(dd.from_pandas(frame, npartitions=2), scheduler="sync")
    >>> counts.models, counts.n_battles
    (['x', 'y', 'z'], 4)
    """
    dask = _require_dask()
    from dask import delayed

    if fan_in < 2:
        raise InputError(f"fan_in must be at least 2, got {fan_in!r}")
    if hasattr(data, "to_delayed") and hasattr(data, "npartitions"):
        parts = [delayed(_partition_counts, pure=True)(p, k, read_options) for k, p in enumerate(data.to_delayed())]
    else:
        parts = []
        for path in _expand(data):
            if "://" in path:
                frame = _remote_frame(path)
                parts += [delayed(_partition_counts, pure=True)(p, k, read_options)
                          for k, p in enumerate(frame.to_delayed())]
            else:
                parts.append(delayed(_file_counts, pure=True)(path, read_options))
    if not parts:
        raise InputError("no partitions or files to read")
    total = _tree(parts, fan_in)
    if not compute:
        return total
    result = dask.compute(total, scheduler=scheduler)[0] if scheduler else dask.compute(total)[0]
    if result is None:
        raise InputError("no battles in the input (every partition was empty)")
    if not read_options.get("fold_case"):
        warn_lookalikes(result.models)
    return _one_invalid_step(result)


def fit_dask(data: Any, ties: str = "half", *, read_options: dict[str, Any] | None = None,
             **fit_options: Any) -> BTResult:
    """Counts on the cluster (:func:`pair_counts_dask`), then the (tiny) fit locally.

    ``fit_options`` go to :func:`~arena_stats.models.bradley_terry.fit_counts`; the result equals
    ``fit_bradley_terry`` on the same battles.
    """
    counts = data if isinstance(data, PairCounts) else pair_counts_dask(data, **(read_options or {}))
    return fit_counts(counts, ties, **fit_options)


def bootstrap_dask(data: Any, rounds: int = DEFAULT_ROUNDS, *, client: Any = None, **bootstrap_options: Any) -> Any:
    """:func:`~arena_stats.inference.bootstrap.bootstrap` with its chunks of rounds run on Dask workers.

    Parameters
    ----------
    data : PairCounts, Battles, DataFrame, Dask DataFrame or paths
        Anything :func:`pair_counts_dask` or :func:`~arena_stats.inference.bootstrap.bootstrap` reads
        (a Dask DataFrame or paths are reduced on the cluster first; clustered bootstraps need
        the battles themselves, in memory).
    rounds : int
    client : distributed.Client, optional
        Default: the current client (``distributed.get_client()``).
    **bootstrap_options
        As for :func:`~arena_stats.inference.bootstrap.bootstrap` (``ties, seed, confidence, l2 ...``).

    Returns
    -------
    BootstrapResult
        Identical to the local ``bootstrap`` with the same seed: each chunk of rounds has its
        own random stream, whoever runs it.
    """
    _require_dask()
    from distributed import get_client

    client = client or get_client()
    if hasattr(data, "to_delayed") or isinstance(data, (str, list, tuple)):
        data = pair_counts_dask(data)
    workers = max(2, sum(client.nthreads().values()))
    return bootstrap(data, rounds, executor=client.get_executor(pure=False), threads=workers,
                     **bootstrap_options)


# ------------------------------------------------------------------------------ contextual fits
def _partition_terms_of(frame: Any, k: int, models: list[str], covariates: Any, position: bool, ties: str,
                        read_options: dict[str, Any]) -> Any:
    """One partition's design on the global model list, as the likelihood's terms (no penalty)."""
    import pandas as pd

    from ..data.battles import Battles
    from ..data.readers import load_battles
    from ..models.contextual import DesignTerms, build_design, convention_family

    if len(frame) == 0:
        return None
    try:
        battles = load_battles(frame, **read_options)
    except InputError as exc:
        raise InputError(exc.detail, file=f"<partition {k}>", row=exc.row, column=exc.column) from None
    local = battles.frame.copy()
    for side in ("model_a", "model_b"):
        local[side] = pd.Categorical(local[side].astype(str), categories=models)
    design = build_design(Battles(frame=local), covariates, position=position, reduce="auto")
    family = convention_family(ties)
    if family.keeps is not None:
        design = design.subset(family.keeps(design.outcome))
    return DesignTerms(design, family)


def _partition_sums(terms: Any, phi: Any, what: str) -> tuple[float, Any, Any]:
    if terms is None:
        return 0.0, 0.0, 0.0
    if what == "value":
        return terms.value(phi), 0.0, 0.0
    if what == "meat":
        return 0.0, 0.0, terms.meat(phi)
    return terms.derivatives(phi)


def _add_sums(*parts: tuple[float, Any, Any]) -> tuple[float, Any, Any]:
    ll, g, h = parts[0]
    for p_ll, p_g, p_h in parts[1:]:
        ll, g, h = ll + p_ll, g + p_g, h + p_h
    return ll, g, h


class _ClusterTerms:
    """The contextual log-likelihood's sums over persisted partitions, added on the cluster.

    It offers what :class:`~arena_stats.models.contextual.ContextualObjective` reads from its
    terms -- ``value``, ``derivatives``, ``meat``, ``total`` -- so the engine, the penalties and
    the result are exactly the local fit's.
    """

    def __init__(self, parts: list[Any], total: float, fan_in: int) -> None:
        self.parts, self.total, self.fan_in = parts, total, fan_in

    def _sum(self, phi: Any, what: str) -> tuple[float, Any, Any]:
        import dask
        from dask import delayed
        terms = [delayed(_partition_sums, pure=False)(o, phi, what) for o in self.parts]
        add = delayed(_add_sums, pure=False)
        while len(terms) > 1:
            terms = [add(*terms[k:k + self.fan_in]) for k in range(0, len(terms), self.fan_in)]
        return dask.compute(terms[0])[0]

    def value(self, phi: Any) -> float:
        return float(self._sum(phi, "value")[0])

    def derivatives(self, phi: Any, hessian: bool = True) -> tuple[float, Any, Any]:
        ll, g, h = self._sum(phi, "derivatives")
        return ll, g, (h if hessian else None)

    def meat(self, phi: Any) -> Any:
        return self._sum(phi, "meat")[2]


def fit_contextual_dask(data: Any, covariates: Sequence[str] | None = None, ties: str = "half", *,
                        position: bool = False, l2: float = 0.0, covariate_l2: float | None = None,
                        scale: float | None = None, base: float | None = None, init: float | None = None,
                        anchor: Any = None, tol: float | None = None, max_iter: int | None = None,
                        fan_in: int = FAN_IN, **read_options: Any) -> Any:
    """:func:`~arena_stats.models.contextual.fit_contextual` on a Dask DataFrame, Newton's sums on the workers.

    Parameters
    ----------
    data : dask.dataframe.DataFrame
        Battles with the covariate columns (each a difference "A minus B").
    covariates, ties, position, l2, covariate_l2, scale, base, init, anchor, tol, max_iter
        As for :func:`~arena_stats.models.contextual.fit_contextual` (defaults are its defaults).
    fan_in : int
        Partial sums added per reduction task.
    **read_options
        Schema and column options of :func:`~arena_stats.data.readers.load_battles`.

    Returns
    -------
    ContextualResult
        The local fit's result, up to the order of floating-point additions.
    """
    import numpy as np

    dask = _require_dask()
    from dask import delayed

    from ..models import contextual as ctx
    from ..models.engine import MAX_ITER, STEP_TOL
    from ..models.families import TIE_START, check_ties

    if not (hasattr(data, "to_delayed") and hasattr(data, "npartitions")):
        raise InputError("fit_contextual_dask takes a Dask DataFrame (dask.dataframe.read_parquet(...))")
    defaults = dict(scale=ctx.DEFAULT_SCALE, base=ctx.DEFAULT_BASE, init=ctx.DEFAULT_INIT, tol=STEP_TOL,
                    max_iter=MAX_ITER)
    given = dict(scale=scale, base=base, init=init, tol=tol, max_iter=max_iter)
    opt: dict[str, Any] = {k: (given[k] if given[k] is not None else v) for k, v in defaults.items()}
    check_ties(ties)
    l2, covariate_l2 = ctx.resolve_covariate_l2(l2, covariate_l2, "fit_contextual_dask")
    cov_names = tuple(covariates or ()) + ((ctx.POSITION,) if position else ())
    settings = ctx.fit_settings(ties, cov_names, position, l2, covariate_l2, opt["scale"], opt["base"],
                                opt["init"], anchor, opt["tol"], False)
    counts = pair_counts_dask(data, fan_in=fan_in, **read_options)
    ctx.check_existence(counts, ties, settings["l2"])
    models = list(counts.models)
    parts = [delayed(_partition_terms_of, pure=True)(p, k, models, list(covariates or []), position, ties,
                                                     read_options) for k, p in enumerate(data.to_delayed())]
    parts = list(dask.persist(*parts))  # designs stay on the workers for every Newton step
    sizes = dask.compute(*[delayed(lambda o: (0, 0.0) if o is None else (o.d.n_units, o.total))(o)
                           for o in parts])
    family = ctx.convention_family(ties)
    terms = _ClusterTerms(parts, float(sum(sz[1] for sz in sizes)) or 1.0, fan_in)
    obj = ctx.ContextualObjective(terms, family, len(models), len(cov_names), settings["l2"],
                                  settings["covariate_l2"])
    start = np.concatenate([np.zeros(len(models) + len(cov_names)),
                            [TIE_START[ties]] if ties in TIE_START else []])
    plain = fit_counts(counts, ties)
    start[: len(models)] = plain.theta  # as the local fit: start at the plain fit on the counts
    if ties in TIE_START:
        start[-1] = plain.log_tie
    res = ctx._solve(obj, start, models, len(cov_names), settings["tol"], int(opt["max_iter"]))
    return ctx.make_result(res, obj, family, settings, counts.n_battles, models, cov_names,
                           sum(sz[0] for sz in sizes))
