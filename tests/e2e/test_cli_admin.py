"""`govchain users` and `govchain apikeys` for the operator: list, disable, enable, new password,
sessions and API keys, on the home a running service uses — a change at the command line is
audited and refused tokens and keys at the service's next request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from govchain.adapters.db import AuditRecord, UnitOfWork
from govchain.domain.security import hash_password, password_hasher
from govchain.entrypoints.cli import main
from govchain.entrypoints.http.app import create_app
from govchain.settings import Settings

AACHEN = "05334002"
PASSWORD = "richtig-langes-passwort"
NEW_PASSWORD = "ein-ganz-neues-passwort"
CHEAP = password_hasher(time_cost=1, memory_cost_kib=8, parallelism=1)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-admin-home")


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", "test passphrase - not a secret")
    try:
        with TestClient(create_app(Settings(home=home))) as test_client:
            yield test_client
    finally:
        mp.undo()


def engine_of(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


def add_user(client: TestClient, username: str) -> int:
    with UnitOfWork(engine_of(client)) as uow:
        user = uow.users.add(username=username, role="clerk", municipality_ags=AACHEN,
                             password_hash=hash_password(PASSWORD, hasher=CHEAP),
                             display_name=username)
        uow.commit()
        return user.id


def cli(home: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["--home", str(home), *args], input=input)


def ok(home: Path, *args: str, input: str | None = None) -> str:
    result = cli(home, *args, input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password},
                    headers={"User-Agent": "Fachverfahren/3.1"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def signed_in(client: TestClient, headers: dict[str, str]) -> bool:
    code: int = client.get("/api/v1/auth/me", headers=headers).status_code
    return code == 200


def audit_of(client: TestClient, action: str, target: str) -> list[AuditRecord]:
    with UnitOfWork(engine_of(client)) as uow:
        return uow.audit.list(action=action, target=target).items


def test_users_list_shows_state_and_sessions(client: TestClient, home: Path) -> None:
    user_id = add_user(client, "sb.liste")
    login(client, "sb.liste")
    listed: list[dict[str, Any]] = json.loads(ok(home, "users", "list", "--json"))
    mine = next(u for u in listed if u["id"] == user_id)
    assert mine["username"] == "sb.liste" and mine["active"] is True and mine["sessions"] == 1
    assert [u["username"] for u in json.loads(ok(home, "users", "list", "--role", "registrar",
                                                 "--json"))] == []
    text = ok(home, "users", "list")
    assert any("sb.liste" in line and "aktiv" in line and "1 Sitzung" in line
               for line in text.splitlines())


def test_disable_and_enable_at_the_command_line(client: TestClient, home: Path) -> None:
    user_id = add_user(client, "sb.gesperrt")
    token = login(client, "sb.gesperrt")
    assert "gesperrt" in ok(home, "users", "disable", "SB.Gesperrt")  # usernames ignore case
    assert not signed_in(client, token)
    assert client.post("/api/v1/auth/token", data={"username": "sb.gesperrt",
                                                  "password": PASSWORD}).status_code == 401
    assert "gesperrt seit" in ok(home, "users", "list")
    ok(home, "users", "enable", "sb.gesperrt")
    assert not signed_in(client, token)
    assert signed_in(client, login(client, "sb.gesperrt"))
    (entry,) = audit_of(client, "user.disable", f"user:{user_id}")
    assert entry.actor.startswith("cli") and entry.detail["via"] == "cli"
    assert len(audit_of(client, "user.enable", f"user:{user_id}")) == 1


def test_reset_password_from_stdin(client: TestClient, home: Path) -> None:
    user_id = add_user(client, "sb.vergessen")
    token = login(client, "sb.vergessen")
    short = cli(home, "users", "reset-password", "sb.vergessen", "--password-stdin",
                input="kurz\n")
    assert short.exit_code == 2 and "mindestens 12 Zeichen" in short.stderr
    assert signed_in(client, token)
    missing = cli(home, "users", "reset-password", "sb.vergessen", input=NEW_PASSWORD + "\n")
    assert missing.exit_code == 2  # the password comes only from stdin, never an argument
    ok(home, "users", "reset-password", "sb.vergessen", "--password-stdin",
       input=NEW_PASSWORD + "\n")
    assert not signed_in(client, token)
    assert signed_in(client, login(client, "sb.vergessen", NEW_PASSWORD))
    (entry,) = audit_of(client, "user.reset-password", f"user:{user_id}")
    assert NEW_PASSWORD not in repr(entry.detail)


def test_sessions_listed_and_ended(client: TestClient, home: Path) -> None:
    add_user(client, "sb.mobil")
    first, second = login(client, "sb.mobil"), login(client, "sb.mobil")
    sessions = json.loads(ok(home, "users", "sessions", "sb.mobil", "--json"))
    assert [s["userAgent"] for s in sessions] == ["Fachverfahren/3.1"] * 2
    assert "Fachverfahren/3.1" in ok(home, "users", "sessions", "sb.mobil")
    assert "1 Sitzung(en)" in ok(home, "users", "end-sessions", "sb.mobil",
                                 "--session", str(sessions[0]["id"]))
    assert not signed_in(client, first) and signed_in(client, second)
    again = cli(home, "users", "end-sessions", "sb.mobil", "--session", str(sessions[0]["id"]))
    assert again.exit_code == 2 and "Keine Sitzung" in again.stderr
    ok(home, "users", "end-sessions", "sb.mobil")
    assert not signed_in(client, second)
    assert "keine offenen Sitzungen" in ok(home, "users", "sessions", "sb.mobil")


def test_unknown_user_is_a_clear_error(home: Path) -> None:
    for command in ("disable", "enable", "sessions", "end-sessions"):
        result = cli(home, "users", command, "niemand")
        assert result.exit_code == 2 and "Keinen Benutzer" in result.stderr
        assert "Traceback" not in result.output


def test_apikeys_list_and_revoke(client: TestClient, home: Path) -> None:
    result = cli(home, "apikeys", "create", "--name", "Polizei Aachen")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    document = {"id": "urn:uuid:00000000-0000-4000-8000-000000000000"}
    assert client.post("/api/v1/verify", json=document,
                       headers={"X-API-Key": key}).status_code == 200
    listed = json.loads(ok(home, "apikeys", "list", "--json"))
    (mine,) = [k for k in listed if k["name"] == "Polizei Aachen"]
    assert mine["active"] is True and mine["lastUsedAt"] and key not in json.dumps(listed)
    assert "Polizei Aachen" in ok(home, "apikeys", "revoke", str(mine["id"]))
    assert client.post("/api/v1/verify", json=document,
                       headers={"X-API-Key": key}).status_code == 401
    assert "gesperrt seit" in ok(home, "apikeys", "list")
    (entry,) = audit_of(client, "apikey.revoke", f"api_key:{mine['id']}")
    assert entry.detail["via"] == "cli"
    unknown = cli(home, "apikeys", "revoke", "999999")
    assert unknown.exit_code == 2 and "Keinen API-Schlüssel" in unknown.stderr


@pytest.mark.slow
def test_the_installed_command_lists_users(client: TestClient, home: Path) -> None:
    """The commands as an operator runs them: a process of their own."""
    add_user(client, "sb.prozess")
    env = {**os.environ, "GOVCHAIN_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "govchain", "users", "list", "--json"], env=env,
                          text=True, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "sb.prozess" in {u["username"] for u in json.loads(proc.stdout)}
