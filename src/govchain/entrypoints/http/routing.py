"""The route class of every router: request bodies that FastAPI parses for a body model are read
with `strictjson` (bounded nesting, unique member names, RFC 8785 numbers), never json.loads."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException  # what FastAPI raises for an unreadable body

from govchain.domain import strictjson

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strictjson.loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """FastAPI's documented way to change how a body is read: a custom Request per route."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            try:
                return await handler(StrictJsonRequest(request.scope, request.receive))
            except HTTPException as err:
                # FastAPI turns any error of reading the body into "There was an error parsing
                # the body"; ours says what is wrong, and api/errors.py gives its status.
                if isinstance(err.__cause__, strictjson.JsonInputError):
                    raise err.__cause__ from None
                raise

        return strict_handler
