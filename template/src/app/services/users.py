from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.exceptions import AuthenticationError, ConflictError, DomainError
from app.core.security import hash_password, password_hash, verify_password
from app.models.user import User
from app.repositories import users
from app.schemas.user import PasswordChange, UserCreate
from app.services import refresh_tokens

# Checked against when the e-mail is unknown, so that a miss costs as much as a wrong password.
UNKNOWN_USER_HASH = password_hash.hash("an unknown user's password")


class EmailAlreadyRegisteredError(ConflictError):
    message = "Email already registered"


class InvalidCredentialsError(AuthenticationError):
    message = "Incorrect email or password"


class WrongCurrentPasswordError(DomainError):
    """Not a 401: the access token is fine, the password typed is not."""

    message = "Current password is incorrect"


async def register_user(session: AsyncSession, data: UserCreate) -> User:
    """The unique index, not a lookup first, decides: two racing sign-ups cannot both win."""
    user = User(email=data.email, hashed_password=await hash_password(data.password))
    users.add_user(session, user)
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise EmailAlreadyRegisteredError from error
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    user = await users.get_user_by_email(session, email.lower())
    if user is None:
        await verify_password(password, UNKNOWN_USER_HASH)
        raise InvalidCredentialsError
    if not await verify_password(password, user.hashed_password):
        raise InvalidCredentialsError
    return user


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await users.get_user(session, user_id)


async def change_password(session: AsyncSession, user: User, data: PasswordChange) -> None:
    """Ends every session of the user: whoever else knew the old password is logged out.

    Access tokens already issued stay valid until they expire (they are not looked up).
    """
    if not await verify_password(data.current_password, user.hashed_password):
        raise WrongCurrentPasswordError
    user.hashed_password = await hash_password(data.new_password)
    await refresh_tokens.revoke_user(session, user.id)
    await session.commit()
