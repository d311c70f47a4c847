"""The service layer: what the registrar, clerks, landlords and verifiers can do, for every
entrypoint. The command line, the API and the pages call these functions and nothing below them,
so every business rule lives here once: validation before any write, who may do what, who signs.

One module per concern (registry, signers, issuing, status, links, people, verifying, audit; the
read side in `queries`); this package names their functions once, as `services.<function>`.
Imports: the pipeline, the composition root and the entrypoints; it imports adapters and domain.
"""

from __future__ import annotations

from govchain.domain.vocabulary import Role
from govchain.services.issuing import (
    MAX_BULK,
    BulkResult,
    Issued,
    IssueRequest,
    accept_documents,
    accept_valid,
    admission_problem,
    admitted_usecases,
    issue_bulk_for,
    issue_documents,
    issue_for,
    request_errors,
    require_admitted,
    require_submitter,
    salt_documents,
    submittable_usecases,
)
from govchain.services.links import (
    LINK_MAX_LIFETIME,
    CreatedLink,
    LinkVerification,
    create_link,
    create_link_for,
    disclose_document,
    verify_link,
    withdraw_link,
    withdraw_link_for,
)
from govchain.services.people import Actor, authenticate, get_document_for, list_documents_for
from govchain.services.registry import (
    DEV_FUNDING_WEI,
    add_issuer_account,
    admit_municipality,
    advance_chain_time,
    doc_type_name,
    init_home,
    mark_compromised,
    reactivate_municipality,
    registrar_account,
    retire_account,
    set_doc_types,
    suspend_municipality,
)
from govchain.services.signers import issuer_address, issuer_signer
from govchain.services.status import (
    Action,
    change_status,
    change_status_for,
    parse_reason,
    record_status_change,
)
from govchain.services.verifying import lookup_code, verify

__all__ = [
    "DEV_FUNDING_WEI",
    "LINK_MAX_LIFETIME",
    "MAX_BULK",
    "Action",
    "Actor",
    "BulkResult",
    "CreatedLink",
    "IssueRequest",
    "Issued",
    "LinkVerification",
    "Role",
    "accept_documents",
    "accept_valid",
    "add_issuer_account",
    "admission_problem",
    "admit_municipality",
    "admitted_usecases",
    "advance_chain_time",
    "authenticate",
    "change_status",
    "change_status_for",
    "create_link",
    "create_link_for",
    "disclose_document",
    "doc_type_name",
    "get_document_for",
    "init_home",
    "issue_bulk_for",
    "issue_documents",
    "issue_for",
    "issuer_address",
    "issuer_signer",
    "list_documents_for",
    "lookup_code",
    "mark_compromised",
    "parse_reason",
    "reactivate_municipality",
    "record_status_change",
    "registrar_account",
    "request_errors",
    "require_admitted",
    "require_submitter",
    "retire_account",
    "salt_documents",
    "set_doc_types",
    "submittable_usecases",
    "suspend_municipality",
    "verify",
    "verify_link",
    "withdraw_link",
    "withdraw_link_for",
]
