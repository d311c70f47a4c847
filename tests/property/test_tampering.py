"""Property tests on real issued documents (embedded chain, real contracts): any change to anything
the proof covers gives INVALID, anything added that it does not cover gives INVALID too, hiding
any subset of the fields a holder may hide keeps VALID, and hiding time windows never makes a
street-music permit VALID outside them.

Every example of every use case is issued once per module, one batch per use case (so every
document has a Merkle path); Hypothesis then picks a document and a change.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govchain import services
from govchain.adapters.context import Context
from govchain.domain import schedule
from govchain.domain.disclosure import disclose
from govchain.domain.documents import ENVELOPE_KEYS, PROOF_KEYS
from govchain.domain.hashing import canonical_json
from govchain.domain.pointers import is_within, iter_leaves
from govchain.domain.timefmt import parse_time
from govchain.domain.verification import Status
from govchain.errors import InputError

AACHEN = "05334002"
PASSPHRASE = "test passphrase – not a secret"
EXAMPLES = 50  # per property; the module runs in well under a minute

SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


class Issued:
    """The issued documents and, for each, a time at which it is VALID."""

    def __init__(self, ctx: Context, docs: list[dict[str, Any]]) -> None:
        self.ctx = ctx
        self.docs = docs

    def valid_at(self, doc: dict[str, Any]) -> datetime:
        start = parse_time(doc["validFrom"]) + timedelta(minutes=1)
        uc = self.ctx.usecases.get(doc["credentialStatus"]["usecase"])
        if uc.schedule_pointer is None:
            return start
        windows = schedule.windows_from_subject(doc["credentialSubject"], uc.schedule_pointer)
        result = schedule.evaluate(windows, start)
        if result.inside:
            return start
        assert result.next_start is not None
        return result.next_start + timedelta(minutes=1)

    def status(self, doc: dict[str, Any], original: dict[str, Any]) -> Status:
        return services.verify(self.ctx, doc, self.valid_at(original)).status


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issued]:
    home: Path = tmp_path_factory.mktemp("property-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", PASSPHRASE)
    ctx = Context(home=home)
    try:
        services.init_home(ctx)
        usecases = [uc.id for uc in ctx.usecases.all()]
        services.admit_municipality(ctx, AACHEN, "Stadt Aachen", usecases)
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        docs: list[dict[str, Any]] = []
        for uc in ctx.usecases.all():
            requests = [services.IssueRequest(subject=e["subject"], valid_from=start,
                                              valid_until=start + timedelta(days=60))
                        for e in uc.examples]
            docs += services.issue_documents(ctx, AACHEN, uc.id, requests)
        result = Issued(ctx, docs)
        assert len(docs) >= 9
        for doc in docs:  # the baseline every property starts from
            assert result.status(doc, doc) is Status.VALID, doc["id"]
            assert doc["proof"]["path"], "every document shares its root with others"
        yield result
    finally:
        ctx.close()
        mp.undo()


# -- strategies -------------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6)
hex32 = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())


def differs(a: Any, b: Any) -> bool:
    """Different as JSON (Python's True == 1 and 1 == 1.0 are not the same JSON value)."""
    return canonical_json(a) != canonical_json(b)


def set_pointer(doc: dict[str, Any], pointer: str, value: Any) -> None:
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]
    node: Any = doc["credentialSubject"]
    for token in tokens[:-1]:
        node = node[int(token)] if isinstance(node, list) else node[token]
    last = tokens[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


@st.composite
def pick(draw: st.DrawFn, issued: Issued) -> tuple[dict[str, Any], dict[str, Any]]:
    """(original, a copy to change)."""
    original = draw(st.sampled_from(issued.docs))
    return original, copy.deepcopy(original)


# -- any change gives INVALID -----------------------------------------------------------------

@SETTINGS
@given(data=st.data())
def test_changed_field_value_is_invalid(issued: Issued, data: st.DataObject) -> None:
    original, doc = data.draw(pick(issued))
    leaves = list(iter_leaves(original["credentialSubject"]))
    pointer, old = data.draw(st.sampled_from(leaves))
    new = data.draw(json_values.filter(lambda v: differs(v, old)))
    set_pointer(doc, pointer, new)
    assert issued.status(doc, original) is Status.INVALID


@SETTINGS
@given(data=st.data())
def test_changed_salt_is_invalid(issued: Issued, data: st.DataObject) -> None:
    original, doc = data.draw(pick(issued))
    salts = doc["proof"]["salts"]
    pointer = data.draw(st.sampled_from(sorted(salts)))
    salts[pointer] = data.draw(st.one_of(
        st.binary(min_size=16, max_size=32).map(bytes.hex),
        st.text(max_size=40)).filter(lambda s: s != salts[pointer]))
    assert issued.status(doc, original) is Status.INVALID


@SETTINGS
@given(data=st.data())
def test_changed_merkle_path_is_invalid(issued: Issued, data: st.DataObject) -> None:
    original, doc = data.draw(pick(issued))
    path: list[str] = doc["proof"]["path"]
    how = data.draw(st.sampled_from(["replace", "drop", "add", "swap"]))
    if how == "replace":
        i = data.draw(st.integers(0, len(path) - 1))
        path[i] = data.draw(hex32.filter(lambda h: h != path[i]))
    elif how == "drop":
        del path[data.draw(st.integers(0, len(path) - 1))]
    elif how == "add":
        path.insert(data.draw(st.integers(0, len(path))), data.draw(hex32))
    else:
        # Sorted-pair hashing makes one swap of neighbours harmless at a single level; a real
        # change of order across levels is not.
        if len(path) < 2 or path[0] == path[-1]:
            path.append(data.draw(hex32))
        else:
            path[0], path[-1] = path[-1], path[0]
    assert issued.status(doc, original) is Status.INVALID


@SETTINGS
@given(data=st.data(), which=st.sampled_from(["merkleRoot", "targetHash"]))
def test_changed_root_or_target_hash_is_invalid(issued: Issued, data: st.DataObject,
                                                which: str) -> None:
    original, doc = data.draw(pick(issued))
    doc["proof"][which] = data.draw(hex32.filter(lambda h: h != original["proof"][which]))
    assert issued.status(doc, original) is Status.INVALID


def test_another_anchored_root_with_its_own_path_is_invalid(issued: Issued) -> None:
    # The strongest root change: the root and path of another real, anchored document.
    a, b = issued.docs[0], issued.docs[-1]
    assert a["proof"]["merkleRoot"] != b["proof"]["merkleRoot"]
    doc = copy.deepcopy(a)
    doc["proof"]["merkleRoot"], doc["proof"]["path"] = b["proof"]["merkleRoot"], b["proof"]["path"]
    assert issued.status(doc, a) is Status.INVALID


ENVELOPE_CHANGES = ["usecase", "type", "id", "issuer.name", "issuer.ags", "issuer.account",
                    "issuer.chainId", "issuer.registry", "issuer.id", "validFrom", "validUntil",
                    "status.chainId", "status.registry"]


@SETTINGS
@given(data=st.data(), what=st.sampled_from(ENVELOPE_CHANGES))
def test_changed_type_issuer_or_date_is_invalid(issued: Issued, data: st.DataObject,
                                                what: str) -> None:
    original, doc = data.draw(pick(issued))
    issuer = doc["issuer"]
    ids = [uc.id for uc in issued.ctx.usecases.all()]
    if what == "usecase":
        doc["credentialStatus"]["usecase"] = data.draw(st.sampled_from(
            [u for u in ids if u != original["credentialStatus"]["usecase"]]))
    elif what == "type":
        others = [issued.ctx.usecases.get(u).credential_type for u in ids]
        doc["type"][1] = data.draw(st.sampled_from([t for t in others if t != doc["type"][1]]))
    elif what == "id":
        doc["id"] = data.draw(st.uuids().map(lambda u: f"urn:uuid:{u}"))
    elif what == "issuer.name":
        issuer["name"] = data.draw(st.sampled_from(
            ["Stadt Gelsenkirchen", "Stadt Köln", "Stadt  Aachen", "stadt aachen", "Aachen"]))
    elif what == "issuer.ags":
        issuer["ags"] = data.draw(st.from_regex(r"\A[0-9]{8}\Z").filter(lambda a: a != AACHEN))
    elif what == "issuer.account":
        issuer["account"] = data.draw(st.binary(min_size=20, max_size=20).map(
            lambda b: "0x" + b.hex()).filter(lambda a: a.lower() != issuer["account"].lower()))
    elif what == "issuer.chainId":
        # (within JSON's integer range; beyond it see test_numbers_outside_json_range_...)
        issuer["chainId"] = data.draw(st.integers(0, 2**53 - 1).filter(
            lambda c: c != issuer["chainId"]))
    elif what == "issuer.registry":
        issuer["registry"] = data.draw(st.binary(min_size=20, max_size=20).map(
            lambda b: "0x" + b.hex()))
    elif what == "issuer.id":
        issuer["id"] = "urn:govchain:municipality:05513000"
    elif what in ("validFrom", "validUntil"):
        shift = data.draw(st.integers(-400, 400).filter(bool))
        unit = data.draw(st.sampled_from([timedelta(seconds=1), timedelta(days=1)]))
        doc[what] = (parse_time(doc[what]) + shift * unit).isoformat(timespec="seconds")
    elif what == "status.chainId":
        doc["credentialStatus"]["chainId"] += data.draw(st.integers(1, 1000))
    else:
        doc["credentialStatus"]["registry"] = data.draw(st.binary(min_size=20, max_size=20).map(
            lambda b: "0x" + b.hex()))
    assert issued.status(doc, original) is Status.INVALID


@SETTINGS
@given(data=st.data())
def test_added_or_removed_field_is_invalid(issued: Issued, data: st.DataObject) -> None:
    original, doc = data.draw(pick(issued))
    subject = doc["credentialSubject"]
    if data.draw(st.booleans()):
        key = data.draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in subject))
        subject[key] = data.draw(json_scalars)
        if data.draw(st.booleans()):  # with a salt of its own: still not in the anchored hash
            doc["proof"]["salts"][f"/{key.replace('~', '~0').replace('/', '~1')}"] = "ab" * 16
    else:
        del subject[data.draw(st.sampled_from(sorted(subject)))]
    assert issued.status(doc, original) is Status.INVALID


# -- anything the hash does not cover gives INVALID (issue 16, finding 3) -----------------------

@SETTINGS
@given(data=st.data(), member=st.one_of(
    st.sampled_from(["name", "description", "termsOfUse", "evidence", "credentialSchema",
                     "refreshService", "renderMethod", "proof2"]),
    st.text(min_size=1, max_size=12).filter(
        lambda k: k not in (*ENVELOPE_KEYS, "credentialSubject", "proof"))))
def test_added_top_level_member_is_invalid(issued: Issued, data: st.DataObject,
                                           member: str) -> None:
    original, doc = data.draw(pick(issued))
    doc[member] = data.draw(json_values.filter(
        lambda v: member not in original or differs(v, original[member])))
    assert issued.status(doc, original) is Status.INVALID


@SETTINGS
@given(data=st.data(), how=st.sampled_from(["add", "type", "canonicalization", "hash",
                                            "anchoredAt", "block", "anchor.chainId",
                                            "anchor.contract", "anchor.add"]))
def test_added_proof_member_changed_scheme_or_rewritten_anchor_is_invalid(
        issued: Issued, data: st.DataObject, how: str) -> None:
    original, doc = data.draw(pick(issued))
    proof, anchor = doc["proof"], doc["proof"]["anchor"]
    if how == "add":
        key = data.draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in PROOF_KEYS))
        proof[key] = data.draw(json_values)
    elif how in ("type", "canonicalization", "hash"):
        proof[how] = data.draw(json_values.filter(lambda v: differs(v, original["proof"][how])))
    elif how == "anchoredAt":  # what was shown as "Ausgestellt am"
        shift = data.draw(st.integers(-10**6, 10**6).filter(bool))
        anchor["anchoredAt"] = (parse_time(anchor["anchoredAt"]) + timedelta(seconds=shift)
                                ).isoformat()
    elif how == "block":
        anchor["block"] += data.draw(st.integers(-anchor["block"], 10**6).filter(bool))
    elif how == "anchor.chainId":
        anchor["chainId"] = data.draw(st.integers(0, 2**53 - 1).filter(
            lambda c: c != anchor["chainId"]))
    elif how == "anchor.contract":
        anchor["contract"] = data.draw(st.binary(min_size=20, max_size=20).map(
            lambda b: "0x" + b.hex()))
    else:
        anchor[data.draw(st.sampled_from(["issuer", "name", "note", "validated"]))] = \
            data.draw(json_values)
    assert issued.status(doc, original) is Status.INVALID


def _node(subject: Any, pointer: str) -> Any:
    for token in pointer[1:].split("/") if pointer else []:
        subject = subject[int(token)] if isinstance(subject, list) else subject[token]
    return subject


@SETTINGS
@given(data=st.data(), how=st.sampled_from(["empty at a new key", "empty for a hidden value",
                                            "null appended", "null for a list element"]))
def test_added_empty_container_or_null_in_the_subject_is_invalid(
        issued: Issued, data: st.DataObject, how: str) -> None:
    original = data.draw(st.sampled_from(issued.docs))
    leaves = [p for p, _ in iter_leaves(original["credentialSubject"])]
    # sometimes on a document with other fields hidden, so proof.hidden is not empty
    others = data.draw(st.sets(st.sampled_from(leaves), max_size=3))
    doc = disclose(original, sorted(others))
    subject = doc["credentialSubject"]
    prefixes = sorted({p[:i] for p in leaves for i in range(len(p) + 1)
                       if i == len(p) or p[i] == "/"})
    present = [p for p in prefixes if _exists(subject, p)]
    objects = [p for p in present if isinstance(_node(subject, p), dict)]
    lists = [p for p in present if isinstance(_node(subject, p), list)]
    if how == "empty at a new key":
        parent = _node(subject, data.draw(st.sampled_from(objects)))
        key = data.draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in parent))
        parent[key] = data.draw(st.sampled_from([{}, []]))
    elif how == "empty for a hidden value":  # a scalar hidden, then {} or [] put in its place
        scalars = [p for p, v in iter_leaves(subject) if not isinstance(v, (dict, list))
                   and not p.rsplit("/", 1)[1].isdigit()]
        pointer = data.draw(st.sampled_from(scalars))
        doc = disclose(doc, [pointer])
        parent_pointer, key = pointer.rsplit("/", 1)
        _node(doc["credentialSubject"], parent_pointer)[key] = data.draw(st.sampled_from([{}, []]))
    elif how == "null appended":  # more placeholders than hidden fields could explain
        if not lists:
            return
        for _ in range(len(doc["proof"]["hidden"]) + 1):
            _node(subject, data.draw(st.sampled_from(lists))).append(None)
    else:  # a scalar list element hidden, then {} put in its place
        elements = [p for p, v in iter_leaves(subject) if p.rsplit("/", 1)[1].isdigit()
                    and isinstance(v, str)]
        if not elements:
            return
        pointer = data.draw(st.sampled_from(elements))
        doc = disclose(doc, [pointer])
        parent_pointer, index = pointer.rsplit("/", 1)
        _node(doc["credentialSubject"], parent_pointer)[int(index)] = {}
    assert issued.status(doc, original) is Status.INVALID


def _exists(subject: Any, pointer: str) -> bool:
    try:
        _node(subject, pointer)
    except (KeyError, IndexError, TypeError):
        return False
    return True


# -- never hidden (issue 16, finding 2) ---------------------------------------------------------

def outside_windows(issued: Issued, doc: dict[str, Any]) -> datetime:
    """A time within validFrom..validUntil outside every time window, with one still to come."""
    uc = issued.ctx.usecases.get(doc["credentialStatus"]["usecase"])
    assert uc.schedule_pointer is not None
    windows = schedule.windows_from_subject(doc["credentialSubject"], uc.schedule_pointer)
    at = parse_time(doc["validFrom"]) + timedelta(minutes=1)
    while schedule.evaluate(windows, at).inside:
        at += timedelta(minutes=30)
    assert at < parse_time(doc["validUntil"]) - timedelta(days=8)
    return at


@SETTINGS
@given(data=st.data())
def test_hiding_any_fields_of_a_street_music_permit_never_makes_it_valid_outside_its_windows(
        issued: Issued, data: st.DataObject) -> None:
    # As another tool would hide them, without the use case's neverHidden.
    permits = [d for d in issued.docs if d["credentialStatus"]["usecase"] == "strassenmusik"]
    original = data.draw(st.sampled_from(permits))
    at = outside_windows(issued, original)
    assert services.verify(issued.ctx, original, at).status is not Status.VALID
    leaves = [p for p, _ in iter_leaves(original["credentialSubject"])]
    candidates = sorted({*leaves, *(p.rsplit("/", 1)[0] for p in leaves if p.count("/") > 1)})
    hide = data.draw(st.sets(st.sampled_from(candidates), min_size=1, max_size=6))
    # nothing inside something else chosen
    hide = {p for p in hide if not any(p != q and is_within(p, q) for q in hide)}
    shared = disclose(original, sorted(hide))
    assert services.verify(issued.ctx, shared, at).status is not Status.VALID
    if any(is_within(p, "/zeitfenster") for p in hide):
        with pytest.raises(InputError):  # and the service refuses to hide the windows at all
            services.disclose_document(issued.ctx.usecases, original, sorted(hide))


# -- hiding keeps VALID -----------------------------------------------------------------------

@SETTINGS
@given(data=st.data())
def test_hiding_any_subset_of_fields_stays_valid(issued: Issued, data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(issued.docs))
    kept = issued.ctx.usecases.get(original["credentialStatus"]["usecase"]).never_hidden
    leaves = [p for p, _ in iter_leaves(original["credentialSubject"])
              if not any(is_within(p, k) for k in kept)]
    tops = sorted({"/" + p.split("/")[1] for p in leaves}
                  - {"/" + k.split("/")[1] for k in kept})
    # Leaves and whole top-level objects, without hiding one inside another already hidden.
    chosen_tops = data.draw(st.sets(st.sampled_from(tops), max_size=len(tops) - 1)
                            if tops else st.just(set()))
    free_leaves = [p for p in leaves if "/" + p.split("/")[1] not in chosen_tops]
    chosen_leaves = data.draw(st.sets(st.sampled_from(free_leaves), max_size=len(free_leaves))
                              if free_leaves else st.just(set()))
    hide = sorted(chosen_tops) + sorted(chosen_leaves)
    shared = services.disclose_document(issued.ctx.usecases, original, hide)
    for pointer in chosen_leaves:
        assert pointer not in shared["proof"]["salts"]
    assert shared["proof"]["targetHash"] == original["proof"]["targetHash"]
    assert issued.status(shared, original) is Status.VALID
    # Dropping a hidden field's hash (pretending the field never existed) is caught.
    if shared["proof"]["hidden"]:
        forged = copy.deepcopy(shared)
        forged["proof"]["hidden"] = forged["proof"]["hidden"][1:]
        assert issued.status(forged, original) is Status.INVALID


@pytest.mark.parametrize("number", [2**53, -(2**70), float("inf")])
def test_numbers_outside_json_range_give_invalid_not_an_exception(issued: Issued,
                                                                 number: float) -> None:
    original = issued.docs[0]
    doc = copy.deepcopy(original)
    doc["issuer"]["chainId"] = number
    assert issued.status(doc, original) is Status.INVALID
