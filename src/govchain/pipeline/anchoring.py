"""Group-commit anchoring: one worker per issuer account turns waiting documents into batches.

Issuing only stores a document as ``pending`` (durable at once). A worker per issuer account takes
the oldest waiting documents of one use case, builds their Merkle tree, signs the anchor
transaction, **stores the batch with the signed bytes**, then sends them, and once the anchor is on
the ledger (and has the configured confirmations) writes every document's proof. The batch closes
when its oldest document has waited `window` seconds or `max_batch` documents are waiting, so a
burst becomes few transactions while a single document waits at most about `window`.

Why this order survives crashes and outages:
- a crash before the batch is stored loses nothing: the documents are still waiting, no nonce used;
- a crash after it is stored: the worker finds the batch ``sending`` and sends the same bytes again
  (same nonce, same hash) or finds the root anchored on the ledger; a root is never anchored twice
  (the contract refuses a known root, and the same signed bytes cannot be mined twice);
- a node outage: the batch stays ``sending`` and is retried with back-off; new documents keep
  arriving as pending and go into the next batch;
- a transaction not mined after `replace_after` seconds is re-signed with the same nonce at a
  higher gas price (replaces a dropped or underpriced one);
- a reorg that drops an anchor before it has its confirmations: the root is no longer on the
  ledger, so the worker sends the stored transaction again.

Only one worker per account may run, across processes too: `AccountLocks` takes a PostgreSQL
advisory lock (several `govchain serve` on one database) or a file lock in the home (SQLite).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection, Engine

from govchain.adapters.context import Context
from govchain.adapters.db import BatchRecord, QueuedDocument, UnitOfWork
from govchain.adapters.db.repositories import ANCHORED_CHANNEL, PENDING_CHANNEL, SCHEMA_TAG_SQL
from govchain.domain.documents import SaltedDocument
from govchain.domain.hashing import Hash32, from_hex32, to_hex
from govchain.domain.merkle import MerkleTree
from govchain.domain.timefmt import from_unix, now
from govchain.errors import GovchainError, LedgerError, LedgerUnavailableError

if TYPE_CHECKING:
    from govchain.settings import Settings

log = logging.getLogger(__name__)

REBROADCAST_EVERY = 5.0  # seconds between sends of the same signed transaction while unmined
WATCH_INTERVAL = 0.1  # seconds between looks at waited-for documents another instance anchors
# With PostgreSQL notifications heard, polling only catches what a lost connection missed.
LISTENING_POLL = 1.0


@dataclass(frozen=True)
class AnchoringSettings:
    window: float = 0.25  # seconds the oldest waiting document may wait for others to join
    max_batch: int = 5000  # documents per anchor transaction
    confirmations: int = 0  # blocks on top of the anchor before documents count as anchored
    replace_after: float = 30.0  # seconds before an unmined transaction is re-signed higher
    retry_delay: float = 1.0  # first back-off after the node failed; doubles up to max_retry_delay
    max_retry_delay: float = 10.0
    idle_exit: float = 30.0  # a worker with nothing to do stops after this long


# -- one worker per account, across processes ---------------------------------------------------

class AccountLocks:
    """Exclusive per-account locks: PostgreSQL advisory locks, else files in the home."""

    def __init__(self, engine: Engine, home: Path) -> None:
        self._engine = engine
        self._dir = home / "locks"

    @contextlib.contextmanager
    def hold(self, account: str) -> Iterator[bool]:
        """Yields True while this process holds `account`'s lock, False if another does."""
        if self._engine.dialect.name == "postgresql":
            with self._engine.connect() as conn:
                key = _lock_key(account)
                got = bool(conn.exec_driver_sql("SELECT pg_try_advisory_lock(%s)", (key,)).scalar())
                conn.commit()
                try:
                    yield got
                finally:
                    if got:
                        _unlock(conn, key)
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._dir / f"anchor-{account.lower()}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _lock_key(account: str) -> int:
    digest = hashlib.sha256(b"govchain/anchor/" + account.lower().encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _unlock(conn: Connection, key: int) -> None:
    with contextlib.suppress(Exception):  # a dead connection has released the lock already
        conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (key,))
        conn.commit()


# -- the work of one batch, shared by the worker and the synchronous CLI path --------------------

@dataclass
class BatchOutcome:
    batch_id: int | None
    anchored: int = 0
    failed: int = 0
    waiting: bool = False  # sent, not yet final: look again later


class AnchorSteps:
    """The steps of anchoring one account's documents; each leaves the database consistent."""

    def __init__(self, ctx: Context, engine: Engine, settings: AnchoringSettings) -> None:
        self.ctx = ctx
        self.engine = engine
        self.settings = settings
        self._signers: dict[str, Any] = {}
        self._sent: dict[int, float] = {}  # batch id → when this process last sent it

    def _signer(self, ags: str, account: str) -> Any:
        from govchain.services import issuer_signer  # services imports this module's users

        if account not in self._signers:
            self._signers[account] = issuer_signer(self.ctx, ags, account)
        return self._signers[account]

    def open_batch(self, account: str) -> BatchRecord | None:
        """Takes the account's oldest waiting documents of one use case, signs their anchor and
        stores the batch (state ``sending``) with the signed bytes; None if nothing waits.

        Where the ledger refuses the anchor already in the gas estimate (municipality suspended,
        account retired, type not admitted), the documents are marked failed with the reason.
        """
        with UnitOfWork(self.engine) as uow:
            queue = uow.documents.queue_of(account, self.settings.max_batch)
            if not queue:
                return None
            usecase_id = queue[0].usecase
            same_usecase = [q for q in queue if q.usecase == usecase_id]
            first = uow.documents.get(same_usecase[0].id)
            assert first is not None
            tree, ordered = _tree(same_usecase)
            usecase = self.ctx.usecases.get(usecase_id)
            error: str | None = None
            signed = None
            try:
                signed = self.ctx.ledger.sign_anchor(self._signer(first.ags, account),
                                                     usecase.doc_type, [tree.root])
            except LedgerUnavailableError:
                raise
            except GovchainError as err:
                error = str(err)
            members = [from_hex32(q.target_hash) for q in ordered]  # the tree's leaves, in order
            batch = uow.batches.add(
                account=account, usecase=usecase_id, merkle_root=tree.root, size=len(ordered),
                nonce=signed.nonce if signed else None,
                gas_price=signed.gas_price if signed else None,
                tx_hash=signed.hash if signed else None, raw_tx=signed.raw if signed else None,
                state="sending" if signed else "failed", error=error, members=members)
            if error is not None:
                uow.documents.mark_batch_failed(batch.id, members)
                log.warning("Verankerung von %d Dokumenten (%s) abgelehnt: %s", len(ordered),
                            usecase_id, error)
            uow.commit()
            return batch

    def advance(self, batch: BatchRecord) -> BatchOutcome:
        """Moves a ``sending`` batch on: finished when its root is on the ledger with enough
        confirmations; else (re)sends its transaction, replacing it when it has waited too long.
        Raises LedgerUnavailableError while the node cannot be reached."""
        ledger = self.ctx.ledger
        if batch.sent_at is None:
            self._send(batch)
            with UnitOfWork(self.engine) as uow:
                uow.batches.mark_sent(batch.id)
                uow.commit()
        # The receipt of the stored transaction is the quick answer (one call; on nodes that
        # mine at once it is there already); the root's anchor on the ledger is the answer
        # that also covers a replaced transaction and a reorg.
        receipt = ledger.receipt(batch.tx_hash) if batch.tx_hash else None
        if receipt is not None and receipt.get("status") == 0 \
                and ledger.anchor_of(from_hex32(batch.merkle_root)) is None:
            return self._fail(batch, f"Die Transaktion {batch.tx_hash} ist fehlgeschlagen")
        if receipt is not None and receipt.get("status") == 1:
            block = int(receipt["blockNumber"])
            if self.settings.confirmations == 0:
                return self._finish(batch, str(batch.tx_hash), block, ledger.block_time(block))
        info = ledger.anchor_of(from_hex32(batch.merkle_root))
        if info is not None:
            if info.account.lower() != batch.account.lower():
                return self._fail(batch, f"Die Wurzel {batch.merkle_root} wurde von einem anderen "
                                         f"Konto ({info.account}) verankert")
            if ledger.head() < info.block + self.settings.confirmations:
                return BatchOutcome(batch.id, waiting=True)
            # Confirmed: look once more that the anchor is still there (a reorg may have
            # dropped it meanwhile; then the stored transaction is sent again below).
            again = ledger.anchor_of(from_hex32(batch.merkle_root))
            if again is not None and again.block == info.block:
                tx_hash = info.tx_hash or batch.tx_hash or ""
                return self._finish(batch, tx_hash, info.block, info.timestamp)
        assert batch.sent_at is not None or batch.id in self._sent
        sent_at = batch.sent_at or now()
        if (now() - sent_at).total_seconds() > self.settings.replace_after:
            self._send(self._replace(batch))
        elif time.monotonic() - self._sent.get(batch.id, 0.0) > REBROADCAST_EVERY:
            # idempotent: brings back a transaction a restarted node or a reorg lost
            self._send(batch)
        return BatchOutcome(batch.id, waiting=True)

    def _send(self, batch: BatchRecord) -> None:
        if batch.raw_tx is None:
            raise LedgerError(f"Anker-Stapel {batch.id} hat keine signierte Transaktion")
        self.ctx.ledger.broadcast(batch.raw_tx)
        self._sent[batch.id] = time.monotonic()

    def _replace(self, batch: BatchRecord) -> BatchRecord:
        """Re-signs the same anchor with the same nonce at a higher price (≥ +12.5 %, what nodes
        ask of a replacement)."""
        ags = self._ags_of(batch.id)
        usecase = self.ctx.usecases.get(batch.usecase)
        old_price = batch.gas_price or 0
        price = max(old_price * 5 // 4 + 1, self.ctx.chain.w3.eth.gas_price)
        signed = self.ctx.ledger.sign_anchor(
            self._signer(ags, batch.account), usecase.doc_type,
            [from_hex32(batch.merkle_root)], nonce=batch.nonce, gas_price=price)
        with UnitOfWork(self.engine) as uow:
            uow.batches.replace_tx(batch.id, raw_tx=signed.raw, tx_hash=signed.hash,
                                   gas_price=signed.gas_price)
            uow.batches.mark_sent(batch.id)
            uow.commit()
            fresh = uow.batches.get(batch.id)
        assert fresh is not None
        log.info("Anker-Stapel %d: Transaktion ersetzt (Gaspreis %d → %d)", batch.id, old_price,
                 signed.gas_price)
        return fresh

    def _ags_of(self, batch_id: int) -> str:
        with UnitOfWork(self.engine) as uow:
            members = batch_members(uow, batch_id)
            ags = uow.documents.ags_of(members[0]) if members else None
        if ags is None:
            raise LedgerError(f"Anker-Stapel {batch_id} hat keine wartenden Dokumente")
        return ags

    def _finish(self, batch: BatchRecord, tx_hash: str, block: int, timestamp: int
                ) -> BatchOutcome:
        """Records the anchor: the batch keeps its Merkle tree, its documents are marked
        anchored in one statement (their proofs are read from the tree)."""
        with UnitOfWork(self.engine) as uow:
            members = batch_members(uow, batch.id)
            tx = tx_hash or batch.tx_hash or batch.merkle_root
            at = from_unix(timestamp)
            tree = MerkleTree(members) if members else None
            if tree is not None and to_hex(tree.root) != batch.merkle_root:
                raise LedgerError(f"Anker-Stapel {batch.id}: die gespeicherten Dokumente ergeben "
                                  f"nicht die Wurzel {batch.merkle_root}")
            anchored = uow.documents.mark_batch_anchored(
                batch.id, members, merkle_root=batch.merkle_root, tx_hash=tx, block=block, at=at)
            if anchored == 0:  # finished by another path already: nothing else to write
                uow.batches.mark_anchored(batch.id, tx_hash=tx, block=block, at=at)
                uow.commit()
                return BatchOutcome(batch.id)
            if anchored != len(members):
                raise LedgerError(f"Anker-Stapel {batch.id}: {len(members) - anchored} seiner "
                                  f"{len(members)} Dokumente warten nicht mehr")
            uow.status_events.add_for_batch(batch.id, "anchored", tx_hash=tx)
            assert tree is not None
            uow.batches.mark_anchored(batch.id, tx_hash=tx, block=block, at=at,
                                      tree=tree.to_bytes())
            uow.commit()
        return BatchOutcome(batch.id, anchored=anchored)

    def _fail(self, batch: BatchRecord, error: str) -> BatchOutcome:
        with UnitOfWork(self.engine) as uow:
            failed = uow.documents.mark_batch_failed(batch.id, batch_members(uow, batch.id))
            uow.batches.mark_failed(batch.id, error)
            uow.commit()
        log.warning("Anker-Stapel %d fehlgeschlagen: %s", batch.id, error)
        return BatchOutcome(batch.id, failed=failed)

    def sending(self, account: str) -> list[BatchRecord]:
        with UnitOfWork(self.engine) as uow:
            return uow.batches.sending_for(account)


def batch_members(uow: UnitOfWork, batch_id: int) -> list[Hash32]:
    """The targetHashes of a batch's documents, in tree order: recorded with the batch, or (for
    batches opened before migration 0005) those of the waiting documents that name the batch."""
    members = uow.batches.members_of(batch_id)
    if members is None:
        members = sorted(from_hex32(h) for h in uow.documents.target_hashes_of_batch(batch_id))
    return members


def _tree(members: Sequence[QueuedDocument]) -> tuple[MerkleTree, list[QueuedDocument]]:
    # Leaves in targetHash order: the batch's documents alone fix the tree, also after a crash.
    ordered = sorted(members, key=lambda q: q.target_hash)
    return MerkleTree([Hash32(from_hex32(q.target_hash)) for q in ordered]), ordered


def anchor_now(ctx: Context, engine: Engine, account: str,
               settings: AnchoringSettings | None = None, *, timeout: float = 120.0) -> int:
    """Anchors everything the account has waiting, in this thread (the CLI's path, no worker):
    the same steps the worker takes. Returns the number of documents anchored."""
    steps = AnchorSteps(ctx, engine, settings or AnchoringSettings(window=0))
    locks = AccountLocks(engine, ctx.home)
    deadline = time.monotonic() + timeout
    anchored = 0
    with locks.hold(account) as got:
        if not got:
            raise LedgerError(f"Für das Konto {account} verankert gerade ein anderer Prozess")
        while True:
            open_ = steps.sending(account)
            if not open_:
                batch = steps.open_batch(account)
                if batch is None:
                    return anchored
                open_ = [batch] if batch.state == "sending" else []
            for batch in open_:
                outcome = steps.advance(batch)
                anchored += outcome.anchored
                if outcome.waiting:
                    if time.monotonic() > deadline:
                        raise LedgerUnavailableError(
                            f"Anker-Stapel {batch.id} ist nach {timeout:g} s nicht bestätigt")
                    time.sleep(0.05)


# -- the service's workers ------------------------------------------------------------------------

@dataclass
class AnchoringStatus:
    """What /readyz reports about anchoring."""

    workers: int
    ledger_reachable: bool
    last_error: str | None
    last_error_at: float | None
    batches: int = 0
    documents: int = 0


@dataclass
class _Worker:
    account: str
    thread: threading.Thread
    wake: threading.Event = field(default_factory=threading.Event)


# A coroutine waiting for documents: their ids, its event loop, the future the watcher completes.
_AsyncWaiter = tuple[frozenset[str], asyncio.AbstractEventLoop, "asyncio.Future[bool]"]


class Listener:
    """Hears PostgreSQL notifications (LISTEN/NOTIFY) on a connection of its own: new pending
    documents wake the anchoring workers and finished batches wake the waiting requests at once,
    in every process of a service, instead of each polling the database (an idle service polled
    every 50 ms). The repositories notify inside the writing transaction, so a notification
    arrives only for committed rows; channel names carry a tag of the schema (services sharing a
    database do not wake each other). While the connection is down the callers poll as before."""

    RECONNECT_AFTER = 1.0  # seconds

    def __init__(self, engine: Engine, callbacks: dict[str, Callable[[], None]],
                 stop: threading.Event) -> None:
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._callbacks = callbacks
        self._stop = stop
        self.listening = False
        self._thread = threading.Thread(target=self._run, name="anchoring-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    row = conn.execute(f"SELECT {SCHEMA_TAG_SQL}").fetchone()
                    assert row is not None
                    callbacks = {f"{channel}_{row[0]}": callback
                                 for channel, callback in self._callbacks.items()}
                    for channel in callbacks:
                        conn.execute(f"LISTEN {channel}")  # a name and 12 hex digits
                    self.listening = True
                    self._call_all()  # what was committed before we listened
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5, stop_after=1):
                            callbacks.get(note.channel, lambda: None)()
            except Exception as err:  # the connection or the server: keep trying, poll meanwhile
                log.warning("Benachrichtigungen der Datenbank unterbrochen (%s); frage ab",
                            type(err).__name__)  # the name only: the error may quote the URL
            finally:
                self.listening = False
            self._stop.wait(self.RECONNECT_AFTER)

    def _call_all(self) -> None:
        for callback in self._callbacks.values():
            callback()


class Anchoring:
    """Runs the per-account workers of one `govchain serve` and lets requests wait for them."""

    def __init__(self, ctx: Context, engine: Engine, settings: AnchoringSettings | None = None,
                 *, poll_interval: float = 1.0, run_workers: bool = True) -> None:
        """`run_workers=False`: this process only waits for anchors (the request processes of
        `serve --workers N`, whose anchoring runs in a process of its own, see run_process)."""
        self.run_workers = run_workers
        self.settings = settings or AnchoringSettings()
        self._steps = AnchorSteps(ctx, engine, self.settings)
        self._engine = engine
        self._locks = AccountLocks(engine, ctx.home)
        self._poll = poll_interval
        self._workers: dict[str, _Worker] = {}
        self._mutex = threading.Lock()
        self._done = threading.Condition()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self._ledger_ok = True
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._batches = 0
        self._documents = 0
        self._waiting: dict[str, int] = {}  # document id → requests waiting for it
        self._finished: set[str] = set()  # waited-for documents seen anchored or failed
        self._watch = threading.Event()
        self._watcher: threading.Thread | None = None
        self._async_waiters: list[_AsyncWaiter] = []
        self._listener: Listener | None = None

    # -- life cycle --

    def start(self) -> None:
        if self._engine.dialect.name == "postgresql":
            callbacks = {ANCHORED_CHANNEL: self._watch.set}
            if self.run_workers:
                callbacks[PENDING_CHANNEL] = self.notify
            self._listener = Listener(self._engine, callbacks, self._stop)
            self._listener.start()
        if not self.run_workers:
            return
        self._dispatcher = threading.Thread(target=self._dispatch, name="anchoring-dispatcher",
                                            daemon=True)
        self._dispatcher.start()

    def _listening(self) -> bool:
        return self._listener is not None and self._listener.listening

    def _poll_interval(self) -> float:
        """Seconds between looks for waiting documents: long while notifications are heard."""
        return max(self._poll, LISTENING_POLL) if self._listening() else self._poll

    def _watch_interval(self) -> float:
        return LISTENING_POLL if self._listening() else WATCH_INTERVAL

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._watch.set()
        with self._mutex:
            workers = list(self._workers.values())
        for w in workers:
            w.wake.set()
        if self._dispatcher is not None:
            self._dispatcher.join(timeout)
        for w in workers:
            w.thread.join(timeout)
        if self._watcher is not None:
            self._watcher.join(timeout)
        if self._listener is not None:
            self._listener.join(timeout)

    # -- what requests use --

    def notify(self, account: str | None = None) -> None:
        """New documents are committed: start or wake the worker (all workers if no account).
        Without workers here, the anchoring process finds them within its poll interval."""
        if not self.run_workers:
            return
        with self._mutex:
            worker = self._workers.get(account) if account else None
        if worker is not None and worker.thread.is_alive():
            worker.wake.set()
        else:
            self._wake.set()

    def wait(self, document_ids: Sequence[str], timeout: float) -> bool:
        """True once every document is anchored or failed, False if `timeout` passed first.

        One watcher thread looks up the documents of all waiting requests together: at once when
        a worker of this process or (PostgreSQL) of another finished a batch, else every
        WATCH_INTERVAL."""
        ids = frozenset(document_ids)
        if not ids:
            return True
        deadline = time.monotonic() + timeout
        self._register(ids)
        try:
            with self._done:
                while not ids <= self._finished:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._done.wait(left)
                return True
        finally:
            self._unregister(ids)

    async def wait_async(self, document_ids: Sequence[str], timeout: float) -> bool:
        """wait() for coroutines: holds no thread while it waits (the watcher resolves it)."""
        ids = frozenset(document_ids)
        if not ids:
            return True
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        waiter = (ids, loop, done)
        self._register(ids, waiter)
        try:
            return await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            return False
        finally:
            self._unregister(ids, waiter)

    def _register(self, ids: frozenset[str], waiter: _AsyncWaiter | None = None) -> None:
        """Counts the documents as waited for and has the watcher look at them now."""
        with self._done:
            for i in ids:
                self._waiting[i] = self._waiting.get(i, 0) + 1
            if waiter is not None:
                self._async_waiters.append(waiter)
                self._resolve_async()  # finished already (another request waited for them)
            self._ensure_watcher()
            self._watch.set()

    def _unregister(self, ids: frozenset[str], waiter: _AsyncWaiter | None = None) -> None:
        with self._done:
            if waiter in self._async_waiters:
                self._async_waiters.remove(waiter)
            for i in ids:
                self._waiting[i] -= 1
                if not self._waiting[i]:
                    del self._waiting[i]
                    self._finished.discard(i)

    def _resolve_async(self) -> None:
        """Completes the coroutines whose documents are all finished (called holding _done)."""
        for waiter in [w for w in self._async_waiters if w[0] <= self._finished]:
            self._async_waiters.remove(waiter)
            _, loop, done = waiter
            loop.call_soon_threadsafe(_set_true, done)

    def _ensure_watcher(self) -> None:
        if self._watcher is None or not self._watcher.is_alive():
            self._watcher = threading.Thread(target=self._watch_loop, name="anchoring-watcher",
                                             daemon=True)
            self._watcher.start()

    def _watch_loop(self) -> None:
        while not self._stop.is_set():
            self._watch.wait(self._watch_interval())
            self._watch.clear()
            with self._done:
                open_ = [i for i in self._waiting if i not in self._finished]
            if not open_:
                continue
            try:
                with UnitOfWork(self._engine) as uow:
                    states = uow.documents.states_of(open_)
            except Exception as err:  # the database may be down: the waiters time out
                self._note_error(err)
                continue
            done = {i for i, state in states.items() if state in ("anchored", "failed")}
            if done:
                with self._done:
                    self._finished |= done & set(self._waiting)
                    self._done.notify_all()
                    self._resolve_async()

    def status(self) -> AnchoringStatus:
        with self._mutex:
            alive = sum(1 for w in self._workers.values() if w.thread.is_alive())
        return AnchoringStatus(alive, self._ledger_ok, self._last_error, self._last_error_at,
                               self._batches, self._documents)

    # -- threads --

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            try:
                with UnitOfWork(self._engine) as uow:
                    accounts = set(uow.documents.waiting_accounts())
                    accounts |= set(uow.batches.accounts_sending())
                for account in accounts:
                    self._ensure_worker(account)
            except Exception as err:  # the database may be down: keep trying
                self._note_error(err)
            self._wake.wait(self._poll_interval())
            self._wake.clear()

    def _ensure_worker(self, account: str) -> None:
        with self._mutex:
            w = self._workers.get(account)
            if w is not None and w.thread.is_alive():
                w.wake.set()
                return
            worker = _Worker(account, threading.Thread(
                target=self._run_worker, args=(account,), name=f"anchoring-{account[:10]}",
                daemon=True))
            self._workers[account] = worker
            worker.thread.start()

    def _run_worker(self, account: str) -> None:
        with self._mutex:
            me = self._workers[account]
        with self._locks.hold(account) as got:
            if not got:  # another instance anchors for this account; the dispatcher looks again
                time.sleep(self._poll)
                return
            self._work(account, me.wake)

    def _work(self, account: str, wake: threading.Event) -> None:
        delay = self.settings.retry_delay
        idle_since = time.monotonic()
        while not self._stop.is_set():
            try:
                progressed = self._step(account)
                self._ledger_ok = True
                delay = self.settings.retry_delay
            except (LedgerUnavailableError, OSError) as err:
                self._ledger_ok = False
                self._note_error(err)
                self._sleep(wake, delay)
                delay = min(delay * 2, self.settings.max_retry_delay)
                continue
            except Exception as err:
                self._note_error(err)
                log.exception("Anker-Worker %s", account)
                self._sleep(wake, delay)
                delay = min(delay * 2, self.settings.max_retry_delay)
                continue
            if progressed is None:  # nothing waiting
                if time.monotonic() - idle_since > self.settings.idle_exit:
                    return
                self._sleep(wake, self._poll_interval())
            else:
                idle_since = time.monotonic()
                if progressed > 0:
                    # The batch window (or a sent batch) runs its time: new documents only
                    # join it, so their notify() need not wake the worker.
                    self._stop.wait(progressed)

    def _step(self, account: str) -> float | None:
        """One move: returns None when idle, seconds to pause, or 0 to go on at once."""
        open_ = self._steps.sending(account)
        if open_:
            outcome = self._steps.advance(open_[0])
            self._record(outcome)
            return 0.02 if outcome.waiting else 0
        with UnitOfWork(self._engine) as uow:
            waiting, oldest = uow.documents.queue_head(account, self.settings.max_batch)
        if oldest is None:
            return None
        age = (now() - oldest).total_seconds()
        if waiting < self.settings.max_batch and age < self.settings.window:
            return self.settings.window - age
        batch = self._steps.open_batch(account)
        if batch is not None and batch.state == "failed":
            self._signal()
        return 0

    def _record(self, outcome: BatchOutcome) -> None:
        if outcome.anchored or outcome.failed:
            self._batches += 1
            self._documents += outcome.anchored
            self._signal()

    def _signal(self) -> None:
        self._watch.set()  # a batch finished: the watcher looks at the waiting documents now

    def _sleep(self, wake: threading.Event, seconds: float) -> None:
        wake.wait(seconds)
        wake.clear()

    def _note_error(self, err: BaseException) -> None:
        self._last_error = f"{type(err).__name__}: {err}"[:300]
        self._last_error_at = time.time()
        log.warning("Verankerung: %s", self._last_error)


def _set_true(done: asyncio.Future[bool]) -> None:
    if not done.done():
        done.set_result(True)


PROCESS_POLL = 0.05  # seconds: how soon the anchoring process sees documents of other processes


def run_process(settings: Settings, parent: int) -> None:
    """The anchoring process of `serve --workers N`: the per-account workers run here, apart
    from the request processes, so that request load never holds them up (in one process they
    queue for the GIL at each of a batch's ≈20 database and node round trips). Ends on SIGTERM
    or when `parent` is gone; AnchoringProcess starts it again should it end otherwise."""
    import signal

    from govchain.adapters.db import make_engine
    from govchain.entrypoints.http.app import open_context  # the app module imports this one

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     [anchoring] %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Ctrl-C reaches the whole process group: the service's main process ends this one in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctx = open_context(settings)
    engine = make_engine(settings.effective_database_url, pool_size=3, max_overflow=3)
    anchoring = Anchoring(ctx, engine, settings.anchoring, poll_interval=PROCESS_POLL)
    anchoring.start()
    log.info("Verankerungsprozess %d gestartet", os.getpid())
    try:
        while not stop.wait(1.0) and os.getppid() == parent:
            pass
    finally:
        anchoring.stop()
        engine.dispose()
        ctx.close()


class AnchoringProcess:
    """Keeps one run_process child alive for `serve --workers N`: a watchdog thread starts it
    again when it ends unexpectedly (a crash, the OOM killer), so that accepted documents never
    wait for an anchoring process that is gone."""

    RESTART_AFTER = 1.0  # seconds between a child's end and its successor

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stop = threading.Event()
        self._child: Any = None
        self._watchdog = threading.Thread(target=self._watch, name="anchoring-watchdog",
                                          daemon=True)

    def _spawn(self) -> None:
        import multiprocessing

        self._child = multiprocessing.get_context("spawn").Process(
            target=run_process, args=(self.settings, os.getpid()), name="govchain-anchoring")
        self._child.start()

    def start(self) -> None:
        self._spawn()
        self._watchdog.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.RESTART_AFTER):
            if not self._child.is_alive() and not self._stop.is_set():
                log.error("Verankerungsprozess %s beendet (Code %s); starte ihn neu",
                          self._child.pid, self._child.exitcode)
                self._spawn()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._watchdog.join(timeout)
        if self._child is not None:
            self._child.terminate()
            self._child.join(timeout)


def drain(anchoring: Anchoring, engine: Engine, timeout: float,
          clock: Callable[[], float] = time.monotonic) -> bool:
    """Waits until nothing is pending any more (tests and the benchmark)."""
    deadline = clock() + timeout
    while clock() < deadline:
        with UnitOfWork(engine) as uow:
            if uow.documents.count(state="pending") == 0:
                return True
        anchoring.notify()
        time.sleep(0.05)
    return False


__all__ = ["AccountLocks", "AnchorSteps", "Anchoring", "AnchoringProcess", "AnchoringSettings",
           "AnchoringStatus", "SaltedDocument", "anchor_now", "batch_members", "drain",
           "run_process"]
