"""A real `govchain serve` for browser tests and screenshots, set up the way a new user would.

The home is prepared with the command line only (``govchain init``, ``registry admit``,
``users add``; run in this process by default, which saves the seconds of imports each new
interpreter costs), then the service runs as a separate process on a free loopback port (embedded
chain, SQLite in the home) until the context ends:

    with running_service(tmp_home) as service:
        driver.get(service.url("/login"))

Rate limits and login throttling are lifted (a browser suite loads many pages from one address);
they have their own tests. The service's output goes to ``HOME/serve.log``.
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


@dataclass
class RunningService:
    """A running `govchain serve`; `url(path)` builds addresses on it."""

    base_url: str
    home: Path
    process: subprocess.Popen[bytes]
    accounts: dict[str, Account] = field(default_factory=dict)  # by role
    municipalities: tuple[Municipality, ...] = DEFAULT_MUNICIPALITIES
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    @property
    def log_path(self) -> Path:
        return self.home / "serve.log"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def account(self, role: str) -> Account:
        return self.accounts[role]

    @property
    def running(self) -> bool:
        return self.process.poll() is None

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


def govchain_command() -> list[str]:
    """How to run the `govchain` command of this interpreter's installation."""
    script = Path(sys.executable).with_name("govchain")
    return [str(script)] if os.access(script, os.X_OK) else [sys.executable, "-m", "govchain"]


def service_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "GOVCHAIN_HOME": str(home), "GOVCHAIN_KEY_PASSPHRASE": PASSPHRASE,
           "GOVCHAIN_PUBLIC_RATE_PER_MINUTE": "1000000", "GOVCHAIN_API_KEY_RATE_PER_MINUTE": "1000000",
           "GOVCHAIN_LOGIN_MAX_FAILURES": "1000000", "PYTHONUNBUFFERED": "1"}
    env.pop("GOVCHAIN_KEY_PASSPHRASE_FILE", None)
    env.update(extra or {})
    return env


def run_cli(home: Path, *args: str, stdin: str | None = None, in_process: bool = True,
            attempts: int = 3) -> str:
    """Runs `govchain ARGS` on `home` and returns its output; ConfigurationError if it fails.

    In process by default (click's test runner: the same command code, without the seconds each
    new interpreter spends importing), else as a separate `govchain` process. Retried a few
    times when it meets SQLite's write lock.
    """
    output = ""
    for attempt in range(attempts):
        if in_process:
            code, output = _run_in_process(home, args, stdin)
        else:
            proc = subprocess.run([*govchain_command(), "--home", str(home), *args],
                                  env=service_env(home), input=stdin, capture_output=True, text=True,
                                  timeout=300)
            code, output = proc.returncode, proc.stdout + proc.stderr
        if code == 0:
            return output
        if "locked" not in output.lower() or attempt == attempts - 1:
            break
        time.sleep(0.5)
    raise ConfigurationError(f"govchain {' '.join(args)} ist fehlgeschlagen:\n{output[-3000:]}")


_in_process_lock = threading.Lock()  # the runner swaps os.environ and sys.stdin for the call


def _run_in_process(home: Path, args: Sequence[str], stdin: str | None) -> tuple[int, str]:
    from click.testing import CliRunner

    from govchain.entrypoints.cli import main

    env = {k: v for k, v in service_env(home).items() if k.startswith("GOVCHAIN_")}
    with _in_process_lock:
        result = CliRunner().invoke(main, ["--home", str(home), *args], input=stdin, env=env,
                                    catch_exceptions=True)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\n{type(result.exception).__name__}: {result.exception}"
    return result.exit_code, output


def prepare_home(home: Path, *, municipalities: Sequence[Municipality] = DEFAULT_MUNICIPALITIES,
                 accounts: Sequence[Account] = DEFAULT_ACCOUNTS, in_process: bool = True) -> None:
    """A new home as the README sets one up, with the same commands: `init` (registrar key and
    contracts), `registry admit` for each municipality, `users add` for each account."""
    home.mkdir(parents=True, exist_ok=True)
    run_cli(home, "init", in_process=in_process)
    for m in municipalities:
        admit = ["registry", "admit", "--ags", m.ags, "--name", m.name]
        for usecase in m.usecases:
            admit += ["--usecase", usecase]
        run_cli(home, *admit, in_process=in_process)
    for a in accounts:
        add = ["users", "add", "--role", a.role, "--username", a.username, "--password-stdin"]
        if a.municipality:
            add += ["--municipality", a.municipality]
        if a.display_name:
            add += ["--display-name", a.display_name]
        run_cli(home, *add, stdin=a.password, in_process=in_process)


@contextlib.contextmanager
def running_service(home: Path, *, prepare: bool = True,
                    municipalities: Sequence[Municipality] = DEFAULT_MUNICIPALITIES,
                    accounts: Sequence[Account] = DEFAULT_ACCOUNTS, env: Mapping[str, str] | None = None,
                    cli_in_process: bool = True, startup_timeout: float = 60.0) -> Iterator[RunningService]:
    """Prepares `home` (unless `prepare` is False) and runs `govchain serve` on it until the block
    ends; returns once /api/v1/readyz answers 200. The process (group) is stopped for sure."""
    if prepare:
        prepare_home(home, municipalities=municipalities, accounts=accounts, in_process=cli_in_process)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = home / "serve.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen([*govchain_command(), "--home", str(home), "serve", "--port", str(port)],
                                   env=service_env(home, env), stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    service = RunningService(base, home, process, {a.role: a for a in accounts}, tuple(municipalities))
    try:
        _wait_ready(service, startup_timeout)
        yield service
    finally:
        _stop(process)


def _wait_ready(service: RunningService, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.running:
            raise ConfigurationError(f"govchain serve ist beendet:\n{service.log()[-3000:]}")
        try:
            with urllib.request.urlopen(service.url("/api/v1/readyz"), timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise ConfigurationError(f"govchain serve antwortet nicht:\n{service.log()[-3000:]}")


def _stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM to the service's own process group (uvicorn shuts down cleanly), then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
