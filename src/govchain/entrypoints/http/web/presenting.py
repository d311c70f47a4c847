"""What the pages show of a verification result and of a document, in the page's language."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from govchain.domain.documents import usecase_id_of
from govchain.domain.pointers import escape_token, is_within
from govchain.domain.usecases import UseCase, UseCaseRegistry
from govchain.domain.usecases.schema import resolve_schema
from govchain.domain.verification import (
    Check,
    CheckStatus,
    Status,
    VerificationResult,
    reason_text,
)
from govchain.entrypoints.http.web.forms import FieldLabels
from govchain.entrypoints.http.web.i18n import Translator
from govchain.errors import GovchainError
from govchain.presentation.display import ShownField, ShownSection, declaration_text, shown_sections


@dataclass(frozen=True)
class CheckView:
    name: str
    label: str
    status: str  # passed, failed, not_checked
    message: str


@dataclass(frozen=True)
class ResultView:
    status: str
    word: str
    summary: str
    reason: str | None
    checks: list[CheckView]
    usecase_title: str | None
    issuer_name: str | None
    issuer_ags: str | None
    anchored_at: str | None
    anchor_block: int | None
    checked_at: str
    schedule: Mapping[str, Any] | None
    valid_from: str | None
    valid_until: str | None
    sections: list[ShownSection] = field(default_factory=list)
    highlights: list[ShownField] = field(default_factory=list)
    declaration: str | None = None  # whose declaration the office received, instead of "issued by"
    hidden: str | None = None  # "N Angaben verborgen", whenever the holder hid anything


# Answers that share a status but must not read alike: a withdrawn link is no forgery, and a type
# unknown here or another ledger is no outage (the status word and summary say which).
_VARIANTS = {("link", "withdrawn"): "LINK_WITHDRAWN", ("link", "unknown"): "LINK_UNKNOWN",
             ("unverifiable", "unknown-usecase"): "UNKNOWN_USECASE",
             ("unverifiable", "other-ledger"): "OTHER_LEDGER"}


def verdict_key(result: VerificationResult) -> str:
    """The locale key of the answer's word and summary: the status, or the variant that says
    more precisely what it means."""
    return next((key for (name, value), key in _VARIANTS.items()
                 if result.details.get(name) == value), str(result.status))


class _CheckText(string.Formatter):
    """Fills a `checkmsg.<code>` template: `{at:time}` a point in time as the pages show it,
    `{usecase:text}` a {"de": …, "en": …} text in the page's language, `{reason:reason}` a status
    reason by its number (REASONS)."""

    def __init__(self, t: Translator) -> None:
        self.t = t

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "time":
            if not isinstance(value, str):
                raise TypeError("a time param must be an ISO 8601 string")
            return self.t.at(value)
        if format_spec == "text":
            if not isinstance(value, Mapping) or not isinstance(value.get("de"), str):
                raise TypeError("a text param must be a {\"de\": …} object")
            return self.t.pick(dict(value))
        if format_spec == "reason":
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError("a reason param must be a number")
            return reason_text(value, self.t.lang)
        return str(super().format_field(value, format_spec))


def check_text(check: Check, t: Translator) -> str:
    """A check's message in the page's language from its code and params; LookupError for a
    code without a template, TypeError or ValueError for params that do not fit it."""
    key = f"checkmsg.{check.code}"
    if check.code is None or not t.has(key):
        raise LookupError(f"no template for the check message code {check.code!r}")
    return _CheckText(t).format(t(key), **check.params)


def check_message(check: Check, t: Translator) -> str:
    """`check_text`, or the German message as the result has it when there is no code (stored
    before codes existed), none known here or params that do not fit the template."""
    try:
        return check_text(check, t)
    except (LookupError, TypeError, ValueError):
        return check.message


def hidden_text(result: VerificationResult, t: Translator) -> str | None:
    n = result.details.get("hiddenFields")
    if not isinstance(n, int) or n <= 0:
        return None
    return t("result.hidden_one") if n == 1 else t("result.hidden", n=n)


def usecase_of(document: Mapping[str, Any] | None, usecases: UseCaseRegistry,
               usecase_id: str | None = None) -> UseCase | None:
    if usecase_id is None and document is not None:
        usecase_id = usecase_id_of(document)
    if isinstance(usecase_id, str) and usecase_id in usecases:
        return usecases.get(usecase_id)
    return None


def sections_of(document: Mapping[str, Any] | None, usecase: UseCase | None, t: Translator
                ) -> list[ShownSection]:
    """The labelled fields of a (possibly partly hidden) document; none for an unreadable one."""
    subject = document.get("credentialSubject") if document is not None else None
    if usecase is None or not isinstance(subject, Mapping):
        return []
    try:
        return shown_sections(subject, usecase, lang=t.lang)
    except (GovchainError, LookupError, TypeError, ValueError):
        return []  # a tampered document is answered INVALID; its fields are not worth a 500


def highlights_of(sections: list[ShownSection]) -> list[ShownField]:
    return [f for s in sections for f in s.fields if f.highlight]


def result_view(result: VerificationResult, document: Mapping[str, Any] | None,
                usecases: UseCaseRegistry, t: Translator) -> ResultView:
    status = result.status
    failing = next((c for c in result.checks if c.status is CheckStatus.FAILED), None)
    if status is Status.UNVERIFIABLE:
        failing = next((c for c in result.checks if c.status is CheckStatus.NOT_CHECKED), failing)
    usecase = usecase_of(document, usecases, result.usecase)
    # Nothing of an invalid document is shown: its contents are exactly what cannot be trusted.
    sections = sections_of(document, usecase, t) if status is not Status.INVALID else []
    valid_from = document.get("validFrom") if document is not None else None
    valid_until = document.get("validUntil") if document is not None else None
    verdict = verdict_key(result)
    return ResultView(
        status=str(status), word=t(f"status.{verdict}"), summary=t(f"status.{verdict}.summary"),
        reason=check_message(failing, t)
        if failing is not None and status is not Status.VALID else None,
        checks=[CheckView(c.name, t(f"check.{c.name}"), str(c.status), check_message(c, t))
                for c in result.checks],
        usecase_title=t.pick(usecase.display.get("title"), usecase.id) if usecase else None,
        issuer_name=(result.issuer or {}).get("name"), issuer_ags=(result.issuer or {}).get("ags"),
        anchored_at=result.anchored_at, anchor_block=result.anchor_block,
        checked_at=result.checked_at, schedule=result.schedule,
        valid_from=valid_from if isinstance(valid_from, str) else None,
        valid_until=valid_until if isinstance(valid_until, str) else None,
        sections=sections, highlights=highlights_of(sections),
        declaration=declaration_text(result.declaration, t.lang)
        if result.declaration is not None and status is not Status.INVALID else None,
        hidden=hidden_text(result, t) if status is not Status.INVALID else None)


def hideable_fields(usecase: UseCase, subject: Mapping[str, Any], t: Translator
                    ) -> list[tuple[str, str, int]]:
    """(pointer, label, depth) of the subject's fields a holder may hide from a link, two levels
    deep: whole groups (e.g. the keeper's address) or single values (the date of birth). Fields
    the use case never lets a holder hide (``neverHidden``) are not offered, nor groups holding
    one; the service refuses them if posted all the same."""
    labels = FieldLabels(usecase, t)
    root = usecase.schema
    found: list[tuple[str, str, int]] = []

    def walk(raw_node: Mapping[str, Any], value: Mapping[str, Any], pointer: str, depth: int) -> None:
        node = resolve_schema(root, raw_node)
        for name, child in node.get("properties", {}).items():
            if name not in value:
                continue
            child_pointer = f"{pointer}/{escape_token(name)}"
            resolved = resolve_schema(root, child)
            if any(is_within(child_pointer, kept) for kept in usecase.never_hidden):
                continue
            if not any(is_within(kept, child_pointer) for kept in usecase.never_hidden):
                found.append((child_pointer, labels.label(child_pointer, resolved), depth))
            if depth == 0 and isinstance(value[name], Mapping):
                walk(child, value[name], child_pointer, depth + 1)

    walk(root, subject, "", 0)
    return found
