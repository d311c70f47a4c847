"""Login tokens, API keys and link tokens: they expire, they can be revoked, a near miss is no
match, and every comparison of a secret goes through a constant-time primitive.

(Forged, expired and wrong-role tokens and disabled users over HTTP are in
tests/api/test_api_basics.py; unknown API keys and their rate limit in tests/api/test_limits.py;
expired and unknown links in tests/integration/test_links.py.)
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.domain import security
from govchain.domain.security import (
    api_key_matches,
    api_key_prefix,
    hash_password,
    new_api_key,
    password_hasher,
    verify_password,
)
from govchain.entrypoints.http import deps, tokens
from govchain.entrypoints.http import login as http_login
from govchain.entrypoints.http.api.routes import auth
from govchain.entrypoints.http.tokens import InvalidTokenError, issue_token, read_token
from govchain.services import people
from govchain.settings import Settings

AACHEN = "05334002"
DOG = "gefaehrlicher-hund"
PASSWORD = "ein-langes-passwort-fuer-tests"
PASSPHRASE = "test passphrase – not a secret"
CHEAP = password_hasher(time_cost=1, memory_cost_kib=8)
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


# -- login tokens -----------------------------------------------------------------------------

def test_login_token_is_valid_until_its_expiry_and_not_a_second_longer() -> None:
    key = b"k" * 32
    token = issue_token(key, user_id=7, role="clerk", at=NOW, ttl=timedelta(minutes=60))
    expiry = NOW + timedelta(minutes=60)
    assert read_token(key, token, at=expiry - timedelta(seconds=1)).user_id == 7
    for at in (expiry, expiry + timedelta(days=365)):
        with pytest.raises(InvalidTokenError):
            read_token(key, token, at=at)


def test_a_login_token_cannot_be_extended_or_promoted() -> None:
    import base64
    import json

    key = b"k" * 32
    token = issue_token(key, user_id=7, role="clerk", at=NOW, ttl=timedelta(minutes=5))
    version, payload, mac = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for change in ({"exp": claims["exp"] + 10**6}, {"role": "registrar"}, {"sub": 1}):
        forged = base64.urlsafe_b64encode(json.dumps({**claims, **change}).encode()).rstrip(b"=")
        with pytest.raises(InvalidTokenError):
            read_token(key, f"{version}.{forged.decode()}.{mac}", at=NOW)
    with pytest.raises(InvalidTokenError):  # another home's key
        read_token(b"x" * 32, token, at=NOW)


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home: Path = tmp_path_factory.mktemp("tokens-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", PASSPHRASE)
    try:
        with TestClient(create_app_for(home)) as client:
            ctx: Context = client.app.state.context  # type: ignore[attr-defined]
            services.admit_municipality(ctx, AACHEN, "Stadt Aachen", [DOG])
            with UnitOfWork(client.app.state.engine) as uow:  # type: ignore[attr-defined]
                uow.users.add(username="meier", role="clerk", municipality_ags=AACHEN,
                              password_hash=hash_password(PASSWORD, hasher=CHEAP),
                              display_name="Meier")
                uow.commit()
            yield client
    finally:
        mp.undo()


def create_app_for(home: Path) -> Any:
    from govchain.entrypoints.http.app import create_app

    return create_app(Settings(home=home, token_ttl_minutes=5))


def login(client: TestClient) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": "meier", "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["expires_in"] == 300  # the configured lifetime, not more
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_a_new_token_key_revokes_every_login_token(app_client: TestClient) -> None:
    # The operator's emergency brake: replacing HOME/secrets/token-key (and restarting) makes
    # every token issued so far worthless.
    headers = login(app_client)
    assert app_client.get("/api/v1/auth/me", headers=headers).status_code == 200
    state = app_client.app.state  # type: ignore[attr-defined]
    old = state.token_key
    state.token_key = b"\x01" * 32
    try:
        assert app_client.get("/api/v1/auth/me", headers=headers).status_code == 401
    finally:
        state.token_key = old
    assert app_client.get("/api/v1/auth/me", headers=headers).status_code == 200


def test_logging_out_ends_that_token_at_once_and_no_other(app_client: TestClient) -> None:
    phone, desk = login(app_client), login(app_client)
    assert app_client.get("/api/v1/auth/me", headers=phone).status_code == 200
    engine = app_client.app.state.engine  # type: ignore[attr-defined]
    with UnitOfWork(engine) as uow:  # a row whose token has expired anyway
        uow.revoked_tokens.revoke("abgelaufen", datetime.now(UTC) - timedelta(seconds=1))
        uow.commit()
    assert app_client.post("/api/v1/auth/logout", headers=phone).status_code == 204
    # The old token is refused from now on (it would still be valid for minutes by its expiry),
    # and so is logging it out again; the user's other login goes on.
    assert app_client.get("/api/v1/auth/me", headers=phone).status_code == 401
    assert app_client.post("/api/v1/auth/logout", headers=phone).status_code == 401
    assert app_client.get("/api/v1/auth/me", headers=desk).status_code == 200
    with UnitOfWork(engine) as uow:
        assert not uow.revoked_tokens.is_revoked("abgelaufen")  # cleaned up by the logout
        assert [e.action for e in uow.audit.list(action="auth.logout").items] == ["auth.logout"]


# -- API keys ---------------------------------------------------------------------------------

def test_a_revoked_api_key_is_refused_everywhere(app_client: TestClient) -> None:
    key, key_hash = new_api_key()
    engine = app_client.app.state.engine  # type: ignore[attr-defined]
    with UnitOfWork(engine) as uow:
        record = uow.api_keys.add(name="Polizei", prefix=api_key_prefix(key), key_hash=key_hash)
        uow.commit()
    doc = {"id": "urn:uuid:0", "credentialSubject": {}}
    ok = app_client.post("/api/v1/verify", headers={"X-API-Key": key}, json=doc)
    assert ok.status_code == 200
    near_misses = [key[:-1] + ("A" if key[-1] != "A" else "B"), key[:-1], key + "A",
                   api_key_prefix(key), key.upper(), key_hash]
    for bad in near_misses:
        assert app_client.post("/api/v1/verify", headers={"X-API-Key": bad},
                               json=doc).status_code == 401, bad
    with UnitOfWork(engine) as uow:
        uow.api_keys.revoke(record.id)
        uow.commit()
    for method, url, kw in (("POST", "/api/v1/verify", {"json": doc}),
                            ("GET", "/api/v1/verify/7K3M7K3M7K3M7K3M7K3M7K3M", {})):
        r = app_client.request(method, url, headers={"X-API-Key": key}, **kw)
        assert r.status_code == 401, r.text
        assert r.json()["detail"] == "Unbekannter oder gesperrter API-Schlüssel"


# -- link tokens ------------------------------------------------------------------------------

def test_link_tokens_near_misses_withdrawal_and_expiry(app_client: TestClient) -> None:
    headers = login(app_client)
    ctx: Context = app_client.app.state.context  # type: ignore[attr-defined]
    subject = ctx.usecases.get(DOG).examples[0]["subject"]
    issued = app_client.post("/api/v1/documents?wait=true", headers=headers,
                             json={"usecase": DOG, "subject": subject})
    assert issued.status_code == 201, issued.text
    doc_id = issued.json()["id"]
    expires = datetime.now(UTC) + timedelta(days=2)
    r = app_client.post(f"/api/v1/documents/{doc_id}/links", headers=headers,
                        json={"expiresAt": expires.isoformat()})
    assert r.status_code == 201, r.text
    link_id, token = r.json()["id"], r.json()["url"].rsplit("/", 1)[1]

    def status(t: str) -> str:
        answer = app_client.get(f"/api/v1/verify/{t}")
        assert answer.status_code == 200
        result: str = answer.json()["result"]["status"]
        return result

    assert status(token) == "VALID"
    swapped = token[:-1] + ("0" if token[-1] != "0" else "1")
    for miss in (swapped, token[:-1], token.lower(), token[1:] + token[0]):
        assert status(miss) == "INVALID", miss
    # Expiry: the same link, checked after its time, says EXPIRED (service layer, at a time).
    with UnitOfWork(app_client.app.state.engine) as uow:  # type: ignore[attr-defined]
        later = services.verify_link(ctx, uow, token, at=expires + timedelta(seconds=1))
        just_before = services.verify_link(ctx, uow, token, at=expires - timedelta(seconds=1))
    assert later.result.status.value == "EXPIRED" and later.document is None
    assert "abgelaufen" in later.result.checks[-1].message
    assert just_before.result.status.value == "VALID"
    # Withdrawal is for good.
    assert app_client.delete(f"/api/v1/links/{link_id}", headers=headers).status_code == 204
    answer = app_client.get(f"/api/v1/verify/{token}").json()
    assert answer["result"]["status"] == "INVALID" and answer["document"] is None
    assert "zurückgezogen" in answer["result"]["checks"][-1]["message"]


# -- constant-time comparisons ----------------------------------------------------------------

SECRET_WORDS = ("mac", "password", "token", "key_hash", "secret", "expected", "digest")


def _calls(fn: Callable[..., Any]) -> set[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute):
            names.add(f"{f.value.id}.{f.attr}" if isinstance(f.value, ast.Name) else f.attr)
        elif isinstance(f, ast.Name):
            names.add(f.id)
    return names


def test_secrets_are_compared_with_constant_time_primitives() -> None:
    assert "hmac.compare_digest" in _calls(tokens.read_token)
    assert "hmac.compare_digest" in _calls(tokens.known_device)
    assert "hmac.compare_digest" in _calls(security.api_key_matches)
    assert "api_key_matches" in _calls(deps._known_api_key)  # the API path uses it
    # Passwords: argon2's verify (constant-time inside), and a dummy hash for unknown users so
    # that the time does not tell whether a username exists.
    assert {"h.verify", "_dummy_hash"} <= _calls(security.verify_password)
    # the one login of API and pages: route → http.login.log_in → services.authenticate
    assert "log_in" in _calls(auth.login)
    assert "services.authenticate" in _calls(http_login.log_in)
    assert "verify_password" in _calls(people.authenticate)
    # Link tokens are never compared at all: the database is searched by an HKDF value of the
    # token, and the document opens only with an AES-GCM key derived from it.
    assert {"link_lookup", "open_link"} <= _calls(services.verify_link)


@pytest.mark.parametrize("module", [security, tokens, deps, auth, http_login, people])
def test_no_secret_is_compared_with_equals(module: Any) -> None:
    tree = ast.parse(inspect.getsource(module))

    def secretish(node: ast.expr) -> bool:
        name = node.id if isinstance(node, ast.Name) else (
            node.attr if isinstance(node, ast.Attribute) else "")
        # CONSTANTS (a length, a version tag) are public; only variables hold secrets.
        return not name.isupper() and any(word in name.lower() for word in SECRET_WORDS)

    found = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Compare)
             and any(isinstance(op, ast.Eq | ast.NotEq) for op in n.ops)
             and any(secretish(x) for x in (n.left, *n.comparators))]
    assert not found, found


def test_the_constant_time_helpers_behave() -> None:
    key, key_hash = new_api_key()
    assert api_key_matches(key, key_hash)
    assert not api_key_matches(key + "x", key_hash)
    assert not api_key_matches(key, key_hash[:-1] + ("0" if key_hash[-1] != "0" else "1"))
    stored = hash_password(PASSWORD, hasher=CHEAP)
    assert verify_password(stored, PASSWORD, hasher=CHEAP)
    assert not verify_password(stored, PASSWORD + " ", hasher=CHEAP)
    assert not verify_password(None, PASSWORD, hasher=CHEAP)
