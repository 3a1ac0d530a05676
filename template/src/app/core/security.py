"""Password hashing, access tokens and refresh tokens."""

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

import anyio
import jwt
from pwdlib import PasswordHash

from app.core.config import Settings
from app.db.base import MAX_INT

# Pinned: a token may never choose its own algorithm (no "none", no RS/HS confusion).
JWT_ALGORITHM = "HS256"

# The current parameters: hashes made with others are replaced at the next login.
password_hash = PasswordHash.recommended()
# The subjects we issue: a user id in plain ASCII digits.
SUBJECT = re.compile(r"[1-9][0-9]{0,9}")


class PasswordHasher:
    """Argon2 in worker threads, at most `concurrency` hashes at once.

    Each hash keeps a core busy for tens of milliseconds and takes 64 MiB. Unbounded, a storm of
    logins fills every worker thread and core, and every other request waits behind it; bounded,
    logins queue here while the event loop keeps serving the rest. Make one per application, in
    its lifespan: a limiter belongs to the event loop that made it.
    """

    def __init__(self, concurrency: int) -> None:
        self.limiter = anyio.CapacityLimiter(concurrency)

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(password_hash.hash, password, limiter=self.limiter)

    async def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """Whether the password matches, and its new hash if `hashed` used older parameters."""
        return await anyio.to_thread.run_sync(
            password_hash.verify_and_update, password, hashed, limiter=self.limiter
        )


def create_access_token(subject: str, settings: Settings) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "iat": now,
        "exp": now + timedelta(minutes=settings.access_token_ttl_minutes),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=JWT_ALGORITHM)


def decode_access_token(token: str, settings: Settings) -> str:
    """Return the token's subject; raise `jwt.InvalidTokenError` for any token not ours."""
    claims = jwt.decode(
        token,
        settings.jwt_secret.get_secret_value(),
        algorithms=[JWT_ALGORITHM],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    return str(claims["sub"])


def user_id_from_subject(subject: str) -> int:
    """The user id a token names; `ValueError` for signs, spaces, other digits or ids too big."""
    if not SUBJECT.fullmatch(subject) or int(subject) > MAX_INT:
        raise ValueError("not a user id")
    return int(subject)


def new_refresh_token() -> str:
    """256 random bits: unguessable, so a fast keyed hash protects it at rest (no Argon2)."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str, settings: Settings) -> str:
    """HMAC-SHA256 under a key derived from the JWT secret, never the secret itself.

    A leaked table gives nothing to present; rotating `APP_JWT_SECRET` ends every session.
    """
    key = hmac.digest(
        settings.jwt_secret.get_secret_value().encode(), b"refresh-token-hash", hashlib.sha256
    )
    return hmac.digest(key, token.encode(), hashlib.sha256).hex()
