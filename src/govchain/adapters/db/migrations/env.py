"""Alembic environment: migrates the connection that govchain.adapters.db.upgrade() hands over.

Offline mode (SQL script output) works from a ``sqlalchemy.url`` main option.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from govchain.adapters.db.models import Base

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run the migrations through govchain.adapters.db.upgrade(engine)")
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()
