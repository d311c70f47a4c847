"""The JSON-RPC chain: any Ethereum node over HTTP (anvil in tests, Hyperledger Besu with QBFT in
production).

Every request has a timeout; a node that cannot be reached, times out or answers with something that
is not JSON-RPC raises LedgerUnavailableError, also for reads made directly through `w3`. `sync()`
has nothing to do: the node is the one view. The development features map to node extensions:
`fund` uses `anvil_setBalance` (anvil, Hardhat) or else an unlocked account of the node
(`eth_accounts`, e.g. geth --dev); `set_next_block_timestamp` uses `evm_setNextBlockTimestamp`
(anvil, Hardhat). Real networks support neither: on a Besu network with gas price 0, `fund` has
nothing to do, elsewhere accounts must be funded by the network's operators.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import MethodUnavailable, TimeExhausted, Web3RPCError
from web3.providers.rpc import HTTPProvider
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import RPCEndpoint, RPCResponse, TxParams, TxReceipt, Wei

from govchain.adapters.chain.base import (
    DEFAULT_RECEIPT_TIMEOUT,
    DEFAULT_RPC_TIMEOUT,
    Chain,
    ChainFeatureUnsupportedError,
    InvalidTimestampError,
    TransactionRejectedError,
    check_chain_id,
)
from govchain.errors import LedgerUnavailableError

T = TypeVar("T")

_TRANSPORT_ERRORS = (requests.RequestException, OSError, json.JSONDecodeError, UnicodeDecodeError)
_RECEIPT_POLL = 0.1


class _NodeProvider(HTTPProvider):
    """An HTTPProvider whose transport failures are LedgerUnavailableError."""

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        try:
            response: RPCResponse = super().make_request(method, params)
            return response
        except _TRANSPORT_ERRORS as err:
            raise _unavailable(str(self.endpoint_uri), err) from err

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]
                           ) -> list[RPCResponse] | RPCResponse:
        try:
            return super().make_batch_request(batch_requests)
        except _TRANSPORT_ERRORS as err:
            raise _unavailable(str(self.endpoint_uri), err) from err

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            return bool(super().is_connected(show_traceback))
        except LedgerUnavailableError:
            if show_traceback:
                raise
            return False


def _method_missing(err: Web3RPCError) -> bool:
    """The node lacks the method or has it switched off (Besu: -32604 "Method not enabled")."""
    error = (err.rpc_response or {}).get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return isinstance(err, MethodUnavailable) or code in (-32601, -32604)


def _unavailable(url: str, err: BaseException) -> LedgerUnavailableError:
    return LedgerUnavailableError(
        f"Der Ledger-Knoten {url} ist nicht erreichbar: {type(err).__name__}: {err}")


class _LeanRpc:
    """Plain JSON-RPC over keep-alive http.client connections, one per thread, for the reads made
    many times a second (the status index's look at the head): ≈0.13 ms of CPU a call instead
    of ≈0.7 ms through web3's middleware stack."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._url, self._timeout = url, timeout
        self._local = threading.local()
        self._ids = itertools.count(1)

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = kind(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def call(self, method: str, params: list[Any]) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                           "params": params}).encode()
        for attempt in (1, 2):  # a kept-alive connection the node closed meanwhile: once more
            try:
                conn = self._connection()
                conn.request("POST", self._target, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    raise OSError(f"HTTP {response.status}")
                answer = json.loads(data)
                break
            except (OSError, http.client.HTTPException, ValueError) as err:
                self._drop()
                if attempt == 2:
                    raise _unavailable(self._url, err) from err
        if not isinstance(answer, dict) or "result" not in answer:
            raise _unavailable(self._url, ValueError(f"keine JSON-RPC-Antwort auf {method}"))
        return answer["result"]


class RpcChain(Chain):
    """A JSON-RPC node at `url`; each request gives up after `timeout` seconds."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_RPC_TIMEOUT) -> None:
        self.url = url
        self._session = requests.Session()
        # Retry only refused connections, briefly: a node that is down must be reported quickly.
        retry = ExceptionRetryConfiguration(errors=(requests.ConnectionError,), retries=3,
                                            backoff_factor=0.1)
        provider = _NodeProvider(url, request_kwargs={"timeout": timeout}, session=self._session,
                                 exception_retry_configuration=retry)
        self.w3 = Web3(provider)
        self._lean = _LeanRpc(url, timeout)
        try:
            self._chain_id = int(self.w3.eth.chain_id)
        except BaseException:
            self._session.close()
            raise

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def block_number(self) -> int:
        return int(self._lean.call("eth_blockNumber", []), 16)

    def block_timestamp(self, number: int) -> int:
        block = self._lean.call("eth_getBlockByNumber", [hex(number), False])
        if not isinstance(block, dict):
            raise LedgerUnavailableError(f"Block {number} ist auf {self.url} nicht bekannt")
        return int(block["timestamp"], 16)

    def send_raw_transaction(self, raw: bytes) -> bytes:
        check_chain_id(raw, self._chain_id)
        try:
            return bytes(self.w3.eth.send_raw_transaction(HexBytes(raw)))
        except Web3RPCError as err:
            raise TransactionRejectedError(
                f"Der Knoten hat die Transaktion abgelehnt: {err.message}") from err

    def wait_for_receipt(self, tx_hash: bytes, timeout: float = DEFAULT_RECEIPT_TIMEOUT
                         ) -> TxReceipt:
        try:
            return self.w3.eth.wait_for_transaction_receipt(HexBytes(tx_hash), timeout=timeout,
                                                            poll_latency=_RECEIPT_POLL)
        except TimeExhausted as err:
            raise LedgerUnavailableError(
                f"Transaktion 0x{bytes(tx_hash).hex()} ist nach {timeout:g} s nicht in einem "
                f"Block von {self.url}") from err

    def fund(self, address: str, wei: int) -> None:
        account = to_checksum_address(address)
        balance = self.w3.eth.get_balance(account)
        if balance >= wei or self.w3.eth.gas_price == 0:
            return
        try:
            self.w3.manager.request_blocking(RPCEndpoint("anvil_setBalance"), [account, hex(wei)])
            return
        except Web3RPCError:
            pass  # not anvil (or Hardhat): try an unlocked account of the node
        accounts = self._node_call(lambda: self.w3.eth.accounts)
        if not accounts:
            raise ChainFeatureUnsupportedError(
                f"Der Knoten {self.url} kann das Konto {account} nicht mit Ether ausstatten "
                "(weder anvil_setBalance noch ein freigeschaltetes Konto); bitte über die "
                "Betreiber des Netzes finanzieren oder den Gaspreis 0 verwenden.")
        tx: TxParams = {"from": accounts[0], "to": account, "value": Wei(wei - balance)}
        tx_hash = self._node_call(lambda: self.w3.eth.send_transaction(tx))
        receipt = self.wait_for_receipt(bytes(tx_hash))
        if receipt["status"] != 1:
            raise ChainFeatureUnsupportedError(
                f"Die Überweisung an {account} vom Konto {accounts[0]} des Knotens schlug fehl")

    def set_next_block_timestamp(self, timestamp: int) -> None:
        latest = self.latest_block().timestamp
        if timestamp <= latest:  # anvil would accept an equal one; keep the adapters alike
            raise InvalidTimestampError(
                f"Der Zeitstempel {timestamp} liegt nicht nach dem des letzten Blocks ({latest})")
        try:
            self.w3.manager.request_blocking(RPCEndpoint("evm_setNextBlockTimestamp"),
                                             [timestamp])
        except Web3RPCError as err:
            if not _method_missing(err):
                raise InvalidTimestampError(f"Der Knoten {self.url} lehnt den Zeitstempel "
                                            f"{timestamp} ab: {err.message}") from err
            raise ChainFeatureUnsupportedError(
                f"Der Knoten {self.url} kann den Zeitstempel des nächsten Blocks nicht setzen "
                "(evm_setNextBlockTimestamp gibt es nur auf Entwicklungsknoten)") from err

    def sync(self) -> None:
        """Nothing to do: every read goes to the node."""

    def close(self) -> None:
        self._session.close()

    def _node_call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except Web3RPCError as err:
            raise ChainFeatureUnsupportedError(
                f"Der Knoten {self.url} lehnt die Anfrage ab: {err.message}") from err
