"""The service's Prometheus metrics, defined once: the services, the anchoring pipeline and the
HTTP layer count through the small functions here, and `/metrics` renders them (`exposition`).

Labels name use cases, municipalities (AGS), verification results and route templates, never a
person, a document, a token or a raw path.

`govchain serve --workers N` runs N request processes and an anchoring process; each counts in
its own memory-mapped files in a directory the service makes for it
(`shared_between_processes`, prometheus-client's multiprocess mode, chosen when this module is
imported), and whichever request process is scraped adds them all up. In a single process the
counts stay in memory. What is a state rather than a count (documents waiting, node and
database up, the status index's lag) is measured by the scraped process when it is scraped.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from govchain.adapters.files import private_dir
from govchain.domain.timefmt import now

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# The counts of this process (the multiprocess files hold them too when the service has several).
_REGISTRY = CollectorRegistry(auto_describe=True)

_ACCEPTED = Counter("govchain_documents_accepted", "Documents stored as pending (accepted for "
                    "anchoring)", ["usecase", "ags"], registry=_REGISTRY)
_ANCHORED = Counter("govchain_documents_anchored", "Documents whose anchor is on the ledger",
                    ["usecase", "ags"], registry=_REGISTRY)
_FAILED = Counter("govchain_documents_failed", "Documents whose anchor the ledger refused",
                  ["usecase", "ags"], registry=_REGISTRY)
_BATCH_SIZE = Histogram("govchain_anchor_batch_documents", "Documents per anchor transaction "
                        "(anchored batches)", ["usecase"], registry=_REGISTRY,
                        buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000))
_ANCHOR_LATENCY = Histogram("govchain_anchor_latency_seconds", "From a document's acceptance to "
                            "its anchor recorded", ["usecase"], registry=_REGISTRY,
                            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600))
_VERIFICATIONS = Counter("govchain_verifications", "Verifications (documents, links, wallet "
                         "presentations) by overall result", ["status"], registry=_REGISTRY)
_HTTP_DURATION = Histogram("govchain_http_request_duration_seconds", "HTTP requests by route "
                           "template (never the raw path), method and status code",
                           ["method", "route", "status"], registry=_REGISTRY,
                           buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                    2.5, 5, 10, 30))


# -- counting -----------------------------------------------------------------------------------

@functools.cache
def _child(metric: Counter | Histogram, *labels: str) -> Any:
    """The series of `metric` with these label values, looked up once (a request counts on the
    hot path; the label values are few: use cases, municipalities, statuses, routes)."""
    return metric.labels(*labels)


def documents_accepted(usecase: str, ags: str, count: int) -> None:
    if count:
        _child(_ACCEPTED, usecase, ags).inc(count)


def documents_anchored(usecase: str, ags: str, count: int,
                       accepted_at: Sequence[datetime] = ()) -> None:
    """A batch of `count` documents is anchored; `accepted_at`: when they were accepted, where
    the process that anchored them knows it (it opened the batch)."""
    if not count:
        return
    _child(_ANCHORED, usecase, ags).inc(count)
    _child(_BATCH_SIZE, usecase).observe(count)
    if accepted_at:
        latency = _child(_ANCHOR_LATENCY, usecase)
        at = now()
        for accepted in accepted_at:
            latency.observe(max(0.0, (at - accepted).total_seconds()))


def documents_failed(usecase: str, ags: str, count: int) -> None:
    if count:
        _child(_FAILED, usecase, ags).inc(count)


def verification(status: str) -> None:
    _child(_VERIFICATIONS, str(status)).inc()


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    _child(_HTTP_DURATION, method, route, str(status)).observe(seconds)


# -- what the scraped process measures when it is scraped --------------------------------------

@dataclass(frozen=True)
class ServiceState:
    """What /metrics reports as gauges, measured at scrape time. None: not known (the database
    or the node did not answer, or there is no status index)."""

    database_up: bool
    node_up: bool
    pending: int | None = None
    oldest_pending_age: float | None = None  # seconds; 0 when nothing waits
    index_lag: int | None = None  # blocks the status index is behind the node's head


class _StateCollector:
    def __init__(self, state: ServiceState) -> None:
        self._state = state

    def collect(self) -> Iterable[Metric]:
        state = self._state
        yield GaugeMetricFamily("govchain_database_up", "1 if the database answered the scrape",
                                value=int(state.database_up))
        yield GaugeMetricFamily("govchain_node_up", "1 if the ledger node answered the scrape",
                                value=int(state.node_up))
        if state.pending is not None:
            yield GaugeMetricFamily("govchain_documents_pending",
                                    "Documents waiting for their anchor", value=state.pending)
        if state.oldest_pending_age is not None:
            yield GaugeMetricFamily("govchain_documents_pending_oldest_age_seconds",
                                    "How long the oldest waiting document has waited (0: none)",
                                    value=state.oldest_pending_age)
        if state.index_lag is not None:
            yield GaugeMetricFamily("govchain_status_index_lag_blocks", "Blocks the scraped "
                                    "process's status index is behind the node's head",
                                    value=state.index_lag)


class _ThisProcess:
    """The counts of this process, when they are not shared through files."""

    def collect(self) -> Iterable[Metric]:
        return _REGISTRY.collect()


def exposition(state: ServiceState) -> bytes:
    """The Prometheus text format (CONTENT_TYPE) of every process's counts and of `state`."""
    registry = CollectorRegistry(auto_describe=False)
    directory = os.environ.get(MULTIPROCESS_ENV)
    if directory:
        MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(_StateCollector(state))
    return generate_latest(registry)


# -- several processes ----------------------------------------------------------------------------

@contextlib.contextmanager
def shared_between_processes(home: Path) -> Iterator[Path]:
    """A fresh directory (0700) for the counts of the processes of one `serve --workers N`,
    named in PROMETHEUS_MULTIPROC_DIR for the processes it starts afterwards (they choose
    multiprocess mode when they import this module) and removed when the block ends. Directories
    a killed service left behind go first. `HOME/metrics/<pid of the service>`."""
    parent = home / "metrics"
    private_dir(parent)
    for old in parent.iterdir():
        if old.name.isdigit() and not _running(int(old.name)):
            shutil.rmtree(old, ignore_errors=True)
    directory = parent / str(os.getpid())
    shutil.rmtree(directory, ignore_errors=True)
    private_dir(directory)
    previous = os.environ.get(MULTIPROCESS_ENV)
    os.environ[MULTIPROCESS_ENV] = str(directory)
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_ENV, None)
        else:
            os.environ[MULTIPROCESS_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
