"""Text features of a preference frame and the design matrices of the symmetric classifier.

Two layers:

* :func:`text_features` measures each row once, label-free: per side (suffix ``_a`` / ``_b``)
  tokens, characters, markdown headers / list items / bold spans / code blocks / lines (from
  :mod:`arena_stats.features.text`), refusal and apology markers, turns, overlap with the prompt,
  emptiness; and per row the prompt's tokens and turns and whether the two responses are
  identical. All vectorised pandas string operations, except a set intersection per row for the
  prompt overlap.
* :func:`design` turns those (plus the BT prior columns of :mod:`.prior`) into the two blocks the
  symmetric multinomial logit needs: *antisymmetric* features ``u`` (``f_a - f_b`` of transformed
  side features, and the prior's log-odds), which flip sign when A and B are exchanged, and
  *symmetric* features ``v`` (sums, absolute differences, prompt features, prior uncertainty,
  unknown-model indicator), which do not. See :mod:`.model` for why this split makes the
  classifier swap-equivariant by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..features.text import _markdown_counts, _token_count, parse_turns
from .prior import PRIOR_COLUMNS

__all__ = ["SIDE_FEATURES", "SHARED_FEATURES", "REFUSAL_PATTERN", "text_features", "swap_features",
           "design", "FEATURE_SETS"]

#: Per-side raw features (columns ``<name>_a`` and ``<name>_b`` of :func:`text_features`).
SIDE_FEATURES = ("tokens", "chars", "headers", "lists", "bold", "code_blocks", "lines", "refusals",
                 "turns", "prompt_overlap", "empty")
#: Per-row raw features that do not depend on the slot.
SHARED_FEATURES = ("prompt_tokens", "prompt_turns", "identical")
#: Refusal / apology markers, matched on the lower-cased text (straight or curly apostrophes);
#: lower-casing once and matching without IGNORECASE is five times faster.
REFUSAL_PATTERN = (r"\b(?:i(?:'|’)m (?:sorry|unable|not able|not comfortable)|i am (?:sorry|unable|not able)"
                   r"|i apologi[sz]e|my apologies|i can(?:'|’)t|i can ?not|as an ai|as a language model)\b")
_WORD = r"\w+"

#: Feature groups selectable in the classifier (``"full"`` is everything).
FEATURE_SETS = ("full", "length", "prior")


def _join(turns: pd.Series) -> pd.Series:
    return pd.Series(["\n".join(t) for t in turns.to_numpy()], index=turns.index, dtype=object)


def _overlap(words: pd.Series, prompt_words: pd.Series) -> np.ndarray:
    """Share of the prompt's distinct words that the response uses (0 for an empty prompt)."""
    out = np.zeros(len(words))
    for k, (w, p) in enumerate(zip(words.to_numpy(), prompt_words.to_numpy())):
        if p:
            out[k] = len(p.intersection(w)) / len(p)
    return out


def text_features(frame: pd.DataFrame, tokenizer=None) -> pd.DataFrame:  # noqa: ANN001
    """Label-free features of every row of a canonical frame (see :func:`.data.prepare_frame`).

    Returns a frame with ``<side feature>_a``, ``<side feature>_b`` for each of
    :data:`SIDE_FEATURES` and the :data:`SHARED_FEATURES`, aligned with ``frame``.

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats.predictor.data import prepare_frame
    >>> f = prepare_frame(pd.DataFrame({"prompt": ["Say hi"], "response_a": ['["Hi!"]'],
    ...                                 "response_b": ["I'm sorry, I cannot."]}))
    >>> t = text_features(f)
    >>> int(t["tokens_a"][0]), int(t["refusals_b"][0]), int(t["identical"][0])
    (2, 2, 0)
    """
    prompt_turns = parse_turns(frame["prompt"])
    prompt = _join(prompt_turns)
    prompt_words = prompt.str.lower().str.findall(_WORD).map(frozenset)
    cols: dict[str, np.ndarray] = {}
    texts = {}
    for side in ("a", "b"):
        turns = parse_turns(frame[f"response_{side}"])
        text = _join(turns)
        texts[side] = text
        md = _markdown_counts(text)
        cols[f"tokens_{side}"] = _token_count(text, tokenizer).to_numpy(dtype=float)
        cols[f"chars_{side}"] = text.str.len().to_numpy(dtype=float)
        cols[f"headers_{side}"] = md["header_count"].to_numpy(dtype=float)
        cols[f"lists_{side}"] = md["list_count"].to_numpy(dtype=float)
        cols[f"bold_{side}"] = md["bold_count"].to_numpy(dtype=float)
        cols[f"code_blocks_{side}"] = md["code_block_count"].to_numpy(dtype=float)
        cols[f"lines_{side}"] = md["line_count"].to_numpy(dtype=float)
        lower = text.str.lower()
        cols[f"refusals_{side}"] = lower.str.count(REFUSAL_PATTERN).to_numpy(dtype=float)
        cols[f"turns_{side}"] = np.fromiter((len(t) for t in turns.to_numpy()), float, len(turns))
        words = lower.str.findall(_WORD)
        cols[f"prompt_overlap_{side}"] = _overlap(words, prompt_words)
        cols[f"empty_{side}"] = (text.str.strip().str.len() == 0).to_numpy(dtype=float)
    ordered = {f"{name}_{side}": cols[f"{name}_{side}"] for name in SIDE_FEATURES for side in ("a", "b")}
    ordered["prompt_tokens"] = _token_count(prompt, tokenizer).to_numpy(dtype=float)
    ordered["prompt_turns"] = np.fromiter((len(t) for t in prompt_turns.to_numpy()), float, len(prompt_turns))
    ordered["identical"] = (texts["a"].to_numpy() == texts["b"].to_numpy()).astype(float)
    return pd.DataFrame(ordered, index=frame.index)


def swap_features(table: pd.DataFrame) -> pd.DataFrame:
    """Exchange every ``*_a`` column with its ``*_b`` partner (prior: P(a) with P(b))."""
    out = table.copy()
    for col in table.columns:
        if col.endswith("_a") and col[:-2] + "_b" in table.columns:
            out[col] = table[col[:-2] + "_b"].to_numpy()
            out[col[:-2] + "_b"] = table[col].to_numpy()
    if "prior_logit" in table.columns:
        out["prior_logit"] = -table["prior_logit"].to_numpy()
    return out


# transforms of the side features before differencing: counts on a log scale
_LOG = ("tokens", "chars", "headers", "lists", "bold", "code_blocks", "lines", "refusals", "turns")
_LENGTH = ("tokens", "chars")


def design(table: pd.DataFrame, feature_set: str = "full") -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """Antisymmetric block ``u`` and symmetric block ``v`` of the classifier's design.

    ``table`` holds the columns of :func:`text_features` and, for ``"full"`` and ``"prior"``, the
    :data:`.prior.PRIOR_COLUMNS`. Exchanging A and B (:func:`swap_features`) negates ``u`` exactly
    and leaves ``v`` unchanged, bit for bit.

    Returns
    -------
    u, u_names, v, v_names
    """
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"feature_set must be one of {FEATURE_SETS}, got {feature_set!r}")
    u: dict[str, np.ndarray] = {}
    v: dict[str, np.ndarray] = {}
    if feature_set in ("full", "length"):
        names = SIDE_FEATURES if feature_set == "full" else _LENGTH
        for name in names:
            fa = table[f"{name}_a"].to_numpy(dtype=float)
            fb = table[f"{name}_b"].to_numpy(dtype=float)
            if name in _LOG:
                fa, fb = np.log1p(fa), np.log1p(fb)
            u[f"d_{name}"] = fa - fb
            v[f"sum_{name}"] = fa + fb
            v[f"absdiff_{name}"] = np.abs(fa - fb)
        if feature_set == "full":
            v["log_prompt_tokens"] = np.log1p(table["prompt_tokens"].to_numpy(dtype=float))
            v["log_prompt_turns"] = np.log1p(table["prompt_turns"].to_numpy(dtype=float))
            v["identical"] = table["identical"].to_numpy(dtype=float)
            # the length effect may depend on how long the prompt is
            u["d_tokens_x_prompt"] = u["d_tokens"] * v["log_prompt_tokens"]
    if feature_set in ("full", "prior"):
        missing = [c for c in PRIOR_COLUMNS if c not in table.columns]
        if missing:
            raise ValueError(f"design needs the prior columns {missing}")
        logit = table["prior_logit"].to_numpy(dtype=float)
        u["prior_logit"] = logit
        v["prior_tie_logit"] = table["prior_tie_logit"].to_numpy(dtype=float)
        v["prior_abs_logit"] = np.abs(logit)
        v["prior_se"] = table["prior_se"].to_numpy(dtype=float)
        v["prior_unknown"] = table["prior_unknown"].to_numpy(dtype=float)
    n = len(table)
    u_mat = np.column_stack(list(u.values())) if u else np.zeros((n, 0))
    v_mat = np.column_stack(list(v.values())) if v else np.zeros((n, 0))
    return u_mat, list(u), v_mat, list(v)
