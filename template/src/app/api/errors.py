"""The one error contract: every 4xx and 5xx answer is an RFC 9457 problem.

`application/problem+json` with `type`, `title`, `status`, `detail` and the `request_id` that
its log lines carry; an invalid request also lists `errors` (where, what, why; never the value
sent). Domain errors, FastAPI's own errors, an unavailable database and anything unexpected
become problems here, and nowhere else.
"""

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from app.core.exceptions import (
    AuthenticationError,
    ConflictError,
    DomainError,
    NotFoundError,
    TooManyAttemptsError,
)
from app.core.logs import request_id
from app.db.errors import is_database_unavailable

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# How long a client should wait before retrying while the database is unavailable.
RETRY_AFTER_SECONDS = 5

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    NotFoundError: status.HTTP_404_NOT_FOUND,
    ConflictError: status.HTTP_409_CONFLICT,
    AuthenticationError: status.HTTP_401_UNAUTHORIZED,
    TooManyAttemptsError: status.HTTP_429_TOO_MANY_REQUESTS,
}


class InvalidField(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """Problem details (RFC 9457), the body of every error response."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[InvalidField] | None = None
    request_id: str | None = Field(
        default=None, description="As in the X-Request-ID header and the service's log lines"
    )


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        # ASCII escapes: text a client sent (a lone surrogate, say) cannot break the encoding.
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


def problem(
    status_code: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
    errors: list[InvalidField] | None = None,
) -> ProblemResponse:
    body = Problem(
        title=HTTPStatus(status_code).phrase,
        status=status_code,
        detail=detail,
        request_id=request_id.get(),
    )
    if errors is not None:
        body.errors = errors
    return ProblemResponse(body.model_dump(exclude_none=True), status_code, headers)


def problem_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the problems a route can answer."""
    return {
        code: {
            "model": Problem,
            "description": HTTPStatus(code).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in status_codes
    }


def status_for(error: DomainError) -> int:
    for error_type in type(error).__mro__:
        if error_type in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[error_type]
    return status.HTTP_400_BAD_REQUEST


def unavailable() -> ProblemResponse:
    return problem(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "The database is unavailable; try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def headers_for(error: DomainError) -> dict[str, str] | None:
    if isinstance(error, AuthenticationError):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(error, TooManyAttemptsError):
        return {"Retry-After": str(error.retry_after)}
    return None


async def handle_domain_error(_request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, DomainError)
    return problem(status_for(error), str(error), headers_for(error))


async def handle_http_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, HTTPException)
    detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
    headers = dict(error.headers or {})
    if error.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem(error.status_code, detail, headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method the path answers, not only those of the first route that matched it."""
    return [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.routes
        )
    ]


async def handle_invalid_request(_request: Request, error: Exception) -> ProblemResponse:
    """Where and why, from pydantic; never the input, which may be a password or not encodable."""
    assert isinstance(error, RequestValidationError)
    errors = [
        InvalidField(
            loc=[part if isinstance(part, int) else str(part) for part in item["loc"]],
            msg=item["msg"],
            type=item["type"],
        )
        for item in error.errors()
    ]
    return problem(status.HTTP_422_UNPROCESSABLE_CONTENT, "The request is invalid", errors=errors)


def problem_for_unexpected(error: Exception) -> ProblemResponse:
    """A 503 when the database is unavailable, else a generic 500: for what no handler took.

    Logged here, once, with its traceback; the client gets nothing internal.
    """
    if is_database_unavailable(error):
        logger.warning("Database unavailable: %s", type(error).__name__)
        return unavailable()
    logger.exception("Unhandled error")
    return problem(status.HTTP_500_INTERNAL_SERVER_ERROR, "An unexpected error occurred")


def add_error_handling(app: FastAPI) -> None:
    """Handlers for the errors FastAPI routes raise (`RequestLimits` takes the rest)."""
    app.add_exception_handler(DomainError, handle_domain_error)
    app.add_exception_handler(HTTPException, handle_http_error)
    app.add_exception_handler(RequestValidationError, handle_invalid_request)
