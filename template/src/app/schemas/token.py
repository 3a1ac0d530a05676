from typing import Literal

from pydantic import BaseModel, Field


class Token(BaseModel):
    """RFC 6749, section 5.1; `expires_in` is the access token's lifetime in seconds."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=128)
