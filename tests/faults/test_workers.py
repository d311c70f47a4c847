"""`govchain serve --workers 2`: two request processes and one anchoring process of its own.

The request processes do not anchor; the anchoring process finds what they accepted, and requests
that wait for their anchor get it. Stopping the service ends the anchoring process too, and a
killed service takes its anchoring process with it, and a crashed anchoring process is started
again."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fault_checks import assert_nothing_lost_or_doubled
from test_crash import USECASE, subjects

from conftest import Node
from support.serve import ServeProcess, prepare_home

pytestmark = [pytest.mark.slow, pytest.mark.anvil]


def _children(pid: int) -> list[tuple[int, str]]:
    out = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True,
                         text=True, check=False).stdout
    return [(int(line.split(None, 1)[0]), line.split(None, 1)[1]) for line in out.splitlines()
            if line.strip()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _outliving(pids: list[int], seconds: float) -> list[tuple[int, str]]:
    """The processes still running after `seconds` (they get that long to finish shutting down)."""
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [(pid, Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200])
            for pid in pids if _alive(pid)]


def _serve_with_two_workers(home: Path, node: Node, url: str) -> tuple[ServeProcess, int]:
    """`serve --workers 2` on a prepared home; returns it and its main process id."""
    env = prepare_home(home, rpc_url=node.url, database_url=url, in_process=False)
    serve = ServeProcess(home, env, name="workers", workers=2).start()
    assert serve.process is not None
    return serve, serve.process.pid


def _anchoring_pid(serve: ServeProcess, starts: int = 1, timeout: float = 30.0) -> int:
    """The process id of the anchoring process once it has logged its `starts`-th start (it
    starts apart from the request processes and may log after they answer)."""
    deadline = time.monotonic() + timeout
    while len(found := re.findall(r"Verankerungsprozess (\d+) gestartet", serve.log())) < starts:
        assert time.monotonic() < deadline, serve.log()[-3000:]
        time.sleep(0.1)
    return int(found[starts - 1])


def test_request_processes_wait_and_the_anchoring_process_anchors(
        tmp_path: Path, node: Node, database: tuple[str, sa.Engine]) -> None:
    url, engine = database
    home = tmp_path / "home"
    serve, main = _serve_with_two_workers(home, node, url)
    spawned = _children(main)
    # two request processes and the anchoring process (plus multiprocessing's resource tracker)
    assert sum("spawn_main" in args for _, args in spawned) == 3
    accepted: list[str] = []
    with httpx.Client(timeout=60, headers=serve.headers) as client:
        bulk = client.post(f"{serve.base_url}/api/v1/documents/bulk", json={
            "usecase": USECASE, "items": [{"subject": s} for s in subjects(300, 0)]})
        assert bulk.status_code == 202
        accepted += [a["id"] for a in bulk.json()["accepted"]]
        for i in range(20):  # spread over both request processes
            single = client.post(f"{serve.base_url}/api/v1/documents", params={"wait": "true"},
                                 json={"usecase": USECASE, "subject": subjects(1, 1000 + i)[0]})
            assert single.status_code == 201, single.text
            assert single.json()["document"]["proof"]["anchor"]["transactionHash"]
            accepted.append(single.json()["id"])
    serve.wait_until_none_pending(timeout=120)
    assert _anchoring_pid(serve) in [pid for pid, _ in spawned]
    serve.stop()
    left = _outliving([pid for pid, _ in spawned], seconds=15)
    assert not left, f"processes of the service outlived it: {left}"
    outcome = assert_nothing_lost_or_doubled(home, node.url, engine, accepted)
    assert outcome["documents"] == len(accepted)


def test_only_the_anchoring_process_anchors(
        tmp_path: Path, node: Node, database: tuple[str, sa.Engine]) -> None:
    """With the anchoring process frozen (SIGSTOP) accepted documents stay pending: no request
    process anchors them behind its back; once it runs again, it anchors them."""
    serve, _ = _serve_with_two_workers(tmp_path / "home", node, database[0])
    anchoring = _anchoring_pid(serve)
    try:
        os.kill(anchoring, signal.SIGSTOP)
        with httpx.Client(timeout=60, headers=serve.headers) as client:
            for _ in range(4):  # reaching both request processes
                bulk = client.post(f"{serve.base_url}/api/v1/documents/bulk", json={
                    "usecase": USECASE, "items": [{"subject": s} for s in subjects(5, 0)]})
                assert bulk.status_code == 202, bulk.text
        time.sleep(3.0)  # twelve times the batch window
        assert serve.count(state="pending") == 20
        os.kill(anchoring, signal.SIGCONT)
        serve.wait_until_none_pending(timeout=60)
        assert serve.count(state="anchored") == 20
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(anchoring, signal.SIGCONT)
        serve.stop()


def test_the_anchoring_process_ends_with_a_killed_service(
        tmp_path: Path, node: Node, database: tuple[str, sa.Engine]) -> None:
    serve, main = _serve_with_two_workers(tmp_path / "home", node, database[0])
    anchoring = _anchoring_pid(serve)
    assert anchoring in [pid for pid, _ in _children(main)]
    os.kill(main, signal.SIGKILL)  # the main process alone, not its process group
    assert serve.process is not None
    serve.process.wait(30)
    gone = not _outliving([anchoring], seconds=10)
    serve.kill()  # uvicorn's request processes outlive a killed parent: clean up the group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(main, signal.SIGKILL)
    assert gone, "the anchoring process outlived the killed service"


def test_a_crashed_anchoring_process_is_started_again(
        tmp_path: Path, node: Node, database: tuple[str, sa.Engine]) -> None:
    url, engine = database
    home = tmp_path / "home"
    serve, _ = _serve_with_two_workers(home, node, url)
    try:
        first = _anchoring_pid(serve)
        os.kill(first, signal.SIGKILL)  # a crash, as the OOM killer would do it
        assert _anchoring_pid(serve, starts=2) != first
        with httpx.Client(timeout=60, headers=serve.headers) as client:
            answer = client.post(f"{serve.base_url}/api/v1/documents", params={"wait": "true"},
                                 json={"usecase": USECASE, "subject": subjects(1, 5000)[0]})
        assert answer.status_code == 201, answer.text
        assert "starte ihn neu" in serve.log()
    finally:
        serve.stop()
    outcome = assert_nothing_lost_or_doubled(home, node.url, engine, [answer.json()["id"]])
    assert outcome["documents"] == 1
