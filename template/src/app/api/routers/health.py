"""Probes for the orchestrator: liveness does no I/O, readiness checks the database."""

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

router = APIRouter(prefix="/health", tags=["health"])

# An orchestrator's probe gives up after a few seconds: answer before it does.
READY_TIMEOUT_SECONDS = 2


class HealthRead(BaseModel):
    status: Literal["ok"] = "ok"


async def select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def forget(check: asyncio.Task[None]) -> None:
    if not check.cancelled():
        check.exception()  # retrieved: asyncio does not report it as lost


@router.get("/live")
async def live() -> HealthRead:
    return HealthRead()


@router.get("/ready")
async def ready(request: Request) -> HealthRead:
    """A 503 problem (see `app.api.errors`) when the database does not answer in time.

    The check is left to finish on its own: a driver may take longer to give up on a server
    that does not answer (psycopg tries to cancel the query first), and the probe may not wait.
    """
    check = asyncio.ensure_future(select_one(request.app.state.engine))
    try:
        await asyncio.wait_for(asyncio.shield(check), READY_TIMEOUT_SECONDS)
    except TimeoutError:
        check.cancel()
        check.add_done_callback(forget)
        raise
    return HealthRead()
