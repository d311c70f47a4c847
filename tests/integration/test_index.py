"""The status index answers exactly what the contract's verification view answers, after every kind of
change, on the embedded chain and on anvil; verification through it falls back when it lags."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.index import IndexedLedger, StatusIndex
from govchain.domain.hashing import from_hex32
from govchain.domain.ledger_view import OnChainVerification
from govchain.domain.verification import Status, verify_document

MUENSTER = "05515000"
BIELEFELD = "05711000"


@pytest.fixture(scope="module")
def ctx(ledger_context: Context) -> Context:
    for ags, name in ((MUENSTER, "Stadt Münster"), (BIELEFELD, "Stadt Bielefeld")):
        if not ledger_context.ledger.municipality(ags).admitted:
            services.admit_municipality(ledger_context, ags, name,
                                        ["gefaehrlicher-hund", "wohnungsgeberbestaetigung"])
    return ledger_context


def issue(ctx: Context, ags: str, n: int = 3) -> list[dict[str, Any]]:
    example = ctx.usecases.get("gefaehrlicher-hund").examples[0]
    start = datetime.now(UTC) - timedelta(days=1)
    return services.issue_documents(ctx, ags, "gefaehrlicher-hund", [
        services.IssueRequest(example["subject"], start, start + timedelta(days=30))] * n)


def keys(doc: dict[str, Any]) -> tuple[bytes, bytes]:
    return from_hex32(doc["proof"]["merkleRoot"]), from_hex32(doc["proof"]["targetHash"])


def same_answers(ctx: Context, index: StatusIndex, docs: list[dict[str, Any]]) -> int:
    index.sync()
    compared = 0
    for doc in docs:
        from_index = index.verification(*keys(doc))
        direct = ctx.ledger.verification(*keys(doc))
        assert from_index.ledger_block == direct.ledger_block == index.block
        assert from_index == direct
        compared += 1
    # a root never anchored
    ghost = (b"\x42" * 32, b"\x43" * 32)
    assert index.verification(*ghost) == replace(ctx.ledger.verification(*ghost),
                                                 ledger_block=index.block)
    return compared


def test_index_equals_the_contract_after_every_kind_of_change(ctx: Context) -> None:
    index = StatusIndex(ctx.ledger)
    first, second, third = issue(ctx, MUENSTER)
    others = issue(ctx, BIELEFELD, 2)
    docs = [first, second, third, *others]
    assert same_answers(ctx, index, docs) == 5

    services.change_status(ctx, first, "revoke", 1)
    services.change_status(ctx, second, "suspend", 6)
    assert same_answers(ctx, index, docs) == 5
    services.change_status(ctx, second, "reinstate")
    services.set_doc_types(ctx, MUENSTER, ["wohnungsgeberbestaetigung"])
    services.suspend_municipality(ctx, BIELEFELD)
    assert same_answers(ctx, index, docs) == 5

    old = first["issuer"]["account"]
    services.add_issuer_account(ctx, MUENSTER)
    services.mark_compromised(ctx, old, datetime.now(UTC) - timedelta(days=2))
    services.retire_account(ctx, old)
    services.reactivate_municipality(ctx, BIELEFELD)
    services.set_doc_types(ctx, MUENSTER, ["gefaehrlicher-hund", "wohnungsgeberbestaetigung"])
    assert same_answers(ctx, index, docs) == 5
    states = {index.verification(*keys(d)).status.name for d in docs}
    assert states == {"REVOKED", "NONE"}


def test_verification_uses_the_index_only_while_it_is_current(ctx: Context) -> None:
    indexed = IndexedLedger(ctx.ledger, head_ttl=0)
    indexed.index.sync()
    (doc,) = issue(ctx, MUENSTER, 1)
    # The index caught up before answering: it never answers VALID for what it has not seen.
    result = verify_document(doc, ledger=indexed, usecases=ctx.usecases)
    assert result.status is Status.VALID and indexed.answers["index"] == 1
    services.change_status(ctx, doc, "revoke", 1)
    assert verify_document(doc, ledger=indexed, usecases=ctx.usecases).status is Status.REVOKED
    assert indexed.answers == {"index": 2, "direct": 0}

    # Held back (as if its node connection lagged), it is too far behind: the contract answers.
    stale = IndexedLedger(ctx.ledger, head_ttl=0, max_lag=1)
    stale.index.sync(ctx.ledger.head() - 3)
    stale.index.sync = lambda to_block=None: stale.index.block  # type: ignore[method-assign]
    result = verify_document(doc, ledger=stale, usecases=ctx.usecases)
    assert result.status is Status.REVOKED and stale.answers == {"index": 0, "direct": 1}


def test_the_answer_names_the_block_it_rests_on(ctx: Context) -> None:
    indexed = IndexedLedger(ctx.ledger, head_ttl=0)
    (doc,) = issue(ctx, MUENSTER, 1)
    answer: OnChainVerification = indexed.verification(*keys(doc))
    assert answer.ledger_block == ctx.ledger.head() == indexed.index.block
    assert answer.anchor_block <= answer.ledger_block
