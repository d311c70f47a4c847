"""Typed bindings to the govchain contracts: the issuer registry and the document registry.

Every write is a transaction signed locally (eth-account) and sent raw through the chain port, so the
same code runs on the embedded chain and on any JSON-RPC node. Reverts come back as LedgerError with
the contract's custom error name and a German message.

One module (≈520 lines) on purpose: both contracts' bindings share one signing, sending and
error-decoding path, so that no write can take another.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.contract import Contract
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3Exception

from govchain.adapters import artifacts
from govchain.adapters.chain.base import Chain
from govchain.adapters.keys import AccountSigner
from govchain.domain.hashing import Hash32
from govchain.domain.ledger_view import (
    AccountState,
    AnchorInfo,
    Deployment,
    DocumentStatus,
    IssuerAccount,
    Municipality,
    OnChainVerification,
    SigningKey,
)
from govchain.domain.vocabulary import parse_ags
from govchain.errors import (
    ConfigurationError,
    GovchainError,
    InputError,
    LedgerError,
    LedgerUnavailableError,
    NotAuthorizedError,
)

REGISTRAR_ROLE = keccak(text="REGISTRAR_ROLE")
RECEIPT_TIMEOUT = 120.0

_T = TypeVar("_T")


def ags_to_bytes(ags: str) -> bytes:
    return parse_ags(ags).encode("ascii")


def ags_from_bytes(raw: bytes) -> str:
    return raw.decode("ascii", errors="replace") if any(raw) else ""


def save_deployment(deployment: Deployment, path: Path) -> None:
    """Writes the deployment file of a home (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(deployment), indent=2) + "\n")
    tmp.replace(path)


def load_deployment(path: Path) -> Deployment:
    """Reads the deployment file of a home."""
    try:
        data = json.loads(path.read_text())
        return Deployment(**data)
    except FileNotFoundError as err:
        raise ConfigurationError(
            f"Keine Deployment-Datei {path}: erst 'govchain init' (eingebettete Chain) oder "
            "'govchain chain deploy --rpc-url …' ausführen") from err
    except (ValueError, TypeError) as err:
        raise ConfigurationError(f"Deployment-Datei {path} ist beschädigt: {err}") from err



@dataclass(frozen=True)
class TxResult:
    transaction_hash: str
    block: int
    timestamp: int
    gas_used: int


@dataclass(frozen=True)
class SignedTx:
    raw: bytes
    hash: bytes
    nonce: int
    gas_price: int


_MESSAGES: dict[str, str] = {
    "AccessControlUnauthorizedAccount": "Das Konto hat die nötige Rolle nicht (Landesbehörde/Registrar)",
    "IssuerRegistryInvalidAgs": "Ungültiger Amtlicher Gemeindeschlüssel",
    "IssuerRegistryEmptyName": "Der Name der Kommune fehlt",
    "IssuerRegistryMunicipalityExists": "Diese Kommune ist bereits zugelassen",
    "IssuerRegistryUnknownMunicipality": "Diese Kommune ist nicht zugelassen",
    "IssuerRegistryMunicipalityNotActive": "Die Kommune ist gesperrt",
    "IssuerRegistryMunicipalityAlreadyActive": "Die Kommune ist bereits aktiv",
    "IssuerRegistryAccountExists": "Dieses Konto ist bereits einer Kommune zugeordnet",
    "IssuerRegistryInvalidAccount": "Ungültiges Konto",
    "IssuerRegistryUnknownAccount": "Das Konto gehört zu keiner zugelassenen Kommune",
    "IssuerRegistryAccountRetired": "Das Konto ist stillgelegt",
    "IssuerRegistryAccountCompromised": "Das Konto ist als kompromittiert gemeldet",
    "IssuerRegistryInvalidCompromiseTime": "Ungültiger Kompromittierungszeitpunkt (0 oder in der Zukunft)",
    "IssuerRegistryDocTypeNotAllowed": "Die Kommune darf diese Dokumentart nicht ausstellen",
    "IssuerRegistryInvalidSigningKey":
        "Ungültiger Signaturschlüssel (erwartet: komprimierter P-256-Schlüssel, 33 Byte, "
        "beginnend mit 0x02 oder 0x03)",
    "IssuerRegistrySigningKeyExists":
        "Dieser Signaturschlüssel ist bereits eingetragen (ein Schlüssel wird nie zweimal "
        "eingetragen, auch nicht nach der Stilllegung)",
    "IssuerRegistryUnknownSigningKey": "Dieser Signaturschlüssel ist im Register nicht eingetragen",
    "IssuerRegistrySigningKeyRetired": "Der Signaturschlüssel ist bereits stillgelegt",
    "DocumentRegistryEmptyBatch": "Keine Wurzel zum Verankern",
    "DocumentRegistryZeroRoot": "Ungültige Wurzel (0)",
    "DocumentRegistryRootAlreadyAnchored": "Diese Wurzel ist bereits verankert",
    "DocumentRegistryRootNotAnchored": "Diese Wurzel ist nicht verankert",
    "DocumentRegistryInvalidProof": "Der Merkle-Pfad passt nicht zur Wurzel",
    "DocumentRegistryWrongMunicipality": "Das Dokument wurde von einer anderen Kommune ausgestellt",
    "DocumentRegistryAlreadyRevoked": "Das Dokument ist bereits widerrufen",
    "DocumentRegistryNotSuspended": "Das Dokument ist nicht ausgesetzt",
    "DocumentRegistryAlreadySuspended": "Das Dokument ist bereits ausgesetzt",
}
_AUTH_ERRORS = {
    "AccessControlUnauthorizedAccount",
    "IssuerRegistryUnknownAccount",
    "IssuerRegistryAccountRetired",
    "IssuerRegistryAccountCompromised",
    "IssuerRegistryMunicipalityNotActive",
    "IssuerRegistryDocTypeNotAllowed",
    "DocumentRegistryWrongMunicipality",
}


class SigningKeysUnsupportedError(LedgerError):
    """The deployment's issuer registry predates signing keys: it lacks their functions."""

    def __init__(self, issuer_registry: str) -> None:
        super().__init__(
            f"Das Ausstellerregister dieses Ledgers ({issuer_registry}) kennt keine "
            "Signaturschlüssel: es wurde vor deren Einführung bereitgestellt. Signaturschlüssel "
            "brauchen ein neues Deployment der Verträge.")


class _ErrorDecoder:
    """Maps revert data to the contracts' custom errors."""

    def __init__(self, abis: Sequence[Sequence[Any]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str]]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") == "error":
                    types = [i["type"] for i in item["inputs"]]
                    sig = f"{item['name']}({','.join(types)})"
                    self._errors[function_signature_to_4byte_selector(sig)] = (item["name"], types)

    def to_error(self, err: ContractLogicError) -> LedgerError:
        data = err.data if isinstance(err.data, str) else None
        raw = bytes.fromhex(data[2:]) if data and data.startswith("0x") else b""
        known = self._errors.get(raw[:4])
        if known is None:
            return LedgerError(f"Der Vertrag hat die Transaktion abgelehnt: {err.message or err}")
        name, types = known
        args = tuple(abi_decode(types, raw[4:])) if types else ()
        cls = NotAuthorizedError if name in _AUTH_ERRORS else LedgerError
        return cls(f"{_MESSAGES.get(name, name)} ({name})", name, args)


class Ledger:
    """The contracts of one deployment on one chain."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        if chain.chain_id != deployment.chain_id:
            raise ConfigurationError(
                f"Die Chain hat die ID {chain.chain_id}, das Deployment gehört zu {deployment.chain_id}")
        self.chain = chain
        self.deployment = deployment
        # Called after each transaction this process sent is mined (the status index catches
        # up, so that a revocation shows at once in this service's own answers).
        self.after_write: Callable[[], None] | None = None
        w3 = chain.w3
        self.issuer_registry: Contract = w3.eth.contract(
            address=to_checksum_address(deployment.issuer_registry),
            abi=artifacts.load("IssuerRegistry").abi)
        self.document_registry: Contract = w3.eth.contract(
            address=to_checksum_address(deployment.document_registry),
            abi=artifacts.load("DocumentRegistry").abi)
        self._errors = _ErrorDecoder([self.issuer_registry.abi, self.document_registry.abi])

    # -- deployment --------------------------------------------------------------------------

    @classmethod
    def deploy(cls, chain: Chain, admin: AccountSigner) -> Deployment:
        """Deploys both contracts; `admin` becomes the registrar (Land authority)."""
        issuer = _deploy(chain, admin, "IssuerRegistry", [admin.address])
        document = _deploy(chain, admin, "DocumentRegistry", [issuer.address])
        return Deployment(
            chain_id=chain.chain_id,
            issuer_registry=issuer.address,
            document_registry=document.address,
            block=document.block,
            admin=admin.address,
        )

    # -- transactions ------------------------------------------------------------------------

    def _sign(self, signer: AccountSigner, call: Any, *, nonce: int | None = None,
              gas_price: int | None = None) -> SignedTx:
        w3 = self.chain.w3
        self.chain.sync()
        try:
            tx = call.build_transaction({
                "from": signer.address,
                "nonce": (nonce if nonce is not None
                          else w3.eth.get_transaction_count(signer.address, "pending")),
                "gasPrice": gas_price if gas_price is not None else w3.eth.gas_price,
                "chainId": self.chain.chain_id,
            })
        except ContractLogicError as err:
            raise self._errors.to_error(err) from err
        except (Web3Exception, OSError) as err:
            raise _unavailable(err) from err
        # estimate_gas already ran inside build_transaction; keep a margin for storage-refund quirks.
        tx["gas"] = int(tx["gas"] * 1.2) + 10_000
        signed = signer.sign_transaction(tx)
        return SignedTx(bytes(signed.raw_transaction), bytes(signed.hash), int(tx["nonce"]),
                        int(tx["gasPrice"]))

    def _transact(self, signer: AccountSigner, call: Any) -> TxResult:
        w3 = self.chain.w3
        signed = self._sign(signer, call)
        tx_hash = self.chain.send_raw_transaction(signed.raw)
        receipt = self.chain.wait_for_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)
        if receipt["status"] != 1:
            raise LedgerError(f"Transaktion 0x{tx_hash.hex()} ist fehlgeschlagen")
        block = w3.eth.get_block(receipt["blockNumber"])
        if self.after_write is not None:
            self.after_write()
        return TxResult("0x" + tx_hash.hex(), receipt["blockNumber"], int(block["timestamp"]),
                        int(receipt["gasUsed"]))

    def admit_municipality(self, signer: AccountSigner, ags: str, name: str,
                           accounts: Sequence[str], doc_types: Sequence[bytes]) -> TxResult:
        fn = self.issuer_registry.functions.admitMunicipality(
            ags_to_bytes(ags), name, [to_checksum_address(a) for a in accounts], list(doc_types))
        return self._transact(signer, fn)

    def set_doc_types(self, signer: AccountSigner, ags: str, doc_types: Sequence[bytes]) -> TxResult:
        fn = self.issuer_registry.functions.setDocTypes(ags_to_bytes(ags), list(doc_types))
        return self._transact(signer, fn)

    def suspend_municipality(self, signer: AccountSigner, ags: str) -> TxResult:
        return self._transact(signer, self.issuer_registry.functions.suspendMunicipality(
            ags_to_bytes(ags)))

    def reactivate_municipality(self, signer: AccountSigner, ags: str) -> TxResult:
        return self._transact(signer, self.issuer_registry.functions.reactivateMunicipality(
            ags_to_bytes(ags)))

    def add_account(self, signer: AccountSigner, ags: str, account: str) -> TxResult:
        return self._transact(signer, self.issuer_registry.functions.addAccount(
            ags_to_bytes(ags), to_checksum_address(account)))

    def retire_account(self, signer: AccountSigner, account: str) -> TxResult:
        return self._transact(signer, self.issuer_registry.functions.retireAccount(
            to_checksum_address(account)))

    def mark_compromised(self, signer: AccountSigner, account: str, since: int) -> TxResult:
        return self._transact(signer, self.issuer_registry.functions.markCompromised(
            to_checksum_address(account), since))

    def add_signing_key(self, signer: AccountSigner, ags: str, public_key: bytes) -> TxResult:
        """Registers a credential-signing key (33-byte compressed P-256 point) of the municipality;
        its id is `signing_key_id(public_key)`."""
        fn = self.issuer_registry.functions.addSigningKey(ags_to_bytes(ags), bytes(public_key))
        return self._with_signing_keys(lambda: self._transact(signer, fn))

    def retire_signing_key(self, signer: AccountSigner, key_id: bytes) -> TxResult:
        fn = self.issuer_registry.functions.retireSigningKey(_key_id(key_id))
        return self._with_signing_keys(lambda: self._transact(signer, fn))

    def mark_signing_key_compromised(self, signer: AccountSigner, key_id: bytes,
                                     since: int) -> TxResult:
        fn = self.issuer_registry.functions.markSigningKeyCompromised(_key_id(key_id), since)
        return self._with_signing_keys(lambda: self._transact(signer, fn))

    def anchor(self, signer: AccountSigner, doc_type: bytes, roots: Sequence[Hash32]) -> TxResult:
        return self._transact(signer, self.document_registry.functions.anchor(doc_type, list(roots)))

    # -- the anchoring worker's steps: sign, store, send, then look -------------------------

    def sign_anchor(self, signer: AccountSigner, doc_type: bytes, roots: Sequence[Hash32], *,
                    nonce: int | None = None, gas_price: int | None = None) -> SignedTx:
        """The signed anchor transaction, not sent: the worker stores it before sending, so
        that after a crash it sends the same bytes again. Raises LedgerError where the node's
        gas estimate shows it would revert (municipality suspended, account retired...)."""
        return self._sign(signer, self.document_registry.functions.anchor(doc_type, list(roots)),
                          nonce=nonce, gas_price=gas_price)

    def broadcast(self, raw: bytes) -> bytes:
        """Sends a signed transaction; one the node already has or has mined is not an error."""
        try:
            return self.chain.send_raw_transaction(raw)
        except LedgerUnavailableError:
            raise
        except GovchainError as err:
            text = str(err).lower()
            if any(s in text for s in ("already known", "already imported", "nonce too low",
                                       "known transaction")):
                return bytes(keccak(raw))
            raise

    def receipt(self, tx_hash: bytes | str) -> dict[str, Any] | None:
        """The receipt of a mined transaction, None while it is not (or no longer) in a block."""
        h = HexBytes(tx_hash)
        try:
            self.chain.sync()
            return dict(self.chain.w3.eth.get_transaction_receipt(h))
        except TransactionNotFound:
            return None
        except (Web3Exception, OSError, ValueError) as err:
            raise _unavailable(err) from err

    def anchor_of(self, root: bytes) -> AnchorInfo | None:
        """Who anchored `root`, when and in which block and transaction; None if it is not."""
        a = self._read(lambda: self.document_registry.functions.anchorOf(root).call())
        account = str(a[0])
        if int(account, 16) == 0:
            return None
        block = int(a[2])
        tx_hash = ""
        logs = self._read(lambda: self.document_registry.events.RootAnchored.get_logs(
            from_block=block, to_block=block, argument_filters={"root": root}))
        for log in logs:
            tx_hash = "0x" + bytes(log["transactionHash"]).hex()
        return AnchorInfo(account=account, timestamp=int(a[1]), block=block, tx_hash=tx_hash,
                          doc_type=bytes(a[3]))

    def block_time(self, block: int) -> int:
        """The Unix timestamp of a block."""
        return self._read(lambda: self.chain.block_timestamp(block))  # type: ignore[no-any-return]

    def head(self) -> int:
        """The node's latest block number."""
        return self._read(lambda: self.chain.block_number())  # type: ignore[no-any-return]

    def revoke(self, signer: AccountSigner, root: bytes, target_hash: bytes,
               proof: Sequence[bytes], reason: int) -> TxResult:
        return self._transact(signer, self.document_registry.functions.revoke(
            root, target_hash, list(proof), reason))

    def suspend(self, signer: AccountSigner, root: bytes, target_hash: bytes,
                proof: Sequence[bytes], reason: int) -> TxResult:
        return self._transact(signer, self.document_registry.functions.suspend(
            root, target_hash, list(proof), reason))

    def reinstate(self, signer: AccountSigner, root: bytes, target_hash: bytes,
                  proof: Sequence[bytes]) -> TxResult:
        return self._transact(signer, self.document_registry.functions.reinstate(
            root, target_hash, list(proof)))

    # -- reads -------------------------------------------------------------------------------

    def _read(self, fn: Callable[[], Any]) -> Any:
        try:
            self.chain.sync()
            return fn()
        except ContractLogicError as err:
            raise self._errors.to_error(err) from err
        except GovchainError:
            raise
        except (Web3Exception, OSError, ValueError) as err:
            raise _unavailable(err) from err

    def is_registrar(self, address: str) -> bool:
        return bool(self._read(lambda: self.issuer_registry.functions.hasRole(
            REGISTRAR_ROLE, to_checksum_address(address)).call()))

    def municipality(self, ags: str) -> Municipality:
        raw = ags_to_bytes(ags)
        reg = self.issuer_registry.functions

        def read() -> Municipality:
            m = reg.municipality(raw).call()
            return Municipality(
                ags=ags, name=m[0], admitted=m[1], active=m[2], admitted_at=m[3],
                accounts=tuple(reg.accountsOf(raw).call()),
                doc_types=tuple(reg.docTypesOf(raw).call()),
            )
        result: Municipality = self._read(read)
        return result

    def municipalities(self) -> list[Municipality]:
        raws: list[bytes] = self._read(lambda: self.issuer_registry.functions.municipalities().call())
        return [self.municipality(ags_from_bytes(r)) for r in raws]

    def issuer_account(self, address: str) -> IssuerAccount:
        a = self._read(lambda: self.issuer_registry.functions.issuerAccount(
            to_checksum_address(address)).call())
        return IssuerAccount(to_checksum_address(address), ags_from_bytes(a[0]), AccountState(a[1]),
                             a[2], a[3], a[4])

    def signing_key(self, key_id: bytes) -> SigningKey:
        """The signing key with this id; state UNKNOWN (ags "", no public key) if it was never
        added. SigningKeysUnsupportedError where the issuer registry predates signing keys."""
        raw = _key_id(key_id)
        k = self._with_signing_keys(lambda: self._read(
            lambda: self.issuer_registry.functions.signingKey(raw).call()))
        return _signing_key(raw, k)

    def signing_keys_of(self, ags: str) -> list[SigningKey]:
        """Every signing key ever added to the municipality, in order of addition, as of one block;
        none where the issuer registry predates signing keys."""
        raw = ags_to_bytes(ags)
        reg = self.issuer_registry.functions

        def read() -> list[SigningKey]:
            block = self.chain.w3.eth.block_number
            ids = reg.signingKeysOf(raw).call(block_identifier=block)
            return [_signing_key(bytes(i), reg.signingKey(i).call(block_identifier=block))
                    for i in ids]
        try:
            result: list[SigningKey] = self._with_signing_keys(lambda: self._read(read))
        except SigningKeysUnsupportedError:
            return []
        return result

    def _with_signing_keys(self, op: Callable[[], _T]) -> _T:
        """Runs a signing-key call or transaction. Where it fails without a reason (a contract
        without the function reverts with no data), asks whether the issuer registry has signing
        keys at all, so that an older deployment gets a clear message."""
        try:
            return op()
        except LedgerError as err:
            if err.error_name is None and not self._has_signing_keys():
                raise SigningKeysUnsupportedError(self.deployment.issuer_registry) from err
            raise

    def _has_signing_keys(self) -> bool:
        # signingKeysOf never reverts where it exists.
        try:
            self._read(lambda: self.issuer_registry.functions.signingKeysOf(bytes(8)).call())
        except LedgerError:
            return False
        return True

    def verification(self, root: bytes, target_hash: bytes) -> OnChainVerification:
        def read() -> OnChainVerification:
            block = self.chain.w3.eth.block_number
            v = self.document_registry.functions.verification(root, target_hash).call(
                block_identifier=block)
            return OnChainVerification(
                anchored=v[0], root=v[1], leaf=v[2], ags=ags_from_bytes(v[3]),
                municipality_name=v[4], municipality_active=v[5], account=v[6], doc_type=v[7],
                anchored_at=v[8], anchor_block=v[9], account_retired_at=v[10],
                account_compromised_since=v[11], doc_type_allowed_now=v[12],
                status=DocumentStatus(v[13]), reason=v[14], status_changed_at=v[15],
                ledger_block=block,
            )
        result: OnChainVerification = self._read(read)
        return result


def _key_id(key_id: bytes) -> bytes:
    if len(key_id) != 32:
        raise InputError(f"Ungültige Schlüssel-ID: 32 Byte erwartet, nicht {len(key_id)}")
    return bytes(key_id)


def _signing_key(key_id: bytes, k: Sequence[Any]) -> SigningKey:
    return SigningKey(key_id=key_id, ags=ags_from_bytes(k[0]), state=AccountState(k[1]),
                      added_at=k[2], retired_at=k[3], compromised_since=k[4],
                      public_key=bytes(k[5]))


@dataclass(frozen=True)
class _Deployed:
    address: str
    block: int


def _deploy(chain: Chain, admin: AccountSigner, name: str, args: list[Any]) -> _Deployed:
    art = artifacts.load(name)
    w3 = chain.w3
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    try:
        tx = factory.constructor(*args).build_transaction({
            "from": admin.address,
            "nonce": w3.eth.get_transaction_count(admin.address, "pending"),
            "gasPrice": w3.eth.gas_price,
            "chainId": chain.chain_id,
        })
    except (Web3Exception, OSError) as err:
        raise _unavailable(err) from err
    tx["gas"] = int(tx["gas"] * 1.2)
    signed = admin.sign_transaction(tx)
    receipt = chain.wait_for_receipt(chain.send_raw_transaction(bytes(signed.raw_transaction)),
                                     timeout=RECEIPT_TIMEOUT)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise LedgerError(f"Deployment von {name} ist fehlgeschlagen")
    return _Deployed(to_checksum_address(receipt["contractAddress"]), receipt["blockNumber"])


def _unavailable(err: BaseException) -> LedgerUnavailableError:
    return LedgerUnavailableError(f"Das Ledger ist nicht erreichbar: {type(err).__name__}: {err}")
