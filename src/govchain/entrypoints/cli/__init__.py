"""The `govchain` command line: registrar, issuer and verifier commands over the service layer."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from govchain import services
from govchain.adapters.context import ENV_HOME, ENV_RPC_URL, Context, default_home
from govchain.domain import strictjson
from govchain.domain.timefmt import parse_time
from govchain.domain.verification import CheckStatus, Status, VerificationResult
from govchain.errors import GovchainError, InputError, LedgerUnavailableError
from govchain.presentation.display import declaration_text

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INVALID = 1  # verification said anything but VALID
EXIT_ERROR = 2  # bad input or refused operation
EXIT_UNAVAILABLE = 3  # ledger not reachable


def _fail(message: str, code: int = EXIT_ERROR) -> None:
    click.secho(f"Fehler: {message}", fg="red", err=True)
    sys.exit(code)


def handle_errors(fn: F) -> F:
    """Turns govchain errors into a message on stderr and a non-zero exit, never a traceback."""
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LedgerUnavailableError as err:
            _fail(str(err), EXIT_UNAVAILABLE)
        except GovchainError as err:
            _fail(str(err))
    return wrapper  # type: ignore[return-value]


def read_json(path: Path) -> Any:
    """The JSON in a file given on the command line, read as strictly as a request body."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"Datei {path} nicht lesbar: {err.strerror}") from err
    try:
        return strictjson.loads(data)
    except strictjson.JsonInputError as err:
        raise strictjson.JsonInputError(f"Datei {path}: {err}", malformed=err.malformed) from None


def write_json(path: Path, data: Any) -> None:
    """Writes atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--home", type=click.Path(path_type=Path), envvar=ENV_HOME,
              help="govchain-Verzeichnis (Standard: ~/.govchain).")
@click.option("--rpc-url", envvar=ENV_RPC_URL,
              help="JSON-RPC-Knoten statt der eingebetteten Chain.")
@click.option("--usecases", "usecases_dir", type=click.Path(path_type=Path, file_okay=False),
              envvar="GOVCHAIN_USECASES", help="Ordner mit den Dokumentarten.")
@click.version_option(package_name="govchain")
@click.pass_context
def main(click_ctx: click.Context, home: Path | None, rpc_url: str | None,
         usecases_dir: Path | None) -> None:
    """govchain: prüfbare Verwaltungsdokumente der Kommunen in NRW."""
    ctx = Context(home=home or default_home(), rpc_url=rpc_url, usecases_dir=usecases_dir)
    click_ctx.obj = ctx
    click_ctx.call_on_close(ctx.close)


@main.command()
@pass_ctx
@handle_errors
def init(ctx: Context) -> None:
    """Legt das Verzeichnis an und stellt die Verträge bereit (eingebettete Chain oder --rpc-url)."""
    dep = services.init_home(ctx)
    click.echo(f"govchain-Verzeichnis: {ctx.home}")
    click.echo(f"Chain {dep.chain_id}: IssuerRegistry {dep.issuer_registry}, "
               f"DocumentRegistry {dep.document_registry}")


@main.command("usecases")
@pass_ctx
@handle_errors
def list_usecases(ctx: Context) -> None:
    """Listet die Dokumentarten."""
    for uc in ctx.usecases.all():
        click.echo(f"{uc.id:28} {uc.title['de']}")


# -- registrar ----------------------------------------------------------------------------------

@main.group()
def registry() -> None:
    """Landesbehörde: Kommunen zulassen und ihre Konten verwalten."""


@registry.command("admit")
@click.option("--ags", required=True, help="Amtlicher Gemeindeschlüssel (8 Ziffern).")
@click.option("--name", required=True, help="Name der Kommune.")
@click.option("--usecase", "usecases", multiple=True, required=True,
              help="Zugelassene Dokumentart (mehrfach möglich).")
@click.option("--accounts", default=1, show_default=True, help="Anzahl neuer Ausstellerkonten.")
@pass_ctx
@handle_errors
def registry_admit(ctx: Context, ags: str, name: str, usecases: tuple[str, ...],
                   accounts: int) -> None:
    """Lässt eine Kommune zu."""
    from govchain.entrypoints.cli.service import records

    with records(ctx, "registry.admit") as (_, audit):
        addresses = services.admit_municipality(ctx, ags, name, usecases, accounts)
        audit(ags)
    click.echo(f"{name} ({ags}) zugelassen; Konten: {', '.join(addresses)}")


@registry.command("set-types")
@click.option("--ags", required=True)
@click.option("--usecase", "usecases", multiple=True)
@pass_ctx
@handle_errors
def registry_set_types(ctx: Context, ags: str, usecases: tuple[str, ...]) -> None:
    """Legt die Dokumentarten einer Kommune neu fest."""
    from govchain.entrypoints.cli.service import records

    with records(ctx, "registry.set-usecases") as (_, audit):
        services.set_doc_types(ctx, ags, usecases)
        audit(ags)
    click.echo(f"{ags}: {', '.join(usecases) or '(keine)'}")


@registry.command("suspend")
@click.option("--ags", required=True)
@pass_ctx
@handle_errors
def registry_suspend(ctx: Context, ags: str) -> None:
    """Sperrt eine Kommune (keine neuen Dokumente)."""
    from govchain.entrypoints.cli.service import records

    with records(ctx, "registry.suspend") as (_, audit):
        services.suspend_municipality(ctx, ags)
        audit(ags)
    click.echo(f"{ags} gesperrt")


@registry.command("reactivate")
@click.option("--ags", required=True)
@pass_ctx
@handle_errors
def registry_reactivate(ctx: Context, ags: str) -> None:
    """Hebt die Sperre einer Kommune auf."""
    from govchain.entrypoints.cli.service import records

    with records(ctx, "registry.reactivate") as (_, audit):
        services.reactivate_municipality(ctx, ags)
        audit(ags)
    click.echo(f"{ags} wieder aktiv")


@registry.command("add-account")
@click.option("--ags", required=True)
@pass_ctx
@handle_errors
def registry_add_account(ctx: Context, ags: str) -> None:
    """Erzeugt ein neues Ausstellerkonto für eine Kommune (Schlüsselwechsel)."""
    from govchain.entrypoints.cli.service import records

    with records(ctx, "registry.add-account") as (_, audit):
        address = services.add_issuer_account(ctx, ags)
        audit(address)
    click.echo(address)


@registry.command("retire")
@click.argument("account")
@pass_ctx
@handle_errors
def registry_retire(ctx: Context, account: str) -> None:
    """Legt ein Konto still; seine früheren Dokumente bleiben gültig."""
    from govchain.entrypoints.cli.service import records

    with records(ctx, "registry.retire") as (_, audit):
        services.retire_account(ctx, account)
        audit(account)
    click.echo(f"{account} stillgelegt")


@registry.command("compromise")
@click.argument("account")
@click.option("--since", required=True, help="Seit wann kompromittiert (ISO 8601).")
@pass_ctx
@handle_errors
def registry_compromise(ctx: Context, account: str, since: str) -> None:
    """Meldet ein Konto als kompromittiert seit einem Zeitpunkt."""
    from govchain.entrypoints.cli.service import records

    with records(ctx, "registry.compromise") as (_, audit):
        services.mark_compromised(ctx, account, parse_time(since))
        audit(account)
    click.echo(f"{account} kompromittiert seit {since}")


@registry.command("show")
@click.option("--ags")
@pass_ctx
@handle_errors
def registry_show(ctx: Context, ags: str | None) -> None:
    """Zeigt die zugelassenen Kommunen mit Konten und Dokumentarten."""
    items = [ctx.ledger.municipality(ags)] if ags else ctx.ledger.municipalities()
    for m in items:
        if not m.admitted:
            _fail(f"Kommune {ags} ist nicht zugelassen")
        state = "aktiv" if m.active else "gesperrt"
        types = ", ".join(services.doc_type_name(ctx, t) for t in m.doc_types)
        click.echo(f"{m.ags} {m.name} ({state}); Dokumentarten: {types or '-'}")
        for address in m.accounts:
            acc = ctx.ledger.issuer_account(address)
            flags = acc.state.name.lower()
            if acc.compromised_since:
                flags += f", kompromittiert seit {acc.compromised_since}"
            click.echo(f"    {address} ({flags})")


# -- issuers ------------------------------------------------------------------------------------

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
    from govchain.entrypoints.cli.service import anchor_and_read, records

    with records(ctx, "document.issue") as (uow, audit):
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
        from govchain.entrypoints.cli.service import records

        document = read_json(file)
        with records(ctx, f"document.{action}") as (uow, audit):
            tx = services.change_status(ctx, document, action, reason)
            code = services.parse_reason(reason) if action != "reinstate" else None
            services.record_status_change(uow, str(document.get("id")), action, tx,
                                          reason=code, actor=None)
            audit(str(document.get("id")))
        click.echo(f"{action}: {file} (Transaktion {tx.transaction_hash}, Block {tx.block})")


_status_command("revoke", "Widerruft ein Dokument endgültig.")
_status_command("suspend", "Setzt ein Dokument aus.")
_status_command("reinstate", "Hebt die Aussetzung eines Dokuments auf.")


# -- holders and verifiers ----------------------------------------------------------------------

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


@main.command()
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Schreibt jedes ausgestellte Dokument als JSON-Datei hierhin.")
@pass_ctx
@handle_errors
def demo(ctx: Context, out: Path | None) -> None:
    """Führt alle Fälle vor: ausstellen, prüfen, fälschen, verbergen, aussetzen, widerrufen, …"""
    from govchain.entrypoints.cli.demo import run_demo

    run_demo(ctx, out)
from govchain.entrypoints.cli import service  # noqa: E402,F401
