"""Refresh tokens. Each change is one statement, so the database settles every race."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.refresh_token import RefreshToken


def add_refresh_token(session: AsyncSession, token: RefreshToken) -> None:
    session.add(token)


async def spend(session: AsyncSession, token_hash: str, now: datetime) -> tuple[int, UUID] | None:
    """Mark a usable token spent; its user and family, or None when it was not usable.

    Of two concurrent calls with one token, the second waits for the first's row lock, then
    finds the token spent: exactly one of them gets a row.
    """
    statement = (
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.spent_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(spent_at=now)
        .returning(RefreshToken.user_id, RefreshToken.family_id)
    )
    return (await session.execute(statement)).tuples().one_or_none()


async def revoke_family(
    session: AsyncSession, token_hash: str, now: datetime, *, only_if_spent: bool = False
) -> None:
    """Revoke every token of the family `token_hash` belongs to (none when it is unknown)."""
    family = select(RefreshToken.family_id).where(RefreshToken.token_hash == token_hash)
    if only_if_spent:
        family = family.where(RefreshToken.spent_at.is_not(None))
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id.in_(family), RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_user(session: AsyncSession, user_id: int, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def delete_unusable(session: AsyncSession, now: datetime, revoked_before: datetime) -> int:
    """Delete expired tokens and tokens revoked before `revoked_before`; how many went."""
    statement = (
        delete(RefreshToken)
        .where(or_(RefreshToken.expires_at <= now, RefreshToken.revoked_at < revoked_before))
        .returning(RefreshToken.id)
    )
    return len((await session.scalars(statement)).all())
