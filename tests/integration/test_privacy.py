"""No personal data outside the municipality's own document records: after issuing and sharing every
example of every use case, the raw database (SQLite and PostgreSQL) holds no subject value anywhere
but in the `documents` table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork, upgrade
from govchain.domain.pointers import iter_leaves
from govchain.pipeline.batches import anchor_now
from support.databases import KINDS, fresh_database

AACHEN = "05334002"
OWN_RECORDS = {"documents"}


@pytest.fixture(scope="module")
def ctx(ledger_context: Context) -> Context:
    if not ledger_context.ledger.municipality(AACHEN).admitted:
        services.admit_municipality(ledger_context, AACHEN, "Stadt Aachen", [
            "wohnungsgeberbestaetigung", "gefaehrlicher-hund", "strassenmusik"])
    return ledger_context


@pytest.fixture(params=KINDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    for e in fresh_database(request.param, tmp_path):
        upgrade(e)
        yield e


_STORED_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d)?")


_HEX = re.compile(r"(0x)?[0-9a-f]{32,}")


def _raw_rows(engine: sa.Engine) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).fetchall()
            blob = b""
            for row in rows:
                for value in row:
                    if isinstance(value, datetime) or (isinstance(value, str) and (
                            _STORED_TIME.fullmatch(value) or _HEX.fullmatch(value))):
                        # The service's own timestamps ("…:10.004…" is not "10.00") and hashes
                        # or lookup values (64 hex digits hold "50935" about once in 2,000).
                        continue
                    blob += value if isinstance(value, bytes) else repr(value).encode()
                    blob += b"\x00"
            out[table] = blob
    return out


def _accounts(engine: sa.Engine) -> set[str]:
    with UnitOfWork(engine) as uow:
        return set(uow.documents.waiting_accounts())


def test_no_subject_value_outside_own_records(ctx: Context, engine: sa.Engine) -> None:
    with UnitOfWork(engine) as uow:
        clerk_id = uow.users.add(username="clerk", password_hash="x", role="clerk",
                                 display_name="Sachbearbeitung", municipality_ags=AACHEN).id
        landlord_id = uow.users.add(username="vermieter", password_hash="x", role="landlord",
                                    display_name="Vermieter", municipality_ags=None).id
        uow.commit()
    clerk = services.Actor(clerk_id, "clerk", "clerk", AACHEN)
    landlord = services.Actor(landlord_id, "vermieter", "landlord", None)
    values: set[str] = set()
    issued_by: list[tuple[services.Actor, str, Any]] = []
    with UnitOfWork(engine) as uow:
        for usecase in ctx.usecases.all():
            for example in usecase.examples:
                who = landlord if "landlord" in usecase.submitters else clerk
                issued = services.issue_for(ctx, uow, who, usecase.id, example["subject"],
                                            municipality=AACHEN)
                issued_by.append((who, issued.record.id, example))
        uow.commit()
    for account in _accounts(engine):
        anchor_now(ctx, engine, account)
    with UnitOfWork(engine) as uow:
        for who, doc_id, example in issued_by:
            services.create_link_for(ctx, uow, who, doc_id, base_url="https://x")
            first = next(iter(example["subject"]))
            services.create_link_for(ctx, uow, who, doc_id, base_url="https://x", hide=[f"/{first}"])
            subject: Any = example["subject"]
            values |= {str(v) for _, v in iter_leaves(subject) if isinstance(v, str) and len(v) >= 5}
            uow.audit.append(actor=str(who.user_id), actor_kind="user", action="document.issue",
                             target=doc_id)
        uow.commit()
    tables = _raw_rows(engine)
    assert "documents" in tables and "links" in tables and len(values) > 30
    # The documents table does hold them (a check that the scan can find something).
    assert any(v.encode() in tables["documents"] for v in values)
    for table, blob in tables.items():
        if table in OWN_RECORDS:
            continue
        leaked = sorted(v for v in values if v.encode() in blob)
        assert not leaked, f"{table} enthält {leaked[:3]}"
