"""Request-scoped dependencies shared by the JSON API and the review UI: the settings the app was built
with, a database session, and the token check of the JSON API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.orm import Session

from gouji.api.token_cache import TokenCache
from gouji.worker.service.tokens import GRANTS
from gouji.worker.settings import Settings
from gouji.worker.store.db import session

PUBLIC = "public"  # who reads when the deployment publishes its data read-only (GOUJI_PUBLIC_READ)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _session(request: Request) -> Iterator[Session]:
    with session(request.app.state.settings.database_url) as s:
        yield s


AppSettings = Annotated[Settings, Depends(_settings)]
Db = Annotated[Session, Depends(_session)]


def role(grant: str) -> Any:
    """A dependency that admits only a valid (known, unrevoked, unexpired) token whose role grants `grant`;
    it gives the token's name (who is acting). Reads are open only when the settings publish them."""

    async def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
        if grant == "read" and request.app.state.settings.public_read:
            return PUBLIC
        if not authorization or not authorization.startswith("Bearer "):
            raise HTTPException(
                401, "an API token is required: Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
            )
        tokens: TokenCache = request.app.state.tokens
        holder = tokens.holder(authorization.removeprefix("Bearer ").strip())
        if holder is None:
            raise HTTPException(401, "unknown, revoked or expired API token", {"WWW-Authenticate": "Bearer"})
        if grant not in GRANTS.get(holder.role, frozenset()):
            raise HTTPException(403, f"role {holder.role!r} may not {grant}")
        return holder.name

    return Depends(check)


Reader = Annotated[str, role("read")]
