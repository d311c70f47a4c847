"""Status list positions: each municipality's counter and permutation key (domain.status_lists)."""

from __future__ import annotations

import secrets
from typing import cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from govchain.adapters.db.models import StatusListCounter
from govchain.adapters.db.repositories._base import _Repository


class StatusListRepository(_Repository):
    def reserve(self, ags: str, count: int) -> tuple[bytes, int]:
        """Reserves `count` consecutive positions of `ags`: (permutation key, first counter
        value). The counter row stays locked until the transaction ends, so two transactions
        never get the same positions; the key is drawn when the municipality first needs one."""
        if count < 1:
            raise ValueError("count < 1")
        table = cast(sa.Table, StatusListCounter.__table__)
        for _ in range(2):
            row = self._session.execute(
                sa.update(table).where(table.c.ags == ags)
                .values(allocated=table.c.allocated + count)
                .returning(table.c.permutation_key, table.c.allocated)).one_or_none()
            if row is not None:
                key, allocated = row
                return bytes.fromhex(key), int(allocated) - count
            try:
                with self._session.begin_nested():
                    self._session.execute(sa.insert(table).values(
                        ags=ags, permutation_key=secrets.token_hex(32), allocated=0))
            except IntegrityError:
                pass  # another transaction created it first: update that one
        raise RuntimeError(f"status list counter of {ags} not available")

    def allocated(self, ags: str) -> int:
        """How many positions `ags` has reserved so far (0 if none)."""
        table = cast(sa.Table, StatusListCounter.__table__)
        found = self._session.scalar(sa.select(table.c.allocated).where(table.c.ags == ags))
        return int(found or 0)
