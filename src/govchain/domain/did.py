"""Municipalities as DIDs (did:web, served by govchain), as a view of the ledger's signing keys.

A municipality with AGS 05315000 served at https://govchain.example.de is
``did:web:govchain.example.de:municipalities:05315000``; its DID document lives at
https://govchain.example.de/municipalities/05315000/did.json and lists the P-256 keys the Land
registered for it on the ledger (IssuerRegistry.signingKeysOf) as `Multikey` verification
methods, each named by its ledger key id: ``…:05315000#key-<keccak256 of the public key, hex>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from govchain.errors import InputError

DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
_KEY_FRAGMENT = re.compile(r"key-([0-9a-f]{64})")


def municipality_did(base_url: str, ags: str) -> str:
    """The did:web of the municipality `ags` served under `base_url` (its host, port and path)."""
    parts = urlsplit(base_url.rstrip("/"))
    if not parts.hostname:
        raise InputError(f"Keine gültige Basisadresse: {base_url!r}")
    host = quote(parts.netloc, safe="")
    path = [quote(p, safe="") for p in parts.path.split("/") if p]
    return ":".join(["did", "web", host, *path, "municipalities", ags])


def ags_of_did(did: str) -> str | None:
    """The AGS a municipality DID names (its last segment after ``municipalities``), else None."""
    if not isinstance(did, str) or not did.startswith("did:web:"):
        return None
    segments = did.split("#", 1)[0].split(":")
    if len(segments) < 5 or segments[-2] != "municipalities":
        return None
    ags = segments[-1]
    return ags if re.fullmatch(r"[0-9]{8}", ags) else None


def did_document_url(did: str, *, scheme: str = "https") -> str:
    """Where did:web says the DID document is (W3C did:web: https, path + /did.json)."""
    segments = did.split("#", 1)[0].split(":")[2:]
    host, path = unquote(segments[0]), [unquote(s) for s in segments[1:]]
    return f"{scheme}://{host}/" + "/".join([*path, "did.json"])


def method_id(did: str, key_id: bytes) -> str:
    return f"{did}#key-{bytes(key_id).hex()}"


def key_id_of_method(verification_method: str) -> tuple[str, bytes]:
    """The DID and the ledger key id a verification method URL names; InputError otherwise."""
    did, _, fragment = str(verification_method).partition("#")
    match = _KEY_FRAGMENT.fullmatch(fragment)
    if not did.startswith("did:web:") or match is None:
        raise InputError(f"Unbekannte Schlüsselangabe (verificationMethod): "
                         f"{str(verification_method)[:120]!r}")
    return did, bytes.fromhex(match.group(1))


def did_document(did: str, keys: Iterable[tuple[bytes, str]]) -> dict[str, Any]:
    """The DID document listing `keys` (ledger key id, publicKeyMultibase) as assertion keys."""
    methods = [{"id": method_id(did, key_id), "type": "Multikey", "controller": did,
                "publicKeyMultibase": multibase} for key_id, multibase in keys]
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
    }
