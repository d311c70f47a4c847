"""The database in a portable form, for backups: every table of the schema read in one consistent
snapshot, as rows of JSON values in the order of the foreign keys, and loaded into an empty
database of either kind (a SQLite backup into PostgreSQL and back) at the same schema revision.

Values by the column's kind: points in time as ISO 8601 in UTC, binary as base64, exact decimals
as text, JSON as JSON, the rest as they are. The tables and their columns are read from the
database, not from the models: a backup holds exactly what its schema revision holds, and a
table added by a later migration is in the next backup without a change here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast, get_args

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from govchain.adapters.db.engine import MIGRATIONS_DIR, _storage_errors, upgrade
from govchain.adapters.db.models import UTCDateTime
from govchain.errors import ConfigurationError, InputError, SchemaError, StorageError

Kind = Literal["text", "integer", "float", "boolean", "decimal", "datetime", "bytes", "json"]
KINDS: tuple[Kind, ...] = get_args(Kind)
VERSION_TABLE = "alembic_version"  # the revision travels in the backup's manifest instead
_BATCH = 1000  # rows per INSERT statement (executemany)


@dataclass(frozen=True)
class TableSpec:
    """A table as a backup holds it: its columns (name, kind) in row order, and its row count."""

    name: str
    columns: tuple[tuple[str, Kind], ...]
    rows: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "columns": [list(c) for c in self.columns], "rows": self.rows}

    @classmethod
    def from_json(cls, data: Any) -> TableSpec:
        try:
            name, columns, rows = data["name"], data["columns"], data["rows"]
            parsed = tuple((str(n), cast(Kind, k)) for n, k in columns)
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"Die Sicherung ist beschädigt: Tabellenbeschreibung {err}") from None
        if not isinstance(name, str) or not isinstance(rows, int) or rows < 0 \
                or any(k not in KINDS for _, k in parsed):
            raise InputError("Die Sicherung ist beschädigt: ungültige Tabellenbeschreibung")
        return cls(name, parsed, rows)


def _kind(column: sa.Column[Any]) -> Kind:
    # Order matters: Float is a Numeric, BLOB and BYTEA are LargeBinary.
    checks: tuple[tuple[type[Any], Kind], ...] = (
        (sa.JSON, "json"), (sa.DateTime, "datetime"), (sa.LargeBinary, "bytes"),
        (sa.Boolean, "boolean"), (sa.Integer, "integer"), (sa.Float, "float"),
        (sa.Numeric, "decimal"), (sa.String, "text"))
    for type_, kind in checks:
        if isinstance(column.type, type_):
            return kind
    raise StorageError(f"Spalte {column.table.name}.{column.name}: den Typ {column.type} kann "
                       "govchain nicht sichern")


def _io_type(kind: Kind, reflected: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    """The type values are read and written with: the same on both databases where they differ."""
    if kind == "json":
        return sa.JSON(none_as_null=True)  # None is SQL NULL, as the models store it
    if kind == "datetime":
        return UTCDateTime()  # naive UTC on SQLite, aware on PostgreSQL; read back aware
    if kind == "bytes":
        return sa.LargeBinary()
    return reflected


def _decimal_text(value: Any) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


_ENCODE: dict[Kind, Callable[[Any], Any]] = {
    "datetime": lambda v: v.isoformat(),
    "bytes": lambda v: base64.b64encode(bytes(v)).decode("ascii"),
    "decimal": _decimal_text,
}


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"Zeitpunkt ohne Zeitzone: {text!r}")
    return value


_DECODE: dict[Kind, Callable[[Any], Any]] = {
    "datetime": _aware,
    "bytes": lambda v: base64.b64decode(v, validate=True),
    "decimal": Decimal,
}


def _same(value: Any) -> Any:
    return value


def _tables(conn: Connection) -> list[sa.Table]:
    """The schema's tables, each after the tables its foreign keys point to."""
    metadata = sa.MetaData()
    metadata.reflect(conn)
    return [t for t in metadata.sorted_tables if t.name != VERSION_TABLE]


def _revision(conn: Connection) -> str | None:
    heads = MigrationContext.configure(conn).get_current_heads()
    if len(heads) > 1:
        raise SchemaError(f"Die Datenbank hat mehrere Schema-Stände ({', '.join(heads)})")
    return heads[0] if heads else None


class Snapshot:
    """The database as it was when the snapshot began: its revision, its tables, their rows."""

    def __init__(self, conn: Connection, revision: str, tables: Sequence[sa.Table]) -> None:
        self._conn = conn
        self.revision = revision
        self.dialect = conn.dialect.name
        self._io: dict[str, tuple[sa.TableClause, list[sa.ColumnElement[Any]]]] = {}
        self.tables: list[TableSpec] = []
        for table in tables:
            columns = tuple((c.name, _kind(c)) for c in table.columns)
            io = sa.table(table.name, *[sa.column(name, _io_type(kind, table.c[name].type))
                                        for name, kind in columns])
            order: list[sa.ColumnElement[Any]] = [io.c[c.name] for c in table.primary_key.columns]
            order = order or list(io.c)
            count = conn.execute(sa.select(sa.func.count()).select_from(io)).scalar_one()
            self._io[table.name] = (io, order)
            self.tables.append(TableSpec(table.name, columns, int(count)))

    def rows(self, spec: TableSpec) -> Iterator[list[Any]]:
        """The table's rows in primary-key order, each a list of JSON values in column order."""
        io, order = self._io[spec.name]
        encoders = [_ENCODE.get(kind, _same) for _, kind in spec.columns]
        conn = self._conn
        if conn.dialect.name == "postgresql":  # a server-side cursor: rows arrive as read
            conn = conn.execution_options(stream_results=True, yield_per=_BATCH)
        with _storage_errors():
            result = conn.execute(sa.select(*io.c).order_by(*order))
            for row in result:
                yield [None if v is None else encode(v) for v, encode in zip(row, encoders,
                                                                            strict=True)]


@contextmanager
def _read_transaction(engine: Engine) -> Iterator[Connection]:
    if engine.dialect.name == "postgresql":
        # As pg_dump reads: every statement sees the snapshot the first one saw.
        with engine.connect().execution_options(isolation_level="REPEATABLE READ",
                                                postgresql_readonly=True) as conn, conn.begin():
            yield conn
        return
    with engine.connect() as conn:
        # pysqlite starts no transaction for reads; in one, every read sees the same state of
        # the database (WAL: writers go on meanwhile).
        conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


@contextmanager
def snapshot(engine: Engine) -> Iterator[Snapshot]:
    """A consistent read of the whole database, for as long as the block runs."""
    with _storage_errors(), _read_transaction(engine) as conn:
        revision = _revision(conn)
        if revision is None:
            raise SchemaError("Die Datenbank ist nicht eingerichtet: es gibt nichts zu sichern")
        if not known_revision(revision):
            raise SchemaError(f"Die Datenbank hat den Schema-Stand {revision!r}, den diese "
                              "govchain-Version nicht kennt: mit der neueren Version sichern")
        yield Snapshot(conn, revision, _tables(conn))


def _script() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS_DIR))


def known_revision(revision: str) -> bool:
    """Whether this code's migrations know `revision`."""
    try:
        return _script().get_revision(revision) is not None
    except (CommandError, RevisionError):
        return False


def require_empty(engine: Engine, revision: str) -> None:
    """Refuses a database with rows, with tables of something else, or with a newer schema than
    `revision`, and a `revision` this code does not know."""
    script = _script()
    if not known_revision(revision):
        raise SchemaError(
            f"Die Sicherung hat den Schema-Stand {revision!r}, den diese govchain-Version nicht "
            f"kennt (neuester bekannter: {script.get_current_head()!r}): sie wurde von einer "
            "neueren Version geschrieben. Bitte mit dieser wiederherstellen.")
    with _storage_errors(), engine.connect() as conn:
        current = _revision(conn)
        names = sorted(n for n in sa.inspect(conn).get_table_names() if n != VERSION_TABLE)
        filled = [n for n in names if conn.execute(
            sa.select(sa.literal(1)).select_from(sa.table(n)).limit(1)).first() is not None]
    if filled:
        raise ConfigurationError(
            f"Die Zieldatenbank ist nicht leer (Zeilen in {', '.join(filled)}): govchain "
            "stellt nur in eine leere Datenbank wieder her")
    if current is None and names:
        raise ConfigurationError(
            f"Die Zieldatenbank enthält fremde Tabellen ({', '.join(names[:5])}): bitte eine "
            "leere Datenbank angeben")
    if current is not None and current != revision \
            and not any(r.revision == current for r in script.walk_revisions("base", revision)):
        raise SchemaError(
            f"Die Zieldatenbank hat schon den Schema-Stand {current!r}, neuer als die Sicherung "
            f"({revision!r}): bitte eine nie eingerichtete Datenbank angeben")


def prepare_empty(engine: Engine, revision: str) -> None:
    """Brings an empty database (never migrated, or migrated but without rows) to `revision`."""
    require_empty(engine, revision)
    upgrade(engine, revision)


class Loader:
    """Inserts a backup's rows in one transaction, table after table (in the backup's order)."""

    def __init__(self, conn: Connection, specs: Sequence[TableSpec]) -> None:
        self._conn = conn
        self._specs = {s.name: s for s in specs}
        self.loaded = dict.fromkeys(self._specs, 0)
        targets = {t.name: t for t in _tables(conn)}
        missing = sorted(set(targets) - set(self._specs))
        if missing:
            raise SchemaError(f"Die Sicherung enthält die Tabellen {', '.join(missing)} nicht, "
                              "die ihr Schema-Stand hat: sie ist unvollständig")
        self._targets: dict[str, sa.Table] = {}
        self._io: dict[str, tuple[sa.TableClause, list[Callable[[Any], Any]]]] = {}
        for spec in specs:
            table = targets.get(spec.name)
            if table is None:
                raise SchemaError(f"Die Tabelle {spec.name} der Sicherung gibt es in der "
                                  "Zieldatenbank nicht")
            theirs = {c.name: _kind(c) for c in table.columns}
            if theirs != dict(spec.columns):
                raise SchemaError(f"Die Spalten der Tabelle {spec.name} in der Sicherung passen "
                                  "nicht zur Zieldatenbank")
            io = sa.table(spec.name, *[sa.column(name, _io_type(kind, table.c[name].type))
                                       for name, kind in spec.columns])
            self._targets[spec.name] = table
            self._io[spec.name] = (io, [_DECODE.get(kind, _same) for _, kind in spec.columns])

    def insert(self, name: str, rows: Sequence[Sequence[Any]]) -> None:
        """Inserts rows as `Snapshot.rows` gave them; InputError for a row that does not fit."""
        if name not in self._io:
            raise InputError(f"Die Sicherung ist beschädigt: unbekannte Tabelle {name!r}")
        io, decoders = self._io[name]
        names = [c.name for c in io.c]
        values = []
        for row in rows:
            if not isinstance(row, list) or len(row) != len(names):
                raise InputError(f"Die Sicherung ist beschädigt: eine Zeile der Tabelle {name} "
                                 "hat nicht ihre Spalten")
            try:
                values.append({n: None if v is None else decode(v)
                               for n, v, decode in zip(names, row, decoders, strict=True)})
            except (ValueError, TypeError, InvalidOperation, binascii.Error) as err:
                raise InputError(f"Die Sicherung ist beschädigt: Tabelle {name}: {err}") from None
        for start in range(0, len(values), _BATCH):
            try:
                self._conn.execute(io.insert(), values[start:start + _BATCH])
            except DBAPIError as err:
                # Only the first line: the driver's detail may quote the row's personal data.
                first = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
                raise StorageError(f"Die Zieldatenbank lehnt eine Zeile der Tabelle {name} ab: "
                                   f"{first}") from None
        self.loaded[name] += len(values)

    def finish(self) -> None:
        """Checks that every table got all its rows, and moves PostgreSQL's id sequences past the
        restored ids (SQLite takes the next rowid after the largest by itself)."""
        short = [f"{n} ({self.loaded[n]} von {s.rows})" for n, s in self._specs.items()
                 if self.loaded[n] != s.rows]
        if short:
            raise InputError(f"Die Sicherung ist beschädigt: Zeilen fehlen in {', '.join(short)}")
        if self._conn.dialect.name != "postgresql":
            return
        quote = self._conn.dialect.identifier_preparer.quote
        for table in self._targets.values():
            keys = list(table.primary_key.columns)
            if len(keys) != 1 or _kind(keys[0]) != "integer":
                continue
            column = keys[0].name
            self._conn.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), m) FROM "
                f"(SELECT max({quote(column)}) AS m FROM {quote(table.name)}) s "
                "WHERE m IS NOT NULL"), {"table": quote(table.name), "column": column})


@contextmanager
def loading(engine: Engine, specs: Sequence[TableSpec]) -> Iterator[Loader]:
    """A loader whose rows are committed together when the block ends without an error."""
    with _storage_errors(), engine.begin() as conn:
        yield Loader(conn, specs)
