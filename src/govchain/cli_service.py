"""`govchain serve`, `govchain users` and `govchain apikeys`: running the municipal service and
managing its accounts. Registered onto the main command group of govchain.cli."""

from __future__ import annotations

import getpass
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.engine import Engine

from govchain import services
from govchain.cli import handle_errors, main, pass_ctx
from govchain.context import Context
from govchain.db import UnitOfWork, make_engine, upgrade
from govchain.db.models import ROLES, Role
from govchain.errors import InputError
from govchain.security import api_key_prefix, hash_password, new_api_key
from govchain.settings import Settings

MIN_PASSWORD_LENGTH = 12
_AGS = re.compile(r"\d{8}")


def service_settings(ctx: Context, **overrides: Any) -> Settings:
    """The service's settings, with the command line's home and RPC URL and the given options."""
    given = {"home": ctx.home, "rpc_url": ctx.rpc_url, "usecases": ctx.usecases_dir, **overrides}
    return Settings(**{k: v for k, v in given.items() if v is not None})


def _database(settings: Settings) -> Engine:
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    return engine


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


@main.command()
@click.option("--host", help="Adresse, an der der Dienst lauscht (Standard: 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (Standard: 8000).")
@click.option("--database-url", help="sqlite:///PFAD oder postgresql://BENUTZER@HOST/DATENBANK "
              "(Standard: SQLite im govchain-Verzeichnis).")
@pass_ctx
@handle_errors
def serve(ctx: Context, host: str | None, port: int | None, database_url: str | None) -> None:
    """Startet den Dienst der Kommune (HTTP-API unter /api/v1, Dokumentation unter /docs)."""
    import uvicorn

    from govchain.api.app import create_app, open_context

    settings = service_settings(ctx, host=host, port=port, database_url=database_url)
    # Fail here with a clear message (outdated or newer database, missing deployment, no
    # passphrase) rather than with a traceback from inside the server's startup.
    _database(settings).dispose()
    open_context(settings).close()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                proxy_headers=True, server_header=False)


@main.group()
def users() -> None:
    """Benutzerkonten des Dienstes (Registrierungsstelle, Sachbearbeitung, Wohnungsgeber)."""


@users.command("add")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--username", required=True)
@click.option("--municipality", help="AGS der Kommune (8 Ziffern); nur und immer für clerk.")
@click.option("--display-name", help="Angezeigter Name (Standard: der Benutzername).")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Liest das Passwort (mindestens 12 Zeichen) von der Standardeingabe.")
@click.option("--database-url", help="Standard: SQLite im govchain-Verzeichnis.")
@pass_ctx
@handle_errors
def users_add(ctx: Context, role: Role, username: str, municipality: str | None,
              display_name: str | None, password_stdin: bool, database_url: str | None) -> None:
    """Legt ein Benutzerkonto an; das Passwort kommt von der Standardeingabe."""
    if role == "clerk" and (municipality is None or not _AGS.fullmatch(municipality)):
        raise InputError("Sachbearbeiter (--role clerk) brauchen --municipality mit dem "
                         "8-stelligen Gemeindeschlüssel (AGS), z. B. 05334002")
    if role != "clerk" and municipality is not None:
        raise InputError(f"--municipality gilt nur für die Rolle clerk, nicht für {role}")
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen lang sein")
    engine = _database(service_settings(ctx, database_url=database_url))
    try:
        with UnitOfWork(engine) as uow:
            user = uow.users.add(username=username, password_hash=hash_password(password),
                                 role=role, municipality_ags=municipality,
                                 display_name=(display_name or username).strip())
            uow.audit.append(actor=_cli_actor(), actor_kind="anonymous", action="user.add",
                             target=f"user:{user.id}",
                             detail={"username": user.username, "role": role,
                                     "municipality": municipality, "via": "cli"})
            uow.commit()
    finally:
        engine.dispose()
    where = f" der Kommune {municipality}" if municipality else ""
    click.echo(f"Benutzer {user.username} ({role}{where}) angelegt, ID {user.id}")


@main.group()
def apikeys() -> None:
    """API-Schlüssel institutioneller Prüfer (z. B. Polizei)."""


@apikeys.command("create")
@click.option("--name", required=True, help="Wem der Schlüssel gehört, z. B. „Polizei Aachen“.")
@click.option("--database-url", help="Standard: SQLite im govchain-Verzeichnis.")
@pass_ctx
@handle_errors
def apikeys_create(ctx: Context, name: str, database_url: str | None) -> None:
    """Erzeugt einen API-Schlüssel und zeigt ihn einmalig an (gespeichert wird nur sein Hash)."""
    if not name.strip():
        raise InputError("--name darf nicht leer sein")
    key, key_hash = new_api_key()
    engine = _database(service_settings(ctx, database_url=database_url))
    try:
        with UnitOfWork(engine) as uow:
            record = uow.api_keys.add(name=name.strip(), prefix=api_key_prefix(key),
                                      key_hash=key_hash)
            uow.audit.append(actor=_cli_actor(), actor_kind="anonymous", action="apikey.create",
                             target=f"api_key:{record.id}",
                             detail={"name": record.name, "prefix": record.prefix, "via": "cli"})
            uow.commit()
    finally:
        engine.dispose()
    click.echo(f"API-Schlüssel {record.id} für {record.name} – wird nur jetzt angezeigt:", err=True)
    click.echo(key)


@contextmanager
def records(ctx: Context, action: str) -> Iterator[tuple[UnitOfWork, Callable[[str], None]]]:
    """A unit of work on the home's database for a CLI write, with an audit callback.

    The command's changes and its audit entry are committed together; on an error nothing is.
    """
    engine = _database(service_settings(ctx))
    try:
        with UnitOfWork(engine) as uow:
            def audit(target: str) -> None:
                uow.audit.append(actor=_cli_actor(), actor_kind="anonymous", action=action,
                                 target=target)
            yield uow, audit
            uow.commit()
    finally:
        engine.dispose()


@main.group()
def chain() -> None:
    """Ledger: Verträge auf einem JSON-RPC-Knoten bereitstellen."""


@chain.command("deploy")
@pass_ctx
@handle_errors
def chain_deploy(ctx: Context) -> None:
    """Stellt die Verträge bereit und schreibt die Deployment-Datei (mit --rpc-url)."""
    dep = services.init_home(ctx)
    with records(ctx, "chain.deploy") as (_, audit):
        audit(dep.document_registry)
    click.echo(f"Chain {dep.chain_id}: IssuerRegistry {dep.issuer_registry}, "
               f"DocumentRegistry {dep.document_registry} → {ctx.deployment_file}")
