"""Invariances of the fit, checked on random arenas with hypothesis."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from arena_stats import fit_bradley_terry, load_battles
from arena_stats.models.bradley_terry import TIES

FLIP = {"model_a": "model_b", "model_b": "model_a", "tie": "tie", "tie (bothbad)": "tie (bothbad)"}


@st.composite
def arenas(draw):
    """Small arenas in which every model beats and loses to a neighbour, so the MLE exists."""
    n = draw(st.integers(3, 6))
    names = [f"m{k}" for k in range(n)]
    rows = []
    for k in range(n):  # a cycle of wins and losses guarantees strong connectivity and ties
        rows.append((names[k], names[(k + 1) % n], "model_a"))
        rows.append((names[k], names[(k + 1) % n], "model_b"))
        rows.append((names[k], names[(k + 1) % n], "tie"))
    extra = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                                    st.sampled_from(list(FLIP))), max_size=40))
    rows += [(names[a], names[b], w) for a, b, w in extra if a != b]
    return pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])


@settings(max_examples=30, deadline=None)
@given(arenas(), st.sampled_from(TIES))
def test_swapping_slots_and_verdicts_changes_nothing(frame, ties):
    swapped = pd.DataFrame({"model_a": frame.model_b, "model_b": frame.model_a,
                            "winner": frame.winner.map(FLIP)})
    a = fit_bradley_terry(load_battles(frame), ties=ties)
    b = fit_bradley_terry(load_battles(swapped), ties=ties)
    np.testing.assert_allclose(a.ratings, b.ratings, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(arenas(), st.sampled_from(TIES))
def test_doubling_the_data_keeps_ratings_and_shrinks_se_by_sqrt2(frame, ties):
    a = fit_bradley_terry(load_battles(frame), ties=ties)
    b = fit_bradley_terry(load_battles(pd.concat([frame, frame], ignore_index=True)), ties=ties)
    np.testing.assert_allclose(a.ratings, b.ratings, atol=1e-6)
    np.testing.assert_allclose(a.se * np.sqrt(0.5), b.se, rtol=1e-5, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(arenas())
def test_renaming_models_permutes_ratings(frame):
    rename = {m: f"z-{m}" if m.endswith(("0", "2")) else f"a-{m}" for m in set(frame.model_a) | set(frame.model_b)}
    a = fit_bradley_terry(load_battles(frame))
    b = fit_bradley_terry(load_battles(frame.replace({"model_a": rename, "model_b": rename})))
    np.testing.assert_allclose(a.ratings.to_numpy(), b.ratings.loc[[rename[m] for m in a.models]].to_numpy(),
                               atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(arenas())
def test_gradient_at_the_fit_is_below_tolerance_and_mean_rating_is_init(frame):
    fit = fit_bradley_terry(load_battles(frame))
    assert fit.grad_norm <= 1e-8
    assert abs(fit.ratings.mean() - 1000) < 1e-9
