"""Failed logins are throttled per account and per client address, before any Argon2 work."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
import pytest
from fastapi import FastAPI, status
from httpx import ASGITransport, AsyncClient, Response
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.security import PasswordHasher, password_hash
from app.db.session import get_db
from app.main import create_app
from app.models.login_throttle import LoginThrottle
from app.models.user import User
from app.services.login_throttle import address_key
from tests.factories import PASSWORD, create_user

PER_ACCOUNT, PER_ADDRESS, WINDOW_SECONDS = 3, 5, 600
WRONG = "not the password at all"

ClientFor = Callable[[str], AbstractAsyncContextManager[AsyncClient]]


@pytest.fixture(scope="module")
async def throttled_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Small limits, and one Argon2 hash at a time (so that a test can hold the only slot)."""
    limits = {
        "login_failures_per_account": PER_ACCOUNT,
        "login_failures_per_address": PER_ADDRESS,
        "login_window_seconds": WINDOW_SECONDS,
        "password_hash_concurrency": 1,
    }
    app = create_app(settings.model_copy(update=limits))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def client_for(throttled_app: FastAPI, session: AsyncSession) -> ClientFor:
    """Clients of the throttled app from a given address, in the test's rolled-back session."""

    async def test_db() -> AsyncIterator[AsyncSession]:
        yield session

    @asynccontextmanager
    async def client(address: str) -> AsyncIterator[AsyncClient]:
        throttled_app.dependency_overrides[get_db] = test_db
        transport = ASGITransport(app=throttled_app, client=(address, 50000))
        try:
            async with AsyncClient(transport=transport, base_url="http://localhost") as client:
                yield client
        finally:
            throttled_app.dependency_overrides.clear()

    return client


async def login(client: AsyncClient, email: str, password: str = PASSWORD) -> Response:
    return await client.post("/auth/token", data={"username": email, "password": password})


def assert_throttled(response: Response) -> None:
    assert response.status_code == status.HTTP_429_TOO_MANY_REQUESTS, response.text
    assert 0 < int(response.headers["retry-after"]) <= WINDOW_SECONDS
    assert "try again later" in response.json()["detail"]


async def test_an_account_is_refused_after_its_limit_even_with_the_right_password(
    client_for: ClientFor, session: AsyncSession
) -> None:
    user = await create_user(session)

    async with client_for("203.0.113.1") as client:
        failures = [await login(client, user.email, WRONG) for _ in range(PER_ACCOUNT)]
        refused = await login(client, user.email)
    async with client_for("203.0.113.2") as elsewhere:
        from_another_address = await login(elsewhere, user.email)

    assert [r.status_code for r in failures] == [status.HTTP_401_UNAUTHORIZED] * PER_ACCOUNT
    assert_throttled(refused)
    assert_throttled(from_another_address)


async def test_an_unknown_account_is_throttled_like_a_known_one(client_for: ClientFor) -> None:
    async with client_for("203.0.113.3") as client:
        for _ in range(PER_ACCOUNT):
            await login(client, "nobody@example.com", WRONG)
        refused = await login(client, "Nobody@Example.com", WRONG)

    assert_throttled(refused)


async def test_an_address_is_refused_after_its_limit_across_accounts(
    client_for: ClientFor, session: AsyncSession
) -> None:
    user = await create_user(session)

    async with client_for("198.51.100.7") as client:
        failures = [
            await login(client, f"guess-{n}@example.com", WRONG) for n in range(PER_ADDRESS)
        ]
        refused = await login(client, user.email)
    async with client_for("198.51.100.8") as neighbour:
        other_address = await login(neighbour, user.email)

    assert {r.status_code for r in failures} == {status.HTTP_401_UNAUTHORIZED}
    assert_throttled(refused)
    assert other_address.status_code == status.HTTP_200_OK


async def test_successful_logins_do_not_use_up_the_address_limit(
    client_for: ClientFor, session: AsyncSession
) -> None:
    user = await create_user(session)

    async with client_for("198.51.100.9") as client:
        responses = [await login(client, user.email) for _ in range(PER_ADDRESS + 2)]

    assert {r.status_code for r in responses} == {status.HTTP_200_OK}


async def test_a_successful_login_clears_the_account_count(
    client_for: ClientFor, session: AsyncSession
) -> None:
    user = await create_user(session)

    async with client_for("203.0.113.4") as client:
        before = [await login(client, user.email, WRONG) for _ in range(PER_ACCOUNT - 1)]
        success = await login(client, user.email)
        after = [await login(client, user.email, WRONG) for _ in range(PER_ACCOUNT)]
        refused = await login(client, user.email)

    assert success.status_code == status.HTTP_200_OK
    assert {r.status_code for r in before + after} == {status.HTTP_401_UNAUTHORIZED}
    assert_throttled(refused)


async def test_a_refused_login_does_no_argon2_work(
    throttled_app: FastAPI, client_for: ClientFor, session: AsyncSession
) -> None:
    """With the only hashing slot held, a login that needed Argon2 would wait forever."""
    blocked, open_account = await create_user(session), await create_user(session)
    passwords: PasswordHasher = throttled_app.state.passwords

    holder = object()  # not this task: the app runs in it, and would count as the holder

    async with client_for("203.0.113.5") as client:
        for _ in range(PER_ACCOUNT):
            await login(client, blocked.email, WRONG)
        await passwords.limiter.acquire_on_behalf_of(holder)
        try:
            with anyio.fail_after(5):
                refused = await login(client, blocked.email)
            with anyio.move_on_after(0.5) as waiting:
                await login(client, open_account.email)
        finally:
            passwords.limiter.release_on_behalf_of(holder)

    assert_throttled(refused)
    assert waiting.cancelled_caught  # the control: a login that is not refused needs the slot


class CountingHasher(PasswordHasher):
    def __init__(self, concurrency: int) -> None:
        super().__init__(concurrency)
        self.verified = 0

    async def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        self.verified += 1
        return await super().verify_and_update(password, hashed)


async def test_racing_logins_get_no_more_guesses_than_the_limit(
    throttled_app: FastAPI, engine: AsyncEngine
) -> None:
    """Concurrent requests in separate transactions, as from several workers.

    Each is counted before its password is checked: those over the limit never reach Argon2.
    """
    sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    passwords, hasher = throttled_app.state.passwords, CountingHasher(1)

    async def committed_db() -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            yield session

    throttled_app.dependency_overrides[get_db] = committed_db
    throttled_app.state.passwords = hasher
    transport = ASGITransport(app=throttled_app, client=("192.0.2.10", 50000))
    try:
        async with AsyncClient(transport=transport, base_url="http://localhost") as client:
            responses = await asyncio.gather(
                *(login(client, "race@example.com", WRONG) for _ in range(PER_ACCOUNT + 5))
            )
    finally:
        throttled_app.dependency_overrides.clear()
        throttled_app.state.passwords = passwords
        async with sessions() as session:
            await session.execute(delete(LoginThrottle))
            await session.commit()

    codes = sorted(response.status_code for response in responses)
    assert codes.count(status.HTTP_401_UNAUTHORIZED) == PER_ACCOUNT
    assert codes.count(status.HTTP_429_TOO_MANY_REQUESTS) == 5
    assert hasher.verified == PER_ACCOUNT


async def test_a_hash_with_older_parameters_is_replaced_at_login(
    client_for: ClientFor, session: AsyncSession
) -> None:
    older = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))
    user = await create_user(session, hasher=older)
    old_hash = user.hashed_password

    async with client_for("203.0.113.6") as client:
        response = await login(client, user.email)

    stored = await session.scalar(select(User.hashed_password).where(User.id == user.id))
    assert response.status_code == status.HTTP_200_OK
    assert stored is not None
    assert stored != old_hash
    assert password_hash.verify_and_update(PASSWORD, stored) == (True, None)


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::2", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("testclient", "testclient"),
    ],
)
def test_an_ipv6_client_counts_as_its_slash_64(host: str, key: str) -> None:
    assert address_key(host) == key
