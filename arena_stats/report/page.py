"""A leaderboard page a team can publish: one self-contained HTML file.

:func:`build_report` fits the board, audits it (:func:`~arena_stats.boards.audit.audit`) and
writes one HTML page with everything inline -- style sheet, script, data, figures -- so that it
opens from a ``file://`` URL without any network:

* the **leaderboard**, sortable: rank (Rank (UB)), the tier of models that cannot be told apart
  at the family-wise level, rating with the LMSYS ``+x / -y`` interval column, the rank
  interval, votes (battles), win rate, P(rank 1) with the bootstrap, quasi standard error;
* the **audit verdicts**, each with its finding and detail table;
* the **forest plot** (SVG), shaded by the board's tiers like
  :func:`~arena_stats.plots.plot_leaderboard`;
* the **win-fraction, battle-count and predicted win-rate matrices** and **P(A stronger than
  B)**, drawn on canvases from embedded JSON, with the exact value under the pointer; pairs
  that never met are crossed, counts use a log scale, colours are the static figures' maps;
* **close pairs**: neighbours not separated, with P(A > B) and the direct battles that would
  separate them (:func:`~arena_stats.inference.planning.battles_needed`);
* **ratings over time** when the battles have timestamps, and **category boards** with ``by``.

Every number comes from the library: ranks and tiers from :mod:`~arena_stats.inference.ranks`
(through the board and :mod:`~arena_stats.inference.simultaneous`), the table from
:func:`~arena_stats.leaderboard` with the same options as ``arena-stats leaderboard``, so the
page and the CSV board agree cell for cell (the browser test checks it). All models appear in
one order, the board's, in every table and figure.

Design: no JavaScript library and no web font (the page must render offline and stay small);
SVG for the forest plot and the lines over time (one element per model or point, native
hover), canvas for the n x n matrices (a few kilobytes of JSON instead of n^2 SVG elements).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd

from .. import __version__
from .._util.io import atomic_write
from ..boards.audit import Audit, audit
from ..boards.leaderboard import Leaderboard, leaderboard
from ..data.aggregate import pairwise_matrices
from ..data.battles import Battles, timestamps
from ..data.readers import as_battles
from ..errors import ArenaStatsError, InputError
from ..inference.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_ROUNDS
from ..inference.planning import battles_needed
from ..inference.ranks import tiers
from ..models.elo_scale import DEFAULT_BASE, DEFAULT_INIT, DEFAULT_SCALE
from ..models.results import Result
from ..plots import CMAPS, interval_label
from .assets import ERROR_TRAP, SCRIPT, STYLE

__all__ = ["Report", "build_report", "MATRIX_MAX_MODELS", "BOARD_COLUMNS_SHOWN"]

#: The matrices show at most this many models (the best); the board and forest plot show all.
MATRIX_MAX_MODELS = 80
#: Lines in the ratings-over-time chart (the best at the last date).
OVER_TIME_LINES = 10
#: Close pairs listed (neighbours not separated, best first).
CLOSE_PAIRS = 12
#: Rows of a check's detail table shown on the page.
DETAIL_ROWS = 30
#: Pixel size of a matrix cell: large enough for numbers up to 20 models, never below 6.
CELL_PX = {20: 34, 40: 16, 80: 8}
#: Colours of the lines over time (matplotlib's tab10, as the static figure).
LINE_COLORS = [mpl.colors.to_hex(c) for c in mpl.colormaps["tab10"].colors]  # type: ignore[attr-defined]
#: Pixels per character of a matrix label (12 px sans-serif).
LABEL_PX_PER_CHAR = 6.5
#: Date labels of the time axis are at least this many pixels apart.
DATE_LABEL_PX = 90
#: Colour-table steps sent to the page per matrix.
LUT_STEPS = 64
#: Columns of the page's leaderboard, with their heads (key = the board frame's column).
BOARD_COLUMNS_SHOWN = ("rank", "tier", "model", "rating", "ci", "rank_interval", "battles", "win_rate", "p_top",
                       "quasi_se")


@dataclass(frozen=True, repr=False, eq=False)
class Report(Result):
    """A published leaderboard page and what it was built from.

    Attributes
    ----------
    html : str
        The self-contained page.
    board : Leaderboard
    audit : Audit
    settings : dict
    """

    html: str
    board: Leaderboard
    audit: Audit
    settings: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The board shown on the page (the leaderboard's frame)."""
        return self.board.to_frame()

    def save(self, path: Any) -> None:
        """Write the page atomically (UTF-8), with the mode ``open(path, "w")`` would give it."""
        with atomic_write(path, encoding="utf-8") as fh:
            fh.write(self.html)

    def _describe(self) -> str:
        return f"{len(self.board)} models, {len(self.html.encode()) / 1024:.0f} KiB"

    def summary(self) -> str:
        return f"Leaderboard page: {self._describe()}\n{self.audit.summary()}"


# ------------------------------------------------------------------------------ helpers
def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _num(v: Any, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return f"{float(v):,.{digits}f}"


def _lut(cmap: str, start: float = 0.0) -> list[str]:
    colors = mpl.colormaps[cmap]
    if colors(0.0)[:3] == (1.0, 1.0, 1.0):
        start = max(start, 0.15)  # as the static figure: one battle is not white
    return [mpl.colors.to_hex(colors(x)) for x in np.linspace(start, 1.0, LUT_STEPS)]


def _cell_px(n: int) -> int:
    for limit, px in sorted(CELL_PX.items()):
        if n <= limit:
            return px
    return 6


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def _label_px(labels: Sequence[str]) -> int:
    """Room for the row and column labels of a matrix: the longest label at ~6.5 px a character."""
    return int(min(170, LABEL_PX_PER_CHAR * max((len(x) for x in labels), default=4) + 14))


def _json_matrix(m: np.ndarray, digits: int) -> list[list[float | None]]:
    return [[None if not np.isfinite(v) else round(float(v), digits) for v in row] for row in m]


# ------------------------------------------------------------------------------ sections
def _header(battles: Battles, board: Leaderboard, title: str) -> str:
    s = board.settings
    span = ""
    if "tstamp" in battles.frame:
        ts = timestamps(battles.frame["tstamp"]).dropna()
        if len(ts):
            span = f"; battles from {ts.min():%Y-%m-%d} to {ts.max():%Y-%m-%d}"
    filters = "".join(f"<li>{_e(f)}</li>" for f in s.get("filters", []))
    return (f"<h1>{_e(title)}</h1>"
            f"<p class='sub'>{len(board):,} models, {s.get('n_battles', 0):,.0f} battles{_e(span)}. "
            f"Bradley-Terry maximum likelihood, ties={_e(s.get('ties'))}; {_e(interval_label(board))}; "
            f"Elo scale {s.get('scale', 400):g} / base {s.get('base', 10):g}"
            + (f"; anchor {_e(s['anchor'])}" if s.get("anchor") else "") + ".</p>"
            + (f"<ul class='note'>{filters}</ul>" if filters else ""))


def _board_table(board: Leaderboard, result: Audit) -> str:
    frame = board.frame
    level = board.settings.get("confidence", DEFAULT_CONFIDENCE)
    tier = result.separation.tier if result.separation is not None else None
    qse = result.quasi.quasi_se if result.quasi is not None else None
    has_ci = np.isfinite(frame["ci_lower"].to_numpy(float)).any()
    heads = [("rank", "Rank (UB)", "num", "1 + models whose interval lies wholly above (LMSYS Rank (UB))"),
             ("tier", "Tier (FW)", "num", "models that cannot be told apart when every pair is tested together "
                                          "(family-wise, max-t) share a tier"),
             ("model", "Model", "text", ""), ("rating", "Rating", "num", "Elo-scale Bradley-Terry rating"),
             ("ci", f"{level:.0%} CI", "num", "+x / -y: upper and lower bound minus the rating"),
             ("rank_interval", "Rank interval", "num", "the best and worst rank the intervals allow"),
             ("battles", "Votes", "num", "battles"), ("win_rate", "Win rate", "num", "ties count half"),
             ("p_top", "P(rank 1)", "num", "share of bootstrap rounds in which the model ranked first"),
             ("quasi_se", "Quasi SE", "num", "reference-free standard error (Firth & de Menezes 2004)")]
    if tier is None:
        heads = [h for h in heads if h[0] != "tier"]
    if "p_top" not in frame:
        heads = [h for h in heads if h[0] != "p_top"]
    if qse is None:
        heads = [h for h in heads if h[0] != "quasi_se"]
    if not has_ci:
        heads = [h for h in heads if h[0] not in ("ci", "rank_interval")]
    th = "".join(f"<th data-key='{k}' data-type='{t}' class='{'text' if t == 'text' else ''}' "
                 f"title='{_e(tip)}'>{_e(label)}</th>" for k, label, t, tip in heads)
    rows = []
    tier_idx = tiers(frame["rank"].to_numpy())
    for k, r in enumerate(frame.itertuples(index=False)):
        model = str(r.model)
        cells = []
        for key, _, _, _ in heads:
            if key == "rank":
                cells.append(f"<td data-value='{int(r.rank)}'>{int(r.rank)}</td>")
            elif key == "tier":
                t = int(tier[model]) if tier is not None else 0
                cells.append(f"<td data-value='{t}'>{t}</td>")
            elif key == "model":
                cells.append(f"<td class='text model' data-value='{_e(model)}'>{_e(model)}</td>")
            elif key == "rating":
                cells.append(f"<td data-value='{r.rating!r}'>{_num(r.rating)}</td>")
            elif key == "ci":
                up, down = r.ci_upper - r.rating, r.rating - r.ci_lower
                cells.append(f"<td class='ci' data-value='{r.ci_upper - r.ci_lower!r}' data-lower='{r.ci_lower!r}' "
                             f"data-upper='{r.ci_upper!r}' title='{_num(r.ci_lower)} to {_num(r.ci_upper)}'>"
                             f"+{_num(up)} / -{_num(down)}</td>")
            elif key == "rank_interval":
                cells.append(f"<td data-value='{int(r.rank_upper)}'>{int(r.rank_lower)}&ndash;{int(r.rank_upper)}</td>")
            elif key == "battles":
                cells.append(f"<td data-value='{r.battles}'>{_num(r.battles, 0)}</td>")
            elif key == "win_rate":
                cells.append(f"<td data-value='{r.win_rate!r}'>{_num(r.win_rate, 3)}</td>")
            elif key == "p_top":
                cells.append(f"<td data-value='{r.p_top!r}'>{_num(r.p_top, 3)}</td>")
            elif key == "quasi_se":
                v = float(qse[model]) if qse is not None else float("nan")
                cells.append(f"<td data-value='{v!r}'>{_num(v)}</td>")
        shade = " class='shade'" if tier_idx[k] % 2 == 1 else ""
        rows.append(f"<tr data-model='{_e(model)}'{shade}>{''.join(cells)}</tr>")
    return (f"<div class='scroll'><table id='board' class='sortable'><thead><tr>{th}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>"
            "<p class='note'>Click a column to sort. Rank (UB): 1 + the number of models whose interval lies "
            "wholly above; the rank interval runs from there to the worst rank the intervals allow; shaded bands: "
            "models sharing a rank, as in the figures. Tier (FW): models that cannot be told apart when every pair "
            "is tested together (family-wise max-t intervals of the differences; see Close pairs).</p>")


def _audit_section(result: Audit) -> str:
    rows = []
    for c in result.checks:
        detail = ""
        if c.detail is not None and len(c.detail):
            d = c.detail.head(DETAIL_ROWS)
            table = d.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}", classes="detail")
            more = f"<p class='note'>... {len(c.detail) - DETAIL_ROWS} more rows</p>" if len(c.detail) > DETAIL_ROWS \
                else ""
            detail = f"<details><summary>detail</summary>{table}{more}</details>"
        value = "" if c.value is None or not math.isfinite(c.value) else f"{c.value:.4g}"
        threshold = "" if c.threshold is None else f"{c.threshold:.4g}"
        rows.append(f"<tr data-check='{c.name}' data-verdict='{c.verdict}'><td class='text'><b>{c.name}</b><br>"
                    f"<span class='note'>{_e(c.title)}</span></td><td><span class='badge {c.verdict}'>{c.verdict}"
                    f"</span></td><td>{value}</td><td>{threshold}</td><td class='msg'>{_e(c.message)}{detail}</td>"
                    "</tr>")
    return ("<div class='scroll'><table id='audit'><thead><tr><th class='text'>check</th><th>verdict</th><th>value</th>"
            f"<th>threshold</th><th class='text'>finding</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            "<p class='note'>pass: no sign of the defect; warn: the board is right, read it with care; fail: a number "
            "on the board cannot be trusted as it stands; skip: the check does not apply. Thresholds and tests: "
            "docs/audit.md.</p>")


def _forest(board: Leaderboard) -> str:
    frame = board.frame
    n = len(frame)
    r = frame["rating"].to_numpy(float)
    lo = frame["ci_lower"].to_numpy(float)
    hi = frame["ci_upper"].to_numpy(float)
    lo = np.where(np.isfinite(lo), lo, r)
    hi = np.where(np.isfinite(hi), hi, r)
    rank = frame["rank"].to_numpy()
    tier = tiers(rank)
    row, left, right, top = 18, 250, 70, 24
    width = 900
    plot_w = width - left - right
    x0, x1 = float(lo.min()), float(hi.max())
    pad = 0.04 * (x1 - x0 or 1.0)
    x0, x1 = x0 - pad, x1 + pad

    def sx(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * plot_w

    height = top + n * row + 34
    parts = [f"<svg id='forest' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img' aria-label='ratings with intervals'>"]
    for k in range(n):
        if tier[k] % 2 == 1:
            parts.append(f"<rect x='{left}' y='{top + k * row}' width='{plot_w}' height='{row}' fill='#f2f2f5'/>")
    # grid and axis
    ticks = _ticks(x0, x1)
    for t in ticks:
        parts.append(f"<line x1='{sx(t):.1f}' x2='{sx(t):.1f}' y1='{top}' y2='{top + n * row}' stroke='#e5e5ea'/>"
                     f"<text x='{sx(t):.1f}' y='{top + n * row + 14}' font-size='11' text-anchor='middle' "
                     f"fill='#6e6e73'>{t:g}</text>")
    parts.append(f"<text x='{left + plot_w / 2}' y='{top + n * row + 30}' font-size='12' text-anchor='middle'>"
                 f"rating ({_e(interval_label(board))})</text>")
    for k, rec in enumerate(frame.itertuples(index=False)):
        y = top + k * row + row / 2
        tip = (f"{rec.model}\nrating {rec.rating:.1f}\ninterval {lo[k]:.1f} to {hi[k]:.1f}\nrank {rec.rank} "
               f"(interval {rec.rank_lower}-{rec.rank_upper})")
        parts.append(f"<g class='model' data-model='{_e(rec.model)}' data-tip='{_e(tip)}'>"
                     f"<rect x='0' y='{y - row / 2}' width='{width}' height='{row}' fill='transparent'/>"
                     f"<text x='{left - 8}' y='{y + 4}' font-size='12' text-anchor='end'>"
                     f"{_e(_short(str(rec.model), 32))}"
                     f"</text><line x1='{sx(lo[k]):.1f}' x2='{sx(hi[k]):.1f}' y1='{y}' y2='{y}' stroke='#1f77b4' "
                     f"stroke-width='1.6'/><circle cx='{sx(r[k]):.1f}' cy='{y}' r='3.5' fill='#1f77b4'/>")
        if k == 0 or rank[k] != rank[k - 1]:
            parts.append(f"<text x='{width - right + 8}' y='{y + 4}' font-size='11' fill='#6e6e73'>rank {rank[k]}"
                         "</text>")
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    span = hi - lo
    if not span > 0:
        return [lo]
    raw = span / target
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * step:
            step *= m
            break
    start = math.ceil(lo / step) * step
    return [round(start + k * step, 10) for k in range(int((hi - start) / step) + 1)]


def _matrix_block(key: str, title: str, caption: str, values: np.ndarray, models: Sequence[str], *, cmap: str,
                  vmin: float, vmax: float, log: bool = False, counts: np.ndarray | None = None,
                  digits: int = 3, what: str = "") -> str:
    n = len(models)
    spec = {"models": [str(m) for m in models], "short": [_short(str(m), 22) for m in models],
            "values": _json_matrix(values, digits), "lut": _lut(cmap), "vmin": vmin, "vmax": vmax, "log": log,
            "cell": _cell_px(n), "label": _label_px(spec_short := [_short(str(m), 22) for m in models]),
            "annotate": n <= 20, "what": what or title}
    spec["short"] = spec_short
    if counts is not None:
        spec["counts"] = [[int(v) for v in row] for row in counts]
    data = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
    return (f"<div class='figure'><h3>{_e(title)}</h3><p class='note'>{_e(caption)}</p>"
            f"<canvas class='heatmap' id='{key}' data-spec='{key}-data' aria-label='{_e(title)}'></canvas>"
            f"<script type='application/json' id='{key}-data'>{data}</script></div>")


def _matrices(board: Leaderboard, result: Audit) -> str:
    fit = board.fit
    order = [str(m) for m in board.frame["model"]][:MATRIX_MAX_MODELS]
    cut = f" (the best {len(order)} of {len(board)} models)" if len(board) > len(order) else ""
    counts_pc = getattr(fit, "counts", None)
    if counts_pc is None:
        raise InputError("the page's matrices need a plain Bradley-Terry board (no covariates)")
    frac, count = pairwise_matrices(counts_pc, order)
    cnt = count.to_numpy()
    frac_v = frac.to_numpy().copy()
    np.fill_diagonal(frac_v, np.nan)
    cnt_v = np.where(cnt > 0, cnt, np.nan)
    np.fill_diagonal(cnt_v, np.nan)
    pred = fit.win_probability_matrix(order).to_numpy().copy()
    never = "crossed: never met"
    blocks = [
        _matrix_block("m-winfrac", "Observed win fraction", f"row model against column model, ties half; {never}{cut}",
                      frac_v, order, cmap=CMAPS["default"]["diverging"], vmin=0.0, vmax=1.0, counts=cnt,
                      what="win fraction of row"),
        _matrix_block("m-counts", "Battles per pair", f"log colour scale; {never}{cut}", cnt_v, order,
                      cmap=CMAPS["default"]["sequential"], vmin=1.0, vmax=float(max(np.nanmax(cnt_v), 10.0))
                      if np.isfinite(cnt_v).any() else 10.0, log=True, digits=0, what="battles"),
        _matrix_block("m-predicted", "Predicted P(row beats column)",
                      f"Bradley-Terry, ties={fit.ties}; every pair, met or not{cut}", pred, order,
                      cmap=CMAPS["default"]["diverging"], vmin=0.0, vmax=1.0, counts=cnt,
                      what="predicted win probability of row"),
    ]
    if result.separation is not None:
        pg = result.separation.prob_greater().loc[order, order].to_numpy().copy()
        np.fill_diagonal(pg, np.nan)
        method = result.separation.method
        blocks.append(_matrix_block(
            "m-pgreater", "P(row stronger than column)",
            ("share of bootstrap rounds with the row model rated higher" if method == "bootstrap" else
             f"Phi(difference / se), {method} covariance") + cut, pg, order, cmap=CMAPS["default"]["diverging"],
            vmin=0.0, vmax=1.0, what="P(row stronger)"))
    return "<div class='matrices'>" + "".join(blocks) + "</div>"


def _close_pairs(result: Audit, board: Leaderboard) -> str:
    sep = result.separation
    if sep is None:
        return ""
    adj = sep.adjacent()
    close = adj[~adj["separated_simultaneous"]].head(CLOSE_PAIRS)
    tiers_txt = []
    tier = sep.tier
    for t in sorted(set(tier)):
        members = [m for m in sep.models if tier[m] == t]
        tiers_txt.append(f"<li><b>tier {t}</b>: {_e(', '.join(members))}</li>")
    rows = []
    level = sep.confidence
    for r in close.itertuples(index=False):
        try:
            need = battles_needed(board.fit, pair=(r.model_a, r.model_b), separate=True, confidence=level)
        except ArenaStatsError:
            need = float("nan")
        need_txt = "never (equal ratings)" if not math.isfinite(need) else f"{need:,.0f}"
        rows.append(f"<tr><td class='text'>{_e(r.model_a)}</td><td class='text'>{_e(r.model_b)}</td>"
                    f"<td data-value='{r.diff!r}'>{_num(r.diff)}</td>"
                    f"<td>{_num(r.ci_lower)} to {_num(r.ci_upper)}</td><td>{_num(r.sim_lower)} to {_num(r.sim_upper)}"
                    f"</td><td data-value='{r.p_greater!r}'>{_num(r.p_greater, 3)}</td>"
                    f"<td data-value='{need!r}'>{need_txt}</td></tr>")
    table = ("<div class='scroll'><table id='close' class='sortable'><thead><tr><th class='text' data-type='text'>"
             "above</th><th class='text' data-type='text'>below</th><th>difference</th>"
             f"<th>{level:.0%} interval</th><th>family-wise interval</th><th>P(above stronger)</th>"
             "<th title='direct battles of this pair until its interval excludes 0 with probability 0.8'>battles to "
             f"separate</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>") if rows else \
        "<p>Every pair of neighbours is separated at the family-wise level.</p>"
    return (f"<p class='note'>Family-wise {level:.0%} intervals by the max-t method (critical value "
            f"{sep.critical_value:.2f} instead of 1.96 for one pair); neighbours whose family-wise interval includes "
            f"0 cannot be told apart. {int(sep.pairs['separated_simultaneous'].sum()):,} of {len(sep.pairs):,} pairs "
            f"are separated family-wise, {int(sep.pairs['separated'].sum()):,} marginally.</p>"
            f"<ul>{''.join(tiers_txt)}</ul>{table}")


def _over_time(battles: Battles, board: Leaderboard) -> str:
    if "tstamp" not in battles.frame:
        return ""
    from ..boards.over_time import ratings_over_time
    ts = timestamps(battles.frame["tstamp"])
    if ts.isna().any():
        return "<p class='note'>Ratings over time: some battles have no timestamp.</p>"
    span = (ts.max() - ts.min()).days
    freq = "M" if span >= 120 else ("W" if span >= 21 else "D")
    s = board.settings
    try:
        rot = ratings_over_time(battles, freq, ties=str(s.get("ties", "half")), l2=float(s.get("l2", 0.0)),
                                confidence=float(s.get("confidence", DEFAULT_CONFIDENCE)),
                                scale=float(s.get("scale", 400)), base=float(s.get("base", 10)),
                                init=float(s.get("init", 1000)))
    except ArenaStatsError as exc:
        return f"<p class='note'>Ratings over time: {_e(exc)}</p>"
    frame = rot.frame
    if frame["date"].nunique() < 2:
        return ""
    last = frame.sort_values("date").groupby("model", observed=True)["rating"].last()
    # the board's order: the best at the last date first, as the static figure picks them
    models = list(last.sort_values(ascending=False, kind="stable").index[:OVER_TIME_LINES])
    width, height, left, right, top, bottom = 900, 360, 60, 220, 16, 40
    dates = sorted(frame["date"].unique())
    t0, t1 = pd.Timestamp(dates[0]).value, pd.Timestamp(dates[-1]).value
    sub = frame[frame["model"].isin(models)]
    y0, y1 = float(sub["rating"].min()), float(sub["rating"].max())
    pad = 0.06 * (y1 - y0 or 1.0)
    y0, y1 = y0 - pad, y1 + pad
    pw, ph = width - left - right, height - top - bottom

    def sx(d: Any) -> float:
        return left + (pd.Timestamp(d).value - t0) / max(t1 - t0, 1) * pw

    def sy(v: float) -> float:
        return top + (1 - (v - y0) / (y1 - y0)) * ph

    parts = [f"<svg id='over-time' xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img' aria-label='ratings over time'>"]
    for t in _ticks(y0, y1):
        parts.append(f"<line x1='{left}' x2='{left + pw}' y1='{sy(t):.1f}' y2='{sy(t):.1f}' stroke='#eeeeef'/>"
                     f"<text x='{left - 6}' y='{sy(t) + 4:.1f}' font-size='11' text-anchor='end' fill='#6e6e73'>{t:g}"
                     "</text>")
    step = max(1, math.ceil(len(dates) * DATE_LABEL_PX / pw))
    for d in dates[::step]:
        parts.append(f"<text x='{sx(d):.1f}' y='{top + ph + 16}' font-size='11' text-anchor='middle' "
                     f"fill='#6e6e73'>{pd.Timestamp(d):%Y-%m-%d}</text>")
    for k, m in enumerate(models):
        rows = sub[sub["model"] == m].sort_values("date")
        color = LINE_COLORS[k % len(LINE_COLORS)]
        pts = " ".join(f"{sx(d):.1f},{sy(v):.1f}" for d, v in zip(rows["date"], rows["rating"]))
        parts.append(f"<g data-model='{_e(m)}'><polyline points='{pts}' fill='none' stroke='{color}' "
                     f"stroke-width='1.8'/>")
        for d, v, lo_, hi_ in zip(rows["date"], rows["rating"], rows["ci_lower"], rows["ci_upper"]):
            tip = f"{m}\n{pd.Timestamp(d):%Y-%m-%d}: {v:.1f}" + (f" ({lo_:.1f} to {hi_:.1f})" if np.isfinite(lo_)
                                                                    else "")
            parts.append(f"<circle cx='{sx(d):.1f}' cy='{sy(v):.1f}' r='3' fill='{color}' data-tip='{_e(tip)}'/>")
        parts.append(f"<text x='{left + pw + 10}' y='{top + 14 + k * 16}' font-size='12' fill='{color}'>"
                     f"\u25CF {_e(_short(str(m), 26))}</text></g>")
    parts.append("</svg>")
    period = {"M": "month", "W": "week"}.get(freq, "day")
    return (f"<p class='note'>Cumulative Bradley-Terry board at the end of each {period}"
            f"; the {len(models)} best at the last date. Hover a point for its rating and interval.</p>"
            + "".join(parts))


def _categories(battles: Battles, by: str, board: Leaderboard, options: dict[str, Any]) -> str:
    from ..boards.categories import OVERALL, category_leaderboards
    boards = category_leaderboards(battles, by, overall=board, **options)
    ov = boards.overview(changes=False)
    cats = [c for c in ov.columns if c not in ("model", OVERALL)]
    heads = "".join(f"<th>{_e(c)}</th>" for c in [OVERALL] + cats)
    rows = []
    for rec in ov.to_dict("records"):
        cells = []
        for c in [OVERALL] + cats:
            v = rec[c]
            text = "" if pd.isna(v) else str(int(v))
            cells.append(f"<td data-value='{text}'>{text}</td>")
        rows.append(f"<tr><td class='text'>{_e(rec['model'])}</td>{''.join(cells)}</tr>")
    note = _e(boards.skipped_report())
    return (f"<p class='note'>Rank (UB) of each model on the board of each value of {_e(by)!s}, fitted on that "
            f"value's battles with the same settings; {note}.</p><div class='scroll'><table id='categories' "
            f"class='sortable'><thead><tr><th class='text' data-type='text'>model</th>{heads}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


# ------------------------------------------------------------------------------- build
def build_report(battles: Battles | pd.DataFrame, ties: str = "half", *, title: str = "Leaderboard",
                 by: str | None = None, ci: str = "bootstrap", rounds: int = DEFAULT_ROUNDS,
                 confidence: float = DEFAULT_CONFIDENCE, seed: int = 0, cluster: str | None = None, l2: float = 0.0,
                 scale: float = DEFAULT_SCALE, base: float = DEFAULT_BASE,
                 init: float = DEFAULT_INIT, anchor: Any = None,
                 progress: bool = False, memory: Any = None) -> Report:
    """Fit, audit and render a board as one self-contained HTML page.

    Parameters
    ----------
    battles : Battles or pandas.DataFrame
    ties, ci, rounds, confidence, seed, cluster, l2, scale, base, init, anchor, memory
        As in :func:`~arena_stats.leaderboard` (the page's table is that board).
    title : str
        The page's heading.
    by : str, optional
        Add category boards, one per value of this column.
    progress : bool
        Progress bars on stderr.

    Returns
    -------
    Report
        ``.html`` is the page; ``.save(path)`` writes it atomically.

    Examples
    --------
    >>> from arena_stats.data.simulate import simulate_arena
    >>> page = build_report(simulate_arena(6, 3000, seed=1).battles, rounds=100)
    >>> page.html.startswith("<!DOCTYPE html>") and "http" not in page.html.split("<main>")[0]
    True
    """
    battles = as_battles(battles)
    options = dict(ci=ci, rounds=rounds, confidence=confidence, seed=seed, cluster=cluster, l2=l2, scale=scale,
                   base=base, init=init, anchor=anchor, memory=memory)
    board = leaderboard(battles, ties, progress=progress, **options)
    result = audit(battles, ties, board=board, ci=ci, rounds=rounds, confidence=confidence, seed=seed,
                   cluster=cluster, l2=l2, progress=progress)
    if by is not None and by not in battles.frame:
        raise InputError(f"no column {by!r} to split the categories on", column=by)
    sections = [("board", "Leaderboard", _board_table(board, result)),
                ("audit", "Is the order real? Audit", _audit_section(result)),
                ("forest", "Ratings with intervals", _forest(board)),
                ("close", "Close pairs and tiers", _close_pairs(result, board)),
                ("matrices", "Pairwise matrices", _matrices(board, result))]
    over = _over_time(battles, board)
    if over:
        sections.append(("over-time", "Ratings over time", over))
    if by is not None:
        sections.append(("categories", f"Boards by {by}", _categories(battles, by, board, dict(ties=ties, **options))))
    nav = "".join(f"<a href='#{key}-section'>{_e(name)}</a>" for key, name, _ in sections)
    body = "".join(f"<section id='{key}-section'><h2>{_e(name)}</h2>{content}</section>"
                   for key, name, content in sections)
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<meta name='generator' content='arena_stats {__version__}'><title>{_e(title)}</title>"
            f"<script>{ERROR_TRAP}</script><style>{STYLE}</style></head><body><main>"
            f"{_header(battles, board, title)}<nav>{nav}</nav>{body}"
            f"<footer>Made with arena_stats {__version__}: Bradley-Terry fit, "
            f"{_e(interval_label(board))}, audit of {len(result.checks)} checks. One self-contained file; "
            "no network needed.</footer></main><div id='tooltip'></div>"
            f"<script>{SCRIPT}</script></body></html>\n")
    settings = dict(board.settings, title=title, by=by)
    return Report(html=page, board=board, audit=result, settings=settings)
