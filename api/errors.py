"""Which HTTP status each error becomes: decided here, and only here.

The service layer raises errors by kind (worker/errors.py); a face chooses how to say them. These
handlers answer JSON `{"detail": …}` like FastAPI's own HTTPException, so clients see one error shape.
Bad input never becomes a 500: a value the database cannot hold (a NUL character, an over-long name) is
the client's error, and a NUL or control character anywhere in the URL is refused before any route runs.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError

from gouji.worker.errors import ConfigError, Conflict, GoujiError, InputError, Invalid, LLMError, NotFound

STATUS: tuple[tuple[type[GoujiError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (Invalid, 400),
    (InputError, 422),
    (ConfigError, 400),  # e.g. llm=true on a server without an LLM configured: the request cannot be served
    (LLMError, 502),
)


class Problem(BaseModel):
    """Every error answer: what went wrong, in words a user can act on."""

    detail: str


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route may answer (400 is possible everywhere: a NUL
    or control character in the URL)."""
    words = {
        400: "bad request (a control character in the URL, a value that is not a value, no LLM configured)",
        401: "no valid API token",
        403: "the token's role may not do this",
        404: "no such document, version, batch, task or format",
        409: "the request clashes with the task's state (claimed by someone else, closed)",
        422: "a parameter or value out of range, or one the store cannot hold",
    }
    return {code: {"model": Problem, "description": words[code]} for code in sorted({400, *codes})}


def status_of(error: GoujiError) -> int:
    return next((code for kind, code in STATUS if isinstance(error, kind)), 500)


async def _answer(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GoujiError)
    return JSONResponse({"detail": exc.message}, status_code=status_of(exc))


async def _does_not_fit(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DataError)
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "invalid value"
    return JSONResponse({"detail": f"a value in the request cannot be stored: {reason}"}, status_code=422)


def _control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


async def _clean_url(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    raw = unquote(request.url.path) + unquote(request.url.query)
    if _control_characters(raw):
        return JSONResponse({"detail": "the URL contains a NUL or control character"}, status_code=400)
    return await call_next(request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(GoujiError, _answer)
    app.add_exception_handler(DataError, _does_not_fit)
    app.middleware("http")(_clean_url)
