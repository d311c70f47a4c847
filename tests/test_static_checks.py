"""The code stays lint-clean (ruff), strictly typed (mypy --strict on src/) and keeps to its layers
(import-linter: the contracts in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("tool", [
    [sys.executable, "-m", "ruff", "check", "src", "tests", "scripts"],
    [sys.executable, "-m", "mypy"],
    [str(Path(sys.executable).with_name("lint-imports"))],
], ids=["ruff", "mypy", "import-contracts"])
def test_static_check(tool: list[str]) -> None:
    proc = subprocess.run(tool, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_import_contracts_catch_a_cycle(tmp_path: Path) -> None:
    """The contracts are not vacuous: a copy of the package with one upward import and one cycle
    added breaks the layers and the no-cycle contract."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "govchain", copy / "govchain",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "govchain" / "adapters" / "keys.py").open("a") as f:
        f.write("\nfrom govchain.adapters import context as _context  # noqa\n")
    with (copy / "govchain" / "domain" / "merkle.py").open("a") as f:
        f.write("\nfrom govchain.services import verify as _verify  # noqa\n")
    proc = subprocess.run([str(Path(sys.executable).with_name("lint-imports")),
                           "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert "Layers: each layer imports only the layers below it BROKEN" in proc.stdout
    assert "No import cycles among the modules of any package BROKEN" in proc.stdout
