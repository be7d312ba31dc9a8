"""Domain packages stay free of I/O frameworks: they build expressions and records, nothing more."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "windmaker"
DOMAIN = ("metrics", "growth", "models", "ecosystem")
FORBIDDEN = ("fastapi", "sqlalchemy", "duckdb", "starlette", "uvicorn", "typer")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_package_imports_no_io_framework(package: str) -> None:
    offenders = {
        str(p.relative_to(SRC)): sorted(_imports(p) & set(FORBIDDEN))
        for p in (SRC / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
