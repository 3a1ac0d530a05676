"""The check a pooled connection passes before use, against real faults: a backend the server
ends, and a connection a firewall forgot (`tests/faults.py`)."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.db import connection_check
from app.db.session import make_engine
from tests.faults import FaultyProxy

IDLE_SECONDS = 0.3


async def backend(engine: AsyncEngine) -> int:
    """The server process of the pool's connection, on a connection checked out for it."""
    async with engine.connect() as connection:
        pid: int = await connection.scalar(text("SELECT pg_backend_pid()"))
    return pid


def one_connection(settings: Settings, **changes: object) -> AsyncEngine:
    return make_engine(settings.model_copy(update={"db_pool_size": 1, **changes}))


async def test_a_connection_the_server_closed_is_replaced_without_a_ping(
    settings: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection_check, "PING_AFTER_IDLE_SECONDS", 3600)
    pooled = one_connection(settings)
    try:
        ended = await backend(pooled)
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": ended})
        await asyncio.sleep(0.05)  # the close reaches the pool's event loop

        assert await backend(pooled) != ended
    finally:
        await pooled.dispose()


async def test_a_connection_idle_for_long_that_answers_the_ping_is_kept(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection_check, "PING_AFTER_IDLE_SECONDS", IDLE_SECONDS / 3)
    pooled = one_connection(settings)
    try:
        first = await backend(pooled)
        await asyncio.sleep(IDLE_SECONDS)

        assert await backend(pooled) == first
    finally:
        await pooled.dispose()


async def test_a_connection_a_firewall_forgot_is_replaced_after_the_ping(
    settings: Settings, proxy: FaultyProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing closes it: only the ping finds out, before a statement fails on it."""
    monkeypatch.setattr(connection_check, "PING_AFTER_IDLE_SECONDS", IDLE_SECONDS / 3)
    pooled = one_connection(settings, database_url=proxy.url(settings.database_url))
    try:
        forgotten = await backend(pooled)
        proxy.forget()
        await asyncio.sleep(IDLE_SECONDS)

        assert await backend(pooled) != forgotten
    finally:
        await pooled.dispose()
