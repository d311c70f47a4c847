"""Fixtures of the page tests: one running service per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web_kit import Site, make_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from make_site(tmp_path_factory)
