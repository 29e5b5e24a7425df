"""The LLMFAO crowd votes (with the response texts) converted to the Kaggle schema.

LLMFAO (``dustalov/llmfao``, CC BY 4.0) holds 8,931 crowd votes on 2,139 pairs of answers by 59
models to 13 prompts. The votes are in ``crowd-comparisons.csv`` (``id, prompt, model_x, model_y,
worker, winner, left, right``; ``winner`` is ``left``, ``right`` or ``tie`` and ``left`` is
always ``model_x``), the texts in ``pairs-crowd.jsonl.gz`` (``id, prompt, text, model_x,
result_x, model_y, result_y``) and the model names in ``models.jsonl``. The files are read where
they lie (``../shared/data/llmfao`` next to the project), never copied.

Each vote becomes one Kaggle row: ``prompt`` = the prompt text, ``response_a`` / ``response_b`` =
``result_x`` / ``result_y``, ``model_a`` / ``model_b`` = the models' display names, one-hot labels,
plus ``group`` (the prompt id, for grouped cross-validation), ``pair_id`` and ``worker``. Texts
are plain strings (one turn), which the predictor accepts as well as JSON turn lists.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.readers import read_table
from ..errors import InputError

__all__ = ["LLMFAO_FILES", "default_llmfao_dir", "load_llmfao"]

LLMFAO_FILES = ("crowd-comparisons.csv", "pairs-crowd.jsonl.gz", "models.jsonl")
_WINNER = {"left": (1, 0, 0), "right": (0, 1, 0), "tie": (0, 0, 1)}


def default_llmfao_dir() -> Path:
    """``../shared/data/llmfao`` relative to the project root (it may not exist)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "llmfao"


def load_llmfao(directory: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read the LLMFAO crowd votes and their texts as a Kaggle-schema frame.

    Parameters
    ----------
    directory : path-like, optional
        The ``llmfao`` folder; default :func:`default_llmfao_dir`.

    Returns
    -------
    pandas.DataFrame
        ``id, prompt, response_a, response_b, model_a, model_b, winner_model_a, winner_model_b,
        winner_tie, group, pair_id, worker``; one row per vote, in file order.

    Raises
    ------
    InputError
        A file is missing, a vote has no text, or an unknown ``winner`` value.

    Examples
    --------
    >>> from arena_stats.predictor.llmfao import default_llmfao_dir, load_llmfao
    >>> if (default_llmfao_dir() / "crowd-comparisons.csv").exists():
    ...     df = load_llmfao()
    ...     assert len(df) == 8931 and df["group"].nunique() == 13
    """
    root = Path(directory) if directory is not None else default_llmfao_dir()
    for name in LLMFAO_FILES:
        if not (root / name).exists():
            raise InputError(f"LLMFAO file {name} not found (expected the dustalov/llmfao data folder)",
                             file=str(root / name))
    votes = read_table(root / "crowd-comparisons.csv")
    pairs = read_table(root / "pairs-crowd.jsonl.gz", format="jsonl")
    models = read_table(root / "models.jsonl", format="jsonl")
    names = dict(zip(models["id"].to_numpy(), models["name"].astype(str).to_numpy()))
    texts = pairs.set_index("id")[["text", "result_x", "result_y", "model_x", "model_y"]]
    missing = ~votes["id"].isin(texts.index)
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0])
        raise InputError(f"vote on pair {votes['id'].iloc[row]} has no texts in pairs-crowd.jsonl.gz",
                         file=str(root / "crowd-comparisons.csv"), row=row + 1, column="id")
    joined = texts.loc[votes["id"].to_numpy()]
    winner = votes["winner"].astype(str).str.strip().str.lower()
    unknown = ~winner.isin(list(_WINNER))
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(f"unknown winner {votes['winner'].iloc[row]!r}; expected left, right or tie",
                         file=str(root / "crowd-comparisons.csv"), row=row + 1, column="winner")
    onehot = np.array([_WINNER[w] for w in winner.to_numpy()], dtype=np.int64)
    # votes name their models by id; the pair file agrees (checked here, not assumed)
    same = (joined["model_x"].to_numpy() == votes["model_x"].to_numpy()) & \
        (joined["model_y"].to_numpy() == votes["model_y"].to_numpy())
    if not same.all():
        row = int(np.flatnonzero(~same)[0])
        raise InputError("vote and pair file disagree about the models", file=str(root / "crowd-comparisons.csv"),
                         row=row + 1, column="model_x")
    return pd.DataFrame({
        "id": np.arange(len(votes)),
        "prompt": joined["text"].astype(object).to_numpy(),
        "response_a": joined["result_x"].astype(object).fillna("").to_numpy(),
        "response_b": joined["result_y"].astype(object).fillna("").to_numpy(),
        "model_a": votes["model_x"].map(names).astype(object).to_numpy(),
        "model_b": votes["model_y"].map(names).astype(object).to_numpy(),
        "winner_model_a": onehot[:, 0], "winner_model_b": onehot[:, 1], "winner_tie": onehot[:, 2],
        "group": votes["prompt"].to_numpy(),
        "pair_id": votes["id"].to_numpy(),
        "worker": votes["worker"].to_numpy(),
    })
