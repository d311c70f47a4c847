"""The generated issue form of any use case, and what happens when it is posted.

Clerks and landlords share it; only who issues and what follows differ. Issuing is written for
asynchronous anchoring: store, commit, wait a little for the anchor, then read again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request, Response

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.domain.subject_fields import RawForm, raw_form, raw_from_subject, subject_from_form
from govchain.domain.timefmt import BERLIN, now, parse_time
from govchain.domain.usecases import UseCase
from govchain.entrypoints.http.web.forms import apply_row_buttons, build_form
from govchain.entrypoints.http.web.i18n import Translator, lang_of
from govchain.entrypoints.http.web.rendering import PRIVATE_HEADERS, render
from govchain.errors import InputError, ValidationError

VALID_FROM = "__valid_from"
VALID_UNTIL = "__valid_until"
MUNICIPALITY = "__municipality"
# The pages wait at most 5 s for the anchor, then show the pending page, which reloads itself;
# the API waits `settings.anchor_wait_seconds` (10 s). Kept apart on purpose (issue 17).
ANCHOR_WAIT_SECONDS = 5.0


def skipped_fields(usecase: UseCase) -> tuple[str, ...]:
    """Fields the office fills itself: the Zuordnungsmerkmal is given, never typed."""
    return (usecase.code_pointer,) if usecase.code_pointer else ()


@dataclass
class FormPage:
    """Everything the issue form template needs besides the generated fields."""

    usecase: UseCase
    action: str
    guided: bool
    municipalities: Sequence[tuple[str, str]] = ()  # (AGS, name) for landlords
    with_validity: bool = False


def form_response(request: Request, page: FormPage, raw: RawForm,
                  errors: Sequence[tuple[str, str]] = (), extra_errors: Mapping[str, str] | None = None,
                  status: int = 200) -> Response:
    t = Translator(lang_of(request))
    generated = build_form(page.usecase, t, raw, errors, skip=skipped_fields(page.usecase))
    extra = dict(extra_errors or {})
    summary = [(_extra_id(name), t(f"form.{name}"), message) for name, message in extra.items()]
    summary += generated.errors
    return render(request, "issue_form.html", status=status, headers=PRIVATE_HEADERS, page=page,
                  form=generated, raw=raw, extra_errors=extra, summary=summary,
                  valid_from=(raw.get(VALID_FROM) or [""])[0],
                  valid_until=(raw.get(VALID_UNTIL) or [""])[0],
                  municipality=(raw.get(MUNICIPALITY) or [""])[0])


def _extra_id(name: str) -> str:
    return {"valid_from": "valid-from", "valid_until": "valid-until",
            "municipality": "municipality"}.get(name, "form-errors")


def default_raw(usecase: UseCase, ags: str | None) -> RawForm:
    preset = usecase.presets.get(ags) if ags else None
    raw = raw_from_subject(usecase, preset["subject"]) if preset else {}
    raw[VALID_FROM] = [now().astimezone(BERLIN).date().isoformat()]
    return raw


def _validity(raw: RawForm, t: Translator) -> tuple[datetime | None, datetime | None,
                                                   dict[str, str]]:
    """Valid from the start of one day until the end of another (both in Berlin time)."""
    errors: dict[str, str] = {}
    values: list[datetime | None] = []
    for name, field in ((VALID_FROM, "valid_from"), (VALID_UNTIL, "valid_until")):
        text = (raw.get(name) or [""])[0].strip()
        if not text:
            values.append(None)
            continue
        try:
            day = parse_time(text[:10]) if len(text) == 10 else None
        except InputError:
            day = None
        if day is None:
            errors[field] = t("form.bad_date")
            values.append(None)
        else:
            values.append(day + timedelta(days=1) if name == VALID_UNTIL else day)
    valid_from, valid_until = values
    if valid_from and valid_until and valid_until <= valid_from:
        errors["valid_until"] = t("form.until_before_from")
    return valid_from, valid_until, errors


_VALIDITY_FIELDS = {"/validFrom": "valid_from", "/validUntil": "valid_until"}


def _split_validity(errors: Sequence[tuple[str, str]], extra: dict[str, str]
                    ) -> list[tuple[str, str]]:
    """The subject's field errors; those of the validity dates go to `extra`, shown at the
    form's own date inputs."""
    fields = []
    for path, message in errors:
        if path in _VALIDITY_FIELDS:
            extra.setdefault(_VALIDITY_FIELDS[path], message)
        else:
            fields.append((path, message))
    return fields


@dataclass(frozen=True)
class Outcome:
    """Either a page to show again (errors, added rows) or the issued document."""

    response: Response | None
    issued: services.Issued | None


def post_issue(request: Request, ctx: Context, uow: UnitOfWork, actor: services.Actor,
               page: FormPage, items: Sequence[tuple[str, Any]]) -> Outcome:
    t = Translator(lang_of(request))
    raw = raw_form(items)
    if apply_row_buttons(raw):
        return Outcome(form_response(request, page, raw), None)
    subject = subject_from_form(page.usecase, raw, skip=skipped_fields(page.usecase))
    valid_from, valid_until, extra = _validity(raw, t) if page.with_validity else (None, None, {})
    municipality = None
    if page.municipalities:
        municipality = (raw.get(MUNICIPALITY) or [""])[0]
        if municipality not in {ags for ags, _ in page.municipalities}:
            extra["municipality"] = t("form.choose_municipality")
    # shown together with the extra errors; the service checks the same again
    errors = _split_validity(services.request_errors(page.usecase, services.IssueRequest(
        subject, valid_from, valid_until), now()), extra)
    if extra or errors:
        return Outcome(form_response(request, page, raw, errors, extra, status=422), None)
    try:
        issued = services.issue_for(ctx, uow, actor, page.usecase.id, subject,
                                    municipality=municipality, valid_from=valid_from,
                                    valid_until=valid_until)
    except ValidationError as err:
        errors = _split_validity(err.errors, extra)
        return Outcome(form_response(request, page, raw, errors, extra, status=422), None)
    uow.commit()
    anchoring = request.app.state.anchoring
    anchoring.notify(issued.record.account)  # its worker need not wait for its next look
    anchoring.wait([issued.record.id], timeout=ANCHOR_WAIT_SECONDS)
    return Outcome(None, issued)
