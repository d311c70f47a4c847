"""Verification links and the municipality's document records, on a real chain and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.domain.pointers import iter_leaves
from govchain.domain.verification import CheckStatus, Status
from govchain.errors import InputError
from govchain.pipeline.batches import anchor_now

AACHEN = "05334002"
BASE = "https://govchain.example.nrw"


@pytest.fixture(scope="module")
def ctx(ledger_context: Context) -> Context:
    if not ledger_context.ledger.municipality(AACHEN).admitted:
        services.admit_municipality(ledger_context, AACHEN, "Stadt Aachen",
                                    ["gefaehrlicher-hund", "wohnungsgeberbestaetigung"])
    return ledger_context


def issue_dog(ctx: Context, engine: sa.Engine) -> dict:  # type: ignore[type-arg]
    example = ctx.usecases.get("gefaehrlicher-hund").examples[0]
    start = datetime.now(UTC) - timedelta(days=1)
    with UnitOfWork(engine) as uow:
        (pending,) = services.accept_documents(
            ctx, uow, AACHEN, "gefaehrlicher-hund",
            [services.IssueRequest(example["subject"], start, start + timedelta(days=365))])
        uow.commit()
    assert pending.account is not None
    assert anchor_now(ctx, engine, pending.account) == 1
    with UnitOfWork(engine) as uow:
        record = uow.documents.get(pending.id)
        assert record is not None and record.document is not None
        return record.document


def test_issued_document_is_kept_as_anchored_record(ctx: Context, engine: sa.Engine) -> None:
    doc = issue_dog(ctx, engine)
    with UnitOfWork(engine) as uow:
        record = uow.documents.get(doc["id"])
        assert record is not None and record.state == "anchored"
        assert record.document == doc and record.merkle_root == doc["proof"]["merkleRoot"]
        assert [e.action for e in uow.status_events.for_document(doc["id"])] == [
            "issued", "anchored"]


def test_link_verifies_hides_fields_and_can_be_withdrawn(ctx: Context, engine: sa.Engine) -> None:
    doc = issue_dog(ctx, engine)
    with UnitOfWork(engine) as uow:
        link = services.create_link(ctx, uow, doc["id"], base_url=BASE,
                                    hide=["/halter/geburtsdatum", "/halter/anschrift"])
        uow.commit()
    assert link.url == f"{BASE}/v/{link.token}" and len(link.token) >= 22
    with UnitOfWork(engine) as uow:
        checked = services.verify_link(ctx, uow, link.token)
    assert checked.result.status is Status.VALID
    assert checked.result.check("link").status is CheckStatus.PASSED
    assert checked.document is not None
    assert "geburtsdatum" not in checked.document["credentialSubject"]["halter"]
    with UnitOfWork(engine) as uow:
        services.withdraw_link(uow, link.id)
        uow.commit()
    with UnitOfWork(engine) as uow:
        checked = services.verify_link(ctx, uow, link.token)
    assert checked.result.status is Status.INVALID and checked.document is None
    assert "zurückgezogen" in checked.result.check("link").message


@pytest.mark.parametrize("hide", [["/hund/chipnummer"], ["/hund"], ["/auflagen/maulkorbpflicht"],
                                  ["/halter/geburtsdatum", "/kategorie"]])
def test_a_link_cannot_hide_what_the_use_case_never_hides(ctx: Context, engine: sa.Engine,
                                                          hide: list[str]) -> None:
    # issue 16, finding 2: gefaehrlicher-hund/usecase.json neverHidden
    doc = issue_dog(ctx, engine)
    with UnitOfWork(engine) as uow, pytest.raises(InputError, match="immer sichtbar"):
        services.create_link(ctx, uow, doc["id"], base_url=BASE, hide=hide)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM links")).scalar() == 0


def test_a_link_with_an_object_emptied_by_hiding_still_verifies(ctx: Context,
                                                                engine: sa.Engine) -> None:
    # hiding every member of an object leaves {} (links sealed before issue 16 hold such copies)
    doc = issue_dog(ctx, engine)
    members = [f"/halter/anschrift/{k}" for k in doc["credentialSubject"]["halter"]["anschrift"]]
    with UnitOfWork(engine) as uow:
        link = services.create_link(ctx, uow, doc["id"], base_url=BASE, hide=members)
        uow.commit()
    with UnitOfWork(engine) as uow:
        checked = services.verify_link(ctx, uow, link.token)
    assert checked.document is not None
    assert checked.document["credentialSubject"]["halter"]["anschrift"] == {}
    assert checked.result.status is Status.VALID


def test_expired_and_unknown_links_say_so(ctx: Context, engine: sa.Engine) -> None:
    doc = issue_dog(ctx, engine)
    expires = datetime.now(UTC) + timedelta(hours=1)
    with UnitOfWork(engine) as uow:
        link = services.create_link(ctx, uow, doc["id"], base_url=BASE, expires_at=expires)
        uow.commit()
    with UnitOfWork(engine) as uow:
        later = services.verify_link(ctx, uow, link.token, expires + timedelta(seconds=1))
        unknown = services.verify_link(ctx, uow, link.token[:-2] + "xx")
    assert later.result.status is Status.EXPIRED and "abgelaufen" in later.result.check(
        "link").message
    assert unknown.result.status is Status.INVALID and unknown.link_id is None


def test_link_storage_holds_no_personal_data_and_no_token(ctx: Context,
                                                          engine: sa.Engine) -> None:
    doc = issue_dog(ctx, engine)
    with UnitOfWork(engine) as uow:
        link = services.create_link(ctx, uow, doc["id"], base_url=BASE)
        uow.commit()
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM links")).fetchall()
    raw = b"".join(repr(tuple(r)).encode() + (r.ciphertext or b"") for r in rows)
    values = [str(v) for _, v in iter_leaves(doc["credentialSubject"])
              if isinstance(v, str) and len(v) >= 4]
    assert values
    for value in values:
        assert value.encode() not in raw, value
    assert link.token.encode() not in raw
