"""Glicko-2: Glickman's worked example, and a scalar per-player implementation as the reference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from arena_stats import load_battles
from arena_stats.data.simulate import simulate_arena
from arena_stats.errors import InputError
from arena_stats.online.glicko import GLICKO_SCALE, glicko2, glicko2_update


def test_glicko2_reproduces_glickmans_worked_example():
    # Glickman (2012), "Example of the Glicko-2 system": 1500/200/0.06 against three opponents
    r, rd, vol = glicko2_update(1500, 200, 0.06, [1400, 1550, 1700], [30, 100, 300], [1, 0, 0], tau=0.5)
    assert (r - 1500) / GLICKO_SCALE == pytest.approx(-0.2069, abs=5e-5)   # mu'
    assert rd / GLICKO_SCALE == pytest.approx(0.8722, abs=5e-5)            # phi'
    assert vol == pytest.approx(0.05999, abs=1e-5)                          # sigma' (paper truncates)
    # the paper rounds mu' before converting, hence 1464.06 there
    assert r == pytest.approx(1464.06, abs=0.011)
    assert rd == pytest.approx(151.52, abs=0.005)


def test_glicko2_system_reproduces_the_worked_example_from_battles():
    df = pd.DataFrame({"model_a": ["p", "x", "p"], "model_b": ["x", "p", "z"],
                       "winner": ["model_a", "model_a", "model_b"]})
    df.loc[1, ["model_a", "model_b"]] = ["y", "p"]  # p loses to y as contestant B
    res = glicko2(df, period=3, initial={"p": (1500, 200, 0.06), "x": (1400, 30, 0.06),
                                          "y": (1550, 100, 0.06), "z": (1700, 300, 0.06)})
    assert res.ratings["p"] == pytest.approx(1464.0507, abs=1e-3)
    assert res.rd["p"] == pytest.approx(151.5165, abs=1e-3)
    assert res.n_periods == 1


# ------------------------------------------------------------- an independent scalar reference
def _f(x, delta, phi, v, a, tau):
    ex = math.exp(x)
    return ex * (delta ** 2 - phi ** 2 - v - ex) / (2 * (phi ** 2 + v + ex) ** 2) - (x - a) / tau ** 2


def scalar_player_update(mu, phi, sigma, opps, tau, eps=1e-6):
    """Glickman's steps 3-8 for one player, written out with plain floats."""
    if not opps:
        return mu, math.sqrt(phi ** 2 + sigma ** 2), sigma
    vinv, dsum = 0.0, 0.0
    for mu_j, phi_j, s in opps:
        g = 1 / math.sqrt(1 + 3 * phi_j ** 2 / math.pi ** 2)
        e = 1 / (1 + math.exp(-g * (mu - mu_j)))
        vinv += g * g * e * (1 - e)
        dsum += g * (s - e)
    v = 1 / vinv
    delta = v * dsum
    a = math.log(sigma ** 2)
    A = a
    if delta ** 2 > phi ** 2 + v:
        B = math.log(delta ** 2 - phi ** 2 - v)
    else:
        k = 1
        while _f(a - k * tau, delta, phi, v, a, tau) < 0:
            k += 1
        B = a - k * tau
    fA, fB = _f(A, delta, phi, v, a, tau), _f(B, delta, phi, v, a, tau)
    while abs(B - A) > eps:
        C = A + (A - B) * fA / (fB - fA)
        fC = _f(C, delta, phi, v, a, tau)
        if fC * fB <= 0:
            A, fA = B, fB
        else:
            fA = fA / 2
        B, fB = C, fC
    sig = math.exp(A / 2)
    phi_star = math.sqrt(phi ** 2 + sig ** 2)
    phi_new = 1 / math.sqrt(1 / phi_star ** 2 + 1 / v)
    return mu + phi_new ** 2 * dsum, phi_new, sig


def scalar_glicko2(model_a, model_b, winner, batch, tau=0.5):
    state: dict[str, tuple[float, float, float]] = {}
    score = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
    rows = list(zip(model_a, model_b, winner))
    for start in range(0, len(rows), batch):
        games = rows[start:start + batch]
        for ma, mb, _ in games:
            state.setdefault(ma, (0.0, 350 / GLICKO_SCALE, 0.06))
            state.setdefault(mb, (0.0, 350 / GLICKO_SCALE, 0.06))
        opps: dict[str, list] = {m: [] for m in state}
        for ma, mb, w in games:
            opps[ma].append((state[mb][0], state[mb][1], score[w]))
            opps[mb].append((state[ma][0], state[ma][1], 1 - score[w]))
        state = {m: scalar_player_update(*state[m], opps[m], tau) for m in state}
    return {m: (mu * GLICKO_SCALE + 1500, phi * GLICKO_SCALE, sig) for m, (mu, phi, sig) in state.items()}


def test_glicko2_equals_scalar_reference_on_random_battles_with_ties_and_late_entrants():
    rng = np.random.default_rng(0)
    n, n_models = 1500, 10
    names = np.array([f"m{i}" for i in range(n_models)], dtype=object)
    # models enter over time: model k plays only after battle 100 k
    a = np.array([rng.integers(0, min(n_models, 2 + t // 100)) for t in range(n)])
    b = np.array([(x + rng.integers(1, min(n_models, 2 + t // 100))) % min(n_models, 2 + t // 100)
                  for t, x in enumerate(a)])
    winner = np.array(["model_a", "model_b", "tie", "tie (bothbad)"], dtype=object)[rng.choice(4, n)]
    df = pd.DataFrame({"model_a": names[a], "model_b": names[b], "winner": winner})
    res = glicko2(df, period=40, tau=0.6)
    ref = scalar_glicko2(df["model_a"], df["model_b"], df["winner"], batch=40, tau=0.6)
    for m in res.models:
        assert res.ratings[m] == pytest.approx(ref[m][0], abs=1e-6)
        assert res.rd[m] == pytest.approx(ref[m][1], abs=1e-6)
        assert res.volatility[m] == pytest.approx(ref[m][2], abs=1e-8)


def test_idle_models_lose_certainty_and_unentered_models_are_untouched():
    df = pd.DataFrame({"model_a": ["x", "x", "y", "y"], "model_b": ["y", "z", "z", "w"],
                       "winner": ["model_a", "tie", "model_b", "model_a"]})
    res = glicko2(df, period=1, history=True)
    h = res.history
    assert set(h[h["period"] == 0]["model"]) == {"x", "y"}  # z and w not yet entered
    x0 = h[(h.period == 1) & (h.model == "x")].iloc[0]
    x3 = h[(h.period == 3) & (h.model == "x")].iloc[0]
    # x idles in periods 2 and 3: rating fixed, RD grows by sqrt(phi^2 + sigma^2) twice
    phi = x0.rd / GLICKO_SCALE
    for _ in range(2):
        phi = math.sqrt(phi ** 2 + x0.volatility ** 2)
    assert x3.rating == x0.rating and x3.rd == pytest.approx(phi * GLICKO_SCALE, rel=1e-12)
    assert res.rd["w"] < 350  # w played once in the last period


def test_calendar_periods_from_timestamps():
    sim = simulate_arena(n_models=8, n_battles=4000, seed=4, days=60)
    weekly = glicko2(sim.battles, period="week")
    daily = glicko2(sim.battles, period="day")
    ts = pd.to_datetime(sim.battles.frame["tstamp"], unit="s")
    assert weekly.n_periods == ts.dt.to_period("W").nunique()
    assert daily.n_periods == ts.dt.normalize().nunique()
    # both recover the planted order of the strongest and the weakest model
    truth = sim.true_ratings
    for res in (weekly, daily):
        assert res.ratings.idxmax() == truth.idxmax() and res.ratings.idxmin() == truth.idxmin()
        assert np.corrcoef(res.ratings, truth.reindex(res.models))[0, 1] > 0.9
    frame = weekly.to_frame()
    assert {"rank", "rating", "rd", "ci_lower", "ci_upper"} <= set(frame.columns)
    assert (frame["ci_upper"] - frame["ci_lower"] > 0).all()


def test_glicko2_rejects_bad_input():
    df = pd.DataFrame({"model_a": ["x"], "model_b": ["y"], "winner": ["tie"], "w": [2.0]})
    with pytest.raises(InputError, match="weights"):
        glicko2(load_battles(df, weight_col="w"))
    with pytest.raises(InputError, match="needs a 'tstamp'"):
        glicko2(df.drop(columns="w"), period="day")
    with pytest.raises(InputError, match="period must be"):
        glicko2(df.drop(columns="w"), period="fortnight")
    with pytest.raises(InputError, match="unknown model"):
        glicko2(df.drop(columns="w"), period=1, initial={"q": (1500, 100, 0.06)})
