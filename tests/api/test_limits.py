"""Rate limits on the public endpoints and login throttling, on a real embedded chain and SQLite;
the limits' own semantics both in process and shared through the test Redis (tests/support/
redis_server.py). What only the shared limits do: test_limits_redis.py, tests/faults/
test_shared_limits.py."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.domain.security import api_key_prefix, hash_password, new_api_key, password_hasher
from govchain.entrypoints.http.app import create_app
from govchain.entrypoints.http.ratelimit import (
    Limiter,
    LoginThrottle,
    RateLimiter,
    RedisLoginThrottle,
    RedisRateLimiter,
    SharedCounts,
    Throttle,
    limits_for,
    retry_after_header,
)
from govchain.entrypoints.http.tokens import issue_token
from govchain.settings import Settings
from support.redis_server import REDIS_URL, closed_redis_url, redis_keys

AACHEN = "05334002"
DOG = "gefaehrlicher-hund"
PASSWORD = "richtig-langes-passwort"
MAX_REQUEST = 256 * 1024
PUBLIC_RATE = 3  # per minute: one token every 20 s
KEY_RATE = 12
MAX_FAILURES = 3
WINDOW = 300
PROXY = "192.0.2.250"  # the one reverse proxy whose X-Forwarded-For counts


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Limits:
    """Makes limits of one kind: in process, or shared through the test Redis (`shared`)."""

    shared: SharedCounts | None

    def limiter(self, rate_per_minute: float, clock: FakeClock) -> Limiter:
        if self.shared is None:
            return RateLimiter(rate_per_minute, clock=clock)
        return RedisRateLimiter(self.shared, "public", rate_per_minute, clock=clock)

    def throttle(self, max_failures: int, window: float, clock: FakeClock) -> Throttle:
        if self.shared is None:
            return LoginThrottle(max_failures, window, clock=clock)
        return RedisLoginThrottle(self.shared, max_failures, window, clock=clock)


@pytest.fixture(params=["memory", "redis"])
def limits(request: pytest.FixtureRequest) -> Iterator[Limits]:
    """Both kinds must behave alike: each test below runs on both."""
    if request.param == "memory":
        yield Limits(None)
        return
    with redis_keys() as (_client, prefix):
        shared = SharedCounts(REDIS_URL, prefix)
        yield Limits(shared)
        shared.close()


# -- the bucket and the throttle on their own ------------------------------------------------

def test_bucket_allows_a_burst_then_refills_at_its_rate(limits: Limits) -> None:
    clock = FakeClock()
    limiter = limits.limiter(60, clock)  # one a second
    assert [limiter.acquire("a") for _ in range(60)] == [0.0] * 60
    assert limiter.acquire("a") == pytest.approx(1.0)
    assert limiter.acquire("b") == 0.0  # every key has its own bucket
    clock.now += 0.5
    assert limiter.acquire("a") == pytest.approx(0.5)  # a refused request is not counted
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    clock.now += 3600
    assert [limiter.acquire("a") for _ in range(60)] == [0.0] * 60  # never more than the burst
    assert limiter.acquire("a") > 0


def test_bucket_forgets_idle_keys_and_stays_bounded() -> None:
    clock = FakeClock()
    limiter = RateLimiter(6, clock=clock, max_keys=100)
    for i in range(50):
        limiter.acquire(f"k{i}")
    assert len(limiter) == 50
    clock.now += 60  # refilled: no different from a new bucket
    limiter.acquire("fresh")
    assert len(limiter) == 1
    for i in range(1000):
        limiter.acquire(f"flood{i}")
    assert len(limiter) <= 100


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert retry_after_header(0.2) == {"Retry-After": "1"}
    assert retry_after_header(19.01) == {"Retry-After": "20"}


def test_throttle_counts_per_username_and_address_within_a_window(limits: Limits) -> None:
    clock = FakeClock()
    throttle = limits.throttle(2, 60, clock)
    throttle.failed("Meier", "10.0.0.1")
    assert throttle.retry_after("meier", "10.0.0.2") == 0.0
    clock.now += 10
    throttle.failed("meier ", "10.0.0.2")  # the same username, however it is written
    assert throttle.retry_after("MEIER", "10.0.0.3") == pytest.approx(50)
    throttle.succeeded("meier")
    assert throttle.retry_after("meier", "10.0.0.3") == 0.0
    throttle.failed("a", "10.0.0.9")
    throttle.failed("b", "10.0.0.9")
    assert throttle.retry_after("c", "10.0.0.9") == pytest.approx(60)
    clock.now += 60
    assert throttle.retry_after("c", "10.0.0.9") == 0.0
    throttle.failed("c", "10.0.0.9")  # a new window: the old failures no longer count
    assert throttle.retry_after("c", "10.0.0.9") == 0.0


def test_throttle_forgets_old_windows_and_stays_bounded() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(2, 60, clock=clock, max_keys=10)
    throttle.failed("a", "10.0.0.9")
    clock.now += 60
    assert throttle.retry_after("a", "10.0.0.9") == 0.0 and len(throttle) == 0
    for i in range(100):
        throttle.failed(f"u{i}", None)
    assert len(throttle) <= 10


def test_a_known_device_is_counted_apart_from_its_username_and_address(limits: Limits) -> None:
    clock = FakeClock()
    throttle = limits.throttle(2, 60, clock)
    for _ in range(2):
        throttle.failed("meier", "10.0.0.1")
    assert throttle.retry_after("meier", "10.0.0.1") == pytest.approx(60)
    assert throttle.retry_after("meier", "10.0.0.1", device="geraet") == 0.0
    throttle.failed("meier", "10.0.0.1", device="geraet")
    throttle.failed("meier", "10.0.0.1", device="geraet")
    assert throttle.retry_after("meier", "10.0.0.1", device="geraet") == pytest.approx(60)
    throttle.succeeded("meier", device="geraet")
    assert throttle.retry_after("meier", "10.0.0.2", device="geraet") == 0.0


# -- over HTTP --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    home: Path = tmp_path_factory.mktemp("limits-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", "test passphrase - not a secret")
    settings = Settings(home=home, public_rate_per_minute=PUBLIC_RATE,
                        api_key_rate_per_minute=KEY_RATE, login_max_failures=MAX_FAILURES,
                        login_window_seconds=WINDOW, max_request_bytes=MAX_REQUEST,
                        trusted_proxies=[PROXY])
    application = create_app(settings)
    try:
        with TestClient(application):  # runs the lifespan: chain, database, token key
            ctx: Context = application.state.context
            services.admit_municipality(ctx, AACHEN, "Stadt Aachen", [DOG])
            cheap = password_hasher(time_cost=1, memory_cost_kib=8, parallelism=1)
            with UnitOfWork(application.state.engine) as uow:
                uow.users.add(username="meier", role="clerk", municipality_ags=AACHEN,
                              password_hash=hash_password(PASSWORD, hasher=cheap),
                              display_name="Meier")
                uow.commit()
            yield application
    finally:
        mp.undo()


@pytest.fixture
def clock(app: FastAPI) -> FakeClock:
    """Fresh limits with a clock the test moves, built like create_app builds them."""
    fake = FakeClock()
    settings: Settings = app.state.settings
    app.state.public_limiter = RateLimiter(settings.public_rate_per_minute, clock=fake)
    app.state.api_key_limiter = RateLimiter(settings.api_key_rate_per_minute, clock=fake)
    app.state.login_throttle = LoginThrottle(settings.login_max_failures,
                                             settings.login_window_seconds, clock=fake)
    return fake


def from_address(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 50000))


@pytest.fixture(scope="module")
def api_key(app: FastAPI) -> tuple[str, int]:
    key, key_hash = new_api_key()
    with UnitOfWork(app.state.engine) as uow:
        record = uow.api_keys.add(name="Polizei Aachen", prefix=api_key_prefix(key),
                                  key_hash=key_hash)
        uow.commit()
    return key, record.id


def test_public_endpoints_answer_429_with_retry_after_over_the_limit(app: FastAPI,
                                                                     clock: FakeClock) -> None:
    client = from_address(app, "192.0.2.1")
    # The three public endpoints share the caller's bucket.
    assert client.get("/api/v1/verify/kein-link").status_code == 200
    assert client.get("/v/kein-link").status_code == 200
    assert client.post("/api/v1/verify", json={"id": "x"}).status_code == 200
    for call in (lambda: client.get("/api/v1/verify/kein-link"), lambda: client.get("/v/kein-link"),
                 lambda: client.post("/api/v1/verify", json={"id": "x"})):
        refused = call()
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "20"
        assert "Zu viele Anfragen" in refused.text  # JSON for the API, an HTML page for /v/
    assert from_address(app, "192.0.2.2").get("/api/v1/verify/kein-link").status_code == 200
    clock.now += 20
    assert client.get("/api/v1/verify/kein-link").status_code == 200
    assert client.get("/api/v1/verify/kein-link").status_code == 429


def test_an_api_key_has_its_own_higher_limit(app: FastAPI, clock: FakeClock,
                                             api_key: tuple[str, int]) -> None:
    client = from_address(app, "192.0.2.3")
    headers = {"X-API-Key": api_key[0]}
    answers = [client.get("/api/v1/verify/kein-link", headers=headers).status_code
               for _ in range(KEY_RATE + 1)]
    assert answers == [200] * KEY_RATE + [429]
    # The same address without the key still has its own, lower allowance.
    assert client.get("/api/v1/verify/kein-link").status_code == 200


def test_invalid_api_keys_are_401_and_count_against_the_address(app: FastAPI,
                                                                clock: FakeClock) -> None:
    client = from_address(app, "192.0.2.4")
    headers = {"X-API-Key": "gvk_geraten"}
    answers = [client.get("/api/v1/verify/kein-link", headers=headers).status_code
               for _ in range(PUBLIC_RATE + 1)]
    assert answers == [401] * PUBLIC_RATE + [429]


def login(client: TestClient, username: str, password: str) -> int:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    if response.status_code == 429:
        assert int(response.headers["Retry-After"]) >= 1
    return response.status_code


def test_login_throttled_per_username_whether_it_exists_or_not(app: FastAPI,
                                                               clock: FakeClock) -> None:
    for username in ("meier", "niemand"):
        attacker = from_address(app, f"198.51.100.{len(username)}")
        assert [login(attacker, username, "falsch") for _ in range(MAX_FAILURES)] == [401] * 3
        refused = from_address(app, "203.0.113.1").post(
            "/api/v1/auth/token", data={"username": username, "password": "falsch"})
        assert refused.status_code == 429 and refused.headers["Retry-After"] == str(WINDOW)
        assert "Zu viele fehlgeschlagene Anmeldungen" in refused.json()["detail"]
    # Even the right password waits, so the throttle cannot be used to test guesses.
    assert login(from_address(app, "203.0.113.2"), "meier", PASSWORD) == 429
    clock.now += WINDOW
    assert login(from_address(app, "203.0.113.2"), "meier", PASSWORD) == 200


def test_login_throttled_per_address(app: FastAPI, clock: FakeClock) -> None:
    attacker = from_address(app, "198.51.100.20")
    assert [login(attacker, f"user{i}", "falsch") for i in range(MAX_FAILURES)] == [401] * 3
    assert login(attacker, "meier", PASSWORD) == 429
    assert login(from_address(app, "198.51.100.21"), "meier", PASSWORD) == 200


def test_a_successful_login_resets_the_username_count(app: FastAPI, clock: FakeClock) -> None:
    first, second = from_address(app, "198.51.100.30"), from_address(app, "198.51.100.31")
    assert [login(first, "meier", "falsch") for _ in range(2)] == [401, 401]
    assert login(first, "meier", PASSWORD) == 200
    assert [login(second, "meier", "falsch") for _ in range(2)] == [401, 401]
    assert login(second, "meier", PASSWORD) == 200  # four failures in all, but not in a row


def test_link_checks_with_an_api_key_are_recorded(app: FastAPI, clock: FakeClock,
                                                  api_key: tuple[str, int]) -> None:
    ctx: Context = app.state.context
    with UnitOfWork(app.state.engine) as uow:
        clerk = uow.users.by_username("meier")
    assert clerk is not None
    bearer = {"Authorization": "Bearer " + issue_token(
        app.state.token_key, user_id=clerk.id, role=clerk.role, at=datetime.now(UTC),
        ttl=timedelta(minutes=5))}
    subject = copy.deepcopy(ctx.usecases.get(DOG).examples[0]["subject"])
    client = TestClient(app)
    issued = client.post("/api/v1/documents?wait=true", headers=bearer,
                         json={"usecase": DOG, "subject": subject})
    assert issued.status_code == 201, issued.text
    doc_id = issued.json()["id"]
    shared = client.post(f"/api/v1/documents/{doc_id}/links", headers=bearer, json={})
    assert shared.status_code == 201, shared.text
    link_id, token = shared.json()["id"], shared.json()["url"].rsplit("/", 1)[1]

    headers = {"X-API-Key": api_key[0]}
    checked = client.get(f"/api/v1/verify/{token}", headers=headers)
    assert checked.status_code == 200 and checked.json()["result"]["status"] == "VALID"
    assert client.get("/api/v1/verify/kein-link", headers=headers).status_code == 200
    assert client.get(f"/api/v1/verify/{token}").status_code == 200  # anonymous: no trail
    with UnitOfWork(app.state.engine) as uow:
        entries = uow.verification_log.list(api_key_id=api_key[1]).items
        key = uow.api_keys.by_id(api_key[1])
    assert [(e.link_id, e.document_id, e.result) for e in entries] == [(link_id, doc_id, "VALID")]
    assert key is not None and key.last_used_at is not None


def test_any_request_beyond_max_request_bytes_is_413_and_stores_nothing(app: FastAPI) -> None:
    client = from_address(app, "192.0.2.77")
    token = client.post("/api/v1/auth/token",
                        data={"username": "meier", "password": PASSWORD}).json()["access_token"]
    with UnitOfWork(app.state.engine) as uow:
        before = uow.documents.count()
    huge = {"usecase": DOG, "items": [{"subject": {"x": "y" * 1000}}] * (MAX_REQUEST // 1000 + 10)}
    answer = client.post("/api/v1/documents/bulk", json=huge,
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 413
    with UnitOfWork(app.state.engine) as uow:
        assert uow.documents.count() == before


def _audited_logout_from(app: FastAPI, peer: str, forwarded: str) -> str | None:
    """Logs in and out from `peer` with a forwarded address; the address the audit log kept."""
    client = from_address(app, peer)
    token = client.post("/api/v1/auth/token", data={"username": "meier", "password": PASSWORD},
                        headers={"X-Forwarded-For": forwarded}).json()["access_token"]
    answer = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}",
                                                         "X-Forwarded-For": forwarded})
    assert answer.status_code == 204
    with UnitOfWork(app.state.engine) as uow:
        return uow.audit.list(action="auth.logout", limit=1).items[0].remote_addr


def test_forwarded_addresses_count_only_from_a_trusted_proxy(app: FastAPI, clock: FakeClock) -> None:
    # Any other caller's X-Forwarded-For is ignored: rotating it escapes neither the rate limit
    # nor the login throttle, and the audit log keeps the real peer.
    untrusted = from_address(app, "192.0.2.60")
    answers = [untrusted.get("/api/v1/verify/kein-link",
                             headers={"X-Forwarded-For": f"10.9.0.{i}"}).status_code
               for i in range(PUBLIC_RATE + 1)]
    assert answers == [200] * PUBLIC_RATE + [429]
    guesses = [untrusted.post("/api/v1/auth/token", data={"username": f"user{i}", "password": "x"},
                              headers={"X-Forwarded-For": f"10.9.1.{i}"}).status_code
               for i in range(MAX_FAILURES + 1)]
    assert guesses == [401] * MAX_FAILURES + [429]
    assert _audited_logout_from(app, "192.0.2.61", "10.9.2.1") == "192.0.2.61"
    # The configured proxy names the client: each forwarded address has its own allowance.
    proxy = from_address(app, PROXY)
    for client_address in ("203.0.113.50", "203.0.113.51"):
        forwarded = {"X-Forwarded-For": f"10.9.3.1, {client_address}"}  # the proxy appends
        answers = [proxy.get("/api/v1/verify/kein-link", headers=forwarded).status_code
                   for _ in range(PUBLIC_RATE + 1)]
        assert answers == [200] * PUBLIC_RATE + [429]
    assert _audited_logout_from(app, PROXY, "203.0.113.52") == "203.0.113.52"


@pytest.fixture
def redis_down(app: FastAPI) -> Iterator[None]:
    """The limits create_app makes with a redis_url where no Redis answers."""
    state = app.state
    saved = state.public_limiter, state.api_key_limiter, state.login_throttle
    limits = limits_for(state.settings.model_copy(update={"redis_url": closed_redis_url()}))
    state.public_limiter, state.api_key_limiter, state.login_throttle = (
        limits.public, limits.api_key, limits.login)
    yield
    state.public_limiter, state.api_key_limiter, state.login_throttle = saved


def test_without_its_redis_the_service_verifies_with_per_process_limits_and_refuses_logins(
        app: FastAPI, redis_down: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="govchain.entrypoints.http.ratelimit")
    client = from_address(app, "192.0.2.90")
    answers = [client.get("/api/v1/verify/kein-link").status_code for _ in range(PUBLIC_RATE + 1)]
    assert answers == [200] * PUBLIC_RATE + [429]  # still limited, by this process alone
    refused = client.post("/api/v1/auth/token", data={"username": "meier", "password": PASSWORD})
    assert refused.status_code == 503
    assert "Anmeldung vorübergehend nicht möglich" in refused.json()["detail"]
    # One warning for the outage, not one per request.
    warnings = [r.getMessage() for r in caplog.records if r.name.endswith("ratelimit")]
    assert len(warnings) == 1 and "Redis (redis_url) nicht erreichbar" in warnings[0]
