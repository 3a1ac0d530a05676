"""The bare reference for benchmarks/users_me.py: Starlette, an asyncpg pool and PyJWT.

It does the work the rendered service does for `GET /users/me` and nothing more: decode the
bearer token (HS256 pinned; `exp`, `iss` and `aud` verified; the same claims required; `sub` an
int), one primary-key lookup, a JSON answer with the same fields. Its pool is asyncpg's as it
comes (min = max = the service's pool size): releasing a connection resets it, a second round
trip per request, and no transaction is opened. It runs in the rendered project's environment
(which has all four packages) under uvicorn, configured by BENCH_* variables; the benchmark
starts it.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DATABASE_URL = os.environ["BENCH_DATABASE_URL"]
POOL_SIZE = int(os.environ["BENCH_POOL_SIZE"])
JWT_SECRET = os.environ["BENCH_JWT_SECRET"]
JWT_ISSUER = os.environ["BENCH_JWT_ISSUER"]
JWT_AUDIENCE = os.environ["BENCH_JWT_AUDIENCE"]
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
USER_QUERY = "SELECT id, email, created_at FROM users WHERE id = $1"


def unauthorized() -> Response:
    return JSONResponse(
        {"detail": "Could not validate credentials"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def users_me(request: Request) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return unauthorized()
    try:
        claims = jwt.decode(
            token,
            JWT_SECRET,
            algorithms=["HS256"],
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
        user_id = int(claims["sub"])
    except jwt.InvalidTokenError, ValueError:
        return unauthorized()
    pool: asyncpg.Pool = request.app.state.pool
    row = await pool.fetchrow(USER_QUERY, user_id)
    if row is None:
        return unauthorized()
    return JSONResponse(
        {"id": row["id"], "email": row["email"], "created_at": row["created_at"].isoformat()}
    )


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with asyncpg.create_pool(DATABASE_URL, min_size=POOL_SIZE, max_size=POOL_SIZE) as pool:
        app.state.pool = pool
        yield


app = Starlette(routes=[Route("/users/me", users_me)], lifespan=lifespan)
