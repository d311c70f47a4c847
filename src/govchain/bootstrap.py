"""The composition root: builds the running object graph from the settings — context (chain,
ledger, keys, use cases), database, anchoring pipeline — for `govchain serve`, its anchoring
process, the command line and the tests. The only module that knows all layers; the layers below
receive what they need from here instead of building it themselves (or reaching up for it).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import check_schema, make_engine, upgrade
from govchain.errors import ConfigurationError
from govchain.pipeline.anchoring import Anchoring
from govchain.settings import Settings

log = logging.getLogger(__name__)


def open_context(settings: Settings) -> Context:
    """The home's ledger, deployed first on a fresh embedded chain; a JSON-RPC node needs a
    deployment made beforehand."""
    ctx = Context(home=settings.home, rpc_url=settings.rpc_url, usecases_dir=settings.usecases,
                  public_base_url=settings.base_url, context_url_setting=settings.context_url,
                  pkcs11_module=settings.pkcs11_module,
                  pkcs11_token_label=settings.pkcs11_token_label)
    try:
        if settings.rpc_url and not ctx.initialised:
            raise ConfigurationError(
                f"{ctx.deployment_file} fehlt: zuerst die Verträge bereitstellen "
                f"(govchain --home {settings.home} --rpc-url URL init)")
        services.init_home(ctx)
        # Opened here, once: requests run in worker threads and must not race to create them.
        _ = ctx.ledger, ctx.usecases
        if settings.status_index:
            ctx.use_index()
    except BaseException:
        ctx.close()
        raise
    return ctx


def open_database(settings: Settings, **pool: int) -> Engine:
    """The service's database, migrated to the current schema and checked."""
    engine = make_engine(settings.effective_database_url, **pool)
    try:
        upgrade(engine)
        check_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


@dataclass(frozen=True)
class Runtime:
    """What a request process runs on: the context, the database and the anchoring pipeline."""

    context: Context
    engine: Engine
    anchoring: Anchoring


@contextmanager
def running(settings: Settings) -> Iterator[Runtime]:
    """Opens everything a request process needs and closes it in reverse order: the database
    (migrated), the context (with the status index when configured) and the anchoring pipeline
    (its workers run here unless `settings.anchor_workers` is off: `serve --workers N` runs them in
    the anchoring process instead)."""
    with ExitStack() as stack:
        engine = open_database(settings)
        stack.callback(engine.dispose)
        ctx = stack.enter_context(closing(open_context(settings)))
        # The workers get their own small pool: a flood of requests cannot starve them.
        anchoring = stack.enter_context(_pipeline(ctx, settings, pool_size=2,
                                                  run_workers=settings.anchor_workers))
        yield Runtime(ctx, engine, anchoring)


@contextmanager
def _pipeline(ctx: Context, settings: Settings, *, pool_size: int,
              **options: Any) -> Iterator[Anchoring]:
    """The anchoring pipeline on a database pool of its own, started, and stopped at the end."""
    engine = make_engine(settings.effective_database_url, pool_size=pool_size, max_overflow=3)
    try:
        anchoring = Anchoring(ctx, engine, settings.anchoring, **options)
        anchoring.start()
        try:
            yield anchoring
        finally:
            anchoring.stop()
    finally:
        engine.dispose()


PROCESS_POLL = 0.05  # seconds: how soon the anchoring process sees documents of other processes


def run_anchoring_process(settings: Settings, parent: int) -> None:
    """The anchoring process of `serve --workers N`: the per-account workers run here, apart
    from the request processes, so that request load never holds them up (in one process they
    queue for the GIL at each of a batch's ≈20 database and node round trips). Ends on SIGTERM
    or when `parent` is gone; AnchoringProcess starts it again should it end otherwise."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     [anchoring] %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Ctrl-C reaches the whole process group: the service's main process ends this one in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with closing(open_context(settings)) as ctx, \
            _pipeline(ctx, settings, pool_size=3, poll_interval=PROCESS_POLL):
        log.info("Verankerungsprozess %d gestartet", os.getpid())
        while not stop.wait(1.0) and os.getppid() == parent:
            pass


class AnchoringProcess:
    """Keeps one run_anchoring_process child alive for `serve --workers N`: a watchdog thread starts it
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
        self._child = multiprocessing.get_context("spawn").Process(
            target=run_anchoring_process, args=(self.settings, os.getpid()), name="govchain-anchoring")
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
