"""Compressed inputs: a gzip or zip file unpacked, an XLSX (a zip) checked, within limits
that stop a zip bomb before it fills the disk."""

from __future__ import annotations

import contextlib
import gzip
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class SourceError(ValueError):
    """A file cannot be read as a table at all (format, encoding, structure)."""


@dataclass(frozen=True)
class UnpackLimits:
    """How far a compressed input (XLSX, zip, gzip) may expand: a size and a ratio cap.

    A zip bomb is a small file that inflates to gigabytes; validating it would fill the disk
    and hold the server. ``max_bytes`` caps the uncompressed size, ``max_ratio`` the
    uncompressed/compressed ratio once the content passes ``ratio_floor`` (a tiny file
    compresses by any ratio; real exports stay well under 100×).
    """

    max_bytes: int = 1024**3
    max_ratio: float = 100.0
    ratio_floor: int = 1 << 20

    def check(self, name: str, unpacked: int, packed: int) -> None:
        """Refuse ``name`` when ``unpacked`` bytes from ``packed`` break a cap."""
        too_big = unpacked > self.max_bytes
        ratio = unpacked / max(packed, 1)
        if too_big or (unpacked > self.ratio_floor and ratio > self.max_ratio):
            limit = (
                f"{_mib(self.max_bytes)}"
                if too_big
                else f"{self.max_ratio:g}× its compressed size ({_mib(packed)})"
            )
            raise SourceError(
                f"{name}: expands beyond {limit} when unpacked (解压后过大: at least "
                f"{_mib(unpacked)}); refused, nothing of it was loaded"
            )


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _is_data_member(info: zipfile.ZipInfo) -> bool:
    """Whether a zip member is a data file (not a folder or a macOS resource fork)."""
    base = info.filename.rsplit("/", 1)[-1]
    return not info.is_dir() and not info.filename.startswith("__MACOSX/") and bool(base)


def check_zip(path: Path, limits: UnpackLimits, name: str | None = None) -> None:
    """Refuse a zip archive (an XLSX is one) whose members would expand past ``limits``.

    The declared sizes (``ZipInfo.file_size``) are read from the central directory before
    anything is inflated; :mod:`zipfile` never returns more bytes than a member declares, so
    an archive that lies about its sizes fails its CRC check instead of expanding further.
    A file that is not a zip archive is left to its reader, which says so in its own words.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        return
    unpacked = sum(i.file_size for i in infos)
    packed = max(sum(i.compress_size for i in infos), path.stat().st_size)
    limits.check(name or path.name, unpacked, packed)


def _copy_capped(read: Any, out: Path, name: str, packed: int, limits: UnpackLimits) -> None:
    """Stream ``read(n)`` into ``out``, counting, and stop at the first byte past a cap."""
    written = 0
    try:
        with out.open("wb") as fh:
            while chunk := read(1 << 20):
                written += len(chunk)
                limits.check(name, written, packed)
                fh.write(chunk)
    except BaseException:
        with contextlib.suppress(OSError):
            out.unlink()
        raise


def unpack(path: Path, tmp_dir: Path, limits: UnpackLimits) -> tuple[Path, list[Path]]:
    """The file to read for ``path``: a gzip or zip input unpacked into ``tmp_dir`` (within
    ``limits``), an XLSX checked against them, anything else as it is.

    Returns the file and the scratch files made. A ``.gz`` holds one file named without the
    suffix (``orders.csv.gz`` → ``orders.csv``); a ``.zip`` must hold exactly one data file.
    """
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        check_zip(path, limits)
        return path, []
    if suffix not in (".gz", ".zip"):
        return path, []
    folder = tmp_dir / uuid.uuid4().hex
    folder.mkdir()
    packed = path.stat().st_size
    if suffix == ".gz":
        inner = folder / (path.stem or "data.csv")
        try:
            with gzip.open(path, "rb") as fh:
                _copy_capped(fh.read, inner, path.name, packed, limits)
        except (OSError, EOFError, gzip.BadGzipFile):
            raise SourceError(
                f"{path.name}: not a readable gzip file (cut off, or another format)"
            ) from None
        return inner, [inner]
    check_zip(path, limits)
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if _is_data_member(i)]
            if len(members) != 1:
                raise SourceError(
                    f"{path.name}: a zip archive must hold exactly one data file; "
                    f"it holds {len(members)}"
                )
            inner = folder / members[0].filename.rsplit("/", 1)[-1]
            with archive.open(members[0]) as fh:
                _copy_capped(fh.read, inner, path.name, packed, limits)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise SourceError(
            f"{path.name}: not a readable zip archive (cut off, encrypted or another format)"
        ) from None
    if inner.suffix.lower() in (".gz", ".zip"):
        raise SourceError(f"{path.name}: an archive inside an archive is not read")
    return inner, [inner]


__all__ = ["SourceError", "UnpackLimits", "check_zip", "unpack"]
