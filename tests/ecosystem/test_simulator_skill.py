"""Evaluation against the simulator's planted provider skill (the bar: Spearman ≥ 0.7).

The simulator plants each provider's ``true_skill``: its clients' skills on the capabilities it
serves grow by ``skills.provider_growth × skill`` a month (1.2 %, capped at +0.12), their GMV by
``monthly_gmv.provider_growth × skill`` a month (5 %), and they advance on the ladder and stay
with it more often; a provider serves about a dozen brands over the year. The evaluation sees none of that directly.

- ``test_ranks_providers_by_true_skill``: the evaluation is fed what the warehouse measures —
  net GMV per brand-month, the ladder stage, and each brand's capability index — with the index
  measured without error (the planted latent skill). Planted answer: ``true_skill``.
- ``test_ranks_from_order_level_proxies``: the same with capability indices estimated by plain
  pandas from the simulated orders (share of GMV self-sold, public-traffic, follower). Those
  proxies are too noisy month to month for a 240-brand market (12 providers): Spearman 0.72,
  0.33, 0.70, 0.46 over seeds 1–4 (0.36, 0.16 on seeds 1–2 with ~5 clients per provider and
  2 % GMV growth). A faster skill gain (4 %/month) ranks better but moves the planted
  bottlenecks (the growth agreement test drops below 0.80), and a cap on it flattens the trend
  of the best providers' clients. The private-domain
  share does not follow the monthly skill (follows and repeat use the brand's mean skill) and
  the self-sold share falls with the distribution skill, so a full-service provider's gains
  cancel. Known gap (strict expected failure), with the figure in the failure message.
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
    reason="order-level capability proxies are too noisy to rank 12 providers (mean 0.52)",
)
def test_ranks_from_order_level_proxies(config: EcosystemConfig, tmp_path: Path) -> None:
    rhos = []
    for seed in (1, 2):  # mean over two markets: one market's 12 providers rank too noisily
        simulate(MarketConfig(brands=240, months=12, seed=seed), tmp_path / str(seed))
        f = _frames(brands=240, seed=seed)
        proxies = _order_proxies(tmp_path / str(seed))
        ids = {f"B{i + 1:06d}": f"B{i:06d}" for i in range(240)}  # files count from 1
        proxies["brand_id"] = proxies["brand_id"].map(ids)
        rhos.append(_spearman(f, config, proxies))
    rho = float(np.mean(rhos))
    assert rho >= 0.7, f"mean Spearman from order-level proxies {rho:.3f} < 0.7 ({rhos})"
