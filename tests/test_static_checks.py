"""The code stays lint-clean (ruff) and strictly typed (mypy --strict on src/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("tool", [
    [sys.executable, "-m", "ruff", "check", "src", "tests", "scripts"],
    [sys.executable, "-m", "mypy"],
], ids=["ruff", "mypy"])
def test_static_check(tool: list[str]) -> None:
    proc = subprocess.run(tool, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
