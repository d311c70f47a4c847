"""Verifies W3C Verifiable Credentials with Digital Bazaar's reference libraries (vc, data-integrity,
ecdsa-rdfc-2019, vc-bitstring-status-list; pinned in package.json) through
`tests/support/node/vc_verify.mjs`, so govchain's credentials are checked by an independent
implementation.

    result = verify_credential(credential, "http://127.0.0.1:8000")
    assert result["verified"], result["errors"]

The script loads contexts from the libraries' static copies and everything else only from
`base_url` (did:web DIDs of that host[:port], status list credentials, govchain's context): nothing
from the internet. The result is {"verified": bool, "errors": [str], "statusResults":
[{"statusPurpose", "statusListCredential", "statusListIndex", "status"}], "log": [str]};
`verified` is false too when a status bit (revocation, suspension) is set. Needs node and the
node_modules of `scripts/bootstrap --dev`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().parent / "node"
VERIFY_SCRIPT = NODE_DIR / "vc_verify.mjs"
ISSUE_FIXTURE_SCRIPT = NODE_DIR / "vc_issue_fixture.mjs"


def find_node() -> str:
    """The node executable; RuntimeError if node or the npm packages are missing."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node nicht gefunden: Node.js installieren")
    if not (REPO_ROOT / "node_modules" / "@digitalbazaar" / "vc").is_dir():
        raise RuntimeError("@digitalbazaar/vc fehlt: 'scripts/bootstrap --dev' ausführen")
    return node


def run_node(script: Path, *args: str, stdin: str = "", timeout: float = 60) -> str:
    """Runs a node script from the repo root (so node_modules resolve) and returns its stdout;
    RuntimeError with stderr if it exits non-zero."""
    try:
        completed = subprocess.run(
            [find_node(), str(script), *args], cwd=REPO_ROOT, input=stdin, capture_output=True,
            text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{script.name} did not finish within {timeout} s") from exc
    except OSError as exc:
        raise RuntimeError(f"node could not run {script.name}: {exc}") from exc
    if completed.returncode != 0:
        raise RuntimeError(
            f"{script.name} exited with {completed.returncode}:\n{completed.stderr[-4000:]}")
    return completed.stdout


def verify_credential(credential: dict[str, Any], base_url: str, *, check_status: bool = True,
                      timeout: float = 60) -> dict[str, Any]:
    """Verifies `credential` (proof, issuer, and with `check_status` its Bitstring status lists)
    against the service at `base_url` and returns the script's result."""
    request = json.dumps({"credential": credential, "baseUrl": base_url,
                          "checkStatus": check_status})
    out = run_node(VERIFY_SCRIPT, stdin=request, timeout=timeout)
    try:
        result: dict[str, Any] = json.loads(out)
    except ValueError as exc:
        raise RuntimeError(f"{VERIFY_SCRIPT.name} printed no JSON result: {out[-2000:]!r}") from exc
    return result
