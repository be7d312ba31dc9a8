"""Validated ingestion of users' files into the warehouse (CSV, XLSX, Parquet, JSON, 快手小店 API).

``ingest_files`` is the one entry point (the CLI ``windmaker ingest`` and the API upload call it):
every row is typed and checked against the data contract inside DuckDB, rejected rows go to a
quarantine CSV with their reasons, and the batch lands in one transaction.
"""

from windmaker.ingest.loader import LOG_TABLE, ingest_files
from windmaker.ingest.report import (
    EXIT_HARD_ERROR,
    EXIT_OK,
    EXIT_REJECTED,
    FileReport,
    IngestError,
    IngestReport,
)

__all__ = [
    "EXIT_HARD_ERROR",
    "EXIT_OK",
    "EXIT_REJECTED",
    "LOG_TABLE",
    "FileReport",
    "IngestError",
    "IngestReport",
    "ingest_files",
]
