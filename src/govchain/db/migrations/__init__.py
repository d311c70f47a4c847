"""Alembic migrations of the service's database; run through govchain.db.upgrade()."""
