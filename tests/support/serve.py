"""A real `govchain serve`, set up the way an operator would, for every test and the benchmark
that needs the service as a process: browser tests, screenshots, fault tests, the benchmark.

The home is prepared with the command line only (``govchain init``, ``registry admit``,
``users add``; by default run in this process, which saves the seconds of imports each new
interpreter costs), on the embedded chain and SQLite in the home or on a JSON-RPC node and a
database URL. Then any number of `serve` processes run on it, on free loopback ports — started,
stopped, or killed with SIGKILL at any moment:

    with running_service(tmp_home) as service:
        driver.get(service.url("/login"))

    env = prepare_home(home, rpc_url=node.url, database_url=url, in_process=False)
    serve = ServeProcess(home, env, workers=2).start()

Rate limits and login throttling are lifted (a suite calls many times from one address); they
have their own tests. Each process's output goes to ``HOME/<name>.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from govchain.errors import ConfigurationError
from support.anvil import free_port

PASSPHRASE = "test passphrase – not a secret"
AACHEN = "05334002"
ALL_USECASES = ("gefaehrlicher-hund", "strassenmusik", "wohnungsgeberbestaetigung")


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: str  # registrar, clerk, landlord
    municipality: str | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class Municipality:
    ags: str
    name: str
    usecases: tuple[str, ...] = ALL_USECASES


DEFAULT_MUNICIPALITIES = (Municipality(AACHEN, "Stadt Aachen"),)
DEFAULT_ACCOUNTS = (
    Account("land", "Passwort der Landesbehörde", "registrar", display_name="Landesbehörde NRW"),
    Account("meier", "ein langes Passwort", "clerk", AACHEN, "Jana Meier"),
    Account("vermieter", "noch ein langes Passwort", "landlord", display_name="Hausverwaltung Lenz"),
)


def prepare_home(home: Path, *, rpc_url: str | None = None, database_url: str | None = None,
                 municipalities: Sequence[Municipality] = DEFAULT_MUNICIPALITIES,
                 accounts: Sequence[Account] = DEFAULT_ACCOUNTS,
                 env: Mapping[str, str] | None = None, in_process: bool = True) -> dict[str, str]:
    """A new home as the README sets one up, with the same commands: `init` (registrar key and
    contracts, on the node at `rpc_url` if given), `registry admit` for each municipality,
    `users add` for each account. Returns the environment for `serve` processes on it."""
    home.mkdir(parents=True, exist_ok=True)
    extra = {**({"GOVCHAIN_RPC_URL": rpc_url} if rpc_url else {}),
             **({"GOVCHAIN_DATABASE_URL": database_url} if database_url else {}), **(env or {})}
    run_cli(home, "init", in_process=in_process, env=extra)
    for m in municipalities:
        admit = ["registry", "admit", "--ags", m.ags, "--name", m.name]
        for usecase in m.usecases:
            admit += ["--usecase", usecase]
        run_cli(home, *admit, in_process=in_process, env=extra)
    for a in accounts:
        add = ["users", "add", "--role", a.role, "--username", a.username, "--password-stdin"]
        if a.municipality:
            add += ["--municipality", a.municipality]
        if a.display_name:
            add += ["--display-name", a.display_name]
        run_cli(home, *add, stdin=a.password, in_process=in_process, env=extra)
    return service_env(home, extra)


@dataclass
class ServeProcess:
    """One `govchain serve` on a free port of 127.0.0.1; `url(path)` builds addresses on it, and
    `call` uses its API signed in as one of the home's accounts (by role)."""

    home: Path
    env: dict[str, str]
    name: str = "serve"
    workers: int = 1
    port: int = field(default_factory=free_port)
    accounts: dict[str, Account] = field(
        default_factory=lambda: {a.role: a for a in DEFAULT_ACCOUNTS})
    municipalities: tuple[Municipality, ...] = DEFAULT_MUNICIPALITIES
    process: subprocess.Popen[bytes] | None = None
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    @property
    def log_path(self) -> Path:
        return self.home / f"{self.name}.log"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def account(self, role: str) -> Account:
        return self.accounts[role]

    def start(self, timeout: float = 90.0, *, ready: bool = True) -> ServeProcess:
        """Starts the process and returns once /api/v1/readyz (or, with `ready` False, healthz)
        answers 200."""
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [*govchain_command(), "--home", str(self.home), "serve",
                 "--port", str(self.port), "--workers", str(self.workers)],
                env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self._tokens.clear()
        probe = self.url("/api/v1/readyz" if ready else "/api/v1/healthz")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise ConfigurationError(f"{self.name} ist beim Start beendet:\n{self.log()[-3000:]}")
            try:
                if httpx.get(probe, timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise ConfigurationError(f"{self.name} antwortet nicht:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL to the process group: no shutdown handler runs, as in a power cut."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (uvicorn shuts down cleanly and ends its workers), then SIGKILL."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
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

    # -- the REST API, a quick way to make data that a test or screenshot shows ---------------

    def call(self, method: str, path: str, *, role: str | None = None, body: object = None,
             form: Mapping[str, str] | None = None,
             headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        """(status, JSON answer) of an API call, signed in as the account of `role` if given,
        with the given extra headers."""
        headers = {"Accept": "application/json", **(headers or {})}
        data: bytes | None = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if role is not None:
            headers["Authorization"] = f"Bearer {self._token(role)}"
        request = urllib.request.Request(self.url(path), data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            text = err.read().decode("utf-8", errors="replace")
            try:
                return err.code, json.loads(text)
            except ValueError:
                return err.code, text

    def _token(self, role: str) -> str:
        if role not in self._tokens:
            account = self.account(role)
            status, answer = self.call("POST", "/api/v1/auth/token",
                                       form={"username": account.username, "password": account.password})
            if status != 200:
                raise ConfigurationError(f"Anmeldung als {account.username}: {status} {answer}")
            self._tokens[role] = str(answer["access_token"])
        return self._tokens[role]

    def issue(self, usecase: str, subject: Mapping[str, Any], *, role: str = "clerk",
              municipality: str | None = None) -> dict[str, Any]:
        """An issued and anchored document: {"id", "document", "landlordCode"?, ...}."""
        body: dict[str, Any] = {"usecase": usecase, "subject": dict(subject)}
        if role == "landlord":
            body["municipality"] = municipality or self.municipalities[0].ags
        status, answer = self.call("POST", "/api/v1/documents?wait=true", role=role, body=body)
        if status != 201:
            raise ConfigurationError(f"Ausstellen: {status} {answer}")
        issued: dict[str, Any] = answer
        return issued

    def link(self, document_id: str, *, hide: Sequence[str] = (), role: str = "clerk") -> str:
        """A new verification link (URL) of a document."""
        status, answer = self.call("POST", f"/api/v1/documents/{document_id}/links", role=role,
                                   body={"hide": list(hide)})
        if status != 201:
            raise ConfigurationError(f"Prüflink: {status} {answer}")
        return str(answer["url"])

    def change_status(self, document_id: str, action: str, reason: str | None = "4") -> None:
        """revoke, suspend or reinstate, as the municipality's clerk."""
        status, answer = self.call("POST", f"/api/v1/documents/{document_id}/{action}", role="clerk",
                                   body={"reason": reason} if reason is not None else {})
        if status != 200:
            raise ConfigurationError(f"{action}: {status} {answer}")

    @property
    def headers(self) -> dict[str, str]:
        """The clerk's bearer token, for callers with their own HTTP client."""
        return {"Authorization": f"Bearer {self._token('clerk')}"}

    def get(self, path: str, **params: Any) -> Any:
        """GET on the API as the clerk; the JSON answer (raises on an error status)."""
        answer = httpx.get(self.url(f"/api/v1{path}"), params=params, headers=self.headers,
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


def govchain_command() -> list[str]:
    """How to run the `govchain` command of this interpreter's installation."""
    script = Path(sys.executable).with_name("govchain")
    return [str(script)] if os.access(script, os.X_OK) else [sys.executable, "-m", "govchain"]


def service_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the CLI and `serve` on `home`: the test passphrase, limits lifted (a
    suite calls many times from one address; the limits have their own tests), `extra` on top."""
    env = {**os.environ, "GOVCHAIN_HOME": str(home), "GOVCHAIN_KEY_PASSPHRASE": PASSPHRASE,
           "GOVCHAIN_PUBLIC_RATE_PER_MINUTE": "1000000", "GOVCHAIN_API_KEY_RATE_PER_MINUTE": "1000000",
           "GOVCHAIN_LOGIN_MAX_FAILURES": "1000000", "PYTHONUNBUFFERED": "1"}
    env.pop("GOVCHAIN_KEY_PASSPHRASE_FILE", None)
    env.update(extra or {})
    return env


def run_cli(home: Path, *args: str, stdin: str | None = None, in_process: bool = True,
            env: Mapping[str, str] | None = None, attempts: int = 3) -> str:
    """Runs `govchain ARGS` on `home` and returns its output; ConfigurationError if it fails.

    In process by default (click's test runner: the same command code, without the seconds each
    new interpreter spends importing), else as a separate `govchain` process. Retried a few
    times when it meets SQLite's write lock.
    """
    output = ""
    for attempt in range(attempts):
        if in_process:
            code, output = _run_in_process(home, args, stdin, env)
        else:
            proc = subprocess.run([*govchain_command(), "--home", str(home), *args],
                                  env=service_env(home, env), input=stdin, capture_output=True, text=True,
                                  timeout=300)
            code, output = proc.returncode, proc.stdout + proc.stderr
        if code == 0:
            return output
        if "locked" not in output.lower() or attempt == attempts - 1:
            break
        time.sleep(0.5)
    raise ConfigurationError(f"govchain {' '.join(args)} ist fehlgeschlagen:\n{output[-3000:]}")


_in_process_lock = threading.Lock()  # the runner swaps os.environ and sys.stdin for the call


def _run_in_process(home: Path, args: Sequence[str], stdin: str | None,
                    extra: Mapping[str, str] | None) -> tuple[int, str]:
    from click.testing import CliRunner

    from govchain.entrypoints.cli import main

    env = {k: v for k, v in service_env(home, extra).items() if k.startswith("GOVCHAIN_")}
    with _in_process_lock:
        result = CliRunner().invoke(main, ["--home", str(home), *args], input=stdin, env=env,
                                    catch_exceptions=True)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\n{type(result.exception).__name__}: {result.exception}"
    return result.exit_code, output


@contextlib.contextmanager
def running_service(home: Path, *, prepare: bool = True,
                    municipalities: Sequence[Municipality] = DEFAULT_MUNICIPALITIES,
                    accounts: Sequence[Account] = DEFAULT_ACCOUNTS, env: Mapping[str, str] | None = None,
                    cli_in_process: bool = True, startup_timeout: float = 60.0,
                    port: int | None = None) -> Iterator[ServeProcess]:
    """Prepares `home` (unless `prepare` is False) and runs `govchain serve` on it (embedded
    chain, SQLite in the home) until the block ends, on `port` if given (an address that must be
    known before the start, such as an identity provider's redirect URI), else on a free one.
    The process is stopped for sure."""
    if prepare:
        prepare_home(home, municipalities=municipalities, accounts=accounts, in_process=cli_in_process)
    service = ServeProcess(home, service_env(home, env), accounts={a.role: a for a in accounts},
                           municipalities=tuple(municipalities), port=port or free_port())
    try:
        service.start(startup_timeout)
        yield service
    finally:
        service.stop(10.0)
