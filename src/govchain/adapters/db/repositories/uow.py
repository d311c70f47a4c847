"""The unit of work: one transaction over all repositories."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from govchain.adapters.db.repositories._base import _conflict
from govchain.adapters.db.repositories.accounts import (
    ApiKeyRepository,
    LoginSessionRepository,
    RevokedTokenRepository,
    UserRepository,
)
from govchain.adapters.db.repositories.batches import BatchRepository
from govchain.adapters.db.repositories.documents import DocumentRepository
from govchain.adapters.db.repositories.links import LinkRepository
from govchain.adapters.db.repositories.logs import AuditRepository, VerificationLogRepository
from govchain.adapters.db.repositories.status_events import StatusEventRepository
from govchain.adapters.db.repositories.status_lists import StatusListRepository
from govchain.adapters.db.repositories.wallet import WalletRepository
from govchain.errors import StorageError


class UnitOfWork:
    """One transaction over all repositories.

        with UnitOfWork(engine) as uow:
            user = uow.users.add(...)
            uow.audit.append(...)
            uow.commit()

    Leaving the block without commit() rolls everything back, an exception included;
    `after_commit` callbacks run only once their transaction is committed. A
    ConflictError (unique value taken, missing reference) spoils the transaction: leave the block.
    Database errors leave the block as StorageError.
    """

    users: UserRepository
    api_keys: ApiKeyRepository
    documents: DocumentRepository
    status_events: StatusEventRepository
    links: LinkRepository
    audit: AuditRepository
    verification_log: VerificationLogRepository
    revoked_tokens: RevokedTokenRepository
    login_sessions: LoginSessionRepository
    status_lists: StatusListRepository
    wallet: WalletRepository

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._session: Session | None = None
        self._after_commit: list[Callable[[], None]] = []

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this unit of work is already open")
        session = Session(self._engine, expire_on_commit=False, autoflush=True)
        self._session = session
        self.users = UserRepository(session)
        self.api_keys = ApiKeyRepository(session)
        self.documents = DocumentRepository(session)
        self.batches = BatchRepository(session)
        self.status_lists = StatusListRepository(session)
        self.status_events = StatusEventRepository(session)
        self.links = LinkRepository(session)
        self.audit = AuditRepository(session)
        self.verification_log = VerificationLogRepository(session)
        self.revoked_tokens = RevokedTokenRepository(session)
        self.login_sessions = LoginSessionRepository(session)
        self.wallet = WalletRepository(session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        session, self._session = self._session, None
        assert session is not None
        self._after_commit.clear()
        try:
            session.rollback()
        except SQLAlchemyError as err:
            if exc is None:
                raise StorageError(f"Datenbankfehler: {type(err).__name__}") from err
        finally:
            session.close()
        if isinstance(exc, IntegrityError):
            raise _conflict(exc) from exc
        if isinstance(exc, SQLAlchemyError):
            raise StorageError(f"Datenbankfehler: {type(exc).__name__}") from exc

    def _open_session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is not open")
        return self._session

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Runs `callback` once the current transaction is committed (dropped if it is rolled
        back): for what must count only what was stored, such as the metrics."""
        self._after_commit.append(callback)

    def commit(self) -> None:
        try:
            self._open_session().commit()
        except IntegrityError as err:
            self._after_commit.clear()
            raise _conflict(err) from err
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def rollback(self) -> None:
        self._after_commit.clear()
        self._open_session().rollback()
