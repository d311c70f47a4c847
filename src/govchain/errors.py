"""The one exception hierarchy of govchain; adapters convert foreign errors into these."""

from __future__ import annotations


class GovchainError(Exception):
    """Root of every error govchain raises on purpose. The message is meant for people."""


class ConfigurationError(GovchainError):
    """The home directory, a setting or a deployment is missing or unusable."""


class InputError(GovchainError):
    """Input from a user or a file is unreadable or malformed."""


class ValidationError(InputError):
    """A document subject does not satisfy its use case's schema.

    ``errors`` lists ``(path, message)`` pairs, one per offending field (JSON Pointer paths).
    """

    def __init__(self, message: str, errors: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors

    def __str__(self) -> str:
        lines = [super().__str__()]
        lines += [f"  {path or '/'}: {msg}" for path, msg in self.errors]
        return "\n".join(lines)


class UnknownUseCaseError(InputError):
    """No use case with this id is loaded."""


class KeyStoreError(GovchainError):
    """A key cannot be found or unlocked."""


class KeyUnavailableError(KeyStoreError):
    """The keys' token (a hardware security module) cannot be reached now; nothing was signed.
    Like LedgerUnavailableError: what waits to be signed keeps waiting and is tried again."""


class LedgerError(GovchainError):
    """The ledger refused an operation (a contract reverted)."""

    def __init__(self, message: str, error_name: str | None = None, args: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.error_name = error_name
        self.error_args = args


class NotAuthorizedError(LedgerError):
    """The account or user may not do this."""


class LedgerUnavailableError(GovchainError):
    """The ledger cannot be reached now; nothing can be said about validity."""


class StorageError(GovchainError):
    """The database cannot be reached or refused an operation."""


class SchemaError(StorageError):
    """The database schema is not the one this code expects (not migrated, or newer)."""


class ConflictError(StorageError):
    """A change conflicts with what is stored: a unique value is taken, a referenced record is
    missing, or a record is not in the state the change needs."""


class RecordNotFoundError(StorageError):
    """No record with this id is stored."""


class LinkTokenError(GovchainError):
    """A verification link's token is malformed or does not open the link's sealed document.

    Deliberately one error for both, so that a caller learns nothing about which it was.
    """


class PermissionDeniedError(GovchainError):
    """The signed-in user's role or municipality does not allow this."""


class OAuthError(GovchainError):
    """An OAuth 2.0 / OpenID4VC endpoint refuses a request: `code` is the protocol's error code
    (invalid_request, invalid_grant, invalid_token, invalid_proof, …), `status` its HTTP status,
    the message (German) goes into error_description."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
