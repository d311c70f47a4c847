"""`govchain issue-bulk`: many documents from a CSV or JSON Lines file, in chunks, with progress."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.bootstrap import open_database
from govchain.entrypoints.cli.base import (
    anchor_and_read,
    handle_errors,
    main,
    pass_ctx,
    records,
    service_settings,
)
from govchain.services.audit import AuditAction
from govchain.services.bulk_files import read_bulk_file

BULK_CHUNK = 1000


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
            with records(ctx, AuditAction.DOCUMENT_ISSUE_BULK) as (uow, audit):
                result = services.accept_valid(ctx, uow, ags, usecase, chunk)
                audit(f"{usecase}: {len(result.accepted)} von {len(chunk)}")
            ids += [doc_id for _, doc_id in result.accepted]
            failures += [(line_of[start + i], "; ".join(f"{p or '/'}: {m}" for p, m in errs))
                         for i, errs in result.rejected]
            bar.update(len(chunk))
    documents: list[dict[str, Any]] = []
    if ids:
        click.echo(f"Verankern von {len(ids)} Dokumenten …", err=True)
        engine = open_database(service_settings(ctx))
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
