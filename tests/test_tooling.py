"""The package stays lint-clean (ruff: pyflakes, pycodestyle, import order, modern syntax, likely
bugs) and type-checks (mypy, with the settings in pyproject.toml). Both are run as CI runs them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install '.[test]' installs it)")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_the_package_and_its_tests_pass_ruff():
    out = _run("ruff", "check", "--no-cache", "arena_stats", "tests")
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_package_type_checks_with_mypy():
    out = _run("mypy", "--no-incremental", "--cache-dir", "/dev/null")
    assert out.returncode == 0, out.stdout + out.stderr
