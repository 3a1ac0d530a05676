from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.config import Settings
from app.core.exceptions import AuthenticationError, ConflictError, DomainError
from app.core.security import PasswordHasher, password_hash
from app.models.user import User
from app.repositories import users
from app.schemas.user import PasswordChange, UserCreate, normalize_email
from app.services import login_throttle, refresh_tokens

# Checked against when the e-mail is unknown, so that a miss costs as much as a wrong password.
UNKNOWN_USER_HASH = password_hash.hash("an unknown user's password")


class EmailAlreadyRegisteredError(ConflictError):
    message = "Email already registered"


class InvalidCredentialsError(AuthenticationError):
    message = "Incorrect email or password"


class WrongCurrentPasswordError(DomainError):
    """Not a 401: the access token is fine, the password typed is not."""

    message = "Current password is incorrect"


async def register_user(session: AsyncSession, passwords: PasswordHasher, data: UserCreate) -> User:
    """The unique index, not a lookup first, decides: two racing sign-ups cannot both win."""
    user = User(email=data.email, hashed_password=await passwords.hash(data.password))
    users.add_user(session, user)
    try:
        await session.commit()
    except IntegrityError as error:
        await session.rollback()
        raise EmailAlreadyRegisteredError from error
    return user


async def authenticate(
    session: AsyncSession,
    settings: Settings,
    passwords: PasswordHasher,
    username: str,
    password: str,
    address: str | None,
) -> User:
    """The user whose e-mail address and password these are; throttled before any Argon2 work.

    `address` is the client's. A hash made with older parameters is replaced by a current one.
    """
    try:
        email: str | None = normalize_email(username)
    except ValidationError:
        email = None  # no account has it: fail as for an unknown address
    keys = login_throttle.throttle_keys(email or username, address)
    await login_throttle.check(session, settings, keys)
    await login_throttle.count_attempt(session, settings, keys)
    user = await users.get_user_by_email(session, email) if email else None
    await session.commit()  # the count is seen by others, and no connection waits on Argon2

    hashed = user.hashed_password if user else UNKNOWN_USER_HASH
    valid, new_hash = await passwords.verify_and_update(password, hashed)
    if user is None or not valid:
        await login_throttle.failed(session, settings)
        await session.commit()
        raise InvalidCredentialsError
    if new_hash is not None:
        user.hashed_password = new_hash
    await login_throttle.succeeded(session, keys)
    await session.commit()
    return user


async def get_user(connection: AsyncConnection, user_id: int) -> User | None:
    return await users.get_user(connection, user_id)


async def change_password(
    session: AsyncSession, passwords: PasswordHasher, user: User, data: PasswordChange
) -> None:
    """Ends every session of the user: whoever else knew the old password is logged out.

    Access tokens already issued stay valid until they expire (they are not looked up).
    """
    valid, _ = await passwords.verify_and_update(data.current_password, user.hashed_password)
    if not valid:
        raise WrongCurrentPasswordError
    # The current user was read on a read-only session of its own (`app.api.deps`): changes
    # must be made to this session's copy, or the commit below would not see them.
    user = await session.merge(user)
    user.hashed_password = await passwords.hash(data.new_password)
    await refresh_tokens.revoke_user(session, user.id)
    await session.commit()
