"""The `govchain` command as a user runs it: separate processes sharing one home directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from govchain.domain.timefmt import BERLIN

pytestmark = pytest.mark.slow


def govchain(home: Path, *args: str, check: bool = True, input: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOVCHAIN_HOME": str(home)}
    env.pop("GOVCHAIN_KEY_PASSPHRASE", None)
    proc = subprocess.run([sys.executable, "-m", "govchain", *args], env=env, text=True,
                          capture_output=True, input=input, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"govchain {' '.join(args)} → {proc.returncode}\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    home = tmp_path_factory.mktemp("home")
    out = tmp_path_factory.mktemp("out")
    proc = govchain(home, "demo", "--out", str(out))
    return home, out, proc.stdout


def test_demo_shows_every_case_as_expected(demo_run: tuple[Path, Path, str]) -> None:
    _, out, stdout = demo_run
    for status in ("VALID", "INVALID", "REVOKED", "SUSPENDED", "EXPIRED", "NOT_YET_VALID"):
        assert status in stdout
    assert "✗" not in stdout
    assert "Prüfungen wie erwartet" in stdout
    assert "kompromittiert" in stdout
    files = sorted(out.glob("*.json"))
    assert len(files) >= 8
    docs = [json.loads(f.read_text()) for f in files]
    usecases = {d["credentialStatus"]["usecase"] for d in docs}
    assert usecases == {"wohnungsgeberbestaetigung", "gefaehrlicher-hund", "strassenmusik"}


def test_document_from_demo_verifies_in_a_separate_process(
        demo_run: tuple[Path, Path, str]) -> None:
    home, out, _ = demo_run
    dog = next(out.glob("*-gefaehrlicher-hund-1.json"))
    proc = govchain(home, "verify", str(dog))
    assert proc.returncode == 0 and proc.stdout.startswith("VALID")
    result = json.loads(govchain(home, "verify", "--json", str(dog)).stdout)
    assert result["status"] == "VALID"
    assert {c["name"] for c in result["checks"]} >= {
        "integrity", "anchoring", "issuer", "status", "validity"}
    revoked = next(out.glob("*-gefaehrlicher-hund-2.json"))
    proc = govchain(home, "verify", str(revoked), check=False)
    assert proc.returncode == 1 and proc.stdout.startswith("REVOKED")
    forged = next(out.glob("*-gefaelscht.json"))
    proc = govchain(home, "verify", str(forged), check=False)
    assert proc.returncode == 1 and proc.stdout.startswith("INVALID")


def test_verify_names_a_landlord_confirmation_as_the_landlords_declaration(
        demo_run: tuple[Path, Path, str]) -> None:
    home, out, stdout = demo_run
    confirmation = next(out.glob("*-wohnungsgeberbestaetigung-1.json"))
    document = json.loads(confirmation.read_text())
    name = document["credentialSubject"]["wohnungsgeber"]["name"]
    received = "eingegangen bei Stadt Köln (AGS 05315000) am "
    assert f"Erklärung des Wohnungsgebers {name}, {received}" in stdout  # the demo says so too
    proc = govchain(home, "verify", str(confirmation))
    lines = proc.stdout.splitlines()
    assert lines[0] == "VALID"
    assert lines[1].startswith(f"Erklärung des Wohnungsgebers {name}, {received}")
    assert lines[2] == "Eingegangen bei: Stadt Köln (AGS 05315000)"
    assert "Aussteller" not in proc.stdout
    result = json.loads(govchain(home, "verify", "--json", str(confirmation)).stdout)
    assert result["declaration"]["declared_by"] == name
    assert result["declaration"]["received_by"] == {"name": "Stadt Köln", "ags": "05315000"}
    assert result["declaration"]["received_at"] == document["evidence"][0]["receivedAt"]
    dog = json.loads(govchain(home, "verify", "--json",
                              str(next(out.glob("*-gefaehrlicher-hund-1.json")))).stdout)
    assert dog["declaration"] is None


def test_disclose_then_verify(demo_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    home, out, _ = demo_run
    dog = next(out.glob("*-gefaehrlicher-hund-1.json"))
    shown = tmp_path / "shown.json"
    govchain(home, "disclose", str(dog), "--hide", "/halter/anschrift", "--hide",
             "/halter/geburtsdatum", "--out", str(shown))
    data: dict[str, Any] = json.loads(shown.read_text())
    assert "anschrift" not in data["credentialSubject"]["halter"]
    assert govchain(home, "verify", str(shown)).stdout.startswith("VALID")
    proc = govchain(home, "disclose", str(dog), "--hide", "/validFrom", "--out",
                    str(tmp_path / "x.json"), check=False)
    assert proc.returncode == 2 and "Fehler" in proc.stderr
    proc = govchain(home, "disclose", str(dog), "--hide", "issuer", "--out",
                    str(tmp_path / "x.json"), check=False)
    assert proc.returncode == 2 and "kann nicht verborgen werden" in proc.stderr
    assert not (tmp_path / "x.json").exists()


def test_disclose_refuses_the_time_windows_and_a_copy_without_them_is_invalid(
        demo_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    # issue 16, finding 2: a street-music permit with a window hidden read VALID at any hour
    from govchain.domain import schedule
    from govchain.domain.disclosure import disclose
    from govchain.domain.timefmt import parse_time

    home, out, _ = demo_run
    permit = next(out.glob("*-strassenmusik-1.json"))
    for hide in ("/zeitfenster/0/von", "/zeitfenster/2", "/zeitfenster"):
        proc = govchain(home, "disclose", str(permit), "--hide", hide, "--out",
                        str(tmp_path / "x.json"), check=False)
        assert proc.returncode == 2, proc.stderr
        assert "kann nicht verborgen werden" in proc.stderr and "Zeitfenster" in proc.stderr
        assert not (tmp_path / "x.json").exists()
    # made by another tool: verification answers INVALID, naming the field, at any hour
    data: dict[str, Any] = json.loads(permit.read_text())
    windows = schedule.parse_windows(data["credentialSubject"]["zeitfenster"])
    at = parse_time(data["validFrom"])
    while schedule.evaluate(windows, at).inside:
        at += timedelta(minutes=30)
    shown = tmp_path / "ohne-zeitfenster.json"
    shown.write_text(json.dumps(disclose(data, ["/zeitfenster/0/von"])))
    before = govchain(home, "verify", "--at", at.isoformat(), str(permit), check=False)
    assert before.returncode == 1 and not before.stdout.startswith("VALID")
    proc = govchain(home, "verify", "--at", at.isoformat(), str(shown), check=False)
    assert proc.returncode == 1 and proc.stdout.startswith("INVALID"), proc.stdout
    assert "„Zeitfenster“ ist ganz oder teilweise verborgen" in proc.stdout


def test_verify_refuses_content_outside_the_hash(demo_run: tuple[Path, Path, str],
                                                 tmp_path: Path) -> None:
    # issue 16, finding 3: a member a wallet would display, added to a valid document
    home, out, _ = demo_run
    data: dict[str, Any] = json.loads(next(out.glob("*-gefaehrlicher-hund-1.json")).read_text())
    data["description"] = "Maulkorbpflicht aufgehoben"
    changed = tmp_path / "mit-beschreibung.json"
    changed.write_text(json.dumps(data))
    proc = govchain(home, "verify", str(changed), check=False)
    assert proc.returncode == 1 and proc.stdout.startswith("INVALID")
    assert "'description'" in proc.stdout


def test_issue_and_registrar_commands(demo_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    home, _, _ = demo_run
    root = Path(__file__).resolve().parents[2]
    example = next((root / "usecases" / "strassenmusik" / "examples").glob("*.json"))
    today = datetime.now(BERLIN).date()  # street-music permits are not backdated by a year
    govchain(home, "registry", "admit", "--ags", "05711000", "--name", "Stadt Bielefeld",
             "--usecase", "strassenmusik")
    shown = govchain(home, "registry", "show", "--ags", "05711000").stdout
    assert "Stadt Bielefeld" in shown and "strassenmusik" in shown
    doc = tmp_path / "permit.json"
    govchain(home, "issue", "--ags", "05711000", "--usecase", "strassenmusik", "--subject",
             str(example), "--valid-from", today.isoformat(),
             "--valid-until", (today + timedelta(days=300)).isoformat(), "--out", str(doc))
    data = json.loads(doc.read_text())
    assert data["issuer"]["name"] == "Stadt Bielefeld"
    govchain(home, "suspend", str(doc), "--reason", "6")
    assert govchain(home, "verify", str(doc), check=False).stdout.startswith("SUSPENDED")
    govchain(home, "reinstate", str(doc))
    govchain(home, "revoke", str(doc), "--reason", "2")
    assert govchain(home, "verify", str(doc), check=False).stdout.startswith("REVOKED")
    # Every CLI write is kept in the home's database: the record and the audit log.
    from govchain.adapters.db import UnitOfWork, default_database_url, make_engine

    engine = make_engine(default_database_url(home))
    with UnitOfWork(engine) as uow:
        record = uow.documents.get(data["id"])
        actions = [e.action for e in uow.audit.list(target=data["id"]).items]
        admitted = [e.action for e in uow.audit.list(target="05711000").items]
    engine.dispose()
    assert record is not None and record.state == "anchored"
    assert record.ledger_status == "revoked"
    assert sorted(actions) == ["document.issue", "document.reinstate", "document.revoke",
                               "document.suspend"]
    assert admitted == ["registry.admit"]


def _documents_in(home: Path) -> int:
    from govchain.adapters.db import UnitOfWork, default_database_url, make_engine, upgrade

    engine = make_engine(default_database_url(home))
    try:
        upgrade(engine)  # as every CLI write does; the demo alone keeps no records
        with UnitOfWork(engine) as uow:
            return uow.documents.count()
    finally:
        engine.dispose()


def test_issue_refuses_a_type_the_municipality_is_not_admitted_for(
        demo_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    """Köln (demo: confirmations and street music) issues no dog permit: refused before anything
    is stored, not accepted and then refused by the contract (finding 4)."""
    home, _, _ = demo_run
    root = Path(__file__).resolve().parents[2]
    example = next((root / "usecases" / "gefaehrlicher-hund" / "examples").glob("*.json"))
    before = _documents_in(home)
    proc = govchain(home, "issue", "--ags", "05315000", "--usecase", "gefaehrlicher-hund",
                    "--subject", str(example), "--out", str(tmp_path / "dog.json"), check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Stadt Köln ist für „Erlaubnis zum Halten eines gefährlichen Hundes“ nicht " \
        "zugelassen" in proc.stderr and "Traceback" not in proc.stderr
    bulk = tmp_path / "dogs.jsonl"
    bulk.write_text(json.dumps(json.loads(example.read_text())["subject"]) + "\n")
    proc = govchain(home, "issue-bulk", str(bulk), "--ags", "05315000", "--usecase",
                    "gefaehrlicher-hund", "--out", str(tmp_path / "dogs-out.jsonl"), check=False)
    assert proc.returncode == 2 and "nicht zugelassen" in proc.stderr, proc.stderr
    assert _documents_in(home) == before
    assert not (tmp_path / "dog.json").exists()


def test_issue_refuses_an_implausible_date_as_bad_input(
        demo_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    home, _, _ = demo_run
    root = Path(__file__).resolve().parents[2]
    example = next((root / "usecases" / "gefaehrlicher-hund" / "examples").glob("*.json"))
    before = _documents_in(home)
    for args in (["--valid-from", "9999-12-31T23:59:59-14:00"],
                 ["--valid-from", "1999-01-01"], ["--valid-until", "2300-01-01"]):
        proc = govchain(home, "issue", "--ags", "05513000", "--usecase", "gefaehrlicher-hund",
                        "--subject", str(example), *args, "--out", str(tmp_path / "d.json"),
                        check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert "Gültig" in proc.stderr or "Jahr" in proc.stderr, proc.stderr
    assert _documents_in(home) == before


@pytest.mark.parametrize("args, message", [
    (["verify", "/nonexistent.json"], "nicht lesbar"),
    (["issue", "--ags", "05334002", "--usecase", "gibtsnicht", "--subject", "{subject}",
      "--out", "{out}"], "gibtsnicht"),
    (["issue", "--ags", "05334002", "--usecase", "gefaehrlicher-hund", "--subject", "{bad}",
      "--out", "{out}"], "chipnummer"),
    (["issue", "--ags", "05334002", "--usecase", "gefaehrlicher-hund", "--subject",
      "{notjson}", "--out", "{out}"], "kein gültiges JSON"),
    (["registry", "admit", "--ags", "123", "--name", "X", "--usecase", "strassenmusik"], "AGS"),
    (["registry", "admit", "--ags", "05334002", "--name", "Aachen", "--usecase",
      "strassenmusik"], "bereits zugelassen"),
    (["verify", "--at", "gestern", "{subject}"], "Zeitangabe"),
])
def test_bad_input_gives_a_clear_message_and_writes_nothing(
        demo_run: tuple[Path, Path, str], tmp_path: Path, args: list[str], message: str) -> None:
    home, out, _ = demo_run
    root = Path(__file__).resolve().parents[2]
    dog_example = json.loads(next(
        (root / "usecases" / "gefaehrlicher-hund" / "examples").glob("*.json")).read_text())
    dog_example["subject"]["hund"]["chipnummer"] = "12"
    (tmp_path / "bad.json").write_text(json.dumps(dog_example))
    (tmp_path / "notjson.json").write_text("{nope")
    subject = next(out.glob("*-gefaehrlicher-hund-1.json"))
    paths = {"subject": str(subject), "out": str(tmp_path / "new.json"),
             "bad": str(tmp_path / "bad.json"), "notjson": str(tmp_path / "notjson.json")}
    proc = govchain(home, *[a.format(**paths) for a in args], check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "new.json").exists()


def test_issue_bulk_from_json_lines_and_csv_reports_each_bad_line(
        demo_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    home, _, _ = demo_run
    examples = sorted((Path(__file__).parents[2] / "usecases" / "gefaehrlicher-hund" / "examples")
                      .glob("*.json"))
    subjects = [json.loads(p.read_text())["subject"] for p in examples]
    broken = json.loads(json.dumps(subjects[0]))
    broken["hund"]["chipnummer"] = 42
    lines = [json.dumps(subjects[0]), json.dumps({"subject": subjects[1],
                                                   "validFrom": "2026-01-01T00:00:00+01:00"}),
             json.dumps(broken), "{kein json", "", json.dumps(subjects[0])]
    jsonl = tmp_path / "hunde.jsonl"
    jsonl.write_text("\n".join(lines) + "\n")
    out = tmp_path / "ausgestellt.jsonl"
    proc = govchain(home, "issue-bulk", str(jsonl), "--ags", "05334002", "--usecase",
                    "gefaehrlicher-hund", "--out", str(out), check=False)
    assert proc.returncode == 1, proc.stderr
    assert "Zeile 3: /hund/chipnummer" in proc.stderr and "Zeile 4: kein JSON" in proc.stderr
    assert "3 ausgestellt und verankert" in proc.stdout and "2 fehlerhaft" in proc.stdout
    issued = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(issued) == 3 and len({d["proof"]["merkleRoot"] for d in issued}) == 1
    assert issued[1]["validFrom"].startswith("2026-01-01")
    first = tmp_path / "first.json"
    first.write_text(json.dumps(issued[0]))
    assert govchain(home, "verify", str(first)).stdout.startswith("VALID")

    # CSV: one column per field, named by its JSON Pointer; values typed by the schema.
    flat = [(p, v) for p, v in _leaves(subjects[0])]
    header = ",".join(p for p, _ in flat)
    good = ",".join(_csv(v) for _, v in flat)
    bad = ",".join("" if p == "/hund/chipnummer" else _csv(v) for p, v in flat)
    table = tmp_path / "hunde.csv"
    table.write_text(f"{header}\n{good}\n{bad}\n")
    proc = govchain(home, "issue-bulk", str(table), "--ags", "05334002", "--usecase",
                    "gefaehrlicher-hund", "--out", str(out), check=False)
    assert proc.returncode == 1 and "Zeile 3: /hund/chipnummer" in proc.stderr, proc.stderr
    (doc,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert doc["credentialSubject"] == subjects[0]


def _leaves(value: Any, pointer: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in _leaves(v, f"{pointer}/{k}")]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _leaves(v, f"{pointer}/{i}")]
    return [(pointer, value)]


def _csv(value: Any) -> str:
    text = {True: "true", False: "false"}.get(value, str(value)) if isinstance(value, bool) \
        else str(value)
    return '"' + text.replace('"', '""') + '"'


def _with_duplicate_kategorie(document: dict[str, Any]) -> str:
    """The document's JSON with `kategorie` written twice: issued value first, another last (a
    parser that keeps the last value would show what was never issued)."""
    text = json.dumps(document, ensure_ascii=False)
    issued = json.dumps(document["credentialSubject"]["kategorie"])
    return text.replace(f'"kategorie": {issued}',
                        f'"kategorie": {issued}, "kategorie": "harmlos"', 1)


def test_verify_refuses_a_duplicated_member_name(demo_run: tuple[Path, Path, str],
                                                 tmp_path: Path) -> None:
    home, out, _ = demo_run
    dog = json.loads(next(out.glob("*-gefaehrlicher-hund-1.json")).read_text())
    doubled = tmp_path / "doppelt.json"
    doubled.write_text(_with_duplicate_kategorie(dog))
    proc = govchain(home, "verify", str(doubled), check=False)
    assert proc.returncode == 2, proc.stdout
    assert "kategorie" in proc.stderr and "Traceback" not in proc.stderr
