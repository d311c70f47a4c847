"""The backup file: one stream encrypted and authenticated with AES-256-GCM under a key that scrypt
derives from a passphrase, so that a backup may leave the data centre (tape, another site) and any
changed, missing, repeated or reordered byte is noticed before it is used.

Layout (integers big-endian):

    magic           16  b"GOVCHAIN-BACKUP\\n"
    version          2  FORMAT_VERSION
    scrypt           3  log2(N), r, p
    salt            16
    nonce prefix     7  random per file
    segment size     4  plaintext bytes per segment
    check           16  AES-GCM tag of the empty text (nonce: prefix ‖ 0xFFFFFFFF ‖ 0x02) over the
                        48 bytes before it: tells a wrong passphrase apart from a damaged file
    segments            each the AES-GCM ciphertext and tag of `segment size` plaintext bytes
                        (the last one fewer, possibly none), nonce prefix ‖ counter ‖ last (0/1),
                        the 64 bytes above as associated data

The segments follow the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015; as in age
and Tink): a file cut after any segment but the one marked last fails, and so does a segment
moved, dropped or repeated. A reader gets only plaintext whose tag has been checked.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass, replace
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from govchain.errors import InputError

MAGIC = b"GOVCHAIN-BACKUP\n"
FORMAT_VERSION = 1
# scrypt N = 2**17, r = 8 (128 MiB, ≈0.7 s): a backup may be attacked offline for as long as the
# attacker likes, unlike the keystore on the server (keys.SCRYPT_N is 2**15).
SCRYPT_LOG_N = 17
SCRYPT_R = 8
SCRYPT_P = 1
SEGMENT_SIZE = 1 << 20
TAG_SIZE = 16
_FIELDS = struct.Struct(">16sHBBB16s7sI")  # magic … segment size: 48 bytes
HEADER_SIZE = _FIELDS.size + TAG_SIZE
_CHECK_COUNTER = 0xFFFFFFFF
_MAX_SEGMENTS = 0xFFFFFFFF  # the counter never reaches the check's nonce


@dataclass(frozen=True)
class Header:
    version: int
    log_n: int
    r: int
    p: int
    salt: bytes
    nonce_prefix: bytes
    segment_size: int
    check: bytes = b""

    def fields(self) -> bytes:
        return _FIELDS.pack(MAGIC, self.version, self.log_n, self.r, self.p, self.salt,
                            self.nonce_prefix, self.segment_size)

    def to_bytes(self) -> bytes:
        return self.fields() + self.check

    @classmethod
    def parse(cls, data: bytes) -> Header:
        """The header at the start of `data`; InputError for anything but a usable one."""
        if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
            raise InputError("Die Datei ist keine govchain-Sicherung")
        if len(data) < HEADER_SIZE:
            raise InputError("Die Sicherung ist beschädigt: der Dateikopf ist unvollständig")
        _, version, log_n, r, p, salt, prefix, size = _FIELDS.unpack_from(data)
        if version > FORMAT_VERSION:
            raise InputError(f"Die Sicherung hat das Format {version}; diese govchain-Version "
                             f"kennt nur Format {FORMAT_VERSION}. Bitte mit einer neueren "
                             "govchain-Version wiederherstellen.")
        # Bounds keep a damaged header from asking for gigabytes of memory or endless work.
        if version < 1 or not 14 <= log_n <= 22 or not 1 <= r <= 32 or not 1 <= p <= 16 \
                or (1 << log_n) * r * 128 > 1 << 30 or not 1024 <= size <= 64 << 20:
            raise InputError("Die Sicherung ist beschädigt: der Dateikopf ist ungültig")
        return cls(version, log_n, r, p, salt, prefix, size,
                   data[_FIELDS.size:HEADER_SIZE])

    def nonce(self, counter: int, flag: int) -> bytes:
        return self.nonce_prefix + struct.pack(">IB", counter, flag)


def _derive(header: Header, passphrase: str) -> bytes:
    kdf = Scrypt(salt=header.salt, length=32, n=1 << header.log_n, r=header.r, p=header.p)
    return kdf.derive(passphrase.encode("utf-8"))


def unlock(header: Header, passphrase: str) -> AESGCM:
    """The cipher of a backup for `passphrase`; InputError when it is the wrong one."""
    cipher = AESGCM(_derive(header, passphrase))
    try:
        cipher.decrypt(header.nonce(_CHECK_COUNTER, 2), header.check, header.fields())
    except InvalidTag:
        raise InputError("Falsche Passphrase für diese Sicherung (oder ihr Dateikopf ist "
                         "beschädigt)") from None
    return cipher


def read_header(source: BinaryIO) -> Header:
    return Header.parse(_read_exactly(source, HEADER_SIZE))


class SealedWriter:
    """Writes the header, then seals what is written in segments; close() writes the last one.
    Leaves `target` open."""

    def __init__(self, target: BinaryIO, passphrase: str, *, segment_size: int = SEGMENT_SIZE,
                 log_n: int = SCRYPT_LOG_N) -> None:
        header = Header(FORMAT_VERSION, log_n, SCRYPT_R, SCRYPT_P, secrets.token_bytes(16),
                        secrets.token_bytes(7), segment_size)
        self._cipher = AESGCM(_derive(header, passphrase))
        check = self._cipher.encrypt(header.nonce(_CHECK_COUNTER, 2), b"", header.fields())
        self._header = replace(header, check=check)
        self._aad = self._header.to_bytes()
        self._target = target
        self._buffer = bytearray()
        self._counter = 0
        self._closed = False
        self.written = len(self._aad)  # bytes of the file so far
        target.write(self._aad)

    def write(self, data: bytes) -> int:
        if self._closed:
            raise ValueError("write to a closed backup")
        self._buffer += data
        size = self._header.segment_size
        # Strictly more than one segment: the last segment is written by close(), marked last.
        while len(self._buffer) > size:
            self._seal(bytes(self._buffer[:size]), last=False)
            del self._buffer[:size]
        return len(data)

    def flush(self) -> None:
        """Nothing to do: a segment is written once it is full (gzip calls this)."""

    def close(self) -> None:
        if not self._closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._closed = True

    def _seal(self, plaintext: bytes, *, last: bool) -> None:
        if self._counter >= _MAX_SEGMENTS:
            raise InputError("Die Sicherung wäre zu groß (mehr als 2³² Abschnitte)")
        sealed = self._cipher.encrypt(self._header.nonce(self._counter, int(last)), plaintext,
                                      self._aad)
        self._target.write(sealed)
        self.written += len(sealed)
        self._counter += 1


class SealedReader:
    """Reads the plaintext of a backup whose header was read and unlocked; every byte returned
    has passed its segment's tag, and the end only counts after the segment marked last."""

    def __init__(self, source: BinaryIO, header: Header, cipher: AESGCM) -> None:
        self._source = source
        self._header = header
        self._cipher = cipher
        self._aad = header.to_bytes()
        self._sealed_size = header.segment_size + TAG_SIZE
        self._ahead = _read_exactly(source, self._sealed_size)
        self._counter = 0
        self._plain = b""
        self._pos = 0
        self._done = False

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while size < 0 or len(out) < size:
            if self._pos >= len(self._plain):
                if self._done:
                    break
                self._plain, self._pos = self._next_segment(), 0
                continue
            take = len(self._plain) - self._pos if size < 0 \
                else min(size - len(out), len(self._plain) - self._pos)
            out += self._plain[self._pos:self._pos + take]
            self._pos += take
        return bytes(out)

    def _next_segment(self) -> bytes:
        sealed = self._ahead
        if len(sealed) < TAG_SIZE:
            raise InputError("Die Sicherung ist beschädigt: sie ist abgeschnitten")
        # One segment ahead: the segment before the end of the file must be the one marked last.
        self._ahead = _read_exactly(self._source, self._sealed_size) \
            if len(sealed) == self._sealed_size else b""
        last = not self._ahead
        try:
            plain = self._cipher.decrypt(self._header.nonce(self._counter, int(last)), sealed,
                                         self._aad)
        except InvalidTag:
            where = "sie ist abgeschnitten oder " if last else ""
            raise InputError(f"Die Sicherung ist beschädigt: {where}Abschnitt {self._counter + 1} "
                             "wurde verändert") from None
        self._counter += 1
        self._done = last
        return plain


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes; fewer only at the end of the file."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = source.read(size - len(chunks))
        if not chunk:
            break
        chunks += chunk
    return bytes(chunks)
