"""`govchain demo`: every case of the ledger core, run for real on the chain of the home directory.

Each step states what it expects and what verification answered; the demo fails (exit 1) if any
answer differs, so it doubles as an end-to-end check.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from govchain import services
from govchain.adapters.context import Context
from govchain.domain import schedule
from govchain.domain.disclosure import disclose
from govchain.domain.documents import usecase_id_of
from govchain.domain.pointers import iter_leaves, parse_pointer
from govchain.domain.timefmt import BERLIN, de, now, parse_time
from govchain.domain.verification import Status, VerificationResult
from govchain.errors import GovchainError, NotAuthorizedError
from govchain.presentation.display import declaration_text

MUNICIPALITIES = [
    # AGS, name, admitted use cases
    ("05334002", "Stadt Aachen", ["wohnungsgeberbestaetigung", "gefaehrlicher-hund", "strassenmusik"]),
    ("05513000", "Stadt Gelsenkirchen", ["wohnungsgeberbestaetigung", "gefaehrlicher-hund"]),
    ("05315000", "Stadt Köln", ["wohnungsgeberbestaetigung", "strassenmusik"]),
]
ISSUING = {  # which municipality issues each use case in the demo
    "wohnungsgeberbestaetigung": "05315000",
    "gefaehrlicher-hund": "05513000",
    "strassenmusik": "05334002",
}


@dataclass
class Row:
    step: str
    document: str
    expected: str
    actual: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


class Demo:
    def __init__(self, ctx: Context, out: Path | None) -> None:
        self.ctx = ctx
        self.out = out
        self.rows: list[Row] = []
        self.written: list[Path] = []

    # -- helpers ---------------------------------------------------------------------------

    def say(self, text: str) -> None:
        click.secho(text, bold=True)

    def save(self, name: str, doc: dict[str, Any]) -> None:
        if self.out is None:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / f"{len(self.written) + 1:02d}-{name}.json"
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        self.written.append(path)

    def check(self, step: str, label: str, doc: dict[str, Any], expected: Status,
              at: datetime | None = None) -> VerificationResult:
        result = services.verify(self.ctx, doc, at)
        failed = [c.message for c in result.checks if c.status.value == "failed"]
        detail = failed[0] if failed else next(
            (c.message for c in result.checks if c.name == "validity"), "")
        if at is not None:
            detail = f"Prüfzeit {de(at)}: {detail}"
        self.rows.append(Row(step, label, str(expected), str(result.status), detail))
        mark = "✓" if result.status is expected else "✗"
        colour = "green" if result.status is expected else "red"
        click.echo(f"  {click.style(mark, fg=colour)} {label:38} {result.status!s:14} {detail}")
        return result

    def expect_refusal(self, step: str, label: str, action: Callable[[], object],
                       error_name: str) -> None:
        try:
            action()
            actual, detail = "ausgeführt", "nicht abgelehnt!"
        except NotAuthorizedError as err:
            actual, detail = ("abgelehnt" if err.error_name == error_name else err.error_name or "",
                              str(err))
        except GovchainError as err:
            actual, detail = type(err).__name__, str(err)
        self.rows.append(Row(step, label, "abgelehnt", actual, detail))
        mark = click.style("✓", fg="green") if actual == "abgelehnt" else click.style("✗", fg="red")
        click.echo(f"  {mark} {label:38} {actual:14} {detail}")

    def issue(self, ags: str, usecase_id: str, examples: list[dict[str, Any]],
              account: str | None = None) -> list[dict[str, Any]]:
        requests = [services.IssueRequest(
            subject=e["subject"],
            valid_from=parse_time(e["validFrom"]) if e.get("validFrom") else None,
            valid_until=parse_time(e["validUntil"]) if e.get("validUntil") else None)
            for e in examples]
        docs = services.issue_documents(self.ctx, ags, usecase_id, requests, account=account)
        anchor = docs[0]["proof"]["anchor"]
        click.echo(f"  {len(docs)} × {usecase_id} von AGS {ags}: eine Transaktion, Block "
                   f"{anchor['block']}, Wurzel {docs[0]['proof']['merkleRoot'][:18]}…")
        return docs

    # -- the story -------------------------------------------------------------------------

    def run(self) -> bool:
        ctx = self.ctx
        dep = services.init_home(ctx)
        self.say(f"govchain-Demo auf Chain {dep.chain_id} (Verzeichnis {ctx.home})")
        click.echo(f"  IssuerRegistry {dep.issuer_registry}, DocumentRegistry "
                   f"{dep.document_registry}")

        self.say("\n1. Die Landesbehörde lässt drei Kommunen zu")
        for ags, name, usecases in MUNICIPALITIES:
            m = ctx.ledger.municipality(ags)
            if not m.admitted:
                services.admit_municipality(ctx, ags, name, usecases)
                click.echo(f"  {name} ({ags}) zugelassen für {', '.join(usecases)}")
            else:
                click.echo(f"  {name} ({ags}) war bereits zugelassen")

        self.say("\n2. Jede Dokumentart wird aus ihren Beispielen ausgestellt und geprüft")
        docs: dict[str, list[dict[str, Any]]] = {}
        for usecase_id, ags in ISSUING.items():
            uc = ctx.usecases.get(usecase_id)
            examples = [self._fresh_validity(uc.id, e) for e in uc.examples]
            docs[usecase_id] = self.issue(ags, usecase_id, examples)
            for i, doc in enumerate(docs[usecase_id]):
                self.save(f"{usecase_id}-{i + 1}", doc)
                result = self.check("ausstellen", f"{uc.title['de'][:30]} #{i + 1}", doc,
                                    Status.VALID,
                                    at=self._inside_window(doc) if uc.schedule_pointer else None)
                if result.declaration is not None and i == 0:  # received, not issued, by the office
                    click.echo(f"    {declaration_text(result.declaration)}")

        dog = docs["gefaehrlicher-hund"]
        wgb = docs["wohnungsgeberbestaetigung"]
        music = docs["strassenmusik"]

        self.say("\n3. Fälschen und Verbergen")
        forged = self._tamper(dog[0])
        self.save("gefaehrlicher-hund-1-gefaelscht", forged)
        self.check("fälschen", f"Hund #1, {self._changed}", forged, Status.INVALID)
        hide = self._hide_paths(dog[0])
        shown = disclose(dog[0], hide)
        self.save("gefaehrlicher-hund-1-teilweise-verborgen", shown)
        self.check("verbergen", f"Hund #1 ohne {', '.join(hide)}"[:38], shown, Status.VALID)

        self.say("\n4. Aussetzen, wieder in Kraft setzen, widerrufen")
        services.change_status(ctx, wgb[0], "suspend", 6)
        self.check("aussetzen", "Wohnungsgeberbest. #1", wgb[0], Status.SUSPENDED)
        services.change_status(ctx, wgb[0], "reinstate")
        self.check("wieder in Kraft", "Wohnungsgeberbest. #1", wgb[0], Status.VALID)
        services.change_status(ctx, dog[1], "revoke", 4)
        self.check("widerrufen", "Hund #2", dog[1], Status.REVOKED)
        self.check("widerrufen", "Hund #1 (gleiche Wurzel)", dog[0], Status.VALID)

        self.say("\n5. Straßenmusik: gilt sie jetzt, hier?")
        permit = music[0]
        self.check("Zeitfenster", "Straßenmusik #1 im Zeitfenster", permit, Status.VALID,
                   at=self._inside_window(permit))
        self.check("Zeitfenster", "Straßenmusik #1 nachts", permit, Status.NOT_YET_VALID,
                   at=self._outside_window(permit))
        self.check("Ablauf", "Straßenmusik #1 nach Ablauf", permit, Status.EXPIRED,
                   at=parse_time(permit["validUntil"]) + timedelta(hours=1))
        self.check("Beginn", "Straßenmusik #1 vor Beginn", permit, Status.NOT_YET_VALID,
                   at=parse_time(permit["validFrom"]) - timedelta(days=1))

        self.say("\n6. Rechte werden auf der Chain durchgesetzt")
        gelsenkirchen = ISSUING["gefaehrlicher-hund"]
        self.expect_refusal(
            "Berechtigung", "Gelsenkirchen stellt Straßenmusik aus",
            lambda: self.issue(gelsenkirchen, "strassenmusik",
                               [self._fresh_validity("strassenmusik",
                                                     ctx.usecases.get("strassenmusik").examples[0])]),
            "IssuerRegistryDocTypeNotAllowed")
        koeln = ISSUING["wohnungsgeberbestaetigung"]
        self.expect_refusal(
            "Berechtigung", "Köln widerruft Aachens Erlaubnis",
            lambda: services.change_status(
                ctx, permit, "revoke", 1, account=services.issuer_signer(ctx, koeln).address),
            "DocumentRegistryWrongMunicipality")

        self.say("\n7. Schlüssel kompromittiert: Dokumente davor bleiben gültig, danach nicht")
        key = services.add_issuer_account(ctx, koeln)
        example = [self._fresh_validity("wohnungsgeberbestaetigung",
                                        ctx.usecases.get("wohnungsgeberbestaetigung").examples[0])]
        before = self.issue(koeln, "wohnungsgeberbestaetigung", example, account=key)[0]
        since = parse_time(before["proof"]["anchor"]["anchoredAt"]) + timedelta(seconds=1)
        services.advance_chain_time(ctx, since)  # the next block is stamped at or after `since`
        after = self.issue(koeln, "wohnungsgeberbestaetigung", example, account=key)[0]
        services.mark_compromised(ctx, key, since)
        click.echo(f"  Konto {key} kompromittiert seit {de(since)}")
        self.save("wohnungsgeberbestaetigung-vor-kompromittierung", before)
        self.save("wohnungsgeberbestaetigung-nach-kompromittierung", after)
        self.check("Kompromittierung", "verankert davor", before, Status.VALID)
        self.check("Kompromittierung", "verankert danach", after, Status.INVALID)
        new_key = services.add_issuer_account(ctx, koeln)
        services.change_status(ctx, before, "revoke", 5)
        click.echo(f"  Köln arbeitet mit neuem Konto {new_key} weiter und widerruft das alte "
                   "Dokument")
        self.check("Kompromittierung", "alt, vom neuen Konto widerrufen", before, Status.REVOKED)
        return self._summary()

    # -- data helpers ----------------------------------------------------------------------

    def _fresh_validity(self, usecase_id: str, example: dict[str, Any]) -> dict[str, Any]:
        """Examples carry fixed dates; the demo issues them as valid from today."""
        uc = self.ctx.usecases.get(usecase_id)
        start = now().astimezone(BERLIN).replace(hour=0, minute=0, second=0, microsecond=0)
        e = {"subject": example["subject"], "validFrom": start.isoformat()}
        if uc.default_validity is not None:
            e["validUntil"] = (start + uc.default_validity).isoformat()
        elif example.get("validUntil"):
            e["validUntil"] = (start + timedelta(days=365)).isoformat()
        return e

    def _windows(self, doc: dict[str, Any]) -> Any:
        uc = self.ctx.usecases.get(usecase_id_of(doc) or "")
        assert uc.schedule_pointer is not None
        return schedule.windows_from_subject(doc["credentialSubject"], uc.schedule_pointer)

    def _inside_window(self, doc: dict[str, Any]) -> datetime:
        start = parse_time(doc["validFrom"])
        result = schedule.evaluate(self._windows(doc), start)
        if result.inside:
            return start
        assert result.next_start is not None
        return result.next_start + timedelta(minutes=5)

    def _outside_window(self, doc: dict[str, Any]) -> datetime:
        t = parse_time(doc["validFrom"]).astimezone(BERLIN).replace(hour=3)
        windows = self._windows(doc)
        while schedule.evaluate(windows, t).inside:
            t += timedelta(hours=1)
        return t

    _changed = ""

    def _tamper(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Changes the first highlighted field (e.g. the chip number) by one character."""
        forged = copy.deepcopy(doc)
        uc = self.ctx.usecases.get(usecase_id_of(doc) or "")
        pointers = list(uc.display.get("highlight", [])) + [
            p for p, _ in iter_leaves(doc["credentialSubject"])]
        for pointer in pointers:
            tokens = parse_pointer(pointer)
            node: Any = forged["credentialSubject"]
            try:
                for t in tokens[:-1]:
                    node = node[int(t)] if isinstance(node, list) else node[t]
                key: Any = int(tokens[-1]) if isinstance(node, list) else tokens[-1]
                value = node[key]
            except (KeyError, IndexError, ValueError):
                continue
            if isinstance(value, str) and value:
                node[key] = value[:-1] + ("1" if value[-1] != "1" else "2")
                self._changed = f"{pointer} geändert"
                return forged
        raise GovchainError("Kein Textfeld zum Fälschen gefunden")

    def _hide_paths(self, doc: dict[str, Any]) -> list[str]:
        """Fields a holder would rather not show at a check: birth date and address."""
        subject = doc["credentialSubject"]
        wanted = []
        for top, value in subject.items():
            if isinstance(value, dict):
                for key in value:
                    if key in ("geburtsdatum", "anschrift"):
                        wanted.append(f"/{top}/{key}")
        return wanted[:2] or [f"/{next(iter(subject))}"]

    def _summary(self) -> bool:
        bad = [r for r in self.rows if not r.ok]
        self.say(f"\nErgebnis: {len(self.rows) - len(bad)} von {len(self.rows)} Prüfungen wie "
                 "erwartet")
        for r in bad:
            click.secho(f"  ✗ {r.step}: {r.document}: erwartet {r.expected}, war {r.actual} "
                        f"({r.detail})", fg="red")
        if self.written:
            click.echo(f"\n{len(self.written)} Dokumente geschrieben nach {self.out}; prüfen mit "
                       f"z. B.: govchain verify {self.written[0]}")
        return not bad


def run_demo(ctx: Context, out: Path | None) -> None:
    if not Demo(ctx, out).run():
        raise SystemExit(1)

