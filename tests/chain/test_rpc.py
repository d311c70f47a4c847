"""The JSON-RPC adapter where nodes differ or fail, and the anvil helper's lifecycle.

Failures are produced for real: a port nobody listens on, a socket that never answers, a web server
that is no node, and a minimal JSON-RPC server standing in for a production node (Besu) that has
no development methods.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from chain_kit import ETHER

from govchain.adapters.chain import ChainFeatureUnsupportedError, open_chain
from govchain.adapters.chain.rpc import RpcChain
from govchain.errors import ConfigurationError, LedgerUnavailableError
from support.anvil import AnvilNode, _group_alive, find_anvil, free_port, start_anvil

ADDRESS = "0x000000000000000000000000000000000000dEaD"
Respond = Callable[[bytes], tuple[int, bytes]]  # request body -> (HTTP status, response body)


@pytest.fixture
def http_server() -> Iterator[Callable[[Respond], str]]:
    """Starts local HTTP servers, each answering POST requests with `respond`; returns the URL."""
    servers: list[ThreadingHTTPServer] = []

    def serve(respond: Respond) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, body = respond(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def json_rpc_node(methods: dict[str, Any], calls: list[str], missing: int = -32601) -> Respond:
    """A node that knows only `methods` (name -> result) and records what it was asked; other
    methods fail with error code `missing` (-32601 not found, Besu's -32604 not enabled)."""
    def handle(body: bytes) -> tuple[int, bytes]:
        request = json.loads(body)
        calls.append(request["method"])
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request["id"]}
        if request["method"] in methods:
            reply["result"] = methods[request["method"]]
        else:
            reply["error"] = {"code": missing, "message": "Method not found or not enabled"}
        return 200, json.dumps(reply).encode()
    return handle


BESU = {"eth_chainId": "0x539", "eth_getBalance": "0x0", "eth_accounts": [],
        "eth_blockNumber": "0x10", "eth_gasPrice": "0x3b9aca00"}


def test_a_node_nobody_listens_on_is_unavailable_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(LedgerUnavailableError, match="nicht erreichbar"):
        open_chain(home=None, rpc_url=f"http://127.0.0.1:{free_port()}")
    assert time.monotonic() - started < 3


def test_a_node_that_never_answers_times_out() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        started = time.monotonic()
        with pytest.raises(LedgerUnavailableError, match=r"(?i)timeout|timed out"):
            open_chain(home=None, rpc_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
                       timeout=0.5)
        assert time.monotonic() - started < 3


def test_a_server_that_is_no_node_is_unavailable(http_server: Any) -> None:
    url = http_server(lambda _body: (200, b"<html>Wartungsarbeiten</html>"))
    with pytest.raises(LedgerUnavailableError):
        open_chain(home=None, rpc_url=url)
    url = http_server(lambda _body: (502, b"Bad Gateway"))
    with pytest.raises(LedgerUnavailableError, match="502"):
        open_chain(home=None, rpc_url=url)


def test_a_production_node_cannot_fund_or_set_timestamps(http_server: Any) -> None:
    calls: list[str] = []
    with open_chain(home=None, rpc_url=http_server(json_rpc_node(BESU, calls))) as chain:
        assert chain.chain_id == 1337
        with pytest.raises(ChainFeatureUnsupportedError, match="Ether"):
            chain.fund(ADDRESS, ETHER)
        assert "anvil_setBalance" in calls and "eth_accounts" in calls
    node = {**BESU, "eth_getBlockByNumber": {
        "number": "0x10", "timestamp": "0x6900", "hash": "0x" + "ab" * 32,
        "parentHash": "0x" + "00" * 32, "transactions": []}}
    besu = http_server(json_rpc_node(node, calls, missing=-32604))
    with open_chain(home=None, rpc_url=besu) as chain, \
            pytest.raises(ChainFeatureUnsupportedError, match="evm_setNextBlockTimestamp"):
        chain.set_next_block_timestamp(0x6900 + 10)


def test_a_zero_gas_price_network_needs_no_funding(http_server: Any) -> None:
    calls: list[str] = []
    node = {**BESU, "eth_gasPrice": "0x0"}
    with open_chain(home=None, rpc_url=http_server(json_rpc_node(node, calls))) as chain:
        chain.fund(ADDRESS, ETHER)
    assert "anvil_setBalance" not in calls and "eth_sendTransaction" not in calls


@pytest.mark.anvil
def test_rpc_url_wins_over_home(anvil: AnvilNode, tmp_path: Path) -> None:
    with open_chain(home=tmp_path, rpc_url=anvil.url) as chain:
        assert isinstance(chain, RpcChain)
        assert chain.chain_id == 31337
    assert list(tmp_path.iterdir()) == []


@pytest.mark.anvil
def test_anvil_starts_answers_and_is_stopped_for_sure() -> None:
    node = start_anvil(chain_id=4242)
    with open_chain(home=None, rpc_url=node.url) as chain:
        assert chain.chain_id == 4242
    node.stop()
    node.stop()  # idempotent
    assert not node.running
    assert not _group_alive(node.process.pid)  # the node wrapper and anvil itself
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", node.port)) != 0


def test_find_anvil_honours_the_environment(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("GOVCHAIN_ANVIL", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="GOVCHAIN_ANVIL"):
        find_anvil()
