"""The database becomes unreachable: clear 503s, no partial writes, and the service recovers by
itself once it is back (connections are checked before use)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fault_checks import assert_nothing_lost_or_doubled
from test_crash import USECASE, subjects

from conftest import Node, Proxy
from support.serve import ServeProcess, prepare_home

pytestmark = [pytest.mark.slow, pytest.mark.anvil]


def test_database_outage_gives_503_writes_nothing_half_and_recovers(
        tmp_path: Path, node: Node, database: tuple[str, sa.Engine]) -> None:
    url, engine = database
    parsed = sa.make_url(url)
    proxy = Proxy((parsed.host or "127.0.0.1", parsed.port or 5432)).start()
    via_proxy = parsed.set(port=proxy.port).render_as_string(hide_password=False)
    home = tmp_path / "home"
    env = prepare_home(home, rpc_url=node.url, database_url=via_proxy, in_process=False)
    serve = ServeProcess(home, env).start()
    client = httpx.Client(base_url=f"{serve.base_url}/api/v1", headers=serve.headers, timeout=60)
    first = client.post("/documents/bulk", params={"wait": "true"}, json={
        "usecase": USECASE, "items": [{"subject": s} for s in subjects(20, 0)]})
    assert first.status_code == 201
    accepted = [a["id"] for a in first.json()["accepted"]]

    proxy.cut()
    refused = client.post("/documents/bulk", json={
        "usecase": USECASE, "items": [{"subject": s} for s in subjects(20, 100)]})
    assert refused.status_code == 503, refused.text
    assert "Datenbank" in refused.json()["detail"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["database"]["ok"] is False
    with engine.connect() as conn:  # nothing of the refused request was written
        stored = conn.execute(sa.text("SELECT count(*) FROM documents")).scalar()
    assert stored == 20

    proxy.start()
    deadline = time.monotonic() + 60
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the service did not recover"
        time.sleep(0.5)
    again = client.post("/documents/bulk", params={"wait": "true"}, json={
        "usecase": USECASE, "items": [{"subject": s} for s in subjects(20, 200)]})
    assert again.status_code == 201
    accepted += [a["id"] for a in again.json()["accepted"]]
    client.close()
    serve.stop()
    proxy.cut()
    outcome = assert_nothing_lost_or_doubled(home, node.url, engine, accepted)
    assert outcome["documents"] == 40
