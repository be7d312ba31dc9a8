"""Configuration: the workspace settings and the versioned YAML files of thresholds and weights."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from windmaker.config.files import ConfigError, load_yaml_model

if TYPE_CHECKING:
    from windmaker.config.settings import Settings, find_workspace, load_settings

__all__ = ["ConfigError", "Settings", "find_workspace", "load_settings", "load_yaml_model"]


def __getattr__(name: str) -> Any:
    # The settings pull in pydantic-settings (40 ms); reading a YAML file of weights (a metric
    # refresh) does not need them, so they load on first use.
    if name in ("Settings", "find_workspace", "load_settings"):
        from windmaker.config import settings

        return getattr(settings, name)
    raise AttributeError(name)
