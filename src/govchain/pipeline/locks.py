"""One anchoring worker per issuer account, across processes: a PostgreSQL advisory lock when
several `govchain serve` share a database, a file lock in the home for SQLite."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import Connection, Engine


class AccountLocks:
    """Exclusive per-account locks: PostgreSQL advisory locks, else files in the home."""

    def __init__(self, engine: Engine, home: Path) -> None:
        self._engine = engine
        self._dir = home / "locks"

    @contextlib.contextmanager
    def hold(self, account: str) -> Iterator[bool]:
        """Yields True while this process holds `account`'s lock, False if another does."""
        if self._engine.dialect.name == "postgresql":
            with self._engine.connect() as conn:
                key = _lock_key(account)
                got = bool(conn.exec_driver_sql("SELECT pg_try_advisory_lock(%s)", (key,)).scalar())
                conn.commit()
                try:
                    yield got
                finally:
                    if got:
                        _unlock(conn, key)
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._dir / f"anchor-{account.lower()}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _lock_key(account: str) -> int:
    digest = hashlib.sha256(b"govchain/anchor/" + account.lower().encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _unlock(conn: Connection, key: int) -> None:
    with contextlib.suppress(Exception):  # a dead connection has released the lock already
        conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (key,))
        conn.commit()
