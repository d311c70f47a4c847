"""The service layer end to end on a real chain (embedded py-evm and anvil) with real contracts."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from govchain import services
from govchain.adapters.context import Context
from govchain.domain.disclosure import disclose
from govchain.domain.timefmt import parse_time
from govchain.domain.usecases import UseCaseRegistry
from govchain.domain.verification import (
    UNVERIFIABLE_UNKNOWN_USECASE,
    CheckStatus,
    Status,
    verify_document,
)
from govchain.errors import NotAuthorizedError, ValidationError

AACHEN = "05334002"
GELSENKIRCHEN = "05513000"
ALL = ["wohnungsgeberbestaetigung", "gefaehrlicher-hund", "strassenmusik"]


def example(ctx: Context, usecase_id: str, i: int = 0) -> services.IssueRequest:
    e = ctx.usecases.get(usecase_id).examples[i]
    start = datetime.now(UTC) - timedelta(days=1)
    return services.IssueRequest(subject=e["subject"], valid_from=start,
                                 valid_until=start + timedelta(days=30))


def inside_window_or_none(ctx: Context, doc: dict[str, Any]) -> datetime | None:
    from govchain.domain import schedule

    uc = ctx.usecases.get(doc["credentialStatus"]["usecase"])
    if uc.schedule_pointer is None:
        return None
    windows = schedule.windows_from_subject(doc["credentialSubject"], uc.schedule_pointer)
    start = parse_time(doc["validFrom"])
    result = schedule.evaluate(windows, start)
    return start if result.inside else result.next_start + timedelta(minutes=1)


@pytest.fixture(scope="module")
def ctx(ledger_context: Context) -> Context:
    if not ledger_context.ledger.municipality(AACHEN).admitted:
        services.admit_municipality(ledger_context, AACHEN, "Stadt Aachen", ALL)
        services.admit_municipality(ledger_context, GELSENKIRCHEN, "Stadt Gelsenkirchen",
                                    ["wohnungsgeberbestaetigung"])
    return ledger_context


@pytest.mark.parametrize("usecase_id", ALL)
def test_every_example_issues_in_one_batch_and_verifies_valid(ctx: Context,
                                                              usecase_id: str) -> None:
    uc = ctx.usecases.get(usecase_id)
    reqs = [example(ctx, usecase_id, i) for i in range(len(uc.examples))]
    docs = services.issue_documents(ctx, AACHEN, usecase_id, reqs)
    assert len(docs) == len(uc.examples) >= 2
    assert len({d["proof"]["merkleRoot"] for d in docs}) == 1
    assert len({d["proof"]["anchor"]["transactionHash"] for d in docs}) == 1
    for doc in docs:
        result = services.verify(ctx, doc, inside_window_or_none(ctx, doc))
        assert result.status is Status.VALID, result.checks
        assert [c.name for c in result.checks] == [
            "integrity", "anchoring", "issuer", "status", "validity"]
        assert all(c.status is CheckStatus.PASSED for c in result.checks)
        assert result.issuer == {"name": "Stadt Aachen", "ags": AACHEN,
                                 "account": doc["issuer"]["account"]}
        assert result.anchor_block == doc["proof"]["anchor"]["block"]


def test_tampered_document_is_invalid_and_hidden_fields_stay_valid(ctx: Context) -> None:
    (doc,) = services.issue_documents(ctx, AACHEN, "gefaehrlicher-hund",
                                      [example(ctx, "gefaehrlicher-hund")])
    forged = copy.deepcopy(doc)
    forged["credentialSubject"]["hund"]["chipnummer"] = "276000000000000"
    result = services.verify(ctx, forged)
    assert result.status is Status.INVALID
    assert result.check("integrity").status is CheckStatus.FAILED
    shown = disclose(doc, ["/halter/geburtsdatum"])
    assert services.verify(ctx, shown).status is Status.VALID
    forged = copy.deepcopy(doc)
    forged["validUntil"] = "2099-01-01T00:00:00+00:00"
    assert services.verify(ctx, forged).status is Status.INVALID


def test_a_genuine_document_of_a_type_unknown_here_is_unverifiable_not_invalid(
        ctx: Context) -> None:
    (doc,) = services.issue_documents(ctx, AACHEN, "gefaehrlicher-hund",
                                      [example(ctx, "gefaehrlicher-hund")])
    elsewhere = UseCaseRegistry(uc for uc in ctx.usecases if uc.id != "gefaehrlicher-hund")
    result = verify_document(doc, ledger=ctx.reader, usecases=elsewhere)
    assert result.status is Status.UNVERIFIABLE
    assert result.details["unverifiable"] == UNVERIFIABLE_UNKNOWN_USECASE
    integrity = result.check("integrity")
    assert integrity.status is CheckStatus.NOT_CHECKED
    assert "Dokumentart hier unbekannt: „gefaehrlicher-hund“" in integrity.message
    # a forgery stays a forgery, whether or not its type is known here
    forged = copy.deepcopy(doc)
    forged["credentialSubject"]["hund"]["chipnummer"] = "276000000000000"
    assert verify_document(forged, ledger=ctx.reader, usecases=elsewhere).status is \
        Status.INVALID
    # a type named nowhere is no different from one unknown here
    renamed = copy.deepcopy(doc)
    renamed["credentialStatus"]["usecase"] = "erfunden"
    assert verify_document(renamed, ledger=ctx.reader, usecases=ctx.usecases).status is \
        Status.INVALID  # the usecase name is hashed: renaming it is tampering


def test_every_answer_says_how_many_fields_are_hidden(ctx: Context) -> None:
    (doc,) = services.issue_documents(ctx, AACHEN, "gefaehrlicher-hund",
                                      [example(ctx, "gefaehrlicher-hund")])
    assert services.verify(ctx, doc).details["hiddenFields"] == 0
    shown = disclose(doc, ["/halter/geburtsdatum", "/halter/anschrift"])
    result = services.verify(ctx, shown)
    assert result.status is Status.VALID
    assert result.details["hiddenFields"] == len(shown["proof"]["hidden"]) >= 2


def test_suspend_reinstate_revoke_are_per_document(ctx: Context) -> None:
    a, b = services.issue_documents(ctx, AACHEN, "wohnungsgeberbestaetigung",
                                    [example(ctx, "wohnungsgeberbestaetigung", i) for i in (0, 1)])
    services.change_status(ctx, a, "suspend", "Prüfung läuft")
    result = services.verify(ctx, a)
    assert result.status is Status.SUSPENDED and result.status_reason == "Prüfung läuft"
    assert services.verify(ctx, b).status is Status.VALID
    services.change_status(ctx, a, "reinstate")
    assert services.verify(ctx, a).status is Status.VALID
    services.change_status(ctx, a, "revoke", 1)
    result = services.verify(ctx, a)
    assert result.status is Status.REVOKED and "Fehler im Dokument" in result.check("status").message
    assert services.verify(ctx, b).status is Status.VALID
    with pytest.raises(Exception, match="bereits widerrufen"):
        services.change_status(ctx, a, "revoke", 1)


def test_other_municipality_cannot_change_status(ctx: Context) -> None:
    (doc,) = services.issue_documents(ctx, AACHEN, "wohnungsgeberbestaetigung",
                                      [example(ctx, "wohnungsgeberbestaetigung")])
    other = services.issuer_signer(ctx, GELSENKIRCHEN).address
    with pytest.raises(NotAuthorizedError) as err:
        services.change_status(ctx, doc, "revoke", 1, account=other)
    assert err.value.error_name == "DocumentRegistryWrongMunicipality"
    forged_issuer = copy.deepcopy(doc)
    forged_issuer["issuer"]["ags"] = GELSENKIRCHEN
    with pytest.raises(NotAuthorizedError) as err:
        services.change_status(ctx, forged_issuer, "revoke", 1)
    assert err.value.error_name == "DocumentRegistryWrongMunicipality"
    assert services.verify(ctx, doc).status is Status.VALID


def test_municipality_cannot_issue_types_it_is_not_admitted_for(ctx: Context) -> None:
    with pytest.raises(NotAuthorizedError) as err:
        services.issue_documents(ctx, GELSENKIRCHEN, "gefaehrlicher-hund",
                                 [example(ctx, "gefaehrlicher-hund")])
    assert err.value.error_name == "IssuerRegistryDocTypeNotAllowed"


def test_invalid_subject_is_refused_before_anything_is_anchored(ctx: Context) -> None:
    good = example(ctx, "gefaehrlicher-hund")
    bad_subject = copy.deepcopy(dict(good.subject))
    bad_subject["hund"]["chipnummer"] = "12345"
    block = ctx.chain.w3.eth.block_number
    with pytest.raises(ValidationError) as err:
        services.issue_documents(ctx, AACHEN, "gefaehrlicher-hund",
                                 [good, services.IssueRequest(bad_subject)])
    assert any(path == "[1]/hund/chipnummer" for path, _ in err.value.errors)
    assert ctx.chain.w3.eth.block_number == block


def test_validity_window(ctx: Context) -> None:
    req = example(ctx, "wohnungsgeberbestaetigung")
    (doc,) = services.issue_documents(ctx, AACHEN, "wohnungsgeberbestaetigung", [req])
    assert req.valid_from and req.valid_until
    assert services.verify(ctx, doc, req.valid_from - timedelta(seconds=1)).status is \
        Status.NOT_YET_VALID
    assert services.verify(ctx, doc, req.valid_until).status is Status.EXPIRED


def test_key_rotation_retirement_and_compromise(ctx: Context) -> None:
    old = services.issuer_signer(ctx, GELSENKIRCHEN).address
    (early,) = services.issue_documents(ctx, GELSENKIRCHEN, "wohnungsgeberbestaetigung",
                                        [example(ctx, "wohnungsgeberbestaetigung")])
    assert early["issuer"]["account"] == old
    new = services.add_issuer_account(ctx, GELSENKIRCHEN)
    services.retire_account(ctx, old)
    # Retired: earlier documents stay valid, the old key can anchor nothing new.
    assert services.verify(ctx, early).status is Status.VALID
    with pytest.raises(NotAuthorizedError):
        services.issue_documents(ctx, GELSENKIRCHEN, "wohnungsgeberbestaetigung",
                                 [example(ctx, "wohnungsgeberbestaetigung")], account=old)
    (before,) = services.issue_documents(ctx, GELSENKIRCHEN, "wohnungsgeberbestaetigung",
                                         [example(ctx, "wohnungsgeberbestaetigung")])
    assert before["issuer"]["account"] == new
    since = parse_time(before["proof"]["anchor"]["anchoredAt"]) + timedelta(seconds=1)
    services.advance_chain_time(ctx, since)
    (after,) = services.issue_documents(ctx, GELSENKIRCHEN, "wohnungsgeberbestaetigung",
                                        [example(ctx, "wohnungsgeberbestaetigung")])
    services.mark_compromised(ctx, new, since)
    assert services.verify(ctx, before).status is Status.VALID
    result = services.verify(ctx, after)
    assert result.status is Status.INVALID
    assert "kompromittiert" in result.check("issuer").message
    # The municipality goes on with a third key and can still revoke the old documents.
    services.add_issuer_account(ctx, GELSENKIRCHEN)
    services.change_status(ctx, early, "revoke", 5)
    assert services.verify(ctx, early).status is Status.REVOKED


def test_suspended_municipality_issues_nothing_but_its_documents_stay_valid(ctx: Context) -> None:
    (doc,) = services.issue_documents(ctx, AACHEN, "wohnungsgeberbestaetigung",
                                      [example(ctx, "wohnungsgeberbestaetigung")])
    services.suspend_municipality(ctx, AACHEN)
    try:
        with pytest.raises(NotAuthorizedError):
            services.issue_documents(ctx, AACHEN, "wohnungsgeberbestaetigung",
                                     [example(ctx, "wohnungsgeberbestaetigung")])
        assert services.verify(ctx, doc).status is Status.VALID
    finally:
        services.reactivate_municipality(ctx, AACHEN)
    assert services.issue_documents(ctx, AACHEN, "wohnungsgeberbestaetigung",
                                    [example(ctx, "wohnungsgeberbestaetigung")])


def test_changed_registry_address_is_tampering(ctx: Context) -> None:
    (doc,) = services.issue_documents(ctx, AACHEN, "wohnungsgeberbestaetigung",
                                      [example(ctx, "wohnungsgeberbestaetigung")])
    other = copy.deepcopy(doc)
    other["issuer"]["registry"] = "0x" + "12" * 20
    assert services.verify(ctx, other).status is Status.INVALID
