"""Configuration: the workspace settings and the versioned YAML files of thresholds and weights."""

from windmaker.config.files import ConfigError, load_yaml_model
from windmaker.config.settings import Settings, find_workspace, load_settings

__all__ = ["ConfigError", "Settings", "find_workspace", "load_settings", "load_yaml_model"]
