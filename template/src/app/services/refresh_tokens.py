"""Refresh tokens: rotated on every use; a token used twice ends its whole family.

A family is one login and the tokens that replaced each other since. The database keeps
only keyed hashes, so a copy of the table cannot be replayed.
"""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.exceptions import AuthenticationError
from app.core.security import hash_refresh_token, new_refresh_token
from app.models.refresh_token import RefreshToken
from app.repositories import refresh_tokens


class InvalidRefreshTokenError(AuthenticationError):
    message = "Invalid refresh token"


def add_token(
    session: AsyncSession, user_id: int, family_id: UUID, settings: Settings, now: datetime
) -> str:
    token = new_refresh_token()
    row = RefreshToken(
        token_hash=hash_refresh_token(token, settings),
        family_id=family_id,
        user_id=user_id,
        expires_at=now + timedelta(days=settings.refresh_token_ttl_days),
    )
    refresh_tokens.add_refresh_token(session, row)
    return token


async def start_family(session: AsyncSession, user_id: int, settings: Settings) -> str:
    """A login: the first token of a new family."""
    token = add_token(session, user_id, uuid4(), settings, datetime.now(UTC))
    await session.commit()
    return token


async def rotate(session: AsyncSession, token: str, settings: Settings) -> tuple[int, str]:
    """Spend `token` and issue its successor; the user's id and the successor.

    A spent token presented again means that two parties hold it, one of them not its owner:
    the whole family is revoked, and the owner logs in again. Clients must not refresh the
    same token twice at once; the second attempt counts as reuse.
    """
    now = datetime.now(UTC)
    token_hash = hash_refresh_token(token, settings)
    spent = await refresh_tokens.spend(session, token_hash, now)
    if spent is None:
        await refresh_tokens.revoke_family(session, token_hash, now, only_if_spent=True)
        await session.commit()
        raise InvalidRefreshTokenError
    user_id, family_id = spent
    successor = add_token(session, user_id, family_id, settings, now)
    await session.commit()
    return user_id, successor


async def revoke_family(session: AsyncSession, token: str, settings: Settings) -> None:
    """Logout. An unknown or revoked token changes nothing: logging out twice is no error."""
    token_hash = hash_refresh_token(token, settings)
    await refresh_tokens.revoke_family(session, token_hash, datetime.now(UTC))
    await session.commit()


async def revoke_user(session: AsyncSession, user_id: int) -> None:
    """Every family of the user; the caller commits (with the change that calls for it)."""
    await refresh_tokens.revoke_user(session, user_id, datetime.now(UTC))


async def purge(session: AsyncSession, keep_revoked: timedelta) -> int:
    """Delete tokens that can no longer be used; revoked ones after `keep_revoked`, for audit."""
    now = datetime.now(UTC)
    deleted = await refresh_tokens.delete_unusable(session, now, now - keep_revoked)
    await session.commit()
    return deleted
