"""Evaluation against the simulator's planted provider skill (the bar: Spearman ≥ 0.7).

The simulator plants each provider's ``true_skill``: its clients' skills on the capabilities it
serves grow by ``provider_growth × skill`` a month, their GMV by 2 % × skill a month, and they
advance on the ladder and stay with it more often. The evaluation sees none of that directly.

- ``test_ranks_providers_by_true_skill``: the evaluation is fed what the warehouse measures —
  net GMV per brand-month, the ladder stage, and each brand's capability index — with the index
  measured without error (the planted latent skill). Planted answer: ``true_skill``.
- ``test_ranks_from_order_level_proxies``: the same with capability indices estimated by plain
  pandas from the simulated orders (share of GMV self-sold, public-traffic, follower). Those
  proxies are too noisy month to month to recover a skill gain of ~1 % a month, so this is a
  known gap (strict expected failure), with the figure in the failure message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from windmaker.contract import CAPABILITIES, STAGES
from windmaker.ecosystem.config import EcosystemConfig
from windmaker.ecosystem.evaluation import evaluate_providers
from windmaker.simulator import MarketConfig, build_market, simulate


def _frames(brands: int, seed: int) -> dict[str, object]:
    mk = build_market(MarketConfig(brands=brands, months=12, seed=seed))
    plan, prov, window = mk.plan, mk.providers, mk.window
    n = plan.stage.shape[0]
    bi, mi = np.nonzero(plan.stage >= 0)
    ids = np.array([f"B{i:06d}" for i in range(n)])
    periods = pd.to_datetime(window.month_starts.astype("datetime64[ns]"))
    cats = np.asarray(mk.brands.categories)[mk.brands.category]
    base = pd.DataFrame({"brand_id": ids[bi], "period": periods[mi], "category": cats[bi]})
    bm = base.assign(net_gmv=plan.gmv[bi, mi].round(2))
    stages = base.assign(stage=np.asarray(STAGES)[plan.stage[bi, mi]])
    caps = pd.concat(
        base.assign(capability=c, index=plan.skills[bi, mi, k]) for k, c in enumerate(CAPABILITIES)
    )
    pids = np.array([f"P{j:05d}" for j in range(prov.n)])
    assignments = pd.DataFrame(
        {
            "provider_id": pids[prov.a_provider],
            "brand_id": ids[prov.a_brand],
            "started_at": pd.to_datetime(prov.a_started.astype("datetime64[ns]")),
            "ended_at": pd.to_datetime(prov.a_ended.astype("datetime64[ns]")),
        }
    )
    declared = {
        pids[j]: [c for k, c in enumerate(CAPABILITIES) if prov.capabilities[j, k]]
        for j in range(prov.n)
    }
    return {
        "brand_month": bm,
        "stages": stages,
        "capabilities": caps,
        "assignments": assignments,
        "declared": declared,
        "truth": pd.Series(prov.skill, index=pids),
        "period": periods[-1].date(),
    }


def _spearman(f: dict[str, object], config: EcosystemConfig, capabilities: pd.DataFrame) -> float:
    result = evaluate_providers(
        brand_month=f["brand_month"],  # type: ignore[arg-type]
        assignments=f["assignments"],  # type: ignore[arg-type]
        period=f["period"],  # type: ignore[arg-type]
        config=config.evaluation,
        stages=f["stages"],  # type: ignore[arg-type]
        capabilities=capabilities,
        provider_capabilities=f["declared"],  # type: ignore[arg-type]
    )
    scores = pd.Series({e.provider_id: e.score for e in result.providers if e.clients > 0})
    truth = f["truth"].reindex(scores.index)  # type: ignore[attr-defined]
    return float(spearmanr(scores, truth).statistic)


@pytest.mark.parametrize("seed", [1, 2])
def test_ranks_providers_by_true_skill(config: EcosystemConfig, seed: int) -> None:
    f = _frames(brands=800, seed=seed)
    rho = _spearman(f, config, f["capabilities"])  # type: ignore[arg-type]
    print(f"Spearman(evaluation score, true skill) seed {seed}: {rho:.3f}")
    assert rho >= 0.7


def _order_proxies(folder: Path) -> pd.DataFrame:
    """Capability indices estimated from orders: robust-standardised shares per category × month."""
    o = pd.read_parquet(
        folder / "orders.parquet",
        columns=[
            "paid_at",
            "brand_id",
            "account_id",
            "traffic_source",
            "amount",
            "refund_amount",
            "status",
        ],
    )
    o = o[o["status"] != "cancelled"]
    o["net"] = o["amount"].astype(float) - o["refund_amount"].fillna(0).astype(float)
    o["period"] = o["paid_at"].dt.to_period("M").dt.to_timestamp()
    kind = pd.read_parquet(folder / "accounts.parquet", columns=["account_id", "kind"])
    o["kind"] = o["account_id"].map(kind.set_index("account_id")["kind"])
    o["self_operation"] = o["kind"].isin(["brand_main", "brand_matrix"]) * o["net"]
    o["traffic"] = o["traffic_source"].isin(["recommend", "paid"]) * o["net"]
    o["private_domain"] = (o["traffic_source"] == "follow") * o["net"]
    g = o.groupby(["brand_id", "period"], as_index=False)[
        ["net", "self_operation", "traffic", "private_domain"]
    ].sum()
    cats = pd.read_parquet(folder / "brands.parquet", columns=["brand_id", "category"])
    g = g.merge(cats, on="brand_id")
    parts = []
    for c in ("self_operation", "traffic", "private_domain"):
        x = g[["brand_id", "category", "period"]].copy()
        x["value"] = g[c] / g["net"].where(g["net"] > 0)
        grp = x.groupby(["category", "period"])["value"]
        iqr = grp.transform(lambda s: s.quantile(0.75) - s.quantile(0.25))
        x["index"] = (x["value"] - grp.transform("median")) / iqr.where(iqr > 0, 1.0)
        parts.append(x.assign(capability=c).dropna(subset=["index"]))
    return pd.concat(parts)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="order-level capability proxies are too noisy for a ~1 %/month skill gain",
)
def test_ranks_from_order_level_proxies(config: EcosystemConfig, tmp_path: Path) -> None:
    simulate(MarketConfig(brands=240, months=12, seed=1), tmp_path)
    f = _frames(brands=240, seed=1)
    proxies = _order_proxies(tmp_path)
    ids = {f"B{i + 1:06d}": f"B{i:06d}" for i in range(240)}  # files count from 1
    proxies["brand_id"] = proxies["brand_id"].map(ids)
    rho = _spearman(f, config, proxies)
    assert rho >= 0.7, f"Spearman from order-level proxies {rho:.3f} < 0.7"
