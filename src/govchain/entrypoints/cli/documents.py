"""`govchain issue`, `revoke`/`suspend`/`reinstate`, `verify` and `disclose`: one document at a time."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from govchain import services
from govchain.adapters.context import Context
from govchain.domain.timefmt import parse_time
from govchain.domain.verification import CheckStatus, Status, VerificationResult
from govchain.entrypoints.cli.base import (
    EXIT_INVALID,
    EXIT_UNAVAILABLE,
    anchor_and_read,
    handle_errors,
    main,
    pass_ctx,
    read_json,
    records,
    write_json,
)
from govchain.errors import InputError
from govchain.presentation.display import declaration_text
from govchain.services.audit import AuditAction


@main.command("issue")
@click.option("--ags", required=True, help="Ausstellende Kommune.")
@click.option("--usecase", required=True, help="Dokumentart, z. B. gefaehrlicher-hund.")
@click.option("--subject", "subject_file", required=True, type=click.Path(path_type=Path),
              help="JSON-Datei mit credentialSubject (oder ein Beispiel mit 'subject').")
@click.option("--valid-from")
@click.option("--valid-until")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@pass_ctx
@handle_errors
def issue(ctx: Context, ags: str, usecase: str, subject_file: Path, valid_from: str | None,
          valid_until: str | None, out: Path) -> None:
    """Stellt ein Dokument aus und verankert es."""
    data = read_json(subject_file)
    if isinstance(data, dict) and "subject" in data and isinstance(data["subject"], dict):
        valid_from = valid_from or data.get("validFrom")
        valid_until = valid_until or data.get("validUntil")
        data = data["subject"]
    req = services.IssueRequest(
        subject=data,
        valid_from=parse_time(valid_from) if valid_from else None,
        valid_until=parse_time(valid_until) if valid_until else None)
    with records(ctx, AuditAction.DOCUMENT_ISSUE) as (uow, audit):
        (record,) = services.accept_documents(ctx, uow, ags, usecase, [req])
        audit(record.id)
    (doc,) = anchor_and_read(ctx, str(record.account), [record.id])
    doc_id = record.id
    write_json(out, doc)
    click.echo(f"{doc_id} ausgestellt → {out}")


def _status_command(action: services.Action, help_text: str) -> None:
    @main.command(action, help=help_text)
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option("--reason", help="Grund (Code oder Text).", default=None)
    @pass_ctx
    @handle_errors
    def command(ctx: Context, file: Path, reason: str | None) -> None:
        document = read_json(file)
        with records(ctx, AuditAction(f"document.{action}")) as (uow, audit):
            tx = services.change_status(ctx, document, action, reason)
            code = services.parse_reason(reason) if action != "reinstate" else None
            services.record_status_change(uow, str(document.get("id")), action, tx,
                                          reason=code, actor=None)
            audit(str(document.get("id")))
        click.echo(f"{action}: {file} (Transaktion {tx.transaction_hash}, Block {tx.block})")


_status_command("revoke", "Widerruft ein Dokument endgültig.")


_status_command("suspend", "Setzt ein Dokument aus.")


_status_command("reinstate", "Hebt die Aussetzung eines Dokuments auf.")


SYMBOL = {CheckStatus.PASSED: "✓", CheckStatus.FAILED: "✗", CheckStatus.NOT_CHECKED: "–"}
COLOUR = {Status.VALID: "green", Status.UNVERIFIABLE: "yellow"}


def print_result(result: VerificationResult) -> None:
    click.secho(f"{result.status}", fg=COLOUR.get(result.status, "red"), bold=True)
    if result.declaration is not None:  # a landlord's declaration, not the office's own words
        click.echo(declaration_text(result.declaration))
    if result.issuer:
        label = "Eingegangen bei" if result.declaration is not None else "Aussteller"
        click.echo(f"{label}: {result.issuer['name']} (AGS {result.issuer['ags']})")
    for check in result.checks:
        click.echo(f"  {SYMBOL[check.status]} {check.name:10} {check.message}")
    hidden = result.details.get("hiddenFields")
    if isinstance(hidden, int) and hidden > 0 and result.status is not Status.INVALID:
        click.echo(f"{hidden} {'Angabe' if hidden == 1 else 'Angaben'} verborgen (beim Teilen "
                   "ausgeblendet; was sichtbar ist, ist geprüft)")


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Ergebnis als JSON.")
@click.option("--at", help="Prüfzeitpunkt (ISO 8601), Standard: jetzt.")
@pass_ctx
@handle_errors
def verify(ctx: Context, file: Path, as_json: bool, at: str | None) -> None:
    """Prüft ein Dokument. Exit-Code 0 nur bei VALID."""
    result = services.verify(ctx, read_json(file), at)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print_result(result)
    if result.status is Status.UNVERIFIABLE:
        sys.exit(EXIT_UNAVAILABLE)
    if not result.valid:
        sys.exit(EXIT_INVALID)


@main.command("disclose")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--hide", "hide", multiple=True, required=True,
              help="Zu verbergendes Feld, z. B. /halter/geburtsdatum (mehrfach möglich).")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@pass_ctx
@handle_errors
def disclose_cmd(ctx: Context, file: Path, hide: tuple[str, ...], out: Path) -> None:
    """Verbirgt Felder eines Dokuments; der Nachweis bleibt gültig (ohne Ledger, offline).

    Felder, ohne die sich das Dokument nicht prüfen lässt (neverHidden der Dokumentart, z. B. die
    Zeitfenster einer Straßenmusik-Erlaubnis), bleiben sichtbar."""
    document = read_json(file)
    if not isinstance(document, dict):
        raise InputError("Kein ausgestelltes govchain-Dokument (kein JSON-Objekt)")
    write_json(out, services.disclose_document(ctx.usecases, document, hide))
    click.echo(f"{len(hide)} Feld(er) verborgen → {out}")
