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


def _windmaker_imports(path: Path) -> set[str]:
    """The windmaker packages a module imports (``windmaker.cli``, ``windmaker.api``, …)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        modules = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        names.update(".".join(m.split(".")[:2]) for m in modules if m.startswith("windmaker."))
    return names


def test_services_use_no_interface() -> None:
    """The use cases show nothing and parse nothing: no CLI, API or web, no Typer or Rich."""
    offenders = {}
    for p in (SRC / "services").rglob("*.py"):
        bad = sorted(_imports(p) & {"typer", "rich", "fastapi", "starlette"})
        bad += sorted(_windmaker_imports(p) & {"windmaker.cli", "windmaker.api", "windmaker.web"})
        if bad:
            offenders[str(p.relative_to(SRC))] = bad
    assert offenders == {}


def test_nothing_outside_the_cli_imports_it() -> None:
    """The main job, the API and the web call the services, never a command module."""
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if "cli" not in p.relative_to(SRC).parts and "windmaker.cli" in _windmaker_imports(p)
    ]
    assert offenders == []
