"""API tokens with roles. A token is 32 random bytes shown once; only its SHA-256 is stored.

A token may expire; revoking one takes effect at the next lookup (the API's per-process cache holds a
lookup for a few seconds, api/token_cache.py). Each use is recorded, at most once a minute, so `gouji token
list` shows which tokens are still used.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gouji.worker.errors import Invalid, NotFound
from gouji.worker.service.vocabulary import ROLES
from gouji.worker.store.models import ApiToken, now

# What each role may do; admin may do everything. Reading stored reports, exports and metrics is a grant
# of its own: nothing is public unless the deployment says so (GOUJI_PUBLIC_READ).
GRANTS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "uploader": frozenset({"upload", "read"}),
    "reviewer": frozenset({"review", "read"}),
    "admin": frozenset({"upload", "review", "read", "admin"}),
}
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Holder:
    """Who a valid token belongs to: its name (who acts) and role (what they may do)."""

    id: int
    name: str
    role: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(s: Session, name: str, role: str, expires_in: timedelta | None = None) -> str:
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}")
    token = "gj_" + secrets.token_urlsafe(32)
    expires_at = now() + expires_in if expires_in is not None else None
    s.add(ApiToken(name=name, role=role, token_hash=hash_token(token), expires_at=expires_at))
    s.flush()
    return token


def _aware(at: datetime) -> datetime:
    """A stored time, timezone-aware (SQLite hands datetimes back naive; they are stored in UTC)."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def valid(token: ApiToken | None) -> bool:
    """Known, not revoked, not expired."""
    return token is not None and not token.revoked and (token.expires_at is None or _aware(token.expires_at) > now())


def lookup(s: Session, token: str) -> Holder | None:
    """The holder of `token` if it is valid; records the use."""
    found = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    at = now()
    if found is None or not valid(found):
        return None
    if found.last_used_at is None or _aware(found.last_used_at) < at - TOUCH_EVERY:
        found.last_used_at = at
    return Holder(found.id, found.name, found.role)


def list_tokens(s: Session) -> list[ApiToken]:
    return list(s.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke(s: Session, name_or_id: str) -> list[ApiToken]:
    """Revoke every token named `name_or_id` (or the token with that id); NotFound when none matches."""
    q = select(ApiToken).where(ApiToken.revoked.is_(False))
    q = (
        q.where(or_(ApiToken.name == name_or_id, ApiToken.id == int(name_or_id)))
        if name_or_id.isdigit()
        else q.where(ApiToken.name == name_or_id)
    )
    found = list(s.scalars(q))
    if not found:
        raise NotFound(f"no active token named {name_or_id!r}")
    for t in found:
        t.revoked = True
    s.flush()
    return found
