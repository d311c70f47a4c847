"""Status list positions: each municipality's counter and permutation key (domain.status_lists).

On PostgreSQL, positions are reserved in a short transaction of their own, BLOCK at a time, and
handed out from a pool in this process: issuing transactions (bulk requests of thousands of
documents, sixteen single documents at once) never wait on the counter row of their
municipality, and most take no round trip for it. A position reserved but not used (a rolled
back issuance, a process that ends) stays unused: its bit is never set, which says nothing. On
SQLite (one writer at a time anyway) the counter moves inside the issuing transaction, by exactly
the positions used.
"""

from __future__ import annotations

import secrets
import threading
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from govchain.adapters.db.models import StatusListCounter
from govchain.adapters.db.repositories._base import _Repository

BLOCK = 256  # positions a process reserves at a time (PostgreSQL)

_TABLE = cast(sa.Table, StatusListCounter.__table__)
# (database URL, AGS) → (permutation key, next free counter, end of the reserved block)
_pool: dict[tuple[str, str], tuple[bytes, int, int]] = {}
_pool_lock = threading.Lock()


def _reserve(conn: Connection, ags: str, count: int) -> tuple[bytes, int]:
    """Moves the counter of `ags` by `count`: (key, first counter value of the range)."""
    insert = (postgresql.insert(_TABLE) if conn.dialect.name == "postgresql"
              else sqlite.insert(_TABLE))
    conn.execute(insert.values(ags=ags, permutation_key=secrets.token_hex(32), allocated=0)
                 .on_conflict_do_nothing(index_elements=["ags"]))
    key, allocated = conn.execute(
        sa.update(_TABLE).where(_TABLE.c.ags == ags)
        .values(allocated=_TABLE.c.allocated + count)
        .returning(_TABLE.c.permutation_key, _TABLE.c.allocated)).one()
    return bytes.fromhex(key), int(allocated) - count


class StatusListRepository(_Repository):
    def reserve(self, ags: str, count: int) -> tuple[bytes, list[int]]:
        """`count` counter values of `ags` no other transaction or process gets, and the key
        of its permutation."""
        if count < 1:
            raise ValueError("count < 1")
        engine = self._session.get_bind()
        if engine.dialect.name != "postgresql" or not isinstance(engine, sa.Engine):
            key, first = _reserve(self._session.connection(), ags, count)
            return key, list(range(first, first + count))
        pool_key = (str(engine.url), ags)
        with _pool_lock:
            key, start, end = _pool.get(pool_key, (b"", 0, 0))
            taken: list[int] = list(range(start, min(end, start + count)))
            if len(taken) < count:
                need = count - len(taken)
                with engine.connect() as conn, conn.begin():
                    key, first = _reserve(conn, ags, max(need, BLOCK))
                taken += range(first, first + need)
                start, end = first + need, first + max(need, BLOCK)
            else:
                start += count
            _pool[pool_key] = (key, start, end)
        return key, taken

    def allocated(self, ags: str) -> int:
        """How many positions `ags` has reserved so far (0 if none)."""
        found = self._session.scalar(sa.select(_TABLE.c.allocated).where(_TABLE.c.ags == ags))
        return int(found or 0)
