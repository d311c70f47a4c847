"""The registrar's administration over the API (users, sessions, API keys) and the API's parity
with the pages (PDF certificate, verification at a past time), on a real embedded chain and
SQLite: only the registrar may administer, every change is audited and takes effect at once."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import AuditRecord, UnitOfWork
from govchain.domain.security import hash_password, password_hasher
from govchain.entrypoints.cli.base import cli_who
from govchain.entrypoints.http.app import create_app
from govchain.errors import PermissionDeniedError
from govchain.settings import Settings

PASSWORD = "richtig-langes-passwort"
NEW_PASSWORD = "ein-ganz-neues-passwort"
AACHEN = "05334002"
BASE_URL = "https://pruefen.example.de"
CHEAP = password_hasher(time_cost=1, memory_cost_kib=8, parallelism=1)
DOG = "gefaehrlicher-hund"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home: Path = tmp_path_factory.mktemp("admin-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", "test passphrase - not a secret")
    try:
        with TestClient(create_app(Settings(home=home, public_base_url=BASE_URL))) as test_client:
            ctx: Context = test_client.app.state.context  # type: ignore[attr-defined]
            services.admit_municipality(ctx, AACHEN, "Stadt Aachen", [DOG])
            with UnitOfWork(engine_of(test_client)) as uow:
                for name, role, ags in (("land", "registrar", None), ("clerk", "clerk", AACHEN),
                                        ("vermieter", "landlord", None)):
                    uow.users.add(username=name, role=role,  # type: ignore[arg-type]
                                  password_hash=hash_password(PASSWORD, hasher=CHEAP),
                                  municipality_ags=ags, display_name=name)
                uow.commit()
            yield test_client
    finally:
        mp.undo()


def engine_of(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


def add_user(client: TestClient, username: str, role: str = "clerk") -> int:
    with UnitOfWork(engine_of(client)) as uow:
        user = uow.users.add(username=username, role=role,  # type: ignore[arg-type]
                             password_hash=hash_password(PASSWORD, hasher=CHEAP),
                             municipality_ags=AACHEN if role == "clerk" else None,
                             display_name=username)
        uow.commit()
        return user.id


def login(client: TestClient, username: str, password: str = PASSWORD,
          user_agent: str = "testclient") -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password},
                    headers={"User-Agent": user_agent})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def signed_in(client: TestClient, headers: dict[str, str]) -> bool:
    code: int = client.get("/api/v1/auth/me", headers=headers).status_code
    assert code in (200, 401)
    return code == 200


def audit_of(client: TestClient, action: str, target: str) -> list[AuditRecord]:
    with UnitOfWork(engine_of(client)) as uow:
        return uow.audit.list(action=action, target=target).items


def registrar_id(client: TestClient) -> str:
    with UnitOfWork(engine_of(client)) as uow:
        user = uow.users.by_username("land")
        assert user is not None
        return str(user.id)


# -- who may ---------------------------------------------------------------------------------

ADMIN_ROUTES = [
    ("get", "/api/v1/users", None),
    ("post", "/api/v1/users/1/disable", None),
    ("post", "/api/v1/users/1/enable", None),
    ("post", "/api/v1/users/1/password", {"password": NEW_PASSWORD}),
    ("get", "/api/v1/users/1/sessions", None),
    ("post", "/api/v1/users/1/sessions/end", None),
    ("get", "/api/v1/api-keys", None),
    ("post", "/api/v1/api-keys/1/revoke", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
@pytest.mark.parametrize("who", [None, "clerk", "vermieter"])
def test_only_the_registrar_administers(client: TestClient, who: str | None, method: str,
                                        path: str, body: Any) -> None:
    headers = login(client, who) if who else {}
    r = client.request(method, path, headers=headers, json=body)
    assert r.status_code == (401 if who is None else 403), r.text


def test_the_service_layer_refuses_other_roles_too(client: TestClient) -> None:
    clerk = services.Actor(user_id=2, username="clerk", role="clerk", ags=AACHEN)
    with UnitOfWork(engine_of(client)) as uow:
        for call in (lambda: services.list_users(uow, clerk),
                     lambda: services.disable_user(uow, clerk, 1, via="test"),
                     lambda: services.list_api_keys(uow, clerk)):
            with pytest.raises(PermissionDeniedError):
                call()


# -- users -----------------------------------------------------------------------------------

def test_list_users_shows_state_and_open_sessions(client: TestClient) -> None:
    user_id = add_user(client, "sb.liste")
    login(client, "sb.liste")
    login(client, "sb.liste")
    listed = client.get("/api/v1/users", headers=login(client, "land")).json()
    mine = next(u for u in listed if u["id"] == user_id)
    assert mine == {**mine, "username": "sb.liste", "role": "clerk", "municipality": AACHEN,
                    "active": True, "disabledAt": None, "sessions": 2}
    assert "passwordHash" not in mine and "password_hash" not in mine
    assert [u["username"] for u in listed] == sorted(u["username"] for u in listed)
    landlords = client.get("/api/v1/users", params={"role": "landlord"},
                           headers=login(client, "land")).json()
    assert [u["username"] for u in landlords] == ["vermieter"]


def test_disabled_user_is_refused_at_once_and_enabling_brings_no_old_token_back(
        client: TestClient) -> None:
    user_id = add_user(client, "sb.gesperrt")
    token = login(client, "sb.gesperrt")
    assert signed_in(client, token)
    admin = login(client, "land")
    r = client.post(f"/api/v1/users/{user_id}/disable", headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["sessions"] == 0
    assert not signed_in(client, token)  # the very next request
    assert client.post("/api/v1/auth/token", data={"username": "sb.gesperrt",
                                                  "password": PASSWORD}).status_code == 401
    r = client.post(f"/api/v1/users/{user_id}/enable", headers=admin)
    assert r.status_code == 200 and r.json()["active"] is True
    assert not signed_in(client, token)  # its session was ended with the disabling
    assert signed_in(client, login(client, "sb.gesperrt"))
    (disabled,) = audit_of(client, "user.disable", f"user:{user_id}")
    assert disabled.actor == registrar_id(client) and disabled.actor_kind == "user"
    assert disabled.remote_addr and disabled.detail["via"] == "api"
    assert disabled.detail["changed"] is True and len(disabled.detail["sessionsEnded"]) == 1
    assert len(audit_of(client, "user.enable", f"user:{user_id}")) == 1


def test_registrar_cannot_disable_their_own_account(client: TestClient) -> None:
    admin = login(client, "land")
    r = client.post(f"/api/v1/users/{registrar_id(client)}/disable", headers=admin)
    assert r.status_code == 400 and "eigene" in r.json()["detail"]
    assert signed_in(client, admin)


def test_unknown_user_is_404(client: TestClient) -> None:
    admin = login(client, "land")
    for path in ("/api/v1/users/999999/disable", "/api/v1/users/999999/sessions"):
        r = client.request("post" if path.endswith("disable") else "get", path, headers=admin)
        assert r.status_code == 404, r.text
    r = client.post("/api/v1/users/999999/password", headers=admin,
                    json={"password": NEW_PASSWORD})
    assert r.status_code == 404


def test_new_password_ends_every_session_and_replaces_the_old_one(client: TestClient) -> None:
    user_id = add_user(client, "sb.vergessen")
    phone, desk = login(client, "sb.vergessen"), login(client, "sb.vergessen")
    admin = login(client, "land")
    r = client.post(f"/api/v1/users/{user_id}/password", headers=admin, json={"password": "kurz"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == "password"
    assert signed_in(client, phone)  # nothing changed
    r = client.post(f"/api/v1/users/{user_id}/password", headers=admin,
                    json={"password": NEW_PASSWORD})
    assert r.status_code == 200 and r.json()["sessions"] == 0
    assert not signed_in(client, phone) and not signed_in(client, desk)
    assert client.post("/api/v1/auth/token", data={"username": "sb.vergessen",
                                                  "password": PASSWORD}).status_code == 401
    assert signed_in(client, login(client, "sb.vergessen", NEW_PASSWORD))
    (entry,) = audit_of(client, "user.reset-password", f"user:{user_id}")
    assert len(entry.detail["sessionsEnded"]) == 2
    assert NEW_PASSWORD not in repr(entry.detail) and "password" not in entry.detail


# -- sessions --------------------------------------------------------------------------------

def test_sessions_are_listed_and_ended_one_or_all(client: TestClient) -> None:
    user_id = add_user(client, "sb.mobil")
    phone = login(client, "sb.mobil", user_agent="Telefon/1.0")
    desk = login(client, "sb.mobil", user_agent="Schreibtisch/2.0")
    admin = login(client, "land")
    sessions = client.get(f"/api/v1/users/{user_id}/sessions", headers=admin).json()
    assert [s["userAgent"] for s in sessions] == ["Telefon/1.0", "Schreibtisch/2.0"]
    assert all(s["address"] and s["expiresAt"] > s["createdAt"] for s in sessions)
    assert not any("token" in key.lower() for key in sessions[0])
    phone_session = sessions[0]["id"]

    r = client.post(f"/api/v1/users/{user_id}/sessions/end", headers=admin,
                    json={"session": phone_session})
    assert r.status_code == 200 and r.json() == {"ended": [phone_session]}
    assert not signed_in(client, phone) and signed_in(client, desk)
    assert [s["userAgent"] for s in client.get(f"/api/v1/users/{user_id}/sessions",
                                               headers=admin).json()] == ["Schreibtisch/2.0"]
    # an ended session, or another user's, is not found
    r = client.post(f"/api/v1/users/{user_id}/sessions/end", headers=admin,
                    json={"session": phone_session})
    assert r.status_code == 404
    other = add_user(client, "sb.andere")
    login(client, "sb.andere")
    other_session = client.get(f"/api/v1/users/{other}/sessions", headers=admin).json()[0]["id"]
    r = client.post(f"/api/v1/users/{user_id}/sessions/end", headers=admin,
                    json={"session": other_session})
    assert r.status_code == 404

    r = client.post(f"/api/v1/users/{user_id}/sessions/end", headers=admin)
    assert r.status_code == 200 and len(r.json()["ended"]) == 1
    assert not signed_in(client, desk)
    assert client.get(f"/api/v1/users/{user_id}/sessions", headers=admin).json() == []
    entries = sorted(audit_of(client, "user.end-sessions", f"user:{user_id}"), key=lambda e: e.id)
    assert [e.detail["sessionsEnded"] for e in entries] == [[phone_session], r.json()["ended"]]


def test_logging_out_removes_the_session_from_the_list(client: TestClient) -> None:
    user_id = add_user(client, "sb.abmelden")
    token = login(client, "sb.abmelden")
    admin = login(client, "land")
    assert len(client.get(f"/api/v1/users/{user_id}/sessions", headers=admin).json()) == 1
    assert client.post("/api/v1/auth/logout", headers=token).status_code == 204
    assert client.get(f"/api/v1/users/{user_id}/sessions", headers=admin).json() == []


def test_expired_sessions_are_dropped_on_the_next_login(client: TestClient) -> None:
    user_id = add_user(client, "sb.alt")
    with UnitOfWork(engine_of(client)) as uow:
        long_ago = datetime.now(UTC) - timedelta(days=2)
        uow.login_sessions.start(token_id="abgelaufen-1234", user_id=user_id,
                                 expires_at=long_ago + timedelta(hours=1), address=None,
                                 user_agent=None, at=long_ago)
        uow.commit()
    login(client, "sb.alt")
    with UnitOfWork(engine_of(client)) as uow:
        assert [s.token_id for s in uow.login_sessions.for_user(user_id, at=long_ago)
                if s.token_id == "abgelaufen-1234"] == []


# -- API keys --------------------------------------------------------------------------------

def test_api_keys_are_listed_and_a_revoked_key_is_refused_at_once(client: TestClient) -> None:
    with UnitOfWork(engine_of(client)) as uow:
        record, key = services.create_api_key(uow, cli_who(), "Polizei Aachen", via="test")
        uow.commit()
    document = {"id": "urn:uuid:00000000-0000-4000-8000-000000000000"}
    checked = client.post("/api/v1/verify", json=document, headers={"X-API-Key": key})
    assert checked.status_code == 200
    admin = login(client, "land")
    listed = client.get("/api/v1/api-keys", headers=admin).json()
    mine = next(k for k in listed if k["id"] == record.id)
    assert mine["name"] == "Polizei Aachen" and mine["active"] is True
    assert key not in str(listed) and mine["prefix"] == record.prefix
    r = client.post(f"/api/v1/api-keys/{record.id}/revoke", headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["revokedAt"]
    refused = client.post("/api/v1/verify", json=document, headers={"X-API-Key": key})
    assert refused.status_code == 401
    (entry,) = audit_of(client, "apikey.revoke", f"api_key:{record.id}")
    assert entry.actor == registrar_id(client) and entry.detail["name"] == "Polizei Aachen"
    assert key not in repr(entry.detail)
    assert client.post("/api/v1/api-keys/999999/revoke", headers=admin).status_code == 404


# -- parity with the pages -------------------------------------------------------------------

def issued(client: TestClient, clerk: dict[str, str]) -> dict[str, Any]:
    ctx: Context = client.app.state.context  # type: ignore[attr-defined]
    subject = copy.deepcopy(ctx.usecases.get(DOG).examples[0]["subject"])
    start = datetime.now(UTC) - timedelta(days=1)
    r = client.post("/api/v1/documents?wait=true", headers=clerk, json={
        "usecase": DOG, "subject": subject, "validFrom": start.isoformat(),
        "validUntil": (start + timedelta(days=30)).isoformat()})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_certificate_over_the_api_is_the_pages_pdf_with_a_fresh_link(client: TestClient) -> None:
    clerk = login(client, "clerk")
    doc_id = issued(client, clerk)["id"]
    r = client.post(f"/api/v1/documents/{doc_id}/certificate?lang=en", headers=clerk)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert r.headers["content-disposition"].startswith(f'attachment; filename="{DOG}-')
    assert r.headers["cache-control"] == "no-store"
    with UnitOfWork(engine_of(client)) as uow:
        links = [e for e in uow.audit.list(action="link.create").items
                 if e.detail.get("document") == doc_id]
    assert [e.detail.get("purpose") for e in links] == ["certificate"]
    assert client.post(f"/api/v1/documents/{doc_id}/certificate").status_code == 401
    for other in ("vermieter", "land"):
        r = client.post(f"/api/v1/documents/{doc_id}/certificate", headers=login(client, other))
        assert r.status_code in (403, 404), r.text
    r = client.post("/api/v1/documents/urn:uuid:nope/certificate", headers=clerk)
    assert r.status_code == 404


def test_verify_at_a_past_or_future_time(client: TestClient) -> None:
    document = issued(client, login(client, "clerk"))["document"]
    now = datetime.now(UTC)

    def status_at(at: str | None) -> str:
        r = client.post("/api/v1/verify", json=document, params={"at": at} if at else None)
        assert r.status_code == 200, r.text
        status: str = r.json()["status"]
        return status

    assert status_at(None) == "VALID"
    assert status_at((now + timedelta(days=60)).isoformat()) == "EXPIRED"
    assert status_at((now + timedelta(days=2)).date().isoformat()) == "VALID"
    assert status_at((now - timedelta(days=3)).isoformat()) == "NOT_YET_VALID"
    for bad in ("gestern", "0001-01-01", "2026-13-01"):
        r = client.post("/api/v1/verify", json=document, params={"at": bad})
        assert r.status_code == 400 and "Zeitangabe" in r.json()["detail"], r.text


def test_a_sessions_latest_use_is_written_only_every_few_minutes(client: TestClient) -> None:
    user_id = add_user(client, "sb.zuletzt")
    start = datetime.now(UTC)
    with UnitOfWork(engine_of(client)) as uow:
        session = uow.login_sessions.start(token_id="zuletzt-12345678", user_id=user_id,
                                           expires_at=start + timedelta(hours=1),
                                           address="10.0.0.1", user_agent="x" * 500, at=start)
        assert session.user_agent == "x" * 200  # bounded
        sessions = uow.login_sessions
        assert not sessions.touch("zuletzt-12345678", "10.0.0.1", at=start + timedelta(minutes=1))
        assert sessions.touch("zuletzt-12345678", "10.0.0.2", at=start + timedelta(minutes=2))
        assert not sessions.touch("zuletzt-12345678", "10.0.0.2", at=start + timedelta(minutes=3))
        assert sessions.touch("zuletzt-12345678", "10.0.0.2", at=start + timedelta(minutes=8))
        assert not sessions.touch("unbekannt", "10.0.0.2")  # a token from before sessions
        (seen,) = sessions.for_user(user_id, at=start)
        assert seen.address == "10.0.0.2" and seen.last_seen_at == start + timedelta(minutes=8)
        assert "zuletzt-12345678" not in repr(seen)
