"""Users and their API tokens."""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from models.common import UTCDateTime, created_at_field, id_field
from models.inputs import EMAIL_CHARS, FULL_NAME_CHARS, TOKEN_NAME_CHARS, Email, FullName, Password


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = id_field()
    email: str = Field(max_length=EMAIL_CHARS, unique=True, index=True)
    full_name: str | None = Field(default=None, max_length=FULL_NAME_CHARS)
    password_hash: str = Field(max_length=200)
    is_admin: bool = False
    is_active: bool = True
    created_at: datetime = created_at_field()


class ApiToken(SQLModel, table=True):
    """An opaque bearer token; only its SHA-256 is kept, so a database leak yields no usable token."""

    __tablename__ = "api_tokens"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(default="login", max_length=TOKEN_NAME_CHARS)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UserPublic(SQLModel):
    id: uuid.UUID
    email: str
    full_name: str | None
    is_admin: bool
    created_at: datetime


class UserAccount(UserPublic):
    """An account as administrators see it: whether it may sign in too."""

    is_active: bool


class LoginUnlock(SQLModel):
    email: str
    failures_cleared: int = Field(description="Failed logins that no longer count against the account.")


class UserCreate(SQLModel):
    email: Email
    password: Password
    full_name: FullName | None = None
    is_admin: bool = False


class TokenResponse(SQLModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
