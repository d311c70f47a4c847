"""What several integration modules share: a new, migrated SQLite database per test (modules
that need another, e.g. on PostgreSQL too or with accounts, define their own `engine`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from govchain.adapters.db import make_engine, upgrade


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'govchain.sqlite3'}")
    upgrade(engine)
    yield engine
    engine.dispose()
