from fastapi import APIRouter, status

from app.api.deps import CurrentUser, SessionDep
from app.models.user import User
from app.schemas.user import PasswordChange, UserRead
from app.services import users as user_service

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserRead)
async def read_me(user: CurrentUser) -> User:
    return user


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(data: PasswordChange, user: CurrentUser, session: SessionDep) -> None:
    """Revokes every refresh token of the user, this session's too: log in again."""
    await user_service.change_password(session, user, data)
