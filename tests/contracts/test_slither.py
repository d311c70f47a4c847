"""Slither on the contracts as built: no High or Medium finding but those explained in SLITHER.md.

Slither lives in its own virtual environment (`.venv-slither`, see scripts/bootstrap --dev): without
it the test is skipped on a developer's machine and fails under CI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from govchain.adapters import build

REPO = Path(__file__).resolve().parents[2]
SLITHER_PYTHON = REPO / ".venv-slither" / "bin" / "python"
RUNNER = Path(__file__).with_name("slither_runner.py")
ACCEPTED_DOC = REPO / "contracts" / "SLITHER.md"
FAILING_IMPACTS = ("High", "Medium")

Key = tuple[str, str, str]  # (check, impact, function)


def accepted_findings() -> Counter[Key]:
    """The rows of SLITHER.md's table: (check, impact, `function`) -> number of findings."""
    rows: Counter[Key] = Counter()
    row = re.compile(r"^\| (?P<check>[a-z-]+) \| (?P<impact>High|Medium) \| `(?P<fn>[^`]+)` \| "
                     r"(?P<n>\d+) \| (?P<why>.+) \|$")
    for line in ACCEPTED_DOC.read_text(encoding="utf-8").splitlines():
        m = row.match(line)
        if m:
            assert len(m["why"]) > 40, f"explain the accepted finding: {line}"
            rows[(m["check"], m["impact"], m["fn"])] += int(m["n"])
    return rows


def function_of(finding: dict[str, Any]) -> str:
    """'IssuerRegistry.setDocTypes(bytes8,bytes32[])' from 'IssuerRegistry.setDocTypes(...) (file#l)...'."""
    return str(finding["description"]).split(" (", 1)[0]


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    if not SLITHER_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(".venv-slither is missing: scripts/bootstrap --dev installs it")
        pytest.skip(".venv-slither is missing (scripts/bootstrap --dev installs it)")
    tmp = tmp_path_factory.mktemp("slither")
    source = tmp / "standard-input.json"
    source.write_text(json.dumps(build.standard_json_input(build.collect_sources())),
                      encoding="utf-8")
    out = tmp / "findings.json"
    proc = subprocess.run([str(SLITHER_PYTHON), str(RUNNER), str(source), str(out)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result: list[dict[str, Any]] = json.loads(out.read_text(encoding="utf-8"))["findings"]
    return result


def test_slither_analysed_our_contracts(findings: list[dict[str, Any]]) -> None:
    # A run that compiled nothing would report nothing: make sure both contracts were looked at.
    text = "\n".join(f["description"] for f in findings)
    assert "IssuerRegistry" in text and "contracts/IssuerRegistry.sol" in text
    assert len(findings) > 10


def test_no_high_or_medium_finding_unless_explained(findings: list[dict[str, Any]]) -> None:
    for f in findings:
        if f["impact"] not in FAILING_IMPACTS:
            print(f"{f['impact']}/{f['check']}: {function_of(f)}")
    found = Counter((f["check"], f["impact"], function_of(f)) for f in findings
                    if f["impact"] in FAILING_IMPACTS)
    accepted = accepted_findings()
    new = {k: n for k, n in found.items() if n > accepted.get(k, 0)}
    details = [f["description"] for f in findings
               if (f["check"], f["impact"], function_of(f)) in new]
    assert not new, "findings not explained in contracts/SLITHER.md:\n" + "\n".join(details)
    stale = {k: n for k, n in accepted.items() if found.get(k, 0) < n}
    assert not stale, f"contracts/SLITHER.md lists findings Slither no longer reports: {stale}"


def test_the_accepted_list_is_read() -> None:
    accepted = accepted_findings()
    assert ("unused-return", "Medium", "IssuerRegistry.setDocTypes(bytes8,bytes32[])") in accepted
    assert sum(accepted.values()) == 13
