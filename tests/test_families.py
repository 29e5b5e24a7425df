"""The likelihood families' building blocks against scipy's own functions."""

from __future__ import annotations

import numpy as np
from scipy.special import log_expit

from arena_stats.models.families import log_sigmoids


def test_log_sigmoids_equal_scipys_log_expit_on_both_sides():
    rng = np.random.default_rng(0)
    d = np.concatenate([rng.normal(0, 3, 10_000), rng.normal(0, 300, 1_000),
                        [0.0, -0.0, 1e-300, -1e-300, 36.0, -36.0, 745.0, -745.0, 1e10, -1e10, np.inf, -np.inf]])
    up, down = log_sigmoids(d)
    np.testing.assert_allclose(up, log_expit(d), rtol=4e-16, atol=0)
    np.testing.assert_allclose(down, log_expit(-d), rtol=4e-16, atol=0)
    # the unlikely side keeps its digits where 1 - p rounds to 1
    assert down[-4] == -1e10 and up[-3] == -1e10 and up[-8] < 0 and down[-7] < 0  # d = +-1e10, +-36
