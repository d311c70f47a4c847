"""`govchain serve`, `govchain users` and `govchain apikeys`: running the municipal service and
managing its accounts. Registered onto the main command group of govchain.entrypoints.cli."""

from __future__ import annotations

import copy
import csv
import getpass
import io
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import Engine

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork, make_engine, upgrade
from govchain.adapters.db.models import ROLES, Role
from govchain.domain import strictjson
from govchain.domain.security import api_key_prefix, hash_password, new_api_key
from govchain.domain.timefmt import parse_time
from govchain.entrypoints.cli import handle_errors, main, pass_ctx
from govchain.errors import InputError, LedgerError
from govchain.pipeline.anchoring import anchor_now
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


class RedactCapabilities(logging.Filter):
    """Keeps capability tokens out of the access log: a link token (/v/…, /verify/…, ?code=) or
    a Zuordnungsmerkmal (/lookup/…, ?code=) in a logged path is replaced by "***"."""

    _SECRET = re.compile(r"(/(?:v|verify|lookup)/|[?&]code=)[^/?&\s\"]+")

    def redact(self, text: str) -> str:
        return self._SECRET.sub(r"\1***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
        record.msg = self.redact(str(record.msg))
        return True


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
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Prozesse, die Anfragen beantworten (je Prozess ein Statusindex); ab 2 "
                   "verankert ein eigener Prozess.")
@pass_ctx
@handle_errors
def serve(ctx: Context, host: str | None, port: int | None, database_url: str | None,
          workers: int) -> None:
    """Startet den Dienst der Kommune (HTTP-API unter /api/v1, Seiten; OpenAPI unter
    /api/v1/openapi.json, mit api_docs = true auch /docs)."""
    import uvicorn

    from govchain.entrypoints.http.app import create_app, open_context

    settings = service_settings(ctx, host=host, port=port, database_url=database_url)
    # Fail here with a clear message (outdated or newer database, missing deployment, no
    # passphrase) rather than with a traceback from inside the server's startup.
    _database(settings).dispose()
    open_context(settings).close()
    options: dict[str, Any] = {"host": settings.host, "port": settings.port,
                               "access_log": settings.access_log, "log_config": _log_config(),
                               # Forwarded headers only from settings.trusted_proxies (the
                               # app's ProxyHeadersMiddleware); uvicorn's own default would
                               # believe any caller on 127.0.0.1
                               "proxy_headers": False, "server_header": False}
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Worker processes build their app from the environment, as under a process supervisor.
    os.environ["GOVCHAIN_HOME"] = str(settings.home)
    for name, value in (("RPC_URL", settings.rpc_url), ("DATABASE_URL", settings.database_url),
                        ("USECASES", settings.usecases), ("HOST", settings.host),
                        ("PORT", settings.port)):
        if value is not None:
            os.environ[f"GOVCHAIN_{name}"] = str(value)
    # The anchoring workers get a process of their own; the request processes only wait.
    from govchain.pipeline.anchoring import AnchoringProcess

    anchoring = AnchoringProcess(settings)
    anchoring.start()
    os.environ["GOVCHAIN_ANCHOR_WORKERS"] = "false"
    try:
        uvicorn.run("govchain.entrypoints.http.app:create_app", factory=True, workers=workers, **options)
    finally:
        anchoring.stop()


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with link tokens and codes redacted from the access log (also in
    worker processes, which configure logging anew)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": RedactCapabilities}
    config["handlers"]["access"]["filters"] = ["redact"]
    return config


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


def anchor_and_read(ctx: Context, account: str, document_ids: Sequence[str]
                    ) -> list[dict[str, Any]]:
    """Anchors what the account has waiting, in this process (the steps the service's worker
    takes), and returns the issued documents."""
    engine = _database(service_settings(ctx))
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


BULK_CHUNK = 1000


def read_bulk_file(ctx: Context, usecase_id: str, path: Path
                   ) -> tuple[list[tuple[int, services.IssueRequest]], list[tuple[int, str]]]:
    """The requests in a JSON Lines file (one subject per line, or {"subject", "validFrom",
    "validUntil"}) or a CSV file (one column per field, named by its JSON Pointer such as
    /halter/name or /meldepflichtigePersonen/0/name, typed by the schema; optional columns
    validFrom and validUntil). Returns (line, request) pairs and (line, message) of the lines
    that could not be read."""
    from govchain.entrypoints.http.web.forms import COUNT_PREFIX, raw_form, subject_from_form

    usecase = ctx.usecases.get(usecase_id)
    requests: list[tuple[int, services.IssueRequest]] = []
    unreadable: list[tuple[int, str]] = []
    text = path.read_text(encoding="utf-8-sig")

    def add(line: int, subject: Any, valid_from: Any, valid_until: Any) -> None:
        try:
            if not isinstance(subject, dict):
                raise InputError("erwartet wird ein JSON-Objekt")
            requests.append((line, services.IssueRequest(
                subject=subject,
                valid_from=parse_time(valid_from) if valid_from else None,
                valid_until=parse_time(valid_until) if valid_until else None)))
        except (InputError, ValueError) as err:
            unreadable.append((line, str(err)))

    if path.suffix.lower() == ".csv":
        for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            valid_from, valid_until = row.pop("validFrom", None), row.pop("validUntil", None)
            fields = raw_form((k.strip(), v) for k, v in row.items()
                              if k and k.strip().startswith("/"))
            for name in list(fields):  # list rows: /a/2/b means the list /a has at least 3
                parts = name.split("/")
                for i, part in enumerate(parts):
                    if part.isdigit() and i > 1:
                        key = COUNT_PREFIX + "/".join(parts[:i])
                        known = int((fields.get(key) or ["0"])[0])
                        fields[key] = [str(max(known, int(part) + 1))]
            try:
                subject = subject_from_form(usecase, fields)
            except (InputError, ValueError) as err:
                unreadable.append((n, str(err)))
                continue
            add(n, subject, valid_from, valid_until)
    else:
        for n, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                item = strictjson.loads(raw)
            except strictjson.JsonInputError as err:  # this line only, as any other bad line
                unreadable.append((n, f"kein JSON: {err}" if err.malformed else str(err)))
                continue
            if isinstance(item, dict) and isinstance(item.get("subject"), dict):
                add(n, item["subject"], item.get("validFrom"), item.get("validUntil"))
            else:
                add(n, item, None, None)
    return requests, unreadable


@main.command("issue-bulk")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ags", required=True, help="Ausstellende Kommune.")
@click.option("--usecase", required=True, help="Dokumentart, z. B. gefaehrlicher-hund.")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="JSON-Lines-Datei für die ausgestellten Dokumente.")
@pass_ctx
@handle_errors
def issue_bulk(ctx: Context, file: Path, ags: str, usecase: str, out: Path) -> None:
    """Stellt viele Dokumente aus einer CSV- oder JSON-Lines-Datei aus und verankert sie.

    Gültige Zeilen werden ausgestellt, fehlerhafte mit Zeile, Feld und Grund gemeldet
    (Exit-Code 1, wenn es solche gibt)."""
    numbered, unreadable = read_bulk_file(ctx, usecase, file)
    line_of = [line for line, _ in numbered]
    requests = [req for _, req in numbered]
    failures: list[tuple[int, str]] = list(unreadable)
    ids: list[str] = []
    with click.progressbar(length=len(requests), label="Prüfen und speichern",
                           file=sys.stderr) as bar:
        for start in range(0, len(requests), BULK_CHUNK):
            chunk = requests[start:start + BULK_CHUNK]
            with records(ctx, "document.issue_bulk") as (uow, audit):
                result = services.accept_valid(ctx, uow, ags, usecase, chunk)
                audit(f"{usecase}: {len(result.accepted)} von {len(chunk)}")
            ids += [doc_id for _, doc_id in result.accepted]
            failures += [(line_of[start + i], "; ".join(f"{p or '/'}: {m}" for p, m in errs))
                         for i, errs in result.rejected]
            bar.update(len(chunk))
    documents: list[dict[str, Any]] = []
    if ids:
        click.echo(f"Verankern von {len(ids)} Dokumenten …", err=True)
        engine = _database(service_settings(ctx))
        try:
            with UnitOfWork(engine) as uow:
                first = uow.documents.get(ids[0])
            assert first is not None and first.account is not None
            documents = anchor_and_read(ctx, first.account, ids)
        finally:
            engine.dispose()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for doc in documents:
            f.write(json.dumps(doc, ensure_ascii=False) + "\n")
    for line, message in sorted(failures):
        click.echo(f"Zeile {line}: {message}", err=True)
    click.echo(f"{len(documents)} ausgestellt und verankert → {out}; {len(failures)} fehlerhaft")
    if failures:
        sys.exit(1)


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
