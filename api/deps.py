"""Request-scoped dependencies shared by the JSON API and the review UI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from gouji.worker.store.db import session


def _session(request: Request) -> Iterator[Session]:
    with session(request.app.state.db_url) as s:
        yield s


Db = Annotated[Session, Depends(_session)]
