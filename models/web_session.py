"""Browser sessions: the web app's sign-in, beside the API's bearer tokens.

The cookie carries an opaque random id; only its SHA-256 is stored, so a database leak yields no usable session.
Each session has its own CSRF secret, which forms and htmx requests echo back.
"""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from models.common import UTCDateTime, created_at_field, id_field


class WebSession(SQLModel, table=True):
    __tablename__ = "web_sessions"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    id_hash: str = Field(max_length=64, unique=True, index=True)
    csrf_secret: str = Field(max_length=64)
    created_at: datetime = created_at_field()
    last_seen_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    user_agent: str | None = Field(default=None, max_length=300)
