"""Alembic migrations of the service's database; run through govchain.adapters.db.upgrade()."""
