"""/metrics: Prometheus text that parses, counts that move with issuing, anchoring and verifying,
labels that name use cases, municipalities, results and route templates only, refused to
callers that are not on the loopback interface or a trusted proxy; and with a real
`govchain serve --workers 2` the counts of both request processes and the anchoring process
add up."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork, default_database_url, make_engine
from govchain.domain.pointers import iter_leaves
from govchain.domain.security import hash_password, password_hasher
from govchain.domain.usecases import UseCaseRegistry, default_usecases_dir
from govchain.entrypoints.http import metrics as http_metrics
from govchain.entrypoints.http.app import create_app
from govchain.entrypoints.http.metrics import UNMATCHED, scraper_allowed
from govchain.entrypoints.http.tokens import issue_token
from govchain.errors import LedgerUnavailableError
from govchain.pipeline.anchoring import Anchoring
from govchain.pipeline.batches import anchor_now
from govchain.settings import Settings
from support.serve import AACHEN, ServeProcess, prepare_home

DOG = "gefaehrlicher-hund"
MUSIC = "strassenmusik"
CHEAP = password_hasher(time_cost=1, memory_cost_kib=8)
LOOPBACK = ("127.0.0.1", 50000)
PROXY = "10.20.30.40"
OUTSIDER = "203.0.113.9"
LABELS = {"usecase", "ags", "status", "method", "route", "le"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass(frozen=True)
class Service:
    client: TestClient  # from 127.0.0.1
    clerk: dict[str, str]

    @property
    def ctx(self) -> Context:
        ctx: Context = self.client.app.state.context  # type: ignore[attr-defined]
        return ctx

    @property
    def engine(self) -> Engine:
        engine: Engine = self.client.app.state.engine  # type: ignore[attr-defined]
        return engine

    def from_address(self, address: str) -> TestClient:
        """The same app, called from another address (its lifespan runs in `client`)."""
        return TestClient(self.client.app, client=(address, 40000))

    def subject(self, usecase: str = DOG) -> dict[str, Any]:
        found: dict[str, Any] = copy.deepcopy(self.ctx.usecases.get(usecase).examples[0]["subject"])
        return found


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", "test passphrase – not a secret")
    settings = Settings(home=tmp_path_factory.mktemp("metrics-home"), trusted_proxies=[PROXY])
    try:
        with TestClient(create_app(settings), client=LOOPBACK) as client:
            ctx: Context = client.app.state.context  # type: ignore[attr-defined]
            services.admit_municipality(ctx, AACHEN, "Stadt Aachen", [DOG, MUSIC])
            with UnitOfWork(client.app.state.engine) as uow:  # type: ignore[attr-defined]
                clerk = uow.users.add(username="sb.aachen", role="clerk",
                                      password_hash=hash_password("unbenutzt", hasher=CHEAP),
                                      municipality_ags=AACHEN, display_name="Sachbearbeiterin")
                uow.commit()
            token = issue_token(client.app.state.token_key,  # type: ignore[attr-defined]
                                user_id=clerk.id, role="clerk", at=datetime.now(UTC),
                                ttl=timedelta(hours=1))
            yield Service(client, {"Authorization": f"Bearer {token}"})
    finally:
        mp.undo()


def samples_of(text: str) -> Samples:
    """Every sample of a scrape; parsing it is the check that it is valid Prometheus text."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(client: TestClient) -> Samples:
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples_of(answer.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def test_counts_move_with_issuing_anchoring_and_verifying(service: Service) -> None:
    client = service.client
    before = scrape(client)
    documents = []
    for _ in range(2):
        issued = client.post("/api/v1/documents", params={"wait": "true"}, headers=service.clerk,
                             json={"usecase": DOG, "subject": service.subject()})
        assert issued.status_code == 201, issued.text
        documents.append(issued.json()["document"])
    bulk = client.post("/api/v1/documents/bulk", headers=service.clerk, json={
        "usecase": MUSIC, "items": [{"subject": service.subject(MUSIC)}] * 3})
    assert bulk.status_code == 202, bulk.text
    _wait_until_none_pending(service)
    assert client.post("/api/v1/verify", json=documents[0]).json()["status"] == "VALID"
    forged = copy.deepcopy(documents[1])
    forged["credentialSubject"]["halter"]["name"] = "Jemand anderes"
    assert client.post("/api/v1/verify", json=forged).json()["status"] == "INVALID"
    assert client.get("/api/v1/verify/" + "A" * 24).json()["result"]["status"] == "INVALID"
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    dog, music = {"usecase": DOG, "ags": AACHEN}, {"usecase": MUSIC, "ags": AACHEN}
    assert moved("govchain_documents_accepted_total", **dog) == 2
    assert moved("govchain_documents_anchored_total", **dog) == 2
    assert moved("govchain_documents_accepted_total", **music) == 3
    assert moved("govchain_documents_anchored_total", **music) == 3
    assert moved("govchain_documents_failed_total", **dog) == 0
    assert moved("govchain_anchor_latency_seconds_count", usecase=DOG) == 2
    assert moved("govchain_anchor_latency_seconds_count", usecase=MUSIC) == 3
    assert moved("govchain_anchor_batch_documents_sum", usecase=MUSIC) == 3
    assert moved("govchain_anchor_batch_documents_count", usecase=MUSIC) >= 1
    assert moved("govchain_verifications_total", status="VALID") == 1
    assert moved("govchain_verifications_total", status="INVALID") == 2  # forged, unknown link
    # requests by route template and status code
    routes = {"route": "/api/v1/documents", "method": "POST", "status": "201"}
    assert moved("govchain_http_request_duration_seconds_count", **routes) == 2
    assert moved("govchain_http_request_duration_seconds_count", route="/api/v1/verify/{token}",
                 method="GET", status="200") == 1
    # measured when scraped
    assert value(after, "govchain_documents_pending") == 0
    assert value(after, "govchain_documents_pending_oldest_age_seconds") == 0
    assert value(after, "govchain_database_up") == 1
    assert value(after, "govchain_node_up") == 1
    assert 0 <= value(after, "govchain_status_index_lag_blocks") <= 1


def test_documents_count_as_accepted_once_their_transaction_commits(service: Service) -> None:
    labels = {"usecase": DOG, "ags": AACHEN}
    before = value(scrape(service.client), "govchain_documents_accepted_total", **labels)
    request = services.IssueRequest(subject=service.subject())
    with UnitOfWork(service.engine) as uow:
        services.accept_documents(service.ctx, uow, AACHEN, DOG, [request])
        # left without commit: rolled back, nothing accepted
    assert value(scrape(service.client), "govchain_documents_accepted_total", **labels) == before
    with UnitOfWork(service.engine) as uow:
        services.accept_documents(service.ctx, uow, AACHEN, DOG, [request])
        uow.commit()
    assert value(scrape(service.client), "govchain_documents_accepted_total", **labels) == \
        before + 1
    _wait_until_none_pending(service)


def test_waiting_documents_and_refused_anchors_are_reported(service: Service) -> None:
    """With the anchoring stopped a document waits (pending, with its age); when the Land
    authority withdraws the type before the anchor, the ledger refuses it: failed."""
    app = service.client.app
    running: Anchoring = app.state.anchoring  # type: ignore[attr-defined]
    running.stop()
    app.state.anchoring = Anchoring(service.ctx, service.engine)  # type: ignore[attr-defined]
    try:
        before = scrape(service.client)
        accepted = service.client.post("/api/v1/documents", headers=service.clerk,
                                       json={"usecase": DOG, "subject": service.subject()})
        assert accepted.status_code == 202, accepted.text
        time.sleep(0.05)
        waiting = scrape(service.client)
        assert value(waiting, "govchain_documents_pending") == 1
        assert value(waiting, "govchain_documents_pending_oldest_age_seconds") >= 0.05
        with UnitOfWork(service.engine) as uow:
            record = uow.documents.get(accepted.json()["id"])
        assert record is not None and record.account is not None
        services.set_doc_types(service.ctx, AACHEN, [MUSIC])
        assert anchor_now(service.ctx, service.engine, record.account) == 0
        after = scrape(service.client)
        labels = {"usecase": DOG, "ags": AACHEN}
        assert value(after, "govchain_documents_failed_total", **labels) == \
            value(before, "govchain_documents_failed_total", **labels) + 1
        assert value(after, "govchain_documents_pending") == 0
    finally:
        services.set_doc_types(service.ctx, AACHEN, [DOG, MUSIC])
        worker = Anchoring(service.ctx, service.engine,
                           app.state.settings.anchoring)  # type: ignore[attr-defined]
        app.state.anchoring = worker  # type: ignore[attr-defined]
        worker.start()


def test_a_node_or_database_that_does_not_answer_is_reported_down_in_time(
        service: Service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def unreachable() -> int:
        raise LedgerUnavailableError("Knoten nicht erreichbar")

    def hanging() -> int:
        time.sleep(2.0)
        return 0

    monkeypatch.setattr(http_metrics, "PROBE_SECONDS", 0.5)
    app = service.client.app
    working: Engine = app.state.engine  # type: ignore[attr-defined]
    for node in (unreachable, hanging):
        monkeypatch.setattr(service.ctx.ledger, "head", node)
        start = time.monotonic()
        samples = scrape(service.client)
        assert time.monotonic() - start < 1.5
        assert value(samples, "govchain_node_up") == 0
        assert ("govchain_status_index_lag_blocks", frozenset()) not in samples
        assert value(samples, "govchain_database_up") == 1
    monkeypatch.undo()
    app.state.engine = make_engine(default_database_url(tmp_path / "missing" / "home"))  # type: ignore[attr-defined]
    try:
        samples = scrape(service.client)
    finally:
        app.state.engine = working  # type: ignore[attr-defined]
    assert value(samples, "govchain_database_up") == 0
    assert ("govchain_documents_pending", frozenset()) not in samples
    assert value(samples, "govchain_node_up") == 1
    assert value(scrape(service.client), "govchain_database_up") == 1


def test_labels_name_use_cases_municipalities_results_and_route_templates_only(
        service: Service) -> None:
    client = service.client
    issued = client.post("/api/v1/documents", params={"wait": "true"}, headers=service.clerk,
                         json={"usecase": DOG, "subject": service.subject()})
    assert issued.status_code == 201, issued.text
    document_id = issued.json()["id"]
    link = client.post(f"/api/v1/documents/{document_id}/links", headers=service.clerk,
                       json={"hide": []})
    assert link.status_code == 201, link.text
    token = link.json()["url"].rsplit("/", 1)[1]
    assert client.get(f"/api/v1/documents/{document_id}", headers=service.clerk).status_code == 200
    assert client.get(f"/api/v1/verify/{token}").status_code == 200
    assert client.get(f"/v/{token}").status_code == 200
    assert client.get(f"/no/such/page/{token}").status_code == 404
    assert client.get("/static/does-not-exist.css").status_code == 404
    text = client.get("/metrics").text
    for secret in (document_id, token, service.clerk["Authorization"].split()[1],
                   *subject_values(service.subject())):
        assert secret not in text
    samples = samples_of(text)
    label_names = {name for _, labels in samples for name, _ in labels}
    assert label_names <= LABELS, label_names - LABELS
    values = {name: {v for _, labels in samples for n, v in labels if n == name}
              for name in label_names}
    # AGS only (the registry is the process's: other test files of this worker count too)
    assert AACHEN in values["ags"] and all(re.fullmatch(r"[0-9]{8}", a) for a in values["ags"])
    assert values["usecase"] <= {uc.id for uc in service.ctx.usecases}
    assert values["status"] >= {"VALID", "200", "201"}
    routes = values["route"]
    assert {"/api/v1/documents/{document_id}", "/api/v1/verify/{token}", "/v/{token}",
            "/static/{path}", UNMATCHED} <= routes, routes
    for route in routes - {UNMATCHED}:
        # fixed words and {parameters}, nothing a caller chose
        assert re.fullmatch(r"(/([a-z0-9._-]+|\{[a-z_]+\}))+|/", route, re.IGNORECASE), route


def test_metrics_are_refused_to_callers_off_loopback_and_the_trusted_proxies(
        service: Service) -> None:
    refused = service.from_address(OUTSIDER).get("/metrics")
    assert refused.status_code == 403
    assert "govchain_" not in refused.text
    assert service.from_address(PROXY).get("/metrics").status_code == 200
    # through the proxy the forwarded address is the caller: an outsider is refused there too
    forwarded = service.from_address(PROXY).get("/metrics", headers={"X-Forwarded-For": OUTSIDER})
    assert forwarded.status_code == 403
    assert service.from_address("::1").get("/metrics").status_code == 200
    assert "/metrics" not in service.client.get("/api/v1/openapi.json").json()["paths"]


@pytest.mark.parametrize(("address", "trusted", "allowed"), [
    ("127.0.0.1", [], True),
    ("127.8.9.10", [], True),
    ("::1", [], True),
    ("::ffff:127.0.0.1", [], True),
    ("10.0.0.7", ["10.0.0.0/8"], True),
    ("10.0.0.7", ["10.0.0.7"], True),
    ("::ffff:10.0.0.7", ["10.0.0.7"], True),
    ("10.0.0.8", ["10.0.0.7"], False),
    ("192.0.2.1", [], False),
    ("192.0.2.1", ["*"], False),  # "believe every proxy" does not open the metrics
    ("192.0.2.1", ["proxy.example"], False),
    ("testclient", [], False),
    (None, [], False),
])
def test_who_may_scrape(address: str | None, trusted: list[str], allowed: bool) -> None:
    assert scraper_allowed(address, trusted) is allowed


def subject_values(subject: dict[str, Any]) -> list[str]:
    """The personal data of a subject: its words (of five characters and more)."""
    return [v for _, v in iter_leaves(subject)
            if isinstance(v, str) and len(v) >= 5 and re.search(r"[^\W\d_]", v)]


def _wait_until_none_pending(service: Service, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with UnitOfWork(service.engine) as uow:
            if uow.documents.count(state="pending") == 0:
                return
        assert time.monotonic() < deadline, "documents still pending"
        time.sleep(0.05)


# -- a real `govchain serve --workers 2` ------------------------------------------------------

@pytest.mark.slow
def test_the_processes_of_serve_with_two_workers_add_up(tmp_path: Path) -> None:
    home = tmp_path / "home"
    serve = ServeProcess(home, prepare_home(home), name="workers", workers=2)
    serve.start()
    try:
        request_pids = _request_processes(serve)
        issued = 0
        subject = _dog_subject()
        with httpx.Client(timeout=60, headers=serve.headers) as http:
            bulk = http.post(serve.url("/api/v1/documents/bulk"), json={
                "usecase": DOG, "items": [{"subject": subject}] * 25})
            assert bulk.status_code == 202, bulk.text
            issued += len(bulk.json()["accepted"])
        # single documents, each on a new connection, until both request processes took some
        counted: set[int] = set()
        directory = _multiprocess_dir(serve)
        for _ in range(200):
            serve.issue(DOG, subject)
            issued += 1
            counted = {pid for pid in request_pids if (directory / f"counter_{pid}.db").exists()}
            if counted == set(request_pids) and issued >= 27:
                break
        assert counted == set(request_pids), "one request process took every request"
        serve.wait_until_none_pending(timeout=60)
        anchoring = _anchoring_process(serve)
        assert (directory / f"counter_{anchoring}.db").exists()
        # whichever request process answers the scrape adds up all three
        for _ in range(6):
            answer = httpx.get(serve.url("/metrics"), timeout=30)  # a new connection each time
            assert answer.status_code == 200, answer.text
            samples = samples_of(answer.text)
            labels = {"usecase": DOG, "ags": AACHEN}
            assert value(samples, "govchain_documents_accepted_total", **labels) == issued
            assert value(samples, "govchain_documents_anchored_total", **labels) == issued
            assert value(samples, "govchain_anchor_latency_seconds_count", usecase=DOG) == issued
            assert value(samples, "govchain_anchor_batch_documents_sum", usecase=DOG) == issued
            assert value(samples, "govchain_documents_pending") == 0
            assert value(samples, "govchain_database_up") == 1
            assert value(samples, "govchain_node_up") == 1
            assert total(samples, "govchain_http_request_duration_seconds_count",
                         route="/api/v1/documents", status="201") == issued - 25
        assert "/metrics HTTP" not in serve.log()  # scrapes stay out of the access log
    finally:
        serve.stop()
    assert not directory.exists()  # the counts' directory goes with the service


def _dog_subject() -> dict[str, Any]:
    subject: dict[str, Any] = UseCaseRegistry.load(default_usecases_dir()).get(DOG).examples[0][
        "subject"]
    return subject


def _request_processes(serve: ServeProcess, timeout: float = 30.0) -> list[int]:
    """The process ids of the two request processes, from uvicorn's log."""
    deadline = time.monotonic() + timeout
    while len(found := re.findall(r"Started server process \[(\d+)\]", serve.log())) < 2:
        assert time.monotonic() < deadline, serve.log()[-3000:]
        time.sleep(0.1)
    return [int(pid) for pid in found[:2]]


def _anchoring_process(serve: ServeProcess) -> int:
    found = re.findall(r"Verankerungsprozess (\d+) gestartet", serve.log())
    assert found, serve.log()[-3000:]
    return int(found[-1])


def _multiprocess_dir(serve: ServeProcess) -> Path:
    assert serve.process is not None
    directory = serve.home / "metrics" / str(serve.process.pid)
    assert directory.is_dir()
    assert directory.stat().st_mode & 0o077 == 0
    return directory
