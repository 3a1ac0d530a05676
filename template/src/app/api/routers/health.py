"""Probes for the orchestrator: liveness does no I/O, readiness checks the database."""

import asyncio
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from app.api.deps import SessionDep

router = APIRouter(prefix="/health", tags=["health"])

# An orchestrator's probe gives up after a few seconds: answer before it does.
READY_TIMEOUT_SECONDS = 2


class HealthRead(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/live")
async def live() -> HealthRead:
    return HealthRead()


@router.get("/ready")
async def ready(session: SessionDep) -> HealthRead:
    """A 503 problem (see `app.api.errors`) when the database does not answer in time."""
    async with asyncio.timeout(READY_TIMEOUT_SECONDS):
        await session.execute(text("SELECT 1"))
    return HealthRead()
