"""PostgreSQL notifications for the pipeline: new pending documents wake the workers, finished
batches wake the requests that wait for them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import Engine

from govchain.adapters.db.repositories import SCHEMA_TAG_SQL

log = logging.getLogger(__name__)


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
        import psycopg  # the PostgreSQL driver: only a service on PostgreSQL listens

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
