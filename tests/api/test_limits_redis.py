"""The limits shared through Redis (`redis_url`), against the test Redis: keys that expire, two
processes' limiters sharing one count, Redis's own clock, one installation apart from another,
and what happens while Redis cannot be reached. The semantics they share with the in-process
limits are tested on both kinds in test_limits.py; two real instances in
tests/faults/test_shared_limits.py."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pydantic
import pytest

from govchain.entrypoints.http.app import create_app
from govchain.entrypoints.http.ratelimit import (
    LoginThrottle,
    RateLimiter,
    RedisLoginThrottle,
    RedisRateLimiter,
    SharedCounts,
    limits_for,
)
from govchain.errors import StorageError
from govchain.settings import Settings
from support.redis_server import REDIS_URL, closed_redis_url, keys_under, redis_keys


class FrozenClock:
    """A caller's clock that does not move: no token comes back while a test runs."""

    def __call__(self) -> float:
        return 1000.0


@pytest.fixture
def prefix() -> Iterator[str]:
    with redis_keys() as (_client, key_prefix):
        yield key_prefix


def process(prefix: str) -> SharedCounts:
    """What one `govchain serve` process has: its own client of the installation's Redis."""
    return SharedCounts(REDIS_URL, prefix)


def test_bucket_keys_expire_once_the_bucket_would_be_full_again(prefix: str) -> None:
    with redis_keys(prefix) as (client, _):
        limiter = RedisRateLimiter(process(prefix), "public", 600)  # ten a second, Redis's clock
        assert limiter.acquire("192.0.2.1") == 0.0
        ((key, ttl),) = keys_under(client, prefix).items()
        assert "192.0.2.1" not in key  # only a digest of the address is stored
        assert 0 < ttl <= 100  # one token missing: full again after 0.1 s
        time.sleep(0.25)
        assert keys_under(client, prefix) == {}
        assert [limiter.acquire("192.0.2.1") for _ in range(600)] == [0.0] * 600
        ((key, ttl),) = keys_under(client, prefix).items()
        assert 59_000 < ttl <= 60_000  # empty: a minute until it is full


def test_failure_counts_expire_with_their_window(prefix: str) -> None:
    with redis_keys(prefix) as (client, _):
        throttle = RedisLoginThrottle(process(prefix), 1, 0.2)
        throttle.failed("meier", "10.0.0.1")
        assert 0.1 < throttle.retry_after("meier", "10.0.0.2") <= 0.2
        ttls = keys_under(client, prefix)
        assert len(ttls) == 2 and all(0 < ttl <= 200 for ttl in ttls.values())  # user, address
        assert not any("meier" in key or "10.0.0.1" in key for key in ttls)
        time.sleep(0.3)
        assert keys_under(client, prefix) == {}
        assert throttle.retry_after("meier", "10.0.0.1") == 0.0


def test_redis_clock_refills_the_bucket(prefix: str) -> None:
    limiter = RedisRateLimiter(process(prefix), "public", 60)  # one a second
    assert [limiter.acquire("a") for _ in range(60)] == [0.0] * 60
    wait = limiter.acquire("a")
    assert 0.5 < wait <= 1.0
    time.sleep(wait + 0.05)
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0


def test_two_processes_limiters_share_one_count(prefix: str) -> None:
    clock = FrozenClock()
    first = RedisRateLimiter(process(prefix), "public", 5, clock=clock)
    second = RedisRateLimiter(process(prefix), "public", 5, clock=clock)
    assert [first.acquire("a") for _ in range(3)] == [0.0] * 3
    assert [second.acquire("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(12.0)]
    assert first.acquire("a") == pytest.approx(12.0)
    assert second.acquire("b") == 0.0
    # Taking is atomic: many threads in two "processes" at once get exactly the bucket's tokens.
    limiters = [RedisRateLimiter(process(prefix), "public", 100, clock=clock) for _ in range(2)]
    granted: list[int] = []

    def take(limiter: RedisRateLimiter) -> None:
        granted.append(sum(limiter.acquire("busy") == 0.0 for _ in range(40)))

    threads = [threading.Thread(target=take, args=(limiters[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 100


def test_two_processes_throttles_share_counts_per_username_and_per_address(prefix: str) -> None:
    first = RedisLoginThrottle(process(prefix), 2, 300)
    second = RedisLoginThrottle(process(prefix), 2, 300)
    first.failed("meier", "10.0.0.1")
    second.failed("Meier", "10.0.0.2")
    for throttle in (first, second):
        assert 299 < throttle.retry_after("meier", "10.0.0.3") <= 300
        assert throttle.retry_after("schmidt", "10.0.0.1") == 0.0  # one failure from there
    first.failed("a", "10.0.0.9")
    second.failed("b", "10.0.0.9")
    assert first.retry_after("c", "10.0.0.9") > 299  # the address, whatever the username
    assert second.retry_after("c", "10.0.0.8") == 0.0
    second.succeeded("meier")  # clears the username for both, not the address
    assert first.retry_after("meier", "10.0.0.3") == 0.0
    assert first.retry_after("meier", "10.0.0.9") > 299


def test_another_installation_has_counts_of_its_own(tmp_path: Path) -> None:
    with redis_keys() as (_c, one), redis_keys() as (_d, other):
        clock = FrozenClock()
        RedisRateLimiter(process(one), "public", 1, clock=clock).acquire("a")
        assert RedisRateLimiter(process(one), "public", 1, clock=clock).acquire("a") > 0
        assert RedisRateLimiter(process(other), "public", 1, clock=clock).acquire("a") == 0.0
    # Without redis_prefix the prefix follows the database: the same for every instance on it
    # (whatever their password), another for another database or schema.
    url = "postgresql://govchain:{}@db.example/govchain?options=-csearch_path%3D{}"
    prefix_of = [Settings(home=tmp_path, database_url=url.format(password, schema)).effective_redis_prefix
                 for password, schema in (("eins", "aachen"), ("zwei", "aachen"), ("eins", "koeln"))]
    assert prefix_of[0] == prefix_of[1] != prefix_of[2]
    assert prefix_of[0].startswith("govchain:")
    assert Settings(home=tmp_path).effective_redis_prefix not in prefix_of  # SQLite in the home
    assert Settings(home=tmp_path, redis_prefix="aachen:").effective_redis_prefix == "aachen:"


def test_settings_accept_only_redis_urls(tmp_path: Path) -> None:
    for url in ("redis://127.0.0.1:6379/0", "rediss://redis.example:6380/1", "unix:///run/redis.sock"):
        assert Settings(home=tmp_path, redis_url=url).redis_url == url
    with pytest.raises(pydantic.ValidationError, match="redis_url"):
        Settings(home=tmp_path, redis_url="http://127.0.0.1:6379")
    with pytest.raises(pydantic.ValidationError):
        Settings(home=tmp_path, redis_prefix="mit leerzeichen")


def test_create_app_shares_the_limits_only_with_a_redis_url(tmp_path: Path) -> None:
    alone = create_app(Settings(home=tmp_path)).state
    assert isinstance(alone.public_limiter, RateLimiter)
    assert isinstance(alone.api_key_limiter, RateLimiter)
    assert isinstance(alone.login_throttle, LoginThrottle)
    shared = create_app(Settings(home=tmp_path, redis_url=REDIS_URL)).state
    assert isinstance(shared.public_limiter, RedisRateLimiter)
    assert isinstance(shared.api_key_limiter, RedisRateLimiter)
    assert isinstance(shared.login_throttle, RedisLoginThrottle)


def test_unreachable_redis_public_limits_count_per_process(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="govchain.entrypoints.http.ratelimit")
    clock = FrozenClock()
    shared = SharedCounts(closed_redis_url(), "govchain-test-unreachable:")
    limiter = RedisRateLimiter(shared, "public", 3, clock=clock)
    started = time.monotonic()
    assert [limiter.acquire("a") for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(20.0)]
    assert limiter.acquire("b") == 0.0
    assert len(limiter.fallback) == 2  # the process's own buckets answered
    assert time.monotonic() - started < 1  # asked once, then left alone for SharedCounts.PAUSE
    warnings = [r.getMessage() for r in caplog.records if r.name.endswith("ratelimit")]
    assert len(warnings) == 1 and "nicht erreichbar" in warnings[0]


def test_unreachable_redis_refuses_logins(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, redis_url=closed_redis_url(), login_max_failures=3)
    throttle = limits_for(settings).login
    assert isinstance(throttle, RedisLoginThrottle)
    for attempt in (lambda: throttle.retry_after("meier", "10.0.0.1"),
                    lambda: throttle.failed("meier", "10.0.0.1"),
                    lambda: throttle.succeeded("meier")):
        with pytest.raises(StorageError, match="Anmeldung vorübergehend nicht möglich"):
            attempt()


def test_limits_find_redis_again_after_an_outage(prefix: str) -> None:
    shared = process(prefix)
    shared.PAUSE = 0.2
    working = shared.client
    shared.client = SharedCounts(closed_redis_url(), prefix).client  # Redis goes away …
    limiter = RedisRateLimiter(shared, "public", 2, clock=FrozenClock())
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(30.0)]
    shared.client = working  # … and comes back: after the pause the shared count answers
    assert limiter.acquire("a") > 0  # still paused: the process's own bucket
    time.sleep(0.25)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(30.0)]
