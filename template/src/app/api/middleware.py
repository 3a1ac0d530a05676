"""What every request passes: its id and access line, a body-size limit, common headers."""

import logging
import re
import time
from uuid import uuid4

from fastapi import status
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import problem
from app.core.logs import request_id

REQUEST_ID_HEADER = "X-Request-ID"
# An id a proxy (or client) may choose: short, and nothing that could forge a log line.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

access_logger = logging.getLogger("app.access")


class RequestLog:
    """Gives every request an id, and logs one access line for it once it is answered.

    The id is the `X-Request-ID` a proxy sent when it looks like an id, else a new one. The
    response carries it back, and every line logged while serving the request carries it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        current = sent if VALID_REQUEST_ID.fullmatch(sent) else uuid4().hex
        token = request_id.set(current)
        # Unless a response starts, the server answers 500 (or the client has gone).
        status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = current
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            # The route's template (`/items/{item_id}`): ids stay out, lines group by route.
            path = getattr(scope.get("route"), "path", None) or printable(scope["path"])
            access_logger.info(
                "%s %s %s %.1f ms",
                scope["method"],
                path,
                status_code,
                duration_ms,
                extra={
                    "method": scope["method"],
                    "path": path,
                    "status": status_code,
                    "duration_ms": duration_ms,
                },
            )
            request_id.reset(token)


def printable(text: str) -> str:
    """A path no route matched is the client's text: it must not start a line of its own."""
    return text if text.isprintable() else text.encode("unicode_escape").decode()


class LimitBodySize:
    """413 for bodies over `max_bytes`: at once when declared, else as soon as they grow past it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"The request body is larger than {self.max_bytes} bytes"
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await problem(status.HTTP_413_CONTENT_TOO_LARGE, too_large)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, too_large)
            return message

        await self.app(scope, receive_within_limit, send)


class SecurityHeaders:
    """Browsers must not guess a response's type (`X-Content-Type-Options: nosniff`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("X-Content-Type-Options", "nosniff")
            await send(message)

        await self.app(scope, receive, send_with_headers)
