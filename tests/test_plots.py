"""Every plot kind renders for 2, 50 and 300 models and labels the models it should."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from arena_stats import fit_bradley_terry
from arena_stats.boards.over_time import ratings_over_time
from arena_stats.data.aggregate import pairwise_matrices
from arena_stats.data.simulate import simulate_arena
from arena_stats.errors import InputError
from arena_stats.online.elo import elo_bootstrap
from arena_stats.plots import (
    plot_battle_counts,
    plot_bootstrap,
    plot_calibration,
    plot_leaderboard,
    plot_ratings_over_time,
    plot_win_fraction,
    plot_win_probability,
    rank_tiers,
)

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
    # one point per model, at its rating
    points = [ln for ln in fig.axes[0].lines if ln.get_marker() == "o"]
    assert len(points) == 1 and len(points[0].get_xdata()) == n


def test_a_point_outside_its_percentile_interval_is_drawn_not_refused():
    board = pd.DataFrame({"model": ["a", "b", "c"], "rating": [1100.0, 1000.0, 900.0],
                          "ci_lower": [1105.0, 980.0, 850.0], "ci_upper": [1150.0, 1020.0, 895.0]})
    board["rank"] = [1, 2, 3]
    fig = plot_leaderboard(board)
    render(fig)
    segments = fig.axes[0].collections[0].get_segments()
    assert [(s[0][0], s[1][0]) for s in segments] == [(1105.0, 1150.0), (980.0, 1020.0), (850.0, 895.0)]


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


# ------------------------------------------------------------------ figures fit for a paper
@pytest.fixture(scope="module")
def board15():
    from arena_stats import leaderboard
    sim = simulate_arena(n_models=15, n_battles=6000, seed=15, days=60)
    return sim, leaderboard(sim.battles, rounds=100, seed=1)


def _cell_texts(ax):
    return [t for t in ax.texts if t.get_text()]


@pytest.mark.parametrize("n", [8, 15, 20])
def test_heatmap_numbers_fit_their_cells_and_contrast_with_them(n):
    from arena_stats.plots import DARK_CELL, MIN_CELL_FONT
    sim = simulate_arena(n_models=n, n_battles=300 * n, seed=n)
    fit = fit_bradley_terry(sim.battles)
    for fig in (plot_win_fraction(sim.battles, ratings=fit), plot_battle_counts(sim.battles, ratings=fit),
                plot_win_probability(fit)):
        ax = fig.axes[0]
        img = ax.images[0]
        values = np.ma.filled(img.get_array(), np.nan)
        texts = _cell_texts(ax)
        assert len(texts) == int(np.isfinite(values).sum())
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        cell = ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0]
        rgba = img.cmap(img.norm(np.ma.masked_invalid(values)))
        for t in texts:
            assert t.get_fontsize() >= MIN_CELL_FONT
            assert t.get_window_extent(renderer).width < cell  # the number stays inside its cell
            c, r = (int(round(v)) for v in t.get_position())
            lum = 0.299 * rgba[r, c, 0] + 0.587 * rgba[r, c, 1] + 0.114 * rgba[r, c, 2]
            assert t.get_color() == ("white" if lum < DARK_CELL else "black")


def test_big_heatmaps_drop_their_numbers():
    sim = simulate_arena(n_models=50, n_battles=5000, seed=3)
    assert not _cell_texts(plot_win_fraction(sim.battles).axes[0])


def test_pairs_that_never_met_are_crossed_not_coloured_and_counts_use_a_log_scale():
    from matplotlib.colors import LogNorm
    frame = pd.DataFrame({"model_a": ["a", "a", "b", "c", "a"], "model_b": ["b", "c", "c", "d", "b"],
                          "winner": ["model_a", "model_b", "tie", "model_a", "model_a"]})
    for fig in (plot_win_fraction(frame, ratings=["a", "b", "c", "d"]),
                plot_battle_counts(frame, ratings=["a", "b", "c", "d"])):
        ax = fig.axes[0]
        crosses = {tuple(int(v) for v in xy) for xy in ax.collections[0].get_offsets()}
        assert crosses == {(3, 0), (0, 3), (3, 1), (1, 3)}  # a-d and b-d never met (column, row)
        assert np.ma.getmaskarray(ax.images[0].get_array())[0, 3]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["never met"]
    counts = plot_battle_counts(frame, ratings=["a", "b", "c", "d"]).axes[0]
    assert isinstance(counts.images[0].norm, LogNorm)
    assert "log" in counts.figure.axes[1].get_ylabel()


def test_titles_name_the_interval_method_and_level(board15):
    from arena_stats import leaderboard
    from arena_stats.plots import interval_label
    sim, board = board15
    fig = plot_leaderboard(board)
    assert "95% bootstrap percentile intervals (100 rounds)" in fig.axes[0].get_title()
    sandwich = leaderboard(sim.battles, ci="sandwich", confidence=0.9)
    assert "90% sandwich (robust) Wald intervals" in plot_leaderboard(sandwich).axes[0].get_title()
    assert "90% sandwich" in plot_leaderboard(sandwich.to_frame(), style="paper").axes[0].get_xlabel()
    assert interval_label(board.fit) == "no intervals"
    assert "(100 rounds)" in plot_bootstrap(board).axes[0].get_title()


def test_every_figure_of_a_board_lists_the_models_in_the_boards_order(board15):
    sim, board = board15
    order = list(board.frame["model"])
    figs = [plot_leaderboard(board), plot_win_fraction(sim.battles, ratings=board),
            plot_battle_counts(sim.battles, ratings=board), plot_win_probability(board.fit, ratings=board),
            plot_bootstrap(board), plot_bootstrap(board, what="ranks")]
    for fig in figs:
        assert labels(fig.axes[0].get_yticklabels()) == order


def test_tier_labels_and_shading_match_the_tables_ranks(board15):
    from arena_stats.inference.ranks import tiers
    _, board = board15
    fig = plot_leaderboard(board)
    rank = board.frame["rank"].to_numpy()
    right = [t.get_text() for t in fig.axes[1].get_yticklabels()] if len(fig.axes) > 1 else \
        [t.get_text() for t in fig.axes[0].child_axes[0].get_yticklabels()]
    expected = [f"rank {r}" if k == 0 or rank[k - 1] != r else "" for k, r in enumerate(rank)]
    assert right == expected
    shaded = set()
    for patch in fig.axes[0].patches:
        y0 = patch.get_y() if hasattr(patch, "get_y") else patch.get_xy()[0][1]
        h = patch.get_height() if hasattr(patch, "get_height") else 0
        shaded |= set(range(int(round(y0 + 0.5)), int(round(y0 + 0.5 + h))))
    assert shaded == {k for k, t in enumerate(tiers(rank)) if t % 2 == 1}


def test_calibration_has_a_legend_for_marker_sizes(board15):
    _, board = board15
    ax = plot_calibration(board.fit).axes[0]
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "battles per pair"
    values = [float(t.get_text().replace(",", "")) for t in legend.get_texts()]
    sizes = [h.get_markersize() for h in legend.legend_handles]
    assert values == sorted(values) and sizes == sorted(sizes) and len(values) >= 2
    counts = np.array([float(v) for v in board.fit.counts.table().sum(axis=1)])
    assert values[0] >= 1 and values[-1] <= 1.5 * counts.max()
