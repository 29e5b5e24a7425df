"""Every label-free measurement of a frame that the text blocks need, computed once.

:func:`compute_features` returns a :class:`PreferenceFeatures`: the hand-made features of
:func:`.features.text_features` (for the ``length``, ``style`` and ``tie`` blocks) and the hashed
n-gram counts of both responses (for ``words`` and ``chars``). Cross-validation computes them
once for all rows and hands each fold its rows (:meth:`PreferenceFeatures.take`); nothing here
depends on labels, so sharing them across folds leaks nothing (the IDF weights, which do depend
on which responses are in the training set, are computed inside each fit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .features import joined_text, text_features
from .ngrams import NGRAM_BLOCKS, ngram_counts

__all__ = ["PreferenceFeatures", "compute_features", "DENSE_TEXT_BLOCKS"]

#: Text blocks built from :func:`.features.text_features`.
DENSE_TEXT_BLOCKS = ("length", "style", "tie")


@dataclass
class PreferenceFeatures:
    """Label-free features of ``n_rows`` rows: a dense table and n-gram counts per block."""

    n_rows: int
    table: pd.DataFrame | None = None
    counts: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def take(self, rows: np.ndarray) -> PreferenceFeatures:
        """The features of some rows (a boolean mask or integer positions)."""
        rows = np.asarray(rows)
        idx = np.flatnonzero(rows) if rows.dtype == bool else rows
        table = self.table.iloc[idx].reset_index(drop=True) if self.table is not None else None
        return PreferenceFeatures(len(idx), table, {b: (a[idx], c[idx]) for b, (a, c) in self.counts.items()})

    def check(self, n_rows: int, blocks: Sequence[str]) -> None:
        """Raise unless these features cover ``n_rows`` rows and every block in ``blocks``."""
        if self.n_rows != n_rows:
            raise InputError(f"the precomputed features have {self.n_rows} rows but the data has {n_rows}")
        missing = [b for b in blocks if (b in NGRAM_BLOCKS and b not in self.counts)
                   or (b in DENSE_TEXT_BLOCKS and self.table is None)]
        if missing:
            raise InputError(f"the precomputed features lack the block(s) {', '.join(missing)}")


def compute_features(frame: pd.DataFrame, blocks: Sequence[str], tokenizer: Any = "default",
                     bar: Any = None) -> PreferenceFeatures:
    """The features ``blocks`` need, for every row of a canonical frame.

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats.predictor.data import prepare_frame
    >>> f = prepare_frame(pd.DataFrame({"prompt": ["q"], "response_a": ["a b"], "response_b": ["c"]}))
    >>> feats = compute_features(f, ["length"])
    >>> feats.table["tokens_a"].tolist(), sorted(feats.counts)
    ([2.0], [])
    """
    feats = PreferenceFeatures(len(frame))
    if any(b in DENSE_TEXT_BLOCKS for b in blocks):
        feats.table = text_features(frame, tokenizer).reset_index(drop=True)
        if bar is not None:
            bar.update()
    grams = [b for b in blocks if b in NGRAM_BLOCKS]
    if grams:
        texts = (joined_text(frame["response_a"]), joined_text(frame["response_b"]))
        for b in grams:
            feats.counts[b] = (ngram_counts(texts[0], b), ngram_counts(texts[1], b))
            if bar is not None:
                bar.update()
    return feats
