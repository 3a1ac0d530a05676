from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import PasswordsDep, SessionDep, SettingsDep
from app.api.errors import problem_responses
from app.core.config import Settings
from app.core.security import create_access_token
from app.models.user import User
from app.schemas.token import RefreshRequest, Token
from app.schemas.user import UserCreate, UserRead
from app.services import refresh_tokens as token_service
from app.services import users as user_service

router = APIRouter(prefix="/auth", tags=["auth"])


async def no_store(response: Response) -> None:
    """RFC 6749, section 5.1: no cache may keep a response that carries tokens."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


def token_pair(user_id: int, refresh_token: str, settings: Settings) -> Token:
    return Token(
        access_token=create_access_token(str(user_id), settings),
        expires_in=settings.access_token_ttl_minutes * 60,
        refresh_token=refresh_token,
    )


@router.post(
    "/register",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
)
async def register(data: UserCreate, session: SessionDep, passwords: PasswordsDep) -> User:
    return await user_service.register_user(session, passwords, data)


@router.post("/token", dependencies=[Depends(no_store)], responses=problem_responses(401, 429))
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
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
    refresh_token = await token_service.start_family(session, user.id, settings)
    return token_pair(user.id, refresh_token, settings)


@router.post("/refresh", dependencies=[Depends(no_store)], responses=problem_responses(401))
async def refresh(data: RefreshRequest, session: SessionDep, settings: SettingsDep) -> Token:
    """A new pair for a refresh token, which is spent: presented again, it ends the session."""
    user_id, refresh_token = await token_service.rotate(session, data.refresh_token, settings)
    return token_pair(user_id, refresh_token, settings)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(data: RefreshRequest, session: SessionDep, settings: SettingsDep) -> None:
    """Revokes the session (the family) of the refresh token; its access token runs out."""
    await token_service.revoke_family(session, data.refresh_token, settings)
