"""Repositories and the unit of work: the only code that reads or writes the service's tables,
one module per aggregate with its record types (accounts, documents, status events, batches,
links, logs), what they share in `_base`, the transaction in `uow`.

Repositories hand out frozen records, never ORM objects, so that nothing outside this package can
change a row by accident or touch it after its session has closed. A unit of work is one
transaction: what is not committed when its ``with`` block ends is rolled back, and database errors
leave it as govchain errors (ConflictError, StorageError).

Secrets and personal data stay out of the records' repr (password and key hashes, link lookups and
ciphertexts, subjects and documents, landlord codes), so logging a record leaks neither.
"""

from __future__ import annotations

from govchain.adapters.db.repositories._base import (
    ANCHORED_CHANNEL,
    COPY_FROM,
    MAX_PAGE,
    PENDING_CHANNEL,
    SCHEMA_TAG_SQL,
    Page,
)
from govchain.adapters.db.repositories.accounts import (
    ApiKeyRecord,
    SessionRecord,
    UserRecord,
    normalize_username,
)
from govchain.adapters.db.repositories.batches import BatchRecord, FailedBatches
from govchain.adapters.db.repositories.documents import (
    DocumentRecord,
    QueuedDocument,
    search_text_of,
)
from govchain.adapters.db.repositories.links import LinkRecord
from govchain.adapters.db.repositories.logs import AuditRecord, VerificationRecord
from govchain.adapters.db.repositories.status_events import StatusEventRecord
from govchain.adapters.db.repositories.uow import UnitOfWork

__all__ = [
    "ANCHORED_CHANNEL",
    "COPY_FROM",
    "MAX_PAGE",
    "PENDING_CHANNEL",
    "SCHEMA_TAG_SQL",
    "ApiKeyRecord",
    "AuditRecord",
    "BatchRecord",
    "DocumentRecord",
    "FailedBatches",
    "LinkRecord",
    "Page",
    "QueuedDocument",
    "SessionRecord",
    "StatusEventRecord",
    "UnitOfWork",
    "UserRecord",
    "VerificationRecord",
    "normalize_username",
    "search_text_of",
]
