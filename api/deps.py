"""Request-scoped dependencies shared by the JSON API and the review UI: the settings the app was built
with, a database session, and the token check of the JSON API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.orm import Session

from gouji.worker.service.tokens import GRANTS, lookup
from gouji.worker.settings import Settings
from gouji.worker.store.db import session


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _session(request: Request) -> Iterator[Session]:
    with session(request.app.state.settings.database_url) as s:
        yield s


AppSettings = Annotated[Settings, Depends(_settings)]
Db = Annotated[Session, Depends(_session)]


def role(grant: str) -> Any:
    """A dependency that admits only a valid, unrevoked token whose role grants `grant`; it gives the
    token's name (who is acting)."""

    def check(s: Db, authorization: Annotated[str | None, Header()] = None) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise HTTPException(401, "an API token is required: Authorization: Bearer <token>")
        token = lookup(s, authorization.removeprefix("Bearer ").strip())
        if token is None:
            raise HTTPException(401, "unknown or revoked API token")
        if grant not in GRANTS.get(token.role, frozenset()):
            raise HTTPException(403, f"role {token.role!r} may not {grant}")
        return token.name

    return Depends(check)
