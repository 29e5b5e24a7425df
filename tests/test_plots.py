"""Every plot kind renders for 2, 50 and 300 models and labels the models it should."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from arena_stats import fit_bradley_terry
from arena_stats.data.aggregate import pairwise_matrices
from arena_stats.online.elo import elo_bootstrap
from arena_stats.errors import InputError
from arena_stats.boards.over_time import ratings_over_time
from arena_stats.plots import (plot_battle_counts, plot_bootstrap, plot_calibration, plot_leaderboard,
                               plot_ratings_over_time, plot_win_fraction, plot_win_probability, rank_tiers)
from arena_stats.data.simulate import simulate_arena

matplotlib.use("Agg")

SIZES = {2: 300, 50: 6000, 300: 30000}
TOP_LINES = 10


@pytest.fixture(scope="module", params=sorted(SIZES))
def case(request):
    n = request.param
    sim = simulate_arena(n_models=n, n_battles=SIZES[n], seed=n, days=90)
    fit = fit_bradley_terry(sim.battles, l2=0.01)
    boot = elo_bootstrap(sim.battles, rounds=12, seed=0)
    rot = ratings_over_time(sim.battles, "M")
    return n, sim, fit, boot, rot


def labels(axis_ticklabels) -> list[str]:
    return [t.get_text() for t in axis_ticklabels if t.get_text()]


def render(fig: Figure) -> bytes:
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=20)
    data = buf.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 500
    return data


def test_leaderboard_plot_labels_every_model_best_first(case):
    n, sim, fit, boot, rot = case
    fig = plot_leaderboard(fit)
    render(fig)
    shown = labels(fig.axes[0].get_yticklabels())
    assert len(shown) == n
    assert shown == list(fit.ratings.sort_values(ascending=False).index)
    # one error bar per model
    assert len(fig.axes[0].lines[0].get_xdata()) == n


@pytest.mark.parametrize("plot", [plot_win_fraction, plot_battle_counts])
def test_observed_heatmaps_label_models_on_both_axes_in_rating_order(case, plot):
    n, sim, fit, boot, rot = case
    fig = plot(sim.battles, ratings=fit)
    render(fig)
    ax = fig.axes[0]
    order = list(fit.ratings.sort_values(ascending=False).index)
    assert labels(ax.get_yticklabels()) == order and labels(ax.get_xticklabels()) == order
    img = ax.images[0].get_array()
    frac, count = pairwise_matrices(sim.battles, order=order)
    expected = frac if plot is plot_win_fraction else count.where(count > 0)
    np.testing.assert_allclose(np.ma.filled(img, np.nan), expected.to_numpy(), equal_nan=True)


def test_predicted_heatmap_and_calibration_use_the_fit(case):
    n, sim, fit, boot, rot = case
    fig = plot_win_probability(fit)
    render(fig)
    ax = fig.axes[0]
    assert len(labels(ax.get_yticklabels())) == n
    cal = plot_calibration(fit)
    render(cal)
    _, count = pairwise_matrices(fit.counts)
    n_pairs = int((np.triu(count.to_numpy(), 1) > 0).sum())
    assert len(cal.axes[0].collections[0].get_offsets()) == n_pairs


def test_ratings_over_time_draws_top_k_lines_with_bands(case):
    n, sim, fit, boot, rot = case
    fig = plot_ratings_over_time(rot, top=TOP_LINES)
    render(fig)
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) == min(n, TOP_LINES)
    last = rot.at(rot.dates[-1])
    assert legend == list(last["model"][:min(n, TOP_LINES)])
    assert len(ax.collections) == len(legend)  # one band per line


@pytest.mark.parametrize("what,kind", [("ratings", "box"), ("ranks", "violin")])
def test_bootstrap_distribution_plots_label_every_model(case, what, kind):
    n, sim, fit, boot, rot = case
    fig = plot_bootstrap(boot, what=what, kind=kind)
    render(fig)
    shown = labels(fig.axes[0].get_yticklabels())
    assert len(shown) == n
    assert shown == list(boot.samples.median().sort_values(ascending=False).index)


def test_top_k_and_paper_style_for_many_models():
    sim = simulate_arena(n_models=300, n_battles=20000, seed=1)
    fit = fit_bradley_terry(sim.battles, l2=0.01)
    for fig in (plot_leaderboard(fit, top=25, style="paper"),
                plot_win_fraction(sim.battles, ratings=fit, top=25, style="paper")):
        render(fig)
        ticks = fig.axes[0].get_yticklabels()
        assert len(labels(ticks)) == 25
        assert ticks[0].get_fontfamily()[0] == "serif"
        assert fig.axes[0].get_title() == ""


def test_rank_tiers_split_where_intervals_stop_overlapping():
    r = np.array([1100.0, 1090, 1040, 1035, 900])
    lo = r - 20
    hi = r + 20
    assert rank_tiers(r, lo, hi).tolist() == [1, 1, 2, 2, 3]
    fig = plot_leaderboard(pd.DataFrame({"model": list("abcde"), "rating": r, "ci_lower": lo, "ci_upper": hi}))
    assert len(fig.axes[0].patches) == 1  # tier 2 shaded (even tiers)


def test_plots_reject_bad_arguments(case):
    n, sim, fit, boot, rot = case
    with pytest.raises(InputError, match="style"):
        plot_leaderboard(fit, style="fancy")
    with pytest.raises(InputError, match="top"):
        plot_leaderboard(fit, top=0)
    with pytest.warns(DeprecationWarning, match="top_k"), pytest.raises(InputError, match="top"):
        plot_leaderboard(fit, top_k=0)
    with pytest.raises(InputError, match="what"):
        plot_bootstrap(boot, what="p_top")
    with pytest.raises(InputError, match="no history"):
        plot_ratings_over_time(rot, models=["nobody"])


def test_plot_cli_writes_each_image_format_and_lists_every_kind(tmp_path, capsys):
    from arena_stats.cli import main
    from arena_stats.plots import PLOT_KINDS
    with pytest.raises(SystemExit):
        main(["plot", "--help"])
    helptext = capsys.readouterr().out
    assert all(kind in helptext for kind in PLOT_KINDS)
    sim = simulate_arena(n_models=6, n_battles=1500, seed=4, days=60)
    path = tmp_path / "b.csv"
    sim.battles.to_frame().to_csv(path, index=False)
    heads = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}
    for kind, ext in zip(PLOT_KINDS, ["svg", "png", "pdf", "png", "svg", "png", "pdf", "png"]):
        out = tmp_path / f"{kind}.{ext}"
        assert main(["plot", kind, str(path), "-o", str(out), "-q", "--rounds", "20", "--freq", "M",
                     "--dpi", "30"]) == 0, kind
        assert out.read_bytes()[:5].startswith(heads[ext]), kind
    assert main(["plot", "leaderboard", str(path), "-o", str(tmp_path / "x.jpg"), "-q"]) == 2
    assert "png, .svg or .pdf" in capsys.readouterr().err
