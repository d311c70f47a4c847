"""The service's database: engine, schema migrations, repositories and the unit of work.
The services, the pipeline and the composition root import it; it imports only the domain."""

from govchain.adapters.db.engine import (
    DATABASE_FILENAME,
    check_schema,
    current_revision,
    default_database_url,
    head_revision,
    make_engine,
    upgrade,
)
from govchain.adapters.db.repositories import (
    ApiKeyRecord,
    AuditRecord,
    BatchRecord,
    DocumentRecord,
    LinkRecord,
    Page,
    QueuedDocument,
    SessionRecord,
    StatusEventRecord,
    UnitOfWork,
    UserRecord,
    VerificationRecord,
)

__all__ = [
    "DATABASE_FILENAME",
    "ApiKeyRecord",
    "AuditRecord",
    "BatchRecord",
    "DocumentRecord",
    "LinkRecord",
    "Page",
    "QueuedDocument",
    "SessionRecord",
    "StatusEventRecord",
    "UnitOfWork",
    "UserRecord",
    "VerificationRecord",
    "check_schema",
    "current_revision",
    "default_database_url",
    "head_revision",
    "make_engine",
    "upgrade",
]
