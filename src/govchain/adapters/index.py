"""The status index: both contracts' state rebuilt in memory from their events, for fast verification.

Verification needs, per document, the anchor of its root, the issuer account and municipality behind
it and the document's status entry. A direct contract call answers that in one round trip to the
node (≈1–3 ms over HTTP, plus the node's work); the index answers from a dictionary in microseconds.

The index knows the block it is current to. `IndexedLedger.verification` answers from it only when
it is at most `max_lag` blocks behind the node's head (asked at most every `head_ttl` seconds, and
the index catches up first when it can); otherwise, or when the node cannot be asked, it calls the
contract directly (or reports the node unreachable). Either way the answer names the block it rests
on (`OnChainVerification.ledger_block`).

Every value here is a copy of what the contracts' views return, derived the same way: the anchor's
timestamp and block are those of the RootAnchored log's block, a status change's time that of its
block (`_setStatus` stores block.timestamp), an account's retiredAt the block time of its
AccountRetired log. tests/integration/test_index.py compares index and contract answers after each
kind of change.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address
from web3.exceptions import Web3Exception

from govchain.adapters.ledger import Ledger, ags_from_bytes
from govchain.domain.hashing import keccak
from govchain.domain.ledger_view import (
    AccountState,
    Deployment,
    DocumentStatus,
    IssuerAccount,
    Municipality,
    OnChainVerification,
    SigningKey,
)
from govchain.errors import GovchainError, LedgerUnavailableError

_ZERO_ADDRESS = "0x" + "00" * 20
_LOG_CHUNK = 5000  # blocks per eth_getLogs request


def leaf_of(target_hash: bytes) -> bytes:
    """DocumentRegistry.leafOf: keccak(0x00 ‖ targetHash)."""
    return bytes(keccak(b"\x00" + bytes(target_hash)))


@dataclass
class _Anchor:
    account: str
    timestamp: int
    block: int
    doc_type: bytes


@dataclass
class _Account:
    ags: str
    address: str = ""
    added_at: int = 0
    retired_at: int = 0
    compromised_since: int = 0


@dataclass
class _Municipality:
    name: str
    active: bool = True
    doc_types: set[bytes] = field(default_factory=set)
    admitted_at: int = 0
    accounts: list[str] = field(default_factory=list)  # in the order they were added


@dataclass
class _Status:
    status: DocumentStatus
    reason: int
    changed_at: int


class StatusIndex:
    """What both contracts hold, as of `block`, built from their logs."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.block = ledger.deployment.block - 1  # nothing seen yet
        self._anchors: dict[bytes, _Anchor] = {}
        self._statuses: dict[tuple[bytes, bytes], _Status] = {}
        self._accounts: dict[str, _Account] = {}
        self._municipalities: dict[str, _Municipality] = {}
        self._block_times: dict[int, int] = {}
        # per municipality: the leaves whose status is not NONE, and a counter of status
        # changes (what a status list credential is made from, and when it must be remade)
        self._changed: dict[str, dict[bytes, DocumentStatus]] = {}
        self._versions: dict[str, int] = {}
        self._key_versions: dict[str, int] = {}  # signing key events per municipality
        self._lock = threading.Lock()
        self._handlers = self._event_handlers()

    @property
    def deployment(self) -> Deployment:
        return self.ledger.deployment

    def size(self) -> dict[str, int]:
        return {"anchors": len(self._anchors), "statuses": len(self._statuses),
                "accounts": len(self._accounts), "municipalities": len(self._municipalities)}

    # -- keeping current --

    def sync(self, to_block: int | None = None) -> int:
        """Applies the logs of the blocks after `block` up to `to_block` (default: the node's
        head); returns the block the index is now current to. Raises LedgerUnavailableError."""
        with self._lock:
            w3 = self.ledger.chain.w3
            try:
                self.ledger.chain.sync()
                head = self.ledger.chain.block_number() if to_block is None else to_block
                start = self.block + 1
                while start <= head:
                    end = min(head, start + _LOG_CHUNK - 1)
                    logs = w3.eth.get_logs({
                        "address": [to_checksum_address(self.deployment.issuer_registry),
                                    to_checksum_address(self.deployment.document_registry)],
                        "fromBlock": start, "toBlock": end})
                    for log in sorted(logs, key=lambda x: (x["blockNumber"], x["logIndex"])):
                        self._apply(log)
                    self.block = end
                    start = end + 1
            except (Web3Exception, OSError, ValueError) as err:
                raise LedgerUnavailableError(f"Der Ledger-Knoten ist nicht erreichbar: {err}") \
                    from err
            return self.block

    def _time_of(self, block: int) -> int:
        if block not in self._block_times:
            self._block_times[block] = self.ledger.chain.block_timestamp(block)
            if len(self._block_times) > 10_000:  # only recent blocks are asked for again
                for old in sorted(self._block_times)[:5000]:
                    del self._block_times[old]
        return self._block_times[block]

    def _event_handlers(self) -> dict[bytes, tuple[Any, Any]]:
        handlers: dict[bytes, tuple[Any, Any]] = {}
        for contract in (self.ledger.issuer_registry, self.ledger.document_registry):
            for item in contract.abi:
                event: dict[str, Any] = dict(item)
                if event.get("type") != "event":
                    continue
                name = event["name"]
                apply = getattr(self, f"_on_{name}", None)
                if apply is None:
                    continue
                signature = f"{name}({','.join(i['type'] for i in event['inputs'])})"
                handlers[bytes(keccak(signature.encode()))] = (
                    getattr(contract.events, name)(), apply)
        return handlers

    def _apply(self, log: Any) -> None:
        topics = log["topics"]
        if not topics:
            return
        found = self._handlers.get(bytes(topics[0]))
        if found is None:
            return
        event, apply = found
        decoded = event.process_log(log)
        apply(decoded["args"], int(log["blockNumber"]))

    # -- IssuerRegistry events --

    def _on_MunicipalityAdmitted(self, args: Any, block: int) -> None:
        self._municipalities[ags_from_bytes(args["ags"])] = _Municipality(
            args["name"], admitted_at=self._time_of(block))

    def _on_MunicipalitySuspended(self, args: Any, block: int) -> None:
        self._municipalities[ags_from_bytes(args["ags"])].active = False

    def _on_MunicipalityReactivated(self, args: Any, block: int) -> None:
        self._municipalities[ags_from_bytes(args["ags"])].active = True

    def _on_DocTypeAllowed(self, args: Any, block: int) -> None:
        self._municipalities[ags_from_bytes(args["ags"])].doc_types.add(bytes(args["docType"]))

    def _on_DocTypeDisallowed(self, args: Any, block: int) -> None:
        self._municipalities[ags_from_bytes(args["ags"])].doc_types.discard(bytes(args["docType"]))

    def _on_AccountAdded(self, args: Any, block: int) -> None:
        ags, address = ags_from_bytes(args["ags"]), str(args["account"])
        self._accounts[address.lower()] = _Account(ags, address, self._time_of(block))
        if ags in self._municipalities:
            self._municipalities[ags].accounts.append(address)

    def _on_AccountRetired(self, args: Any, block: int) -> None:
        self._accounts[str(args["account"]).lower()].retired_at = self._time_of(block)

    def _on_AccountCompromised(self, args: Any, block: int) -> None:
        self._accounts[str(args["account"]).lower()].compromised_since = int(args["since"])

    def _key_changed(self, args: Any, block: int) -> None:
        ags = ags_from_bytes(bytes(args["ags"]))
        self._key_versions[ags] = self._key_versions.get(ags, 0) + 1

    _on_SigningKeyAdded = _on_SigningKeyRetired = _on_SigningKeyCompromised = _key_changed

    # -- DocumentRegistry events --

    def _on_RootAnchored(self, args: Any, block: int) -> None:
        self._anchors[bytes(args["root"])] = _Anchor(str(args["account"]), self._time_of(block),
                                                     block, bytes(args["docType"]))

    def _set_status(self, args: Any, block: int, status: DocumentStatus, reason: int) -> None:
        leaf = bytes(args["leaf"])
        self._statuses[(bytes(args["root"]), leaf)] = _Status(status, reason,
                                                              self._time_of(block))
        account = self._accounts.get(str(args["account"]).lower())
        if account is not None:
            changed = self._changed.setdefault(account.ags, {})
            if status is DocumentStatus.NONE:
                changed.pop(leaf, None)
            else:
                changed[leaf] = status
            self._versions[account.ags] = self._versions.get(account.ags, 0) + 1

    def _on_DocumentRevoked(self, args: Any, block: int) -> None:
        self._set_status(args, block, DocumentStatus.REVOKED, int(args["reason"]))

    def _on_DocumentSuspended(self, args: Any, block: int) -> None:
        self._set_status(args, block, DocumentStatus.SUSPENDED, int(args["reason"]))

    def _on_DocumentReinstated(self, args: Any, block: int) -> None:
        self._set_status(args, block, DocumentStatus.NONE, 0)

    # -- answering --

    def status_changes(self, ags: str) -> tuple[tuple[int, int], dict[bytes, DocumentStatus]]:
        """((how many status changes and signing-key events `ags` has had), its documents'
        leaves that are revoked or suspended now): what its status lists show, and a version
        that changes whenever a list of it must be made or signed anew."""
        with self._lock:
            return ((self._versions.get(ags, 0), self._key_versions.get(ags, 0)),
                    dict(self._changed.get(ags, {})))

    def municipality(self, ags: str) -> Municipality:
        """What IssuerRegistry.municipality, accountsOf and docTypesOf return, as of `block`."""
        m = self._municipalities.get(ags)
        if m is None:
            return Municipality(ags, "", False, False, 0, (), ())
        return Municipality(ags, m.name, True, m.active, m.admitted_at, tuple(m.accounts),
                            tuple(m.doc_types))

    def issuer_account(self, address: str) -> IssuerAccount:
        a = self._accounts.get(address.lower())
        if a is None:
            return IssuerAccount(to_checksum_address(address), "", AccountState.UNKNOWN, 0, 0, 0)
        state = AccountState.RETIRED if a.retired_at else AccountState.ACTIVE
        return IssuerAccount(to_checksum_address(address), a.ags, state, a.added_at,
                             a.retired_at, a.compromised_since)

    def verification(self, root: bytes, target_hash: bytes) -> OnChainVerification:
        """What DocumentRegistry.verification(root, targetHash) returns as of `block`."""
        root, leaf = bytes(root), leaf_of(target_hash)
        block = self.block
        anchor = self._anchors.get(root)
        if anchor is None:
            return OnChainVerification(
                anchored=False, root=root, leaf=leaf, ags="", municipality_name="",
                municipality_active=False, account=_ZERO_ADDRESS, doc_type=b"\0" * 32,
                anchored_at=0, anchor_block=0, account_retired_at=0,
                account_compromised_since=0, doc_type_allowed_now=False,
                status=DocumentStatus.NONE, reason=0, status_changed_at=0, ledger_block=block)
        account = self._accounts.get(anchor.account.lower()) or _Account("")
        municipality = self._municipalities.get(account.ags) or _Municipality("", active=False)
        status = self._statuses.get((root, leaf)) or _Status(DocumentStatus.NONE, 0, 0)
        return OnChainVerification(
            anchored=True, root=root, leaf=leaf, ags=account.ags,
            municipality_name=municipality.name, municipality_active=municipality.active,
            account=anchor.account, doc_type=anchor.doc_type, anchored_at=anchor.timestamp,
            anchor_block=anchor.block, account_retired_at=account.retired_at,
            account_compromised_since=account.compromised_since,
            doc_type_allowed_now=anchor.doc_type in municipality.doc_types,
            status=status.status, reason=status.reason, status_changed_at=status.changed_at,
            ledger_block=block)


class IndexedLedger:
    """A LedgerReader that answers from the index while it is current, else from the contract."""

    def __init__(self, ledger: Ledger, *, max_lag: int = 1, head_ttl: float = 0.05) -> None:
        self.ledger = ledger
        self.index = StatusIndex(ledger)
        self.max_lag = max_lag
        self.head_ttl = head_ttl
        self._head = -1
        self._head_at = 0.0
        self._head_lock = threading.Lock()
        self.answers = {"index": 0, "direct": 0}
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()
        self._poll_ok_at = 0.0  # monotonic time of the poller's last successful look
        ledger.after_write = self.catch_up

    @property
    def deployment(self) -> Deployment:
        return self.ledger.deployment

    # -- kept current by a thread (the service) --

    def start_polling(self, interval: float = 0.05) -> None:
        """Looks at the node's head every `interval` seconds and catches the index up, so that
        verification never waits for the node while the index is current."""
        self.head_ttl = interval

        def poll() -> None:
            while not self._stop.wait(interval):
                try:
                    self._refresh()
                    self._poll_ok_at = time.monotonic()
                except GovchainError:
                    pass  # stale now: fresh() is False and verification asks the node itself

        self._poller = threading.Thread(target=poll, name="status-index", daemon=True)
        self._poller.start()

    def stop_polling(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(5)

    def fresh(self) -> bool:
        """True while the poller saw the node recently and the index is within max_lag of it:
        a verification then needs no I/O at all."""
        return (self._poller is not None
                and time.monotonic() - self._poll_ok_at <= 4 * self.head_ttl + 0.2
                and self.index.block >= self._head - self.max_lag)

    def catch_up(self) -> None:
        """Brings the index to the node's head now (after a write of this process)."""
        # An unreachable node is for the poller and the direct fallback to deal with.
        with contextlib.suppress(GovchainError):
            self._refresh()

    def _refresh(self) -> None:
        with self._head_lock:
            head = self.ledger.head()
            if head > self.index.block:
                self.index.sync(head)
            self._head, self._head_at = head, time.monotonic()

    def head(self) -> int:
        """The node's head, asked at most every head_ttl seconds; the index catches up to it."""
        if self.fresh() or time.monotonic() - self._head_at <= self.head_ttl:
            return self._head
        with self._head_lock:
            if time.monotonic() - self._head_at > self.head_ttl:
                head = self.ledger.head()
                if head > self.index.block:
                    self.index.sync(head)
                self._head, self._head_at = head, time.monotonic()
        return self._head

    def _current(self) -> bool:
        try:
            head = self.head()
        except GovchainError:
            return False
        return self.index.block >= head - self.max_lag

    def municipality(self, ags: str) -> Municipality:
        """From the index while it is current, else from the contract."""
        return self.index.municipality(ags) if self._current() else self.ledger.municipality(ags)

    def issuer_account(self, address: str) -> IssuerAccount:
        if self._current():
            return self.index.issuer_account(address)
        return self.ledger.issuer_account(address)

    def last_known_municipality(self, ags: str) -> Municipality:
        """The index's view even when the node cannot be asked: for accepting documents while
        the ledger is away (the anchor transaction checks the rights again)."""
        return self.index.municipality(ags)

    def last_known_issuer_account(self, address: str) -> IssuerAccount:
        return self.index.issuer_account(address)

    def verification(self, root: bytes, target_hash: bytes) -> OnChainVerification:
        try:
            head = self.head()
        except GovchainError:
            head = -1  # the node did not answer: the direct call reports it properly
        if head >= 0 and self.index.block >= head - self.max_lag:
            answer = self.index.verification(root, target_hash)
            # "Not anchored" may be a root of the newest block the index has not seen yet: a
            # negative answer is never given from the index (forgeries are rare; they pay a call).
            if answer.anchored:
                self.answers["index"] += 1
                return answer
        self.answers["direct"] += 1
        return self.ledger.verification(root, target_hash)

    def signing_key(self, key_id: bytes) -> SigningKey:
        """A signing key as the contract holds it now (keys change rarely; read directly)."""
        return self.ledger.signing_key(key_id)
