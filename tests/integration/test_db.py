"""The service's database on SQLite and PostgreSQL: migrations, repositories, unit of work.

PostgreSQL runs at GOVCHAIN_TEST_POSTGRES_URL (default: the local server, database ``test``), each
engine in a schema of its own that is dropped afterwards, so runs repeat. Without a reachable
server the PostgreSQL cases are skipped locally; under CI (CI set) they fail instead.
"""

from __future__ import annotations

import json
import multiprocessing
import secrets
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from govchain.adapters.db import (
    DocumentRecord,
    UnitOfWork,
    check_schema,
    current_revision,
    default_database_url,
    head_revision,
    make_engine,
    upgrade,
)
from govchain.adapters.db.models import Base
from govchain.adapters.db.repositories import ANCHORED_CHANNEL, COPY_FROM, PENDING_CHANNEL
from govchain.domain import security
from govchain.domain.documents import (
    AnchorRef,
    IssuerRef,
    SaltedDocument,
    finish_document,
    make_batch,
    new_document,
    salt_document,
)
from govchain.domain.hashing import to_hex
from govchain.domain.merkle import MerkleTree
from govchain.errors import (
    ConfigurationError,
    ConflictError,
    InputError,
    RecordNotFoundError,
    SchemaError,
    StorageError,
)
from govchain.pipeline.batches import batch_members
from govchain.pipeline.listener import Listener
from support.databases import fresh_database

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


# -- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from fresh_database(request.param, tmp_path)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database shared by the module's tests; each test uses its own municipality,
    usernames and ids, so tests do not see each other's rows."""
    for e in fresh_database(request.param, tmp_path_factory.mktemp("db")):
        upgrade(e)
        yield e


def new_ags() -> str:
    return f"{secrets.randbelow(10**8):08d}"


def new_username(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def salted(ags: str, usecase: str = "gefaehrlicher-hund",
           subject: dict[str, Any] | None = None) -> SaltedDocument:
    issuer = IssuerRef(name="Stadt Aachen", ags=ags, account="0x" + "11" * 20, chain_id=1337,
                       registry="0x" + "22" * 20)
    doc = new_document(
        credential_type="GefaehrlicherHundErlaubnis", usecase_id=usecase,
        subject=subject or {"halter": {"name": "Erika Mustermann"}, "hund": {"chip": "2760981"}},
        issuer=issuer, valid_from=T0, valid_until=T0 + timedelta(days=365),
    )
    return salt_document(doc)


ANCHOR = AnchorRef(chain_id=1337, contract="0x" + "33" * 20, transaction_hash="0x" + "ab" * 32,
                   block=42, timestamp=int(T0.timestamp()))


def add_user(engine: Engine, ags: str = "05334002") -> int:
    with UnitOfWork(engine) as uow:
        user = uow.users.add(username=new_username(), password_hash="$argon2id$x", role="clerk",
                             display_name="Sachbearbeiterin", municipality_ags=ags)
        uow.commit()
    return user.id


# -- engine and migrations --------------------------------------------------------------------

def test_make_engine_uses_psycopg_for_postgresql() -> None:
    for url in ("postgresql://u@localhost/db", "postgres://u@localhost/db"):
        engine = make_engine(url)
        assert engine.dialect.driver == "psycopg"
        engine.dispose()


@pytest.mark.parametrize("url", ["mysql://root@localhost/x", "not a url"])
def test_make_engine_refuses_other_databases(url: str) -> None:
    with pytest.raises(ConfigurationError):
        make_engine(url)


def test_default_sqlite_file_lives_in_home_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(default_database_url(tmp_path / "home"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    assert (tmp_path / "home" / "govchain.sqlite3").exists()
    engine.dispose()


def test_database_files_of_an_older_home_become_the_owners_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    engine = make_engine(default_database_url(home))
    upgrade(engine)
    engine.dispose()
    files = [home / f"govchain.sqlite3{suffix}" for suffix in ("", "-wal", "-shm")]
    for f in files:  # as an earlier govchain left them
        f.touch()
        f.chmod(0o644)
    engine = make_engine(default_database_url(home))
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM users").scalar()
        assert [oct(f.stat().st_mode & 0o777) for f in files] == ["0o600"] * 3
    engine.dispose()


def test_unreachable_database_is_a_storage_error() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StorageError):
        check_schema(engine)
    engine.dispose()


def test_upgrade_from_empty_brings_schema_to_head(fresh_engine: Engine) -> None:
    with pytest.raises(SchemaError, match="nicht eingerichtet"):
        check_schema(fresh_engine)
    assert current_revision(fresh_engine) is None
    upgrade(fresh_engine)
    assert current_revision(fresh_engine) == head_revision() == "0010"
    check_schema(fresh_engine)
    upgrade(fresh_engine)  # a second start changes nothing
    check_schema(fresh_engine)
    with fresh_engine.connect() as conn:
        # The migrations and the models describe the same schema.
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def _start_service(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def test_processes_starting_at_once_migrate_once(fresh_engine: Engine) -> None:
    url = fresh_engine.url.render_as_string(hide_password=False)
    fork = multiprocessing.get_context("fork")
    processes = [fork.Process(target=_start_service, args=(url,)) for _ in range(3)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=60)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    check_schema(fresh_engine)


def test_check_schema_refuses_a_database_from_a_newer_version(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    with pytest.raises(SchemaError, match="0099_from_the_future"):
        check_schema(fresh_engine)
    with pytest.raises(SchemaError, match="neueren Version"):
        upgrade(fresh_engine)

def store_pending(uow: UnitOfWork, document: SaltedDocument, *, created_by: int | None = None,
                  landlord_code: str | None = None, at: datetime | None = None) -> DocumentRecord:
    """One document stored pending, the way the service stores many."""
    (record,) = uow.documents.add_pending_many([(document, landlord_code)],
                                               created_by=created_by, at=at)
    return record



# -- unit of work -----------------------------------------------------------------------------

def test_unit_of_work_commits(engine: Engine) -> None:
    name = new_username()
    with UnitOfWork(engine) as uow:
        uow.users.add(username=name, password_hash="h", role="registrar", display_name="R")
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert uow.users.by_username(name) is not None


def test_unit_of_work_rolls_back_on_exception(engine: Engine) -> None:
    ags = new_ags()
    name = new_username()
    with pytest.raises(RuntimeError, match="boom"), UnitOfWork(engine) as uow:
        user = uow.users.add(username=name, password_hash="h", role="clerk",
                             display_name="C", municipality_ags=ags)
        store_pending(uow, salted(ags), created_by=user.id)
        uow.audit.append(actor=str(user.id), actor_kind="user", action="document.issue")
        raise RuntimeError("boom")
    with UnitOfWork(engine) as uow:
        assert uow.users.by_username(name) is None
        assert uow.documents.list(ags=ags).total == 0


def test_unit_of_work_without_commit_writes_nothing(engine: Engine) -> None:
    name = new_username()
    with UnitOfWork(engine) as uow:
        uow.users.add(username=name, password_hash="h", role="landlord", display_name="L")
    with UnitOfWork(engine) as uow:
        assert uow.users.by_username(name) is None


def test_conflict_spoils_the_whole_unit_of_work(engine: Engine) -> None:
    taken = new_username()
    with UnitOfWork(engine) as uow:
        uow.users.add(username=taken, password_hash="h", role="landlord", display_name="L")
        uow.commit()
    other = new_username()
    with pytest.raises(ConflictError, match="Benutzername"), UnitOfWork(engine) as uow:
        uow.users.add(username=other, password_hash="h", role="landlord", display_name="L")
        uow.users.add(username=taken.upper(), password_hash="h", role="landlord",
                      display_name="L")
    with UnitOfWork(engine) as uow:
        assert uow.users.by_username(other) is None


def test_database_errors_leave_as_storage_errors(engine: Engine) -> None:
    with pytest.raises(StorageError), UnitOfWork(engine) as uow:
        uow._open_session().execute(sa.text("SELECT * FROM no_such_table"))


def test_times_come_back_aware_in_utc(engine: Engine) -> None:
    berlin = datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    with UnitOfWork(engine) as uow:
        entry = uow.audit.append(actor="anonymous", actor_kind="anonymous", action="t", at=berlin)
        uow.commit()
    with UnitOfWork(engine) as uow:
        (found,) = uow.audit.list(action="t", since=berlin, until=berlin + timedelta(seconds=1)
                                  ).items
    assert found.id == entry.id
    assert found.at == berlin and found.at.tzinfo == UTC and found.at.hour == 10
    with pytest.raises(StorageError), UnitOfWork(engine) as uow:
        uow.audit.append(actor="a", actor_kind="anonymous", action="t", at=datetime(2026, 1, 1))


# -- users and API keys -----------------------------------------------------------------------

def test_users(engine: Engine) -> None:
    ags = new_ags()
    name = new_username("Clerk")
    with UnitOfWork(engine) as uow:
        clerk = uow.users.add(username=f"  {name} ", password_hash="h1", role="clerk",
                              display_name="Frau Schmidt", municipality_ags=ags, at=T0)
        landlord = uow.users.add(username=new_username(), password_hash="h2", role="landlord",
                                 display_name="Vermieter GmbH")
        uow.commit()
    assert clerk.username == name.lower() and clerk.created_at == T0 and clerk.active
    with UnitOfWork(engine) as uow:
        assert uow.users.by_username(name.upper()) == clerk
        assert uow.users.by_id(landlord.id) == landlord
        assert uow.users.by_id(10**9) is None
        assert uow.users.list(municipality_ags=ags) == [clerk]
        assert landlord in uow.users.list(role="landlord")
        disabled = uow.users.disable(clerk.id, at=T0 + timedelta(days=1))
        assert uow.users.disable(clerk.id).disabled_at == disabled.disabled_at  # the first time
        assert uow.users.set_password_hash(clerk.id, "h3").password_hash == "h3"
        with pytest.raises(RecordNotFoundError):
            uow.users.disable(10**9)
        uow.commit()
    with UnitOfWork(engine) as uow:
        stored = uow.users.by_id(clerk.id)
        assert stored is not None and not stored.active and stored.password_hash == "h3"
        assert uow.users.list(municipality_ags=ags, include_disabled=False) == []


@pytest.mark.parametrize(("role", "ags"), [("clerk", None), ("clerk", "0533400"),
                                           ("registrar", "05334002"), ("mayor", None)])
def test_user_role_and_municipality_must_fit(engine: Engine, role: str, ags: str | None) -> None:
    with UnitOfWork(engine) as uow, pytest.raises(InputError):
        uow.users.add(username=new_username(), password_hash="h", role=role,  # type: ignore[arg-type]
                      display_name="X", municipality_ags=ags)


def test_database_checks_role_and_municipality_too(engine: Engine) -> None:
    with pytest.raises(ConflictError), UnitOfWork(engine) as uow:
        uow._open_session().execute(sa.text(
            "INSERT INTO users (username, password_hash, role, municipality_ags, display_name,"
            " created_at) VALUES (:u, 'h', 'landlord', '05334002', 'x', :at)"),
            {"u": new_username(), "at": T0})


def test_api_keys(engine: Engine) -> None:
    key, key_hash = security.new_api_key()
    with UnitOfWork(engine) as uow:
        record = uow.api_keys.add(name="Polizeipräsidium Aachen",
                                  prefix=security.api_key_prefix(key), key_hash=key_hash, at=T0)
        uow.commit()
    with UnitOfWork(engine) as uow:
        found = uow.api_keys.by_hash(security.api_key_hash(key))
        assert found == record and found.active and found.last_used_at is None
        assert uow.api_keys.by_hash(security.new_api_key()[1]) is None
        uow.api_keys.touch(record.id, at=T0 + timedelta(hours=1))
        uow.api_keys.touch(record.id, at=T0 + timedelta(hours=1, seconds=10))  # within a minute
        assert uow.api_keys.by_id(record.id).last_used_at == T0 + timedelta(hours=1)  # type: ignore[union-attr]
        revoked = uow.api_keys.revoke(record.id, at=T0 + timedelta(days=2))
        assert not revoked.active
        assert record.id in [k.id for k in uow.api_keys.list()]
        uow.commit()
    with pytest.raises(ConflictError), UnitOfWork(engine) as uow:
        uow.api_keys.add(name="Kopie", prefix="gck_", key_hash=key_hash)


# -- documents --------------------------------------------------------------------------------

def test_pending_document_round_trip_and_anchoring(engine: Engine) -> None:
    ags = new_ags()
    user_id = add_user(engine, ags=ags)
    s, other = salted(ags), salted(ags)
    with UnitOfWork(engine) as uow:
        pending = store_pending(uow, s, created_by=user_id, at=T0)
        store_pending(uow, other, at=T0)
        uow.status_events.add(pending.id, "issued", actor=user_id, at=T0)
        uow.commit()
    assert (pending.state, pending.ledger_status, pending.ags) == ("pending", "none", ags)
    assert pending.usecase == "gefaehrlicher-hund" and pending.document is None
    assert pending.valid_from == T0 and pending.valid_until == T0 + timedelta(days=365)
    with UnitOfWork(engine) as uow:
        stored = uow.documents.get(pending.id)
    assert stored is not None and stored.salted == s  # the worker can finish it from this
    assert stored.target_hash == to_hex(s.target_hash)

    ordered = sorted([s, other], key=lambda d: d.target_hash)
    members = [d.target_hash for d in ordered]
    tree = MerkleTree(members)
    tx_hash = BATCH_ANCHOR.transaction_hash
    with UnitOfWork(engine) as uow:
        batch = uow.batches.add(account="0x" + "11" * 20, usecase="gefaehrlicher-hund",
                                merkle_root=tree.root, size=2, members=members)
        assert uow.documents.mark_batch_anchored(
            batch.id, members, merkle_root=tree.root, tx_hash=tx_hash.upper().replace("0X", "0x"),
            block=BATCH_ANCHOR.block, at=T0) == 2
        uow.batches.mark_anchored(batch.id, tx_hash=tx_hash, block=BATCH_ANCHOR.block, at=T0,
                                  tree=tree.to_bytes())
        uow.status_events.add(pending.id, "anchored", tx_hash=tx_hash, at=T0)
        uow.commit()
    with UnitOfWork(engine) as uow:
        anchored = uow.documents.get(pending.id)
        assert anchored is not None and anchored.state == "anchored"
        assert anchored.document == finish_document(make_batch(ordered), ordered.index(s),
                                                    BATCH_ANCHOR)
        assert anchored.merkle_root == to_hex(tree.root) and anchored.anchor_tx == tx_hash
        assert [e.action for e in uow.status_events.for_document(pending.id)] == \
            ["issued", "anchored"]
        # only documents still waiting are marked: anchoring twice changes nothing
        assert uow.documents.mark_batch_anchored(batch.id, members, merkle_root=tree.root,
                                                 tx_hash=tx_hash, block=1, at=T0) == 0
        assert uow.documents.set_ledger_status(pending.id, "suspended").ledger_status == \
            "suspended"
        uow.commit()


def test_document_ids_and_landlord_codes_are_unique(engine: Engine) -> None:
    ags = new_ags()
    code = security.new_landlord_code()
    first = salted(ags, "wohnungsgeberbestaetigung")
    with UnitOfWork(engine) as uow:
        store_pending(uow, first, created_by=None, landlord_code=code)
        uow.commit()
    with pytest.raises(ConflictError, match="Zuordnungsmerkmal"), UnitOfWork(engine) as uow:
        store_pending(uow, salted(ags, "wohnungsgeberbestaetigung"), created_by=None,
                                  landlord_code=code)
    with pytest.raises(ConflictError, match="Dokument mit dieser ID"), UnitOfWork(engine) as uow:
        store_pending(uow, first, created_by=None)
    with UnitOfWork(engine) as uow:
        found = uow.documents.by_landlord_code(security.normalize_landlord_code(code.lower()))
        assert found is not None and found.id == first.document["id"]
        assert uow.documents.by_landlord_code(security.new_landlord_code()) is None
        # Documents without a code do not collide with each other (NULLs are distinct).
        store_pending(uow, salted(ags), created_by=None)
        store_pending(uow, salted(ags), created_by=None)
        uow.commit()


def test_the_queue_of_an_account_gives_the_oldest_first(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)
    account = "0x" + "11" * 20  # salted() names it
    ids = []
    with UnitOfWork(fresh_engine) as uow:
        for minutes in (30, 10, 20, 0):  # stored out of order
            ids.append((minutes, store_pending(uow, salted(new_ags()),
                                               at=T0 + timedelta(minutes=minutes)).id))
        uow.commit()
    oldest_first = [i for _, i in sorted(ids)]
    with UnitOfWork(fresh_engine) as uow:
        assert [d.id for d in uow.documents.queue_of(account, 10)] == oldest_first
        assert [d.id for d in uow.documents.queue_of(account, 2)] == oldest_first[:2]
        assert uow.documents.queue_of("0x" + "99" * 20, 10) == []


def test_listing_pages_filters_and_search(engine: Engine) -> None:
    ags = new_ags()
    names = ["Jürgen Müller", "Ömer Öztürk", "Anna 100% Schmidt", "Erika Mustermann",
             "Max Mustermann", "Zoë Weiß", "Paul Panzer"]
    with UnitOfWork(engine) as uow:
        for i, name in enumerate(names):
            store_pending(uow, salted(ags, subject={"halter": {"name": name}, "nr": i}),
                                      created_by=None, at=T0 + timedelta(hours=i))
        store_pending(uow, salted(ags, "strassenmusik"), created_by=None, at=T0)
        uow.commit()
    with UnitOfWork(engine) as uow:
        pages = [uow.documents.list(ags=ags, usecase="gefaehrlicher-hund", offset=o, limit=3)
                 for o in (0, 3, 6)]
        assert [p.total for p in pages] == [7, 7, 7]
        assert [len(p.items) for p in pages] == [3, 3, 1]
        listed = [d.subject["halter"]["name"] for p in pages for d in p.items]
        assert listed == names[::-1]  # newest first
        items, total = uow.documents.list(ags=ags)
        assert total == 8 and len(items) == 8
        assert uow.documents.list(ags=ags, state="anchored").total == 0
        assert uow.documents.list(ags=ags, ledger_status="none").total == 8

        def found(text: str) -> list[str]:
            page = uow.documents.list(ags=ags, usecase="gefaehrlicher-hund", search=text)
            return sorted(d.subject["halter"]["name"] for d in page.items)

        assert found("müller") == ["Jürgen Müller"]
        assert found("ÖZTÜRK") == ["Ömer Öztürk"]
        assert found("mustermann") == ["Erika Mustermann", "Max Mustermann"]
        assert found("max   MUSTERMANN") == ["Max Mustermann"]
        assert found("WEISS") == ["Zoë Weiß"]  # case folding: ß matches ss
        assert found("100%") == ["Anna 100% Schmidt"]
        assert found("%") == ["Anna 100% Schmidt"]  # wildcards are taken literally
        assert found("_") == []
        assert found("halter") == []  # keys are not searched, only values
        with pytest.raises(InputError):
            uow.documents.list(ags=ags, limit=0)


# -- links ------------------------------------------------------------------------------------

def test_links_store_neither_token_nor_document_in_clear(engine: Engine) -> None:
    ags = new_ags()
    s = salted(ags, subject={"halter": {"name": "Geheim Geheimnis"}})
    token = security.new_link_token()
    link_id = str(uuid.uuid4())
    disclosed = json.dumps({"credentialSubject": {"halter": {"name": "Geheim Geheimnis"}}})
    with UnitOfWork(engine) as uow:
        store_pending(uow, s, created_by=None)
        link = uow.links.add(link_id=link_id, document_id=s.document["id"],
                             token_lookup=security.link_lookup(token),
                             ciphertext=security.seal_link(token, link_id, disclosed.encode()),
                             hidden_paths=["/hund/chip"], expires_at=T0 + timedelta(days=7),
                             at=T0)
        uow.commit()
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM links WHERE id = :i"), {"i": link_id}).one()
    raw = repr(tuple(row))
    assert token not in raw and "Geheimnis" not in raw and b"Geheimnis" not in bytes(row.ciphertext)
    with UnitOfWork(engine) as uow:
        found = uow.links.by_lookup(security.link_lookup(token))
        assert found == link and found.hidden_paths == ("/hund/chip",)
        assert security.open_link(token, found.id, found.ciphertext).decode() == disclosed
        assert uow.links.by_lookup(security.link_lookup(security.new_link_token())) is None
        assert found.usable_at(T0 + timedelta(days=1))
        assert not found.usable_at(T0 + timedelta(days=7))
        withdrawn = uow.links.withdraw(link_id, at=T0 + timedelta(days=1))
        assert uow.links.withdraw(link_id).withdrawn_at == withdrawn.withdrawn_at
        assert not withdrawn.usable_at(T0 + timedelta(days=2))
        assert uow.links.for_document(s.document["id"]) == [withdrawn]
        assert uow.links.by_id(link_id) == withdrawn
        with pytest.raises(RecordNotFoundError):
            uow.links.withdraw("nope")
        uow.commit()


def test_links_and_events_need_an_existing_document(engine: Engine) -> None:
    with pytest.raises(ConflictError, match="verweist"), UnitOfWork(engine) as uow:
        uow.status_events.add("urn:uuid:" + str(uuid.uuid4()), "revoked")


# -- audit and verification logs --------------------------------------------------------------

def test_audit_log_appends_lists_and_refuses_secrets(engine: Engine) -> None:
    actor = str(add_user(engine))
    with UnitOfWork(engine) as uow:
        for i in range(5):
            uow.audit.append(actor=actor, actor_kind="user", action="document.revoke",
                             target=f"urn:uuid:{i}", remote_addr="127.0.0.1",
                             detail={"reason": i}, at=T0 + timedelta(seconds=i))
        with pytest.raises(ValueError, match="secrets"):
            uow.audit.append(actor=actor, actor_kind="user", action="login",
                             detail={"attempt": {"password": "x"}})
        uow.commit()
    with UnitOfWork(engine) as uow:
        page = uow.audit.list(actor=actor, limit=2, offset=1)
        assert page.total == 5
        assert [e.detail["reason"] for e in page.items] == [3, 2]
        assert uow.audit.list(actor=actor, since=T0 + timedelta(seconds=3)).total == 2
        assert uow.audit.list(actor=actor, target="urn:uuid:4").items[0].at == \
            T0 + timedelta(seconds=4)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET action = 'forged'",
    "DELETE FROM audit_log",
    "UPDATE verification_log SET result = 'valid'",
    "DELETE FROM verification_log",
])
def test_logs_are_append_only_in_the_database(engine: Engine, statement: str) -> None:
    key, key_hash = security.new_api_key()
    with UnitOfWork(engine) as uow:
        uow.audit.append(actor="anonymous", actor_kind="anonymous", action="verify")
        api_key = uow.api_keys.add(name="Polizei", prefix=key[:12], key_hash=key_hash)
        uow.verification_log.append(api_key_id=api_key.id, document_id="urn:uuid:x",
                                    result="valid")
        uow.commit()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text(statement))


def test_truncate_of_the_audit_log_is_refused_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE audit_log"))


def test_verification_log(engine: Engine) -> None:
    _, key_hash = security.new_api_key()
    with UnitOfWork(engine) as uow:
        api_key = uow.api_keys.add(name="Ordnungsamt", prefix="gck_x", key_hash=key_hash)
        uow.verification_log.append(api_key_id=api_key.id, document_id="urn:uuid:a",
                                    result="valid", at=T0)
        uow.verification_log.append(api_key_id=api_key.id, link_id="l-1", result="revoked",
                                    at=T0 + timedelta(minutes=1))
        with pytest.raises(InputError):
            uow.verification_log.append(api_key_id=api_key.id, result="valid")
        uow.commit()
    with UnitOfWork(engine) as uow:
        items, total = uow.verification_log.list(api_key_id=api_key.id)
    assert total == 2
    assert [(e.link_id, e.result) for e in items] == [("l-1", "revoked"), (None, "valid")]


# -- batches anchored in one statement --------------------------------------------------------

def _anchor_batch(engine: Engine, docs: list[SaltedDocument]) -> tuple[int, MerkleTree]:
    ordered = sorted(docs, key=lambda d: d.target_hash)
    tree = MerkleTree([d.target_hash for d in ordered])
    members = [d.target_hash for d in ordered]
    with UnitOfWork(engine) as uow:
        uow.documents.add_pending_many([(d, None) for d in docs], created_by=None, at=T0)
        batch = uow.batches.add(account="0x" + "11" * 20, usecase="gefaehrlicher-hund",
                                merkle_root=tree.root, size=len(docs), members=members)
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert batch_members(uow, batch.id) == members
        marked = uow.documents.mark_batch_anchored(
            batch.id, members, merkle_root=tree.root, tx_hash=BATCH_ANCHOR.transaction_hash,
            block=BATCH_ANCHOR.block, at=T0)
        uow.status_events.add_for_batch(batch.id, "anchored", tx_hash=BATCH_ANCHOR.transaction_hash)
        uow.batches.mark_anchored(batch.id, tx_hash=BATCH_ANCHOR.transaction_hash,
                                  block=BATCH_ANCHOR.block, at=T0, tree=tree.to_bytes())
        uow.commit()
    assert marked == len(docs)
    return batch.id, tree


# The anchor as the worker records it: the document registry the documents name, block time.
BATCH_ANCHOR = AnchorRef(chain_id=1337, contract="0x" + "22" * 20,
                         transaction_hash="0x" + "cd" * 32, block=43, timestamp=int(T0.timestamp()))


def test_batch_is_anchored_in_one_statement_and_proofs_come_from_its_tree(engine: Engine) -> None:
    ags = new_ags()
    docs = [salted(ags, subject={"halter": {"name": f"Name {i}"}}) for i in range(7)]
    batch_id, tree = _anchor_batch(engine, docs)
    ordered = sorted(docs, key=lambda d: d.target_hash)
    expected = make_batch(ordered)
    with UnitOfWork(engine) as uow:
        for i, d in enumerate(ordered):
            record = uow.documents.get(d.document["id"])
            assert record is not None and record.state == "anchored"
            # exactly what writing each document with its proof gave before
            assert record.document == finish_document(expected, i, BATCH_ANCHOR)
            assert record.merkle_root == to_hex(tree.root) and record.batch_id == batch_id
            assert [e.action for e in uow.status_events.for_document(record.id)] == ["anchored"]
        listed = uow.documents.list(ags=ags).items
        assert sorted(r.id for r in listed) == sorted(d.document["id"] for d in docs)
        assert all(r.document is not None for r in listed)
    with engine.connect() as conn:  # stored once in the batch, not once per document
        stored = conn.execute(sa.text("SELECT count(*) FROM documents WHERE batch_id = :b "
                                      "AND document IS NULL AND salted IS NOT NULL"),
                              {"b": batch_id}).scalar()
        assert stored == len(docs)


def test_the_queue_head_counts_up_to_the_limit_and_names_the_oldest(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)
    account = "0x" + "11" * 20  # salted() names it
    with UnitOfWork(fresh_engine) as uow:
        assert uow.documents.queue_head(account, 10) == (0, None)
        for i in range(5):
            store_pending(uow, salted(new_ags()), created_by=None,
                                      at=T0 + timedelta(minutes=4 - i))
        uow.commit()
    with UnitOfWork(fresh_engine) as uow:
        assert uow.documents.queue_head(account, 10) == (5, T0)
        assert uow.documents.queue_head(account, 3) == (3, T0)
        assert uow.documents.queue_head("0x" + "99" * 20, 10) == (0, None)
        assert len(uow.documents.queue_of(account, 10)) == 5


def test_opening_a_batch_writes_no_document_and_marking_it_only_its_waiting_members(
        engine: Engine) -> None:
    ags = new_ags()
    members, other = [salted(ags) for _ in range(3)], salted(ags)
    hashes = sorted(d.target_hash for d in members)
    with UnitOfWork(engine) as uow:
        uow.documents.add_pending_many([(d, None) for d in [*members, other]], created_by=None,
                                       at=T0)
        batch = uow.batches.add(account="0x" + "11" * 20, usecase="gefaehrlicher-hund",
                                merkle_root=MerkleTree(hashes).root, size=3, members=hashes)
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert uow.batches.members_of(batch.id) == hashes
        waiting = [uow.documents.get(d.document["id"]) for d in [*members, other]]
        assert all(r is not None and r.state == "pending" and r.batch_id is None for r in waiting)
        assert uow.documents.mark_batch_failed(batch.id, hashes) == 3
        assert uow.documents.mark_batch_failed(batch.id, hashes) == 0  # only waiting ones
        uow.commit()
        states = {d.document["id"]: uow.documents.get(d.document["id"]) for d in [*members, other]}
    assert {(r.state, r.batch_id) for i, r in states.items() if i != other.document["id"]
            if r is not None} == {("failed", batch.id)}
    left = states[other.document["id"]]
    assert left is not None and (left.state, left.batch_id) == ("pending", None)


def test_a_batch_opened_before_its_members_were_recorded_finds_them_by_batch_id(
        fresh_engine: Engine) -> None:
    upgrade(fresh_engine, "0004")
    docs = [salted(new_ags()) for _ in range(2)]
    with UnitOfWork(fresh_engine) as uow:
        for d in docs:
            store_pending(uow, d, created_by=None, at=T0)
        uow.commit()
    with fresh_engine.begin() as conn:  # what opening a batch wrote before migration 0005
        batch_id = conn.execute(sa.text(
            "INSERT INTO batches (account, usecase, state, size, merkle_root, created_at) "
            "VALUES (:a, 'gefaehrlicher-hund', 'sending', 2, :r, :t) RETURNING id"),
            {"a": "0x" + "11" * 20, "r": "0x" + "ab" * 32, "t": T0}).scalar()
        conn.execute(sa.text("UPDATE documents SET batch_id = :b"), {"b": batch_id})
    upgrade(fresh_engine)
    with UnitOfWork(fresh_engine) as uow:
        assert uow.batches.members_of(batch_id) is None
        assert batch_members(uow, batch_id) == sorted(d.target_hash for d in docs)


def test_an_anchored_document_needs_its_issued_form_or_a_batch(engine: Engine) -> None:
    s = salted(new_ags())
    with UnitOfWork(engine) as uow:
        store_pending(uow, s, created_by=None, at=T0)
        uow.commit()
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE documents SET state = 'anchored', merkle_root = :h, anchor_tx = :h, "
            "anchor_block = 1, anchored_at = :t WHERE id = :id"),
            {"h": "0x" + "ef" * 32, "t": T0, "id": s.document["id"]})


def test_upgrade_to_batch_trees_keeps_documents_anchored_before(fresh_engine: Engine) -> None:
    upgrade(fresh_engine, "0002")
    s = salted(new_ags())
    batch = make_batch([s, salted(new_ags())])
    issued = finish_document(batch, 0, ANCHOR)
    with UnitOfWork(fresh_engine) as uow:
        store_pending(uow, s, at=T0)
        uow.commit()
    documents = sa.table("documents", sa.column("id"), sa.column("state"),
                         sa.column("document", sa.JSON), sa.column("salted", sa.JSON),
                         sa.column("merkle_root"), sa.column("anchor_tx"),
                         sa.column("anchor_block"), sa.column("anchored_at"))
    with fresh_engine.begin() as conn:  # what anchoring a single document wrote before 0003
        conn.execute(documents.update().where(documents.c.id == s.document["id"]).values(
            state="anchored", document=issued, salted=None, merkle_root=to_hex(batch.root),
            anchor_tx=ANCHOR.transaction_hash, anchor_block=ANCHOR.block, anchored_at=T0))
    upgrade(fresh_engine)
    assert current_revision(fresh_engine) == head_revision()
    with UnitOfWork(fresh_engine) as uow:
        record = uow.documents.get(s.document["id"])
    assert record is not None and record.document == issued and record.salted is None


def _compression(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = "
            "'documents'::regclass AND attname IN ('salted', 'document', 'subject')")).all())


def test_postgresql_compresses_documents_with_lz4(fresh_engine: Engine) -> None:
    if fresh_engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL column setting")
    upgrade(fresh_engine, "0003")
    assert set(_compression(fresh_engine).values()) == {""}  # the server's default, pglz
    upgrade(fresh_engine)
    assert _compression(fresh_engine) == {"salted": "l", "document": "l", "subject": "l"}
    s = salted(new_ags())
    with UnitOfWork(fresh_engine) as uow:
        store_pending(uow, s, created_by=None, at=T0)
        uow.commit()
    with UnitOfWork(fresh_engine) as uow:
        record = uow.documents.get(s.document["id"])
    assert record is not None and record.salted is not None
    assert record.salted.salts == s.salts and record.salted.target_hash == s.target_hash


def test_committed_documents_and_anchors_are_announced_to_listeners(fresh_engine: Engine,
                                                                   tmp_path: Path) -> None:
    """PostgreSQL: new pending documents and finished batches reach every Listener of the same
    schema on commit (a rolled-back transaction and another schema announce nothing)."""
    if fresh_engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    upgrade(fresh_engine)
    heard = {PENDING_CHANNEL: threading.Event(), ANCHORED_CHANNEL: threading.Event()}
    stop = threading.Event()
    listener = Listener(fresh_engine, {c: e.set for c, e in heard.items()}, stop)
    listener.start()
    try:
        assert heard[PENDING_CHANNEL].wait(10) and listener.listening  # its first look
        for event in heard.values():
            event.clear()
        ags = new_ags()
        with UnitOfWork(fresh_engine) as uow:
            store_pending(uow, salted(ags), created_by=None, at=T0)
            uow.rollback()
        assert not heard[PENDING_CHANNEL].wait(1.0)
        docs = [salted(ags) for _ in range(COPY_FROM)]
        with UnitOfWork(fresh_engine) as uow:
            uow.documents.add_pending_many([(d, None) for d in docs], created_by=None, at=T0)
            uow.commit()
        assert heard[PENDING_CHANNEL].wait(10)
        assert not heard[ANCHORED_CHANNEL].is_set()
        for other in fresh_database("postgresql", tmp_path):  # another service's schema
            upgrade(other)
            _anchor_batch(other, [salted(ags)])
        assert not heard[ANCHORED_CHANNEL].wait(1.0)
        _anchor_batch(fresh_engine, [salted(ags)])
        assert heard[ANCHORED_CHANNEL].wait(10)
    finally:
        stop.set()
        listener.join(10)
    assert not listener.listening


def test_many_documents_are_stored_at_once_and_a_duplicate_refuses_them_all(engine: Engine) -> None:
    ags = new_ags()
    docs = [salted(ags, subject={"halter": {"name": f"Müller {i}"}}) for i in range(COPY_FROM + 5)]
    with UnitOfWork(engine) as uow:  # PostgreSQL: through COPY
        records = uow.documents.add_pending_many([(d, None) for d in docs], created_by=None, at=T0)
        uow.status_events.add_many([r.id for r in records], "issued", at=T0)
        uow.commit()
    with UnitOfWork(engine) as uow:
        for d, returned in zip(docs, records, strict=True):
            stored = uow.documents.get(d.document["id"])
            assert stored == returned and stored.salted == d and stored.state == "pending"
            assert stored.subject["halter"]["name"].startswith("Müller")
            assert [e.action for e in uow.status_events.for_document(stored.id)] == ["issued"]
    fresh = [salted(ags) for _ in range(COPY_FROM)]
    with UnitOfWork(engine) as uow, pytest.raises(ConflictError):
        uow.documents.add_pending_many([(d, None) for d in [*fresh, docs[3]]], created_by=None)
    with UnitOfWork(engine) as uow:
        assert all(uow.documents.get(d.document["id"]) is None for d in fresh)


def test_status_list_positions_are_never_handed_out_twice(engine: Engine) -> None:
    """Counters of a municipality from many concurrent transactions (and, on PostgreSQL, from
    a process that starts anew with an empty pool) are all distinct; a rolled-back issuance on
    SQLite gives its counters back, on PostgreSQL leaves them unused — never used twice."""
    from govchain.adapters.db.repositories import status_lists as positions
    ags = f"9{secrets.randbelow(10**7):07d}"
    taken: list[int] = []
    keys: set[bytes] = set()
    lock = threading.Lock()

    def issue(count: int, commit: bool = True) -> None:
        with UnitOfWork(engine) as uow:
            key, counters = uow.status_lists.reserve(ags, count)
            if commit:
                uow.commit()
                with lock:
                    taken.extend(counters)
                    keys.add(key)

    threads = [threading.Thread(target=issue, args=(n,)) for n in (1, 7, 300, 1, 50) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    issue(5, commit=False)
    positions._pool.clear()  # as a new process would start
    issue(600)
    assert len(taken) == len(set(taken)) == 4 * 359 + 600
    assert len(keys) == 1
    with UnitOfWork(engine) as uow:
        assert uow.status_lists.allocated(ags) >= max(taken) + 1
