from fastapi import APIRouter, status

from app.api.deps import CurrentUser, PasswordsDep, SessionDep
from app.api.errors import problem_responses
from app.models.user import User
from app.schemas.user import PasswordChange, UserRead
from app.services import users as user_service

router = APIRouter(prefix="/users", tags=["users"], responses=problem_responses(401))


@router.get("/me", response_model=UserRead)
async def read_me(user: CurrentUser) -> User:
    return user


@router.post(
    "/me/password", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(400)
)
async def change_password(
    data: PasswordChange, user: CurrentUser, session: SessionDep, passwords: PasswordsDep
) -> None:
    """Revokes every refresh token of the user, this session's too: log in again."""
    await user_service.change_password(session, passwords, user, data)
