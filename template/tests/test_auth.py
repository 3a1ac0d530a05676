import asyncio
import json
import unicodedata
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi import FastAPI, status
from httpx import AsyncClient
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.security import JWT_ALGORITHM, create_access_token
from app.db.session import get_db
from app.models.user import User
from tests.conftest import problem_detail
from tests.factories import PASSWORD, create_user

USER_READ_FIELDS = {"id", "email", "created_at"}


async def register(client: AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post("/auth/register", json={"email": email, "password": password})
    assert response.status_code == status.HTTP_201_CREATED, response.text
    body: dict[str, str] = response.json()
    return body


async def test_register_returns_the_user_without_secrets(client: AsyncClient) -> None:
    response = await client.post(
        "/auth/register", json={"email": "Ann@Example.com", "password": PASSWORD}
    )

    assert response.status_code == status.HTTP_201_CREATED
    body = response.json()
    assert set(body) == USER_READ_FIELDS
    assert body["email"] == "ann@example.com"
    assert "hashed_password" not in response.text
    assert PASSWORD not in response.text


async def test_register_refuses_a_taken_email_whatever_its_case(client: AsyncClient) -> None:
    await register(client, "bob@example.com")

    response = await client.post(
        "/auth/register", json={"email": "BOB@example.com", "password": PASSWORD}
    )

    assert problem_detail(response, status.HTTP_409_CONFLICT) == "Email already registered"


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "short@example.com", "password": "too-short"},
        {"email": "long@example.com", "password": "x" * 129},
        {"email": "missing-password@example.com"},
    ],
)
async def test_register_validates_input(client: AsyncClient, payload: dict[str, str]) -> None:
    response = await client.post("/auth/register", json=payload)

    assert response.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT


@pytest.mark.parametrize(
    "password", ["a password\x00with nul", "\ud800 lone surrogate!!", "bell\x07 in a password"]
)
async def test_register_refuses_control_characters(client: AsyncClient, password: str) -> None:
    body = json.dumps({"email": "ctl@example.com", "password": password}).encode()

    response = await client.post(
        "/auth/register", content=body, headers={"Content-Type": "application/json"}
    )

    problem_detail(response, status.HTTP_422_UNPROCESSABLE_CONTENT)
    assert response.json()["errors"][0]["loc"] == ["body", "password"]


async def test_validation_errors_never_echo_the_password(client: AsyncClient) -> None:
    response = await client.post(
        "/auth/register", json={"email": "echo@example.com", "password": "s3cret"}
    )

    problem_detail(response, status.HTTP_422_UNPROCESSABLE_CONTENT)
    assert "s3cret" not in response.text


@pytest.mark.parametrize(
    "form", ["username=a%00b&password=x", "username=%ED%A0%80%40example.com&password=x"]
)
async def test_login_with_unstorable_text_is_refused_not_a_500(
    client: AsyncClient, form: str
) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    response = await client.post("/auth/token", content=form, headers=headers)

    assert response.status_code in {
        status.HTTP_401_UNAUTHORIZED,
        status.HTTP_422_UNPROCESSABLE_CONTENT,
    }
    assert response.headers["content-type"] == "application/problem+json"


async def test_racing_registrations_of_one_email_give_one_user(
    app: FastAPI, client: AsyncClient, engine: AsyncEngine
) -> None:
    """Two requests on two real connections: the unique index lets exactly one through."""
    sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

    async def committed_db() -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            yield session

    app.dependency_overrides[get_db] = committed_db
    payload = {"email": "race@example.com", "password": PASSWORD}
    try:
        responses = await asyncio.gather(
            *(client.post("/auth/register", json=payload) for _ in range(2))
        )
    finally:
        async with sessions() as session:
            await session.execute(delete(User).where(User.email == "race@example.com"))
            await session.commit()

    codes = sorted(response.status_code for response in responses)
    assert codes == [status.HTTP_201_CREATED, status.HTTP_409_CONFLICT]


async def test_token_for_valid_credentials_opens_users_me(client: AsyncClient) -> None:
    await register(client, "carol@example.com")

    response = await client.post(
        "/auth/token", data={"username": "Carol@example.com", "password": PASSWORD}
    )

    assert response.status_code == status.HTTP_200_OK
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    token = response.json()
    assert token["token_type"] == "bearer"
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    me = await client.get("/users/me", headers=headers)
    assert me.status_code == status.HTTP_200_OK
    assert me.json()["email"] == "carol@example.com"


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("Ünïcode@Exämple.com", id="as-registered"),
        pytest.param(unicodedata.normalize("NFD", "Ünïcode@Exämple.com"), id="nfd"),
        pytest.param("Ünïcode@xn--exmple-cua.com", id="punycode-domain"),
        pytest.param("ünïcode@EXÄMPLE.COM", id="other-case"),
    ],
)
async def test_login_normalises_the_address_as_registration_does(
    client: AsyncClient, username: str
) -> None:
    registered = await register(client, "Ünïcode@Exämple.com")

    response = await client.post("/auth/token", data={"username": username, "password": PASSWORD})

    assert response.status_code == status.HTTP_200_OK, response.text
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    me = await client.get("/users/me", headers=headers)
    assert me.json()["id"] == registered["id"]


@pytest.mark.parametrize("username", ["dave@example.com", "nobody@example.com", "not an email"])
async def test_bad_credentials_get_one_message(
    client: AsyncClient, session: AsyncSession, username: str
) -> None:
    await create_user(session, email="dave@example.com")

    response = await client.post(
        "/auth/token", data={"username": username, "password": "wrong password!"}
    )

    assert problem_detail(response, status.HTTP_401_UNAUTHORIZED) == "Incorrect email or password"
    assert response.headers["www-authenticate"] == "Bearer"


def forge(settings: Settings, **changes: object) -> str:
    """A token like ours, with some claims changed."""
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": "1",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    claims.update(changes)
    key = settings.jwt_secret.get_secret_value()
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, JWT_ALGORITHM)


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda s, uid: "not-a-jwt", id="garbage"),
        pytest.param(
            lambda s, uid: forge(s, sub=uid, exp=datetime.now(UTC) - timedelta(seconds=1)),
            id="expired",
        ),
        pytest.param(lambda s, uid: forge(s, sub=uid, exp=None), id="no-exp"),
        pytest.param(lambda s, uid: forge(s, sub=uid, aud="someone-else"), id="wrong-audience"),
        pytest.param(lambda s, uid: forge(s, sub=uid, iss="someone-else"), id="wrong-issuer"),
        pytest.param(lambda s, uid: forge(s, sub="0"), id="unknown-user"),
        pytest.param(lambda s, uid: forge(s, sub="me"), id="bad-subject"),
        pytest.param(lambda s, uid: forge(s, sub="2147483648"), id="subject-too-big"),
        pytest.param(lambda s, uid: forge(s, sub="\uff11"), id="subject-full-width"),
        pytest.param(lambda s, uid: forge(s, sub=f" {uid}"), id="subject-with-space"),
        pytest.param(lambda s, uid: forge(s, sub=f"+{uid}"), id="subject-with-sign"),
        pytest.param(lambda s, uid: forge(s, sub=f"0{uid}"), id="subject-leading-zero"),
        pytest.param(
            lambda s, uid: jwt.encode({"sub": uid}, "another-secret-32-bytes-long!!!!", "HS256"),
            id="wrong-key",
        ),
        pytest.param(
            lambda s, uid: jwt.encode({"sub": uid}, None, "none"),
            id="alg-none",
        ),
    ],
)
async def test_users_me_rejects_bad_tokens(
    client: AsyncClient,
    settings: Settings,
    user: User,
    make_token: Callable[[Settings, str], str],
) -> None:
    token = make_token(settings, str(user.id))

    response = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert response.headers["www-authenticate"] == "Bearer"


async def test_users_me_needs_a_token(client: AsyncClient) -> None:
    response = await client.get("/users/me")

    assert response.status_code == status.HTTP_401_UNAUTHORIZED


async def test_users_me_shows_only_the_read_schema(
    client: AsyncClient, user: User, auth_headers: dict[str, str]
) -> None:
    response = await client.get("/users/me", headers=auth_headers)

    assert response.status_code == status.HTTP_200_OK
    assert set(response.json()) == USER_READ_FIELDS
    assert response.json()["id"] == user.id
    assert "hashed_password" not in response.text


async def test_issued_tokens_carry_the_pinned_claims(settings: Settings) -> None:
    token = create_access_token("42", settings)

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token,
        settings.jwt_secret.get_secret_value(),
        algorithms=[JWT_ALGORITHM],
        audience=settings.jwt_audience,
    )
    assert header["alg"] == JWT_ALGORITHM
    assert claims["sub"] == "42"
    assert claims["iss"] == settings.jwt_issuer
    assert claims["exp"] - claims["iat"] == settings.access_token_ttl_minutes * 60
