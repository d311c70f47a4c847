"""`govchain init`, `usecases`, `demo` and `chain deploy`: the home, its use cases and its contracts."""

from __future__ import annotations

from pathlib import Path

import click

from govchain import services
from govchain.adapters.context import Context
from govchain.entrypoints.cli.base import handle_errors, main, pass_ctx, records
from govchain.entrypoints.cli.demo import run_demo
from govchain.services.audit import AuditAction


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


@main.command()
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Schreibt jedes ausgestellte Dokument als JSON-Datei hierhin.")
@pass_ctx
@handle_errors
def demo(ctx: Context, out: Path | None) -> None:
    """Führt alle Fälle vor: ausstellen, prüfen, fälschen, verbergen, aussetzen, widerrufen, …"""
    run_demo(ctx, out)


@main.group()
def chain() -> None:
    """Ledger: Verträge auf einem JSON-RPC-Knoten bereitstellen."""


@chain.command("deploy")
@pass_ctx
@handle_errors
def chain_deploy(ctx: Context) -> None:
    """Stellt die Verträge bereit und schreibt die Deployment-Datei (mit --rpc-url)."""
    dep = services.init_home(ctx)
    with records(ctx, AuditAction.CHAIN_DEPLOY) as (_, audit):
        audit(dep.document_registry)
    click.echo(f"Chain {dep.chain_id}: IssuerRegistry {dep.issuer_registry}, "
               f"DocumentRegistry {dep.document_registry} → {ctx.deployment_file}")
