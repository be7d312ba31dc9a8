"""What an ingestion did: per file, rows read, accepted, quarantined, and where the rejects went."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: Exit codes of ``windmaker ingest``.
EXIT_OK = 0
EXIT_HARD_ERROR = 2
EXIT_REJECTED = 3


class IngestError(RuntimeError):
    """A batch was refused as a whole (unreadable file, missing required column, unknown table):
    nothing was written. The message names the file and what is wrong."""


@dataclass(frozen=True)
class FileReport:
    """One file of a batch.

    ``replaced`` counts warehouse rows of an earlier import that a row of this file replaced
    (same key); ``note`` says why a file loaded nothing (empty, already imported).
    """

    path: Path
    table: str | None
    fmt: str
    encoding: str | None = None
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    replaced: int = 0
    quarantine: Path | None = None
    sha256: str | None = None
    note: str | None = None
    reasons: tuple[tuple[str, int], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class IngestReport:
    """All files of one batch (one ``ingest`` call, one transaction)."""

    files: tuple[FileReport, ...]

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def quarantine_files(self) -> tuple[Path, ...]:
        return tuple(f.quarantine for f in self.files if f.quarantine is not None)

    @property
    def exit_code(self) -> int:
        """0 when every row landed, 3 when some rows went to quarantine."""
        return EXIT_REJECTED if self.rejected else EXIT_OK
