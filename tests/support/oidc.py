"""A real OpenID Connect provider for tests: panva's oidc-provider (pinned in package.json) run by
`tests/support/node/oidc_provider.mjs` on a free loopback port, stopped for sure (its process
group).

    with start_provider(redirect_uri, post_logout_uri) as idp:
        settings = Settings(..., oidc_issuer=idp.issuer, oidc_client_id=idp.client_id,
                            oidc_client_secret=idp.client_secret)

Its accounts sign in without password through the form at /interaction/<uid> (field `account`):
meier (clerk of 05334002), land (registrar), fremd (clerk unknown to govchain), ohne (no role
claim), koeln (preferred_username meier, but AGS 05315000).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from support.anvil import free_port
from support.vcjs import NODE_DIR, REPO_ROOT, find_node

PROVIDER_SCRIPT = NODE_DIR / "oidc_provider.mjs"
CLIENT_ID = "govchain"
CLIENT_SECRET = "test:client+secret/not-a-secret"  # ":" and "+" test RFC 6749 2.3.1 encoding


class OidcProvider:
    """One running provider; `stop()` is idempotent."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.issuer = f"http://127.0.0.1:{port}"
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.log_path = log_path

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> OidcProvider:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_provider(redirect_uri: str, post_logout_redirect_uri: str,
                   startup_timeout: float = 30.0) -> OidcProvider:
    """Starts the provider with a client for `redirect_uri`; returns once its discovery
    document answers. RuntimeError if oidc-provider is missing or does not come up."""
    if not (REPO_ROOT / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("oidc-provider fehlt: 'scripts/bootstrap --dev' ausführen")
    port = free_port()
    config = {"port": port, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
              "redirectUris": [redirect_uri],
              "postLogoutRedirectUris": [post_logout_redirect_uri]}
    fd, log_name = tempfile.mkstemp(prefix="govchain-oidc-", suffix=".log")
    with os.fdopen(fd, "wb") as log_file:
        process = subprocess.Popen([find_node(), str(PROVIDER_SCRIPT), json.dumps(config)],
                                   cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    provider = OidcProvider(process, port, Path(log_name))
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(
                    f"{provider.issuer}/.well-known/openid-configuration", timeout=1.0) as answer:
                if json.loads(answer.read()).get("issuer") == provider.issuer:
                    return provider
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.05)
    log = provider.log()
    provider.stop()
    raise RuntimeError(f"oidc-provider ist nicht gestartet:\n{log[-2000:]}")
