from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import case, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.login_throttle import LoginThrottle

# (kind, key): one row of the table.
ThrottleKey = tuple[str, str]
# (kind, failures in the current window, time left in it)
ThrottleCount = tuple[str, int, timedelta]

# Expired rows deleted at most per failed login: enough to keep up, never a long statement.
EXPIRED_BATCH = 100


async def get_counts(
    session: AsyncSession, keys: Sequence[ThrottleKey], window: timedelta
) -> list[ThrottleCount]:
    window_end = LoginThrottle.window_start + window
    result = await session.execute(
        select(LoginThrottle.kind, LoginThrottle.failures, window_end - func.now()).where(
            tuple_(LoginThrottle.kind, LoginThrottle.key).in_(keys), window_end > func.now()
        )
    )
    return [(kind, failures, left) for kind, failures, left in result]


async def add_failure(
    session: AsyncSession, keys: Sequence[ThrottleKey], window: timedelta
) -> list[ThrottleCount]:
    """One statement: workers counting the same key at once each see their own increment."""
    expired = LoginThrottle.window_start + window <= func.now()
    insert_rows = insert(LoginThrottle).values(
        [{"kind": kind, "key": key, "failures": 1} for kind, key in keys]
    )
    result = await session.execute(
        insert_rows.on_conflict_do_update(
            index_elements=[LoginThrottle.kind, LoginThrottle.key],
            set_={
                "failures": case((expired, 1), else_=LoginThrottle.failures + 1),
                "window_start": case((expired, func.now()), else_=LoginThrottle.window_start),
            },
        ).returning(
            LoginThrottle.kind,
            LoginThrottle.failures,
            LoginThrottle.window_start + window - func.now(),
        )
    )
    return [(kind, failures, left) for kind, failures, left in result]


async def remove(session: AsyncSession, key: ThrottleKey) -> None:
    await session.execute(
        delete(LoginThrottle).where(tuple_(LoginThrottle.kind, LoginThrottle.key) == key)
    )


async def take_back_failure(session: AsyncSession, key: ThrottleKey) -> None:
    await session.execute(
        update(LoginThrottle)
        .where(tuple_(LoginThrottle.kind, LoginThrottle.key) == key, LoginThrottle.failures > 0)
        .values(failures=LoginThrottle.failures - 1)
    )


async def delete_expired(session: AsyncSession, window: timedelta) -> None:
    """Rows locked by a login in progress are skipped, so this never waits for one."""
    expired = (
        select(LoginThrottle.kind, LoginThrottle.key)
        .where(LoginThrottle.window_start < func.now() - window)
        .limit(EXPIRED_BATCH)
        .with_for_update(skip_locked=True)
    )
    await session.execute(
        delete(LoginThrottle).where(tuple_(LoginThrottle.kind, LoginThrottle.key).in_(expired))
    )
