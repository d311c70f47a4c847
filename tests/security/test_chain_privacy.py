"""Nothing personal on the ledger: after every example of every use case is issued, and some are
suspended, reinstated and revoked, no subject value appears anywhere in the chain's data — not in a
transaction's input, not in a log, not in the storage of either contract (the embedded chain's
whole key-value database is searched, which holds every state trie node, block and receipt).
Salted hashes: the salts are 128-bit CSPRNG values, and guessing a low-entropy document from a
small candidate set does not reproduce its anchored hash without the salts.

(The database side — links sealed, no subject value outside the municipality's own records — is
tests/integration/test_privacy.py.)
"""

from __future__ import annotations

import ast
import inspect
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hexbytes import HexBytes

from govchain import services
from govchain.adapters.context import Context
from govchain.domain import documents
from govchain.domain.documents import field_hash, target_hash_of
from govchain.domain.hashing import canonical_json, from_hex32, keccak, to_hex
from govchain.domain.pointers import iter_leaves

AACHEN = "05334002"
PASSPHRASE = "test passphrase – not a secret"
PUBLIC_ON_CHAIN = "Stadt Aachen"


@pytest.fixture(scope="module")
def chain_after_everything(tmp_path_factory: pytest.TempPathFactory
                           ) -> Iterator[tuple[Context, list[dict[str, Any]]]]:
    home: Path = tmp_path_factory.mktemp("chain-privacy-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", PASSPHRASE)
    ctx = Context(home=home)
    try:
        services.init_home(ctx)
        services.admit_municipality(ctx, AACHEN, "Stadt Aachen",
                                    [uc.id for uc in ctx.usecases.all()])
        docs: list[dict[str, Any]] = []
        for uc in ctx.usecases.all():
            docs += services.issue_documents(ctx, AACHEN, uc.id, [
                services.IssueRequest(subject=e["subject"]) for e in uc.examples])
        services.change_status(ctx, docs[0], "suspend", 6)
        services.change_status(ctx, docs[0], "reinstate")
        services.change_status(ctx, docs[1], "revoke", 4)
        services.change_status(ctx, docs[-1], "revoke", 1)
        yield ctx, docs
    finally:
        ctx.close()
        mp.undo()


def _text_forms(value: Any) -> set[str]:
    """How a subject value could appear: as text, and numbers in text form too."""
    if isinstance(value, bool) or value is None:
        return set()
    return {str(value)}


def subject_values(docs: list[dict[str, Any]]) -> set[str]:
    values: set[str] = set()
    for doc in docs:
        for _, v in iter_leaves(doc["credentialSubject"]):
            values |= {t for t in _text_forms(v) if len(t) >= 5}
            if isinstance(v, str):  # also each word of a longer value (a surname on its own)
                values |= {w for w in v.replace(",", " ").split() if len(w) >= 6}
    return values


def chain_blobs(ctx: Context) -> dict[str, bytes]:
    """Every transaction input, every log (topics and data) and every storage slot's bytes."""
    w3 = ctx.chain.w3
    inputs, logs = bytearray(), bytearray()
    for number in range(int(w3.eth.block_number) + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            assert not isinstance(tx, bytes)
            inputs += bytes(HexBytes(tx.get("input", tx.get("data", b"")))) + b"\x00"
            receipt = w3.eth.get_transaction_receipt(tx["hash"])
            for log in receipt["logs"]:
                logs += b"".join(bytes(t) for t in log["topics"]) + bytes(log["data"]) + b"\x00"
    # The embedded chain's key-value store holds every node of every trie: the contracts'
    # storage (and accounts, blocks, receipts) in the exact bytes the EVM keeps.
    backend = ctx.chain._backend  # type: ignore[attr-defined]
    kv = backend.chain.chaindb.db
    while not hasattr(kv, "kv_store") and hasattr(kv, "wrapped_db"):
        kv = kv.wrapped_db
    store = bytearray()
    for key, value in getattr(kv, "kv_store", {}).items():
        store += bytes(key) + b"\x00" + bytes(value) + b"\x00"
    assert len(store) > 10_000, "the state database was not found"
    return {"transaction input": bytes(inputs), "logs": bytes(logs), "state database": bytes(store)}


def test_no_subject_value_anywhere_on_chain(
        chain_after_everything: tuple[Context, list[dict[str, Any]]]) -> None:
    ctx, docs = chain_after_everything
    # The municipality's name is on the ledger by design (the registry is public); a subject
    # value that is just that name (a town in an address) is not personal data leaking.
    values = {v for v in subject_values(docs) if v not in PUBLIC_ON_CHAIN}
    assert len(values) > 40
    blobs = chain_blobs(ctx)
    # The scan finds what is there: roots, the municipality's name (public by design).
    root = bytes(from_hex32(docs[0]["proof"]["merkleRoot"]))
    assert contains(blobs["transaction input"], root) and contains(blobs["logs"], root)
    assert b"Stadt Aachen" in blobs["state database"]
    assert len(blobs["transaction input"]) > 2000
    for where, blob in blobs.items():
        for encoding in ("utf-8", "utf-16-le", "latin-1"):
            leaked = sorted(v for v in values
                            if _encodable(v, encoding) and v.encode(encoding) in blob)
            assert not leaked, f"{where} ({encoding}) enthält {leaked[:3]}"
    # Not even a targetHash (the document's fingerprint) is stored: only roots, and leaves of
    # documents whose status changed.
    assert not contains(blobs["state database"], from_hex32(docs[2]["proof"]["targetHash"]))


def contains(blob: bytes, part: bytes) -> bool:
    return blob.find(part) >= 0


def _encodable(value: str, encoding: str) -> bool:
    try:
        value.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


# -- salts ------------------------------------------------------------------------------------

def test_salts_are_128_bit_fresh_and_from_the_csprng(
        chain_after_everything: tuple[Context, list[dict[str, Any]]]) -> None:
    _, docs = chain_after_everything
    salts = [s for d in docs for s in d["proof"]["salts"].values()]
    assert len(salts) > 100
    assert all(len(s) == 32 and int(s, 16) >= 0 for s in salts)  # 16 bytes = 128 bits, hex
    assert len(set(salts)) == len(salts)
    assert documents.SALT_BYTES * 8 >= 128
    # They come from `secrets` (the OS CSPRNG): salt_document draws SALT_BYTES per field with
    # secrets.token_hex (one draw per document, cut into the fields' salts).
    tree = ast.parse(inspect.getsource(documents))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Attribute) and n.func.attr == "token_hex"
             and isinstance(n.func.value, ast.Name) and n.func.value.id == "secrets"
             and any(isinstance(a, ast.Name) and a.id == "SALT_BYTES"
                     for arg in n.args for a in ast.walk(arg))]
    assert calls, "salts must come from secrets.token_hex(SALT_BYTES × fields)"
    assert "random" not in {a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
                            for a in n.names}


def test_guessing_a_low_entropy_document_does_not_reproduce_its_hash(
        chain_after_everything: tuple[Context, list[dict[str, Any]]]) -> None:
    """An attacker who knows the document type, the envelope and every field but the holder's
    name and date of birth, with a small candidate list that contains the true values, tries
    every combination: without the salts no candidate reproduces the anchored targetHash (nor
    the leaf on chain). The same search against an unsalted hash finds the truth at once."""
    ctx, docs = chain_after_everything
    doc = next(d for d in docs if d["credentialStatus"]["usecase"] == "gefaehrlicher-hund")
    subject = doc["credentialSubject"]
    true_name, true_birth = subject["halter"]["name"], subject["halter"]["geburtsdatum"]
    names = [true_name, "Anna Schmitz", "Peter Müller", "Maria Weber", "Thomas Wagner"]
    births = [true_birth, "1980-01-01", "1975-06-15", "1990-12-24", "1968-03-03"]
    target = from_hex32(doc["proof"]["targetHash"])
    envelope = documents.envelope_of(doc)
    leaves = list(iter_leaves(subject))
    salts = doc["proof"]["salts"]

    def candidate_hash(name: str, birth: str, salt_of: Any) -> bytes:
        hashes = []
        for pointer, value in leaves:
            value = {"/halter/name": name, "/halter/geburtsdatum": birth}.get(pointer, value)
            hashes.append(field_hash(pointer, salt_of(pointer), value))
        return target_hash_of(envelope, hashes)

    # Control: with the real salts, the true values are found (the search itself works).
    found = [(n, b) for n, b in itertools.product(names, births)
             if candidate_hash(n, b, salts.__getitem__) == target]
    assert found == [(true_name, true_birth)]
    # Without them: no guessed salt (empty, zeros, fresh random ones) gets anywhere.
    guesses = [lambda p: "", lambda p: "0" * 32, lambda p: keccak(p.encode()).hex()[:32]]
    for salt_of in guesses:
        assert all(candidate_hash(n, b, salt_of) != target
                   for n, b in itertools.product(names, births))
    # What salting prevents: the same search against an unsalted fingerprint succeeds.
    unsalted = keccak(canonical_json({"envelope": envelope, "subject": subject}))
    hits = [(n, b) for n, b in itertools.product(names, births)
            if keccak(canonical_json({"envelope": envelope, "subject": {
                **subject, "halter": {**subject["halter"], "name": n, "geburtsdatum": b}}}))
            == unsalted]
    assert hits == [(true_name, true_birth)]
    # And the chain holds only the leaf of a changed document, never anything to test against.
    leaf = ctx.ledger.document_registry.functions.leafOf(target).call()
    assert to_hex(leaf) != doc["proof"]["targetHash"]

