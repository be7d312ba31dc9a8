"""The diagnosis against the simulator's planted truth, on a small market.

Known answer: ``truth/brand_month.parquet`` (true stage and bottleneck per brand-month). The
market is simulated, loaded, refreshed by the metrics engine and diagnosed with the shipped
configuration; agreement is judged as :mod:`windmaker.growth.validation` defines it (a brand's
first 3 months and the 3 months from each true stage change left out). The thresholds are the
issue's bar (stage ≥ 95 %, bottleneck ≥ 80 %); this market (240 brands, seed 3) reaches 100 %
and 90.2 % (seed 4: 99.9 %, 89.5 %). At 120 brands the advancers a category's gap reference is
learned from are a handful, and bottleneck agreement swung with the seed from 76 % to 95 %.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from windmaker import contract
from windmaker.growth import diagnosis as dx
from windmaker.growth.config import load_ladder_config
from windmaker.growth.plan import load_playbook
from windmaker.growth.validation import Agreement, agreement
from windmaker.i18n import reason_text
from windmaker.services.refresh import refresh
from windmaker.simulator import MarketConfig, simulate
from windmaker.warehouse import Warehouse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Agreement, dx.Diagnosis]:
    out = tmp_path_factory.mktemp("market")
    simulate(
        MarketConfig(brands=240, months=8, seed=3, categories=("apparel", "beauty", "food")), out
    )
    with Warehouse("duckdb://") as wh:
        for tbl in contract.TABLES:
            wh.write(tbl.name, pq.read_table(Path(out) / f"{tbl.name}.parquet"))
        refresh(wh, full=True)
        bm, cap = dx.input_expressions(wh.table(dx.BRAND_MONTH), wh.table(dx.CAPABILITY))
        result = dx.diagnose(wh.execute(bm), wh.execute(cap), load_ladder_config(), load_playbook())
    truth = pd.read_parquet(Path(out) / "truth" / "brand_month.parquet")
    return agreement(result.stages, result.bottlenecks, truth), result


def test_stage_agrees_with_planted_truth(judged: tuple[Agreement, dx.Diagnosis]) -> None:
    a, _ = judged
    assert a.judged > 900
    assert a.stage >= 0.95


def test_bottleneck_agrees_with_planted_truth(judged: tuple[Agreement, dx.Diagnosis]) -> None:
    a, _ = judged
    assert a.bottleneck >= 0.80


def test_every_judged_brand_has_a_plan_and_reason(judged: tuple[Agreement, dx.Diagnosis]) -> None:
    _, result = judged
    latest = result.stages["period"].max()
    brands = set(result.stages.loc[result.stages["period"] == latest, "brand_id"])
    plans = result.plans[result.plans["period"] == latest]
    counts = plans.groupby("brand_id").size()
    assert set(counts.index) == brands
    # A target must improve on the current value, so a brand ahead of the brands that made the
    # step on nearly every playbook metric gets a shorter plan (7 of 240 here: SKA brands above
    # their peers, a climbing brand already meeting KA, zero-breaking brands strong everywhere
    # but in sales); every other brand keeps 3 to 5 actions.
    assert counts.between(1, 5).all()
    assert (counts >= 3).mean() >= 0.95
    higher = plans["direction"] == "higher"
    assert (plans.loc[higher, "target"] > plans.loc[higher, "current"]).all()
    assert (plans.loc[~higher, "target"] < plans.loc[~higher, "current"]).all()
    reasons = zip(result.stages["reason_code"], result.stages["reason_params"], strict=True)
    assert min(len(reason_text(c, p, "en")) for c, p in reasons) > 40
