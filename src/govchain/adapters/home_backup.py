"""The files of a govchain home that a backup holds (see adapters.context for the layout), read in
an order that fits the database snapshot, and written into a new home on restore.

Backed up: config.toml, deployment.json, keys/ (the encrypted keystores), secrets/ (a development
home's keystore passphrase, the token key) and chain/ (the embedded chain's journal and snapshot).
Not: the SQLite database (the backup holds its rows), logs, locks, temporary files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from govchain.adapters.files import OWNER_ONLY_FILE, private_dir
from govchain.errors import ConfigurationError, InputError

HOME_FILES = ("config.toml", "deployment.json")
HOME_DIRS = ("keys", "secrets", "chain")
JOURNAL = "chain/journal"
SNAPSHOT = "chain/snapshot"
_READ_BACK = 64 * 1024


def valid_relative(name: str) -> bool:
    """Whether `name` (a path in a backup) is one that a home's backup may hold."""
    path = PurePosixPath(name)
    parts = path.parts
    if not parts or path.is_absolute() or any(p in ("", ".", "..") for p in parts) \
            or "\\" in name or "\0" in name:
        return False
    if parts[0] in HOME_FILES:
        return len(parts) == 1
    return parts[0] in HOME_DIRS and len(parts) >= 2


def _temporary(path: Path) -> bool:
    return path.name.startswith(".") or path.name.endswith(".tmp")


def _complete_lines(fd: int) -> int:
    """The length of the file up to and including its last newline: a journal line being written,
    or torn by a crash, is left out (replay would ignore it anyway)."""
    end = os.fstat(fd).st_size
    while end > 0:
        start = max(0, end - _READ_BACK)
        block = os.pread(fd, end - start, start)
        newline = block.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


class HomeFiles:
    """What a backup takes from a home. `hold_chain()` keeps the embedded chain's writers out
    for a moment (the database snapshot begins then) and notes the journal's length and the chain
    snapshot file of that moment; `files()` then yields every file to back up."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._journal: tuple[int, int] | None = None  # open descriptor, length to copy
        self._snapshot: BinaryIO | None = None

    @contextmanager
    def hold_chain(self) -> Iterator[None]:
        """While the block runs no transaction enters the embedded chain (its writers take the
        journal's lock): a batch the database records as anchored is in the journal copied,
        and every anchor in that journal belongs to a batch the database already records."""
        try:
            fd = os.open(self.home / JOURNAL, os.O_RDONLY)
        except FileNotFoundError:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
                self._journal = (fd, _complete_lines(fd))
                # Written from a chain's state, which never runs ahead of the journal: this file
                # covers at most what is copied of the journal, so the restored chain can use it.
                with contextlib.suppress(FileNotFoundError):
                    self._snapshot = (self.home / SNAPSHOT).open("rb")
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        except BaseException:
            os.close(fd)
            self._journal = None
            raise

    def files(self) -> Iterator[tuple[str, int, BinaryIO]]:
        """(path in the backup, size, open file) for each file, in a fixed order."""
        for name in HOME_FILES:
            path = self.home / name
            if path.is_file() and not path.is_symlink():
                yield from self._whole(name, path)
        for directory in HOME_DIRS:
            for path in sorted((self.home / directory).rglob("*")):
                relative = path.relative_to(self.home).as_posix()
                if relative in (JOURNAL, SNAPSHOT) or _temporary(path) or path.is_symlink() \
                        or not path.is_file():
                    continue
                yield from self._whole(relative, path)
        if self._snapshot is not None:
            yield SNAPSHOT, os.fstat(self._snapshot.fileno()).st_size, self._snapshot
        if self._journal is not None:
            fd, length = self._journal
            with os.fdopen(os.dup(fd), "rb") as journal:
                yield JOURNAL, length, journal

    @staticmethod
    def _whole(relative: str, path: Path) -> Iterator[tuple[str, int, BinaryIO]]:
        try:
            source = path.open("rb")
        except FileNotFoundError:
            return
        with source:
            yield relative, os.fstat(source.fileno()).st_size, source

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None
        if self._journal is not None:
            os.close(self._journal[0])
            self._journal = None


def require_fresh(home: Path) -> None:
    """Refuses a home that already holds any of what a backup brings."""
    present = [name for name in (*HOME_FILES, *HOME_DIRS) if (home / name).exists()]
    if present:
        raise ConfigurationError(
            f"Das govchain-Verzeichnis {home} ist nicht neu (es enthält {', '.join(present)}): "
            "bitte in ein neues Verzeichnis wiederherstellen")


class Staging:
    """Restored files gathered in a private folder of the new home, moved into place together."""

    def __init__(self, home: Path) -> None:
        private_dir(home)
        self.home = home
        self.dir = home / f".restore-{os.getpid()}"
        private_dir(self.dir)
        self._placed: list[Path] = []

    def add(self, relative: str, source: BinaryIO) -> int:
        """Copies `source` to `relative` (0600, folders 0700); returns the bytes written."""
        if not valid_relative(relative):
            raise InputError(f"Die Sicherung ist beschädigt: unerwartete Datei {relative!r}")
        target = self.dir.joinpath(*PurePosixPath(relative).parts)
        for parent in reversed(target.relative_to(self.dir).parents[:-1]):
            private_dir(self.dir / parent)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY_FILE)
        with os.fdopen(fd, "wb") as out:
            written = 0
            while chunk := source.read(1 << 20):
                out.write(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        return written

    def place(self) -> None:
        """Moves every staged file and folder into the home (renames on one file system)."""
        for entry in sorted(self.dir.iterdir()):
            target = self.home / entry.name
            if target.exists():
                raise ConfigurationError(f"{target} ist während der Wiederherstellung entstanden")
            entry.rename(target)
            self._placed.append(target)

    def undo(self) -> None:
        """Takes back what place() moved (the database was not committed)."""
        for path in self._placed:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        self._placed.clear()

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
