"""Two `govchain serve` instances (one of them with two request processes) on one PostgreSQL
database and one Redis allow the configured rate and the configured login failures together,
not once each; while Redis is away verification goes on and logins wait, and afterwards the
counts are shared again."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from conftest import Node, Proxy
from govchain.entrypoints.http.ratelimit import SharedCounts
from govchain.settings import Settings
from support.redis_server import REDIS_URL, keys_under, redis_keys
from support.serve import DEFAULT_ACCOUNTS, ServeProcess, prepare_home

pytestmark = [pytest.mark.slow, pytest.mark.anvil]

RATE = 6  # public requests a minute per client address: one token every 10 s
MAX_FAILURES = 4
PASSWORD = {a.username: a.password for a in DEFAULT_ACCOUNTS}


def test_two_instances_share_rate_limits_and_login_throttling(
        tmp_path: Path, node: Node, database: tuple[str, sa.Engine]) -> None:
    url, _engine = database
    redis_address = sa.make_url(REDIS_URL)
    proxy = Proxy((redis_address.host or "127.0.0.1", redis_address.port or 6379)).start()
    # The prefix the instances derive from the database URL they share (no redis_prefix set).
    prefix = Settings(home=tmp_path, database_url=url).effective_redis_prefix
    with redis_keys(prefix) as (redis_client, _):
        home = tmp_path / "home"
        env = prepare_home(home, rpc_url=node.url, database_url=url, in_process=False, env={
            "GOVCHAIN_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/{redis_address.database or 0}",
            "GOVCHAIN_PUBLIC_RATE_PER_MINUTE": str(RATE),
            "GOVCHAIN_LOGIN_MAX_FAILURES": str(MAX_FAILURES),
            # The test is the reverse proxy: X-Forwarded-For from 127.0.0.1 names the client.
            "GOVCHAIN_TRUSTED_PROXIES": '["127.0.0.1"]'})
        first = ServeProcess(home, env, name="first", workers=2).start()
        second = ServeProcess(home, env, name="second").start()
        both = (first, second)
        # A connection for each request, so that the processes of `first` take turns too.
        client = httpx.Client(timeout=60, headers={"Connection": "close"})
        untrusted = httpx.Client(timeout=60, headers={"Connection": "close"},
                                 transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        try:
            def verify(i: int, address: str, via: httpx.Client = client) -> httpx.Response:
                """The i-th public request, on the instances in turn, both public endpoints."""
                serve, headers = both[i % 2], {"X-Forwarded-For": address}
                if i % 4 < 2:
                    return via.get(serve.url("/api/v1/verify/kein-link"), headers=headers)
                return via.post(serve.url("/api/v1/verify"), json={"id": "x"}, headers=headers)

            def login(i: int, username: str, password: str, address: str) -> int:
                return client.post(both[i % 2].url("/api/v1/auth/token"),
                                   data={"username": username, "password": password},
                                   headers={"X-Forwarded-For": address}).status_code

            # -- the public rate: RATE requests together, then 429 on both instances ----------
            answers = [verify(i, "203.0.113.7") for i in range(2 * RATE)]
            assert [a.status_code for a in answers] == [200] * RATE + [429] * RATE
            assert all(1 <= int(a.headers["Retry-After"]) <= 60 // RATE for a in answers[RATE:])
            assert verify(0, "203.0.113.8").status_code == 200  # another client: its own
            # A caller that is not a trusted proxy cannot name its address: rotating the header
            # escapes nothing, its own address (127.0.0.2) is counted.
            answers = [verify(i, f"10.9.0.{i}", via=untrusted) for i in range(RATE + 1)]
            assert [a.status_code for a in answers] == [200] * RATE + [429]

            # -- failed logins per username, from ever new addresses --------------------------
            answers_of = [login(i, "meier", "falsch", f"198.51.100.{i}")
                          for i in range(MAX_FAILURES + 1)]
            assert answers_of == [401] * MAX_FAILURES + [429]
            for i in range(2):  # even the right password waits, on either instance
                assert login(i, "meier", PASSWORD["meier"], "198.51.100.50") == 429

            # -- failed logins per address, for ever new usernames ----------------------------
            answers_of = [login(i, f"niemand{i}", "falsch", "198.51.100.99")
                          for i in range(MAX_FAILURES + 1)]
            assert answers_of == [401] * MAX_FAILURES + [429]
            assert login(1, "vermieter", PASSWORD["vermieter"], "198.51.100.99") == 429
            assert login(0, "vermieter", PASSWORD["vermieter"], "198.51.100.100") == 200

            # -- a successful login on one instance clears the username's count on both -------
            assert [login(i, "land", "falsch", f"198.51.100.{110 + i}")
                    for i in range(MAX_FAILURES - 1)] == [401] * (MAX_FAILURES - 1)
            assert login(1, "land", PASSWORD["land"], "198.51.100.120") == 200
            assert [login(i, "land", "falsch", f"198.51.100.{130 + i}")
                    for i in range(MAX_FAILURES)] == [401] * MAX_FAILURES

            # Every count is a key of this installation with an expiry; none names a client.
            ttls = keys_under(redis_client, prefix)
            assert len(ttls) > 10 and all(ttl > 0 for ttl in ttls.values())
            assert not any("meier" in key or "198.51.100" in key for key in ttls)

            # -- Redis away: verification goes on (per process), logins wait (503) ------------
            proxy.cut()
            for i in range(4):
                assert verify(i, "203.0.113.9").status_code == 200
                answer = client.post(both[i % 2].url("/api/v1/auth/token"),
                                     data={"username": "vermieter",
                                           "password": PASSWORD["vermieter"]},
                                     headers={"X-Forwarded-For": "198.51.100.140"})
                assert answer.status_code == 503
                assert "Anmeldung vorübergehend nicht möglich" in answer.json()["detail"]
            for serve in both:
                assert "Redis (redis_url) nicht erreichbar" in serve.log()

            # -- Redis back: after the pause, the counts are shared again ---------------------
            proxy.start()
            time.sleep(SharedCounts.PAUSE + 1)
            answers = [verify(i, "203.0.113.10") for i in range(2 * RATE)]
            assert [a.status_code for a in answers] == [200] * RATE + [429] * RATE
            assert login(1, "vermieter", PASSWORD["vermieter"], "198.51.100.141") == 200
            assert "Redis (redis_url) wieder erreichbar" in second.log()
        finally:
            client.close()
            untrusted.close()
            first.stop()
            second.stop()
            proxy.cut()
