"""What every repository shares: pages, bulk inserts (COPY on PostgreSQL), unique-constraint
messages, the notification channels of the anchoring pipeline, and the repository base class."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Generic, NamedTuple, TypeVar, cast

import psycopg
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govchain.adapters.db.engine import json_text
from govchain.adapters.db.models import Base
from govchain.domain.hashing import from_hex32, to_hex
from govchain.errors import ConflictError, InputError

T = TypeVar("T")

MAX_PAGE = 500




class Page(NamedTuple, Generic[T]):
    """One page of a listing and the number of all matching records."""

    items: list[T]
    total: int


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    # IN lists stay below SQLite's and PostgreSQL's parameter limits
    for i in range(0, len(items), size):
        yield items[i:i + size]


# What a unique or foreign key violation means, by the (table, column) in the driver's message:
# SQLite names "table.column", PostgreSQL the constraint (uq_table_column, pk_table).
_UNIQUE_MESSAGES = {
    ("users", "username"): "Der Benutzername ist schon vergeben",
    ("api_keys", "key_hash"): "Diesen API-Schlüssel gibt es schon",
    ("documents", "id"): "Ein Dokument mit dieser ID ist schon gespeichert",
    ("documents", "landlord_code"): "Das Zuordnungsmerkmal ist schon vergeben",
    ("links", "id"): "Einen Prüflink mit dieser ID gibt es schon",
    ("links", "token_lookup"): "Einen Prüflink mit diesem Token gibt es schon",
}


def _conflict(err: IntegrityError) -> ConflictError:
    # The driver's text may quote stored values; only the constraint's meaning goes into ours.
    text = str(err.orig)
    for (table, column), message in _UNIQUE_MESSAGES.items():
        names = (f"{table}.{column}", f"uq_{table}_{column}")
        if any(n in text for n in names) or (column == "id" and f'"pk_{table}"' in text):
            return ConflictError(message)
    if "foreign key" in text.lower():
        return ConflictError("Der Eintrag verweist auf einen Datensatz, den es nicht gibt")
    return ConflictError("Der Eintrag widerspricht den gespeicherten Daten")


COPY_FROM = 20  # rows from which an insert into PostgreSQL goes through COPY


def _insert_many(session: Session, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """Inserts many rows in one go: PostgreSQL's COPY (several times faster than an INSERT per
    row for bulk issuance), else one executemany INSERT. ConflictError on a unique key."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name != "postgresql" or len(rows) < COPY_FROM:
        try:
            session.execute(sa.insert(model), list(rows))
        except IntegrityError as err:
            raise _conflict(err) from err
        return
    table = cast(sa.Table, model.__table__)
    columns = list(rows[0])
    as_json = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
    driver = conn.connection.driver_connection
    assert driver is not None
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([json_text(row[c]) if c in as_json and row[c] is not None
                                else row[c] for c in columns])
    except psycopg.errors.IntegrityError as err:
        raise _conflict(IntegrityError(statement, None, err)) from err


# PostgreSQL notifications on commit: the anchoring process hears of new documents, and the
# processes waiting for anchors hear of finished batches, at once instead of by polling (see
# govchain.pipeline.anchoring.Listener). pg_notify inside the transaction is delivered only on commit.
# Channels are per database, so each name carries a tag of the schema: services sharing a
# database in schemas of their own do not wake each other.
PENDING_CHANNEL = "govchain_pending"
ANCHORED_CHANNEL = "govchain_anchored"
SCHEMA_TAG_SQL = "left(md5(current_schema()), 12)"


def _notify(session: Session, channel: str) -> None:
    if session.connection().dialect.name == "postgresql":
        session.execute(sa.text(f"SELECT pg_notify(:channel || '_' || {SCHEMA_TAG_SQL}, '')"),
                        {"channel": channel})


def _hex32(value: bytes | str, what: str) -> str:
    """A 32-byte value (root, hash, transaction) as stored: lower-case 0x-hex."""
    try:
        raw = from_hex32(value.lower()) if isinstance(value, str) else bytes(value)
    except ValueError as err:
        raise InputError(f"{what} ist kein 32-Byte-Hexwert") from err
    if len(raw) != 32:
        raise InputError(f"{what} ist kein 32-Byte-Wert")
    return to_hex(raw)


def _page(offset: int, limit: int) -> tuple[int, int]:
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise InputError(f"Seite außerhalb des Bereichs: offset ≥ 0, 1 ≤ limit ≤ {MAX_PAGE}")
    return offset, limit


def _one_of(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise InputError(f"Unbekannte(r) {what} {value!r}: erlaubt sind {', '.join(allowed)}")


class _Repository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _flush(self) -> None:
        try:
            self._session.flush()
        except IntegrityError as err:
            raise _conflict(err) from err

    def _count(self, model: type[Any], conditions: Sequence[sa.ColumnElement[bool]]) -> int:
        return self._session.scalar(
            sa.select(sa.func.count()).select_from(model).where(*conditions)) or 0
