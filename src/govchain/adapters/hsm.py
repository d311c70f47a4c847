"""Keys in a hardware security module over PKCS#11: the issuer and registrar accounts
(secp256k1) and the municipalities' credential-signing keys (P-256) are generated in the token
(CKA_SENSITIVE, not CKA_EXTRACTABLE) and every signature is made there (CKM_ECDSA over the
digest); no private key is ever in this process.

Selected by `pkcs11_module` and `pkcs11_token_label` (settings, GOVCHAIN_PKCS11_MODULE and
GOVCHAIN_PKCS11_TOKEN_LABEL); the user PIN comes from GOVCHAIN_PKCS11_PIN or the file named by
GOVCHAIN_PKCS11_PIN_FILE and is never logged or shown. Keys carry govchain's label (CKA_LABEL)
and their ledger identity as CKA_ID: an account's 20-byte address, a signing key's 32-byte
ledger key id. A token that goes away raises KeyUnavailableError and is opened again at the
next signature; a refused PIN is not tried again until the process restarts (tokens lock the
PIN after a few wrong tries).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import pkcs11
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from eth_account._utils.signing import sign_transaction_dict
from eth_account.datastructures import SignedTransaction
from eth_keys.datatypes import Signature
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from govchain.adapters.keys import AccountSigner, KeyInfo, SigningKeyInfo, compressed_public_key
from govchain.domain.hashing import keccak
from govchain.errors import ConfigurationError, KeyStoreError, KeyUnavailableError

ENV_MODULE = "GOVCHAIN_PKCS11_MODULE"
ENV_TOKEN_LABEL = "GOVCHAIN_PKCS11_TOKEN_LABEL"
ENV_PIN = "GOVCHAIN_PKCS11_PIN"
ENV_PIN_FILE = "GOVCHAIN_PKCS11_PIN_FILE"

SECP256K1 = encode_named_curve_parameters("secp256k1")
P256 = encode_named_curve_parameters("secp256r1")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

T = TypeVar("T")


@dataclass(frozen=True)
class Pkcs11Config:
    """Which token holds the keys (the PIN is not part of it: it is never kept in settings)."""

    module: Path  # the vendor's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so
    token_label: str


def resolve_pin() -> str:
    """The token's user PIN from GOVCHAIN_PKCS11_PIN or the file GOVCHAIN_PKCS11_PIN_FILE."""
    if os.environ.get(ENV_PIN):
        return os.environ[ENV_PIN]
    named = os.environ.get(ENV_PIN_FILE)
    if named:
        try:
            return Path(named).read_text().strip()
        except OSError as err:
            raise ConfigurationError(f"PIN-Datei {named} nicht lesbar: {err.strerror}") from err
    raise ConfigurationError(f"Keine PIN für das HSM-Token: {ENV_PIN} oder {ENV_PIN_FILE} setzen")


def _raw_point(ec_point: bytes) -> bytes:
    """The uncompressed SEC1 point from CKA_EC_POINT (DER OCTET STRING, or raw on some tokens)."""
    if len(ec_point) == 67 and ec_point[:2] == b"\x04\x41":
        return ec_point[2:]
    return ec_point


class Token:
    """One PKCS#11 token and one logged-in session, used by one thread at a time (PKCS#11
    sessions run one operation at a time); reopened after the token was away."""

    def __init__(self, config: Pkcs11Config, pin: str) -> None:
        if not pin:
            raise ConfigurationError(f"Leere PIN für das HSM-Token: {ENV_PIN} setzen")
        self.config = config
        self._pin = pin
        self._lock = threading.Lock()
        self._lib: Any = None
        self._session: Any = None
        self._broken = False  # the token failed: initialise the library again before use
        self._pin_refused = False

    def __repr__(self) -> str:  # never show the PIN
        return f"Token({self.config.token_label!r}, {self.config.module})"

    @property
    def where(self) -> str:
        return f"HSM-Token »{self.config.token_label}«"

    def _open(self) -> Any:
        if self._session is not None:
            return self._session
        if self._pin_refused:
            raise KeyUnavailableError(
                f"Das {self.where} hat die PIN abgelehnt; nach Korrektur von {ENV_PIN} govchain "
                "neu starten (weitere Versuche könnten die PIN sperren)")
        if self._lib is None:
            try:
                self._lib = pkcs11.lib(str(self.config.module))
            except (OSError, RuntimeError) as err:  # not a loadable PKCS#11 library
                raise ConfigurationError(f"PKCS#11-Modul {self.config.module} lässt sich nicht "
                                         f"laden: {err}") from err
        elif self._broken:
            self._lib.reinitialize()  # a token plugged in again shows only after C_Initialize
        self._broken = False
        token = self._lib.get_token(token_label=self.config.token_label)
        try:
            self._session = token.open(user_pin=self._pin, rw=True)
        except pkcs11.UserAlreadyLoggedIn:  # login is per process: another Token logged in
            self._session = token.open(rw=True)
        except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange,
                pkcs11.PinLocked) as err:
            self._pin_refused = True
            raise KeyUnavailableError(
                f"Das {self.where} hat die PIN abgelehnt ({type(err).__name__}); nach Korrektur "
                f"von {ENV_PIN} govchain neu starten") from None
        return self._session

    def run(self, what: str, action: Callable[[Any], T]) -> T:
        """`action(session)` under the lock; PKCS#11 failures become govchain errors."""
        with self._lock:
            try:
                return action(self._open())
            except pkcs11.NoSuchKey as err:
                # Only keys the token listed before are asked for: one gone means another
                # token or none is there (SoftHSM without its token directory lists nothing).
                self._drop()
                raise KeyUnavailableError(
                    f"{what}: der Schlüssel ist im {self.where} nicht (mehr) zu finden; ist das "
                    "richtige Token gesteckt? Nichts wurde signiert, es wird später erneut "
                    "versucht") from err
            except (pkcs11.MechanismInvalid, pkcs11.DomainParamsInvalid,
                    pkcs11.FunctionNotSupported, pkcs11.TemplateInconsistent,
                    pkcs11.AttributeValueInvalid) as err:
                raise KeyStoreError(f"{what}: das {self.where} kann das nicht "
                                    f"({type(err).__name__}; secp256k1 und P-256 mit ECDSA "
                                    "nötig)") from err
            except pkcs11.PKCS11Error as err:
                self._drop()
                raise KeyUnavailableError(
                    f"{what}: das {self.where} ist nicht erreichbar ({type(err).__name__}); "
                    "nichts wurde signiert, es wird später erneut versucht") from err

    def _drop(self) -> None:
        session, self._session = self._session, None
        self._broken = True
        if session is not None:
            with contextlib.suppress(pkcs11.PKCS11Error):  # the token is gone, its session too
                session.close()

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                with contextlib.suppress(pkcs11.PKCS11Error):
                    self._session.close()
                self._session = None

    # -- keys ---------------------------------------------------------------------------------

    def generate(self, curve: bytes, label: str, id_of: Callable[[bytes], bytes]) -> bytes:
        """A new key pair on `curve`, generated in the token and never extractable; CKA_ID is
        set to `id_of(uncompressed point)` once the public key is known. Returns the point."""
        def make(session: Any) -> bytes:
            params = session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: curve}, local=True)
            temp_id = b"govchain-new-" + secrets.token_bytes(8)
            public, private = params.generate_keypair(
                store=True, label=label, id=temp_id,
                public_template={Attribute.VERIFY: True},
                private_template={Attribute.SIGN: True, Attribute.SENSITIVE: True,
                                  Attribute.EXTRACTABLE: False, Attribute.PRIVATE: True})
            point = _raw_point(bytes(public[Attribute.EC_POINT]))
            key_id = id_of(point)
            public[Attribute.ID] = key_id
            private[Attribute.ID] = key_id
            return point
        return self.run(f"Schlüssel »{label}« erzeugen", make)

    def labelled(self, curve: bytes) -> list[tuple[bytes, str]]:
        """(CKA_ID, CKA_LABEL) of every private key on `curve`."""
        def find(session: Any) -> list[tuple[bytes, str]]:
            return [(bytes(key[Attribute.ID]), str(key[Attribute.LABEL]))
                    for key in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                                    Attribute.EC_PARAMS: curve})]
        return self.run("Schlüssel auflisten", find)

    def public_point(self, curve: bytes, key_id: bytes) -> bytes:
        def read(session: Any) -> bytes:
            key = session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=key_id)
            if bytes(key[Attribute.EC_PARAMS]) != curve:
                raise pkcs11.NoSuchKey()
            return _raw_point(bytes(key[Attribute.EC_POINT]))
        return self.run(f"Schlüssel {key_id.hex()[:16]}… lesen", read)

    def sign_digest(self, key_id: bytes, digest: bytes) -> tuple[int, int]:
        """(r, s) of CKM_ECDSA over a 32-byte digest with the private key `key_id`."""
        def sign(session: Any) -> bytes:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
            return bytes(key.sign(digest, mechanism=Mechanism.ECDSA))
        raw = self.run(f"Signatur mit {key_id.hex()[:16]}…", sign)
        if len(raw) != 64:
            raise KeyStoreError(f"Das {self.where} gab eine Signatur von {len(raw)} Bytes zurück")
        return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")


# -- issuer and registrar accounts (secp256k1) ----------------------------------------------

def _address_of(point: bytes) -> bytes:
    return bytes(keccak(point[1:]))[-20:]


class TokenAccount:
    """An Ethereum account whose key is in the token; signs transactions like a LocalAccount
    (low-s, recovery id found against the address)."""

    def __init__(self, token: Token, address: str) -> None:
        self._token = token
        self.address = to_checksum_address(address)

    def __repr__(self) -> str:
        return f"TokenAccount({self.address})"

    def sign_msg_hash(self, msg_hash: bytes) -> Signature:
        """An eth-keys Signature of a 32-byte hash (the interface sign_transaction_dict uses)."""
        r, s = self._token.sign_digest(bytes.fromhex(self.address[2:]), bytes(msg_hash))
        if s > SECP256K1_N // 2:  # Ethereum accepts only low s (EIP-2)
            s = SECP256K1_N - s
        for v in (0, 1):
            candidate = Signature(vrs=(v, r, s))
            recovered = candidate.recover_public_key_from_msg_hash(bytes(msg_hash))
            if recovered.to_checksum_address() == self.address:
                return candidate
        raise KeyStoreError(f"Die Signatur des {self._token.where} passt nicht zum Konto "
                            f"{self.address}")

    def sign_transaction(self, transaction: dict[str, Any]) -> SignedTransaction:
        unsigned = dict(transaction)
        sender = unsigned.pop("from", self.address)
        if to_checksum_address(sender) != self.address:  # as Account.sign_transaction checks
            raise KeyStoreError(f"Transaktion von {sender} mit dem Schlüssel von {self.address}")
        v, r, s, encoded = sign_transaction_dict(cast(Any, self), unsigned)
        return SignedTransaction(raw_transaction=HexBytes(encoded),
                                 hash=HexBytes(keccak(encoded)), r=r, s=s, v=v)


# -- credential-signing keys (P-256) ---------------------------------------------------------

class TokenP256Key(ec.EllipticCurvePrivateKey):
    """A P-256 private key in the token, usable wherever the domain signs (ES256 JWS, the Data
    Integrity proof): sign() hashes here and lets the token sign the digest. Its private
    numbers and bytes are not to be had."""

    def __init__(self, token: Token, key_id: bytes, public: ec.EllipticCurvePublicKey) -> None:
        self._token = token
        self.key_id = key_id
        self._public = public

    def __repr__(self) -> str:
        return f"TokenP256Key({self.key_id.hex()[:16]}…)"

    def sign(self, data: bytes | bytearray | memoryview,
             signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        algorithm = signature_algorithm.algorithm
        if isinstance(algorithm, Prehashed):
            digest = bytes(data)
        elif isinstance(algorithm, hashes.SHA256):
            digest = hashlib.sha256(data).digest()
        else:
            raise KeyStoreError("Schlüssel im HSM signieren nur mit ECDSA und SHA-256")
        r, s = self._token.sign_digest(self.key_id, digest)
        return encode_dss_signature(r, s)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        return ec.SECP256R1()

    @property
    def key_size(self) -> int:
        return 256

    def _sealed(self, *_: object) -> NoReturn:
        raise KeyStoreError(f"Der Schlüssel {self.key_id.hex()[:16]}… verlässt das "
                            f"{self._token.where} nicht")

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey
                 ) -> bytes:
        self._sealed()

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        self._sealed()

    def private_bytes(self, encoding: serialization.Encoding,
                      format: serialization.PrivateFormat,
                      encryption_algorithm: serialization.KeySerializationEncryption) -> bytes:
        self._sealed()

    def __copy__(self) -> TokenP256Key:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> TokenP256Key:
        return self


# -- the keystore interface over the token ---------------------------------------------------

class TokenKeyStore:
    """The keystore of a home whose keys are in an HSM: new keys are made in the token; keys
    of the home's file keystore made before (`fallback`) stay usable until they are rotated."""

    def __init__(self, token: Token, fallback: Any = None) -> None:
        self.token = token
        self._fallback = fallback  # a keys.KeyStore or None
        # The key ids the token listed, per curve: govchain never deletes a key, so while the
        # token is away (or lists nothing) they still say which keys this home holds: documents
        # are accepted as pending and signed when it is back, never failed for a missing key.
        self._known: dict[bytes, set[bytes]] = {}

    def _in_token(self, curve: bytes, key_id: bytes) -> bool:
        known = self._known.get(curve, set())
        if key_id in known:
            return True
        try:
            held = known | {found for found, _ in self.token.labelled(curve)}
        except KeyUnavailableError:
            if curve not in self._known:
                raise
            held = known
        self._known[curve] = held
        return key_id in held

    def __repr__(self) -> str:
        return f"TokenKeyStore({self.token!r})"

    @property
    def where(self) -> str:
        return self.token.where

    def create(self, label: str) -> KeyInfo:
        point = self.token.generate(SECP256K1, label, _address_of)
        return KeyInfo(to_checksum_address(_address_of(point)), label, None)

    def keys(self) -> list[KeyInfo]:
        held = [KeyInfo(to_checksum_address(key_id), label, None)
                for key_id, label in self.token.labelled(SECP256K1) if len(key_id) == 20]
        if self._fallback is not None:
            held += self._fallback.keys()
        return held

    def has(self, address: str) -> bool:
        if self._in_token(SECP256K1, bytes.fromhex(to_checksum_address(address)[2:])):
            return True
        return self._fallback is not None and bool(self._fallback.has(address))

    def unlock(self, address: str) -> AccountSigner:
        """A TokenAccount, or the fallback keystore's LocalAccount."""
        if self._in_token(SECP256K1, bytes.fromhex(to_checksum_address(address)[2:])):
            return TokenAccount(self.token, address)
        if self._fallback is not None and self._fallback.has(address):
            return cast(AccountSigner, self._fallback.unlock(address))
        raise KeyStoreError(f"Kein Schlüssel für Konto {address} im {self.where}")

    def by_label(self, label: str) -> list[KeyInfo]:
        return [k for k in self.keys() if k.label == label]

    def create_signing_key(self, label: str) -> SigningKeyInfo:
        point = self.token.generate(P256, label, lambda p: bytes(keccak(_compressed(p))))
        public = _compressed(point)
        return SigningKeyInfo(bytes(keccak(public)), public, label, None)

    def has_signing_key(self, key_id: bytes) -> bool:
        if self._in_token(P256, bytes(key_id)):
            return True
        return self._fallback is not None and bool(self._fallback.has_signing_key(key_id))

    def unlock_signing_key(self, key_id: bytes) -> ec.EllipticCurvePrivateKey:
        key_id = bytes(key_id)
        if self._in_token(P256, key_id):
            public = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), self.token.public_point(P256, key_id))
            return TokenP256Key(self.token, key_id, public)
        if self._fallback is not None and self._fallback.has_signing_key(key_id):
            return cast(ec.EllipticCurvePrivateKey, self._fallback.unlock_signing_key(key_id))
        raise KeyStoreError(f"Kein Signaturschlüssel {key_id.hex()[:16]}… im {self.where}")

    def close(self) -> None:
        self.token.close()


def _compressed(point: bytes) -> bytes:
    return compressed_public_key(
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point))
