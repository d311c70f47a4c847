"""Group-commit anchoring: one worker per issuer account turns waiting documents into batches.

Issuing only stores a document as ``pending`` (durable at once). A worker per issuer account takes
the oldest waiting documents of one use case, builds their Merkle tree, signs the anchor
transaction, **stores the batch with the signed bytes**, then sends them, and once the anchor is on
the ledger (and has the configured confirmations) marks its documents anchored (each proof is
read from the batch's tree). The batch closes
when its oldest document has waited `window` seconds or `max_batch` documents are waiting, so a
burst becomes few transactions while a single document waits at most about `window`.

The steps of one batch, and why their order survives crashes and outages: `batches`. Only one
worker per account runs, across processes too: `locks`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.adapters.db.repositories import ANCHORED_CHANNEL, PENDING_CHANNEL
from govchain.domain.timefmt import now
from govchain.errors import KeyUnavailableError, LedgerUnavailableError
from govchain.pipeline.batches import AnchorSteps, BatchOutcome
from govchain.pipeline.listener import Listener
from govchain.pipeline.locks import AccountLocks
from govchain.settings import AnchoringSettings

log = logging.getLogger(__name__)

WATCH_INTERVAL = 0.1  # seconds between looks at waited-for documents another instance anchors


# With PostgreSQL notifications heard, polling only catches what a lost connection missed.
LISTENING_POLL = 1.0


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


class Anchoring:
    """Runs the per-account workers of one `govchain serve` and lets requests wait for them."""

    def __init__(self, ctx: Context, engine: Engine, settings: AnchoringSettings | None = None,
                 *, poll_interval: float = 1.0, run_workers: bool = True) -> None:
        """`run_workers=False`: this process only waits for anchors (the request processes of
        `serve --workers N`, whose anchoring runs in a process of its own: see
        `bootstrap.run_anchoring_process`)."""
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
            except (LedgerUnavailableError, KeyUnavailableError, OSError) as err:
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
