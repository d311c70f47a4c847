"""Helpers for tests and benchmarks that need real infrastructure (an anvil node)."""

from govchain.testing.anvil import AnvilNode, find_anvil, start_anvil

__all__ = ["AnvilNode", "find_anvil", "start_anvil"]
