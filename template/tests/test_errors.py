"""The error contract: every error is a problem, nothing internal leaks, bodies are bounded."""

import logging
from collections.abc import AsyncIterator

import pytest
from fastapi import status
from httpx import ASGITransport, AsyncClient

from app.core.config import Settings
from app.main import create_app
from tests.conftest import problem_detail

SECRET_DETAIL = "connection to 10.0.0.7 failed for password=hunter2"


@pytest.fixture
async def test_routes_client(settings: Settings) -> AsyncIterator[AsyncClient]:
    """The app with two routes of the test's own: one that fails, one that reads a body."""
    app = create_app(settings)

    @app.get("/fails")
    async def fails() -> None:
        raise RuntimeError(SECRET_DETAIL)

    @app.post("/echo")
    async def echo(payload: dict[str, str]) -> dict[str, str]:
        return payload

    @app.get("/echo")
    async def echo_nothing() -> dict[str, str]:
        return {}

    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield client


async def test_unknown_route_is_a_404_problem(client: AsyncClient) -> None:
    response = await client.get("/nowhere")

    assert problem_detail(response, status.HTTP_404_NOT_FOUND) == "Not Found"


async def test_wrong_method_is_a_405_problem_that_says_what_is_allowed(
    client: AsyncClient,
) -> None:
    response = await client.delete("/health/live")

    assert problem_detail(response, status.HTTP_405_METHOD_NOT_ALLOWED) == "Method Not Allowed"
    assert response.headers["allow"] == "GET"


async def test_405_allows_every_method_of_the_path(test_routes_client: AsyncClient) -> None:
    response = await test_routes_client.put("/echo")

    problem_detail(response, status.HTTP_405_METHOD_NOT_ALLOWED)
    assert response.headers["allow"] == "GET, POST"


async def test_unknown_host_is_a_400_problem(client: AsyncClient) -> None:
    response = await client.get("/health/live", headers={"Host": "evil.example.com"})

    assert problem_detail(response, status.HTTP_400_BAD_REQUEST) == "Invalid host header"


async def test_preflight_from_another_origin_is_a_400_problem(client: AsyncClient) -> None:
    headers = {"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"}

    response = await client.options("/health/live", headers=headers)

    assert problem_detail(response, status.HTTP_400_BAD_REQUEST) == "Disallowed CORS origin"


@pytest.mark.parametrize("path", ["/health/live", "/nowhere"])
async def test_no_response_may_be_sniffed(client: AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.headers["x-content-type-options"] == "nosniff"


async def test_unexpected_error_is_a_generic_500_logged_once_with_its_traceback(
    test_routes_client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = await test_routes_client.get("/fails")

    detail = problem_detail(response, status.HTTP_500_INTERNAL_SERVER_ERROR)
    assert detail == "An unexpected error occurred"
    assert "hunter2" not in response.text
    assert "10.0.0.7" not in response.text
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert SECRET_DETAIL in str(errors[0].exc_info[1])


async def test_declared_body_over_the_limit_is_413_before_it_is_read(
    test_routes_client: AsyncClient, settings: Settings
) -> None:
    size = settings.max_request_body_bytes + 1

    response = await test_routes_client.post(
        "/echo", content=b"{}", headers={"Content-Length": str(size)}
    )

    assert f"larger than {settings.max_request_body_bytes} bytes" in problem_detail(
        response, status.HTTP_413_CONTENT_TOO_LARGE
    )


async def test_streamed_body_over_the_limit_is_413(
    test_routes_client: AsyncClient, settings: Settings
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": "'
        for _ in range(settings.max_request_body_bytes // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    response = await test_routes_client.post("/echo", content=chunks())

    problem_detail(response, status.HTTP_413_CONTENT_TOO_LARGE)


async def test_invalid_json_is_a_422_problem_that_names_the_place(
    test_routes_client: AsyncClient,
) -> None:
    response = await test_routes_client.post(
        "/echo", content=b'{"a": ', headers={"Content-Type": "application/json"}
    )

    assert problem_detail(response, status.HTTP_422_UNPROCESSABLE_CONTENT) == (
        "The request is invalid"
    )
    assert response.json()["errors"][0]["type"] == "json_invalid"


async def test_invalid_fields_are_listed_without_the_values_sent(
    test_routes_client: AsyncClient,
) -> None:
    response = await test_routes_client.post("/echo", json={"password": ["s3cret-value"]})

    problem_detail(response, status.HTTP_422_UNPROCESSABLE_CONTENT)
    assert response.json()["errors"] == [
        {
            "loc": ["body", "password"],
            "msg": "Input should be a valid string",
            "type": "string_type",
        }
    ]
    assert "s3cret-value" not in response.text
