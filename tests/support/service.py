"""`govchain serve` processes on a JSON-RPC node, for the fault tests and the benchmark.

A home is prepared with the command line as an operator would (`init` deploys the contracts on the
node, `registry admit`, `users add`), then any number of `serve` processes run on it — started,
stopped, or killed with SIGKILL at any moment — sharing the home's keys and one database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from support.anvil import free_port

PASSPHRASE = "fault-test passphrase"
CLERK = "clerk"
CLERK_PASSWORD = "clerk-password-123"
AACHEN = "05334002"


def run_cli(home: Path, env: Mapping[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "govchain", "--home", str(home), *args],
                            input=stdin.encode() if stdin else None, capture_output=True,
                            env=dict(env), check=False, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"govchain {' '.join(args)} ({result.returncode}): "
                           f"{result.stderr.decode()[-3000:]}")
    return result.stdout.decode()


def prepare_home(home: Path, rpc_url: str, database_url: str,
                 usecases: tuple[str, ...] = ("wohnungsgeberbestaetigung", "gefaehrlicher-hund"),
                 extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Deploys the contracts on the node, admits Aachen, adds a clerk; returns the environment
    for `serve` processes on this home."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOVCHAIN_KEY_PASSPHRASE": PASSPHRASE, "GOVCHAIN_RPC_URL": rpc_url,
           "GOVCHAIN_DATABASE_URL": database_url,
           "GOVCHAIN_PUBLIC_RATE_PER_MINUTE": "100000000",
           "GOVCHAIN_API_KEY_RATE_PER_MINUTE": "100000000", **(extra_env or {})}
    run_cli(home, env, "--rpc-url", rpc_url, "init")
    args = [a for u in usecases for a in ("--usecase", u)]
    run_cli(home, env, "--rpc-url", rpc_url, "registry", "admit", "--ags", AACHEN,
            "--name", "Stadt Aachen", *args)
    run_cli(home, env, "users", "add", "--role", "clerk", "--username", CLERK,
            "--municipality", AACHEN, "--password-stdin", stdin=CLERK_PASSWORD + "\n")
    return env


@dataclass
class ServeProcess:
    """One `govchain serve` on a free port of 127.0.0.1."""

    home: Path
    env: dict[str, str]
    name: str = "serve"
    workers: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / f"{self.name}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 90.0, *, ready: bool = True) -> ServeProcess:
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "govchain", "--home", str(self.home), "serve",
                 "--port", str(self.port), "--workers", str(self.workers)],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} ended at start:\n{self.log()[-3000:]}")
            try:
                answer = httpx.get(f"{self.url}/api/v1/readyz" if ready
                                   else f"{self.url}/api/v1/healthz", timeout=5)
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError(f"{self.name} did not become ready:\n{self.log()[-3000:]}")
        self.login()
        return self

    def login(self) -> None:
        answer = httpx.post(f"{self.url}/api/v1/auth/token",
                            data={"username": CLERK, "password": CLERK_PASSWORD}, timeout=30)
        answer.raise_for_status()
        self.token = answer.json()["access_token"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a power cut of the process."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def peak_rss_mb(self) -> float:
        """Peak resident memory, summed over the server and its worker processes."""
        return self._status_kb("VmHWM:") / 1024

    def rss_mb(self) -> float:
        return self._status_kb("VmRSS:") / 1024

    def _pids(self) -> list[int]:
        assert self.process is not None
        pids, i = [self.process.pid], 0
        while i < len(pids):
            for task in Path(f"/proc/{pids[i]}/task").glob("*"):
                children = (task / "children").read_text().split()
                pids += [int(c) for c in children if int(c) not in pids]
            i += 1
        return pids

    def _status_kb(self, key: str) -> float:
        total = 0.0
        for pid in self._pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(key):
                    total += float(line.split()[1])
        return total

    # -- the API, as a clerk --

    def get(self, path: str, **params: Any) -> Any:
        answer = httpx.get(f"{self.url}/api/v1{path}", params=params, headers=self.headers,
                           timeout=60)
        answer.raise_for_status()
        return answer.json()

    def count(self, state: str | None = None) -> int:
        params: dict[str, Any] = {"limit": 1}
        if state:
            params["state"] = state
        return int(self.get("/documents", **params)["total"])

    def wait_until_none_pending(self, timeout: float = 300.0) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.count("pending") == 0:
                return time.monotonic()
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: documents still pending after {timeout:g} s:\n"
                             f"{self.log()[-3000:]}")
