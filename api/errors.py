"""Which HTTP status each of gouji's errors becomes: decided here, and only here.

The service layer raises errors by kind (worker/errors.py); a face chooses how to say them. These
handlers answer JSON `{"detail": …}` like FastAPI's own HTTPException, so clients see one error shape.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gouji.worker.errors import ConfigError, Conflict, GoujiError, InputError, Invalid, LLMError, NotFound

STATUS: tuple[tuple[type[GoujiError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (Invalid, 400),
    (InputError, 422),
    (ConfigError, 400),  # e.g. llm=true on a server without an LLM configured: the request cannot be served
    (LLMError, 502),
)


def status_of(error: GoujiError) -> int:
    return next((code for kind, code in STATUS if isinstance(error, kind)), 500)


async def _answer(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GoujiError)
    return JSONResponse({"detail": exc.message}, status_code=status_of(exc))


def install(app: FastAPI) -> None:
    app.add_exception_handler(GoujiError, _answer)
