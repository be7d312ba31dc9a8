"""The one error the use cases raise: a stable code, an HTTP-like status and its values.

The status says what kind of refusal it is, so every adapter renders it alike: 404 absent or
outside the caller's scope (the two look the same, existence is not leaked), 403 the role may
never do this, 409 conflicts with the current state, 422 invalid input. The code names the
catalogue text (``error.<code>``); ``values`` fill it in.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A use case's refusal: ``code`` (catalogue key ``error.<code>``), ``status``, ``values``.

    ``detail`` carries structured detail (for 422: the invalid fields with their messages).
    """

    def __init__(self, code: str, status: int, *, detail: Any = None, **values: object) -> None:
        super().__init__(str(values.get("reason", code)))
        self.code, self.status, self.detail, self.values = code, status, detail, values


def not_found(reason: str = "") -> ServiceError:
    """Absent or outside the caller's scope; ``reason`` is for logs and the CLI, never shown
    by the API (its not-found text takes no values)."""
    return (
        ServiceError("not_found", 404, reason=reason) if reason else ServiceError("not_found", 404)
    )


def forbidden() -> ServiceError:
    """The caller's role may never do this."""
    return ServiceError("forbidden", 403)


def conflict(reason: str) -> ServiceError:
    """Conflicts with the current state (already decided, already admitted, already assigned)."""
    return ServiceError("conflict", 409, reason=reason)


def invalid(field: str, message: str) -> ServiceError:
    """One invalid input field."""
    return ServiceError("validation", 422, detail=[{"loc": [field], "msg": message}])
