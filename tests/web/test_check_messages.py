"""Check messages in the page's language: every message code has a template in both locales with
the same placeholders, and the German template filled with a real result's params is that
result's German message word for word (so the API's and the command line's German and the pages'
texts cannot drift apart)."""

from __future__ import annotations

import copy
import json
import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from web_kit import AACHEN, DOG, LANDLORD_USECASE, MUSIC, Site, csrf_of, example, text_of

from govchain import services
from govchain.adapters.db.repositories import DocumentRecord
from govchain.domain import verification
from govchain.domain.documents import parse_proof
from govchain.domain.timefmt import now
from govchain.domain.usecases import UseCaseRegistry
from govchain.domain.verification import (
    Check,
    CheckStatus,
    SignedClaims,
    Status,
    VerificationResult,
    unverifiable,
    verify_document,
    verify_signed_claims,
)
from govchain.entrypoints.http.web.i18n import LANGS, Translator, messages
from govchain.entrypoints.http.web.presenting import check_message, check_text
from govchain.services import credentials, links, oid4vc

# Where check messages are made; each code is written out there as a literal.
SOURCES = [Path(m.__file__ or "") for m in (verification, links, oid4vc)]
CODE = re.compile(
    r'"((?:check|ledger|integrity|anchoring|issuer|status|validity|link|wallet)\.[a-z_]+)"')
CLERK = services.Actor(user_id=1, username="sb.aachen", role="clerk", ags=AACHEN)


def _codes_in_source() -> set[str]:
    return {code for path in SOURCES for code in CODE.findall(path.read_text(encoding="utf-8"))}


def _placeholders(template: str) -> set[tuple[str, str | None, str | None]]:
    return {(name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template) if name is not None}


def test_every_code_has_a_template_in_both_languages_with_the_same_placeholders() -> None:
    codes = _codes_in_source()
    assert {"anchoring.anchored", "status.revoked", "link.withdrawn", "wallet.invalid",
            "issuer.issued_signed", "validity.valid_open"} <= codes
    for lang in LANGS:
        templates = {k.removeprefix("checkmsg."): v for k, v in messages(lang).items()
                     if k.startswith("checkmsg.")}
        assert set(templates) == codes, lang  # none missing, none left over
    for code in codes:
        assert (_placeholders(messages("de")[f"checkmsg.{code}"])
                == _placeholders(messages("en")[f"checkmsg.{code}"])), code


def _assert_in_sync(result: VerificationResult) -> set[str]:
    """Every check has a code whose German template gives its message and whose English one
    differs; the params survive JSON (the API, stored results). The codes seen."""
    de, en = Translator("de"), Translator("en")
    stored = VerificationResult.from_json(json.loads(json.dumps(result.to_json())))
    assert stored.checks == result.checks
    for check in result.checks:
        assert check.code is not None, check
        assert check_text(check, de) == check.message, check
        assert check_text(check, en) != check.message, check
    return {c.code for c in result.checks if c.code is not None}


def _issue(site: Site, usecase: str, subject: dict[str, Any], *, valid_from: datetime | None,
           valid_until: datetime | None, actor: services.Actor = CLERK,
           municipality: str | None = None) -> DocumentRecord:
    with site.uow() as uow:
        issued = services.issue_for(site.ctx, uow, actor, usecase, subject,
                                    municipality=municipality, valid_from=valid_from,
                                    valid_until=valid_until)
        uow.commit()
    assert site.app_client.app.state.anchoring.wait([issued.record.id], timeout=10.0)  # type: ignore[attr-defined]
    with site.uow() as uow:
        record = uow.documents.get(issued.record.id)
    assert record is not None and record.document is not None
    return record


def test_german_templates_give_the_german_messages_of_real_results(site: Site) -> None:
    ctx = site.ctx
    start = now() - timedelta(days=1)
    until = start + timedelta(days=30)
    seen: set[str] = set()

    record = _issue(site, DOG, example(site, DOG), valid_from=start, valid_until=until)
    doc = record.document
    assert doc is not None
    valid = services.verify(ctx, doc)
    assert valid.status is Status.VALID
    seen |= _assert_in_sync(valid)
    seen |= _assert_in_sync(services.verify(ctx, doc, start - timedelta(seconds=1)))  # not yet
    seen |= _assert_in_sync(services.verify(ctx, doc, until))  # expired
    forged = copy.deepcopy(doc)
    forged["credentialSubject"]["hund"]["chipnummer"] = "276000000000000"
    seen |= _assert_in_sync(services.verify(ctx, forged))
    seen |= _assert_in_sync(unverifiable(doc, "kein Ledger", now()))
    elsewhere = UseCaseRegistry(uc for uc in ctx.usecases if uc.id != DOG)
    seen |= _assert_in_sync(verify_document(doc, ledger=ctx.reader, usecases=elsewhere))
    with site.uow() as uow:  # the VC with its Data Integrity proof
        vc = credentials.credential_for(ctx, uow, record)
        uow.commit()
    seen |= _assert_in_sync(services.verify(ctx, vc))

    # links: valid (until a time, or not), withdrawn, expired, unknown
    with site.uow() as uow:
        open_link = services.create_link(ctx, uow, record.id, base_url="https://x.example")
        timed = services.create_link(ctx, uow, record.id, base_url="https://x.example",
                                     expires_at=now() + timedelta(hours=1))
        uow.commit()
    with site.uow() as uow:
        seen |= _assert_in_sync(links.verify_link(ctx, uow, open_link.token).result)
        seen |= _assert_in_sync(links.verify_link(ctx, uow, timed.token).result)
        seen |= _assert_in_sync(links.verify_link(
            ctx, uow, timed.token, now() + timedelta(hours=2)).result)
        seen |= _assert_in_sync(links.verify_link(ctx, uow, "A" * 43).result)
        links.withdraw_link(uow, open_link.id)
        uow.commit()
    with site.uow() as uow:
        withdrawn = links.verify_link(ctx, uow, open_link.token).result
    assert withdrawn.details["link"] == verification.LINK_WITHDRAWN
    seen |= _assert_in_sync(withdrawn)

    # revoked with a reason, suspended with another, valid until revoked
    revoked = _issue(site, DOG, example(site, DOG), valid_from=start, valid_until=None)
    assert revoked.document is not None
    seen |= _assert_in_sync(services.verify(ctx, revoked.document))
    services.change_status(ctx, revoked.document, "revoke", 1)
    seen |= _assert_in_sync(services.verify(ctx, revoked.document))
    suspended = _issue(site, DOG, example(site, DOG), valid_from=start, valid_until=until)
    assert suspended.document is not None
    services.change_status(ctx, suspended.document, "suspend", "Prüfung läuft")
    seen |= _assert_in_sync(services.verify(ctx, suspended.document))

    # a schedule: inside and outside its windows, and after its last window
    music = _issue(site, MUSIC, copy.deepcopy(ctx.usecases.get(MUSIC).examples[0]["subject"]),
                   valid_from=start, valid_until=start + timedelta(days=2))
    assert music.document is not None
    for hours in range(0, 48, 2):
        seen |= _assert_in_sync(services.verify(ctx, music.document, start + timedelta(hours=hours)))

    # a declaration a landlord submitted
    with site.uow() as uow:
        landlord = uow.users.by_username("vermieter")
    assert landlord is not None
    declaration = _issue(site, LANDLORD_USECASE, example(site, LANDLORD_USECASE),
                         valid_from=None, valid_until=None, municipality=AACHEN,
                         actor=services.Actor(user_id=landlord.id, username="vermieter",
                                              role="landlord", ags=None))
    assert declaration.document is not None
    seen |= _assert_in_sync(services.verify(ctx, declaration.document))

    # claims a municipality signed (an SD-JWT VC from a wallet), right and with another signer
    proof = parse_proof(doc)
    signed = SignedClaims(
        claims=doc["credentialSubject"], usecase_id=DOG, issuer_ags=AACHEN,
        signed_at=int(now().timestamp()), valid_from=None,
        valid_until=int(until.timestamp()), target_hash=proof.target_hash,
        merkle_root=proof.merkle_root, path=proof.path, chain_id=doc["issuer"]["chainId"],
        registry=doc["issuer"]["registry"])
    seen |= _assert_in_sync(verify_signed_claims(signed, ledger=ctx.reader, usecases=ctx.usecases))
    other = SignedClaims(**{**signed.__dict__, "issuer_ags": "05315000"})
    seen |= _assert_in_sync(verify_signed_claims(other, ledger=ctx.reader, usecases=ctx.usecases))

    assert {"integrity.passed", "integrity.changed", "integrity.unknown_usecase",
            "anchoring.anchored", "ledger.unreachable", "check.not_checked",
            "issuer.issued", "issuer.issued_signed", "issuer.received", "issuer.signed_issued",
            "issuer.signed_other_municipality", "status.passed", "status.revoked",
            "status.suspended", "validity.valid", "validity.valid_open", "validity.not_yet",
            "validity.expired", "validity.inside_windows", "validity.outside_windows",
            "link.valid", "link.valid_until", "link.withdrawn", "link.expired",
            "link.unknown"} <= seen


def test_a_result_stored_without_codes_shows_its_german_message() -> None:
    message = "Widerrufen am 01.05.2026, 12:00 Uhr (Grund: ohne Angabe)."
    stored: dict[str, Any] = {"status": "REVOKED", "checked_at": "2026-05-01T10:00:00+00:00",
              "checks": [{"name": "status", "status": "failed",
                          "message": message}]}
    result = VerificationResult.from_json(stored)
    (check,) = result.checks
    assert check.code is None and check.params == {}
    assert check_message(check, Translator("en")) == message
    unknown = Check("status", CheckStatus.FAILED, "Alt.", "status.from_a_newer_version", {})
    assert check_message(unknown, Translator("en")) == "Alt."
    unfit = Check("status", CheckStatus.FAILED, "Alt.", "status.revoked", {"at": 5, "reason": 1})
    assert check_message(unfit, Translator("en")) == "Alt."


def test_the_english_page_shows_english_check_messages(site: Site) -> None:
    record = _issue(site, DOG, example(site, DOG), valid_from=datetime.now(UTC) - timedelta(days=1),
                    valid_until=None)
    assert record.document is not None
    services.change_status(site.ctx, record.document, "revoke", 1)
    pages = {}
    for lang in ("de", "en"):
        browser = site.browser()
        browser.cookies.set("lang", lang)
        token = csrf_of(browser.get("/verify").text)
        page = browser.post("/verify", data={"csrf_token": token,
                                             "document_json": json.dumps(record.document)})
        assert page.status_code == 200
        pages[lang] = text_of(page.text)
    assert "Anchored on " in pages["en"] and "Revoked on " in pages["en"]
    assert "(reason: error in the document)" in pages["en"]
    assert "Verankert am" not in pages["en"] and "Widerrufen am" not in pages["en"]
    assert "Verankert am " in pages["de"] and "Widerrufen am " in pages["de"]
    assert "(Grund: Fehler im Dokument)" in pages["de"] and "Revoked on" not in pages["de"]
