"""The results contract: every table windmaker writes is declared, and is written as declared.

A simulated market (20 brands × 6 months) goes through ingest, the main job with the models and
the four distribution use cases; every table in the warehouse that windmaker wrote is then held
to its declaration in :mod:`windmaker.results` (columns, types, unique key), and every declared
table must have been written by some step.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import ibis.expr.datatypes as dt
import pandas as pd
import pytest
from ibis.expr.schema import Schema

from windmaker import results
from windmaker.config import Settings
from windmaker.services import distribution
from windmaker.services.configs import Configs
from windmaker.warehouse import Warehouse, money, with_money
from windmaker.workspace import open_warehouse

#: Cheaper fits than the shipped ones: the contract is about shapes, not fit quality.
FAST_MODELS = """\
version: 1
clv:
  min_buyers: 100000000
  pareto_nbd: false
traffic:
  alpha_starts: [0.4]
  history_days: 90
"""


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Schema, pd.DataFrame]]:
    """Every table of a market taken through every writing step: name → (schema, frame)."""
    from windmaker.ingest import ingest_files
    from windmaker.services.run import run_pipeline
    from windmaker.simulator import small_market
    from windmaker.workspace import init_workspace

    root = tmp_path_factory.mktemp("results")
    files = small_market(root / "files", seed=3, brands=20, months=6)
    config = root / "config"
    config.mkdir()
    (config / "models.yaml").write_text(FAST_MODELS, encoding="utf-8")
    settings: Settings = init_workspace(root / "ws").model_copy(update={"config_dir": config})
    assert ingest_files(settings, sorted(files.glob("*.parquet")), progress=False).rejected == 0
    run_pipeline(settings, models=True)
    # a second run finds nothing new, and leaves no working table behind either
    assert run_pipeline(settings).metrics == "up_to_date"
    configs = Configs.of(settings)
    with open_warehouse(settings) as wh:
        assert distribution.recommend_influencers(wh, configs).stored > 0
        distribution.detect_hits(wh, configs)
        assert distribution.race_matrix_accounts(wh, configs).entries
        assert distribution.concentration_risk(wh, configs).brands > 0
    with open_warehouse(settings) as wh:
        return {
            name: (wh.table(name).schema(), wh.execute(wh.table(name)))
            for name in wh.tables()
            if name.startswith(("m_", "g_", "mdl_", "_"))
        }


def _compatible(declared: str, actual: dt.DataType) -> bool:
    """Whether a stored column type holds the declared kind of value."""
    if declared == "money":
        return actual == dt.Decimal(18, 2)
    return {
        "string": actual.is_string(),
        "int": actual.is_integer(),
        "float": actual.is_floating(),
        "bool": actual.is_boolean(),
        "date": actual.is_date(),
        "timestamp": actual.is_timestamp(),
    }[declared]


def test_every_declared_table_is_written_and_nothing_else(written: dict) -> None:  # type: ignore[type-arg]
    """Planted truth: the steps of the main job, the models and distribution write exactly the
    declared tables; working tables (``*_new``, ``_mdl_clv_rfm``) are gone when they finish."""
    assert set(written) == set(results.TABLES_BY_NAME)
    assert {t.step for t in results.TABLES} == set(results.STEPS)


@pytest.mark.parametrize("name", sorted(results.TABLES_BY_NAME))
def test_written_table_matches_its_declaration(name: str, written: dict) -> None:  # type: ignore[type-arg]
    declared = results.table(name)
    schema, frame = written[name]
    assert set(schema.names) == set(declared.column_names), name
    wrong = {
        c.name: str(schema[c.name])
        for c in declared.columns
        if not _compatible(c.dtype, schema[c.name])
    }
    assert not wrong, f"{name}: {wrong}"
    assert set(declared.key) <= set(declared.column_names)
    assert len(frame) > 0, f"{name} is empty on a market that has every kind of row"
    if declared.unique:
        assert not frame.duplicated(list(declared.key)).any(), f"{name}: {declared.key} repeats"


def test_money_rounds_to_the_cent_and_keeps_nulls() -> None:
    """Known answers: half a cent rounds away from zero; 1.005 is stored in binary just below
    1.005 and so rounds down; NaN and None stay null; decimals are kept exactly."""
    got = money(pd.Series([0.125, -0.125, 1.005, 2.5, float("nan"), None]))
    assert got.to_pylist() == [
        Decimal("0.13"),
        Decimal("-0.13"),
        Decimal("1.00"),
        Decimal("2.50"),
        None,
        None,
    ]
    assert money([Decimal("19.9")]).to_pylist() == [Decimal("19.90")]


def test_warehouse_stores_declared_money_as_decimal(tmp_path: Path) -> None:
    """A writer hands floats (a DataFrame, an Ibis expression); the declared money columns are
    stored as DECIMAL(18,2) and the other columns keep their type; an undeclared table is left
    as it came."""
    import ibis

    with Warehouse(f"duckdb://{tmp_path / 'w.duckdb'}") as wh:
        frame = pd.DataFrame(
            {"portfolio": ["all"], "brand_id": ["B1"], "current_spend": [1234.565001]}
        )
        wh.write(results.BUDGET, frame)
        assert wh.table(results.BUDGET).schema()["current_spend"] == dt.Decimal(18, 2)
        assert wh.execute(wh.table(results.BUDGET))["current_spend"].iloc[0] == Decimal("1234.57")
        expr = ibis.memtable({"brand_id": ["B1"], "distribution_gmv": [10.004], "hhi": [0.5]})
        wh.write(results.CONCENTRATION, expr)
        schema = wh.table(results.CONCENTRATION).schema()
        assert schema["distribution_gmv"] == dt.Decimal(18, 2) and schema["hhi"].is_floating()
        wh.write("scratch_table", frame)
        assert wh.table("scratch_table").schema()["current_spend"].is_floating()
    assert with_money(frame, ["absent"]) is frame


SERVICE_FILES = (
    "refresh.py",
    "run.py",
    "ingest.py",
    "trust.py",
    "diagnose.py",
    "models.py",
    "distribution.py",
)


@pytest.mark.parametrize("module", SERVICE_FILES)
def test_services_name_result_tables_by_constant(module: str) -> None:
    """The use cases read and write result tables through the contract's names, never a
    literal, so a renamed table cannot leave a reader behind."""
    source = (Path(results.__file__).parent / "services" / module).read_text(encoding="utf-8")
    literal = re.compile(r"[\"'](" + "|".join(map(re.escape, results.TABLES_BY_NAME)) + r")[\"']")
    assert not literal.findall(source)
