"""The matrix-account horse race: planted answers, on hand-made weeks and on the simulator.

The simulator plants each matrix account's true quality and marks the best one of every brand
with two or more matrix accounts (``truth/accounts.parquet`` ``is_best``); the race must name it
most likely best in at least 80% of brands with 3+ accounts and 8+ weeks of sessions.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from windmaker import contract
from windmaker.cli.main import app
from windmaker.config import Settings
from windmaker.i18n import reason_text
from windmaker.models.horse_race import (
    HorseRaceConfig,
    account_week_expression,
    most_likely_best,
    race,
)
from windmaker.simulator import small_market
from windmaker.workspace import open_warehouse


def _weeks(
    rates: dict[str, float], weeks: dict[str, int], seed: int = 0, *, alternating: bool = False
) -> pd.DataFrame:
    """Weekly rows of one brand's matrix accounts with planted GMV per live hour.

    Noise is log-normal (sd 0.3), or with ``alternating`` exactly ±0.3 week by week, so that
    every account's mean log rate is its planted one.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for acc, rate in rates.items():
        for w in range(weeks[acc]):
            hours = 10.0
            noise = (0.3 if w % 2 else -0.3) if alternating else rng.normal(0, 0.3)
            gmv = rate * hours * np.exp(noise)
            viewers = 2000.0
            rows.append(
                (
                    "B1",
                    acc,
                    "brand_matrix",
                    pd.Timestamp("2026-01-05") + pd.Timedelta(weeks=w),
                    hours,
                    viewers,
                    int(rng.poisson(viewers * rate / 20_000)),
                    gmv,
                )
            )
    return pd.DataFrame(
        rows,
        columns=[
            "brand_id",
            "account_id",
            "kind",
            "week",
            "live_hours",
            "viewers",
            "orders",
            "gmv",
        ],
    )


def test_clear_winner_is_scaled_and_clear_loser_stopped() -> None:
    w = _weeks({"good": 900, "mid": 500, "bad": 200}, {"good": 12, "mid": 12, "bad": 12})
    res = race(w).set_index("account_id")
    assert res.loc["good", "p_best"] > 0.95
    assert res.loc["good", "decision"] == "scale"
    assert res.loc["bad", "decision"] == "stop"
    assert res["p_best"].sum() == pytest.approx(1.0)
    bad = res.loc["bad"]
    assert reason_text(bad["reason_code"], bad["reason_params"], "zh-CN").endswith("建议停播")


def test_few_weeks_are_shrunk_toward_the_brand() -> None:
    """The same raw lead earns less confidence over 2 weeks than over 12."""
    short = race(
        _weeks(
            {"new": 780, "steady": 600, "other": 400},
            {"new": 2, "steady": 12, "other": 12},
            alternating=True,
        )
    )
    long = race(
        _weeks(
            {"new": 780, "steady": 600, "other": 400},
            {"new": 12, "steady": 12, "other": 12},
            alternating=True,
        )
    )
    s, lg = short.set_index("account_id"), long.set_index("account_id")
    assert s.loc["new", "p_best"] < lg.loc["new", "p_best"]
    shrink_short = abs(
        s.loc["new", "gmv_per_live_hour_shrunk"] / s.loc["new", "gmv_per_live_hour"] - 1
    )
    shrink_long = abs(
        lg.loc["new", "gmv_per_live_hour_shrunk"] / lg.loc["new", "gmv_per_live_hour"] - 1
    )
    assert shrink_short > shrink_long


def test_main_account_is_not_a_contestant_by_default() -> None:
    w = _weeks({"m1": 500, "m2": 300}, {"m1": 10, "m2": 10})
    main = w[w.account_id == "m1"].assign(
        account_id="main", kind="brand_main", gmv=lambda d: d.gmv * 5
    )
    res = race(pd.concat([w, main]))
    assert "main" not in set(res.account_id)
    both = race(pd.concat([w, main]), HorseRaceConfig(kinds=("brand_main", "brand_matrix")))
    assert most_likely_best(both)["B1"] == "main"


@pytest.fixture(scope="module")
def market(distribution_market: Path) -> Path:
    return distribution_market


def test_planted_best_account_is_named_in_80_percent_of_brands(market: Path) -> None:
    con = ibis.duckdb.connect()
    tables = {
        t.name: con.read_parquet(market / f"{t.name}.parquet", table_name=t.name)
        for t in (contract.ACCOUNTS, contract.LIVE_SESSIONS, contract.ORDERS)
    }
    weeks = con.to_pyarrow(account_week_expression(tables)).to_pandas()
    con.disconnect()
    res = race(weeks)
    truth = pd.read_parquet(market / "truth" / "accounts.parquet")
    best = truth[truth.is_best].set_index("brand_id")["account_id"]
    accounts = truth.groupby("brand_id").size()
    min_weeks = res.groupby("brand_id")["weeks"].min()
    eligible = [b for b in best.index if accounts[b] >= 3 and b in min_weeks and min_weeks[b] >= 8]
    assert len(eligible) >= 20
    named = most_likely_best(res)
    hit_rate = np.mean([named[b] == best[b] for b in eligible])
    assert hit_rate >= 0.8, hit_rate


def test_cli_stores_the_distribution_tables(workspace: Settings, tmp_path: Path) -> None:
    """The four commands run on an ingested market and store their tables with their columns."""
    folder = small_market(tmp_path / "m", seed=2, brands=16, months=5, categories=None)
    ws = ["-w", str(workspace.workspace)]
    runner = CliRunner()
    files = [str(p) for p in sorted(folder.glob("*.parquet"))]
    assert runner.invoke(app, ["ingest", *files, *ws]).exit_code == 0
    for args in (["influencers", "recommend"], ["hits"], ["horse-race"], ["concentration"]):
        result = runner.invoke(app, [*args, *ws])
        assert result.exit_code == 0, (args, result.output)
    brand = pd.read_parquet(folder / "brands.parquet")["brand_id"].iloc[0]
    one = runner.invoke(app, ["influencers", "recommend", brand, "--top", "3", *ws])
    assert one.exit_code == 0, one.output
    with open_warehouse(workspace) as wh:
        recs = wh.to_arrow(wh.table("mdl_recommendations")).to_pandas()
        assert {"expected_gmv", "reason_code", "reason_params"} <= set(recs.columns)
        assert recs.groupby("brand_id")["rank"].max()[brand] == 3
        assert recs["brand_id"].nunique() > 1  # the other brands' lists were kept
        assert str(wh.table("mdl_recommendations").schema()["expected_gmv"]).startswith("decimal")
        for name in ("mdl_hits", "mdl_horse_race", "mdl_concentration"):
            assert wh.has_table(name)
        conc = wh.to_arrow(wh.table("mdl_concentration")).to_pandas()
        assert ((conc["top_share"] > 0) & (conc["top_share"] <= 1)).all()
        assert (conc["hhi"] <= conc["top_share"] + 1e-12).all()
