"""Encrypted keystores for the registrar and issuer accounts (eth-account, scrypt) and the
municipalities' credential-signing keys (P-256, encrypted PKCS#8).

Keys never leave this module unencrypted except as an unlocked LocalAccount in memory. The passphrase
comes from GOVCHAIN_KEY_PASSPHRASE, from the file named by GOVCHAIN_KEY_PASSPHRASE_FILE, or, for a
development home only, from a random passphrase file that `govchain init` writes with mode 0600.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address

from govchain.domain.hashing import keccak
from govchain.errors import KeyStoreError

# scrypt n=2**15 (≈0.1 s, 32 MiB) rather than geth's 2**18 (≈1 s): the keystore file is never
# published and sits on the municipal server, and services unlock keys at start and in batches.
SCRYPT_N = 2**15
ENV_PASSPHRASE = "GOVCHAIN_KEY_PASSPHRASE"
ENV_PASSPHRASE_FILE = "GOVCHAIN_KEY_PASSPHRASE_FILE"


@dataclass(frozen=True)
class KeyInfo:
    address: str
    label: str
    path: Path | None  # None: in an HSM (adapters.hsm)


class AccountSigner(Protocol):
    """What signs an account's transactions: an unlocked LocalAccount or an account in an HSM."""

    @property
    def address(self) -> ChecksumAddress: ...

    def sign_transaction(self, transaction: dict[str, Any]) -> Any: ...


class Keys(Protocol):
    """A home's keys: this module's file KeyStore or adapters.hsm.TokenKeyStore."""

    @property
    def where(self) -> str: ...

    def create(self, label: str) -> KeyInfo: ...

    def keys(self) -> list[KeyInfo]: ...

    def has(self, address: str) -> bool: ...

    def unlock(self, address: str) -> AccountSigner: ...

    def by_label(self, label: str) -> list[KeyInfo]: ...

    def create_signing_key(self, label: str) -> SigningKeyInfo: ...

    def has_signing_key(self, key_id: bytes) -> bool: ...

    def unlock_signing_key(self, key_id: bytes) -> ec.EllipticCurvePrivateKey: ...


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


class KeyStore:
    """A folder of keystore files named after their address, each with a label."""

    def __init__(self, directory: Path, passphrase: str) -> None:
        if not passphrase:
            raise KeyStoreError("Leere Passphrase für den Schlüsselspeicher")
        self.directory = directory
        self._passphrase = passphrase
        self._unlocked: dict[str, LocalAccount] = {}
        self._signing: dict[bytes, ec.EllipticCurvePrivateKey] = {}

    def __repr__(self) -> str:  # never show the passphrase
        return f"KeyStore({self.directory})"

    @property
    def where(self) -> str:
        return str(self.directory)

    def create(self, label: str) -> KeyInfo:
        account: LocalAccount = Account.create()
        keyfile: dict[str, Any] = Account.encrypt(
            account.key, self._passphrase, kdf="scrypt", iterations=SCRYPT_N)
        keyfile["govchain"] = {"label": label}
        path = self.directory / f"{account.address}.json"
        _write_private(path, json.dumps(keyfile))
        self._unlocked[account.address] = account
        return KeyInfo(account.address, label, path)

    def keys(self) -> list[KeyInfo]:
        infos = []
        for path in sorted(self.directory.glob("0x*.json")):
            try:
                label = json.loads(path.read_text()).get("govchain", {}).get("label", "")
            except (OSError, ValueError):
                continue
            infos.append(KeyInfo(to_checksum_address(path.stem), label, path))
        return infos

    def has(self, address: str) -> bool:
        return (self.directory / f"{to_checksum_address(address)}.json").exists()

    def unlock(self, address: str) -> LocalAccount:
        address = to_checksum_address(address)
        if address in self._unlocked:
            return self._unlocked[address]
        path = self.directory / f"{address}.json"
        try:
            keyfile = json.loads(path.read_text())
        except FileNotFoundError as err:
            raise KeyStoreError(f"Kein Schlüssel für Konto {address} in {self.directory}") from err
        except ValueError as err:
            raise KeyStoreError(f"Schlüsseldatei {path} ist beschädigt") from err
        try:
            key = Account.decrypt(keyfile, self._passphrase)
        except ValueError:
            raise KeyStoreError(f"Schlüssel {address} lässt sich nicht entsperren: "
                                "falsche Passphrase?") from None
        account: LocalAccount = Account.from_key(key)
        self._unlocked[address] = account
        return account

    def by_label(self, label: str) -> list[KeyInfo]:
        return [k for k in self.keys() if k.label == label]

    # -- credential-signing keys (P-256), named by their ledger key id --------------------

    def create_signing_key(self, label: str) -> SigningKeyInfo:
        """A new P-256 key, stored encrypted (PKCS#8, the keystore passphrase)."""
        key = ec.generate_private_key(ec.SECP256R1())
        public = compressed_public_key(key.public_key())
        key_id = bytes(keccak(public))
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(self._passphrase.encode()))
        path = self.directory / f"p256-{key_id.hex()}.json"
        _write_private(path, json.dumps({"govchain": {"label": label, "keyId": key_id.hex(),
                                                      "publicKey": public.hex()},
                                         "pkcs8": pem.decode()}))
        self._signing[key_id] = key
        return SigningKeyInfo(key_id, public, label, path)

    def has_signing_key(self, key_id: bytes) -> bool:
        return (self.directory / f"p256-{bytes(key_id).hex()}.json").exists()

    def unlock_signing_key(self, key_id: bytes) -> ec.EllipticCurvePrivateKey:
        key_id = bytes(key_id)
        if key_id in self._signing:
            return self._signing[key_id]
        path = self.directory / f"p256-{key_id.hex()}.json"
        try:
            pem = json.loads(path.read_text())["pkcs8"].encode()
        except FileNotFoundError as err:
            raise KeyStoreError(f"Kein Signaturschlüssel {key_id.hex()[:16]}… in "
                                f"{self.directory}") from err
        except (ValueError, KeyError, TypeError) as err:
            raise KeyStoreError(f"Schlüsseldatei {path} ist beschädigt") from err
        try:
            key = serialization.load_pem_private_key(pem, self._passphrase.encode())
        except (ValueError, TypeError):
            raise KeyStoreError(f"Signaturschlüssel {key_id.hex()[:16]}… lässt sich nicht "
                                "entsperren: falsche Passphrase?") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) \
                or not isinstance(key.curve, ec.SECP256R1):
            raise KeyStoreError(f"Schlüsseldatei {path} enthält keinen P-256-Schlüssel")
        self._signing[key_id] = key
        return key


@dataclass(frozen=True)
class SigningKeyInfo:
    key_id: bytes  # keccak256 of the compressed public key: its id on the ledger
    public_key: bytes  # 33-byte compressed SEC1 point
    label: str
    path: Path | None  # None: in an HSM (adapters.hsm)


def compressed_public_key(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962,
                            serialization.PublicFormat.CompressedPoint)


def resolve_passphrase(dev_file: Path | None) -> str:
    """The keystore passphrase from env, a named file, or the development home's own file."""
    if os.environ.get(ENV_PASSPHRASE):
        return os.environ[ENV_PASSPHRASE]
    named = os.environ.get(ENV_PASSPHRASE_FILE)
    if named:
        try:
            return Path(named).read_text().strip()
        except OSError as err:
            raise KeyStoreError(f"Passphrase-Datei {named} nicht lesbar: {err.strerror}") from err
    if dev_file is not None and dev_file.exists():
        return dev_file.read_text().strip()
    raise KeyStoreError(
        f"Keine Passphrase für die Schlüssel: {ENV_PASSPHRASE} oder {ENV_PASSPHRASE_FILE} setzen")


def create_dev_passphrase(path: Path) -> str:
    passphrase = secrets.token_urlsafe(32)
    _write_private(path, passphrase + "\n")
    return passphrase
