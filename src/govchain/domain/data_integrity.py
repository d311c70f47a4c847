"""W3C Data Integrity for govchain's documents: ``ecdsa-rdfc-2019`` proofs with P-256 keys, Multikey
and Bitstring Status Lists. Pure functions; JSON-LD contexts come only from the bundled copies in
``contexts/`` and what the caller passes in, never from the network.

Canonicalization is RDFC-1.0 by pyld. pyld has no JSON-LD "safe mode", so ``canonical_nquads``
refuses itself what would otherwise be signed silently without: terms that do not expand,
relative IRIs, blank-node predicates, ``@direction`` — and the few inputs where pyld's N-Quads or
number forms differ from RDFC-1.0 and JavaScript (control characters, unsafe integers).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import resources
from types import MappingProxyType
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyld import ContextResolver, jsonld

from govchain.domain.compression import GZIP, inflate
from govchain.errors import InputError

CREDENTIALS_V2: Final = "https://www.w3.org/ns/credentials/v2"
DID_V1: Final = "https://www.w3.org/ns/did/v1"
MULTIKEY_V1: Final = "https://w3id.org/security/multikey/v1"
DATA_INTEGRITY_V2: Final = "https://w3id.org/security/data-integrity/v2"

# Byte-exact copies from npm; contexts/README.md names package, version and licence of each.
_BUNDLED_CONTEXTS: Final = MappingProxyType({
    CREDENTIALS_V2: "credentials-v2.jsonld",
    DID_V1: "did-v1.jsonld",
    MULTIKEY_V1: "multikey-v1.jsonld",
    DATA_INTEGRITY_V2: "data-integrity-v2.jsonld",
})

PROOF_TYPE: Final = "DataIntegrityProof"
CRYPTOSUITE: Final = "ecdsa-rdfc-2019"

DocumentLoader = Callable[[str, dict[str, Any]], dict[str, Any]]

# -- JSON-LD contexts ---------------------------------------------------------------------------


def _unknown_context(url: str) -> InputError:
    return InputError(f"Unbekannter JSON-LD-Kontext: {url}")


def _refuse_network(url: str, options: dict[str, Any]) -> dict[str, Any]:
    raise _unknown_context(url)


# pyld's default loader fetches over HTTP; every call here passes its own loader, and should one
# ever be forgotten, this one refuses instead.
jsonld.set_document_loader(_refuse_network)


class _ContextCache(dict[str, Any]):
    """pyld's cache of resolved contexts for one loader; small, cleared when full. A plain dict,
    so concurrent use from threads cannot corrupt it (cachetools' LRUCache could)."""

    MAX_ENTRIES: Final = 256

    def __setitem__(self, key: str, value: Any) -> None:
        if len(self) >= self.MAX_ENTRIES:
            self.clear()
        super().__setitem__(key, value)


class ContextLoader:
    """A pyld document loader that serves the bundled contexts and the caller's, nothing else.

    Each document is kept as JSON text and parsed anew per request, so pyld, which edits contexts
    in place, cannot change what the next request gets. The contexts never change, so pyld may
    cache their processed form: in this loader's own cache (``context_cache``), never in pyld's
    process-wide one, where another loader's document for the same URL could answer instead.
    """

    def __init__(self, extra: Mapping[str, Mapping[str, Any]]) -> None:
        texts = {url: resources.files("govchain.domain").joinpath("contexts", name).read_text("utf-8")
                 for url, name in _BUNDLED_CONTEXTS.items()}
        for url, document in extra.items():
            if url in texts:
                raise InputError(f"Der JSON-LD-Kontext {url} ist mitgeliefert und kann nicht "
                                 "ersetzt werden")
            texts[url] = json.dumps(document, ensure_ascii=False)
        self._texts: Final = MappingProxyType(texts)
        self.context_cache: Final = _ContextCache()

    def __call__(self, url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        text = self._texts.get(url)
        if text is None:
            raise _unknown_context(url)
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
                "document": json.loads(text), "tag": "static"}


_NO_EXTRA: Final[Mapping[str, Mapping[str, Any]]] = MappingProxyType({})


def bundled_context(url: str) -> dict[str, Any]:
    """One of the bundled W3C contexts, parsed (e.g. to know which terms it defines)."""
    name = _BUNDLED_CONTEXTS.get(url)
    if name is None:
        raise _unknown_context(url)
    document: dict[str, Any] = json.loads(
        resources.files("govchain.domain").joinpath("contexts", name).read_text("utf-8"))
    return document


def document_loader(extra: Mapping[str, Mapping[str, Any]] = _NO_EXTRA) -> ContextLoader:
    """A loader (pyld's format) for the W3C contexts bundled here and the ``extra`` documents
    (URL → JSON-LD document, e.g. govchain's own context); any other URL raises InputError.
    Build it once and reuse it: it caches the processed contexts."""
    return ContextLoader(extra)


# -- canonicalization ---------------------------------------------------------------------------

_MAX_SAFE_INT: Final = 2 ** 53 - 1
# Characters RDFC-1.0 writes as \uXXXX in literals and pyld does not escape at all; tab, line feed
# and carriage return are escaped alike by both.
_UNESCAPED_BY_PYLD: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# pyld's own test for an absolute IRI (jsonld._is_absolute_iri): what fails it is left out of RDF.
_ABSOLUTE_IRI: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$")
# Characters RDFC-1.0 escapes in IRIs and pyld does not; no valid IRI contains them.
_IRI_FORBIDDEN: Final = re.compile(r'[<>"{}|^`\\]')


def _plain_json(value: Any, path: str) -> Any:
    """A copy as plain dicts and lists, numbers as JavaScript reads them.

    jsonld.js, the reference every other verifier follows, sees the JSON number 1.0 as the
    integer 1 (xsd:integer), pyld as a double ("1.0E0"); integral floats therefore become ints.
    Integers beyond 2**53 have no JavaScript equal and are refused, as are control characters
    that pyld and RDFC-1.0 would write differently.
    """
    if isinstance(value, str):
        if _UNESCAPED_BY_PYLD.search(value):
            raise InputError(f"Steuerzeichen in {path or '/'} sind in signierten Dokumenten nicht "
                             "erlaubt")
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise InputError(f"Die Zahl in {path or '/'} ist zu groß (höchstens 2^53 - 1); als "
                             "Zeichenkette angeben")
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InputError(f"Ungültige Zahl in {path or '/'}")
        if value.is_integer() and abs(value) < 1e21:
            if abs(value) > _MAX_SAFE_INT:
                raise InputError(f"Die Zahl in {path or '/'} ist zu groß (höchstens 2^53 - 1); "
                                 "als Zeichenkette angeben")
            return int(value)
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InputError(f"Schlüssel in {path or '/'} müssen Zeichenketten sein")
            sub = f"{path}/{key}"
            _plain_json(key, sub)
            out[key] = _plain_json(item, sub)
        return out
    if isinstance(value, list | tuple):
        return [_plain_json(item, f"{path}/{i}") for i, item in enumerate(value)]
    raise InputError(f"{path or '/'}: kein JSON-Wert ({type(value).__name__})")


def _check_iri(iri: Any, what: str) -> None:
    if not isinstance(iri, str) or not _ABSOLUTE_IRI.match(iri) or _IRI_FORBIDDEN.search(iri):
        raise InputError(f"{what} {iri!r} ist keine absolute IRI und würde nicht mitsigniert")


def _check_expanded(items: list[Any], *, nodes_only: bool = False) -> None:
    """Everything an expanded document holds must reach RDF: pyld would silently leave out
    relative IRIs, blank-node predicates and text directions."""
    for item in items:
        if not isinstance(item, dict):
            continue
        if "@value" in item:
            if nodes_only:
                raise InputError(f"Freistehender Wert {item['@value']!r} würde nicht mitsigniert")
            if "@direction" in item:
                raise InputError("Textrichtungen (@direction) werden nicht mitsigniert und sind "
                                 "daher nicht erlaubt")
            datatype = item.get("@type")
            if datatype is not None and datatype != "@json":
                _check_iri(datatype, "Datentyp")
            continue
        if "@list" in item:
            if nodes_only:
                raise InputError("Freistehende Liste würde nicht mitsigniert")
            _check_expanded(item["@list"])
            continue
        if "@id" in item:
            _check_iri(item["@id"], "Die Kennung")
        for type_iri in item.get("@type", ()):
            _check_iri(type_iri, "Der Typ")
        for key, values in item.items():
            if key in ("@graph", "@included"):
                _check_expanded(values, nodes_only=True)
            elif key == "@reverse":
                for predicate, reverse_values in values.items():
                    _check_predicate(predicate)
                    _check_expanded(reverse_values)
            elif not key.startswith("@"):
                _check_predicate(key)
                _check_expanded(values)


def _check_predicate(iri: str) -> None:
    _check_iri(iri, "Die Eigenschaft")
    if iri.startswith("_:"):
        raise InputError(f"Die Eigenschaft {iri!r} ist ein leerer Knoten und würde nicht "
                         "mitsigniert")


def _refuse_dropped(expanded_property: str | None) -> None:
    name = "" if expanded_property is None else f" {expanded_property!r}"
    raise InputError(f"Der Begriff{name} ist in keinem JSON-LD-Kontext definiert und würde nicht "
                     "mitsigniert")


def _jsonld_error(err: BaseException) -> InputError:
    """The InputError behind pyld's wrapping (our loader's), or one telling pyld's innermost."""
    innermost: BaseException = err
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, InputError):
            return cause
        innermost = cause
        cause = cause.__cause__
    if isinstance(innermost, RecursionError):
        return InputError("Ungültiges JSON-LD: zu tief verschachtelt")
    message = innermost.args[0] if innermost.args else type(innermost).__name__
    code = getattr(innermost, "code", None)
    return InputError(f"Ungültiges JSON-LD: {message}" + (f" ({code})" if code else ""))


def canonical_nquads(document: Mapping[str, Any], loader: DocumentLoader) -> str:
    """The RDFC-1.0 canonical N-Quads of a JSON-LD document.

    Refuses (InputError) what would not be signed: a term no context defines, relative IRIs,
    unknown contexts; see the module docstring.
    """
    plain = _plain_json(document, "")
    cache = loader.context_cache if isinstance(loader, ContextLoader) else _ContextCache()
    # No base IRI: with base "" pyld would resolve relative IRIs against http://example.org/base/
    # and sign that; with None they stay relative, and _check_expanded refuses them.
    options: dict[str, Any] = {"documentLoader": loader, "base": None}
    try:
        options["contextResolver"] = ContextResolver(cache, loader)
        expanded = jsonld.JsonLdProcessor(on_property_dropped=_refuse_dropped).expand(plain, options)
        _check_expanded(expanded, nodes_only=True)
        options["contextResolver"] = ContextResolver(cache, loader)
        nquads: str = jsonld.normalize(expanded, {**options, "algorithm": "URDNA2015",
                                                  "format": "application/n-quads"})
    except (jsonld.JsonLdError, RecursionError) as err:
        raise _jsonld_error(err) from err
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        # pyld trips over some invalid input instead of reporting it (e.g. {"@vocab": null}
        # after a context without @vocab raises KeyError); the input is plain JSON by now.
        raise InputError(f"Ungültiges JSON-LD ({type(err).__name__}: {err})") from err
    return nquads


# -- base58btc and Multikey ---------------------------------------------------------------------

_B58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX: Final = MappingProxyType({c: i for i, c in enumerate(_B58_ALPHABET)})


def base58btc_encode(data: bytes) -> str:
    """Bitcoin's base58 (the multibase ``z`` alphabet); leading zero bytes become ``1``."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, rest = divmod(number, 58)
        digits.append(_B58_ALPHABET[rest])
    return "1" * zeros + "".join(reversed(digits))


def base58btc_decode(text: str) -> bytes:
    """Inverse of :func:`base58btc_encode`; InputError for characters outside the alphabet."""
    number = 0
    for char in text:
        digit = _B58_INDEX.get(char)
        if digit is None:
            raise InputError(f"Ungültiges Zeichen {char!r} in Base58")
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * zeros + body


_MULTICODEC_P256_PUB: Final = b"\x80\x24"  # varint of 0x1200, p256-pub
_MAX_MULTIBASE_CHARS: Final = 128  # a key or signature is far shorter; big-int work stays small


def _multibase_z(text: Any, what: str) -> bytes:
    if not isinstance(text, str) or not text.startswith("z") or len(text) > _MAX_MULTIBASE_CHARS:
        raise InputError(f"{what}: erwartet Multibase base58btc (beginnt mit 'z')")
    return base58btc_decode(text[1:])


def _require_p256(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise InputError(f"Erwartet ein P-256-Schlüssel, nicht {key.curve.name}")


def public_key_multibase(key: ec.EllipticCurvePublicKey) -> str:
    """The Multikey ``publicKeyMultibase`` of a P-256 key: 'z' + base58btc(0x80 0x24 ‖ the
    33-byte compressed point), as in ``did:key:zDn…``."""
    _require_p256(key)
    point = key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    return "z" + base58btc_encode(_MULTICODEC_P256_PUB + point)


def public_key_from_multibase(text: str) -> ec.EllipticCurvePublicKey:
    """Inverse of :func:`public_key_multibase`; InputError for anything but a P-256 Multikey."""
    raw = _multibase_z(text, "Öffentlicher Schlüssel")
    if len(raw) != 35 or not raw.startswith(_MULTICODEC_P256_PUB):
        raise InputError("Öffentlicher Schlüssel: kein P-256-Multikey (0x1200, 33 Bytes)")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw[2:])
    except ValueError as err:
        raise InputError("Öffentlicher Schlüssel: kein Punkt auf P-256") from err


def public_key_from_bytes(point: bytes) -> ec.EllipticCurvePublicKey:
    """A P-256 key from its 33-byte compressed SEC1 form (as the ledger stores it)."""
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(point))
    except ValueError as err:
        raise InputError("Öffentlicher Schlüssel: kein Punkt auf P-256") from err


# -- ecdsa-rdfc-2019 ----------------------------------------------------------------------------

_XSD_DATETIME: Final = re.compile(
    r"^-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$")
_SIGNATURE_BYTES: Final = 64


def xsd_datetime(moment: datetime) -> str:
    """'2026-05-01T08:30:00Z': UTC, whole seconds, as proofs and credentials write points in time."""
    if moment.tzinfo is None:
        raise InputError("Zeitpunkt ohne Zeitzone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _without_proof(document: Mapping[str, Any]) -> dict[str, Any]:
    """The unsecured document: without ``proof``, the whole proof set included (as
    jsonld-signatures verifies each proof of a set)."""
    if "@context" not in document:
        raise InputError("Das Dokument hat keinen @context")
    return {key: value for key, value in document.items() if key != "proof"}


def _hash_data(unsecured: Mapping[str, Any], proof_options: Mapping[str, Any],
               loader: DocumentLoader) -> bytes:
    """sha256(canonical proof configuration) ‖ sha256(canonical document)."""
    if proof_options.get("type") != PROOF_TYPE or proof_options.get("cryptosuite") != CRYPTOSUITE:
        raise InputError(f"Kein {PROOF_TYPE} mit cryptosuite {CRYPTOSUITE}")
    created = proof_options.get("created")
    if created is not None and not (isinstance(created, str) and _XSD_DATETIME.match(created)):
        raise InputError(f"Ungültiger Zeitpunkt created: {created!r}")
    config = {**proof_options, "@context": unsecured["@context"]}
    config_hash = hashlib.sha256(canonical_nquads(config, loader).encode("utf-8")).digest()
    document_hash = hashlib.sha256(canonical_nquads(unsecured, loader).encode("utf-8")).digest()
    return config_hash + document_hash


def create_proof(document: Mapping[str, Any], *, private_key: ec.EllipticCurvePrivateKey,
                 verification_method: str, created: datetime, loader: DocumentLoader,
                 proof_purpose: str = "assertionMethod") -> dict[str, Any]:
    """A ``DataIntegrityProof`` (ecdsa-rdfc-2019) over the document without its ``proof``.

    Returns the proof object, without ``@context``; the caller adds it to the document (or to
    its proof set). The signature is randomized: each call gives a different ``proofValue``.
    """
    _require_p256(private_key)
    options: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": xsd_datetime(created),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    hash_data = _hash_data(_without_proof(document), options, loader)
    r, s = decode_dss_signature(private_key.sign(hash_data, ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # IEEE P1363, as the suite wants
    return {**options, "proofValue": "z" + base58btc_encode(signature)}


def verify_proof(document: Mapping[str, Any], proof: Mapping[str, Any],
                 public_key: ec.EllipticCurvePublicKey, loader: DocumentLoader) -> bool:
    """Whether ``proof`` (one ecdsa-rdfc-2019 proof, of the document or of its proof set) is
    a valid signature of ``document`` by ``public_key``.

    False for a signature that does not hold; InputError for a proof that is malformed or of
    another kind, for chained proofs (``previousProof``) and for documents that cannot be
    canonicalized. Says nothing about whether the key belongs to ``verificationMethod``.
    """
    _require_p256(public_key)
    if not isinstance(proof, Mapping):
        raise InputError("Der Nachweis ist kein JSON-Objekt")
    if "previousProof" in proof:
        raise InputError("Verkettete Nachweise (previousProof) werden nicht unterstützt")
    signature = _multibase_z(proof.get("proofValue"), "proofValue")
    if len(signature) != _SIGNATURE_BYTES:
        raise InputError(f"proofValue: erwartet {_SIGNATURE_BYTES} Bytes, nicht {len(signature)}")
    unsecured = _without_proof(document)
    options = {key: value for key, value in proof.items() if key not in ("proofValue", "@context")}
    if "@context" in proof:
        # The proof's context must begin the document's; then it is the one both are read with.
        proof_context = _as_list(proof["@context"])
        if _as_list(unsecured["@context"])[:len(proof_context)] != proof_context:
            raise InputError("Der @context des Nachweises passt nicht zu dem des Dokuments")
        unsecured["@context"] = proof["@context"]
    hash_data = _hash_data(unsecured, options, loader)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                               int.from_bytes(signature[32:], "big"))
    try:
        public_key.verify(der, hash_data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


# -- Bitstring Status List ----------------------------------------------------------------------

MIN_STATUS_LIST_BITS: Final = 131072  # 16 KiB: the spec's minimum, for herd privacy
MAX_STATUS_LIST_BYTES: Final = 16 * 1024 * 1024  # what decode inflates at most (gzip bombs)


def set_bit(buf: bytearray, index: int, value: bool = True) -> None:
    """Sets (or clears) bit ``index``; bit 0 is the most significant bit of the first byte."""
    _check_index(buf, index)
    mask = 0x80 >> (index % 8)
    if value:
        buf[index // 8] |= mask
    else:
        buf[index // 8] &= ~mask & 0xFF


def get_bit(buf: bytes | bytearray, index: int) -> bool:
    _check_index(buf, index)
    return bool(buf[index // 8] & (0x80 >> (index % 8)))


def _check_index(buf: bytes | bytearray, index: int) -> None:
    if not 0 <= index < len(buf) * 8:
        raise IndexError(f"Statusindex {index} außerhalb der Liste (0…{len(buf) * 8 - 1})")


def encode_status_list(bits: bytes) -> str:
    """``encodedList``: multibase base64url without padding ('u') of the GZIP-compressed
    bitstring. Deterministic (no timestamp in the GZIP header), so a hash of it can be an ETag."""
    if len(bits) * 8 < MIN_STATUS_LIST_BITS:
        raise InputError(f"Eine Statusliste hat mindestens {MIN_STATUS_LIST_BITS} Bits")
    compressed = gzip.compress(bytes(bits), compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_status_list(text: str, *, max_bytes: int = MAX_STATUS_LIST_BYTES) -> bytes:
    """Inverse of :func:`encode_status_list`; InputError for anything malformed, shorter than
    the minimum or inflating to more than ``max_bytes``."""
    if not isinstance(text, str) or not text.startswith("u"):
        raise InputError("encodedList: erwartet Multibase base64url (beginnt mit 'u')")
    body = text[1:]
    try:
        compressed = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
    except ValueError as err:
        raise InputError("encodedList: kein gültiges base64url") from err
    bits = inflate(compressed, wbits=GZIP, max_bytes=max_bytes, what="encodedList")
    if len(bits) * 8 < MIN_STATUS_LIST_BITS:
        raise InputError(f"encodedList: kürzer als {MIN_STATUS_LIST_BITS} Bits")
    return bits
