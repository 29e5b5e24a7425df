"""The leaderboard page: self-contained, and -- in a real headless Chromium -- rendered without
script errors, with the table's numbers equal to the CSV board of ``arena-stats leaderboard``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena_stats.cli import main
from arena_stats.data.simulate import simulate_arena
from arena_stats.errors import InputError
from arena_stats.report import build_report

ROUNDS = 200
#: Chromium as root in a container: no sandbox, no GPU, no network or background services.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]
BROWSER_TIMEOUT_S = 90
#: Where the browser test leaves its screenshot, for a person to look at (ignored by git).
SCREENSHOT_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "out"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium found: the browser test needs Debian's 'chromium' package "
                "(apt-get install chromium); CI installs it")


def _run_browser(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=BROWSER_TIMEOUT_S)


class _Dom(HTMLParser):
    """The body's attributes and the leaderboard's rows (cells' data attributes and text)."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str] = {}
        self.heads: list[str] = []
        self.rows: list[list[dict[str, str]]] = []
        self.canvases: list[dict[str, str]] = []
        self._in_board = self._in_head = False
        self._cell: dict[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = a
        elif tag == "canvas":
            self.canvases.append(a)
        elif tag == "table" and a.get("id") == "board":
            self._in_board = True
        elif self._in_board and tag == "thead":
            self._in_head = True
        elif self._in_board and tag == "tbody":
            self._in_head = False
        elif self._in_board and tag == "th":
            self.heads.append(a.get("data-key", ""))
        elif self._in_board and not self._in_head and tag == "tr":
            self.rows.append([])
        elif self._in_board and not self._in_head and tag == "td":
            self._cell = dict(a, text="")
            self.rows[-1].append(self._cell)

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_board = False
        elif tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


def _parse(html: str) -> _Dom:
    dom = _Dom()
    dom.feed(html)
    return dom


@pytest.fixture(scope="module")
def arena_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "battles.csv"
    simulate_arena(12, 8000, seed=21, days=150).battles.to_frame().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def page(arena_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("page") / "board.html"
    assert main(["report", str(arena_csv), "-o", str(out), "--rounds", str(ROUNDS), "--seed", "3", "--by",
                 "language", "--title", "Simulated arena", "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def csv_board(arena_csv):
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["leaderboard", str(arena_csv), "--rounds", str(ROUNDS), "--seed", "3", "--format", "csv",
                     "-q"]) == 0
    return pd.read_csv(StringIO(buf.getvalue()))


def test_the_page_is_one_self_contained_file(page):
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>")
    # nothing is fetched: no external scripts, styles, fonts or images (the SVG namespace is a name)
    assert not re.search(r"""(src|href)\s*=\s*['"](https?:)?//""", text)
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert oct(page.stat().st_mode & 0o044) != "0o0"  # readable by others, as a page to publish
    assert len(text.encode()) < 400_000


def test_the_table_is_the_csv_board(page, csv_board):
    """Without a browser: the page's table against ``arena-stats leaderboard --format csv``."""
    dom = _parse(page.read_text())
    _assert_table_equals_board(dom, csv_board)


def _assert_table_equals_board(dom: _Dom, board: pd.DataFrame) -> None:
    assert len(dom.rows) == len(board)
    col = {k: i for i, k in enumerate(dom.heads)}
    for cells, (_, ref) in zip(dom.rows, board.iterrows()):
        assert cells[col["model"]]["text"] == ref["model"]
        assert int(cells[col["rank"]]["data-value"]) == ref["rank"]
        assert float(cells[col["rating"]]["data-value"]) == pytest.approx(ref["rating"], abs=1e-9)
        assert cells[col["rating"]]["text"] == f"{ref['rating']:,.1f}"
        ci = cells[col["ci"]]
        assert float(ci["data-lower"]) == pytest.approx(ref["ci_lower"], abs=1e-9)
        assert float(ci["data-upper"]) == pytest.approx(ref["ci_upper"], abs=1e-9)
        assert ci["text"] == f"+{ref['ci_upper'] - ref['rating']:,.1f} / -{ref['rating'] - ref['ci_lower']:,.1f}"
        assert cells[col["rank_interval"]]["text"] == f"{ref['rank_lower']}\u2013{ref['rank_upper']}"
        assert int(float(cells[col["battles"]]["data-value"])) == ref["battles"]
        assert float(cells[col["win_rate"]]["data-value"]) == pytest.approx(ref["win_rate"], abs=1e-12)
        assert float(cells[col["p_top"]]["data-value"]) == pytest.approx(ref["p_top"], abs=1e-12)


def test_headless_chromium_renders_the_page_without_script_errors(page, csv_board, tmp_path):
    browser = _chromium()
    start = time.perf_counter()
    done = _run_browser(browser, tmp_path / "profile-dom", "--dump-dom", page.as_uri() + "#selftest")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = _parse(done.stdout)
    assert dom.body.get("data-ready") == "1", "the page's script did not run to its end"
    assert json.loads(dom.body["data-errors"]) == []
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    assert not console, console
    # the table as the browser holds it after the script ran equals the CSV board; the self test
    # sorted it by votes (descending, stable)
    sorted_board = csv_board.sort_values("battles", ascending=False, kind="stable")
    assert json.loads(dom.body["data-selftest"]) == list(sorted_board["model"])
    _assert_table_equals_board(dom, sorted_board.reset_index(drop=True))
    # every matrix was drawn, for every model
    assert len(dom.canvases) == 4 and all(c.get("data-drawn") == "12" for c in dom.canvases)
    # and a screenshot: a tall page, mostly white, with colour in it
    shot = tmp_path / "board.png"
    done = _run_browser(browser, tmp_path / "profile-png", "--window-size=1280,5000", f"--screenshot={shot}",
                        page.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    import matplotlib.image as mpimg
    img = mpimg.imread(shot)
    assert img.shape[:2] == (5000, 1280)
    rgb = img[..., :3]
    coloured = (rgb.max(axis=2) - rgb.min(axis=2)) > 0.25
    assert 0.01 < coloured.mean() < 0.5
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT_DIR / "report_screenshot.png")
    print(f"browser test: {time.perf_counter() - start:.1f} s; screenshot {SCREENSHOT_DIR / 'report_screenshot.png'}")


def test_the_page_has_every_section_and_the_audit(page):
    text = page.read_text()
    for key in ("board", "audit", "forest", "close", "matrices", "over-time", "categories"):
        assert f"id='{key}-section'" in text, key
    verdicts = re.findall(r"data-check='(\w+)' data-verdict='(\w+)'", text)
    assert [v[0] for v in verdicts] == ["connectivity", "coverage", "position", "ties", "intransitivity", "fit",
                                        "influence", "separation"]
    # the forest plot lists the models in the board's order
    dom = _parse(text)
    board_models = [r[2]["text"] for r in dom.rows]
    forest = re.findall(r"<g class='model' data-model='([^']+)'", text)
    assert forest == board_models


def test_build_report_without_timestamps_or_intervals():
    battles = simulate_arena(5, 1500, seed=2).battles
    frame = battles.to_frame().drop(columns=["tstamp"])
    page = build_report(frame, ci="none")
    assert "over-time-section" not in page.html and "<table id='board'" in page.html
    assert "95% CI" not in page.html
    with pytest.raises(InputError, match="categories"):
        build_report(frame, ci="none", by="nope")


def test_cli_report_refuses_a_non_html_output(arena_csv, tmp_path, capsys):
    assert main(["report", str(arena_csv), "-o", str(tmp_path / "board.png"), "-q"]) == 2
    assert "HTML" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "board.png")
    assert np.isfinite(1.0)
