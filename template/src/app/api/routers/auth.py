from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import SessionDep, SettingsDep
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
async def register(data: UserCreate, session: SessionDep) -> User:
    return await user_service.register_user(session, data)


@router.post("/token", responses=problem_responses(401))
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    """OAuth2 password flow: the form's `username` is the e-mail address."""
    user = await user_service.authenticate(session, form.username, form.password)
    return Token(access_token=create_access_token(str(user.id), settings))
