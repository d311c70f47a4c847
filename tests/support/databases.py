"""Fresh test databases: a SQLite file, or a schema of its own on the PostgreSQL of this machine.

PostgreSQL runs at GOVCHAIN_TEST_POSTGRES_URL (default: the local server, database ``test``). Without
a reachable server the PostgreSQL cases are skipped locally and fail in CI.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from govchain.adapters.db import default_database_url, make_engine

POSTGRES_URL = os.environ.get("GOVCHAIN_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")
KINDS = ["sqlite", "postgresql"]


def _postgres_admin() -> Engine:
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as err:
        admin.dispose()
        where = sa.make_url(POSTGRES_URL).render_as_string(hide_password=True)
        reason = f"PostgreSQL at {where} unreachable: {err.orig}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return admin


def fresh_database(kind: str, tmp_path: Path) -> Iterator[Engine]:
    """An empty database (never migrated) of the given kind."""
    if kind == "sqlite":
        engine = make_engine(default_database_url(tmp_path / "home"))
        yield engine
        engine.dispose()
        return
    admin = _postgres_admin()
    schema = f"govchain_test_{secrets.token_hex(6)}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


