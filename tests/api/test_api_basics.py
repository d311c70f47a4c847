"""The HTTP API and the service commands on a real embedded chain and a real SQLite database."""

from __future__ import annotations

import asyncio
import copy
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import HTTPException
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork, UserRecord
from govchain.domain.security import hash_password
from govchain.domain.verification import unverifiable
from govchain.entrypoints.cli import main
from govchain.entrypoints.http.app import create_app
from govchain.entrypoints.http.deps import get_current_clerk, get_current_registrar
from govchain.entrypoints.http.errors import error_response
from govchain.entrypoints.http.tokens import issue_token
from govchain.errors import (
    ConfigurationError,
    ConflictError,
    GovchainError,
    InputError,
    LedgerError,
    LedgerUnavailableError,
    NotAuthorizedError,
    ValidationError,
)
from govchain.settings import Settings

AACHEN = "05334002"
PASSWORD = "richtig-langes-passwort"
PASSPHRASE = "test passphrase – not a secret"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-home")


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", PASSPHRASE)
    settings = Settings(home=home, rpc_url=None, database_url=None, max_body_bytes=64 * 1024)
    try:
        with TestClient(create_app(settings)) as test_client:
            ctx: Context = test_client.app.state.context  # type: ignore[attr-defined]
            services.admit_municipality(ctx, AACHEN, "Stadt Aachen", ["gefaehrlicher-hund"])
            yield test_client
    finally:
        mp.undo()


def engine_of(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


def add_user(client: TestClient, username: str, role: str = "clerk", disabled: bool = False) -> int:
    with UnitOfWork(engine_of(client)) as uow:
        user = uow.users.add(username=username, password_hash=hash_password(PASSWORD),
                             role=role,  # type: ignore[arg-type]
                             municipality_ags=AACHEN if role == "clerk" else None,
                             display_name=username.title())
        if disabled:
            uow.users.disable(user.id)
        uow.commit()
        return user.id


def login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issued_document(client: TestClient) -> dict[str, Any]:
    ctx: Context = client.app.state.context  # type: ignore[attr-defined]
    subject = ctx.usecases.get("gefaehrlicher-hund").examples[0]["subject"]
    start = datetime.now(UTC) - timedelta(days=1)
    (doc,) = services.issue_documents(ctx, AACHEN, "gefaehrlicher-hund", [services.IssueRequest(
        subject=subject, valid_from=start, valid_until=start + timedelta(days=30))])
    return doc


def cli(home: Path, *args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, ["--home", str(home), *args], input=input)


# -- health, use cases ------------------------------------------------------------------------

def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/api/v1/healthz").json() == {"status": "ok"}
    ready = client.get("/api/v1/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["checks"]["ledger"]["ok"] and ready.json()["checks"]["database"]["ok"]


def test_usecases_list_ids_titles_and_schemas(client: TestClient) -> None:
    response = client.get("/api/v1/usecases")
    assert response.status_code == 200
    by_id = {uc["id"]: uc for uc in response.json()}
    assert set(by_id) == {"gefaehrlicher-hund", "strassenmusik", "wohnungsgeberbestaetigung"}
    dog = by_id["gefaehrlicher-hund"]
    assert dog["title"]["de"]
    assert dog["schema"]["type"] == "object" and "properties" in dog["schema"]


def test_token_key_is_private_to_the_service(client: TestClient, home: Path) -> None:
    mode = (home / "secrets" / "token-key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


# -- login and tokens -------------------------------------------------------------------------

def test_login_and_me(client: TestClient) -> None:
    user_id = add_user(client, "clerk.login")
    response = login(client, "Clerk.Login")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    me = client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json() == {"id": user_id, "username": "clerk.login", "role": "clerk",
                         "municipality": AACHEN, "displayName": "Clerk.Login"}


@pytest.mark.parametrize(("username", "password"), [("clerk.wrong", "falsches-passwort-123"),
                                                    ("niemand", PASSWORD)])
def test_wrong_password_or_unknown_user_is_401(client: TestClient, username: str,
                                                password: str) -> None:
    if username == "clerk.wrong":
        add_user(client, username)
    response = login(client, username, password)
    assert response.status_code == 401
    assert response.json() == {"detail": "Benutzername oder Passwort falsch"}


def test_disabled_user_cannot_log_in_and_old_tokens_stop_working(client: TestClient) -> None:
    add_user(client, "clerk.disabled.before", disabled=True)
    assert login(client, "clerk.disabled.before").status_code == 401
    user_id = add_user(client, "clerk.disabled.later")
    token = login(client, "clerk.disabled.later").json()["access_token"]
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    with UnitOfWork(engine_of(client)) as uow:
        uow.users.disable(user_id)
        uow.commit()
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401


def test_missing_forged_and_expired_tokens_are_rejected(client: TestClient) -> None:
    user_id = add_user(client, "registrar.tokens", role="registrar")
    token = login(client, "registrar.tokens").json()["access_token"]
    version, payload, mac = token.split(".")
    key: bytes = client.app.state.token_key  # type: ignore[attr-defined]
    forged = [
        f"{version}.{payload}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}",
        issue_token(b"\x00" * 32, user_id=user_id, role="registrar", at=datetime.now(UTC),
                    ttl=timedelta(hours=1)),
        issue_token(key, user_id=user_id, role="clerk", at=datetime.now(UTC),
                    ttl=timedelta(hours=1)),  # a role the user does not have
        "kein-token",
        f"{version}.{payload}.ä",
    ]
    expired = issue_token(key, user_id=user_id, role="registrar",
                          at=datetime.now(UTC) - timedelta(hours=2), ttl=timedelta(hours=1))
    for bad in [*forged, expired]:
        response = client.get("/api/v1/auth/me",
                              headers={"Authorization": f"Bearer {bad}".encode()})
        assert response.status_code == 401, bad
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200


# -- verification -----------------------------------------------------------------------------

def test_issued_document_verifies_valid_and_tampered_invalid(client: TestClient) -> None:
    doc = issued_document(client)
    response = client.post("/api/v1/verify", json=doc)
    assert response.status_code == 200
    result = response.json()
    assert result["status"] == "VALID"
    assert result["document_id"] == doc["id"]
    assert result["issuer"]["ags"] == AACHEN
    assert {c["name"] for c in result["checks"]} == {
        "integrity", "anchoring", "issuer", "status", "validity"}

    forged = copy.deepcopy(doc)
    forged["credentialSubject"]["hund"]["chipnummer"] = "276000000000000"
    response = client.post("/api/v1/verify", json=forged)
    assert response.status_code == 200
    assert response.json()["status"] == "INVALID"


def test_verify_refuses_bodies_that_are_not_a_document(client: TestClient) -> None:
    assert client.post("/api/v1/verify", content=b"{kein json").status_code == 400
    assert client.post("/api/v1/verify", json=[1, 2]).status_code == 400
    assert client.post("/api/v1/verify", content=b"[" * 40_000).status_code == 400
    big = client.post("/api/v1/verify", json={"x": "a" * 70_000})
    assert big.status_code == 413
    garbage = client.post("/api/v1/verify", json={"id": "urn:uuid:x"})
    assert garbage.status_code == 200 and garbage.json()["status"] == "INVALID"


def test_unverifiable_answers_503_with_the_result(client: TestClient,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    doc = issued_document(client)
    monkeypatch.setattr(services, "verify",
                        lambda _ctx, document, at=None: unverifiable(document, "Ledger weg"))
    response = client.post("/api/v1/verify", json=doc)
    assert response.status_code == 503
    assert response.json()["status"] == "UNVERIFIABLE"


def test_verify_with_api_key_is_recorded(client: TestClient, home: Path) -> None:
    created = cli(home, "apikeys", "create", "--name", "Polizei Aachen")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("gck_")
    doc = issued_document(client)
    response = client.post("/api/v1/verify", json=doc, headers={"X-API-Key": key})
    assert response.status_code == 200 and response.json()["status"] == "VALID"
    with UnitOfWork(engine_of(client)) as uow:
        (record,) = [k for k in uow.api_keys.list() if k.name == "Polizei Aachen"]
        entries = uow.verification_log.list(api_key_id=record.id).items
        assert record.last_used_at is not None
    assert [(e.document_id, e.result) for e in entries] == [(doc["id"], "VALID")]
    assert key not in (home / "govchain.sqlite3").read_bytes().decode("latin-1")
    unknown = client.post("/api/v1/verify", json=doc, headers={"X-API-Key": "gck_falsch"})
    assert unknown.status_code == 401


# -- errors -----------------------------------------------------------------------------------

def test_validation_errors_name_each_field() -> None:
    response = error_response(ValidationError("Ungültig", [("/hund/name", "fehlt")]))
    assert response.status_code == 422
    assert response.body == b'{"detail":[{"loc":"/hund/name","msg":"fehlt"}]}'


@pytest.mark.parametrize(("error", "code"), [
    (InputError("Falsche Eingabe"), 400),
    (NotAuthorizedError("Nicht berechtigt"), 403),
    (LedgerError("Vertrag lehnt ab"), 409),
    (ConflictError("Schon vergeben"), 409),
    (LedgerUnavailableError("Ledger nicht erreichbar"), 503),
])
def test_errors_map_to_http_status_with_their_message(error: GovchainError, code: int) -> None:
    response = error_response(error)
    assert response.status_code == code
    assert str(error).encode() in response.body


def test_internal_errors_do_not_leak_their_message() -> None:
    response = error_response(ConfigurationError("/geheim/pfad fehlt"))
    assert response.status_code == 500
    assert b"/geheim" not in response.body


def test_role_checks_refuse_other_roles_in_german(client: TestClient) -> None:
    with UnitOfWork(engine_of(client)) as uow:
        clerk = uow.users.by_id(add_user(client, "sb.rollen"))
    assert isinstance(clerk, UserRecord)
    assert asyncio.run(get_current_clerk(clerk)) is clerk
    with pytest.raises(HTTPException) as refused:
        asyncio.run(get_current_registrar(clerk))
    assert refused.value.status_code == 403 and "Nur für" in refused.value.detail


# -- CLI --------------------------------------------------------------------------------------

def test_cli_users_add_then_login(client: TestClient, home: Path) -> None:
    result = cli(home, "users", "add", "--role", "clerk", "--username", "sb.aachen",
                 "--municipality", AACHEN, "--display-name", "Sachbearbeitung Aachen",
                 "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    token = login(client, "sb.aachen").json()["access_token"]
    me = client.get("/api/v1/auth/me", headers=bearer(token)).json()
    assert me["role"] == "clerk" and me["municipality"] == AACHEN
    assert me["displayName"] == "Sachbearbeitung Aachen"
    with UnitOfWork(engine_of(client)) as uow:
        assert uow.audit.list(action="user.add", target=f"user:{me['id']}").total == 1


@pytest.mark.parametrize(("args", "password", "message"), [
    (["--role", "clerk", "--username", "a"], PASSWORD, "--municipality"),
    (["--role", "clerk", "--username", "a", "--municipality", "5334"], PASSWORD, "8-stellig"),
    (["--role", "landlord", "--username", "a", "--municipality", AACHEN], PASSWORD, "nur für"),
    (["--role", "landlord", "--username", "a"], "zu-kurz", "mindestens 12 Zeichen"),
    (["--role", "clerk", "--username", "sb.doppelt", "--municipality", AACHEN], PASSWORD, ""),
])
def test_cli_users_add_refuses_bad_input(client: TestClient, home: Path, args: list[str],
                                         password: str, message: str) -> None:
    if "sb.doppelt" in args:
        add_user(client, "sb.doppelt")
    result = cli(home, "users", "add", *args, "--password-stdin", input=password + "\n")
    assert result.exit_code == 2
    assert "Fehler:" in result.stderr and message in result.stderr
    assert "Traceback" not in result.output


def test_cli_unknown_role_exits_2(home: Path) -> None:
    result = cli(home, "users", "add", "--role", "police", "--username", "x", "--password-stdin",
                 input=PASSWORD + "\n")
    assert result.exit_code == 2


# -- settings ---------------------------------------------------------------------------------

def test_settings_come_from_cli_over_env_over_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text('port = 8001\nhost = "0.0.0.0"\ntoken_ttl_minutes = 5\n')
    monkeypatch.setenv("GOVCHAIN_HOME", str(tmp_path))
    monkeypatch.setenv("GOVCHAIN_PORT", "8002")
    monkeypatch.delenv("GOVCHAIN_DATABASE_URL", raising=False)
    from_env = Settings()
    assert (from_env.host, from_env.port, from_env.token_ttl_minutes) == ("0.0.0.0", 8002, 5)
    assert from_env.effective_database_url == f"sqlite:///{tmp_path / 'govchain.sqlite3'}"
    assert Settings(port=8003).port == 8003
    (tmp_path / "config.toml").write_text("unbekannt = 1\n")
    with pytest.raises(Exception, match="Unbekannte Einstellung"):
        Settings()


def test_serve_refuses_to_start_without_a_deployment_on_a_node(tmp_path: Path) -> None:
    result = cli(tmp_path, "--rpc-url", "http://127.0.0.1:9", "serve", "--port", "18999")
    assert result.exit_code == 2
    assert "deployment.json fehlt" in result.stderr
