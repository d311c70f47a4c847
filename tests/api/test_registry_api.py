"""The registrar's API on a real embedded chain and SQLite: only the registrar may write."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from govchain.adapters.db import UnitOfWork
from govchain.domain.security import hash_password, password_hasher
from govchain.entrypoints.http.app import create_app
from govchain.settings import Settings

PASSWORD = "richtig-langes-passwort"
BIELEFELD = "05711000"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home: Path = tmp_path_factory.mktemp("registry-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", "test passphrase - not a secret")
    try:
        with TestClient(create_app(Settings(home=home))) as test_client:
            cheap = password_hasher(time_cost=1, memory_cost_kib=8, parallelism=1)
            with UnitOfWork(test_client.app.state.engine) as uow:  # type: ignore[attr-defined]
                for name, role, ags in (("land", "registrar", None), ("clerk", "clerk", BIELEFELD),
                                        ("vermieter", "landlord", None)):
                    uow.users.add(username=name, role=role,  # type: ignore[arg-type]
                                  password_hash=hash_password(PASSWORD, hasher=cheap),
                                  municipality_ags=ags, display_name=name)
                uow.commit()
            yield test_client
    finally:
        mp.undo()


def auth(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_registrar_admits_and_manages_a_municipality(client: TestClient) -> None:
    h = auth(client, "land")
    r = client.post("/api/v1/registry/municipalities", headers=h, json={
        "ags": BIELEFELD, "name": "Stadt Bielefeld", "usecases": ["strassenmusik"]})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    assert body["usecases"] == ["strassenmusik"] and len(body["accounts"]) == 1
    first = body["accounts"][0]["address"]
    r = client.put(f"/api/v1/registry/municipalities/{BIELEFELD}/usecases", headers=h,
                   json={"usecases": ["strassenmusik", "gefaehrlicher-hund"]})
    assert sorted(r.json()["usecases"]) == ["gefaehrlicher-hund", "strassenmusik"]
    assert client.post(f"/api/v1/registry/municipalities/{BIELEFELD}/suspend",
                       headers=h).json()["active"] is False
    assert client.post(f"/api/v1/registry/municipalities/{BIELEFELD}/reactivate",
                       headers=h).json()["active"] is True
    r = client.post(f"/api/v1/registry/municipalities/{BIELEFELD}/accounts", headers=h)
    assert r.status_code == 201 and len(r.json()["accounts"]) == 2
    assert client.post(f"/api/v1/registry/accounts/{first}/retire",
                       headers=h).json()["state"] == "retired"
    r = client.post(f"/api/v1/registry/accounts/{first}/compromise", headers=h,
                    json={"since": "2026-01-01T00:00:00+01:00"})
    assert r.status_code == 200 and r.json()["compromisedSince"] == 1767222000
    listed = client.get("/api/v1/registry/municipalities", headers=h).json()
    assert [m["ags"] for m in listed] == [BIELEFELD]
    with UnitOfWork(client.app.state.engine) as uow:  # type: ignore[attr-defined]
        actions = {e.action for e in uow.audit.list().items}
    assert {"registry.admit", "registry.retire", "registry.compromise"} <= actions


@pytest.mark.parametrize("method, path, body", [
    ("post", "/api/v1/registry/municipalities",
     {"ags": "05111000", "name": "Düsseldorf", "usecases": ["strassenmusik"]}),
    ("put", f"/api/v1/registry/municipalities/{BIELEFELD}/usecases", {"usecases": []}),
    ("post", f"/api/v1/registry/municipalities/{BIELEFELD}/suspend", None),
    ("post", f"/api/v1/registry/municipalities/{BIELEFELD}/accounts", None),
    ("post", "/api/v1/registry/accounts/0x0000000000000000000000000000000000000001/retire", None),
    ("get", "/api/v1/registry/municipalities", None),
])
@pytest.mark.parametrize("who", [None, "clerk", "vermieter"])
def test_only_the_registrar(client: TestClient, who: str | None, method: str, path: str,
                            body: Any) -> None:
    headers = auth(client, who) if who else {}
    r = client.request(method, path, headers=headers, json=body)
    assert r.status_code == (401 if who is None else 403), r.text


@pytest.mark.parametrize("method, path, body, code", [
    ("post", "/api/v1/registry/municipalities",
     {"ags": "123", "name": "X", "usecases": ["strassenmusik"]}, 422),
    ("post", "/api/v1/registry/municipalities",
     {"ags": "05111000", "name": "X", "usecases": ["gibtsnicht"]}, 404),
    ("post", "/api/v1/registry/accounts/0xnope/retire", None, 422),
    ("post", "/api/v1/registry/accounts/0x0000000000000000000000000000000000000001/compromise",
     {"since": "2026-01-01T00:00:00"}, 422),
    ("post", "/api/v1/registry/accounts/0x0000000000000000000000000000000000000001/retire",
     None, 403),
])
def test_bad_registry_input_is_a_clear_4xx(client: TestClient, method: str, path: str,
                                           body: Any, code: int) -> None:
    r = client.request(method, path, headers=auth(client, "land"), json=body)
    assert r.status_code == code, r.text
