"""The layers hold: the import-linter contracts in pyproject.toml, over the transitive import graph.

``make lint`` runs the same contracts; this test keeps them in the suite, and checks that the
contracts say what docs/architecture.md promises (a contract quietly deleted would pass the lint).
"""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["importlinter"]["contracts"])


def test_the_contracts_cover_every_rule_of_the_architecture() -> None:
    rules = {
        (src, bad)
        for c in _contracts()
        for src in c["source_modules"]  # type: ignore[attr-defined]
        for bad in c["forbidden_modules"]  # type: ignore[attr-defined]
    }
    domain = ("metrics", "growth", "models", "ecosystem")
    for package in domain:
        for layer in ("services", "store", "cli", "api", "web"):
            assert (f"windmaker.{package}", f"windmaker.{layer}") in rules
        for framework in ("fastapi", "sqlalchemy", "duckdb", "typer"):
            assert (f"windmaker.{package}", framework) in rules
    for layer in ("views", "reports", "cli", "api", "web"):
        assert ("windmaker.services", f"windmaker.{layer}") in rules
    assert ("windmaker.web", "windmaker.api.routers") in rules
    cli_free = {src for src, bad in rules if bad == "windmaker.cli"}
    packages = {
        f"windmaker.{p.stem if p.is_file() else p.name}"
        for p in (ROOT / "src" / "windmaker").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.stem != "__init__")
    }
    assert packages - {"windmaker.cli"} <= cli_free, packages - {"windmaker.cli"} - cli_free


def test_the_import_graph_keeps_every_contract() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout[-4000:]


#: A module longer than this does more than one thing: split it by concern.
MAX_LINES = 650


def test_no_source_module_outgrows_one_concern() -> None:
    src = ROOT / "src" / "windmaker"
    long = {
        str(p.relative_to(src)): n
        for p in src.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
