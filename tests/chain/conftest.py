"""Fixtures for the chain adapters: every adapter (embedded in memory, embedded on a home directory,
anvil over JSON-RPC) behind one parametrised `adapter` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chain_kit import Adapter, Toolkit

from govchain.adapters.chain import Chain, open_chain
from support.anvil import AnvilNode


@pytest.fixture(params=["memory", "home", pytest.param("anvil", marks=pytest.mark.anvil)])
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Adapter]:
    kind: str = request.param
    opened: list[Chain] = []

    def open_one() -> Chain:
        if kind == "memory":
            chain = open_chain(home=None, rpc_url=None)
        elif kind == "home":
            chain = open_chain(home=tmp_path / "home", rpc_url=None)
        else:
            node: AnvilNode = request.getfixturevalue("anvil")  # tests/conftest.py
            chain = open_chain(home=tmp_path / "unused", rpc_url=node.url)
        opened.append(chain)
        return chain

    yield Adapter(kind, open_one(), open_one)
    for chain in opened:
        chain.close()


@pytest.fixture
def chain(adapter: Adapter) -> Chain:
    return adapter.chain


@pytest.fixture
def kit(chain: Chain) -> Toolkit:
    return Toolkit(chain)
