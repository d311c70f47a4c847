"""Runs Slither on govchain's contracts with the project's own compiler; run by .venv-slither's Python.

    .venv-slither/bin/python tests/contracts/slither_runner.py INPUT.json OUTPUT.json

INPUT.json is the standard-json input that `govchain.adapters.build` compiles (every source, ours and
OpenZeppelin's, by content under the keys solc sees; pinned settings), so Slither analyses exactly
what is deployed. The compiler is the pinned solc-js behind `scripts/solc.js`; crytic-compile calls
it like a native solc (with `--allow-paths`, which solc.js does not know and the input does not
need), so a two-line wrapper passes on only what solc.js understands. OUTPUT.json gets every
finding of every detector as {check, impact, confidence, description, first_markdown_element}.

This file imports Slither, which cannot live in the main virtual environment (web3 7 against our
web3 8): tests/contracts/test_slither.py runs it in `.venv-slither`.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SOLC_JS = REPO_ROOT / "scripts" / "solc.js"


def solc_wrapper(directory: Path) -> Path:
    """An executable `solc` that forwards --version and --standard-json to scripts/solc.js."""
    path = directory / "solc"
    path.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = --version ]; then exec node "{SOLC_JS}" --version; fi\n'
        f'exec node "{SOLC_JS}" --standard-json\n',
        encoding="utf-8",
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def run(input_json: dict[str, Any]) -> list[dict[str, Any]]:
    from crytic_compile import CryticCompile
    from crytic_compile.platform.solc_standard_json import SolcStandardJson
    from slither import Slither
    from slither.detectors import all_detectors
    from slither.detectors.abstract_detector import AbstractDetector

    # Slither needs the AST and the source maps, which the build does not ask for.
    input_json = dict(input_json)
    settings = dict(input_json["settings"])
    settings["outputSelection"] = {"*": {
        "*": ["abi", "metadata", "devdoc", "userdoc", "evm.bytecode", "evm.deployedBytecode"],
        "": ["ast"],
    }}
    input_json["settings"] = settings
    with tempfile.TemporaryDirectory() as tmp:
        solc = solc_wrapper(Path(tmp))
        compilation = CryticCompile(SolcStandardJson(input_json), solc=str(solc),
                                    solc_working_dir=str(REPO_ROOT))
    slither = Slither(compilation)
    detectors = [d for d in vars(all_detectors).values()
                 if isinstance(d, type) and issubclass(d, AbstractDetector) and d is not AbstractDetector]
    for detector in detectors:
        slither.register_detector(detector)
    findings: list[dict[str, Any]] = []
    for results in slither.run_detectors():
        for r in results:
            findings.append({
                "check": r["check"],
                "impact": r["impact"],
                "confidence": r["confidence"],
                "description": r["description"].strip(),
                "first_markdown_element": r.get("first_markdown_element", ""),
            })
    return findings


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    os.chdir(REPO_ROOT)
    findings = run(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    Path(argv[1]).write_text(json.dumps({"findings": findings}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
