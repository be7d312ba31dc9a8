"""Versioned YAML configuration files (thresholds, weights, playbook), validated on load."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

DEFAULTS_PACKAGE = "windmaker.config.defaults"


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid: names the file, the key and why."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        self.file, self.key, self.reason = file, key, reason
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {reason}")


def default_path(name: str) -> Path:
    """The shipped default file ``name`` (e.g. ``ladder.yaml``)."""
    return Path(str(resources.files(DEFAULTS_PACKAGE).joinpath(name)))


def load_yaml_model(model: type[M], name: str, config_dir: Path | None = None) -> M:
    """Load ``name`` from ``config_dir`` when it holds one, else the shipped default, into ``model``."""
    path = (
        config_dir / name
        if config_dir is not None and (config_dir / name).is_file()
        else default_path(name)
    )
    return load_yaml_file(model, path)


def load_yaml_file(model: type[M], path: Path) -> M:
    """Parse and validate one YAML file; errors carry the file, the dotted key and the reason."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "", f"not valid YAML: {exc}") from None
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ConfigError(str(path), key, err["msg"]) from None
