"""The chain port (`base.Chain`) and its adapters: the embedded py-evm chain and JSON-RPC nodes;
`open_chain` picks one for a home (the port itself knows no adapter). The ledger bindings and
the home's context import it; a new adapter implements `base.Chain` and passes
`tests/chain/test_adapters.py`."""

from __future__ import annotations

from pathlib import Path

from govchain.adapters.chain.base import (
    DEFAULT_RPC_TIMEOUT,
    BlockInfo,
    Chain,
    ChainFeatureUnsupportedError,
    InvalidTimestampError,
    TransactionRejectedError,
)
from govchain.adapters.chain.rpc import RpcChain


def open_chain(*, home: Path | None, rpc_url: str | None,
               timeout: float = DEFAULT_RPC_TIMEOUT) -> Chain:
    """The chain a govchain home works with: the JSON-RPC node at `rpc_url` if given, else the
    embedded chain persisted in `home`/chain, else (home None) an embedded chain in memory.

    `timeout` bounds each request to a JSON-RPC node, in seconds.
    """
    if rpc_url:
        return RpcChain(rpc_url, timeout=timeout)
    # py-evm (≈0.3 s to import) only for the embedded chain: a service on a node never loads it.
    from govchain.adapters.chain.embedded import EmbeddedChain

    return EmbeddedChain(home)


__all__ = [
    "BlockInfo",
    "Chain",
    "ChainFeatureUnsupportedError",
    "InvalidTimestampError",
    "TransactionRejectedError",
    "open_chain",
]
