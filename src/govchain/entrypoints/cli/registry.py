"""`govchain registry …`: the Land authority's register of municipalities and their accounts."""

from __future__ import annotations

import click

from govchain import services
from govchain.adapters.context import Context
from govchain.domain.timefmt import de_unix, parse_time
from govchain.entrypoints.cli.base import fail, handle_errors, main, pass_ctx, records
from govchain.services.audit import AuditAction


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
    with records(ctx, AuditAction.REGISTRY_ADMIT) as (_, audit):
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
    with records(ctx, AuditAction.REGISTRY_SET_USECASES) as (_, audit):
        services.set_doc_types(ctx, ags, usecases)
        audit(ags)
    click.echo(f"{ags}: {', '.join(usecases) or '(keine)'}")


@registry.command("suspend")
@click.option("--ags", required=True)
@pass_ctx
@handle_errors
def registry_suspend(ctx: Context, ags: str) -> None:
    """Sperrt eine Kommune (keine neuen Dokumente)."""
    with records(ctx, AuditAction.REGISTRY_SUSPEND) as (_, audit):
        services.suspend_municipality(ctx, ags)
        audit(ags)
    click.echo(f"{ags} gesperrt")


@registry.command("reactivate")
@click.option("--ags", required=True)
@pass_ctx
@handle_errors
def registry_reactivate(ctx: Context, ags: str) -> None:
    """Hebt die Sperre einer Kommune auf."""
    with records(ctx, AuditAction.REGISTRY_REACTIVATE) as (_, audit):
        services.reactivate_municipality(ctx, ags)
        audit(ags)
    click.echo(f"{ags} wieder aktiv")


@registry.command("add-account")
@click.option("--ags", required=True)
@pass_ctx
@handle_errors
def registry_add_account(ctx: Context, ags: str) -> None:
    """Erzeugt ein neues Ausstellerkonto für eine Kommune (Schlüsselwechsel)."""
    with records(ctx, AuditAction.REGISTRY_ADD_ACCOUNT) as (_, audit):
        address = services.add_issuer_account(ctx, ags)
        audit(address)
    click.echo(address)


@registry.command("retire")
@click.argument("account")
@pass_ctx
@handle_errors
def registry_retire(ctx: Context, account: str) -> None:
    """Legt ein Konto still; seine früheren Dokumente bleiben gültig."""
    with records(ctx, AuditAction.REGISTRY_RETIRE) as (_, audit):
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
    with records(ctx, AuditAction.REGISTRY_COMPROMISE) as (_, audit):
        services.mark_compromised(ctx, account, parse_time(since))
        audit(account)
    click.echo(f"{account} kompromittiert seit {since}")


@registry.group("signing-key")
def signing_key() -> None:
    """Signaturschlüssel der Kommunen (P-256) für W3C-Nachweise: im Ledger eingetragen."""


@signing_key.command("add")
@click.argument("ags")
@pass_ctx
@handle_errors
def signing_key_add(ctx: Context, ags: str) -> None:
    """Erzeugt einen neuen Signaturschlüssel der Kommune und trägt ihn im Ledger ein
    (Schlüsselwechsel, Schritt 1; neue Nachweise werden mit ihm signiert)."""
    with records(ctx, AuditAction.REGISTRY_ADD_SIGNING_KEY) as (_, audit):
        info = services.add_signing_key(ctx, ags)
        audit(info.key_id.hex())
    click.echo(f"Signaturschlüssel {info.key_id.hex()} für {ags} eingetragen")


@signing_key.command("list")
@click.argument("ags")
@pass_ctx
@handle_errors
def signing_key_list(ctx: Context, ags: str) -> None:
    """Zeigt die im Ledger eingetragenen Signaturschlüssel der Kommune."""
    for key in ctx.ledger.signing_keys_of(ags):
        flags = []
        if key.retired_at:
            flags.append(f"stillgelegt {de_unix(key.retired_at)}")
        if key.compromised_since:
            flags.append(f"kompromittiert seit {de_unix(key.compromised_since)}")
        held = "hier vorhanden" if ctx.keys.has_signing_key(key.key_id) else "nicht hier"
        click.echo(f"{key.key_id.hex()}  seit {de_unix(key.added_at)}  {held}"
                   + ("  " + ", ".join(flags) if flags else ""))


@signing_key.command("retire")
@click.argument("key_id")
@pass_ctx
@handle_errors
def signing_key_retire(ctx: Context, key_id: str) -> None:
    """Legt einen Signaturschlüssel still; zuvor erstellte Signaturen bleiben gültig."""
    with records(ctx, AuditAction.REGISTRY_RETIRE_SIGNING_KEY) as (_, audit):
        services.retire_signing_key(ctx, services.parse_key_id(key_id))
        audit(key_id)
    click.echo(f"Signaturschlüssel {key_id} stillgelegt")


@signing_key.command("compromise")
@click.argument("key_id")
@click.option("--since", required=True, help="Seit wann kompromittiert (ISO 8601).")
@pass_ctx
@handle_errors
def signing_key_compromise(ctx: Context, key_id: str, since: str) -> None:
    """Meldet einen Signaturschlüssel als kompromittiert: Signaturen ab diesem Zeitpunkt sind
    ungültig, und das DID-Dokument nennt ihn nicht mehr."""
    with records(ctx, AuditAction.REGISTRY_COMPROMISE_SIGNING_KEY) as (_, audit):
        services.mark_signing_key_compromised(ctx, services.parse_key_id(key_id),
                                              parse_time(since))
        audit(key_id)
    click.echo(f"Signaturschlüssel {key_id} kompromittiert seit {since}")


@registry.command("show")
@click.option("--ags")
@pass_ctx
@handle_errors
def registry_show(ctx: Context, ags: str | None) -> None:
    """Zeigt die zugelassenen Kommunen mit Konten und Dokumentarten."""
    items = [ctx.ledger.municipality(ags)] if ags else ctx.ledger.municipalities()
    for m in items:
        if not m.admitted:
            fail(f"Kommune {ags} ist nicht zugelassen")
        state = "aktiv" if m.active else "gesperrt"
        types = ", ".join(services.doc_type_name(ctx, t) for t in m.doc_types)
        click.echo(f"{m.ags} {m.name} ({state}); Dokumentarten: {types or '-'}")
        for address in m.accounts:
            acc = ctx.ledger.issuer_account(address)
            flags = acc.state.name.lower()
            if acc.compromised_since:
                flags += f", kompromittiert seit {acc.compromised_since}"
            click.echo(f"    {address} ({flags})")
