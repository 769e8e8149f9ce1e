"""JSON request bodies, decoded once by models.inputs.load_json before any model sees them.

What no field can hold (a NUL character, an unpaired surrogate, nesting past JSON_DEPTH_MAX, an integer past 64
bits, NaN or Infinity) is a 422 naming where it is, in the shape of FastAPI's own validation errors; a body that
is not JSON at all is left to FastAPI, which answers it as before. Every router is made with
`route_class=CheckedJSONRoute` (FastAPI's documented way to customise how a route reads its body).
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from api.errors import UnprocessableEntity
from models.safe_json import JSONRefused, load_json


def is_json(content_type: str | None) -> bool:
    """The media types FastAPI reads a body as JSON for."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class _CheckedJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = load_json(await self.body())
        return self._json


class CheckedJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:  # reads no JSON body (an upload, an import) or none at all
            return handler

        async def checked(request: Request) -> Response:
            request = _CheckedJSONRequest(request.scope, request.receive)
            if is_json(request.headers.get("content-type")):
                try:
                    await request.json()  # FastAPI's own call then reads the decoded value
                except JSONRefused as exc:
                    error = {"type": exc.kind, "loc": ["body", *exc.path], "msg": str(exc)}
                    raise UnprocessableEntity([error]) from None
                except ValueError:
                    pass  # not JSON (or not UTF-8): FastAPI decodes it again and answers as it always has
            return await handler(request)

        return checked
