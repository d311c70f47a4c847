"""Backup and restore (`govchain backup`, `govchain restore`): documents accepted while anchoring is
held back are backed up from a running service and restored onto a new home and a new database
(either kind into either kind) on the same anvil node; the restored service anchors each of them
exactly once, everything verifies VALID, the audit and verification logs are the same entries
and still append-only. A wrong passphrase, a changed, cut or newer file, a home that is not new
and a database with rows are refused (exit 2) before anything is written."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from fault_checks import assert_nothing_lost_or_doubled

from conftest import Node
from govchain.adapters.db import (
    AuditRecord,
    UnitOfWork,
    VerificationRecord,
    current_revision,
    default_database_url,
    make_engine,
)
from govchain.entrypoints.cli import main
from support.databases import KINDS, fresh_database
from support.serve import (
    PASSPHRASE,
    ServeProcess,
    govchain_command,
    prepare_home,
    run_cli,
    service_env,
)

USECASE = "gefaehrlicher-hund"
BACKUP_PASSPHRASE = "Sicherung des Ordnungsamts – nicht raten"
ANCHORED_BEFORE = 3
HELD_BACK = 9


def subject(i: int) -> dict[str, Any]:
    path = sorted((Path(__file__).parents[2] / "usecases" / USECASE / "examples").glob("*.json"))[0]
    s: dict[str, Any] = json.loads(path.read_text())["subject"]
    s["hund"]["name"] = f"Sicherung {i}"
    return s


@contextmanager
def new_database(kind: str, home: Path, where: Path) -> Iterator[tuple[str | None, sa.Engine]]:
    """The URL for the services (None: SQLite in the home) and an engine for the checks."""
    if kind == "sqlite":
        engine = make_engine(default_database_url(home))
        try:
            yield None, engine
        finally:
            engine.dispose()
        return
    for engine in fresh_database("postgresql", where):
        yield engine.url.render_as_string(hide_password=False), engine


def govchain(home: Path, env: dict[str, str], *args: str, stdin: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    """`govchain --home HOME ARGS` as a process of its own, as an operator runs it."""
    return subprocess.run([*govchain_command(), "--home", str(home), *args], env=env,
                          input=stdin, capture_output=True, text=True, timeout=300)


def logs(engine: sa.Engine) -> tuple[list[AuditRecord], list[VerificationRecord]]:
    with UnitOfWork(engine) as uow:
        return uow.audit.list(limit=500).items, uow.verification_log.list(limit=500).items


def assert_append_only(engine: sa.Engine) -> None:
    """UPDATE and DELETE refused on every row of the append-only tables (an empty table fires
    no row trigger: nothing to show there)."""
    assert count(engine, "SELECT count(*) FROM audit_log")
    statements = ["UPDATE audit_log SET actor = 'jemand'", "DELETE FROM audit_log"]
    if count(engine, "SELECT count(*) FROM verification_log"):
        statements += ["UPDATE verification_log SET result = 'INVALID'",
                       "DELETE FROM verification_log"]
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))


def count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar_one())


# -- the issue's test: pending documents, backed up live, anchored once after the restore --------

@pytest.mark.slow
@pytest.mark.anvil
@pytest.mark.parametrize(("source", "target"), list(itertools.product(KINDS, KINDS)))
def test_documents_pending_at_the_backup_are_anchored_once_by_the_restored_service(
        tmp_path: Path, node: Node, source: str, target: str) -> None:
    home_a, home_b, dest = tmp_path / "a", tmp_path / "b", tmp_path / "govchain.backup"
    with ExitStack() as stack:
        url_a, engine_a = stack.enter_context(new_database(source, home_a, tmp_path / "db-a"))
        # The old service never replaces its transaction meanwhile (the restored one may).
        env_a = prepare_home(home_a, rpc_url=node.url, database_url=url_a,
                             env={"GOVCHAIN_ANCHOR_REPLACE_AFTER_SECONDS": "3600"})
        (home_a / "config.toml").write_text("anchor_max_batch = 4\nanchor_window_ms = 50\n")
        api_key = run_cli(home_a, "apikeys", "create", "--name", "Polizei Aachen",
                          env=env_a).strip().splitlines()[-1]
        serve_a = ServeProcess(home_a, env_a).start()
        stack.callback(serve_a.stop)
        before = [serve_a.issue(USECASE, subject(i)) for i in range(ANCHORED_BEFORE)]
        link = serve_a.link(before[0]["id"], hide=["/halter/geburtsdatum"])
        checked = httpx.post(serve_a.url("/api/v1/verify"), json=before[1]["document"],
                             headers={"X-API-Key": api_key}, timeout=30)
        assert checked.json()["status"] == "VALID"

        # Anchoring held back: the node accepts transactions but mines none.
        node.rpc("evm_setAutomine", False)
        held = []
        for i in range(HELD_BACK):
            status, answer = serve_a.call("POST", "/api/v1/documents", role="clerk",
                                          body={"usecase": USECASE,
                                                "subject": subject(ANCHORED_BEFORE + i)})
            assert status == 202 and answer["status"] == "pending", answer
            held.append(answer["id"])
        # The worker has signed, stored and sent one batch, which waits to be mined.
        deadline = time.monotonic() + 30
        while not count(engine_a, "SELECT count(*) FROM batches WHERE state = 'sending'"):
            assert time.monotonic() < deadline, serve_a.log()[-3000:]
            time.sleep(0.05)
        with engine_a.connect() as conn:
            (sending,) = conn.execute(sa.text(
                "SELECT id, merkle_root FROM batches WHERE state = 'sending'")).all()
        pending = count(engine_a, "SELECT count(*) FROM documents WHERE state = 'pending'")
        assert pending == HELD_BACK

        backed_up = govchain(home_a, env_a, "backup", str(dest), "--passphrase-stdin",
                             stdin=BACKUP_PASSPHRASE + "\n")  # while the service runs
        assert backed_up.returncode == 0, backed_up.stderr
        assert "audit_log: " in backed_up.stderr and "documents: " in backed_up.stderr
        assert BACKUP_PASSPHRASE not in backed_up.stdout + backed_up.stderr
        serve_a.stop()  # the old installation is gone; only the backup and the node remain
        audit_a, checks_a = logs(engine_a)
        assert checks_a and len(audit_a) >= ANCHORED_BEFORE + HELD_BACK

        url_b, engine_b = stack.enter_context(new_database(target, home_b, tmp_path / "db-b"))
        env_b = service_env(home_b, {"GOVCHAIN_RPC_URL": node.url,
                                     **({"GOVCHAIN_DATABASE_URL": url_b} if url_b else {})})
        restored = govchain(home_b, env_b, "restore", str(dest), "--passphrase-stdin",
                            stdin=BACKUP_PASSPHRASE + "\n")
        assert restored.returncode == 0, restored.stderr
        assert "Unversehrt" in restored.stderr and "audit_log: " in restored.stderr
        assert (home_b / "config.toml").read_text() == (home_a / "config.toml").read_text()
        assert sorted(p.name for p in (home_b / "keys").iterdir()) \
            == sorted(p.name for p in (home_a / "keys").iterdir())
        assert logs(engine_b) == (audit_a, checks_a)
        assert count(engine_b, "SELECT count(*) FROM documents WHERE state = 'pending'") \
            == HELD_BACK
        assert_append_only(engine_b)

        serve_b = ServeProcess(home_b, env_b).start()
        stack.callback(serve_b.stop)
        node.rpc("evm_setAutomine", True)
        node.rpc("evm_mine")
        serve_b.wait_until_none_pending(timeout=120)
        shared = httpx.get(serve_b.url(f"/api/v1/verify/{link.rsplit('/', 1)[1]}"), timeout=30)
        assert shared.json()["result"]["status"] == "VALID"
        serve_b.stop()

        accepted = [d["id"] for d in before] + held
        # Every root on the node once and exactly the restored service's batches, no nonce lost
        # or doubled, every document VALID.
        outcome = assert_nothing_lost_or_doubled(home_b, node.url, engine_b, accepted,
                                                 sample=len(accepted))
        assert outcome["documents"] == len(accepted)
        with engine_b.connect() as conn:  # the batch sent before the backup, finished after it
            assert conn.execute(sa.text("SELECT state FROM batches WHERE id = :id AND "
                                        "merkle_root = :root"),
                                {"id": sending[0], "root": sending[1]}).scalar() == "anchored"
        assert logs(engine_b)[0][-len(audit_a):] == audit_a  # the old entries, unchanged
        assert_append_only(engine_b)


# -- refusals, on a home with the embedded chain ------------------------------------------------

def cli(home: Path, *args: str, stdin: str | None = None, **env: str) -> Result:
    """`govchain --home HOME ARGS` in this process (the same command code, without the seconds
    a new interpreter spends importing)."""
    return CliRunner().invoke(main, ["--home", str(home), *args], input=stdin,
                              env={"GOVCHAIN_KEY_PASSPHRASE": PASSPHRASE, **env})


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A home on the embedded chain and SQLite with one issued document, and its backup."""
    root = tmp_path_factory.mktemp("embedded")
    home = root / "home"
    prepare_home(home)
    example = root / "subject.json"
    example.write_text(json.dumps({"subject": subject(0)}))
    document = root / "document.json"
    run_cli(home, "issue", "--ags", "05334002", "--usecase", USECASE, "--subject", str(example),
            "--out", str(document))
    backup = root / "home.backup"
    result = cli(home, "backup", str(backup), GOVCHAIN_BACKUP_PASSPHRASE=BACKUP_PASSPHRASE)
    assert result.exit_code == 0, result.output
    return {"home": home, "document": document, "backup": backup}


def assert_untouched(home: Path) -> None:
    for name in ("deployment.json", "config.toml", "keys", "secrets", "chain"):
        assert not (home / name).exists(), name
    database = home / "govchain.sqlite3"
    if database.exists():
        engine = make_engine(default_database_url(home))
        assert current_revision(engine) is None
        engine.dispose()


def test_a_home_on_the_embedded_chain_is_restored_with_its_chain(embedded: dict[str, Path],
                                                                 tmp_path: Path) -> None:
    new = tmp_path / "new"
    restored = cli(new, "restore", str(embedded["backup"]), "--passphrase-stdin",
                   stdin=BACKUP_PASSPHRASE + "\n")
    assert restored.exit_code == 0, restored.output
    assert (new / "chain" / "journal").read_bytes() \
        == (embedded["home"] / "chain" / "journal").read_bytes()
    for path in [new / "deployment.json", *(new / "keys").iterdir(), new / "chain" / "journal"]:
        assert path.stat().st_mode & 0o077 == 0, path
    # The backup carries the keystores as they are, sealed under the key passphrase, which (like
    # the backup's own passphrase) is nowhere in what was restored.
    for keystore in (embedded["home"] / "keys").iterdir():
        assert (new / "keys" / keystore.name).read_bytes() == keystore.read_bytes()
    for path in (p for p in new.rglob("*") if p.is_file()):
        content = path.read_bytes()
        assert PASSPHRASE.encode() not in content and BACKUP_PASSPHRASE.encode() not in content, path
    # The restored chain (replayed from the journal) anchors the document: VALID there.
    verified = cli(new, "verify", str(embedded["document"]))
    assert verified.exit_code == 0 and "VALID" in verified.output, verified.output
    old_engine, new_engine = (make_engine(default_database_url(h)) for h in (embedded["home"],
                                                                              new))
    assert logs(new_engine) == logs(old_engine)
    assert_append_only(new_engine)
    old_engine.dispose()
    new_engine.dispose()


def test_a_wrong_passphrase_is_refused(embedded: dict[str, Path], tmp_path: Path) -> None:
    wrong = "eine falsche Passphrase, lang genug"
    result = cli(tmp_path / "new", "restore", str(embedded["backup"]), "--passphrase-stdin",
                 stdin=wrong + "\n")
    assert result.exit_code == 2
    assert "Falsche Passphrase für diese Sicherung" in result.stderr
    assert wrong not in result.output
    assert_untouched(tmp_path / "new")


@pytest.mark.parametrize(("change", "message"), [
    ("flip", "beschädigt"), ("cut", "abgeschnitten"), ("version", "neueren govchain-Version"),
    ("other", "keine govchain-Sicherung")])
def test_a_damaged_cut_newer_or_foreign_file_is_refused(embedded: dict[str, Path],
                                                        tmp_path: Path, change: str,
                                                        message: str) -> None:
    data = bytearray(embedded["backup"].read_bytes())
    if change == "flip":
        data[len(data) // 2] ^= 0x20
    elif change == "cut":
        data = data[:64 + (1 << 20) + 16] if len(data) > (1 << 20) + 80 else data[:-20]
    elif change == "version":
        data[16:18] = (99).to_bytes(2, "big")
    else:
        data = bytearray(b"%PDF-1.7\n" + bytes(200))
    broken = tmp_path / "broken.backup"
    broken.write_bytes(bytes(data))
    result = cli(tmp_path / "new", "restore", str(broken),
                 GOVCHAIN_BACKUP_PASSPHRASE=BACKUP_PASSPHRASE)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Fehler: ") and message in result.stderr, result.stderr
    assert_untouched(tmp_path / "new")


def test_a_home_that_is_not_new_or_a_database_with_rows_is_refused(
        embedded: dict[str, Path], tmp_path: Path) -> None:
    into_old_home = cli(embedded["home"], "restore", str(embedded["backup"]),
                        GOVCHAIN_BACKUP_PASSPHRASE=BACKUP_PASSPHRASE)
    assert into_old_home.exit_code == 2 and "ist nicht neu" in into_old_home.stderr
    into_full_database = cli(tmp_path / "new", "restore", str(embedded["backup"]),
                             "--database-url", default_database_url(embedded["home"]),
                             GOVCHAIN_BACKUP_PASSPHRASE=BACKUP_PASSPHRASE)
    assert into_full_database.exit_code == 2
    assert "Die Zieldatenbank ist nicht leer" in into_full_database.stderr
    assert_untouched(tmp_path / "new")


def test_a_backup_needs_a_long_passphrase_and_a_new_file(embedded: dict[str, Path],
                                                        tmp_path: Path) -> None:
    home, dest = embedded["home"], tmp_path / "again.backup"
    assert cli(home, "backup", str(dest)).exit_code == 2  # no passphrase at all
    short = cli(home, "backup", str(dest), GOVCHAIN_BACKUP_PASSPHRASE="kurz")
    assert short.exit_code == 2 and "mindestens 12 Zeichen" in short.stderr
    existing = cli(home, "backup", str(embedded["backup"]),
                   GOVCHAIN_BACKUP_PASSPHRASE=BACKUP_PASSPHRASE)
    assert existing.exit_code == 2 and "gibt es schon" in existing.stderr
    assert not dest.exists() and not list(tmp_path.glob(".*.tmp"))
