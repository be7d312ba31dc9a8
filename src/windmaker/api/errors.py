"""API errors: JSON with a stable code and a message in the caller's language."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from windmaker.i18n import negotiate, t
from windmaker.services.errors import ServiceError

log = logging.getLogger("windmaker.api")


class ErrorBody(BaseModel):
    """What every error response carries."""

    code: str
    message: str
    detail: Any | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(ServiceError):
    """A refusal of the API layer itself (authentication, uploads): a :class:`ServiceError`
    written status first. Use cases raise :class:`ServiceError`; both render alike."""

    def __init__(self, status: int, code: str, detail: Any = None, **values: object) -> None:
        super().__init__(code, status, detail=detail, **values)


def not_found() -> ApiError:
    """Outside the caller's scope and truly absent look the same: existence is not leaked."""
    return ApiError(404, "not_found")


def _lang(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"), default="en")


def error_json(
    request: Request, status: int, code: str, detail: Any = None, **values: object
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorBody(
            code=code, message=t(f"error.{code}", _lang(request), **values), detail=detail
        )
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


_STATUS_CODES = {
    400: "validation",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "validation",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_file",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return error_json(request, exc.status, exc.code, exc.detail, **exc.values)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_json(request, 400, "malformed_json")
        detail = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")} for e in errors
        ]
        return error_json(request, 422, "validation", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "validation")
        values = {"reason": str(exc.detail)} if code in ("conflict", "unsupported_file") else {}
        if code == "payload_too_large":
            values = {"limit": str(exc.detail)}
        return error_json(request, exc.status_code, code, **values)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_json(request, 500, "internal")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Not logged in, or the token expired"},
    404: {"model": ErrorResponse, "description": "Not found, or outside the caller's scope"},
    422: {"model": ErrorResponse, "description": "Invalid request"},
}

#: Answers only some routes give, documented on those routes with ``responses(...)``.
MORE_RESPONSES: dict[int, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed request body"},
    403: {"model": ErrorResponse, "description": "The caller's role may not do this"},
    409: {"model": ErrorResponse, "description": "Conflicts with the current state"},
    413: {"model": ErrorResponse, "description": "Upload over the size limit"},
    415: {"model": ErrorResponse, "description": "Not a file the ingestion can read"},
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documentation of ``codes`` for a route's ``responses=``."""
    return {code: MORE_RESPONSES[code] for code in codes}
