"""Errors of the operational store, each with a message a reviewer can act on."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class NotFoundError(StoreError, LookupError):
    """The record asked for does not exist."""


class AlreadyDecidedError(StoreError):
    """Someone else decided this application or decision first; nothing was changed."""


class AuditLogImmutableError(StoreError):
    """The audit log is append-only: an update or delete of an entry was refused."""


class InvalidValueError(StoreError, ValueError):
    """A value outside its allowed codes (role, status, decision, kind)."""
