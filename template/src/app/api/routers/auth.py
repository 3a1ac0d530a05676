from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import PasswordsDep, SessionDep, SettingsDep
from app.api.errors import problem_responses
from app.core.security import create_access_token
from app.models.user import User
from app.schemas.token import Token
from app.schemas.user import UserCreate, UserRead
from app.services import users as user_service

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/register",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
)
async def register(data: UserCreate, session: SessionDep, passwords: PasswordsDep) -> User:
    return await user_service.register_user(session, passwords, data)


@router.post("/token", responses=problem_responses(401, 429))
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
) -> Token:
    """OAuth2 password flow: the form's `username` is the e-mail address.

    Failed logins are throttled per account and per client address (429 with Retry-After).
    """
    # The peer's address; behind a reverse proxy, uvicorn's --proxy-headers replaces it with the
    # client's from X-Forwarded-For, believed only from FORWARDED_ALLOW_IPS (the proxy's).
    address = request.client.host if request.client else None
    user = await user_service.authenticate(
        session, settings, passwords, form.username, form.password, address
    )
    # A bearer token must not be kept by a browser or a proxy cache (RFC 6749, 5.1).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return Token(access_token=create_access_token(str(user.id), settings))
