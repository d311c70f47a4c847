"""What every command shares: the `main` group with its global options, error handling with exit
codes, JSON files, the settings and database of the service, an audited unit of work."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from govchain.adapters.context import ENV_HOME, ENV_RPC_URL, Context, default_home
from govchain.adapters.db import UnitOfWork
from govchain.bootstrap import open_database
from govchain.domain import strictjson
from govchain.errors import (
    GovchainError,
    InputError,
    KeyUnavailableError,
    LedgerError,
    LedgerUnavailableError,
)
from govchain.pipeline.batches import anchor_now
from govchain.services.audit import AuditAction, Who, record
from govchain.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INVALID = 1  # verification said anything but VALID
EXIT_ERROR = 2  # bad input or refused operation
EXIT_UNAVAILABLE = 3  # ledger (or the keys' HSM) not reachable


def fail(message: str, code: int = EXIT_ERROR) -> None:
    click.secho(f"Fehler: {message}", fg="red", err=True)
    sys.exit(code)


def handle_errors(fn: F) -> F:
    """Turns govchain errors into a message on stderr and a non-zero exit, never a traceback."""
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (LedgerUnavailableError, KeyUnavailableError) as err:
            fail(str(err), EXIT_UNAVAILABLE)
        except GovchainError as err:
            fail(str(err))
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
    home = home or default_home()
    ctx = Context(home=home, rpc_url=rpc_url, usecases_dir=usecases_dir, **_key_token(home))
    click_ctx.obj = ctx
    click_ctx.call_on_close(ctx.close)


def _key_token(home: Path) -> dict[str, Any]:
    """The HSM settings of config.toml (or GOVCHAIN_PKCS11_*), so that the commands make and use
    keys where the service does; a config file with errors is reported by the commands that
    read the settings (Context still reads GOVCHAIN_PKCS11_* itself)."""
    try:
        settings = Settings(home=home)
    except (GovchainError, ValueError):
        return {}
    return {"pkcs11_module": settings.pkcs11_module,
            "pkcs11_token_label": settings.pkcs11_token_label}


def service_settings(ctx: Context, **overrides: Any) -> Settings:
    """The service's settings, with the command line's home and RPC URL and the given options."""
    given = {"home": ctx.home, "rpc_url": ctx.rpc_url, "usecases": ctx.usecases_dir, **overrides}
    return Settings(**{k: v for k, v in given.items() if v is not None})


def cli_who() -> Who:
    """The operator at the command line, as the audit log names them."""
    try:
        actor = f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        actor = "cli"
    return Who(actor, "anonymous")


@contextmanager
def records(ctx: Context, action: AuditAction
            ) -> Iterator[tuple[UnitOfWork, Callable[[str], None]]]:
    """A unit of work on the home's database for a CLI write, with an audit callback.

    The command's changes and its audit entry are committed together; on an error nothing is.
    """
    engine = open_database(service_settings(ctx))
    try:
        with UnitOfWork(engine) as uow:
            def audit(target: str) -> None:
                record(uow, cli_who(), action, target)
            yield uow, audit
            uow.commit()
    finally:
        engine.dispose()


def anchor_and_read(ctx: Context, account: str, document_ids: Sequence[str]
                    ) -> list[dict[str, Any]]:
    """Anchors what the account has waiting, in this process (the steps the service's worker
    takes), and returns the issued documents."""
    engine = open_database(service_settings(ctx))
    try:
        anchor_now(ctx, engine, account)
        with UnitOfWork(engine) as uow:
            docs = []
            for doc_id in document_ids:
                record = uow.documents.get(doc_id)
                if record is None or record.document is None:
                    raise LedgerError(f"Das Dokument {doc_id} wurde nicht verankert")
                docs.append(record.document)
            return docs
    finally:
        engine.dispose()
