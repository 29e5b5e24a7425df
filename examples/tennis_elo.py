"""Online Elo of 57 years of ATP tennis (1968-2024), with the figure ``tennis_elo.png``.

A real-data check of :func:`arena_stats.online.elo.compute_elo` and
:func:`arena_stats.plots.plot_ratings_over_time`: the long-time world number ones should be on
top of the Elo list in their own eras (Laver/Rosewall, Connors, Borg, McEnroe, Lendl, Sampras,
Federer, Nadal, Djokovic...).

Data: Jeff Sackmann's ``tennis_atp`` (CC BY-NC-SA 4.0), tour-level matches, in
``../shared/data/tennis_atp`` next to the project (give another folder as the first argument).
Matches carry only the tournament's start date, so within a tournament they are ordered by round
(first round first), which is what online Elo needs. Placeholder players (``U Unknown``) and
rows that pair a player with himself are dropped, and the count is printed.

Run::

    python examples/tennis_elo.py [DATA_DIR] [-o examples/tennis_elo.png]
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

import pandas as pd

from arena_stats import load_battles
from arena_stats.online.elo import compute_elo
from arena_stats._util.io import atomic_write
from arena_stats.plots import plot_ratings_over_time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "..", "shared", "data", "tennis_atp")
#: Chess-like step size; tennis results are far more decisive than LLM votes.
K = 32.0
INIT = 1500.0
PLACEHOLDER = "U Unknown"
#: Rounds in playing order (round robin and bronze matches before the semi-finals).
ROUND_ORDER = ["Q1", "Q2", "Q3", "Q4", "R128", "R64", "R32", "R16", "RR", "ER", "QF", "BR", "SF", "F"]
MIN_YEAR_MATCHES = 20  # a player counts as active in a year with at least this many matches


def load_atp(data_dir: str) -> tuple[pd.DataFrame, int, int]:
    """All tour-level matches with a ``tstamp`` that orders rounds; drops placeholders."""
    files = sorted(glob.glob(os.path.join(data_dir, "atp_matches_[0-9][0-9][0-9][0-9].csv*")))
    if not files:
        sys.exit(f"no atp_matches_YYYY.csv files in {data_dir}")
    cols = ["tourney_date", "winner_name", "loser_name", "round"]
    df = pd.concat([pd.read_csv(f, usecols=cols, dtype={"tourney_date": "int64"}) for f in files],
                   ignore_index=True)
    placeholder = (df["winner_name"] == PLACEHOLDER) | (df["loser_name"] == PLACEHOLDER)
    self_pair = df["winner_name"] == df["loser_name"]
    dropped_placeholder, dropped_self = int(placeholder.sum()), int((self_pair & ~placeholder).sum())
    df = df[~(placeholder | self_pair)].copy()
    day = pd.to_datetime(df["tourney_date"].astype(str), format="%Y%m%d")
    rank = df["round"].map({r: k for k, r in enumerate(ROUND_ORDER)}).fillna(len(ROUND_ORDER) // 2)
    df["tstamp"] = day + pd.to_timedelta(rank, unit="h")
    return df, dropped_placeholder, dropped_self


def year_end_best(history: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """Each year's ``top`` year-end Elo ratings among the players active that year."""
    h = history.assign(year=history["date"].dt.year)
    active = h.groupby(["year", "model"])["battles"].agg(lambda b: b.max() - b.min() + 1)
    last = h.sort_values("date").groupby(["year", "model"])["rating"].last()
    table = pd.DataFrame({"rating": last, "matches": active}).reset_index()
    table = table[table["matches"] >= MIN_YEAR_MATCHES]
    return table.sort_values(["year", "rating"], ascending=[True, False]).groupby("year").head(top)


def main() -> None:
    p = argparse.ArgumentParser(description="Online Elo of ATP tennis, 1968-2024")
    p.add_argument("data_dir", nargs="?", default=DEFAULT_DATA)
    p.add_argument("-o", "--output", default=os.path.join(HERE, "tennis_elo.png"))
    args = p.parse_args()
    df, n_placeholder, n_self = load_atp(args.data_dir)
    print(f"dropped {n_placeholder} matches with a '{PLACEHOLDER}' player and {n_self} self-pairs; "
          f"{len(df):,} matches left")
    battles = load_battles(df, schema="winner-loser", winner_col="winner_name", loser_col="loser_name")
    elo = compute_elo(battles, k=K, init=INIT, history="day")
    print(f"{elo.n_battles:,} matches, {len(elo.models):,} players, online Elo k={K:g} in {elo.order} order")
    history = elo.history
    peak = history.groupby("model")["rating"].max().sort_values(ascending=False)
    print("\nhighest peak Elo:")
    for m, r in peak.head(10).items():
        when = history.loc[(history["model"] == m) & (history["rating"] == r), "date"].iloc[0]
        print(f"  {m:<22} {r:7.0f}  ({when.date()})")
    best = year_end_best(history)
    print("\ntop three by year-end Elo (players with >= 20 matches that year), every fourth year:")
    for year, g in best.groupby("year"):
        if year % 4 == 0:
            print(f"  {year}: " + ", ".join(f"{m} {r:.0f}" for m, r in zip(g["model"], g["rating"])))
    # the figure: every player who ended a year as the Elo number one, in order of appearance
    leaders = list(dict.fromkeys(best.groupby("year").head(1)["model"]))
    print(f"\nyear-end Elo number ones: {', '.join(leaders)}")
    # one point per player and month keeps the figure light
    monthly = (history.assign(date=history["date"].dt.to_period("M").dt.to_timestamp())
               .groupby(["date", "model"], as_index=False).last())
    fig = plot_ratings_over_time(monthly, models=leaders, bands=False,
                                 title=f"ATP tour-level online Elo (k={K:g}): every year-end number one")
    fig.axes[0].set_ylim(INIT + 300, None)
    with atomic_write(args.output, "wb") as fh:
        fig.savefig(fh, format="png", dpi=80)
    print(f"\nwrote {args.output} ({os.path.getsize(args.output) / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
