"""Opening the service's database (SQLite or PostgreSQL) and bringing its schema to this code's.

The schema is owned by the Alembic migrations in ``govchain/db/migrations``, run programmatically:
the service calls upgrade() on start; check_schema() refuses a database that is not migrated or was
migrated by a newer govchain.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from govchain.adapters.files import owner_only, private_dir, private_file
from govchain.errors import ConfigurationError, SchemaError, StorageError

DATABASE_FILENAME = "govchain.sqlite3"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
# PostgreSQL advisory lock held while migrating ("govchain" in ASCII).
_MIGRATION_LOCK = 0x676F76636861696E


def default_database_url(home: Path) -> str:
    """The SQLite database inside a govchain home directory."""
    return f"sqlite:///{home / DATABASE_FILENAME}"


# orjson writes stored JSON several times faster than the json module (≈15 % of a request
# process's time in bulk issuance went into writing salted documents); datetimes and dataclasses
# pass through to a TypeError as with json, and what orjson refuses (integers beyond 64 bits,
# lone surrogates) takes the json module's way. Reading stays with json: orjson reads integers
# beyond 64 bits as floats.
_ORJSON_OPTIONS = (orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                   | orjson.OPT_PASSTHROUGH_DATACLASS)


def json_text(value: Any) -> str:
    """JSON as stored, compact: umlauts stay readable (and searchable) in the stored text."""
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode("utf-8")
    except (orjson.JSONEncodeError, UnicodeDecodeError):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _normalized_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise ConfigurationError(f"Ungültige Datenbank-URL: {err}") from err
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise ConfigurationError(
            f"Datenbank {parsed.drivername!r} wird nicht unterstützt: sqlite:///PFAD oder "
            "postgresql://BENUTZER@HOST/DATENBANK")
    return parsed


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers go on while one writer writes; an in-memory database ignores it.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _private_sqlite_files(database: Path) -> None:
    """The database file made 0600 before SQLite opens it (SQLite gives its -wal and -shm files
    the database file's mode); files of an older home lose group and others' access."""
    if not database.parent.exists():
        private_dir(database.parent)
    private_file(database)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = database.with_name(database.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            owner_only(companion)


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 15) -> Engine:
    """An engine for `url`: ``sqlite:///path`` or ``postgresql://user@host/db`` (psycopg 3).

    The URL may carry credentials; it is never logged here. ConfigurationError for an unusable URL.
    """
    parsed = _normalized_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _private_sqlite_files(Path(database))
        engine = sa.create_engine(parsed, json_serializer=json_text)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    # At most 20 connections per engine by default: PostgreSQL allows 100 in all, shared by every
    # process of every service on it; a request waits for a free connection (pool_timeout).
    return sa.create_engine(parsed, json_serializer=json_text, pool_pre_ping=True,
                            pool_size=pool_size, max_overflow=max_overflow, pool_timeout=30)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration this code knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "govchain ships at least one migration"
    return head


@contextmanager
def _storage_errors() -> Iterator[None]:
    try:
        yield
    except OperationalError as err:
        raise StorageError(f"Datenbank nicht erreichbar: {err.orig or err}") from err


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, None for a database never migrated."""
    with _storage_errors(), engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    if len(heads) > 1:
        raise SchemaError(f"Die Datenbank hat mehrere Schema-Stände ({', '.join(heads)})")
    return heads[0] if heads else None


def _refuse_unknown(revision: str | None) -> None:
    if revision is None:
        return
    script = ScriptDirectory.from_config(_alembic_config())
    try:
        known = script.get_revision(revision) is not None
    except (CommandError, RevisionError):
        known = False
    if not known:
        raise SchemaError(
            f"Die Datenbank hat den Schema-Stand {revision!r}, den diese govchain-Version nicht "
            f"kennt (neuester bekannter: {head_revision()!r}): sie wurde von einer neueren Version "
            "eingerichtet. Bitte govchain aktualisieren.")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Brings the schema to `revision` (default: the newest) in one transaction (both databases
    have transactional DDL). Refuses a database from a newer govchain."""
    _refuse_unknown(current_revision(engine))
    config = _alembic_config()
    with _storage_errors(), engine.begin() as conn:
        # Several service processes may start at once: the first migrates, the others wait for it
        # and then find the schema at head.
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def check_schema(engine: Engine) -> None:
    """Raises SchemaError unless the database is exactly at this code's newest migration."""
    revision = current_revision(engine)
    if revision is None:
        raise SchemaError("Die Datenbank ist nicht eingerichtet: zuerst die Migrationen ausführen "
                          "(govchain.adapters.db.upgrade)")
    _refuse_unknown(revision)
    head = head_revision()
    if revision != head:
        raise SchemaError(f"Das Datenbankschema ist veraltet ({revision!r}, erwartet {head!r}): "
                          "zuerst die Migrationen ausführen (govchain.adapters.db.upgrade)")
