"""Probes for the orchestrator: liveness does no I/O, readiness checks the database."""

from typing import Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.api.deps import SessionDep

router = APIRouter(prefix="/health", tags=["health"])


class HealthRead(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/live")
async def live() -> HealthRead:
    return HealthRead()


@router.get("/ready", responses={status.HTTP_503_SERVICE_UNAVAILABLE: {}})
async def ready(session: SessionDep) -> HealthRead:
    try:
        await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as error:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE, detail="Database unavailable"
        ) from error
    return HealthRead()
