"""Limits on the public endpoints (token buckets per caller) and login throttling (failures per
username, per client address and per known device), in one process or shared by all of them.

Without `redis_url` the counts live in the process's memory (`RateLimiter`, `LoginThrottle`):
each `govchain serve` process keeps its own, so N processes or instances allow N times the rate,
and a restart forgets them; memory stays bounded because idle entries are dropped. With
`redis_url` every process and instance of an installation counts in one Redis
(`RedisRateLimiter`, `RedisLoginThrottle`): each decision is one Lua script, atomic however many
processes ask at once, on Redis's clock (the one clock they all share), and every key expires
once it would make no difference. `limits_for(settings)` chooses.

Redis rather than the database: a public request would otherwise be a write to PostgreSQL,
which the public endpoints deliberately never touch; a script in Redis costs a fraction of a
millisecond, and its keys expire by themselves.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from govchain.errors import StorageError
from govchain.settings import Settings

if TYPE_CHECKING:
    from redis.commands.core import Script

Clock = Callable[[], float]
log = logging.getLogger(__name__)


class Limiter(Protocol):
    """A token bucket per key, what `deps.limit_public` takes a token from."""

    # True: `acquire` waits on the network, so an async caller runs it in a thread, off the
    # event loop (an in-process limiter is asked directly: a thread hop would cost more)
    blocking: bool

    def acquire(self, key: str) -> float:
        """0.0 when the request may go ahead, otherwise the seconds until a token will be there."""
        ...


class Throttle(Protocol):
    """Failed logins per username, per client address and per known device (`login.log_in`)."""

    def retry_after(self, username: str, address: str | None, device: str | None = None) -> float:
        ...

    def failed(self, username: str, address: str | None, device: str | None = None) -> None:
        ...

    def succeeded(self, username: str, device: str | None = None) -> None:
        ...


# -- in the process's memory ---------------------------------------------------------------

@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key: `rate_per_minute` requests a minute, bursts up to a minute's worth.

    A bucket left alone for a minute is full again, the same as a new one, so it is dropped;
    beyond `max_keys` the longest idle ones are dropped even earlier (they start afresh).
    """

    blocking = False

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


def _counted(username: str, address: str | None, device: str | None = None) -> list[str]:
    """The counts a failed login adds to: the username's (however it is written), the
    address's and, from a known device, the device's."""
    keys = [f"user:{username.strip().casefold()}"]
    if address:
        keys.append(f"addr:{address}")
    if device:
        keys.append(f"device:{device}")
    return keys


def _judging(username: str, address: str | None, device: str | None) -> list[str]:
    """The counts that decide whether a login may be tried: a known device only its own."""
    return [f"device:{device}"] if device else _counted(username, address)


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

    def retry_after(self, username: str, address: str | None, device: str | None = None) -> float:
        """0.0 when a login may be tried, otherwise the seconds until it may; a known `device`
        (the id of a valid device cookie for this username) is judged by its own failures."""
        with self._lock:
            at = self._clock()
            self._evict(at)
            waits = [entry.since + self.window - at
                     for key in _judging(username, address, device)
                     if (entry := self._failures.get(key)) and entry.count >= self.max_failures]
            return max(waits, default=0.0)

    def failed(self, username: str, address: str | None, device: str | None = None) -> None:
        with self._lock:
            at = self._clock()
            self._evict(at)
            for key in _counted(username, address, device):
                entry = self._failures.get(key)
                if entry is None:
                    self._failures[key] = _Failures(1, at)
                else:
                    entry.count += 1

    def succeeded(self, username: str, device: str | None = None) -> None:
        """Forgets the username's (and the device's) failures; the address keeps its count, so
        one good account does not clear the way for guessing others."""
        with self._lock:
            for key in _counted(username, None, device):
                self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)

    def _evict(self, at: float) -> None:
        while self._failures:
            key, oldest = next(iter(self._failures.items()))
            if at - oldest.since < self.window and len(self._failures) < self._max_keys:
                return
            del self._failures[key]


# -- shared through Redis ------------------------------------------------------------------

# Every script takes "now" as its last argument: seconds from the caller's clock (tests), or ''
# for Redis's own clock, the one all processes and instances share (their clocks may differ).
_NOW = """
local function now_of(arg)
  local now = tonumber(arg)
  if now then return now end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

# RateLimiter.acquire as one script. The bucket expires when it would be full again, since a
# full bucket is no different from a missing one.
_TAKE = _NOW + """
local capacity, per_second = tonumber(ARGV[1]), tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local now = now_of(ARGV[3])
local updated = tonumber(bucket[2]) or now
if now < updated then now = updated end  -- a clock set back refills nothing
local tokens = math.min(capacity, (tonumber(bucket[1]) or capacity) + (now - updated) * per_second)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / per_second end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((capacity - tokens) / per_second * 1000)))
return tostring(wait)
"""

# LoginThrottle.failed: a count starts its window with its first failure and expires with it.
_FAILED = _NOW + """
local window = tonumber(ARGV[1])
local now = now_of(ARGV[2])
for _, key in ipairs(KEYS) do
  local since = tonumber(redis.call('HGET', key, 'since'))
  if since == nil or now - since >= window then
    redis.call('HSET', key, 'count', 1, 'since', tostring(now))
    redis.call('PEXPIRE', key, math.ceil(window * 1000))
  else
    redis.call('HINCRBY', key, 'count', 1)
  end
end
return 0
"""

# LoginThrottle.retry_after: the longest wait of the counts that have reached the limit.
_RETRY_AFTER = _NOW + """
local max_failures, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_of(ARGV[3])
local wait = 0
for _, key in ipairs(KEYS) do
  local entry = redis.call('HMGET', key, 'count', 'since')
  local count, since = tonumber(entry[1]), tonumber(entry[2])
  if count and count >= max_failures and since + window - now > wait then
    wait = since + window - now
  end
end
return tostring(wait)
"""

_FORGET = "return redis.call('DEL', unpack(KEYS))"


class SharedCounts:
    """The Redis in which the processes and instances of one installation keep their counts,
    under the installation's key prefix (`Settings.effective_redis_prefix`).

    A command waits at most `timeout` seconds. After a failure Redis is left alone for `PAUSE`
    seconds (`run` raises at once meanwhile, and each limit decides what that means), so an
    outage costs each process one timeout per pause rather than one per request; the start and
    the end of an outage are logged as warnings.
    """

    PAUSE = 5.0

    def __init__(self, url: str, prefix: str, *, timeout: float = 0.5) -> None:
        # Imported only with redis_url set: ≈0.1 s of imports every other installation skips.
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.prefix = prefix
        # One retry at once re-opens a pooled connection that a restart of Redis broke; the
        # client's default (ten tries with back-off) would hold a request for seconds.
        self.client = redis.Redis.from_url(url, socket_timeout=timeout,
                                           socket_connect_timeout=timeout,
                                           retry=Retry(NoBackoff(), 1))
        self._error: type[Exception] = redis.RedisError
        self._retry_at = 0.0
        self._down_since: float | None = None
        self._lock = threading.Lock()

    def key(self, kind: str, value: str) -> str:
        """The key of `value` (a username, an address, an API key's id): a digest of it, so
        Redis, often shared and unprotected in a data centre, holds no usernames or addresses."""
        return f"{self.prefix}{kind}:{hashlib.blake2b(value.encode(), digest_size=16).hexdigest()}"

    def script(self, source: str) -> Script:
        return self.client.register_script(source)

    def run(self, script: Script, keys: Sequence[str], args: Sequence[str | float]) -> bytes:
        """The script's answer; StorageError while Redis cannot be reached or refuses."""
        if time.monotonic() < self._retry_at:
            raise StorageError("Redis (redis_url) nicht erreichbar")
        try:
            answer: bytes = script(keys=list(keys), args=list(args), client=self.client)
        except self._error as err:
            with self._lock:
                self._retry_at = time.monotonic() + self.PAUSE
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    log.warning("Redis (redis_url) nicht erreichbar (%s: %s): öffentliche Grenzen "
                                "zählen derweil je Prozess, Anmeldungen werden abgelehnt (503)",
                                type(err).__name__, err)
            raise StorageError("Redis (redis_url) nicht erreichbar") from err
        if self._down_since is not None:
            with self._lock:
                if self._down_since is not None:
                    log.warning("Redis (redis_url) wieder erreichbar nach %.0f s",
                                time.monotonic() - self._down_since)
                    self._down_since = None
        return answer

    def close(self) -> None:
        self.client.close()


def _now_arg(clock: Clock | None) -> str | float:
    return "" if clock is None else clock()


class RedisRateLimiter:
    """`RateLimiter`'s token bucket in Redis, one count for every process and instance: the
    refill, the take and the expiry are one script (`_TAKE`), so two processes asking at the
    same moment cannot both take the last token. A `clock` replaces Redis's own (tests only).

    While Redis cannot be reached the public endpoints stay open: an in-process `RateLimiter`
    answers meanwhile (`fallback`; logged), so each process limits on its own as without
    `redis_url`. Verification is what citizens, police and landlords rely on; a bound of N
    times the rate for the minutes of an outage is a smaller harm than refusing every check,
    and far better than no bound at all.
    """

    blocking = True

    def __init__(self, shared: SharedCounts, name: str, rate_per_minute: float, *,
                 clock: Clock | None = None) -> None:
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive")
        self.capacity = float(rate_per_minute)
        self._per_second = rate_per_minute / 60.0
        self._shared = shared
        self._kind = f"rate:{name}"
        self._clock = clock
        self._take = shared.script(_TAKE)
        self.fallback = RateLimiter(rate_per_minute, clock=clock or time.monotonic)

    def acquire(self, key: str) -> float:
        try:
            answer = self._shared.run(self._take, [self._shared.key(self._kind, key)],
                                      [self.capacity, self._per_second, _now_arg(self._clock)])
        except StorageError:
            return self.fallback.acquire(key)
        return float(answer)


class RedisLoginThrottle:
    """`LoginThrottle` in Redis, the same counts (`_counted`, `_judging`) for every process and
    instance; each count expires with its window. A `clock` replaces Redis's own (tests only).

    While Redis cannot be reached no login is tried (StorageError: 503). The throttle is what
    bounds guessing of passwords; counting per process meanwhile would multiply that bound by
    the number of processes, for whoever can make Redis unreachable. People already signed in
    keep working (their tokens need no Redis), and the public endpoints stay open.
    """

    def __init__(self, shared: SharedCounts, max_failures: int, window_seconds: float, *,
                 clock: Clock | None = None) -> None:
        if max_failures < 1 or window_seconds <= 0:
            raise ValueError("max_failures and window_seconds must be positive")
        self.max_failures = max_failures
        self.window = float(window_seconds)
        self._shared = shared
        self._clock = clock
        self._retry_after = shared.script(_RETRY_AFTER)
        self._failed = shared.script(_FAILED)
        self._forget = shared.script(_FORGET)

    def retry_after(self, username: str, address: str | None, device: str | None = None) -> float:
        return float(self._run(self._retry_after, _judging(username, address, device),
                               [self.max_failures, self.window, _now_arg(self._clock)]))

    def failed(self, username: str, address: str | None, device: str | None = None) -> None:
        self._run(self._failed, _counted(username, address, device),
                  [self.window, _now_arg(self._clock)])

    def succeeded(self, username: str, device: str | None = None) -> None:
        self._run(self._forget, _counted(username, None, device), [])

    def _run(self, script: Script, counts: list[str], args: Sequence[str | float]) -> bytes:
        try:
            return self._shared.run(script, [self._shared.key("login", c) for c in counts], args)
        except StorageError as err:
            raise StorageError("Anmeldung vorübergehend nicht möglich (der Zähler der "
                               "Fehlversuche ist nicht erreichbar); bitte später erneut "
                               "versuchen") from err


# -- the choice -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    public: Limiter  # per client address, on the public endpoints
    api_key: Limiter  # per valid X-API-Key, instead of the address's
    login: Throttle


def limits_for(settings: Settings) -> Limits:
    """The service's limits: in this process's memory, or with `settings.redis_url` shared by
    every process and instance that uses the same Redis and key prefix."""
    if settings.redis_url is None:
        return Limits(public=RateLimiter(settings.public_rate_per_minute),
                      api_key=RateLimiter(settings.api_key_rate_per_minute),
                      login=LoginThrottle(settings.login_max_failures,
                                          settings.login_window_seconds))
    shared = SharedCounts(settings.redis_url, settings.effective_redis_prefix)
    return Limits(public=RedisRateLimiter(shared, "public", settings.public_rate_per_minute),
                  api_key=RedisRateLimiter(shared, "api-key", settings.api_key_rate_per_minute),
                  login=RedisLoginThrottle(shared, settings.login_max_failures,
                                           settings.login_window_seconds))


def retry_after_header(seconds: float) -> dict[str, str]:
    """Retry-After in whole seconds, rounded up and at least 1."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
