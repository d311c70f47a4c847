"""govchain: verifiable administrative documents anchored on a permissioned EVM ledger."""

__version__ = "0.1.0"
