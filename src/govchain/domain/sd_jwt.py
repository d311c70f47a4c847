"""SD-JWT (RFC 9901, Selective Disclosure for JWTs) in the shape of SD-JWT VC: issuing with
every claim selectively disclosable, presenting a chosen part with Key Binding, verifying.

The issuer signs only digests: each disclosable claim travels as a separate Disclosure (salt,
name, value), and the signed payload holds its salted SHA-256 digest. A holder presents the
issuer-signed JWT with the Disclosures of what it shows; hidden claims stay digests, which
reveal neither names nor values. Everything but the top-level names the issuer keeps visible
(``iss``, ``vct``, ``cnf``, ``exp``, …) is disclosable on its own, at every depth: the properties
of a nested object each and the object itself, every array element — so a holder can show the
place of residence without the street, or one of several conditions.

Verification follows RFC 9901, section 7 and refuses rather than repairs: each Disclosure must
be referenced exactly once, a digest may appear only once anywhere, names may not collide,
object and array Disclosures may not swap places; where the RFC leaves room (an array element
with ``...`` and further members, a KB-JWT without ``cnf`` to check it by) it refuses too. What
the verifier gets back (``Verified.claims``) is exactly what the issuer signed, restricted to
what was disclosed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec

from govchain.domain import strictjson
from govchain.domain.jose import (
    Jws,
    b64url_decode,
    b64url_encode,
    check_times,
    decode_jwt,
    json_bytes,
    jwk_thumbprint,
    public_jwk,
    public_key_from_jwk,
    sign_jwt,
    verify_jws,
)
from govchain.errors import InputError

TYP: Final = "dc+sd-jwt"  # SD-JWT VC
KB_TYP: Final = "kb+jwt"
SD_ALG: Final = "sha-256"
KB_CLOCK_SKEW: Final = 60  # seconds a Key Binding JWT may be dated ahead of the verifier
MAX_DEPTH: Final = strictjson.MAX_DEPTH  # of the reconstructed claims
_RESERVED: Final = frozenset({"_sd", "..."})

ClaimPath = tuple[str | int, ...]
"""Where a claim sits in the claims: object member names and array indexes from the top."""


class SdJwtError(InputError):
    """An SD-JWT, a Disclosure or a Key Binding JWT is malformed, badly signed, or does not
    satisfy RFC 9901's rules; or claims cannot be issued as an SD-JWT."""


@dataclass(frozen=True)
class Verified:
    """A verified SD-JWT. ``payload`` is the issuer-signed JWT payload as signed (digests and
    all); ``claims`` what it says with the presented Disclosures: undisclosed claims, ``_sd``
    and ``_sd_alg`` removed. ``disclosed`` holds the paths (into ``claims``) of the claims that
    came from Disclosures; ``key_binding`` the payload of the verified Key Binding JWT."""

    header: dict[str, Any]
    payload: dict[str, Any]
    claims: dict[str, Any]
    disclosed: frozenset[ClaimPath]
    key_binding: dict[str, Any] | None


def _wrap(err: InputError, what: str) -> SdJwtError:
    return SdJwtError(f"{what}: {err}")


def _digest(encoded: str) -> str:
    """The digest by which the payload refers to a Disclosure: of its base64url text as sent."""
    return b64url_encode(hashlib.sha256(encoded.encode("ascii")).digest())


def _show(path: ClaimPath) -> str:
    return "/" + "/".join(str(step) for step in path)


# -- issuing ------------------------------------------------------------------------------------


def new_salt() -> str:
    """128 random bits, base64url: the salt RFC 9901 recommends for each Disclosure."""
    return b64url_encode(secrets.token_bytes(16))


def _decoy() -> str:
    return b64url_encode(hashlib.sha256(secrets.token_bytes(32)).digest())


def _scalar(value: Any, path: ClaimPath) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | float):
        try:
            return strictjson.normalize_number(value)
        except InputError as err:
            raise _wrap(err, _show(path)) from err
    raise SdJwtError(f"{_show(path)}: kein JSON-Wert ({type(value).__name__})")


def _check_name(name: object, path: ClaimPath) -> str:
    if not isinstance(name, str):
        raise SdJwtError(f"{_show(path)}: Namen müssen Zeichenketten sein")
    if name in _RESERVED:
        raise SdJwtError(f"{_show(path)}: der Name {name!r} ist in SD-JWT reserviert")
    return name


def _plain(value: Any, path: ClaimPath) -> Any:
    """A JSON copy of a claim that stays visible; checked like disclosable ones, since the
    verifier reads ``_sd`` and ``...`` members at every depth."""
    if len(path) > MAX_DEPTH:
        raise SdJwtError(f"Zu tief verschachtelte Angaben (höchstens {MAX_DEPTH} Ebenen)")
    if isinstance(value, Mapping):
        return {_check_name(name, path): _plain(item, (*path, name)) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, (*path, index)) for index, item in enumerate(value)]
    return _scalar(value, path)


class _Concealer:
    """Turns claims into a payload of digests, collecting the Disclosures."""

    def __init__(self, salt: Callable[[], str], decoys: int,
                 whole: Collection[ClaimPath] = ()) -> None:
        self._salt = salt
        self._decoys = decoys
        self._whole = frozenset(whole)
        self.disclosures: list[str] = []

    def _disclose(self, *content: Any) -> str:
        try:
            encoded = b64url_encode(json_bytes([self._salt(), *content]))
        except InputError as err:
            raise _wrap(err, "Offenlegung") from err
        self.disclosures.append(encoded)
        return _digest(encoded)

    def object(self, claims: Mapping[Any, Any], path: ClaimPath,
               visible: Collection[str] = ()) -> dict[str, Any]:
        out: dict[str, Any] = {}
        digests: list[str] = []
        for name, value in claims.items():
            _check_name(name, path)
            if name in visible:
                out[name] = _plain(value, (*path, name))
            elif (*path, name) in self._whole:
                digests.append(self._disclose(name, _plain(value, (*path, name))))
            else:
                digests.append(self._disclose(name, self.value(value, (*path, name))))
        if digests:
            digests += [_decoy() for _ in range(self._decoys)]
            out["_sd"] = sorted(digests)  # sorted: the order says nothing about the claims
        return out

    def value(self, value: Any, path: ClaimPath) -> Any:
        if len(path) > MAX_DEPTH:
            raise SdJwtError(f"Zu tief verschachtelte Angaben (höchstens {MAX_DEPTH} Ebenen)")
        if isinstance(value, Mapping):
            return self.object(value, path)
        if isinstance(value, list | tuple):
            return [{"...": self._disclose(self.value(item, (*path, index)))}
                    for index, item in enumerate(value)]
        return _scalar(value, path)


def make_disclosures(claims: Mapping[str, Any], *, always_visible: Collection[str] = (),
                     whole: Collection[ClaimPath] = (), salt: Callable[[], str] = new_salt,
                     decoys: int = 0) -> tuple[dict[str, Any], list[str]]:
    """The SD-JWT payload for ``claims`` (``_sd`` digests and ``_sd_alg``) and the encoded
    Disclosures. Every member of every object and every array element is disclosable, except
    the top-level names in ``always_visible``, which stay as they are (their values too), and
    the object members at the paths in ``whole``: each one Disclosure with its value as it is
    (shown entirely or not at all, e.g. fields a holder may never hide in part).
    ``decoys`` random digests are added to each object with disclosable members, so that the
    number of its members does not show."""
    if decoys < 0:
        raise ValueError("decoys darf nicht negativ sein")
    if "_sd_alg" in claims:
        raise SdJwtError("Der Name '_sd_alg' ist in SD-JWT reserviert")
    concealer = _Concealer(salt, decoys, whole)
    payload = concealer.object(claims, (), visible=frozenset(always_visible))
    payload["_sd_alg"] = SD_ALG
    return payload, concealer.disclosures


def issue(payload_claims: Mapping[str, Any], *, header_extra: Mapping[str, Any],
          private_key: ec.EllipticCurvePrivateKey, always_visible: Collection[str],
          whole: Collection[ClaimPath] = (), salt: Callable[[], str] = new_salt,
          decoys: int = 0) -> str:
    """An SD-JWT ``<issuer-signed JWT>~<Disclosure>~…~`` with all Disclosures, for the holder.
    The header is ``{"alg": "ES256", "typ": "dc+sd-jwt"}`` with ``header_extra`` (``kid``)."""
    payload, disclosures = make_disclosures(payload_claims, always_visible=always_visible,
                                            whole=whole, salt=salt, decoys=decoys)
    header = {"typ": TYP, **header_extra}
    try:
        issuer_jwt = sign_jwt(header, payload, private_key)
    except InputError as err:
        raise _wrap(err, "Aussteller-JWT") from err
    return issuer_jwt + "~" + "".join(disclosure + "~" for disclosure in disclosures)


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Disclosure:
    encoded: str
    name: str | None  # None: an array element
    value: Any


def _parse_disclosure(encoded: str) -> _Disclosure:
    if not encoded:
        raise SdJwtError("Leere Offenlegung (zwei ~ hintereinander)")
    try:
        array = strictjson.loads(b64url_decode(encoded, "Offenlegung"))
    except InputError as err:
        raise _wrap(err, "Offenlegung") from err
    if not isinstance(array, list) or len(array) not in (2, 3):
        raise SdJwtError("Offenlegung: erwartet ein JSON-Array aus 2 oder 3 Elementen")
    if not isinstance(array[0], str):
        raise SdJwtError("Offenlegung: das Salz ist keine Zeichenkette")
    if len(array) == 2:
        return _Disclosure(encoded, None, array[1])
    name = array[1]
    if not isinstance(name, str):
        raise SdJwtError("Offenlegung: der Name ist keine Zeichenkette")
    if name in _RESERVED:
        raise SdJwtError(f"Offenlegung: der Name {name!r} ist nicht erlaubt")
    return _Disclosure(encoded, name, array[2])


def _parse_disclosures(encoded: list[str], max_disclosures: int) -> dict[str, _Disclosure]:
    if len(encoded) > max_disclosures:
        raise SdJwtError(f"Zu viele Offenlegungen (höchstens {max_disclosures})")
    by_digest: dict[str, _Disclosure] = {}
    for text in encoded:
        disclosure = _parse_disclosure(text)
        digest = _digest(text)
        if digest in by_digest:
            raise SdJwtError("Eine Offenlegung ist mehrfach enthalten")
        by_digest[digest] = disclosure
    return by_digest


class _Reconstruction:
    """Claims from a payload and Disclosures (RFC 9901, section 7.1, step 3): each digest
    found once at most, each Disclosure used once, in its place (object or array)."""

    def __init__(self, disclosures: Mapping[str, _Disclosure]) -> None:
        self._disclosures = disclosures
        self._seen: set[str] = set()
        # digest -> (path of its claim, digest of the Disclosure whose value holds it)
        self.used: dict[str, tuple[ClaimPath, str | None]] = {}

    def _take(self, digest: object, path: ClaimPath) -> tuple[str, _Disclosure] | None:
        if not isinstance(digest, str):
            raise SdJwtError(f"{_show(path)}: ein Digest ist keine Zeichenkette")
        if digest in self._seen:
            raise SdJwtError(f"{_show(path)}: ein Digest kommt mehrfach vor")
        self._seen.add(digest)
        disclosure = self._disclosures.get(digest)
        return None if disclosure is None else (digest, disclosure)

    def value(self, value: Any, path: ClaimPath, parent: str | None) -> Any:
        if len(path) > MAX_DEPTH:
            raise SdJwtError(f"Zu tief verschachtelte Angaben (höchstens {MAX_DEPTH} Ebenen)")
        if isinstance(value, dict):
            return self.object(value, path, parent)
        if isinstance(value, list):
            return self._array(value, path, parent)
        return value

    def object(self, obj: Mapping[str, Any], path: ClaimPath, parent: str | None) -> dict[str, Any]:
        out = {name: self.value(value, (*path, name), parent)
               for name, value in obj.items() if name != "_sd"}
        digests = obj.get("_sd", [])
        if not isinstance(digests, list):
            raise SdJwtError(f"{_show(path)}: _sd ist kein Array")
        for digest in digests:
            found = self._take(digest, path)
            if found is None:
                continue  # not disclosed, or a decoy
            digest, disclosure = found
            if disclosure.name is None:
                raise SdJwtError(f"{_show(path)}: eine Offenlegung eines Array-Elements steht "
                                 "in _sd eines Objekts")
            if disclosure.name in out:
                raise SdJwtError(f"{_show(path)}: der Name {disclosure.name!r} kommt mehrfach vor")
            claim_path = (*path, disclosure.name)
            self.used[digest] = (claim_path, parent)
            out[disclosure.name] = self.value(disclosure.value, claim_path, digest)
        return out

    def _array(self, array: list[Any], path: ClaimPath, parent: str | None) -> list[Any]:
        out: list[Any] = []
        for item in array:
            if not (isinstance(item, dict) and "..." in item):
                out.append(self.value(item, (*path, len(out)), parent))
                continue
            if len(item) != 1:
                raise SdJwtError(f"{_show(path)}: ein Array-Element mit '...' hat weitere Namen")
            found = self._take(item["..."], path)
            if found is None:
                continue
            digest, disclosure = found
            if disclosure.name is not None:
                raise SdJwtError(f"{_show(path)}: eine Offenlegung mit Namen steht an der Stelle "
                                 "eines Array-Elements")
            claim_path = (*path, len(out))
            self.used[digest] = (claim_path, parent)
            out.append(self.value(disclosure.value, claim_path, digest))
        return out


def _reconstruct(payload: Mapping[str, Any], disclosures: Mapping[str, _Disclosure]
                 ) -> tuple[dict[str, Any], dict[str, tuple[ClaimPath, str | None]]]:
    sd_alg = payload.get("_sd_alg", SD_ALG)
    if sd_alg != SD_ALG:
        raise SdJwtError(f"Hash-Algorithmus _sd_alg {str(sd_alg)[:20]!r} wird nicht unterstützt; "
                         f"nur {SD_ALG}")
    reconstruction = _Reconstruction(disclosures)
    claims = reconstruction.object({name: value for name, value in payload.items()
                                    if name != "_sd_alg"}, (), None)
    unused = len(disclosures) - len(reconstruction.used)
    if unused:
        raise SdJwtError(f"{unused} Offenlegung(en) gehören nicht zu diesem SD-JWT")
    return claims, reconstruction.used


def _split(text: str, max_length: int) -> tuple[str, list[str], str]:
    """Issuer-signed JWT, Disclosures, and what follows the last ~ (a KB-JWT or nothing)."""
    if not isinstance(text, str):
        raise SdJwtError("SD-JWT: keine Zeichenkette")
    if len(text) > max_length:
        raise SdJwtError(f"SD-JWT zu lang (höchstens {max_length} Zeichen)")
    parts = text.split("~")
    if len(parts) < 2:
        raise SdJwtError("Kein SD-JWT: erwartet durch ~ getrennte Teile")
    return parts[0], parts[1:-1], parts[-1]


def _decode(token: str, what: str, max_length: int) -> Jws:
    try:
        return decode_jwt(token, max_length=max_length)
    except InputError as err:
        raise _wrap(err, what) from err


def _sd_hash(presented: str) -> str:
    """The Key Binding JWT's ``sd_hash``: of the presentation up to and including its last ~."""
    return b64url_encode(hashlib.sha256(presented.encode("ascii")).digest())


# -- presenting ---------------------------------------------------------------------------------


def present(sd_jwt: str, keep: Callable[[ClaimPath], bool], *,
            holder_key: ec.EllipticCurvePrivateKey | None = None, aud: str | None = None,
            nonce: str | None = None, iat: int | None = None) -> str:
    """A presentation of ``sd_jwt`` (as issued, without Key Binding) with the Disclosures of
    the claims whose path ``keep`` accepts, and of the objects and arrays on the way to them.
    Paths are those of the claims with all Disclosures of ``sd_jwt`` (array indexes as issued).
    With ``holder_key`` a Key Binding JWT for ``aud`` and ``nonce``, dated ``iat``, is added.
    """
    if not isinstance(sd_jwt, str):
        raise SdJwtError("SD-JWT: keine Zeichenkette")
    issuer_jwt, encoded, rest = _split(sd_jwt, len(sd_jwt))
    if rest:
        raise SdJwtError("Das SD-JWT hat schon ein Key-Binding-JWT")
    jws = _decode(issuer_jwt, "Aussteller-JWT", len(issuer_jwt))
    disclosures = _parse_disclosures(encoded, len(encoded))
    claims, used = _reconstruct(jws.payload, disclosures)
    kept: set[str] = set()
    for digest, (path, _) in used.items():
        if keep(path):
            step: str | None = digest
            while step is not None and step not in kept:
                kept.add(step)
                step = used[step][1]
    presented = issuer_jwt + "~" + "".join(
        text + "~" for digest, text in ((_digest(text), text) for text in encoded) if digest in kept)
    if holder_key is None:
        return presented
    if aud is None or nonce is None or iat is None:
        raise ValueError("Key Binding braucht aud, nonce und iat")
    cnf = claims.get("cnf")
    if isinstance(cnf, dict) and "jwk" in cnf:
        try:
            matches = jwk_thumbprint(cnf["jwk"]) == jwk_thumbprint(public_jwk(holder_key.public_key()))
        except InputError as err:
            raise _wrap(err, "cnf") from err
        if not matches:
            raise SdJwtError("Der Schlüssel des Inhabers ist nicht der im SD-JWT (cnf)")
    kb_jwt = sign_jwt({"typ": KB_TYP},
                      {"iat": iat, "aud": aud, "nonce": nonce, "sd_hash": _sd_hash(presented)},
                      holder_key)
    return presented + kb_jwt


# -- verifying ----------------------------------------------------------------------------------


def _check_key_binding(kb_token: str, presented: str, claims: Mapping[str, Any], *,
                       audience: str | None, nonce: str | None, now: int,
                       max_kb_age: int) -> dict[str, Any]:
    """RFC 9901, section 7.3: the KB-JWT is signed by the key the issuer bound (``cnf``), for
    this verifier and nonce, recent, and over exactly this presentation."""
    jws = _decode(kb_token, "Key-Binding-JWT", len(kb_token))
    if jws.header.get("typ") != KB_TYP:
        raise SdJwtError(f"Key-Binding-JWT: typ muss {KB_TYP!r} sein")
    cnf = claims.get("cnf")
    if not isinstance(cnf, dict) or "jwk" not in cnf:
        raise SdJwtError("Key-Binding-JWT, aber das SD-JWT nennt keinen Schlüssel des Inhabers "
                         "(cnf.jwk)")
    try:
        verify_jws(jws, public_key_from_jwk(cnf["jwk"]))
    except InputError as err:
        raise _wrap(err, "Key-Binding-JWT") from err
    payload = jws.payload
    for name in ("iat", "aud", "nonce", "sd_hash"):
        if name not in payload:
            raise SdJwtError(f"Key-Binding-JWT ohne {name}")
    iat = payload["iat"]
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise SdJwtError("Key-Binding-JWT: iat ist keine ganze Zahl von Sekunden")
    if iat > now + KB_CLOCK_SKEW:
        raise SdJwtError("Key-Binding-JWT: in der Zukunft ausgestellt (iat)")
    if iat < now - max_kb_age:
        raise SdJwtError(f"Key-Binding-JWT: älter als {max_kb_age} Sekunden (iat)")
    try:
        check_times(payload, now=now)
    except InputError as err:
        raise _wrap(err, "Key-Binding-JWT") from err
    if not isinstance(payload["aud"], str) or (audience is not None and payload["aud"] != audience):
        raise SdJwtError("Key-Binding-JWT: für einen anderen Empfänger ausgestellt (aud)")
    if not isinstance(payload["nonce"], str) or (nonce is not None and payload["nonce"] != nonce):
        raise SdJwtError("Key-Binding-JWT: falsche nonce")
    if payload["sd_hash"] != _sd_hash(presented):
        raise SdJwtError("Key-Binding-JWT: sd_hash passt nicht zur Präsentation")
    return payload


def verify(text: str, *, issuer_key: Callable[[dict[str, Any], dict[str, Any]], ec.EllipticCurvePublicKey],
           typ: str = TYP, require_key_binding: bool, audience: str | None = None,
           nonce: str | None = None, now: int, max_kb_age: int = 300, max_length: int = 65536,
           max_disclosures: int = 1000) -> Verified:
    """The claims an SD-JWT (or a presentation of one) discloses, after verifying it by RFC
    9901, section 7: the issuer's signature (key from ``issuer_key(header, payload)``, which
    raises for an unknown issuer), ``typ``, every Disclosure, ``exp`` and ``nbf``. With
    ``require_key_binding`` a Key Binding JWT for ``audience`` and ``nonce`` must end it; one
    present though not required is verified too (``audience`` and ``nonce`` where given).
    SdJwtError for every failure."""
    if require_key_binding and (audience is None or nonce is None):
        raise ValueError("Key Binding zu prüfen braucht audience und nonce")
    issuer_jwt, encoded, kb_token = _split(text, max_length)
    jws = _decode(issuer_jwt, "Aussteller-JWT", max_length)
    if jws.header.get("typ") != typ:
        raise SdJwtError(f"Aussteller-JWT: typ muss {typ!r} sein")
    try:
        verify_jws(jws, issuer_key(jws.header, jws.payload))
    except InputError as err:
        raise _wrap(err, "Aussteller-JWT") from err
    disclosures = _parse_disclosures(encoded, max_disclosures)
    claims, used = _reconstruct(jws.payload, disclosures)
    try:
        check_times(claims, now=now)
    except InputError as err:
        raise _wrap(err, "SD-JWT") from err
    key_binding = None
    if kb_token:
        key_binding = _check_key_binding(kb_token, text[:len(text) - len(kb_token)], claims,
                                         audience=audience, nonce=nonce, now=now,
                                         max_kb_age=max_kb_age)
    elif require_key_binding:
        raise SdJwtError("Key-Binding-JWT fehlt")
    return Verified(header=jws.header, payload=jws.payload, claims=claims,
                    disclosed=frozenset(path for path, _ in used.values()), key_binding=key_binding)
