"""The code in README.md and docs/*.md runs and prints what the pages show.

Each page runs in its own temporary directory, which first receives the example files
(``docs/cli.md``, "The example files": the block marked ``<!-- example files -->``, run once).
Then the page's blocks run in document order:

* a ```` ```python ```` block is executed; the blocks of a page share one namespace. A block
  with an ``if __name__ == "__main__":`` guard is a script: it runs in a fresh interpreter, as
  ``python block.py`` would. A ```` ```output ```` block right after a Python block is what that
  block prints;
* every line of a ```` ```bash ```` block is an ``arena-stats`` command (continued by a final
  ``\\``, ``# comments`` allowed), run in-process through :func:`arena_stats.cli.main`; it must
  exit with status 0;
* a ```` ```console ```` block is a transcript: ``$ arena-stats ...`` lines, each followed by
  what it prints (stderr, then stdout) and ``[exit N]`` when its status is not 0.

Shown output is compared with the real output: ``...`` stands for any text, runs of spaces are
one space, whole numbers must be equal and decimals may differ by one unit in their last printed
digit (or 1e-9 relative), so a rounding flip on another machine is not a failure but a changed
rating, rank or count is. A block that cannot run in a test (``pip install``, a cluster of
machines, a shell pipeline, a benchmark) carries ``<!-- not tested: reason -->`` on the line
before its fence; those are skipped and listed per page. Any other command in a ``bash`` or
``console`` block fails the page, so nothing is skipped silently.

To refresh the shown outputs after a change, run ``python tests/test_docs.py docs/PAGE.md``:
it rewrites every output that no longer matches (check the diff, and shorten long outputs
with ``...`` again).
"""

from __future__ import annotations

import contextlib
import difflib
import glob
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
#: Pages whose owners bring them up to date separately (page name -> who, as the xfail reason):
#: they run, but may fail for now. Empty: every page must pass.
OWNED_ELSEWHERE: dict[str, str] = {}
EXAMPLE_FILES_PAGE = ROOT / "docs" / "cli.md"
EXAMPLE_FILES_MARK = "<!-- example files -->"
NOT_TESTED = re.compile(r"<!--\s*not tested:\s*(.+?)\s*-->")
FENCE = re.compile(r"^( *)(`{3,})\s*([\w+-]*)")
#: Commands a ``console`` block may show besides ``arena-stats`` (emulated here).
SHELL_COMMANDS = ("head",)
#: Fences that are shown, not run (synopses, formulas, file contents); a fence without a
#: language fails the page, so that no command hides in an unlabelled block.
SHOWN_ONLY = ("text", "json", "csv", "markdown", "toml", "yaml")


@dataclass
class Block:
    """One fenced block of a page."""

    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    not_tested: str | None = None
    n_lines: int = 0  # lines between the fences
    indent: str = ""  # the fence's indentation (a block inside a list item)
    mark: str = ""  # the HTML comment on the line before the fence, if any
    output: Block | None = None  # the ``output`` block shown after a Python block

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def parse_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown page; ``output`` blocks attached to their Python block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    k = 0
    while k < len(lines):
        m = FENCE.match(lines[k])
        if not m:
            k += 1
            continue
        indent, fence, lang, start = m.group(1), m.group(2), m.group(3).lower(), k
        k += 1
        body = []
        while k < len(lines) and not lines[k].startswith(indent + fence):
            body.append(lines[k][len(indent):] if lines[k].startswith(indent) else lines[k].lstrip())
            k += 1
        k += 1  # the closing fence
        before = lines[start - 1].strip() if start > 0 else ""
        reason = NOT_TESTED.search(before)
        block = Block(path.name, start + 1, lang, "\n".join(body) + "\n", reason.group(1) if reason else None,
                      len(body), indent, before if before.startswith("<!--") else "")
        if lang == "output":
            if not blocks or blocks[-1].lang != "python" or blocks[-1].output is not None:
                raise ValueError(f"{block.where}: an output block must follow a python block")
            blocks[-1].output = block
            continue
        blocks.append(block)
    return blocks


def commands(block: Block) -> list[tuple[str, str | None, str]]:
    """``(command line, shown output or None, command as written)`` of a ``bash`` or ``console``
    block; a final ``\\`` continues a command on the next line."""
    out: list[tuple[str, list[str] | None, str]] = []
    pending, written = "", []
    for raw in block.text.splitlines():
        if block.lang == "console" and not pending and not raw.startswith("$ "):
            if not out:
                if raw.strip():
                    raise ValueError(f"{block.where}: a console block starts with a '$ ' command line")
                continue
            out[-1][1].append(raw)
            continue
        line = raw[2:] if block.lang == "console" and not pending else raw
        written.append(line)
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line, pending = pending + line, ""
        if block.lang == "bash" and not line.split("#", 1)[0].strip():
            written = []
            continue
        out.append((line.strip(), [] if block.lang == "console" else None, "\n".join(written)))
        written = []
    return [(cmd, None if shown is None else "\n".join(shown), text) for cmd, shown, text in out]


# ---------------------------------------------------------------------------- comparing outputs

_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][+-]?\d+)?"
_TOKEN = re.compile(rf"(?P<ellipsis>\.\.\.)|(?P<space>\s+)|(?P<number>{_NUMBER})|(?P<text>.)", re.DOTALL)


def _tolerance(text: str) -> float | None:
    """How far a number printed as ``text`` may be off: None for whole numbers (exact)."""
    mantissa, _, exponent = text.lower().replace(",", "").partition("e")
    if "." not in mantissa and not exponent:
        return None
    decimals = len(mantissa.partition(".")[2])
    unit = 10.0 ** (int(exponent or 0) - decimals)
    return max(unit, 1e-9 * abs(float(text.replace(",", ""))))


def _pattern(expected: str) -> tuple[re.Pattern[str], list[str]]:
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(expected.strip())]
    parts, numbers = [], []
    for k, (kind, text) in enumerate(tokens):
        if kind == "ellipsis":
            parts.append(".*?")
        elif kind == "space":
            near_ellipsis = any(0 <= j < len(tokens) and tokens[j][0] == "ellipsis" for j in (k - 1, k + 1))
            parts.append(r"\s*" if near_ellipsis else r"\s+")
        elif kind == "number":
            parts.append(f"({_NUMBER})")
            numbers.append(text)
        else:
            parts.append(re.escape(text))
    return re.compile("".join(parts), re.DOTALL), numbers


def output_matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` is what ``expected`` shows (see the module docstring)."""
    pattern, numbers = _pattern(expected)
    m = pattern.fullmatch(actual.strip())
    if m is None:
        return False
    for want, got in zip(numbers, m.groups()):
        tol = _tolerance(want)
        w, g = float(want.replace(",", "")), float(got.replace(",", ""))
        if (w != g) if tol is None else abs(w - g) > tol * (1 + 1e-9):
            return False
    return True


def _diff(expected: str, actual: str) -> str:
    return "\n".join(difflib.unified_diff(expected.strip().splitlines(), actual.strip().splitlines(),
                                          "shown in the docs", "printed now", lineterm=""))


# ---------------------------------------------------------------------------- running blocks

class DocError(AssertionError):
    """A block of a page failed: the message names the page, line and what went wrong."""


def _expand(arg: str) -> list[str]:
    if any(c in arg for c in "*?["):
        found = sorted(glob.glob(arg))
        if found:
            return found
    return [arg]


def run_command(line: str) -> tuple[int, str]:
    """Run one command line in-process: its exit status and what it printed (stderr, stdout)."""
    from arena_stats.cli import main
    argv = [a for word in shlex.split(line, comments=True) for a in _expand(word)]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        if argv[0] == "head":
            n = int(argv[1].lstrip("-n") or argv[2]) if len(argv) > 2 else 10
            with open(argv[-1], encoding="utf-8") as fh:
                print("".join(fh.readlines()[:n]), end="")
            return 0, out.getvalue()
        try:
            status = main(argv[1:])
        except SystemExit as exc:  # argparse: usage errors, --help, --version
            status = exc.code if isinstance(exc.code, int) else 1
    return int(status or 0), err.getvalue() + out.getvalue()


def _expected_status(shown: str | None) -> tuple[int, str | None]:
    if shown is None:
        return 0, None
    m = re.search(r"^\[exit (\d+)\]\s*$", shown, re.MULTILINE)
    if m is None:
        return 0, shown
    return int(m.group(1)), (shown[: m.start()] + shown[m.end():]).rstrip()


def run_python(block: Block, namespace: dict, directory: Path) -> str:
    """Execute a Python block (a guarded script in a fresh interpreter); what it printed."""
    if re.search(r"^if __name__ == .__main__.:", block.text, re.MULTILINE):
        script = directory / f"_block_{block.line}.py"
        script.write_text(block.text, encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.run([sys.executable, script.name], cwd=directory, capture_output=True, text=True,
                              env=env, timeout=300)
        script.unlink()
        if proc.returncode != 0:
            raise DocError(f"{block.where}: the script exits with status {proc.returncode}:\n{proc.stderr[-3000:]}")
        return proc.stdout
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            exec(compile(block.text, block.where, "exec"), namespace)
        except Exception as exc:
            raise DocError(f"{block.where}: the Python block raises {type(exc).__name__}: {exc}") from exc
    return out.getvalue()


@dataclass
class PageRun:
    """What running a page did: blocks and commands run, blocks skipped, failures."""

    python_blocks: int = 0
    commands: int = 0
    skipped: list[Block] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def run_page(path: Path, directory: Path, update: bool = False, fail_fast: bool = False) -> PageRun:
    """Run every block of a page in ``directory`` (which holds the example files).

    Failures are collected, not raised, so one run reports every stale block of a page (with
    ``fail_fast``, the run stops at the first); with ``update`` the shown outputs that do not
    match are rewritten in the page.
    """
    result = PageRun()
    namespace: dict = {"__name__": "__docs__"}
    replacements: list[tuple[Block, str]] = []
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        for block in parse_blocks(path):
            if fail_fast and result.failures:
                break
            if block.mark == EXAMPLE_FILES_MARK and path == EXAMPLE_FILES_PAGE:
                continue  # already run to make the example files
            if block.not_tested is not None:
                result.skipped.append(block)
                continue
            if block.lang == "python":
                result.python_blocks += 1
                try:
                    printed = run_python(block, namespace, directory)
                except DocError as exc:
                    result.failures.append(str(exc))
                    continue
                if block.output is not None and not output_matches(block.output.text, printed):
                    result.failures.append(f"{block.where}: the block prints something else:\n"
                                           + _diff(block.output.text, printed))
                    replacements.append((block.output, _tidy(printed)))
            elif block.lang in ("bash", "console", "sh", "shell"):
                _run_commands(block, result, replacements)
            elif block.lang not in SHOWN_ONLY:
                result.failures.append(f"{block.where}: a block without a known language ({block.lang!r}); label it "
                                       f"python, bash, console, output or one of {', '.join(SHOWN_ONLY)}")
    finally:
        os.chdir(cwd)
    if update and replacements:
        _rewrite(path, replacements)
    return result


def _run_commands(block: Block, result: PageRun, replacements: list[tuple[Block, str]]) -> None:
    try:
        lines = commands(block)
    except ValueError as exc:
        result.failures.append(str(exc))
        return
    transcript, changed = [], False
    for line, shown, written in lines:
        program = shlex.split(line, comments=True)[0] if line else ""
        if program != "arena-stats" and not (block.lang == "console" and program in SHELL_COMMANDS):
            result.failures.append(f"{block.where}: {line!r} is not an arena-stats command; run it in a "
                                   "test or mark the block <!-- not tested: reason -->")
            return
        result.commands += 1
        want_status, want_text = _expected_status(shown)
        try:
            status, printed = run_command(line)
        except Exception as exc:  # a traceback: never what the command line should do
            result.failures.append(f"{block.where}: {line!r} raises {type(exc).__name__}: {exc}")
            return
        if status != want_status:
            result.failures.append(f"{block.where}: {line!r} exits with status {status}, the page says "
                                   f"{want_status}:\n{printed[-2000:]}")
        if want_text is not None:
            ok = output_matches(want_text, printed)
            if not ok:
                result.failures.append(f"{block.where}: {line!r} prints something else:\n"
                                       + _diff(want_text, printed))
            changed |= not ok or status != want_status
            body = want_text.rstrip() if ok else _tidy(printed)
            transcript += [f"$ {written}"] + ([body] if body else []) + ([f"[exit {status}]"] if status else []) + [""]
    if changed and block.lang == "console":
        replacements.append((block, "\n".join(transcript).rstrip() + "\n"))


def _tidy(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


def _rewrite(path: Path, replacements: list[tuple[Block, str]]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    for block, text in sorted(replacements, key=lambda r: -r[0].line):
        start = block.line  # index of the first body line
        stop = start + block.n_lines
        lines[start:stop] = [(block.indent + line).rstrip() for line in text.rstrip("\n").splitlines()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_example_files(directory: Path) -> None:
    """Run the example-files block of docs/cli.md in ``directory``."""
    blocks = [b for b in parse_blocks(EXAMPLE_FILES_PAGE) if b.mark == EXAMPLE_FILES_MARK]
    assert len(blocks) == 1 and blocks[0].lang == "python", "docs/cli.md has one example-files block"
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        run_python(blocks[0], {"__name__": "__docs__"}, directory)
    finally:
        os.chdir(cwd)


# ---------------------------------------------------------------------------- the tests

@pytest.fixture(scope="module")
def example_files(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("example_files")
    make_example_files(directory)
    return directory


def _page_dir(example_files: Path, tmp_path: Path) -> Path:
    directory = tmp_path / "page"
    shutil.copytree(example_files, directory)
    return directory


def _page_params() -> list:
    params = []
    for page in PAGES:
        marks = []
        if page.name in OWNED_ELSEWHERE:
            marks.append(pytest.mark.xfail(reason=OWNED_ELSEWHERE[page.name], strict=False))
        params.append(pytest.param(page, id=page.name, marks=marks))
    return params


@pytest.mark.parametrize("page", _page_params())
def test_every_block_of_the_page_runs_and_prints_what_it_shows(page, example_files, tmp_path):
    result = run_page(page, _page_dir(example_files, tmp_path), fail_fast=page.name in OWNED_ELSEWHERE)
    assert not result.failures, f"{page.name}: {len(result.failures)} stale blocks\n\n" + "\n\n".join(result.failures)


@pytest.mark.parametrize("page", [pytest.param(p, id=p.name) for p in PAGES
                                  if any(b.not_tested for b in parse_blocks(p))])
def test_blocks_marked_not_tested_are_skipped(page):
    skipped = [b for b in parse_blocks(page) if b.not_tested]
    pytest.skip(f"{page.name}: {len(skipped)} block(s) not tested: "
                + "; ".join(f"line {b.line} ({b.not_tested})" for b in skipped))


BROKEN_PAGE = """\
```python
x = 1 + 1
print(x)
```

```output
3
```

```python
undefined_name
```

```console
$ arena-stats leaderboard battles.csv --ci none -q --format csv
rank,model,score
...
$ arena-stats leaderboard missing.csv
[exit 0]
```

```bash
python -c "print(1)"
```

```
arena-stats leaderboard battles.csv
```
"""


def test_a_stale_output_a_broken_block_a_wrong_status_an_unmarked_command_and_an_unlabelled_block_fail_the_page(
        tmp_path, example_files):
    page = tmp_path / "broken.md"
    page.write_text(BROKEN_PAGE, encoding="utf-8")
    failures = run_page(page, _page_dir(example_files, tmp_path)).failures
    assert [f.split(":", 2)[1] for f in failures] == ["1", "10", "14", "14", "14", "22", "26"], failures
    assert "the block prints something else" in failures[0] and "-3\n+2" in failures[0]
    assert "the Python block raises NameError" in failures[1]
    assert "--ci none -q --format csv' prints something else" in failures[2]
    assert "missing.csv' exits with status 2, the page says 0" in failures[3]
    assert "arena-stats: error: missing.csv: no such file" in failures[4]
    assert "'python -c \"print(1)\"' is not an arena-stats command" in failures[5]
    assert "a block without a known language ('')" in failures[6]


def test_shown_output_allows_ellipses_spacing_and_the_last_printed_digit():
    assert output_matches("rank  model rating\n...\n3 x 1078.6", "rank model   rating\n1 y 1.0\n2 z 2\n3 x 1078.7")
    assert output_matches("1356.911998832426", "1356.9119988324261")
    assert not output_matches("3 x 1078.6", "3 x 1078.8")       # two units off
    assert not output_matches("rank 2", "rank 3")                # whole numbers are exact
    assert not output_matches("18,720 battles", "18,721 battles")
    assert not output_matches("a b", "a b c")                    # the whole output, not a prefix


def test_a_not_tested_mark_skips_exactly_its_block(tmp_path, example_files):
    page = tmp_path / "marked.md"
    page.write_text("<!-- not tested: installs the package -->\n```bash\npip install .\n```\n\n"
                    "```bash\narena-stats leaderboard battles.csv --ci none -q\n```\n", encoding="utf-8")
    result = run_page(page, _page_dir(example_files, tmp_path))
    assert [b.line for b in result.skipped] == [2] and result.commands == 1 and not result.failures


if __name__ == "__main__":  # refresh the shown outputs of pages: python tests/test_docs.py docs/cli.md ...
    import tempfile
    for name in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as tmp:
            make_example_files(Path(tmp))
            run = run_page(Path(name).resolve(), Path(tmp), update=True)
        print(f"{name}: {run.python_blocks} python blocks, {run.commands} commands, {len(run.skipped)} not tested, "
              f"{len(run.failures)} outputs rewritten or failing")
        for failure in run.failures:
            print(failure.splitlines()[0])
