"""The chain port: what govchain needs from an Ethereum ledger, whatever node or emulator serves it.

Adapters: `embedded.EmbeddedChain` (py-evm in process, persisted by a journal in the govchain home)
and `rpc.RpcChain` (any JSON-RPC node: anvil in tests, Hyperledger Besu with QBFT in production).
Every adapter passes the one shared test class in tests/chain/test_adapters.py.

Writes are raw transactions signed by the caller; reads, calls, estimates and logs go through `w3`.
Failures to reach the node raise `LedgerUnavailableError`; a transaction the node refuses before
executing it raises `TransactionRejectedError`; a reverted transaction is not an error here, its
receipt simply has status 0.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import rlp
from web3 import Web3
from web3.types import TxReceipt

from govchain.errors import GovchainError

DEFAULT_RECEIPT_TIMEOUT = 30.0
DEFAULT_RPC_TIMEOUT = 10.0


class TransactionRejectedError(GovchainError):
    """The ledger refused a signed transaction before executing it (nonce, funds, gas, chain id,
    encoding). The message carries the node's own reason."""


class ChainFeatureUnsupportedError(GovchainError):
    """The ledger lacks a development feature: funding accounts or setting block timestamps."""


class InvalidTimestampError(GovchainError):
    """A block timestamp was asked for that is not later than the latest block's."""


def signed_chain_id(raw: bytes) -> int | None:
    """The chain id a raw signed transaction is bound to (EIP-155 or typed), None if unprotected.

    Both adapters refuse a transaction for another chain, which not every node does (anvil does
    not, for legacy transactions). Raises TransactionRejectedError for bytes that are no
    transaction.
    """
    try:
        if raw and raw[0] >= 0xC0:  # legacy: rlp([nonce, gasPrice, gas, to, value, data, v, r, s])
            fields = rlp.decode(raw)
            v = int.from_bytes(fields[6], "big")
            return (v - 35) // 2 if v >= 35 else None
        if raw and raw[0] <= 0x7F:  # typed (EIP-2718): type byte, rlp([chainId, ...])
            fields = rlp.decode(raw[1:])
            if isinstance(fields[0], list):  # blob transaction in its network wrapper
                fields = fields[0]
            return int.from_bytes(fields[0], "big")
    except (rlp.exceptions.RLPException, IndexError, TypeError) as err:
        raise TransactionRejectedError(f"Die Transaktion ist nicht lesbar: {err}") from err
    raise TransactionRejectedError("Die Transaktion ist nicht lesbar: unbekanntes Format")


def check_chain_id(raw: bytes, chain_id: int) -> None:
    signed_for = signed_chain_id(raw)
    if signed_for != chain_id:
        raise TransactionRejectedError(
            f"Die Transaktion ist für Chain {signed_for} signiert, nicht für Chain {chain_id}")


@dataclass(frozen=True)
class BlockInfo:
    number: int
    timestamp: int
    hash: bytes


class Chain(ABC):
    """One connection to one ledger. Use as a context manager or call `close()`."""

    w3: Web3

    @property
    @abstractmethod
    def chain_id(self) -> int:
        """The EIP-155 chain id; fixed for the lifetime of the object."""

    @abstractmethod
    def send_raw_transaction(self, raw: bytes) -> bytes:
        """Submits a signed transaction and returns its hash.

        The embedded chain mines it at once and has persisted it before returning.
        Raises TransactionRejectedError when the ledger refuses it.
        """

    @abstractmethod
    def wait_for_receipt(self, tx_hash: bytes, timeout: float = DEFAULT_RECEIPT_TIMEOUT
                         ) -> TxReceipt:
        """The receipt once the transaction is mined (status 0 for a revert).

        Raises LedgerUnavailableError if it is not mined within `timeout` seconds.
        """

    @abstractmethod
    def fund(self, address: str, wei: int) -> None:
        """Makes sure `address` holds at least `wei` on a development chain.

        Does nothing if it already does, or if the ledger charges no gas (gas price 0, as on a
        Besu QBFT consortium network). Raises ChainFeatureUnsupportedError where the ledger has
        no way to create ether for it.
        """

    @abstractmethod
    def set_next_block_timestamp(self, timestamp: int) -> None:
        """Development chains only: the next block gets this Unix time (must be later than the
        latest block's). Real networks do not support it (ChainFeatureUnsupportedError)."""

    @abstractmethod
    def sync(self) -> None:
        """Brings the local view up to date with writes made by other processes."""

    def block_number(self) -> int:
        """The latest block's number (asked many times a second by the status index)."""
        return int(self.w3.eth.block_number)

    def block_timestamp(self, number: int) -> int:
        return int(self.w3.eth.get_block(number)["timestamp"])

    def latest_block(self) -> BlockInfo:
        block = self.w3.eth.get_block("latest")
        return BlockInfo(number=int(block["number"]), timestamp=int(block["timestamp"]),
                         hash=bytes(block["hash"]))

    @abstractmethod
    def close(self) -> None:
        """Releases files, locks and connections; idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
