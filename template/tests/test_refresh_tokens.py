"""Refresh tokens: rotation, reuse detection, logout, revocation, expiry, storage, purging."""

import asyncio
import hashlib
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI, status
from httpx import AsyncClient, Response
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.security import hash_refresh_token
from app.db.session import get_db
from app.models.refresh_token import RefreshToken
from app.models.user import User
from tests.factories import PASSWORD, create_user

NEW_PASSWORD = "a new and longer passphrase"
PURGE_COMMAND = "app.commands.purge_refresh_tokens"


async def login(client: AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/auth/token", data={"username": email, "password": password})
    assert response.status_code == status.HTTP_200_OK, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(client: AsyncClient, refresh_token: str) -> Response:
    return await client.post("/auth/refresh", json={"refresh_token": refresh_token})


async def logout(client: AsyncClient, refresh_token: str) -> Response:
    return await client.post("/auth/logout", json={"refresh_token": refresh_token})


def assert_refused(response: Response) -> None:
    assert response.status_code == status.HTTP_401_UNAUTHORIZED, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] == "Invalid refresh token"


@pytest.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on connections of their own, whose commits are real (clean up after them)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@pytest.fixture
async def committed_user(
    app: FastAPI, client: AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[User]:
    """A user committed for real, and every request on a connection of its own."""

    async def committed_db() -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            yield session

    async with sessions() as session:
        user = await create_user(session)
        await session.commit()
    app.dependency_overrides[get_db] = committed_db
    try:
        yield user
    finally:
        async with sessions() as session:
            await session.execute(delete(User).where(User.id == user.id))  # and its tokens
            await session.commit()


async def test_token_response_follows_rfc_6749(
    client: AsyncClient, user: User, settings: Settings
) -> None:
    response = await client.post("/auth/token", data={"username": user.email, "password": PASSWORD})

    assert response.status_code == status.HTTP_200_OK
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_ttl_minutes * 60
    assert len(body["refresh_token"]) >= 43  # 256 random bits, URL-safe base64
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


async def test_refresh_rotates_the_pair(client: AsyncClient, user: User) -> None:
    first = await login(client, user.email)

    response = await refresh(client, first["refresh_token"])

    assert response.status_code == status.HTTP_200_OK
    assert response.headers["cache-control"] == "no-store"
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    headers = {"Authorization": f"Bearer {second['access_token']}"}
    assert (await client.get("/users/me", headers=headers)).json()["id"] == user.id
    # The successor works in turn; the spent token does not.
    assert (await refresh(client, second["refresh_token"])).status_code == status.HTTP_200_OK
    assert_refused(await refresh(client, first["refresh_token"]))


async def test_reused_token_revokes_its_family_only(client: AsyncClient, user: User) -> None:
    stolen = (await login(client, user.email))["refresh_token"]
    other_device = (await login(client, user.email))["refresh_token"]
    descendant = (await refresh(client, stolen)).json()["refresh_token"]

    assert_refused(await refresh(client, stolen))

    assert_refused(await refresh(client, descendant))
    assert (await refresh(client, other_device)).status_code == status.HTTP_200_OK


async def test_concurrent_refreshes_of_one_token_let_exactly_one_through(
    client: AsyncClient, committed_user: User, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Two requests on two real connections: a row lock decides, not a read before a write."""
    token = (await login(client, committed_user.email))["refresh_token"]

    responses = await asyncio.gather(*(refresh(client, token) for _ in range(2)))

    codes = sorted(response.status_code for response in responses)
    assert codes == [status.HTTP_200_OK, status.HTTP_401_UNAUTHORIZED]
    async with sessions() as session:
        issued = await session.scalar(
            select(func.count())
            .select_from(RefreshToken)
            .where(RefreshToken.user_id == committed_user.id)
        )
    assert issued == 2  # the login's token and one successor
    # The loser presented a spent token: reuse, so the winner's successor is revoked too.
    (winner,) = [response for response in responses if response.status_code == 200]
    assert_refused(await refresh(client, winner.json()["refresh_token"]))


async def test_logout_revokes_the_family(client: AsyncClient, user: User) -> None:
    first = (await login(client, user.email))["refresh_token"]
    current = (await refresh(client, first)).json()["refresh_token"]

    response = await logout(client, current)

    assert response.status_code == status.HTTP_204_NO_CONTENT
    assert_refused(await refresh(client, current))
    # Logging out again, or with a token nobody issued, is not an error and reveals nothing.
    assert (await logout(client, current)).status_code == status.HTTP_204_NO_CONTENT
    assert (await logout(client, "not-a-token")).status_code == status.HTTP_204_NO_CONTENT


async def test_password_change_revokes_every_family(
    client: AsyncClient, user: User, auth_headers: dict[str, str]
) -> None:
    laptop = (await login(client, user.email))["refresh_token"]
    phone = (await login(client, user.email))["refresh_token"]

    response = await client.post(
        "/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=auth_headers,
    )

    assert response.status_code == status.HTTP_204_NO_CONTENT
    assert_refused(await refresh(client, laptop))
    assert_refused(await refresh(client, phone))
    await login(client, user.email, NEW_PASSWORD)
    old = await client.post("/auth/token", data={"username": user.email, "password": PASSWORD})
    assert old.status_code == status.HTTP_401_UNAUTHORIZED


async def test_password_change_needs_the_current_password(
    client: AsyncClient, user: User, auth_headers: dict[str, str]
) -> None:
    token = (await login(client, user.email))["refresh_token"]

    response = await client.post(
        "/users/me/password",
        json={"current_password": "not the password", "new_password": NEW_PASSWORD},
        headers=auth_headers,
    )

    assert response.status_code == status.HTTP_400_BAD_REQUEST
    assert response.json()["detail"] == "Current password is incorrect"
    assert (await refresh(client, token)).status_code == status.HTTP_200_OK


async def test_password_change_needs_an_access_token(client: AsyncClient) -> None:
    response = await client.post(
        "/users/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == status.HTTP_401_UNAUTHORIZED


async def test_expired_token_is_refused(
    client: AsyncClient, session: AsyncSession, user: User
) -> None:
    token = (await login(client, user.email))["refresh_token"]
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id)
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )

    assert_refused(await refresh(client, token))


@pytest.mark.parametrize("body", [{}, {"refresh_token": ""}, {"refresh_token": "x" * 129}])
async def test_refresh_validates_its_body(client: AsyncClient, body: dict[str, str]) -> None:
    response = await client.post("/auth/refresh", json=body)

    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT


async def test_tokens_are_stored_only_as_keyed_hashes(
    client: AsyncClient, session: AsyncSession, user: User, settings: Settings
) -> None:
    first = (await login(client, user.email))["refresh_token"]
    second = (await refresh(client, first)).json()["refresh_token"]

    result = await session.execute(
        text("SELECT * FROM refresh_tokens WHERE user_id = :id"), {"id": user.id}
    )

    rows = [" ".join(str(value) for value in row) for row in result]
    assert len(rows) == 2
    for token in (first, second):
        assert not any(token in row for row in rows)
        assert not any(hashlib.sha256(token.encode()).hexdigest() in row for row in rows)
        assert sum(hash_refresh_token(token, settings) in row for row in rows) == 1


async def test_purge_command_deletes_expired_and_long_revoked_tokens(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    rows = {
        "live": {},
        "expired": {"expires_at": now - timedelta(minutes=1)},
        "revoked long ago": {"revoked_at": now - timedelta(days=8)},
        "revoked lately": {"revoked_at": now - timedelta(days=1)},
    }
    async with sessions() as session:
        user = await create_user(session)
        for name, columns in rows.items():
            expires_at = columns.pop("expires_at", now + timedelta(days=1))
            row = RefreshToken(token_hash=name, family_id=uuid4(), user_id=user.id, **columns)
            row.expires_at = expires_at
            session.add(row)
        await session.commit()
    try:
        # In an empty folder: the project's .env must not choose the database.
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", PURGE_COMMAND, "--keep-revoked-days", "7"),
            cwd=tmp_path,
            env=os.environ | {"APP_DATABASE_URL": settings.database_url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await process.communicate()
        async with sessions() as session:
            kept = await session.scalars(
                select(RefreshToken.token_hash).where(RefreshToken.user_id == user.id)
            )
            left = set(kept)
    finally:
        async with sessions() as session:
            await session.execute(delete(User).where(User.id == user.id))
            await session.commit()

    assert process.returncode == 0, stderr.decode()
    assert stdout.decode() == "Deleted 2 refresh tokens\n"
    assert left == {"live", "revoked lately"}
