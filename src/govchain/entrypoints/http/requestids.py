"""Request ids: each HTTP request gets one (the caller's X-Request-ID if it is a plain token, else a
new one), answered in the X-Request-ID header, written into the audit entries the request makes
(services.audit.REQUEST_ID) and into the service's JSON log lines (entrypoints.cli.serving), so
an operator can follow one request from the proxy's log to the audit log."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govchain.services.audit import REQUEST_ID

HEADER = b"x-request-id"
_ACCEPTED = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


def request_id_of(scope: Scope) -> str:
    """The caller's X-Request-ID (e.g. from the reverse proxy) if it is a plain token of at most
    64 characters, else a fresh one: nothing else from the caller reaches the logs."""
    for name, value in scope.get("headers", ()):
        if name == HEADER and _ACCEPTED.fullmatch(value):
            return str(value.decode("ascii"))
    return uuid.uuid4().hex


class RequestIds:
    """ASGI middleware: sets REQUEST_ID for the request's context and answers it as a header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k != HEADER]
                message = {**message, "headers": [*headers, (HEADER, request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
