"""In-process limits on the public endpoints: token buckets per caller, and login throttling.

Both live in one process's memory: several `govchain serve` processes each keep their own counts,
and a restart forgets them. Memory stays bounded because idle entries are dropped.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key: `rate_per_minute` requests a minute, bursts up to a minute's worth.

    A bucket left alone for a minute is full again, the same as a new one, so it is dropped;
    beyond `max_keys` the longest idle ones are dropped even earlier (they start afresh).
    """

    def __init__(self, rate_per_minute: float, *, clock: Clock = time.monotonic,
                 max_keys: int = 100_000) -> None:
        if rate_per_minute <= 0 or max_keys < 1:
            raise ValueError("rate_per_minute and max_keys must be positive")
        self.capacity = float(rate_per_minute)
        self._per_second = rate_per_minute / 60.0
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Takes one token for `key`: 0.0 when the request may go ahead, otherwise the seconds
        until a token will be there (the request is then not counted)."""
        with self._lock:
            at = self._clock()
            self._evict(at)
            bucket = self._buckets.pop(key, None) or _Bucket(self.capacity, at)
            bucket.tokens = min(self.capacity,
                                bucket.tokens + (at - bucket.updated) * self._per_second)
            bucket.updated = at
            self._buckets[key] = bucket
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self._per_second

    def __len__(self) -> int:
        return len(self._buckets)

    def _evict(self, at: float) -> None:
        refill = self.capacity / self._per_second
        while self._buckets:
            key, oldest = next(iter(self._buckets.items()))
            if at - oldest.updated < refill and len(self._buckets) < self._max_keys:
                return
            del self._buckets[key]


@dataclass
class _Failures:
    count: int
    since: float


class LoginThrottle:
    """Counts failed logins per username and per client address in a fixed window.

    After `max_failures` failures the username (or the address) is refused until the window that
    began with its first failure has passed. Unknown usernames are counted like known ones, so
    the answer never tells whether a username exists.

    A known device (a browser that logged in as that username before and shows its device
    cookie, ``api.tokens.known_device``) is counted on its own instead: failures elsewhere, for
    the username or from the address, do not lock it out, so guessing cannot keep a clerk from
    working; its own failures lock it out like any other caller.
    """

    def __init__(self, max_failures: int, window_seconds: float, *, clock: Clock = time.monotonic,
                 max_keys: int = 100_000) -> None:
        if max_failures < 1 or window_seconds <= 0 or max_keys < 1:
            raise ValueError("max_failures, window_seconds and max_keys must be positive")
        self.max_failures = max_failures
        self.window = float(window_seconds)
        self._clock = clock
        self._max_keys = max_keys
        self._failures: OrderedDict[str, _Failures] = OrderedDict()  # oldest window first
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, address: str | None, device: str | None = None) -> list[str]:
        keys = [f"user:{username.strip().casefold()}"]
        if address:
            keys.append(f"addr:{address}")
        if device:
            keys.append(f"device:{device}")
        return keys

    def retry_after(self, username: str, address: str | None, device: str | None = None) -> float:
        """0.0 when a login may be tried, otherwise the seconds until it may; a known `device`
        (the id of a valid device cookie for this username) is judged by its own failures."""
        with self._lock:
            at = self._clock()
            self._evict(at)
            keys = [f"device:{device}"] if device else self._keys(username, address)
            waits = [entry.since + self.window - at
                     for key in keys
                     if (entry := self._failures.get(key)) and entry.count >= self.max_failures]
            return max(waits, default=0.0)

    def failed(self, username: str, address: str | None, device: str | None = None) -> None:
        with self._lock:
            at = self._clock()
            self._evict(at)
            for key in self._keys(username, address, device):
                entry = self._failures.get(key)
                if entry is None:
                    self._failures[key] = _Failures(1, at)
                else:
                    entry.count += 1

    def succeeded(self, username: str, device: str | None = None) -> None:
        """Forgets the username's (and the device's) failures; the address keeps its count, so
        one good account does not clear the way for guessing others."""
        with self._lock:
            for key in self._keys(username, None, device):
                self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)

    def _evict(self, at: float) -> None:
        while self._failures:
            key, oldest = next(iter(self._failures.items()))
            if at - oldest.since < self.window and len(self._failures) < self._max_keys:
                return
            del self._failures[key]


def retry_after_header(seconds: float) -> dict[str, str]:
    """Retry-After in whole seconds, rounded up and at least 1."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
