"""API tokens with roles. A token is 32 random bytes shown once; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from gouji.worker.service.vocabulary import ROLES
from gouji.worker.store.models import ApiToken

# What each role may do; admin may do everything.
GRANTS: dict[str, frozenset[str]] = {
    "uploader": frozenset({"upload"}),
    "reviewer": frozenset({"review"}),
    "admin": frozenset({"upload", "review", "admin"}),
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(s: Session, name: str, role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = "gj_" + secrets.token_urlsafe(32)
    s.add(ApiToken(name=name, role=role, token_hash=hash_token(token)))
    s.flush()
    return token


def lookup(s: Session, token: str) -> ApiToken | None:
    found = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    return None if found is None or found.revoked else found
