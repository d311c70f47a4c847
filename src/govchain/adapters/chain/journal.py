"""The embedded chain's journal: every accepted transaction and time change, appended and fsynced
before it counts, so that replaying the file rebuilds the same chain after a restart or a crash."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govchain.errors import ConfigurationError

log = logging.getLogger(__name__)

JOURNAL_FORMAT = "govchain-embedded-chain-journal"
JOURNAL_VERSION = 1
_FEE_FIELDS = {"gas_price", "max_fee_per_gas", "max_priority_fee_per_gas"}


@dataclass(frozen=True)
class _Entry:
    """One journal line: a transaction mined in a block, or the timestamp set for the next block."""

    timestamp: int
    raw: bytes | None = None  # None: a set_next_block_timestamp entry
    block: int = 0
    block_hash: bytes = b""

    def encode(self) -> bytes:
        if self.raw is None:
            data: dict[str, Any] = {"next_ts": self.timestamp}
        else:
            data = {"ts": self.timestamp, "block": self.block,
                    "hash": "0x" + self.block_hash.hex(), "tx": "0x" + self.raw.hex()}
        return json.dumps(data, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def decode(cls, line: bytes) -> _Entry:
        """Raises ValueError (or KeyError/TypeError) for anything but a well-formed entry."""
        data = json.loads(line)
        if "next_ts" in data:
            return cls(timestamp=_int(data["next_ts"]))
        return cls(timestamp=_int(data["ts"]), raw=_hex(data["tx"]), block=_int(data["block"]),
                   block_hash=_hex(data["hash"]))


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"not a non-negative integer: {value!r}")
    return value


def _hex(value: object) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"not a 0x hex string: {value!r:.40}")
    return bytes.fromhex(value[2:])


class _Journal:
    """The append-only journal file of one home: its header, its entries and the writer lock."""

    def __init__(self, path: Path, chain_id: int, genesis_hash: bytes) -> None:
        self.path = path
        self._header = {"format": JOURNAL_FORMAT, "version": JOURNAL_VERSION,
                        "chain_id": chain_id, "genesis": "0x" + genesis_hash.hex()}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as err:
            raise ConfigurationError(f"Journal {path} lässt sich nicht öffnen: {err}") from err
        try:
            self.header_end = self._check_header()
        except BaseException:
            os.close(self._fd)
            raise

    def _check_header(self) -> int:
        first = self._read(0, 4096)
        if b"\n" not in first:
            # New, or torn while being created: (re)write the header under the lock.
            with self.locked():
                first = self._read(0, 4096)
                if b"\n" not in first:
                    os.ftruncate(self._fd, 0)
                    self._write(json.dumps(self._header, separators=(",", ":")).encode() + b"\n")
                    _fsync_dir(self.path.parent)
                    first = self._read(0, 4096)
        line = first.split(b"\n", 1)[0]
        try:
            header = json.loads(line)
            if not isinstance(header, dict) or header.get("format") != JOURNAL_FORMAT:
                raise ValueError("not a govchain journal")
        except ValueError as err:
            raise ConfigurationError(
                f"{self.path} ist kein Journal einer eingebetteten govchain-Chain: {err}") from err
        if header.get("version") != JOURNAL_VERSION:
            raise ConfigurationError(
                f"Das Journal {self.path} hat die Format-Version {header.get('version')!r}; diese "
                f"govchain-Version kennt nur Version {JOURNAL_VERSION}. Bitte die govchain-Version "
                "verwenden, die das Journal geschrieben hat.")
        if header != self._header:
            raise ConfigurationError(
                f"Das Journal {self.path} gehört zu einer anderen Genesis (Chain "
                f"{header.get('chain_id')}, Genesis {header.get('genesis')}); diese Installation "
                f"erzeugt Chain {self._header['chain_id']}, Genesis {self._header['genesis']}. "
                "Wurden eth-tester oder py-evm in einer anderen Version installiert?")
        return len(line) + 1

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def _read(self, offset: int, length: int) -> bytes:
        chunks = []
        while length > 0:
            chunk = os.pread(self._fd, length, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            length -= len(chunk)
        return b"".join(chunks)

    def read_prefix(self, end: int) -> bytes:
        return self._read(0, end)

    def read_from(self, offset: int) -> list[tuple[_Entry, bytes]]:
        """The complete entries after `offset`, each with its line (newline included).

        An incomplete last line is being written or was torn by a crash; a last line that does not
        parse was torn too. Both are left for later. Anything unreadable before the end is damage.
        """
        data = self._read(offset, self.size() - offset)
        entries = []
        pos = 0
        while (end := data.find(b"\n", pos)) >= 0:
            line = data[pos:end + 1]
            try:
                entry = _Entry.decode(line)
            except (ValueError, KeyError, TypeError) as err:
                if data.find(b"\n", end + 1) < 0:
                    log.warning("journal %s: ignoring torn last line at byte %d", self.path,
                                offset + pos)
                    break
                raise ConfigurationError(
                    f"Das Journal {self.path} ist beschädigt (Byte {offset + pos}: {err})."
                ) from err
            entries.append((entry, line))
            pos = end + 1
        return entries

    def append(self, line: bytes, at: int) -> None:
        """Appends one entry after the first `at` bytes (a torn tail beyond is cut off) and makes
        it durable. Call with the lock held."""
        if self.size() != at:
            os.ftruncate(self._fd, at)
        self._write(line)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        os.fsync(self._fd)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
