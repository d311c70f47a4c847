"""`govchain backup` and `govchain restore`: the home and its database in one encrypted file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from govchain.adapters.context import Context
from govchain.entrypoints.cli.base import handle_errors, main, pass_ctx, service_settings
from govchain.errors import InputError
from govchain.services.backup import ENV_BACKUP_PASSPHRASE, create_backup, restore_backup

_PASSPHRASE_HELP = (f"Liest die Passphrase der Sicherung aus der ersten Zeile der "
                    f"Standardeingabe (sonst aus {ENV_BACKUP_PASSPHRASE}).")
_DATABASE_HELP = ("sqlite:///PFAD oder postgresql://BENUTZER@HOST/DATENBANK (Standard: die "
                  "Einstellung des Dienstes, sonst SQLite im govchain-Verzeichnis).")


def _passphrase(from_stdin: bool) -> str:
    passphrase = sys.stdin.readline().rstrip("\r\n") if from_stdin \
        else os.environ.get(ENV_BACKUP_PASSPHRASE, "")
    if not passphrase:
        raise InputError(f"Keine Passphrase für die Sicherung: {ENV_BACKUP_PASSPHRASE} setzen "
                         "oder --passphrase-stdin angeben")
    return passphrase


def _progress(line: str) -> None:
    click.echo(line, err=True)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB".replace(".", ",") if n >= 100_000 else f"{n / 1e3:.0f} kB"


@main.command("backup")
@click.argument("dest", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--database-url", help=_DATABASE_HELP)
@click.option("--passphrase-stdin", is_flag=True, help=_PASSPHRASE_HELP)
@pass_ctx
@handle_errors
def backup(ctx: Context, dest: Path, database_url: str | None, passphrase_stdin: bool) -> None:
    """Schreibt eine verschlüsselte Sicherung nach DEST: die Datenbank (ein einheitlicher Stand,
    auch im laufenden Betrieb), Schlüssel, Deployment, Einstellungen, die eingebettete Chain."""
    settings = service_settings(ctx, database_url=database_url)
    summary = create_backup(settings.home, settings.effective_database_url, dest,
                            _passphrase(passphrase_stdin), _progress)
    click.echo(f"Sicherung {dest} geschrieben: Schema-Stand {summary.revision}, "
               f"{summary.tables} Tabellen, {summary.rows} Zeilen, {summary.files} Dateien, "
               f"{_size(summary.size)}")


@main.command("restore")
@click.argument("src", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--database-url", help=_DATABASE_HELP)
@click.option("--passphrase-stdin", is_flag=True, help=_PASSPHRASE_HELP)
@pass_ctx
@handle_errors
def restore(ctx: Context, src: Path, database_url: str | None, passphrase_stdin: bool) -> None:
    """Stellt eine Sicherung in ein neues govchain-Verzeichnis und eine leere Datenbank wieder
    her (die Datenbank bekommt zuerst den Schema-Stand der Sicherung)."""
    settings = service_settings(ctx, database_url=database_url)
    summary = restore_backup(settings.home, settings.effective_database_url, src,
                             _passphrase(passphrase_stdin), _progress)
    for note in summary.notes:
        click.secho(f"Hinweis: {note}", fg="yellow", err=True)
    click.echo(f"Wiederhergestellt in {settings.home}: Sicherung vom {summary.created}, "
               f"Schema-Stand {summary.revision}, {summary.tables} Tabellen, {summary.rows} "
               f"Zeilen, {summary.files} Dateien")
