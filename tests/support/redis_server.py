"""The Redis of this machine for the tests of the shared limits: each test its own key prefix,
whose keys are deleted afterwards (the server keeps nothing on disk and may be shared).

Redis runs at GOVCHAIN_TEST_REDIS_URL (default: the local server, database 0). Without a
reachable server the cases are skipped locally and fail in CI.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import pytest
import redis

from support.anvil import free_port

REDIS_URL = os.environ.get("GOVCHAIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextlib.contextmanager
def redis_keys(prefix: str | None = None) -> Iterator[tuple[redis.Redis, str]]:
    """A client of the test Redis and a key prefix (a new one unless given); every key under the
    prefix is deleted when the block ends."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as err:
        client.close()
        reason = f"Redis at {REDIS_URL} unreachable: {err}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    prefix = prefix or f"govchain-test-{secrets.token_hex(6)}:"
    try:
        yield client, prefix
    finally:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
        client.close()


def keys_under(client: redis.Redis, prefix: str) -> dict[str, int]:
    """The keys under `prefix` with their remaining lifetime in milliseconds (-1: none)."""
    return {key.decode(): int(client.pttl(key)) for key in client.scan_iter(match=f"{prefix}*")}


def closed_redis_url() -> str:
    """A Redis URL on a loopback port where nothing listens: an unreachable Redis."""
    return f"redis://127.0.0.1:{free_port()}/0"
