"""The human verification page behind a link (``/v/{token}``): plain HTML for now."""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from govchain import services
from govchain.api.deps import ContextDep, UoWDep, limit_public
from govchain.verification import Status

router = APIRouter(tags=["pages"], include_in_schema=False)

STATUS_WORDS: dict[Status, str] = {
    Status.VALID: "GÜLTIG",
    Status.INVALID: "UNGÜLTIG",
    Status.REVOKED: "WIDERRUFEN",
    Status.SUSPENDED: "AUSGESETZT",
    Status.EXPIRED: "ABGELAUFEN",
    Status.NOT_YET_VALID: "NOCH NICHT GÜLTIG",
    Status.UNVERIFIABLE: "NICHT PRÜFBAR",
}

# The token is in the address: no caching, no referrer, no search engine.
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex", "Content-Security-Policy": "default-src 'none'"}


def _fields(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(JSON Pointer, shown value) for each leaf of the disclosed subject."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _fields(child, f"{path}/{key}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _fields(child, f"{path}/{i}")
    elif value is not None:  # None: an element hidden from a list
        shown = {True: "ja", False: "nein"}.get(value, value) if isinstance(value, bool) else value
        yield path, str(shown)


def render(result: dict[str, Any], document: dict[str, Any] | None) -> str:
    status = Status(result["status"])
    parts = ["<!doctype html>", '<html lang="de"><head><meta charset="utf-8">',
             "<title>Prüfergebnis</title></head><body>",
             f"<h1>{escape(STATUS_WORDS[status])}</h1>"]
    issuer = result.get("issuer")
    if issuer:
        parts.append(f"<p>Ausgestellt von {escape(issuer.get('name', ''))} "
                     f"(AGS {escape(issuer.get('ags', ''))})</p>")
    parts.append("<h2>Prüfungen</h2><ul>")
    parts += [f"<li>{escape(c['name'])}: {escape(c['status'])} – {escape(c['message'])}</li>"
              for c in result["checks"]]
    parts.append("</ul>")
    subject = document.get("credentialSubject") if document else None
    if isinstance(subject, dict):
        parts.append("<h2>Angaben</h2><dl>")
        parts += [f"<dt>{escape(path)}</dt><dd>{escape(value)}</dd>"
                  for path, value in _fields(subject)]
        parts.append("</dl>")
    parts.append("</body></html>")
    return "\n".join(parts)


@router.get("/v/{token}", response_class=HTMLResponse, dependencies=[Depends(limit_public)])
def verification_page(token: str, ctx: ContextDep, uow: UoWDep) -> HTMLResponse:
    checked = services.verify_link(ctx, uow, token)
    code = 503 if checked.result.status is Status.UNVERIFIABLE else 200
    return HTMLResponse(render(checked.result.to_json(), checked.document), status_code=code,
                        headers=_HEADERS)
