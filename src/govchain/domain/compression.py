"""Inflating compressed lists from outside (status lists) without trusting their size."""

from __future__ import annotations

import zlib

from govchain.errors import InputError

ZLIB = zlib.MAX_WBITS  # RFC 1950 framing (Token Status List)
GZIP = 16 + zlib.MAX_WBITS  # RFC 1952 framing (Bitstring Status List)


def inflate(data: bytes, *, wbits: int, max_bytes: int, what: str) -> bytes:
    """`data` decompressed, refusing anything that inflates to more than `max_bytes` (a bomb
    stops there), is cut short or has bytes after its end; InputError names `what`."""
    kind = "GZIP" if wbits == GZIP else "ZLIB"
    inflater = zlib.decompressobj(wbits=wbits)
    try:
        out = inflater.decompress(data, max_bytes)
    except zlib.error as err:
        raise InputError(f"{what}: keine gültigen {kind}-Daten") from err
    if inflater.unconsumed_tail:
        raise InputError(f"{what}: entpackt größer als {max_bytes} Bytes")
    if not inflater.eof or inflater.unused_data:
        raise InputError(f"{what}: unvollständige oder überzählige {kind}-Daten")
    return out
