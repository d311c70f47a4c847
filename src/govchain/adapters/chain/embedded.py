"""The embedded chain: an EVM in this process (eth-tester on py-evm), persisted in a govchain home.

Persistence is a journal of the raw signed transactions, `home/chain/journal`: one JSON line per
entry, each transaction with the timestamp, number and hash of the block it was mined in. Opening
a home replays the journal on a fixed genesis with the same timestamps, so transaction hashes,
contract addresses, block numbers, timestamps and block hashes come out identical in every process;
each replayed block is checked against the hash the journal recorded.

Several processes may use one home at once. A writer takes an exclusive `flock` on the journal,
replays what others appended since its last look, mines its transaction and appends it (fsync'd)
before it lets go; readers pick up complete lines only. A torn last line left by a crash is ignored
and cut off by the next writer.

Replay runs at about 60 transactions per second (270 with `coincurve` installed: most of the time
goes into py-evm's pure-Python ECDSA), so a snapshot of py-evm's key-value store
(`home/chain/snapshot`) is written once 50 entries are not covered by it, and on open and close once
10 are. It names the journal prefix it covers by length and SHA-256 and is used only if both still
match, so a stale or damaged snapshot costs time, never correctness. The store is never pruned: the
snapshot grows by a few kilobytes per block.

Differences from a real node: one block per transaction; block timestamps are strictly increasing
(so a burst of transactions runs ahead of the wall clock by up to a second per block); the block's
`prevRandao` is derived from the parent hash (deterministic replay), not random.

The journal file: `journal`. This module stays one (≈570 lines): the snapshot, the restore and
the provider all work on the backend's private py-evm state, which a split would expose.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, cast

import rlp
from eth.db.atomic import AtomicDB
from eth.db.backends.memory import MemoryDB
from eth.exceptions import Revert
from eth.vm.spoof import SpoofTransaction
from eth_account import Account
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.main import _get_vm_for_block_number, get_default_genesis_params
from eth_tester.exceptions import TransactionFailed
from eth_tester.exceptions import ValidationError as TesterValidationError
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError as EvmValidationError
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound
from web3.providers.eth_tester import EthereumTesterProvider
from web3.providers.eth_tester.defaults import API_ENDPOINTS
from web3.types import RPCEndpoint, RPCResponse, TxReceipt

from govchain.adapters.chain.base import (
    DEFAULT_RECEIPT_TIMEOUT,
    Chain,
    ChainFeatureUnsupportedError,
    InvalidTimestampError,
    TransactionRejectedError,
    check_chain_id,
)
from govchain.adapters.chain.journal import _FEE_FIELDS, _Entry, _hex, _Journal
from govchain.errors import ConfigurationError, GovchainError, LedgerUnavailableError

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = "govchain-embedded-chain-snapshot"
SNAPSHOT_VERSION = 1


# Fixed so that every process builds the same genesis block (eth-tester would use the current time).
GENESIS_TIMESTAMP = 1_735_689_600  # 2025-01-01T00:00:00Z


# eth-tester's first prefunded genesis account (private key 1): the source of `fund`.
FUNDER_KEY = (1).to_bytes(32, "big")


# Snapshot when this many journal entries are not yet covered by the snapshot on disk ...
SNAPSHOT_EVERY = 50


# ... and, on open and close, already from this many (a CLI command opens and closes every time).
SNAPSHOT_MIN = 10
_RECEIPT_POLL = 0.05


class _Reverted(Exception):  # never leaves _EmbeddedProvider, which answers as a node
    """eth_call or eth_estimateGas reverted with this revert data."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.data = data


class _CallFailed(Exception):
    """eth_call or eth_estimateGas failed without reverting (out of gas, invalid opcode, …)."""


class _Backend(PyEVMBackend):  # type: ignore[misc]
    """eth-tester's py-evm backend, made to behave like a node where govchain can tell: blocks are
    reproducible (prevRandao comes from the parent hash); a failing call or estimate reports the
    raw revert data, so that web3 raises ContractLogicError with `data` as it does for anvil or
    Besu; and calls and estimates without fee fields cost nothing, so unfunded accounts can call."""

    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = b"\0" * 20) -> tuple[bytes, ...]:
        hashes = []
        for _ in range(num_blocks):
            parent = self.chain.get_canonical_head()
            mix_hash = keccak(b"govchain-prevrandao" + parent.hash)
            hashes.append(self.chain.mine_block(coinbase=coinbase, mix_hash=mix_hash).hash)
        return tuple(hashes)

    def call(self, transaction: dict[str, Any], block_number: Any = "latest") -> bytes:
        # PyEVMBackend.call, but keeping the computation's error instead of a string of it, and
        # without fees unless asked for: nodes let any account call, funded or not.
        tx = {"gas": self._max_available_gas(), **transaction}
        vm = _get_vm_for_block_number(self.chain, block_number)
        state = vm.state
        free = not _FEE_FIELDS & tx.keys()
        if free:
            tx.update(max_fee_per_gas=state.base_fee, max_priority_fee_per_gas=0)
        unsigned = self._get_normalized_and_unsigned_evm_transaction(tx, block_number)
        sender = transaction["from"]
        snapshot = state.snapshot()
        try:
            if free:  # credit exactly the gas, so the code sees the sender's own balance
                state.set_balance(sender, state.get_balance(sender) + tx["gas"] * state.base_fee)
            computation = state.apply_transaction(SpoofTransaction(unsigned, from_=sender))
        except EvmValidationError as err:
            raise _CallFailed(str(err)) from err
        finally:
            state.revert(snapshot)
        if computation.is_error:
            if isinstance(computation.error, Revert):
                raise _Reverted(bytes(computation.output))
            raise _CallFailed(str(computation.error))
        return bytes(computation.output)

    def estimate_gas(self, transaction: dict[str, Any], block_number: Any = "latest") -> int:
        # py-evm estimates on a block without base fee; without fees asked for, none are charged.
        if not _FEE_FIELDS & transaction.keys():
            transaction = {**transaction, "max_fee_per_gas": 0, "max_priority_fee_per_gas": 0}
        try:
            return int(super().estimate_gas(transaction, block_number))
        except TransactionFailed as err:
            cause = err.args[0] if err.args else None
            if isinstance(cause, Revert):
                raise _Reverted(bytes(cause.args[0]) if cause.args else b"") from err
            raise _CallFailed(str(cause or err)) from err
        except EvmValidationError as err:
            raise _CallFailed(str(err)) from err


class EmbeddedChain(Chain):
    """py-evm in this process; journaled in `home`/chain, or in memory only when `home` is None.

    `w3` reads the chain and syncs with the journal before each request; its
    eth_sendRawTransaction goes through `send_raw_transaction`, and what cannot be journaled
    (eth_sendTransaction, evm_mine, evm_revert, …) is refused. `stats` tells how the last open went:
    journal entries restored from the snapshot, entries replayed, and the seconds each took.
    """

    def __init__(self, home: Path | None, *, snapshot_every: int = SNAPSHOT_EVERY,
                 snapshot_min: int = SNAPSHOT_MIN) -> None:
        self._lock = threading.RLock()
        self._backend = _Backend(
            genesis_parameters=get_default_genesis_params({"timestamp": GENESIS_TIMESTAMP}))
        self._tester = EthereumTester(self._backend)
        self._chain_id = int(self._backend.chain.chain_id)
        self._genesis_hash = bytes(self._backend.chain.get_canonical_head().hash)
        self._next_timestamp: int | None = None
        self._snapshot_every = snapshot_every
        self._snapshot_min = snapshot_min
        self._closed = False
        self.home = home
        self._journal: _Journal | None = None
        self._offset = 0  # journal bytes applied to the in-memory chain
        self._seen_size = 0
        self._journal_hash = hashlib.sha256()  # of those bytes
        self._entries = 0  # journal entries applied
        self._snapshot_entries = 0  # journal entries covered by the snapshot on disk
        self.stats: dict[str, float] = {}
        self.w3 = Web3(_EmbeddedProvider(self))
        if home is None:
            return
        started = time.perf_counter()
        self._journal = _Journal(home / "chain" / "journal", self._chain_id, self._genesis_hash)
        try:
            if not self._load_snapshot():
                self._offset = self._journal.header_end
                self._journal_hash = hashlib.sha256(self._journal.read_prefix(self._offset))
            loaded = time.perf_counter()
            replayed = self._replay_new()
            self.stats = {"snapshot_entries": self._snapshot_entries, "replayed": replayed,
                          "snapshot_s": loaded - started,
                          "replay_s": time.perf_counter() - loaded}
            self._maybe_snapshot(self._snapshot_min)
        except BaseException:
            self._journal.close()
            raise

    # -- the port ------------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def send_raw_transaction(self, raw: bytes) -> bytes:
        with self._writing():
            tx_hash = self._submit(raw)
        self._maybe_snapshot(self._snapshot_every)
        return tx_hash

    def wait_for_receipt(self, tx_hash: bytes, timeout: float = DEFAULT_RECEIPT_TIMEOUT
                         ) -> TxReceipt:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                # Only a transaction another process sent can still appear (the provider syncs).
                if time.monotonic() >= deadline:
                    raise LedgerUnavailableError(
                        f"Transaktion 0x{bytes(tx_hash).hex()} ist nach {timeout:g} s nicht in "
                        "der eingebetteten Chain") from None
                time.sleep(_RECEIPT_POLL)

    def fund(self, address: str, wei: int) -> None:
        """Tops `address` up to `wei` with a journaled transfer from eth-tester's first genesis
        account (one million ether, key 0x…01)."""
        funder = Account.from_key(FUNDER_KEY)
        recipient = to_checksum_address(address)
        with self._writing():
            balance = int(self._tester.get_balance(recipient))
            if balance >= wei:
                return
            base_fee = int(self._backend.chain.header.base_fee_per_gas)
            tx = {"to": recipient, "value": wei - balance, "gas": 21_000,
                  "maxFeePerGas": 2 * base_fee + 10**9, "maxPriorityFeePerGas": 10**9,
                  "nonce": self._tester.get_nonce(funder.address), "chainId": self._chain_id}
            self._submit(bytes(funder.sign_transaction(tx).raw_transaction))
        self._maybe_snapshot(self._snapshot_every)

    def set_next_block_timestamp(self, timestamp: int) -> None:
        with self._writing():
            latest = int(self._backend.chain.get_canonical_head().timestamp)
            if timestamp <= latest:
                raise InvalidTimestampError(f"Der Zeitstempel {timestamp} liegt nicht nach dem "
                                            f"des letzten Blocks ({latest})")
            self._append(_Entry(timestamp=timestamp))
            self._next_timestamp = timestamp

    def sync(self) -> None:
        with self._lock:
            if self._journal is not None and not self._closed:
                self._replay_new()
        self._maybe_snapshot(self._snapshot_every)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._maybe_snapshot(self._snapshot_min)
            self._closed = True
            if self._journal is not None:
                self._journal.close()

    # -- writing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """This process's lock and the journal's; inside, the chain has applied all the journal."""
        with self._lock:
            if self._closed:
                raise GovchainError("Die eingebettete Chain ist bereits geschlossen")
            if self._journal is None:
                yield
                return
            with self._journal.locked():
                self._replay_new()
                yield

    def _submit(self, raw: bytes) -> bytes:
        """Mines `raw` in a new block and journals it; call inside `_writing`."""
        latest = int(self._backend.chain.get_canonical_head().timestamp)
        wanted = int(time.time()) if self._next_timestamp is None else self._next_timestamp
        timestamp = max(wanted, latest + 1)
        previous_head = self._backend.chain.get_canonical_head().hash
        tx_hash = self._apply(raw, timestamp)
        head = self._backend.chain.get_canonical_head()
        try:
            self._append(_Entry(timestamp=timestamp, raw=raw, block=head.block_number,
                                block_hash=head.hash))
        except ConfigurationError:
            self._backend.revert_to_snapshot(previous_head)
            raise
        self._next_timestamp = None
        return tx_hash

    def _append(self, entry: _Entry) -> None:
        if self._journal is None:
            return
        line = entry.encode()
        try:
            self._journal.append(line, at=self._offset)
        except OSError as err:
            raise ConfigurationError(
                f"Das Journal {self._journal.path} lässt sich nicht schreiben: {err}") from err
        self._consumed(line)

    def _apply(self, raw: bytes, timestamp: int) -> bytes:
        """Executes `raw` in the next block, mined at `timestamp`; returns the transaction hash."""
        check_chain_id(raw, self._chain_id)
        chain = self._backend.chain
        chain.set_header_timestamp(timestamp)
        try:
            tx_hash = self._tester.send_raw_transaction("0x" + raw.hex())
        except BaseException as err:
            # Never leave a half-built block behind for the next transaction.
            chain = self._backend.chain
            chain.header = chain.create_header_from_parent(chain.get_canonical_head())
            if isinstance(err, EvmValidationError | TesterValidationError
                          | rlp.exceptions.RLPException | ValueError):
                raise TransactionRejectedError(f"Transaktion abgelehnt: {err}") from err
            raise
        return bytes(HexBytes(tx_hash))

    # -- reading the journal -------------------------------------------------------------------

    def _consumed(self, line: bytes) -> None:
        self._offset += len(line)
        self._journal_hash.update(line)
        self._entries += 1

    def _replay_new(self) -> int:
        """Applies the entries other processes appended since we last looked; returns how many."""
        assert self._journal is not None
        self._seen_size = self._journal.size()
        if self._seen_size == self._offset:
            return 0
        count = 0
        for entry, line in self._journal.read_from(self._offset):
            if entry.raw is None:
                self._next_timestamp = entry.timestamp
            else:
                self._replay(entry)
                self._next_timestamp = None
            self._consumed(line)
            count += 1
        return count

    def _replay(self, entry: _Entry) -> None:
        assert entry.raw is not None and self._journal is not None
        where = f"Das Journal {self._journal.path}, Block {entry.block}"
        expected = self._backend.chain.get_canonical_head().block_number + 1
        if entry.block != expected:
            raise ConfigurationError(f"{where}: erwartet wurde Block {expected}")
        try:
            self._apply(entry.raw, entry.timestamp)
        except TransactionRejectedError as err:
            raise ConfigurationError(f"{where} lässt sich nicht nachspielen: {err}") from err
        head = self._backend.chain.get_canonical_head()
        if head.hash != entry.block_hash:
            raise ConfigurationError(
                f"{where}: nachgespielt ergibt sich Hash 0x{head.hash.hex()}, das Journal nennt "
                f"0x{entry.block_hash.hex()}. Wurden eth-tester oder py-evm geändert?")

    def _sync_if_changed(self) -> None:
        """Cheap check before every read through `w3`: one fstat."""
        if self._journal is not None and not self._closed \
                and self._journal.size() != self._seen_size:
            self._replay_new()

    # -- snapshots -----------------------------------------------------------------------------

    @property
    def _snapshot_path(self) -> Path:
        assert self._journal is not None
        return self._journal.path.with_name("snapshot")

    def _snapshot_identity(self) -> dict[str, Any]:
        return {"format": SNAPSHOT_FORMAT, "version": SNAPSHOT_VERSION,
                "chain_id": self._chain_id, "genesis": "0x" + self._genesis_hash.hex(),
                "py_evm": package_version("py-evm"), "eth_tester": package_version("eth-tester")}

    def _maybe_snapshot(self, threshold: int) -> None:
        with self._lock:
            if self._journal is None or self._closed \
                    or self._entries - self._snapshot_entries < threshold:
                return
            try:
                self._write_snapshot()
            except OSError as err:  # only a cache: the journal is the truth
                log.warning("cannot write snapshot %s: %s", self._snapshot_path, err)

    def _write_snapshot(self) -> None:
        kv = _kv_store(self._backend.chain)
        if kv is None:
            return
        body = b"".join(struct.pack(">II", len(k), len(v)) + k + v for k, v in kv.items())
        head = self._backend.chain.get_canonical_head()
        header = {**self._snapshot_identity(), "journal_bytes": self._offset,
                  "journal_sha256": self._journal_hash.hexdigest(), "entries": self._entries,
                  "block": head.block_number, "hash": "0x" + head.hash.hex(),
                  "body_sha256": hashlib.sha256(body).hexdigest()}
        path = self._snapshot_path
        tmp = path.with_name(f".snapshot.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(json.dumps(header, separators=(",", ":")).encode() + b"\n")
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self._snapshot_entries = self._entries

    def _load_snapshot(self) -> bool:
        """Restores the chain from a snapshot that matches the journal; False if there is none."""
        assert self._journal is not None
        try:
            data = self._snapshot_path.read_bytes()
        except FileNotFoundError:
            return False
        except OSError as err:
            log.warning("cannot read snapshot %s: %s", self._snapshot_path, err)
            return False
        try:
            restored = self._restore(data)
        except (ValueError, KeyError, TypeError, struct.error) as err:
            log.warning("ignoring snapshot %s: %s", self._snapshot_path, err)
            return False
        if restored is None:
            return False
        chain, prefix, header, pending = restored
        self._backend.chain = chain
        self._offset = len(prefix)
        self._seen_size = len(prefix)
        self._journal_hash = hashlib.sha256(prefix)
        self._entries = self._snapshot_entries = int(header["entries"])
        self._next_timestamp = pending
        return True

    def _restore(self, data: bytes) -> tuple[Any, bytes, dict[str, Any], int | None] | None:
        assert self._journal is not None
        newline = data.index(b"\n")
        header = json.loads(data[:newline])
        identity = self._snapshot_identity()
        if {k: header.get(k) for k in identity} != identity:
            log.info("snapshot %s is from another version; replaying", self._snapshot_path)
            return None
        body = data[newline + 1:]
        if hashlib.sha256(body).hexdigest() != header["body_sha256"]:
            raise ValueError("body checksum mismatch")
        end = int(header["journal_bytes"])
        prefix = self._journal.read_prefix(end)
        if len(prefix) != end or hashlib.sha256(prefix).hexdigest() != header["journal_sha256"]:
            log.info("snapshot %s does not match the journal; replaying", self._snapshot_path)
            return None
        last_tx, pending = _last_block_of(prefix, self._journal.header_end)
        block_hash = _hex(header["hash"])
        if last_tx is not None and (last_tx.block, last_tx.block_hash) \
                != (header["block"], block_hash):
            raise ValueError("head differs from the journal's last block")
        kv: dict[bytes, bytes] = {}
        pos = 0
        while pos < len(body):
            klen, vlen = struct.unpack_from(">II", body, pos)
            pos += 8
            kv[body[pos:pos + klen]] = body[pos + klen:pos + klen + vlen]
            pos += klen + vlen
        chain = type(self._backend.chain)(AtomicDB(MemoryDB(kv)))
        head = chain.get_canonical_head()
        if head.hash != block_hash or (last_tx is None and head.hash != self._genesis_hash):
            raise ValueError("restored head differs from the snapshot header")
        return chain, prefix, header, pending


def _last_block_of(prefix: bytes, header_end: int) -> tuple[_Entry | None, int | None]:
    """The last transaction entry in a journal prefix, and a next-block timestamp set after it."""
    pending: int | None = None
    end = len(prefix) - 1  # the final newline
    while end > header_end:
        start = prefix.rfind(b"\n", 0, end) + 1
        entry = _Entry.decode(prefix[start:end + 1])
        if entry.raw is not None:
            return entry, pending
        if pending is None:
            pending = entry.timestamp
        end = start - 1
    return None, pending


def _kv_store(chain: Any) -> dict[bytes, bytes] | None:
    db = getattr(chain.chaindb, "db", None)
    memory = getattr(db, "wrapped_db", None)
    if not isinstance(db, AtomicDB) or not isinstance(memory, MemoryDB):
        return None
    kv: dict[bytes, bytes] = memory.kv_store
    return kv


# JSON-RPC methods that would change the chain behind the journal's back.
_UNJOURNALED = (("eth", "sendTransaction"), ("evm", "mine"), ("evm", "revert"),
                ("evm", "snapshot"), ("testing", "timeTravel"))


class _EmbeddedProvider(EthereumTesterProvider):
    """web3 provider over the chain's eth-tester: journals eth_sendRawTransaction, refuses what
    cannot be journaled, syncs with the journal before each request, and serialises threads."""

    def __init__(self, chain: EmbeddedChain) -> None:
        endpoints: dict[str, dict[str, Callable[..., Any]]] = {
            namespace: dict(methods) for namespace, methods in API_ENDPOINTS.items()}

        def send_raw(_tester: object, params: list[Any]) -> str:
            return "0x" + chain.send_raw_transaction(bytes(HexBytes(params[0]))).hex()

        endpoints["eth"]["sendRawTransaction"] = send_raw
        for namespace, name in _UNJOURNALED:
            endpoints[namespace][name] = _refuse(f"{namespace}_{name}")
        super().__init__(chain._tester, endpoints)
        self._chain = chain

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if method in ("eth_getLogs", "eth_newFilter") and params and isinstance(params[0], dict) \
                and params[0].get("topics"):
            # eth-tester matches topics only of its own type (bytes, not HexBytes); nodes see hex.
            params = [{**params[0], "topics": _hex_topics(params[0]["topics"])}, *params[1:]]
        with self._chain._lock:
            self._chain._sync_if_changed()
            try:
                response: RPCResponse = super().make_request(method, params)
                return response
            except _Reverted as err:  # as geth, anvil and Besu answer
                error = {"code": 3, "message": "execution reverted", "data": "0x" + err.data.hex()}
            except _CallFailed as err:
                error = {"code": -32000, "message": str(err)}
            return cast(RPCResponse, {"jsonrpc": "2.0", "id": 0, "error": error})


def _hex_topics(topics: Any) -> Any:
    if isinstance(topics, bytes | bytearray):
        return "0x" + bytes(topics).hex()
    if isinstance(topics, list | tuple):
        return [_hex_topics(topic) for topic in topics]
    return topics


def _refuse(method: str) -> Callable[..., Any]:
    def refuse(*_args: object) -> Any:
        raise ChainFeatureUnsupportedError(
            f"{method} ist auf der eingebetteten Chain nicht möglich: sie nimmt nur signierte "
            "Transaktionen an (send_raw_transaction), damit das Journal alles nachspielen kann")
    return refuse
