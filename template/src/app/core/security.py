"""Password hashing, access tokens and refresh tokens."""

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

import anyio
import jwt
from pwdlib import PasswordHash

from app.core.config import Settings

# Pinned: a token may never choose its own algorithm (no "none", no RS/HS confusion).
JWT_ALGORITHM = "HS256"

password_hash = PasswordHash.recommended()


async def hash_password(password: str) -> str:
    """Argon2 is deliberately slow: run it in a worker thread, not on the event loop."""
    return await anyio.to_thread.run_sync(password_hash.hash, password)


async def verify_password(password: str, hashed_password: str) -> bool:
    return await anyio.to_thread.run_sync(password_hash.verify, password, hashed_password)


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
