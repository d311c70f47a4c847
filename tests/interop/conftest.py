"""The service the interoperability tests talk to: a `govchain serve` per test module, whose
public base URL (the DIDs', status lists' and wallet endpoints' address) is its own address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.anvil import free_port
from support.serve import ServeProcess, prepare_home


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    home = tmp_path_factory.mktemp("interop-home")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The CLI that prepares the home and the service agree on the address through the
    # environment.
    env = prepare_home(home, env={"GOVCHAIN_PUBLIC_BASE_URL": base})
    serve = ServeProcess(home, {**env, "GOVCHAIN_PUBLIC_BASE_URL": base}, port=port).start()
    try:
        yield serve
    finally:
        serve.stop(10.0)
