"""Workspace settings: ``windmaker.toml``, overridable by ``WINDMAKER_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from windmaker.config.files import ConfigError

SETTINGS_FILE = "windmaker.toml"
#: The shipped secret: anyone can read it, so it signs nothing served beyond loopback.
DEFAULT_SECRET_KEY = "change-me-in-production"


class Settings(BaseSettings):
    """Everything a workspace configures. Relative paths are relative to ``workspace``."""

    model_config = SettingsConfigDict(env_prefix="WINDMAKER_", extra="forbid", frozen=True)

    workspace: Path = Field(default=Path("."), description="The workspace folder")
    warehouse: str = Field(
        default="duckdb://warehouse.duckdb",
        description="Ibis connection URL of the warehouse; duckdb://FILE (default) or pyspark://MASTER",
    )
    store: str = Field(
        default="sqlite:///ops.sqlite", description="SQLAlchemy URL of the operational store"
    )
    quarantine_dir: Path = Field(
        default=Path("quarantine"), description="Where rejected rows are written"
    )
    config_dir: Path | None = Field(
        default=None,
        description="Folder of YAML files overriding the shipped thresholds, weights and playbook",
    )
    timezone: str = Field(
        default="Asia/Shanghai", description="Time zone of timestamps without an offset"
    )
    language: Literal["zh-CN", "en"] = Field(default="zh-CN", description="Interface language")
    money_unit: Literal["yuan", "fen"] = Field(
        default="yuan", description="Unit of money columns without a unit"
    )
    exclude_brushing_from_gmv: bool = Field(
        default=True, description="Drop suspected brushing orders from GMV"
    )
    memory_limit: str = Field(default="6GB", description="DuckDB memory limit")
    threads: int = Field(default=2, ge=1, description="Worker threads of the embedded engine")
    group_batch_rows: int = Field(
        default=2_000_000,
        ge=1,
        description="Rows a per-group step (scoring buyers brand by brand) reads into memory at "
        "a time on the embedded engine",
    )
    secret_key: str = Field(
        default=DEFAULT_SECRET_KEY,
        description="Signs the web forms' CSRF tokens; `serve` on a network address refuses the default",
    )
    token_ttl_minutes: int = Field(default=720, ge=1, description="API token lifetime")
    principal_cache_seconds: float = Field(
        default=5,
        ge=0,
        description="Seconds the server remembers a token's user and scope (0: check every request)",
    )
    login_free_failures: int = Field(
        default=5,
        ge=1,
        description="Failed logins of one username before it is locked out for a while",
    )
    login_free_failures_per_address: int = Field(
        default=20,
        ge=1,
        description="Failed logins from one client address (any usernames) before it is locked out",
    )
    login_lockout_seconds: float = Field(
        default=1.0,
        gt=0,
        description="First lockout after the free failures; each further failure doubles it",
    )
    login_lockout_max_seconds: float = Field(
        default=900.0, gt=0, description="Longest lockout (failures are forgotten after 4×)"
    )
    pdf_concurrency: int = Field(
        default=2,
        ge=1,
        le=16,
        description="PDF reports printed at once (each one a Chromium process); more wait, then get 503",
    )
    privacy_min_category_brands: int = Field(
        default=5,
        ge=2,
        description="Smallest category whose medians and references a brand user reads",
    )
    host: str = Field(default="127.0.0.1", description="Address `windmaker serve` binds")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `windmaker serve` binds")
    ingest_concurrency: int = Field(
        default=1, ge=1, le=16, description="Uploads the server validates and loads at once"
    )
    refresh_concurrency: int = Field(
        default=1, ge=1, le=16, description="Refresh (main job) runs the server holds at once"
    )
    fit_concurrency: int = Field(
        default=1, ge=1, le=16, description="Model fits the server runs at once (one is queued)"
    )
    unpacked_limit_bytes: int = Field(
        default=1024**3,
        ge=1,
        description="Largest uncompressed size of an XLSX, zip or gzip input (bytes)",
    )
    unpacked_ratio_limit: float = Field(
        default=100.0,
        gt=1,
        description="Largest uncompressed/compressed size ratio of an XLSX, zip or gzip input",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("_WINDMAKER_TOML")
        sources: list[PydanticBaseSettingsSource] = [env_settings, init_settings]
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    def path(self, p: Path | str) -> Path:
        """``p`` resolved against the workspace."""
        p = Path(p)
        return p if p.is_absolute() else (self.workspace / p).resolve()

    @property
    def quarantine_path(self) -> Path:
        return self.path(self.quarantine_dir)

    @property
    def config_path(self) -> Path | None:
        """The folder of overriding YAML files, resolved against the workspace (None: the
        shipped defaults). Every loader takes this, never ``config_dir`` as written."""
        return self.path(self.config_dir) if self.config_dir else None

    @property
    def warehouse_url(self) -> str:
        """The warehouse URL with a relative DuckDB file made absolute."""
        if self.warehouse.startswith("duckdb://"):
            target = self.warehouse.removeprefix("duckdb://")
            if target and target != ":memory:" and not target.startswith("/"):
                return "duckdb://" + str(self.path(target))
        return self.warehouse

    @property
    def store_url(self) -> str:
        """The store URL with a relative SQLite file made absolute."""
        if self.store.startswith("sqlite:///") and not self.store.startswith("sqlite:////"):
            target = self.store.removeprefix("sqlite:///")
            if target and target != ":memory:":
                return "sqlite:///" + str(self.path(target))
        return self.store


def find_workspace(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` holding a ``windmaker.toml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / SETTINGS_FILE).is_file():
            return folder
    return None


def load_settings(workspace: Path | None = None, **overrides: object) -> Settings:
    """Settings of ``workspace`` (or the one found from the current folder).

    Precedence: ``WINDMAKER_*`` environment variables, then ``overrides``, then ``windmaker.toml``.
    A bad value fails with the file, the key and the reason.
    """
    env_ws = os.environ.get("WINDMAKER_WORKSPACE")
    folder = workspace or (Path(env_ws) if env_ws else None) or find_workspace()
    if folder is None:
        raise ConfigError(
            SETTINGS_FILE,
            "",
            f"no workspace found from {Path.cwd()}; run `windmaker init DIR` or pass --workspace",
        )
    folder = folder.resolve()
    toml = folder / SETTINGS_FILE
    if not toml.is_file():
        raise ConfigError(str(toml), "", "not a windmaker workspace (no windmaker.toml)")
    previous = os.environ.get("_WINDMAKER_TOML")
    os.environ["_WINDMAKER_TOML"] = str(toml)
    try:
        return Settings(workspace=folder, **overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ConfigError(str(toml), key, err["msg"]) from None
    finally:
        if previous is None:
            os.environ.pop("_WINDMAKER_TOML", None)
        else:
            os.environ["_WINDMAKER_TOML"] = previous
