"""Fixtures shared by the test suites: real chains (embedded py-evm, anvil) and govchain homes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from govchain import services
from govchain.adapters.context import Context
from support.anvil import AnvilNode, start_anvil


@pytest.fixture(autouse=True)
def _passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests use a fixed keystore passphrase instead of a development passphrase file."""
    monkeypatch.setenv("GOVCHAIN_KEY_PASSPHRASE", "test passphrase – not a secret")


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    with start_anvil() as node:
        yield node


def _context(home: Path, rpc_url: str | None) -> Iterator[Context]:
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", "test passphrase – not a secret")
    ctx = Context(home=home, rpc_url=rpc_url)
    try:
        services.init_home(ctx)
        yield ctx
    finally:
        ctx.close()
        mp.undo()


@pytest.fixture(scope="module", params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def ledger_context(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    """A govchain home with deployed contracts, on the embedded chain or on a real anvil node."""
    home = tmp_path_factory.mktemp(f"home-{request.param}")
    rpc_url = request.getfixturevalue("anvil").url if request.param == "anvil" else None
    yield from _context(home, rpc_url)
