from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.user import User

# Built once: every authenticated request runs it.
USER_BY_ID = select(User).where(User.id == bindparam("user_id"))


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    result = await session.execute(USER_BY_ID, {"user_id": user_id})
    return result.scalar_one_or_none()


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email))
    return result.scalar_one_or_none()


def add_user(session: AsyncSession, user: User) -> None:
    session.add(user)
