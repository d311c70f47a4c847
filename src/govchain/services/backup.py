"""Backup and restore of a govchain installation: the database, the keystores, the deployment, the
settings and (for the embedded chain) the chain, in one encrypted file (adapters.backup_file).

Inside the encryption, a gzip-compressed tar archive (POSIX pax) whose members come in this order:

    manifest.json                   format, version, schema revision, source database kind, the
                                    tables (name, columns with their kinds, rows), time of writing
    db/NNN-<table>/NNNNNN.jsonl     the rows of the NNN-th table (in the order of the foreign
                                    keys), one JSON array per line, parts of ≈4 MiB
    home/<path>                     config.toml, deployment.json, keys/…, secrets/…, chain/…

The database is read in one snapshot (adapters.db.portable), begun while the embedded chain's
writers are held (adapters.home_backup), so database and chain agree; the rows are portable
between SQLite and PostgreSQL. A restore refuses anything but a new home and an empty database,
reads the whole file once to check it before it writes anything, then migrates the database to
the backup's revision, inserts every row in one transaction (the append-only tables by INSERT,
their triggers stay) and moves the files into place before it commits.

Documents that were pending, and batches that were being sent, are restored as they were; the
restored service's anchoring picks them up as after a crash (pipeline.batches).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import time
import tomllib
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError

from govchain.adapters.backup_file import Header, SealedReader, SealedWriter, read_header, unlock
from govchain.adapters.db import make_engine
from govchain.adapters.db.portable import (
    Loader,
    Snapshot,
    TableSpec,
    loading,
    prepare_empty,
    require_empty,
    snapshot,
)
from govchain.adapters.home_backup import HomeFiles, Staging, require_fresh, valid_relative
from govchain.domain.timefmt import de
from govchain.errors import ConfigurationError, InputError

ENV_BACKUP_PASSPHRASE = "GOVCHAIN_BACKUP_PASSPHRASE"
MIN_PASSPHRASE = 12
ARCHIVE_FORMAT = "govchain-backup"
ARCHIVE_VERSION = 1
MANIFEST = "manifest.json"
_MAX_MANIFEST = 16 << 20
_PART_BYTES = 4 << 20
_ROWS_PER_INSERT = 1000
_PROGRESS_EVERY = 10_000  # rows between progress lines of one table

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Manifest:
    revision: str
    database: str
    created: str
    tables: tuple[TableSpec, ...]

    def to_json(self) -> dict[str, Any]:
        return {"format": ARCHIVE_FORMAT, "version": ARCHIVE_VERSION, "created": self.created,
                "govchain": _govchain_version(), "schema_revision": self.revision,
                "database": self.database, "tables": [t.to_json() for t in self.tables]}

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict) or raw.get("format") != ARCHIVE_FORMAT:
                raise ValueError("kein Inhaltsverzeichnis einer govchain-Sicherung")
            version = raw.get("version")
            if isinstance(version, int) and version > ARCHIVE_VERSION:
                raise InputError(
                    f"Die Sicherung hat das Inhaltsformat {version}; diese govchain-Version kennt "
                    f"nur Format {ARCHIVE_VERSION}. Bitte mit einer neueren Version "
                    "wiederherstellen.")
            if version != ARCHIVE_VERSION:
                raise ValueError(f"Inhaltsformat {version!r}")
            tables = tuple(TableSpec.from_json(t) for t in raw["tables"])
            return cls(str(raw["schema_revision"]), str(raw["database"]), str(raw["created"]),
                       tables)
        except (ValueError, KeyError, TypeError) as err:
            raise InputError(f"Die Sicherung ist beschädigt: {err}") from None


@dataclass(frozen=True)
class BackupSummary:
    revision: str
    tables: int
    rows: int
    files: int
    size: int  # bytes of the backup file


@dataclass(frozen=True)
class RestoreSummary:
    revision: str
    created: str
    tables: int
    rows: int
    files: int
    notes: list[str] = field(default_factory=list)


def _govchain_version() -> str:
    try:
        return package_version("govchain")
    except PackageNotFoundError:
        return "unbekannt"


def _rows_text(n: int) -> str:
    return "1 Zeile" if n == 1 else f"{n} Zeilen"


def _hidden(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(keine gültige URL)"


# -- writing -----------------------------------------------------------------------------------


def create_backup(home: Path, database_url: str, dest: Path, passphrase: str,
                  progress: Progress) -> BackupSummary:
    """Writes the backup of `home` and its database to `dest`, which must not exist yet; the
    file appears only once it is complete."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise InputError(f"Die Passphrase der Sicherung braucht mindestens {MIN_PASSPHRASE} "
                         "Zeichen")
    if not (home / "deployment.json").is_file():
        raise ConfigurationError(f"{home} ist kein eingerichtetes govchain-Verzeichnis "
                                 "(deployment.json fehlt)")
    if dest.exists():
        raise InputError(f"{dest} gibt es schon: eine Sicherung überschreibt keine Datei")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    engine = make_engine(database_url)
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as err:
            raise ConfigurationError(f"{dest} lässt sich nicht anlegen: {err.strerror}") from err
        with os.fdopen(fd, "wb") as out:
            sealed = SealedWriter(out, passphrase)
            summary = _write_archive(sealed, home, engine, progress)
            sealed.close()
            out.flush()
            os.fsync(out.fileno())
        os.link(tmp, dest)  # unlike a rename, never replaces a file that appeared meanwhile
        return replace(summary, size=sealed.written)
    except FileExistsError:
        raise InputError(f"{dest} gibt es schon: eine Sicherung überschreibt keine Datei") from None
    except OSError as err:  # a file of the home unreadable, the disk full, …
        raise ConfigurationError(f"Sicherung abgebrochen: {err}") from err
    finally:
        tmp.unlink(missing_ok=True)
        engine.dispose()


def _member(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(mtime)
    info.mode = 0o600
    return info


def _write_archive(sealed: SealedWriter, home: Path, engine: Engine,
                   progress: Progress) -> BackupSummary:
    now = time.time()
    gz = gzip.GzipFile(fileobj=sealed, mode="wb", compresslevel=6, mtime=int(now))
    files = HomeFiles(home)
    with ExitStack() as stack:
        stack.callback(files.close)
        tar = stack.enter_context(tarfile.open(fileobj=gz, mode="w|",
                                               format=tarfile.PAX_FORMAT))
        with files.hold_chain():
            snap = stack.enter_context(snapshot(engine))
        manifest = Manifest(snap.revision, snap.dialect, datetime.now(UTC).isoformat(),
                            tuple(snap.tables))
        rows = sum(t.rows for t in snap.tables)
        progress(f"Datenbank ({snap.dialect}, Schema-Stand {snap.revision}): "
                 f"{len(snap.tables)} Tabellen, {_rows_text(rows)}")
        data = json.dumps(manifest.to_json(), indent=1).encode()
        tar.addfile(_member(MANIFEST, len(data), now), io.BytesIO(data))
        for index, spec in enumerate(snap.tables):
            _write_table(tar, index, spec, snap, now, progress)
        count = 0
        for relative, size, source in files.files():
            tar.addfile(_member(f"home/{relative}", size, now), source)
            count += 1
        progress(f"Dateien: {count} (Schlüssel, Deployment, Einstellungen"
                 f"{', eingebettete Chain' if (home / 'chain').is_dir() else ''})")
    gz.close()
    return BackupSummary(snap.revision, len(snap.tables), rows, count, size=0)


def _write_table(tar: tarfile.TarFile, index: int, spec: TableSpec, snap: Snapshot, mtime: float,
                 progress: Progress) -> None:
    part = bytearray()
    parts = done = 0

    def flush() -> None:
        nonlocal parts
        name = f"db/{index:03d}-{spec.name}/{parts:06d}.jsonl"
        tar.addfile(_member(name, len(part), mtime), io.BytesIO(bytes(part)))
        part.clear()
        parts += 1

    for row in snap.rows(spec):
        part += json.dumps(row, separators=(",", ":")).encode() + b"\n"
        done += 1
        if len(part) >= _PART_BYTES:
            flush()
        if done % _PROGRESS_EVERY == 0 and done < spec.rows:
            progress(f"  {spec.name}: {done}/{spec.rows} Zeilen")
    if part:
        flush()
    if done != spec.rows:  # one snapshot: cannot happen unless the database breaks its word
        raise ConfigurationError(f"Tabelle {spec.name}: {done} Zeilen gelesen, {spec.rows} "
                                 "gezählt – die Datenbank liefert keinen einheitlichen Stand")
    progress(f"  {spec.name}: {_rows_text(spec.rows)}")


# -- reading -----------------------------------------------------------------------------------


class _Visitor:
    """What a pass over the archive does with each part; the base only checks (first pass)."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress
        self.rows: dict[str, int] = {}
        self.files = 0

    def manifest(self, manifest: Manifest) -> None:
        self.rows = {t.name: 0 for t in manifest.tables}

    def table_rows(self, spec: TableSpec, rows: list[list[Any]]) -> None:
        before = self.rows[spec.name]
        self.rows[spec.name] = before + len(rows)
        if self.progress is not None and spec.rows > _PROGRESS_EVERY \
                and before // _PROGRESS_EVERY != self.rows[spec.name] // _PROGRESS_EVERY \
                and self.rows[spec.name] < spec.rows:
            self.progress(f"  {spec.name}: {self.rows[spec.name]}/{spec.rows} Zeilen")

    def table_done(self, spec: TableSpec) -> None:
        if self.rows[spec.name] != spec.rows:
            raise InputError(f"Die Sicherung ist beschädigt: Tabelle {spec.name} hat "
                             f"{self.rows[spec.name]} statt {spec.rows} Zeilen")
        if self.progress is not None:
            self.progress(f"  {spec.name}: {_rows_text(spec.rows)}")

    def file(self, relative: str, source: BinaryIO) -> None:
        while source.read(1 << 20):
            pass
        self.files += 1


class _Restoring(_Visitor):
    def __init__(self, loader: Loader, staging: Staging, progress: Progress) -> None:
        super().__init__(progress)
        self.loader = loader
        self.staging = staging

    def table_rows(self, spec: TableSpec, rows: list[list[Any]]) -> None:
        self.loader.insert(spec.name, rows)
        super().table_rows(spec, rows)

    def file(self, relative: str, source: BinaryIO) -> None:
        self.staging.add(relative, source)
        self.files += 1


@contextmanager
def _damaged() -> Iterator[None]:
    """What the archive's readers raise for a broken archive, as the operator is told it."""
    try:
        yield
    except (tarfile.TarError, zlib.error, EOFError, gzip.BadGzipFile) as err:
        raise InputError(f"Die Sicherung ist beschädigt: {err}") from None


@contextmanager
def _archive(path: Path, header: Header, cipher: AESGCM
             ) -> Iterator[Iterator[tuple[tarfile.TarInfo, BinaryIO]]]:
    """The members of the archive in a backup file, each with its content (read it before the
    next member)."""
    with path.open("rb") as raw, _damaged():
        raw.seek(len(header.to_bytes()))
        reader = SealedReader(raw, header, cipher)
        with tarfile.open(fileobj=reader, mode="r|gz") as tar:  # type: ignore[call-overload]
            def members() -> Iterator[tuple[tarfile.TarInfo, BinaryIO]]:
                for info in tar:
                    if not info.isfile():
                        raise InputError(f"Die Sicherung ist beschädigt: {info.name!r} ist "
                                         "keine Datei")
                    content = tar.extractfile(info)
                    assert content is not None
                    yield info, content
            yield members()


def _first(members: Iterator[tuple[tarfile.TarInfo, BinaryIO]]) -> Manifest:
    info, content = next(members, (None, None))
    if info is None or content is None or info.name != MANIFEST or info.size > _MAX_MANIFEST:
        raise InputError("Die Sicherung ist beschädigt: das Inhaltsverzeichnis fehlt")
    return Manifest.parse(content.read())


def _read_manifest(path: Path, header: Header, cipher: AESGCM) -> Manifest:
    with _archive(path, header, cipher) as members:
        return _first(members)


def _walk(path: Path, header: Header, cipher: AESGCM, visitor: _Visitor) -> Manifest:
    """One pass over the whole archive, checking its order and names, handing each part to
    `visitor`. Only what passed its authentication tag is ever parsed."""
    with _archive(path, header, cipher) as members:
        manifest = _first(members)
        visitor.manifest(manifest)
        current = done = 0  # the table being read; tables[:done] are complete
        in_home = False
        for info, content in members:
            name = info.name
            if name.startswith("db/") and not in_home:
                index = _table_index(name, manifest)
                if index < current:
                    raise InputError(f"Die Sicherung ist beschädigt: {name!r} steht nicht in "
                                     "der Reihenfolge der Tabellen")
                for finished in manifest.tables[done:index]:
                    visitor.table_done(finished)
                current = done = index
                _read_rows(manifest.tables[index], content, visitor)
            elif name.startswith("home/") and valid_relative(name[len("home/"):]):
                in_home = True
                visitor.file(name[len("home/"):], content)
            else:
                raise InputError(f"Die Sicherung ist beschädigt: unerwarteter Eintrag {name!r}")
        for finished in manifest.tables[done:]:
            visitor.table_done(finished)
    return manifest


def _table_index(name: str, manifest: Manifest) -> int:
    folder = name.split("/")[1] if name.count("/") == 2 else ""
    number, _, table = folder.partition("-")
    if number.isdigit() and int(number) < len(manifest.tables) \
            and manifest.tables[int(number)].name == table and name.endswith(".jsonl"):
        return int(number)
    raise InputError(f"Die Sicherung ist beschädigt: unerwarteter Eintrag {name!r}")


def _read_rows(spec: TableSpec, content: BinaryIO, visitor: _Visitor) -> None:
    batch: list[list[Any]] = []
    for line in content:
        try:
            row = json.loads(line)
        except ValueError as err:
            raise InputError(f"Die Sicherung ist beschädigt: Tabelle {spec.name}: {err}") from None
        if not isinstance(row, list) or len(row) != len(spec.columns):
            raise InputError(f"Die Sicherung ist beschädigt: eine Zeile der Tabelle {spec.name} "
                             "hat nicht ihre Spalten")
        batch.append(row)
        if len(batch) >= _ROWS_PER_INSERT:
            visitor.table_rows(spec, batch)
            batch = []
    if batch:
        visitor.table_rows(spec, batch)


def restore_backup(home: Path, database_url: str, src: Path, passphrase: str,
                   progress: Progress) -> RestoreSummary:
    """Restores the backup in `src` into the new `home` and the empty database at
    `database_url`; nothing is written unless the whole file is intact."""
    if not passphrase:
        raise InputError("Keine Passphrase für die Sicherung")
    try:
        with src.open("rb") as f:
            header = read_header(f)
    except OSError as err:
        raise InputError(f"Die Sicherung {src} ist nicht lesbar: {err.strerror}") from err
    cipher = unlock(header, passphrase)
    try:
        manifest = _read_manifest(src, header, cipher)
        require_fresh(home)
        engine = make_engine(database_url)
        try:
            require_empty(engine, manifest.revision)
            progress(f"Sicherung vom {_when(manifest.created)} ({manifest.database}, "
                     f"Schema-Stand {manifest.revision}): wird geprüft …")
            checked = _Visitor()
            _walk(src, header, cipher, checked)
            progress(f"Unversehrt: {len(manifest.tables)} Tabellen, "
                     f"{_rows_text(sum(checked.rows.values()))}, {checked.files} Dateien")
            restoring = _restore(home, engine, src, header, cipher, manifest, progress)
        finally:
            engine.dispose()
    except OSError as err:  # the file unreadable meanwhile, the disk full, …
        raise ConfigurationError(f"Wiederherstellung abgebrochen: {err}") from err
    return RestoreSummary(manifest.revision, _when(manifest.created), len(manifest.tables),
                          sum(restoring.rows.values()), restoring.files,
                          _config_notes(home, database_url))


def _restore(home: Path, engine: Engine, src: Path, header: Header, cipher: AESGCM,
             manifest: Manifest, progress: Progress) -> _Restoring:
    """The second pass: the database migrated to the backup's revision, every row inserted and
    the files moved into place in one go; on any error, neither."""
    prepare_empty(engine, manifest.revision)
    staging = Staging(home)
    try:
        with loading(engine, manifest.tables) as loader:
            restoring = _Restoring(loader, staging, progress)
            _walk(src, header, cipher, restoring)
            loader.finish()
            staging.place()  # committed when the block ends
    except BaseException:
        staging.undo()
        raise
    finally:
        staging.cleanup()
    return restoring


def _when(created: str) -> str:
    try:
        return de(datetime.fromisoformat(created))
    except ValueError:
        return created


def _config_notes(home: Path, database_url: str) -> list[str]:
    """A restored config.toml that names another database than the one restored into would
    point the service at the old one: say so."""
    try:
        config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    named = config.get("database_url")
    if isinstance(named, str) and named != database_url:
        return [f"config.toml nennt die Datenbank {_hidden(named)}, wiederhergestellt wurde in "
                f"{_hidden(database_url)}: GOVCHAIN_DATABASE_URL (oder --database-url) so "
                "beibehalten oder config.toml anpassen"]
    return []
