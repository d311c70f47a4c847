"""The encrypted backup file: what goes in comes out, and a wrong passphrase, a changed, cut,
extended or reordered file, or a newer format is refused before any plaintext is returned."""

from __future__ import annotations

import io
import secrets

import pytest

from govchain.adapters.backup_file import (
    FORMAT_VERSION,
    HEADER_SIZE,
    TAG_SIZE,
    SealedReader,
    SealedWriter,
    read_header,
    unlock,
)
from govchain.errors import InputError

PASSPHRASE = "eine lange Passphrase für Sicherungen"
SEGMENT = 1024  # small segments: several per test
CHEAP = 14  # scrypt N = 2**14 in tests (the format's smallest)


def seal(plaintext: bytes, passphrase: str = PASSPHRASE) -> bytes:
    out = io.BytesIO()
    writer = SealedWriter(out, passphrase, segment_size=SEGMENT, log_n=CHEAP)
    for start in range(0, len(plaintext), 700):  # writes that straddle segment borders
        writer.write(plaintext[start:start + 700])
    writer.close()
    assert writer.written == len(out.getvalue())
    return out.getvalue()


def unseal(data: bytes, passphrase: str = PASSPHRASE, *, read_size: int = -1) -> bytes:
    source = io.BytesIO(data)
    header = read_header(source)
    reader = SealedReader(source, header, unlock(header, passphrase))
    if read_size < 0:
        return reader.read()
    out = bytearray()
    while chunk := reader.read(read_size):
        out += chunk
    return bytes(out)


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT,
                                  5 * SEGMENT + 17])
def test_what_is_sealed_is_what_is_read(size: int) -> None:
    plaintext = secrets.token_bytes(size)
    data = seal(plaintext)
    segments = max(1, -(-size // SEGMENT))
    assert len(data) == HEADER_SIZE + size + segments * TAG_SIZE
    assert unseal(data) == plaintext
    assert unseal(data, read_size=333) == plaintext
    assert plaintext[:64] not in data or size < 16  # encrypted, not copied


def test_same_plaintext_and_passphrase_give_another_file() -> None:
    assert seal(b"x" * 100) != seal(b"x" * 100)  # fresh salt and nonce prefix


def test_neither_passphrase_nor_plaintext_is_in_the_file() -> None:
    plaintext = b"Erika Mustermann, geboren am 12.08.1964; " * 200
    data = seal(plaintext)
    assert PASSPHRASE.encode() not in data
    assert b"Mustermann" not in data and plaintext[:64] not in data


def test_a_wrong_passphrase_is_named_as_such() -> None:
    data = seal(b"geheim" * 1000)
    with pytest.raises(InputError, match="Falsche Passphrase"):
        unseal(data, "eine andere Passphrase, falsch")


@pytest.mark.parametrize("where", [HEADER_SIZE, HEADER_SIZE + SEGMENT + TAG_SIZE + 5, -1])
def test_a_changed_byte_is_refused(where: int) -> None:
    data = bytearray(seal(secrets.token_bytes(3 * SEGMENT + 100)))
    data[where] ^= 0x01
    with pytest.raises(InputError, match="beschädigt"):
        unseal(bytes(data))


def test_a_changed_header_is_refused() -> None:
    data = bytearray(seal(b"x" * 5000))
    data[25] ^= 0x01  # the salt: another key, so the check fails as for a wrong passphrase
    with pytest.raises(InputError, match="Passphrase"):
        unseal(bytes(data))


@pytest.mark.parametrize("segments_kept", [0, 1, 2])
def test_a_file_cut_after_a_segment_is_refused(segments_kept: int) -> None:
    data = seal(secrets.token_bytes(3 * SEGMENT + 100))
    cut = data[:HEADER_SIZE + segments_kept * (SEGMENT + TAG_SIZE)]
    with pytest.raises(InputError, match="abgeschnitten"):
        unseal(cut)


def test_a_file_cut_inside_a_segment_is_refused() -> None:
    data = seal(secrets.token_bytes(3 * SEGMENT))
    with pytest.raises(InputError, match="beschädigt"):
        unseal(data[:-7])


def test_appended_or_reordered_segments_are_refused() -> None:
    data = seal(secrets.token_bytes(3 * SEGMENT + 100))
    sealed = SEGMENT + TAG_SIZE
    first, second = data[HEADER_SIZE:HEADER_SIZE + sealed], data[HEADER_SIZE + sealed:
                                                                 HEADER_SIZE + 2 * sealed]
    swapped = data[:HEADER_SIZE] + second + first + data[HEADER_SIZE + 2 * sealed:]
    for broken in (data + b"\0" * 40, data + data[HEADER_SIZE:HEADER_SIZE + sealed], swapped):
        with pytest.raises(InputError, match="beschädigt"):
            unseal(broken)


def test_a_newer_format_is_refused_by_name() -> None:
    data = bytearray(seal(b"x"))
    data[16:18] = (FORMAT_VERSION + 1).to_bytes(2, "big")
    with pytest.raises(InputError, match="neueren govchain-Version"):
        read_header(io.BytesIO(bytes(data)))


def test_other_files_are_not_taken_for_backups() -> None:
    with pytest.raises(InputError, match="keine govchain-Sicherung"):
        read_header(io.BytesIO(b"PK\x03\x04" + b"\0" * 100))
    with pytest.raises(InputError, match="unvollständig"):
        read_header(io.BytesIO(seal(b"x")[:40]))


def test_a_header_asking_for_absurd_costs_is_refused() -> None:
    data = bytearray(seal(b"x"))
    data[18] = 40  # log2(N) = 40: terabytes of memory
    with pytest.raises(InputError, match="ungültig"):
        read_header(io.BytesIO(bytes(data)))
