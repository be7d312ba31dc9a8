"""The same seed gives byte-identical files; another seed gives another market."""

from __future__ import annotations

from pathlib import Path

import pytest

from windmaker.simulator import MarketConfig, simulate

TINY = {"brands": 12, "months": 3, "categories": ("apparel", "food")}


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_same_seed_gives_byte_identical_files(tmp_path: Path, fmt: str) -> None:
    simulate(MarketConfig(seed=7, **TINY), tmp_path / "a", fmt=fmt)  # type: ignore[arg-type]
    simulate(MarketConfig(seed=7, **TINY), tmp_path / "b", fmt=fmt)  # type: ignore[arg-type]
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert f"orders.{fmt}" in a
    assert len(a) == 9 + 11 + 2  # contract tables, truth/, ecosystem/
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_block_size_does_not_change_the_static_tables(tmp_path: Path) -> None:
    simulate(MarketConfig(seed=7, block_brands=5, **TINY), tmp_path / "a")  # type: ignore[arg-type]
    simulate(MarketConfig(seed=7, block_brands=64, **TINY), tmp_path / "b")  # type: ignore[arg-type]
    for name in ("brands.parquet", "skus.parquet", "accounts.parquet", "truth/brand_month.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_another_seed_gives_another_market(tmp_path: Path) -> None:
    simulate(MarketConfig(seed=1, **TINY), tmp_path / "a")  # type: ignore[arg-type]
    simulate(MarketConfig(seed=2, **TINY), tmp_path / "b")  # type: ignore[arg-type]
    assert (tmp_path / "a" / "orders.parquet").read_bytes() != (
        tmp_path / "b" / "orders.parquet"
    ).read_bytes()


def test_compression_changes_bytes_not_content(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    simulate(MarketConfig(seed=3, **TINY), tmp_path / "a")  # type: ignore[arg-type]
    simulate(MarketConfig(seed=3, compression="none", **TINY), tmp_path / "b")  # type: ignore[arg-type]
    a, b = tmp_path / "a" / "orders.parquet", tmp_path / "b" / "orders.parquet"
    assert a.stat().st_size < b.stat().st_size
    assert pq.read_table(a).equals(pq.read_table(b))
