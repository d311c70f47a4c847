"""What the contract tests share: names and constants of the baseline, the World helper, Batch.

Imported by conftest.py and the tests (pytest puts this directory on sys.path); the fixtures that
build the chain are in conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth.exceptions import Revert
from eth_abi.abi import encode as abi_encode
from eth_tester import EthereumTester
from eth_typing import ChecksumAddress
from eth_utils.abi import event_abi_to_log_topic, function_signature_to_4byte_selector
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.types import TxReceipt

from govchain.adapters import artifacts
from govchain.domain.merkle import MerkleTree

AGS_AACHEN = b"05334002"
AGS_GELSENKIRCHEN = b"05513000"
AGS_KOELN = b"05315000"
HUND = keccak(text="gefaehrlicher-hund")
MUSIK = keccak(text="strassenmusik")
WOHNUNG = keccak(text="wohnungsgeberbestaetigung")
REGISTRAR_ROLE = keccak(text="REGISTRAR_ROLE")
DEFAULT_ADMIN_ROLE = b"\x00" * 32
REASON_INCIDENT = 7
REASON_INQUIRY = 3


def signing_key(label: str, prefix: int = 0x02) -> bytes:
    """A 33-byte public key in the shape of a compressed P-256 point (prefix, then 32 bytes); the
    contract checks only the length and the prefix, so the bytes need not lie on the curve."""
    return bytes([prefix]) + keccak(text=label)


# Aachen's credential-signing key in the baseline (active).
AACHEN_SIGNING_KEY = signing_key("aachen/signing-key/1")
AACHEN_SIGNING_KEY_ID = keccak(AACHEN_SIGNING_KEY)


def target_hashes(label: str, n: int) -> list[bytes]:
    """n distinct, reproducible document hashes (stand-ins for real targetHashes)."""
    return [keccak(text=f"{label}/{i}") for i in range(n)]


@dataclass(frozen=True)
class Batch:
    """A batch of documents as issued: their targetHashes and the Merkle tree over them."""

    target_hashes: list[bytes]
    tree: MerkleTree

    @classmethod
    def of(cls, label: str, n: int) -> Batch:
        hashes = target_hashes(label, n)
        return cls(hashes, MerkleTree(hashes))

    @property
    def root(self) -> bytes:
        return bytes(self.tree.root)

    def doc(self, i: int) -> tuple[bytes, list[bytes]]:
        """(targetHash, proof) of document i."""
        return self.target_hashes[i], [bytes(p) for p in self.tree.proof(i)]


@dataclass(repr=False)
class World:
    """The baseline chain and the helpers every contract test uses."""

    tester: EthereumTester
    w3: Web3
    issuers: Contract
    documents: Contract
    accounts: dict[str, ChecksumAddress]
    batches: dict[str, Batch] = field(default_factory=dict)
    compromised_since: int = 0
    _errors: dict[str, tuple[bytes, list[str]]] = field(default_factory=dict)
    _events: dict[bytes, tuple[Contract, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for contract in (self.issuers, self.documents):
            for item in contract.abi:
                if item["type"] == "error":
                    types = [i["type"] for i in item["inputs"]]
                    selector = function_signature_to_4byte_selector(
                        f"{item['name']}({','.join(types)})")
                    self._errors[item["name"]] = (selector, types)
                elif item["type"] == "event":
                    self._events[event_abi_to_log_topic(item)] = (contract, item["name"])

    def __repr__(self) -> str:
        return f"World(issuers={self.issuers.address}, documents={self.documents.address})"

    def __getattr__(self, name: str) -> str:
        # world.a1, world.stranger, ...: the account of that role
        try:
            return str(self.__dict__["accounts"][name])
        except KeyError:
            raise AttributeError(name) from None

    # -- transactions ---------------------------------------------------------------------------

    def transact(self, fn: ContractFunction, sender: str) -> TxReceipt:
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
        assert receipt["status"] == 1
        return receipt

    def revert_data(self, fn: ContractFunction | ContractConstructor, sender: str) -> bytes:
        """The raw revert data of `fn` sent by `sender` (fails the test if it does not revert)."""
        try:
            fn.estimate_gas({"from": sender})
        except Exception as err:  # eth-tester keeps the EVM's revert in the exception chain
            data = _evm_revert_data(err)
            if data is None:
                raise
            return data
        pytest.fail(f"{fn} by {sender} did not revert")

    def error(self, name: str, *args: Any) -> bytes:
        """The exact revert data of custom error `name` with `args`."""
        selector, types = self._errors[name]
        return selector + abi_encode(types, list(args))

    def assert_reverts(self, fn: ContractFunction | ContractConstructor, sender: str, name: str,
                       *args: Any) -> None:
        actual = self.revert_data(fn, sender)
        expected = self.error(name, *args)
        assert actual == expected, f"expected {name}{args}, got {self.decode_error(actual)}"

    def decode_error(self, data: bytes) -> str:
        for name, (selector, _types) in self._errors.items():
            if data[:4] == selector:
                return f"{name}(0x{data[4:].hex()})"
        return f"unknown revert 0x{data.hex()}"

    # -- events and blocks ----------------------------------------------------------------------

    def events(self, receipt: TxReceipt) -> list[tuple[str, dict[str, Any]]]:
        """Every event of the transaction, in order, as (name, arguments)."""
        result = []
        for log in receipt["logs"]:
            contract, name = self._events[bytes(log["topics"][0])]
            assert log["address"] == contract.address
            result.append((name, dict(contract.events[name]().process_log(log)["args"])))
        return result

    def timestamp(self, receipt: TxReceipt) -> int:
        return int(self.w3.eth.get_block(receipt["blockNumber"])["timestamp"])

    def anchor(self, sender: str, doc_type: bytes, label: str, n: int) -> tuple[Batch, TxReceipt]:
        batch = Batch.of(label, n)
        receipt = self.transact(self.documents.functions.anchor(doc_type, [batch.root]), sender)
        return batch, receipt

    def status_change(self, action: str, batch: Batch, i: int, *extra: Any) -> ContractFunction:
        """revoke/suspend/reinstate of document i of `batch` (extra: the reason, if any)."""
        target, proof = batch.doc(i)
        fn: Callable[..., ContractFunction] = getattr(self.documents.functions, action)
        return fn(batch.root, target, proof, *extra)


def _evm_revert_data(err: BaseException) -> bytes | None:
    todo: list[BaseException] = [err]
    seen: set[int] = set()
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, Revert) and e.args and isinstance(e.args[0], bytes):
            return e.args[0]
        todo += [c for c in (e.__cause__, e.__context__) if c is not None]
        todo += [a for a in e.args if isinstance(a, BaseException)]
    return None


def deploy(w3: Web3, sender: str, name: str, *args: Any) -> Contract:
    art = artifacts.load(name)
    tx = w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(*args).transact(
        {"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1
    address = receipt["contractAddress"]
    assert address is not None
    contract: Contract = w3.eth.contract(address=address, abi=art.abi)
    return contract
