"""Files of many issue requests, as a municipality's own system exports them: JSON Lines (one
subject per line, or {"subject", "validFrom", "validUntil"}) or CSV (one column per field, named by
its JSON Pointer). Each line is read on its own: a bad line is reported with its number and the
others are kept."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from govchain.adapters.context import Context
from govchain.domain import strictjson
from govchain.domain.subject_fields import COUNT_PREFIX, raw_form, subject_from_form
from govchain.domain.timefmt import parse_time
from govchain.errors import InputError
from govchain.services.issuing import IssueRequest


def read_bulk_file(ctx: Context, usecase_id: str, path: Path
                   ) -> tuple[list[tuple[int, IssueRequest]], list[tuple[int, str]]]:
    """The requests in a JSON Lines file (one subject per line, or {"subject", "validFrom",
    "validUntil"}) or a CSV file (one column per field, named by its JSON Pointer such as
    /halter/name or /meldepflichtigePersonen/0/name, typed by the schema; optional columns
    validFrom and validUntil). Returns (line, request) pairs and (line, message) of the lines
    that could not be read."""
    usecase = ctx.usecases.get(usecase_id)
    requests: list[tuple[int, IssueRequest]] = []
    unreadable: list[tuple[int, str]] = []
    text = path.read_text(encoding="utf-8-sig")

    def add(line: int, subject: Any, valid_from: Any, valid_until: Any) -> None:
        try:
            if not isinstance(subject, dict):
                raise InputError("erwartet wird ein JSON-Objekt")
            requests.append((line, IssueRequest(
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
