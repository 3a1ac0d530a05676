"""What every request passes through, in two layers: each layer is paid by every request.

`RequestContext` is outermost: the request's id, the headers every response carries, plain-text
errors made problems, and one access line. `RequestLimits` runs inside CORS and the host check
(its answers carry CORS headers): the body-size limit, the deadline, and a problem for anything
no handler took.
"""

import asyncio
import logging
import re
import secrets
import time

from fastapi import status
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import problem, problem_for_unexpected
from app.core.logs import request_id

# An id a proxy (or client) may choose: short, and nothing that could forge a log line.
VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
NOSNIFF = (b"x-content-type-options", b"nosniff")

access_logger = logging.getLogger("app.access")


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of a header (ASGI names are lower case): no `Headers` object to build."""
    for key, value in headers:
        if key == name:
            return value
    return None


class RequestContext:
    """Gives every request an id, adds the common headers, and logs one access line.

    The id is the `X-Request-ID` a proxy sent when it looks like an id, else a new one; the
    response carries it back, and so does every line logged while serving the request. Browsers
    must not guess a response's type (`nosniff`). Errors that middleware answers in plain text
    (Starlette's host and CORS checks) become problems, so that none escapes the contract.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = header(scope["headers"], b"x-request-id")
        current = sent.decode() if sent and VALID_REQUEST_ID.fullmatch(sent) else new_request_id()
        token = request_id.set(current)
        current_bytes = current.encode()
        # Unless a response starts, the server answers 500 (or the client has gone).
        status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
        plain_error: Message | None = None
        plain_text = b""
        started = time.perf_counter()

        async def send_in_context(message: Message) -> None:
            nonlocal status_code, plain_error, plain_text
            if message["type"] == "http.response.start":
                headers = message["headers"]
                content_type = header(headers, b"content-type") or b""
                if message["status"] >= 400 and content_type.startswith(b"text/plain"):
                    plain_error = message
                    return
                status_code = message["status"]
                headers = [*headers, (b"x-request-id", current_bytes)]
                if header(headers, NOSNIFF[0]) is None:
                    headers.append(NOSNIFF)
                message["headers"] = headers
            elif plain_error is not None and message["type"] == "http.response.body":
                plain_text += message.get("body", b"")
                if message.get("more_body", False):
                    return
                kept = MutableHeaders(raw=list(plain_error["headers"]))
                del kept["content-type"]
                del kept["content-length"]
                answer = problem(plain_error["status"], plain_text.decode(errors="replace"), kept)
                plain_error = None
                await answer(scope, receive, send_in_context)
                return
            await send(message)

        try:
            await self.app(scope, receive, send_in_context)
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


def new_request_id() -> str:
    """128 random bits in hex, as a UUID4 carries, without building a UUID."""
    return secrets.token_hex(16)


def printable(text: str) -> str:
    """A path no route matched is the client's text: it must not start a line of its own."""
    return text if text.isprintable() else text.encode("unicode_escape").decode()


class RequestLimits:
    """413 for a body over `max_body_bytes`; 503 past the deadline or when the database is
    unavailable; a generic 500 for anything else unexpected.

    A declared body too large is refused before it is read, and one that grows past the limit
    as soon as it does. A request that outlives `timeout_seconds` is cancelled: whatever it
    waits for, it may not hang.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope["headers"], b"content-length") or b""
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await problem(status.HTTP_413_CONTENT_TOO_LARGE, self.too_large)(scope, receive, send)
            return
        received = 0
        response_started = False

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, self.too_large)
            return message

        async def send_and_track(message: Message) -> None:
            nonlocal response_started
            response_started |= message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(self.timeout_seconds):
                await self.app(scope, receive_within_limit, send_and_track)
        except Exception as error:
            answer = problem_for_unexpected(error)
            if response_started:
                return  # Too late to answer: the server closes the connection.
            await answer(scope, receive, send)

    @property
    def too_large(self) -> str:
        return f"The request body is larger than {self.max_body_bytes} bytes"
