"""What only a real `govchain serve` shows: which addresses it believes, what it serves at
/docs, and who may read the files of its home. The service runs as a separate process on a fresh
home set up with the command line, as README's session does."""

from __future__ import annotations

import sqlite3
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from govchain.adapters.db import DATABASE_FILENAME
from govchain.entrypoints.http.app import create_app
from govchain.settings import Settings
from support.serve import ServeProcess, running_service

PUBLIC_RATE = 3
MAX_FAILURES = 3


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    home = tmp_path_factory.mktemp("serve-home") / "home"  # made by `govchain init`
    with running_service(home, env={"GOVCHAIN_PUBLIC_RATE_PER_MINUTE": str(PUBLIC_RATE),
                                    "GOVCHAIN_LOGIN_MAX_FAILURES": str(MAX_FAILURES)}) as running:
        running.call("GET", "/api/v1/auth/me", role="registrar")  # signed in before any guess
        yield running


def _status(service: ServeProcess, path: str, *, data: bytes | None = None,
            headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(service.url(path), data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_home_and_database_are_for_the_owner_only(service: ServeProcess) -> None:
    # All personal data and the password hashes are in these files; the home was made by
    # `govchain init` (README's session), the -wal and -shm files by the running service.
    home = service.home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    files = [home / DATABASE_FILENAME, home / f"{DATABASE_FILENAME}-wal",
             home / f"{DATABASE_FILENAME}-shm"]
    assert all(f.exists() for f in files), sorted(p.name for p in home.iterdir())
    assert {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == {
        f.name: "0o600" for f in files}


def test_a_forged_x_forwarded_for_is_not_believed(service: ServeProcess) -> None:
    # The test talks to the service from 127.0.0.1, the address uvicorn's default trusts.
    forged = {"X-Forwarded-For": "198.51.100.1"}
    status, _ = service.call("POST", "/api/v1/registry/municipalities", role="registrar",
                             body={"ags": "05315000", "name": "Stadt Köln",
                                   "usecases": ["strassenmusik"]}, headers=forged)
    assert status == 201
    db = sqlite3.connect(f"file:{service.home / DATABASE_FILENAME}?mode=ro", uri=True)
    try:
        (address,) = db.execute("SELECT remote_addr FROM audit_log WHERE action = "
                                "'registry.admit' AND target = '05315000'").fetchone()
    finally:
        db.close()
    assert address == "127.0.0.1"
    answers = [_status(service, "/api/v1/verify/kein-link",
                       headers={"X-Forwarded-For": f"198.51.100.{i}"})
               for i in range(PUBLIC_RATE + 1)]
    assert answers == [200] * PUBLIC_RATE + [429]
    guesses = [_status(service, "/api/v1/auth/token", data=f"username=user{i}&password=x".encode(),
                       headers={"X-Forwarded-For": f"198.51.100.{i}"})
               for i in range(MAX_FAILURES + 1)]
    assert guesses == [401] * MAX_FAILURES + [429]


def test_interactive_docs_are_off_unless_asked_for(service: ServeProcess,
                                                   tmp_path: Path) -> None:
    assert _status(service, "/docs") == 404
    assert _status(service, "/api/v1/openapi.json") == 200
    paths = {getattr(r, "path", None) for r in create_app(Settings(home=tmp_path, api_docs=True)).routes}
    assert "/docs" in paths  # a development setting
