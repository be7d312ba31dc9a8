"""Workspaces: a folder with ``windmaker.toml``, the warehouse file and the quarantine folder."""

from __future__ import annotations

from pathlib import Path

from windmaker.config.settings import SETTINGS_FILE, Settings, load_settings
from windmaker.warehouse import Warehouse, connect

TEMPLATE = """\
# windmaker workspace. Every value can be overridden by a WINDMAKER_<KEY> environment variable.

# Ibis connection URL of the warehouse: a DuckDB file (default), or pyspark://MASTER.
warehouse = "duckdb://warehouse.duckdb"
# SQLAlchemy URL of the operational store (providers, users, audit log).
store = "sqlite:///ops.sqlite"
# Rejected rows land here, one CSV per imported file, with the reason for each row.
quarantine_dir = "quarantine"
# Timestamps without an explicit offset are read on this clock.
timezone = "Asia/Shanghai"
# Unit of money columns whose header does not say: "yuan" or "fen".
money_unit = "yuan"
# Interface language: "zh-CN" or "en".
language = "zh-CN"
"""


def init_workspace(folder: Path, *, warehouse: str | None = None, force: bool = False) -> Settings:
    """Create a workspace in ``folder``: settings file, quarantine folder, empty source tables."""
    folder.mkdir(parents=True, exist_ok=True)
    toml = folder / SETTINGS_FILE
    if toml.exists() and not force:
        raise FileExistsError(
            f"{toml} already exists; this folder is a workspace (use --force to rewrite)"
        )
    text = TEMPLATE
    if warehouse:
        text = text.replace('warehouse = "duckdb://warehouse.duckdb"', f'warehouse = "{warehouse}"')
    toml.write_text(text, encoding="utf-8")
    settings = load_settings(folder)
    settings.quarantine_path.mkdir(parents=True, exist_ok=True)
    with connect(settings) as wh:
        wh.ensure_source_tables()
    return settings


def open_warehouse(settings: Settings) -> Warehouse:
    """The workspace's warehouse, with the contract tables present."""
    wh = connect(settings)
    wh.ensure_source_tables()
    return wh
