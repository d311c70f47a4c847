"""The database as a backup holds it (adapters.db.portable): read in one snapshot, every table and
value arrives unchanged in an empty database of either kind, the append-only tables stay
append-only, new ids follow the restored ones, and a target with rows is refused."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from govchain.adapters.db import UnitOfWork, current_revision, head_revision, upgrade
from govchain.adapters.db import models as m
from govchain.adapters.db.portable import (
    TableSpec,
    loading,
    prepare_empty,
    require_empty,
    snapshot,
)
from govchain.errors import ConfigurationError, InputError, SchemaError
from support.databases import KINDS, fresh_database

T0 = datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)
BIG = 2**70  # a JSON integer beyond 64 bits, as salted documents may hold


@pytest.fixture(params=KINDS)
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    for engine in fresh_database(request.param, tmp_path / "source"):
        upgrade(engine)
        yield engine


def fill(engine: Engine) -> None:
    """Rows in the tables that hold every kind of value, written through the models (ids
    from the database: 1 and 2 for the users, 1 for the API key and the batch)."""
    with engine.begin() as conn:
        conn.execute(sa.insert(m.User), [
            {"username": "land", "password_hash": "$argon2id$x", "role": "registrar",
             "municipality_ags": None, "display_name": "Landesbehörde NRW", "created_at": T0,
             "disabled_at": None},
            {"username": "meier", "password_hash": "$argon2id$y", "role": "clerk",
             "municipality_ags": "05334002", "display_name": "Jana Meier – Ordnungsamt",
             "created_at": T0, "disabled_at": T0 + timedelta(days=3)}])
        conn.execute(sa.insert(m.ApiKey), {"name": "Polizei Aachen", "prefix": "gk_ab",
                                           "key_hash": "ab" * 32, "created_at": T0})
        conn.execute(sa.insert(m.Batch), {
            "account": "0x" + "11" * 20, "usecase": "gefaehrlicher-hund",
            "state": "sending", "size": 2, "merkle_root": "0x" + "aa" * 32, "nonce": 5,
            "gas_price": 1_000_000_007, "tx_hash": "0x" + "bb" * 32,
            "raw_tx": bytes(range(256)), "created_at": T0, "members": b"\x00\xff" * 32})
        conn.execute(sa.insert(m.Document), [
            {"id": f"urn:uuid:0000000{i}", "ags": "05334002", "usecase": "gefaehrlicher-hund",
             "state": "pending", "ledger_status": "none",
             "subject": {"halter": {"name": "Jürgen Groß"}, "n": BIG, "x": 1.5, "leer": None},
             "search_text": "jürgen groß", "salted": {"salts": ["00" * 16], "i": i},
             "target_hash": "0x" + f"{i:02d}" * 32, "created_by": 2, "created_at": T0,
             "valid_from": T0, "account": "0x" + "11" * 20, "batch_id": 1 if i < 2 else None}
            for i in range(3)])
        conn.execute(sa.insert(m.StatusEvent), {"document_id": "urn:uuid:00000000",
                                                "action": "issued", "actor": 2, "at": T0})
        conn.execute(sa.insert(m.AuditEntry), [
            {"at": T0 + timedelta(seconds=i), "actor": "2", "actor_kind": "user",
             "action": "document.issue", "target": f"urn:uuid:0000000{i}",
             "remote_addr": "10.0.0.1", "detail": {"usecase": "gefaehrlicher-hund", "n": i}}
            for i in range(1, 4)])
        conn.execute(sa.insert(m.VerificationEntry), {"api_key_id": 1, "at": T0,
                                                      "document_id": "urn:uuid:00000000",
                                                      "result": "VALID"})


def dump(engine: Engine) -> dict[str, list[list[Any]]]:
    with snapshot(engine) as snap:
        return {spec.name: list(snap.rows(spec)) for spec in snap.tables}


def copy(source: Engine, target: Engine) -> list[TableSpec]:
    with snapshot(source) as snap:
        prepare_empty(target, snap.revision)
        with loading(target, snap.tables) as loader:
            for spec in snap.tables:
                rows = list(snap.rows(spec))
                for start in range(0, len(rows), 2):  # in several parts, as a backup gives them
                    loader.insert(spec.name, rows[start:start + 2])
            loader.finish()
        return snap.tables


@pytest.mark.parametrize(("source_kind", "target_kind"), list(itertools.product(KINDS, KINDS)))
def test_every_row_arrives_unchanged_in_either_database(tmp_path: Path, source_kind: str,
                                                        target_kind: str) -> None:
    for source in fresh_database(source_kind, tmp_path / "source"):
        upgrade(source)
        fill(source)
        for target in fresh_database(target_kind, tmp_path / "target"):
            tables = copy(source, target)
            assert current_revision(target) == head_revision()
            assert {t.name for t in tables} >= {"users", "documents", "batches", "audit_log",
                                                "verification_log", "status_events"}
            assert dump(target) == dump(source)
            with Session(target) as session:  # and read by the models as written
                batch = session.get_one(m.Batch, 1)
                assert batch.raw_tx == bytes(range(256)) and batch.members == b"\x00\xff" * 32
                assert batch.gas_price == Decimal(1_000_000_007) and batch.created_at == T0
                doc = session.get_one(m.Document, "urn:uuid:00000001")
                assert doc.subject["n"] == BIG and doc.subject["halter"]["name"] == "Jürgen Groß"
                assert doc.document is None and doc.di_proof is None and doc.batch_id == 1
                assert session.get_one(m.User, 2).disabled_at == T0 + timedelta(days=3)
            assert_append_only(target)
            with UnitOfWork(target) as uow:  # ids go on after the restored ones
                assert uow.audit.append(actor="cli", actor_kind="anonymous",
                                        action="user.add").id == 4
                assert uow.users.add(username="neu", password_hash="$argon2id$z",
                                     role="landlord", display_name="Neu").id == 3
                uow.commit()


def assert_append_only(engine: Engine) -> None:
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log",
                      "UPDATE verification_log SET result = 'INVALID'",
                      "DELETE FROM verification_log"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))


def test_the_snapshot_does_not_see_what_is_written_while_it_is_read(source: Engine) -> None:
    fill(source)
    with snapshot(source) as snap:
        specs = {s.name: s for s in snap.tables}
        users = list(snap.rows(specs["users"]))  # reading has begun
        with UnitOfWork(source) as uow:  # meanwhile the service goes on
            uow.audit.append(actor="2", actor_kind="user", action="document.issue")
            uow.users.add(username="spaet", password_hash="$argon2id$z", role="landlord",
                          display_name="Später")
            uow.commit()
        audit = list(snap.rows(specs["audit_log"]))
        assert len(users) == specs["users"].rows == 2
        assert len(audit) == specs["audit_log"].rows == 3
    assert len(dump(source)["audit_log"]) == 4


def test_a_database_with_rows_or_foreign_tables_is_refused(source: Engine,
                                                           tmp_path: Path) -> None:
    revision = head_revision()
    require_empty(source, revision)  # migrated, but empty: fine
    fill(source)
    with pytest.raises(ConfigurationError, match="nicht leer"):
        prepare_empty(source, revision)
    for other in fresh_database("sqlite", tmp_path / "other"):
        with other.begin() as conn:
            conn.execute(sa.text("CREATE TABLE kunden (id INTEGER PRIMARY KEY)"))
        with pytest.raises(ConfigurationError, match="fremde Tabellen"):
            require_empty(other, revision)


def test_a_backup_from_a_newer_govchain_or_an_older_target_schema_is_refused(
        tmp_path: Path) -> None:
    for target in fresh_database("sqlite", tmp_path / "target"):
        with pytest.raises(SchemaError, match="neueren Version"):
            require_empty(target, "9999")
        upgrade(target)  # empty, but already at the newest revision
        with pytest.raises(SchemaError, match="neuer als die Sicherung"):
            require_empty(target, "0005")


def test_a_backup_at_an_older_revision_is_restored_at_that_revision(tmp_path: Path) -> None:
    for source in fresh_database("sqlite", tmp_path / "source"):
        upgrade(source, "0005")
        with source.begin() as conn:
            conn.execute(sa.text("INSERT INTO audit_log (id, at, actor, actor_kind, action, "
                                 "detail) VALUES (1, '2026-05-01 08:00:00', 'cli', "
                                 "'anonymous', 'chain.deploy', '{}')"))
        for target in fresh_database("sqlite", tmp_path / "target"):
            copy(source, target)
            assert current_revision(target) == "0005"
            assert dump(target) == dump(source)
            upgrade(target)  # what the service does when it starts on it
            assert len(dump(target)["audit_log"]) == 1


def test_missing_rows_are_noticed(source: Engine, tmp_path: Path) -> None:
    fill(source)
    with snapshot(source) as snap:
        for target in fresh_database("sqlite", tmp_path / "target"):
            prepare_empty(target, snap.revision)
            with pytest.raises(InputError, match="Zeilen fehlen in audit_log"), \
                    loading(target, snap.tables) as loader:
                for spec in snap.tables:
                    rows = list(snap.rows(spec))
                    loader.insert(spec.name, rows[:-1] if spec.name == "audit_log" else rows)
                loader.finish()
            assert all(not rows for rows in dump(target).values())  # nothing committed
