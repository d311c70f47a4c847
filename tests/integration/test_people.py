"""Role rules of the service layer: clerks, landlords and the registrar (real chain and DB)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import DocumentRecord, UnitOfWork, make_engine, upgrade
from govchain.domain.documents import (
    AnchorRef,
    IssuerRef,
    finish_document,
    make_batch,
    new_document,
    salt_document,
)
from govchain.domain.timefmt import now, parse_time
from govchain.domain.verification import Status
from govchain.errors import PermissionDeniedError, RecordNotFoundError, ValidationError
from govchain.pipeline.batches import anchor_now

AACHEN, KOELN = "05334002", "05315000"


@pytest.fixture(scope="module")
def ctx(ledger_context: Context) -> Context:
    for ags, name in ((AACHEN, "Stadt Aachen"), (KOELN, "Stadt Köln")):
        if not ledger_context.ledger.municipality(ags).admitted:
            services.admit_municipality(ledger_context, ags, name,
                                        ["wohnungsgeberbestaetigung", "gefaehrlicher-hund"])
    return ledger_context


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    with UnitOfWork(engine) as uow:
        for name, role, ags in (("clerk-ac", "clerk", AACHEN), ("clerk-k", "clerk", KOELN),
                                ("landlord", "landlord", None), ("landlord2", "landlord", None),
                                ("land", "registrar", None)):
            uow.users.add(username=name, password_hash="x", role=role,  # type: ignore[arg-type]
                          display_name=name, municipality_ags=ags)
        uow.commit()
    yield engine
    engine.dispose()


def actor(engine: sa.Engine, name: str) -> services.Actor:
    with UnitOfWork(engine) as uow:
        user = uow.users.by_username(name)
        assert user is not None
        return services.Actor(user.id, user.username, user.role,  # type: ignore[arg-type]
                              user.municipality_ags)


def subject(ctx: Context, usecase: str) -> dict:  # type: ignore[type-arg]
    return dict(ctx.usecases.get(usecase).examples[0]["subject"])


def anchored(ctx: Context, engine: sa.Engine, record: DocumentRecord) -> int:
    """Anchors what the record's account has waiting, as the service's worker would."""
    assert record.account is not None
    return anchor_now(ctx, engine, record.account)


def test_landlord_confirmation_reaches_the_clerk_of_that_municipality_only(
        ctx: Context, engine: sa.Engine) -> None:
    landlord = actor(engine, "landlord")
    with UnitOfWork(engine) as uow:
        issued = services.issue_for(ctx, uow, landlord, "wohnungsgeberbestaetigung",
                                    subject(ctx, "wohnungsgeberbestaetigung"), municipality=AACHEN)
        uow.commit()
    code = issued.landlord_code
    assert code and issued.record.ags == AACHEN and issued.record.state == "pending"
    assert anchored(ctx, engine, issued.record) == 1
    with UnitOfWork(engine) as uow:
        document = services.get_document_for(uow, landlord, issued.record.id).document
    assert document and document["credentialSubject"]["zuordnungsmerkmal"] == code
    with UnitOfWork(engine) as uow:
        record, result = services.lookup_code(ctx, uow, actor(engine, "clerk-ac"),
                                              code.lower().replace("-", " "))
        assert record.id == issued.record.id and result.status is Status.VALID
        with pytest.raises(RecordNotFoundError):
            services.lookup_code(ctx, uow, actor(engine, "clerk-k"), code)
        with pytest.raises(PermissionDeniedError):
            services.lookup_code(ctx, uow, landlord, code)
        assert services.list_documents_for(uow, landlord).total == 1
        assert services.list_documents_for(uow, actor(engine, "landlord2")).total == 0
        with pytest.raises(RecordNotFoundError):
            services.get_document_for(uow, actor(engine, "landlord2"), issued.record.id)


@pytest.mark.parametrize("who, usecase, municipality", [
    ("landlord", "gefaehrlicher-hund", AACHEN),
    ("land", "wohnungsgeberbestaetigung", AACHEN),
    ("clerk-ac", "wohnungsgeberbestaetigung", KOELN),
])
def test_who_may_not_issue(ctx: Context, engine: sa.Engine, who: str, usecase: str,
                           municipality: str) -> None:
    with UnitOfWork(engine) as uow, pytest.raises(PermissionDeniedError):
        services.issue_for(ctx, uow, actor(engine, who), usecase, subject(ctx, usecase),
                           municipality=municipality)


def test_clerk_changes_status_only_in_own_municipality(ctx: Context, engine: sa.Engine) -> None:
    clerk = actor(engine, "clerk-ac")
    with UnitOfWork(engine) as uow:
        issued = services.issue_for(ctx, uow, clerk, "gefaehrlicher-hund",
                                    subject(ctx, "gefaehrlicher-hund"))
        uow.commit()
    assert anchored(ctx, engine, issued.record) == 1
    doc_id = issued.record.id
    with UnitOfWork(engine) as uow:
        for other in ("clerk-k", "landlord", "land"):
            with pytest.raises((PermissionDeniedError, RecordNotFoundError)):
                services.change_status_for(ctx, uow, actor(engine, other), doc_id, "revoke", 1)
        record = services.change_status_for(ctx, uow, clerk, doc_id, "suspend", 6)
        assert record.ledger_status == "suspended"
        record = services.change_status_for(ctx, uow, clerk, doc_id, "reinstate")
        assert record.ledger_status == "none"
        record = services.change_status_for(ctx, uow, clerk, doc_id, "revoke", 1)
        uow.commit()
        assert record.ledger_status == "revoked"
        assert record.document is not None
        assert services.verify(ctx, record.document).status is Status.REVOKED
        assert [e.action for e in uow.status_events.for_document(doc_id)] == [
            "issued", "anchored", "suspended", "reinstated", "revoked"]


def test_a_landlord_declares_and_the_office_receives_it_now_with_no_validity_to_choose(
        ctx: Context, engine: sa.Engine) -> None:
    landlord = actor(engine, "landlord")
    forged = subject(ctx, "wohnungsgeberbestaetigung")
    forged["wohnungsgeber"] = {**forged["wohnungsgeber"], "name": "Vonovia SE (gefälscht)"}
    with UnitOfWork(engine) as uow:
        before = services.list_documents_for(uow, landlord).total
        for chosen in ({"valid_from": parse_time("2020-01-01")},
                       {"valid_until": parse_time("2099-01-01")}):
            with pytest.raises(ValidationError) as refused:
                services.issue_for(ctx, uow, landlord, "wohnungsgeberbestaetigung", forged,
                                   municipality=AACHEN, **chosen)
            assert [path for path, _ in refused.value.errors] == [
                "/validFrom" if "valid_from" in chosen else "/validUntil"]
        assert services.list_documents_for(uow, landlord).total == before  # nothing stored
        accepted_from = now().replace(microsecond=0)
        issued = services.issue_for(ctx, uow, landlord, "wohnungsgeberbestaetigung", forged,
                                    municipality=AACHEN)
        uow.commit()
    anchored(ctx, engine, issued.record)
    with UnitOfWork(engine) as uow:
        document = services.get_document_for(uow, landlord, issued.record.id).document
    assert document is not None and "validUntil" not in document
    (evidence,) = document["evidence"]
    assert evidence == {"type": ["GovchainDeclaration2026"], "declaredBy": "/wohnungsgeber",
                        "submittedBy": {"role": "landlord", "account": "landlord"},
                        "receivedBy": {"name": "Stadt Aachen", "ags": AACHEN},
                        "receivedAt": document["validFrom"]}
    assert parse_time(document["validFrom"]) >= accepted_from  # not backdated
    result = services.verify(ctx, document)
    assert result.status is Status.VALID
    assert result.declaration is not None and result.declaration["declared_by"] == \
        "Vonovia SE (gefälscht)"
    assert result.declaration["submitted_by"] == {"role": "landlord", "account": "landlord"}
    assert result.to_json()["declaration"]["received_by"] == {"name": "Stadt Aachen",
                                                               "ags": AACHEN}
    issuer_check = result.check("issuer").message
    assert issuer_check.startswith("Eingegangen bei Stadt Aachen") and \
        "Erklärung des Wohnungsgebers, keine Aussage der Behörde" in issuer_check
    for change in ({"submittedBy": {"role": "clerk", "account": "clerk-ac"}},
                   {"receivedAt": "2020-01-01T00:00:00+00:00"}):
        changed = copy.deepcopy(document)
        changed["evidence"][0].update(change)
        assert services.verify(ctx, changed).status is Status.INVALID, change
    removed = copy.deepcopy(document)
    del removed["evidence"]
    assert services.verify(ctx, removed).status is Status.INVALID


def test_a_clerk_entering_a_confirmation_is_named_as_the_account_it_came_through(
        ctx: Context, engine: sa.Engine) -> None:
    with UnitOfWork(engine) as uow:
        issued = services.issue_for(ctx, uow, actor(engine, "clerk-ac"), "wohnungsgeberbestaetigung",
                                    subject(ctx, "wohnungsgeberbestaetigung"),
                                    valid_from=parse_time("2026-03-02"))
        uow.commit()
    anchored(ctx, engine, issued.record)
    with UnitOfWork(engine) as uow:
        document = services.get_document_for(uow, actor(engine, "clerk-ac"), issued.record.id).document
    assert document is not None
    (evidence,) = document["evidence"]
    assert evidence["submittedBy"] == {"role": "clerk", "account": "clerk-ac"}
    assert evidence["receivedAt"] != document["validFrom"]  # the office may date it
    result = services.verify(ctx, document)
    assert result.status is Status.VALID and result.declaration is not None
    assert result.declaration["submitted_by"] == {"role": "clerk", "account": "clerk-ac"}


def test_a_confirmation_issued_before_evidence_existed_still_verifies(ctx: Context) -> None:
    """As govchain issued them before: no `evidence` member; the hash and the answer hold."""
    usecase = ctx.usecases.get("wohnungsgeberbestaetigung")
    signer = services.issuer_signer(ctx, AACHEN)
    issuer = IssuerRef(name="Stadt Aachen", ags=AACHEN, account=signer.address,
                       chain_id=ctx.deployment.chain_id,
                       registry=ctx.deployment.document_registry)
    old = salt_document(new_document(
        credential_type=usecase.credential_type, usecase_id=usecase.id,
        subject=subject(ctx, usecase.id), issuer=issuer, valid_from=parse_time("2026-03-02"),
        valid_until=None))
    batch = make_batch([old])
    tx = ctx.ledger.anchor(signer, usecase.doc_type, [batch.root])
    document = finish_document(batch, 0, AnchorRef(ctx.deployment.chain_id,
                                                   ctx.deployment.document_registry,
                                                   tx.transaction_hash, tx.block, tx.timestamp))
    assert "evidence" not in document
    result = services.verify(ctx, document)
    assert result.status is Status.VALID
    assert result.declaration == {
        "title": {"de": "Erklärung des Wohnungsgebers", "en": "Declaration of the landlord"},
        "declared_by": "Hausverwaltung Rheinblick GmbH", "submitted_by": None,
        "received_by": {"name": "Stadt Aachen", "ags": AACHEN}, "received_at": None}
