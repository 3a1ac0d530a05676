from fastapi import status
from httpx import AsyncClient

from app.core.config import Settings


async def test_live_does_no_io(client: AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == status.HTTP_200_OK
    assert response.json() == {"status": "ok"}


async def test_ready_checks_the_database(client: AsyncClient) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == status.HTTP_200_OK
    assert response.json() == {"status": "ok"}


async def test_cors_allows_only_configured_origins(client: AsyncClient, settings: Settings) -> None:
    origin = settings.cors_origins[0]
    allowed = await client.get("/health/live", headers={"Origin": origin})
    other = await client.get("/health/live", headers={"Origin": "https://evil.example.com"})

    assert allowed.headers["access-control-allow-origin"] == origin
    assert "access-control-allow-origin" not in other.headers
