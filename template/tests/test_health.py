from collections.abc import AsyncIterator

from fastapi import FastAPI, status
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings, to_driver_url
from app.db.session import get_db, make_engine


async def test_live_does_no_io(client: AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == status.HTTP_200_OK
    assert response.json() == {"status": "ok"}


async def test_ready_checks_the_database(client: AsyncClient) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == status.HTTP_200_OK
    assert response.json() == {"status": "ok"}


async def test_ready_is_503_with_a_safe_message_when_the_database_is_down(
    app: FastAPI, client: AsyncClient, settings: Settings
) -> None:
    nothing_listens = to_driver_url("postgresql://postgres@127.0.0.1:1/app")
    engine = make_engine(settings.model_copy(update={"database_url": nothing_listens}))

    async def broken_db() -> AsyncIterator[AsyncSession]:
        async with AsyncSession(engine) as session:
            yield session

    app.dependency_overrides[get_db] = broken_db
    try:
        response = await client.get("/health/ready")
    finally:
        await engine.dispose()

    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert response.json() == {"detail": "Database unavailable"}
    assert "127.0.0.1" not in response.text


async def test_unknown_host_is_refused(client: AsyncClient) -> None:
    response = await client.get("/health/live", headers={"Host": "evil.example.com"})

    assert response.status_code == status.HTTP_400_BAD_REQUEST


async def test_cors_allows_only_configured_origins(client: AsyncClient, settings: Settings) -> None:
    origin = settings.cors_origins[0]
    allowed = await client.get("/health/live", headers={"Origin": origin})
    other = await client.get("/health/live", headers={"Origin": "https://evil.example.com"})

    assert allowed.headers["access-control-allow-origin"] == origin
    assert "access-control-allow-origin" not in other.headers
