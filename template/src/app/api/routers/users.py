from fastapi import APIRouter

from app.api.deps import CurrentUser
from app.api.errors import problem_responses
from app.models.user import User
from app.schemas.user import UserRead

router = APIRouter(prefix="/users", tags=["users"], responses=problem_responses(401))


@router.get("/me", response_model=UserRead)
async def read_me(user: CurrentUser) -> User:
    return user
