"""The chain port (`base.Chain`) and its adapters: the embedded py-evm chain and JSON-RPC nodes."""

from govchain.adapters.chain.base import (
    BlockInfo,
    Chain,
    ChainFeatureUnsupportedError,
    InvalidTimestampError,
    TransactionRejectedError,
    open_chain,
)

__all__ = [
    "BlockInfo",
    "Chain",
    "ChainFeatureUnsupportedError",
    "InvalidTimestampError",
    "TransactionRejectedError",
    "open_chain",
]
