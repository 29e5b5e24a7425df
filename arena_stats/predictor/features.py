"""Hand-made text features of a preference frame and the dense blocks of the classifier's design.

Two layers:

* :func:`text_features` measures each row once, label-free: per side (suffix ``_a`` / ``_b``)
  tokens, characters, markdown headers / list items / bold spans / code blocks / lines (the
  style counts of :mod:`arena_stats.features.text`, LMSYS's style-control definitions), refusal
  and apology markers, turns, the share of the prompt's words the response uses, emptiness; and
  per row the prompt's tokens and turns and whether the two responses are identical.
* :func:`design` turns those (plus the BT prior columns of :mod:`.prior`) into named *blocks*
  of the symmetric multinomial logit (:mod:`.combine`): *antisymmetric* columns ``u``, which
  flip sign when A and B are exchanged, and *symmetric* columns ``v``, which do not. The blocks:

  ==========  =====================================================  ==========================
  block       columns                                                enters
  ==========  =====================================================  ==========================
  ``recal``   the prior's log-odds; its absolute value and the       a-vs-b and tie logits
              number of unknown models                               (recalibrates the prior)
  ``length``  differences of log tokens and log characters           a-vs-b logit
  ``style``   differences of every (log) side feature, and the       a-vs-b logit
              token difference times the prompt's log length
  ``tie``     sums and absolute differences of the side features,    tie logit only
              prompt length and turns, identical responses
  ==========  =====================================================  ==========================

  Exchanging A and B (:func:`swap_features`) negates every ``u`` column exactly and leaves
  every ``v`` column unchanged, bit for bit (differences ``f_a - f_b`` negate exactly in IEEE
  arithmetic, sums and absolute values do not change).

Tokenizers are chosen by *name* from :data:`TOKENIZERS`: a saved model names its tokenizer and
never carries a regular expression or code (a regular expression from a file could backtrack
catastrophically; see :mod:`.model`). A callable can be passed for interactive use, but such a
model cannot be saved.

Speed. Everything is vectorised pandas string work except the prompt overlap, a set
intersection per row, streamed row by row (materialising every response's word list at once
took 1.5 GB on the 57k-row Kaggle-scale frame). That frame's features take about 20 s, the
overlap a third of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, suggest
from ..features.text import parse_turns, style_counts
from .prior import PRIOR_COLUMNS

__all__ = ["SIDE_FEATURES", "SHARED_FEATURES", "REFUSAL_PATTERN", "TOKENIZERS", "DENSE_BLOCKS",
           "text_features", "swap_features", "design", "joined_text", "check_tokenizer"]

#: Per-side raw features (columns ``<name>_a`` and ``<name>_b`` of :func:`text_features`).
SIDE_FEATURES = ("tokens", "chars", "headers", "lists", "bold", "code_blocks", "lines", "refusals",
                 "turns", "prompt_overlap", "empty")
#: Per-row raw features that do not depend on the slot.
SHARED_FEATURES = ("prompt_tokens", "prompt_turns", "identical")
#: Refusal / apology markers, matched on the lower-cased text (straight or curly apostrophes);
#: lower-casing once and matching without IGNORECASE is five times faster.
REFUSAL_PATTERN = (r"\b(?:i(?:'|’)m (?:sorry|unable|not able|not comfortable)|i am (?:sorry|unable|not able)"
                   r"|i apologi[sz]e|my apologies|i can(?:'|’)t|i can ?not|as an ai|as a language model)\b")
_WORD = re.compile(r"\w+")
#: The token counters a model may name: ``default`` is :data:`arena_stats.features.text.TOKEN_PATTERN`
#: (words and single punctuation marks, counted vectorised), ``whitespace`` splits on white space.
TOKENIZERS: dict[str, Callable[[str], Sequence[Any]] | None] = {"default": None, "whitespace": str.split}
#: Dense blocks of :func:`design` (the n-gram blocks are in :mod:`.ngrams`).
DENSE_BLOCKS = ("recal", "length", "style", "tie")

# transforms of the side features before differencing: counts on a log scale
_LOG = ("tokens", "chars", "headers", "lists", "bold", "code_blocks", "lines", "refusals", "turns")
_LENGTH = ("tokens", "chars")


def check_tokenizer(tokenizer: Any) -> Any:
    """A tokenizer name from :data:`TOKENIZERS` (``None`` means ``"default"``) or a callable.

    Raises
    ------
    InputError
        For any other value (in particular a regular-expression string: patterns are never
        taken from the caller or a file).
    """
    if tokenizer is None:
        return "default"
    if isinstance(tokenizer, str):
        if tokenizer not in TOKENIZERS:
            raise InputError(f"unknown tokenizer {tokenizer!r}{suggest(tokenizer, TOKENIZERS)}; choose one of "
                             f"{', '.join(TOKENIZERS)} (or pass a callable; patterns are not accepted)")
        return tokenizer
    if callable(tokenizer):
        return tokenizer
    raise InputError(f"tokenizer must be one of {', '.join(TOKENIZERS)} or a callable, not {type(tokenizer).__name__}")


def _counter(tokenizer: Any) -> Callable[[str], Sequence[Any]] | None:
    tokenizer = check_tokenizer(tokenizer)
    return TOKENIZERS[tokenizer] if isinstance(tokenizer, str) else tokenizer


def _join(turns: pd.Series) -> pd.Series:
    return pd.Series(["\n".join(t) for t in turns.to_numpy()], index=turns.index, dtype=object)


def joined_text(series: pd.Series) -> pd.Series:
    """Each row's turns (JSON turn list or plain text) joined by newlines.

    Examples
    --------
    >>> import pandas as pd
    >>> joined_text(pd.Series(['["Hi", null, "Bye"]', "plain"])).tolist()
    ['Hi\\nBye', 'plain']
    """
    return _join(parse_turns(series))


def _word_sets(prompt: pd.Series) -> list[frozenset[str]]:
    findall = _WORD.findall
    return [frozenset(findall(p.lower())) for p in prompt.to_numpy()]


def _overlap(text: pd.Series, prompt_words: list[frozenset[str]]) -> np.ndarray:
    """Share of the prompt's distinct (lower-case) words that the response uses (0 for an
    empty prompt), one row at a time so that no list of every response's words is ever held."""
    out = np.zeros(len(text))
    findall = _WORD.findall
    for k, (t, pw) in enumerate(zip(text.to_numpy(), prompt_words)):
        if pw:
            out[k] = len(pw.intersection(findall(t.lower()))) / len(pw)
    return out


def text_features(frame: pd.DataFrame, tokenizer: Any = "default") -> pd.DataFrame:
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
    counter = _counter(tokenizer)
    prompt_turns = parse_turns(frame["prompt"])
    prompt_words = _word_sets(_join(prompt_turns))
    cols: dict[str, np.ndarray] = {}
    texts = {}
    for side in ("a", "b"):
        raw = frame[f"response_{side}"]
        turns = parse_turns(raw)
        text = _join(turns)
        texts[side] = text
        counts = style_counts(raw, counter)
        cols[f"tokens_{side}"] = counts["token_count"].to_numpy(dtype=float)
        cols[f"chars_{side}"] = counts["char_count"].to_numpy(dtype=float)
        cols[f"headers_{side}"] = counts["header_count"].to_numpy(dtype=float)
        cols[f"lists_{side}"] = counts["list_count"].to_numpy(dtype=float)
        cols[f"bold_{side}"] = counts["bold_count"].to_numpy(dtype=float)
        cols[f"code_blocks_{side}"] = counts["code_block_count"].to_numpy(dtype=float)
        cols[f"lines_{side}"] = counts["line_count"].to_numpy(dtype=float)
        cols[f"refusals_{side}"] = text.str.lower().str.count(REFUSAL_PATTERN).to_numpy(dtype=float)
        cols[f"turns_{side}"] = np.fromiter((len(t) for t in turns.to_numpy()), float, len(turns))
        cols[f"prompt_overlap_{side}"] = _overlap(text, prompt_words)
        cols[f"empty_{side}"] = (text.str.strip().str.len() == 0).to_numpy(dtype=float)
    ordered = {f"{name}_{side}": cols[f"{name}_{side}"] for name in SIDE_FEATURES for side in ("a", "b")}
    ordered["prompt_tokens"] = style_counts(frame["prompt"], counter)["token_count"].to_numpy(dtype=float)
    ordered["prompt_turns"] = np.fromiter((len(t) for t in prompt_turns.to_numpy()), float, len(prompt_turns))
    ordered["identical"] = (texts["a"].to_numpy() == texts["b"].to_numpy()).astype(float)
    return pd.DataFrame(ordered, index=frame.index)


def swap_features(table: pd.DataFrame) -> pd.DataFrame:
    """Exchange every ``*_a`` column with its ``*_b`` partner (prior: P(a) with P(b), the
    log-odds negated)."""
    out = table.copy()
    for col in table.columns:
        if col.endswith("_a") and col[:-2] + "_b" in table.columns:
            out[col] = table[col[:-2] + "_b"].to_numpy()
            out[col[:-2] + "_b"] = table[col].to_numpy()
    for col in ("prior_logit", "prior_d"):
        if col in table.columns:
            out[col] = -table[col].to_numpy()
    return out


def design(table: pd.DataFrame, blocks: Sequence[str]
           ) -> dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
    """The dense blocks' antisymmetric (``u``) and symmetric (``v``) columns.

    Parameters
    ----------
    table : DataFrame
        Columns of :func:`text_features` (for ``length``, ``style``, ``tie``) and the
        :data:`.prior.PRIOR_COLUMNS` (for ``recal``).
    blocks : sequence of str
        Names from :data:`DENSE_BLOCKS`.

    Returns
    -------
    dict
        ``block -> (u columns, v columns)``, each an ordered ``name -> array`` mapping.

    Examples
    --------
    >>> import pandas as pd
    >>> from arena_stats.predictor.data import prepare_frame
    >>> t = text_features(prepare_frame(pd.DataFrame({"prompt": ["q"], "response_a": ["a b c"],
    ...                                               "response_b": ["a"]})))
    >>> u, v = design(t, ["length"])["length"]
    >>> list(u), round(float(u["d_tokens"][0]), 4)
    (['d_tokens', 'd_chars'], 0.6931)
    """
    out: dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = {}
    for block in blocks:
        if block not in DENSE_BLOCKS:
            raise ValueError(f"unknown dense block {block!r}")
        u: dict[str, np.ndarray] = {}
        v: dict[str, np.ndarray] = {}
        if block == "recal":
            missing = [c for c in PRIOR_COLUMNS if c not in table.columns]
            if missing:
                raise ValueError(f"the recal block needs the prior columns {missing}")
            logit = table["prior_logit"].to_numpy(dtype=float)
            u["prior_logit"] = logit
            v["prior_abs_logit"] = np.abs(logit)
            v["prior_unknown"] = table["prior_unknown"].to_numpy(dtype=float)
        elif block in ("length", "style"):
            names = SIDE_FEATURES if block == "style" else _LENGTH
            for name in names:
                fa, fb = _side(table, name)
                u[f"d_{name}"] = fa - fb
            if block == "style":
                # the length effect may depend on how long the prompt is
                u["d_tokens_x_prompt"] = u["d_tokens"] * np.log1p(table["prompt_tokens"].to_numpy(dtype=float))
        else:  # tie
            for name in SIDE_FEATURES:
                fa, fb = _side(table, name)
                v[f"sum_{name}"] = fa + fb
                v[f"absdiff_{name}"] = np.abs(fa - fb)
            v["log_prompt_tokens"] = np.log1p(table["prompt_tokens"].to_numpy(dtype=float))
            v["log_prompt_turns"] = np.log1p(table["prompt_turns"].to_numpy(dtype=float))
            v["identical"] = table["identical"].to_numpy(dtype=float)
        out[block] = (u, v)
    return out


def block_columns(block: str) -> tuple[list[str], list[str]]:
    """The names of a dense block's ``u`` and ``v`` columns, as :func:`design` makes them.

    Examples
    --------
    >>> block_columns("length")
    (['d_tokens', 'd_chars'], [])
    """
    if block == "recal":
        return ["prior_logit"], ["prior_abs_logit", "prior_unknown"]
    if block == "length":
        return [f"d_{n}" for n in _LENGTH], []
    if block == "style":
        return [f"d_{n}" for n in SIDE_FEATURES] + ["d_tokens_x_prompt"], []
    if block == "tie":
        v = [f"{kind}_{n}" for n in SIDE_FEATURES for kind in ("sum", "absdiff")]
        return [], v + ["log_prompt_tokens", "log_prompt_turns", "identical"]
    raise ValueError(f"unknown dense block {block!r}")


def _side(table: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    fa = table[f"{name}_a"].to_numpy(dtype=float)
    fb = table[f"{name}_b"].to_numpy(dtype=float)
    if name in _LOG:
        return np.log1p(fa), np.log1p(fb)
    return fa, fb
