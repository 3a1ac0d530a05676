from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, TypeAdapter

from app.schemas.text import PRINTABLE

# One form per address, for sign-up and login alike: the domain in Unicode (punycode decoded),
# NFC-normalised, then all lower case, so "Ann@Example.com" and "ann@example.com" are one user.
Email = Annotated[EmailStr, AfterValidator(str.lower)]

email_adapter: TypeAdapter[str] = TypeAdapter(Email)


def normalize_email(address: str) -> str:
    """The stored form of an address; raises `pydantic.ValidationError` if it is not one."""
    return email_adapter.validate_python(address)


class UserCreate(BaseModel):
    email: Email
    password: str = Field(min_length=12, max_length=128, pattern=PRINTABLE)


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=128)
    new_password: str = Field(min_length=12, max_length=128)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    created_at: datetime
