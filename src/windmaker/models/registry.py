"""A registry of model names: every model (built-in or extension) is found by its name.

Built-ins register the same way an extension would (``@register("brushing_rule")``), and a
model's configuration round-trips through a plain dict (``to_dict`` / ``from_dict``), so a
stored run can say exactly which model and settings produced it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

_MODELS: dict[str, Any] = {}


def register(name: str) -> Callable[[T], T]:
    """Class or function decorator: make ``obj`` findable as ``name``; a name is taken once."""

    def decorate(obj: T) -> T:
        existing = _MODELS.get(name)
        if existing is not None and existing is not obj:
            raise ValueError(f"model name {name!r} is already registered to {existing!r}")
        _MODELS[name] = obj
        return obj

    return decorate


def lookup_name(name: str) -> Any:
    """The model registered as ``name``; the error lists the known names."""
    try:
        return _MODELS[name]
    except KeyError:
        known = ", ".join(sorted(_MODELS)) or "none"
        raise KeyError(f"unknown model {name!r}; registered: {known}") from None


def registered() -> tuple[str, ...]:
    """Every registered model name, sorted."""
    return tuple(sorted(_MODELS))


def to_dict(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """A model reference as a plain dict: ``{"model": name, "params": {...}}``."""
    lookup_name(name)
    return {"model": name, "params": dict(params)}


def from_dict(data: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The registered model and its params from :func:`to_dict`'s output."""
    return lookup_name(str(data["model"])), dict(data.get("params", {}))
