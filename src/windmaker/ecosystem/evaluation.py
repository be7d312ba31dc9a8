"""Evaluation of providers, one period (a month) at a time, from warehouse frames.

For period ``P`` (a month):

- **gmv_served** = Σ net GMV in ``P`` of the brands the provider served during ``P``;
  **annual_gmv_served** the same over the 12 months ending with ``P`` (brand-months served).
- **client growth** of brand ``b`` = its log-GMV trend per month over the ``growth_months``
  months ending with ``P`` while the provider served it (the pooled within-stage OLS slope of
  ln GMV on the month, so a jump from one ladder stage to the next is not counted as growth; at
  least ``min_months`` months); its **uplift** = growth − median growth of its comparable
  unserved brands (served by nobody in the window; same category and stage at the start of the
  window, widening to the same stage, the same category, then all when fewer than
  ``peer_count``; the ``peer_count`` nearest in ln mean monthly GMV). **client_uplift** = mean
  uplift over the provider's clients. A brand's launch ramp (its first ``ramp_months`` months
  from its first sale, when that comes after the first month of data) is left out of every
  trend: ramping up is not growth. A month-on-month step of ln GMV beyond ``level_shift_log``
  starts a new segment too: a ladder jump shows in GMV months before the stage (with its
  hysteresis) confirms it.
- **client_uplift_year**: the same over the ``trend_months`` months ending with ``P``, as
  Σ wᵢ·upliftᵢ / Σ wᵢ with wᵢ = Σ(t − t̄)² of client i's months (the slope's precision up to
  the noise variance): month noise of ~10 % leaves a 6-month trend uncertain by ±3 %/month, a
  12-month one by ±1 %.
- **capability_uplift**: a provider works on the capabilities it declares, so for each client
  and each declared capability, the trend per month of the brand's capability index
  (``m_capability``) over the ``capability_months`` months ending with ``P`` while served
  (pooled within-stage slope, as for GMV) minus the median trend of the same capability among
  comparable unserved brands; averaged over the provider's clients and capabilities with the
  same precision weights.
- **stage_advancement_rate** = share of those clients whose stage at ``P`` is above their stage
  at ``P−L`` (ladder order zero_breaking < climbing < ka < ska).
- **client_retention** = share of brands served on the first day of ``W1`` still served at the
  end of ``P``.
- **trust_violations_per_client** = violations of clients in ``P`` / clients in ``P``; a violation
  of a kind listed in ``severe_violation_kinds`` (fraud) is severe.
- **action_completion** = done / (due by the end of ``P`` and not dropped) over the clients'
  action items.

The composite **score** = Σ weightₘ · (m̃ₘ − median over providers) / IQR over providers (a
missing metric counts as the median), where m̃ = (n·m + k·μ) / (n + k) shrinks a client-averaged
metric (the uplifts, stage advancement) towards μ, its mean over all clients, with n the
provider's clients and k = ``shrinkage_clients``: one lucky client does not top the ranking.
The metrics reported and judged against the standard are the unshrunk m. A provider with at least ``min_clients`` clients is below
the standard when any metric is outside its bound, or at once on a severe violation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from windmaker.contract import STAGES
from windmaker.ecosystem.config import EvaluationConfig

METRICS = (
    "client_uplift",
    "client_uplift_year",
    "capability_uplift",
    "stage_advancement_rate",
    "client_retention",
    "trust_violations_per_client",
    "action_completion",
)

_METRIC_ZH = {
    "client_uplift": "客户增长超额",
    "client_uplift_year": "客户全年增长超额",
    "capability_uplift": "客户能力提升超额",
    "stage_advancement_rate": "阶梯晋级率",
    "client_retention": "客户留存率",
    "trust_violations_per_client": "客户信任违规率",
    "action_completion": "行动项完成率",
}


@dataclass(frozen=True)
class ProviderEvaluation:
    """One provider's evaluation of one period."""

    provider_id: str
    period: date
    clients: int
    gmv_served: Decimal
    annual_gmv_served: Decimal
    metrics: dict[str, float | None]
    score: float
    judged: bool
    meets_standard: bool
    severe_violation: bool
    reasons: tuple[dict[str, Any], ...] = field(default=())

    def metrics_json(self) -> dict[str, Any]:
        """Metrics and counts as stored with the evaluation (JSON-ready)."""
        return {
            **self.metrics,
            "clients": self.clients,
            "annual_gmv_served": str(self.annual_gmv_served),
        }


@dataclass(frozen=True)
class EvaluationResult:
    """Every provider's evaluation plus the client-level uplifts behind them."""

    period: date
    providers: tuple[ProviderEvaluation, ...]
    #: provider_id, brand_id, category, base_gmv (monthly mean in W0), growth, peer_growth, uplift
    client_effects: pd.DataFrame


def month_start(value: Any) -> date:
    """First day of the month of ``value`` (a date, timestamp or ``YYYY-MM`` string)."""
    ts = pd.Timestamp(str(value) + "-01" if isinstance(value, str) and len(value) == 7 else value)
    return date(ts.year, ts.month, 1)


def _shift(period: date, months: int) -> date:
    idx = period.year * 12 + period.month - 1 + months
    return date(idx // 12, idx % 12 + 1, 1)


def _month_end(period: date) -> pd.Timestamp:
    return pd.Timestamp(_shift(period, 1)) - pd.Timedelta(days=1)


def _prepare_assignments(assignments: pd.DataFrame) -> pd.DataFrame:
    a = assignments[["provider_id", "brand_id", "started_at", "ended_at"]].copy()
    a["started_at"] = pd.to_datetime(a["started_at"])
    a["ended_at"] = pd.to_datetime(a["ended_at"]).fillna(pd.Timestamp.max.normalize())
    return a


def _active(a: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Assignments overlapping [start, end]."""
    return (a["started_at"] <= end) & (a["ended_at"] >= start)


def _window_gmv(bm: pd.DataFrame, first: date, last: date) -> pd.Series:
    sel = bm[(bm["period"] >= pd.Timestamp(first)) & (bm["period"] <= pd.Timestamp(last))]
    return sel.groupby("brand_id")["net_gmv"].sum()


def _peer_growth(clients: pd.DataFrame, unserved: pd.DataFrame, peer_count: int) -> pd.Series:
    """Median growth of each client's ``peer_count`` nearest unserved brands (by ``log_base``).

    Peers are looked for among unserved brands of the same category and starting stage
    (``start_stage``), then of the same stage in any category, then of the same category, then
    among all: the first of these pools holding at least ``peer_count`` brands (else the
    largest of them) is used, so a thin category still gets comparable peers.
    """
    out = pd.Series(np.nan, index=clients.index, dtype="float64")
    if unserved.empty:
        return out
    pools: tuple[list[str], ...] = (["category", "start_stage"], ["start_stage"], ["category"], [])
    size, growth = unserved["log_base"].to_numpy(), unserved["growth"].to_numpy()
    keyed = {
        tuple(keys): {
            (k if isinstance(k, tuple) else (k,)): np.asarray(idx)
            for k, idx in unserved.groupby(keys, observed=True).indices.items()
        }
        if keys
        else {(): np.arange(len(unserved))}
        for keys in pools
    }
    for (cat, stage), group in clients.groupby(["category", "start_stage"], dropna=False):
        best: np.ndarray = np.arange(0)
        for keys in pools:
            value = tuple({"category": cat, "start_stage": stage}[k] for k in keys)
            idx = keyed[tuple(keys)].get(value, np.arange(0))
            if len(idx) > len(best):
                best = idx
            if len(best) >= peer_count:
                break
        if len(best) == 0:
            continue
        k = min(peer_count, len(best))
        dist = np.abs(group["log_base"].to_numpy()[:, None] - size[best][None, :])
        nearest = np.argpartition(dist, k - 1, axis=1)[:, :k]
        out.loc[group.index] = np.median(growth[best][nearest], axis=1)
    return out


def _brand_frame(
    bm: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp, stages: pd.DataFrame | None
) -> pd.DataFrame:
    """Per brand in [first, last]: category, mean monthly GMV (``base``), ``log_base`` and the
    stage of its first month in the window (``start_stage``, "unknown" without stages)."""
    win = bm[(bm["period"] >= first) & (bm["period"] <= last)]
    brands = win.groupby("brand_id").agg(category=("category", "first"), base=("net_gmv", "mean"))
    brands["log_base"] = np.log(brands["base"].clip(lower=0) + 1.0)
    brands["start_stage"] = "unknown"
    if stages is not None and not stages.empty:
        st = stages[["brand_id", "period", "stage"]].copy()
        st["period"] = pd.to_datetime(st["period"])
        st = st[(st["period"] >= first) & (st["period"] <= last)].sort_values("period")
        start = st.groupby("brand_id")["stage"].first()
        brands["start_stage"] = start.reindex(brands.index).fillna("unknown").astype(str)
    return brands


def _split_level_shifts(rows: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Start a new trend segment at every month whose |Δ ln GMV| from the brand's previous
    month exceeds ``threshold``: such a step (a ladder jump the stages confirm months later, a
    lost channel) is a level shift, not growth. Segments: ``seg`` + "#" + shifts so far."""
    rows = rows.sort_values(["brand_id", "t"])
    step = rows.groupby("brand_id")["y"].diff().abs() > threshold
    shifts = step.astype("int64").groupby(rows["brand_id"]).cumsum()
    return rows.assign(seg=rows["seg"].astype(str) + "#" + shifts.astype(str))


def _launch_rows(bm: pd.DataFrame, ramp_months: int) -> pd.DataFrame:
    """(brand_id, period) of each brand's launch ramp: its first ``ramp_months`` months from its
    first month with sales, for brands whose first sale comes after the first month of data
    (a brand selling from the start may have launched long before)."""
    sold = bm[bm["net_gmv"] > 0]
    if sold.empty or ramp_months == 0:
        return pd.DataFrame(columns=["brand_id", "period"])
    first = sold.groupby("brand_id")["period"].min()
    first = first[first > bm["period"].min()]
    rows = [(b, f + pd.DateOffset(months=i)) for b, f in first.items() for i in range(ramp_months)]
    return pd.DataFrame(rows, columns=["brand_id", "period"])


def _drop_launch(rows: pd.DataFrame, launch: pd.DataFrame) -> pd.DataFrame:
    if launch.empty:
        return rows
    key = pd.MultiIndex.from_frame(launch[["brand_id", "period"]])
    return rows[~pd.MultiIndex.from_frame(rows[["brand_id", "period"]]).isin(key)]


def _served_months(a: pd.DataFrame, months: pd.Series) -> pd.DataFrame:
    """(provider_id, brand_id, period) for every month an assignment covers at mid-month."""
    mid = months + pd.Timedelta(days=14)
    frame = pd.DataFrame({"period": months, "mid": mid}).merge(a, how="cross")
    frame = frame[(frame["started_at"] <= frame["mid"]) & (frame["ended_at"] >= frame["mid"])]
    return frame[["provider_id", "brand_id", "period"]].drop_duplicates()


def _pooled_slope(df: pd.DataFrame, keys: list[str], min_months: int) -> pd.DataFrame:
    """Pooled within-segment OLS slope of ``y`` on ``t`` per ``keys`` (segments: ``seg``).

    slope = Σ_seg Sxy / Σ_seg Sxx, with Sxx = Σ(t − t̄_seg)², Sxy = Σ(t − t̄_seg)(y − ȳ_seg);
    a stage change starts a new segment, so the jump between stages is not read as growth.
    """
    g = df.assign(tt=df["t"] * df["t"], ty=df["t"] * df["y"]).groupby([*keys, "seg"], observed=True)
    n = g["t"].size()
    st, sy, stt, sty = g["t"].sum(), g["y"].sum(), g["tt"].sum(), g["ty"].sum()
    seg = pd.DataFrame({"n": n, "sxx": stt - st * st / n, "sxy": sty - st * sy / n})
    out = seg.groupby(level=list(range(len(keys)))).sum()
    out = out[(out["n"] >= min_months) & (out["sxx"] > 0)]
    out["slope"] = out["sxy"] / out["sxx"]
    return out.reset_index()


def client_effects(
    brand_month: pd.DataFrame,
    assignments: pd.DataFrame,
    period: date,
    config: EvaluationConfig,
    stages: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Client-level growth (log-GMV trend per month) and uplift over comparable unserved brands.

    Columns: provider_id, brand_id, category, base_gmv (mean monthly GMV in the window),
    growth, peer_growth, uplift — see the module docstring — and weight (Σ(t − t̄)² of the
    months behind the trend: the precision of the slope up to the noise variance).
    """
    cols = [
        "provider_id",
        "brand_id",
        "category",
        "base_gmv",
        "growth",
        "peer_growth",
        "uplift",
        "weight",
    ]
    bm = _frame(brand_month)
    a = _prepare_assignments(assignments)
    L = config.growth_months
    first = pd.Timestamp(_shift(period, -(L - 1)))
    win = bm[(bm["period"] >= first) & (bm["period"] <= pd.Timestamp(period))]
    win = _drop_launch(win[win["net_gmv"] > 0], _launch_rows(bm, config.ramp_months)).copy()
    win["t"] = (win["period"].dt.year - first.year) * 12 + win["period"].dt.month - first.month
    win["y"] = np.log(win["net_gmv"])
    if stages is not None and not stages.empty:
        st = stages[["brand_id", "period", "stage"]].copy()
        st["period"] = pd.to_datetime(st["period"])
        win = win.merge(st, on=["brand_id", "period"], how="left")
        win["seg"] = win["stage"].fillna("unknown")
    else:
        win["seg"] = "all"
    win = _split_level_shifts(win, config.level_shift_log)
    brands = _brand_frame(bm, first, pd.Timestamp(period), stages)
    months = pd.Series(sorted(win["period"].unique()))
    served = (
        _served_months(a, months)
        if len(months)
        else pd.DataFrame(columns=["provider_id", "brand_id", "period"])
    )
    client_rows = win.merge(served, on=["brand_id", "period"])
    clients = _pooled_slope(client_rows, ["provider_id", "brand_id"], config.min_months)
    if clients.empty:
        return pd.DataFrame(columns=cols)
    clients = clients.join(brands, on="brand_id").rename(columns={"slope": "growth"})
    served_any = set(a.loc[_active(a, first, _month_end(period)), "brand_id"])
    peers = _pooled_slope(win[~win["brand_id"].isin(served_any)], ["brand_id"], config.min_months)
    peers = peers.join(brands, on="brand_id").rename(columns={"slope": "growth"})
    clients["peer_growth"] = _peer_growth(clients, peers, config.peer_count)
    clients["uplift"] = clients["growth"] - clients["peer_growth"]
    clients["base_gmv"] = clients["base"]
    clients["weight"] = clients["sxx"]
    return clients[cols]


def capability_effects(
    capabilities: pd.DataFrame,
    brand_month: pd.DataFrame,
    assignments: pd.DataFrame,
    provider_capabilities: dict[str, list[str]],
    period: date,
    config: EvaluationConfig,
    stages: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Client × declared capability: capability-index trend per month and its uplift.

    The trend is the pooled within-stage slope of the index on the month over the
    ``capability_months`` months ending with ``period`` while served; peers are the unserved
    brands' trends of the same capability. Columns: provider_id, brand_id, category,
    capability, change (trend), peer_change, uplift, weight (Σ(t − t̄)², as for GMV).
    """
    cols = [
        "provider_id",
        "brand_id",
        "category",
        "capability",
        "change",
        "peer_change",
        "uplift",
        "weight",
    ]
    M = config.capability_months
    first = pd.Timestamp(_shift(period, -(M - 1)))
    cap = capabilities[["brand_id", "period", "capability", "index"]].copy()
    cap["period"] = pd.to_datetime(cap["period"])
    cap = cap[(cap["period"] >= first) & (cap["period"] <= pd.Timestamp(period))]
    cap = cap.dropna(subset=["index"])
    if cap.empty:
        return pd.DataFrame(columns=cols)
    cap["t"] = (cap["period"].dt.year - first.year) * 12 + cap["period"].dt.month - first.month
    cap["y"] = cap["index"].astype("float64")
    if stages is not None and not stages.empty:
        st = stages[["brand_id", "period", "stage"]].copy()
        st["period"] = pd.to_datetime(st["period"])
        cap = cap.merge(st, on=["brand_id", "period"], how="left")
        cap["seg"] = cap["stage"].fillna("unknown")
    else:
        cap["seg"] = "all"
    bm = _frame(brand_month)
    cap = _drop_launch(cap, _launch_rows(bm, config.ramp_months))
    brands = _brand_frame(bm, first, pd.Timestamp(period), stages)
    a = _prepare_assignments(assignments)
    served = _served_months(a, pd.Series(sorted(cap["period"].unique())))
    declared = pd.DataFrame(
        [(p, c) for p, caps in provider_capabilities.items() for c in caps],
        columns=["provider_id", "capability"],
    )
    rows = cap.merge(served, on=["brand_id", "period"]).merge(
        declared, on=["provider_id", "capability"]
    )
    clients = _pooled_slope(rows, ["provider_id", "brand_id", "capability"], config.min_months)
    if clients.empty:
        return pd.DataFrame(columns=cols)
    clients = clients.join(brands, on="brand_id").rename(columns={"slope": "growth"})
    clients = clients.dropna(subset=["category"]).reset_index(drop=True)
    served_any = set(a.loc[_active(a, first, _month_end(period)), "brand_id"])
    peers = _pooled_slope(
        cap[~cap["brand_id"].isin(served_any)], ["brand_id", "capability"], config.min_months
    )
    peers = peers.join(brands, on="brand_id").rename(columns={"slope": "growth"})
    parts = []
    for capability, group in clients.groupby("capability"):
        group = group.copy()
        group["peer_change"] = _peer_growth(
            group, peers[peers["capability"] == capability], config.peer_count
        )
        parts.append(group)
    out = pd.concat(parts).rename(columns={"growth": "change"})
    out["uplift"] = out["change"] - out["peer_change"]
    out["weight"] = out["sxx"]
    return out[cols].reset_index(drop=True)


def _weighted_mean(effects: pd.DataFrame) -> pd.Series:
    """Per provider: Σ weight·uplift / Σ weight over its clients (NaN uplifts left out)."""
    e = effects.dropna(subset=["uplift"]) if not effects.empty else effects
    if e.empty:
        return pd.Series(dtype="float64")
    w = e["weight"].astype("float64")
    num = (w * e["uplift"].astype("float64")).groupby(e["provider_id"]).sum()
    return num / w.groupby(e["provider_id"]).sum()


def _frame(brand_month: pd.DataFrame) -> pd.DataFrame:
    bm = brand_month[["brand_id", "category", "period", "net_gmv"]].copy()
    bm["period"] = pd.to_datetime(bm["period"])
    bm["net_gmv"] = bm["net_gmv"].astype("float64")
    return bm


def _served_gmv(
    bm: pd.DataFrame, a: pd.DataFrame, first: date, last: date, exact: pd.DataFrame
) -> pd.Series:
    """Σ net GMV of brand-months within [first, last] in which the provider served the brand.

    ``exact`` is the brand-month frame with ``net_gmv`` as Decimal, so sums are to the cent.
    """
    months = bm[(bm["period"] >= pd.Timestamp(first)) & (bm["period"] <= pd.Timestamp(last))]
    pairs = months[["brand_id", "period"]].merge(a, on="brand_id")
    month_end = pairs["period"] + pd.offsets.MonthEnd(0)
    pairs = pairs[(pairs["started_at"] <= month_end) & (pairs["ended_at"] >= pairs["period"])]
    pairs = pairs[["provider_id", "brand_id", "period"]].drop_duplicates()
    pairs = pairs.merge(exact, on=["brand_id", "period"])
    return pairs.groupby("provider_id")["gmv_exact"].agg(lambda s: sum(s, Decimal("0")))


def evaluate_providers(
    *,
    brand_month: pd.DataFrame,
    assignments: pd.DataFrame,
    period: date,
    config: EvaluationConfig,
    stages: pd.DataFrame | None = None,
    violations: pd.DataFrame | None = None,
    action_items: pd.DataFrame | None = None,
    capabilities: pd.DataFrame | None = None,
    provider_capabilities: dict[str, list[str]] | None = None,
    provider_ids: list[str] | None = None,
) -> EvaluationResult:
    """Evaluate every provider for ``period`` (the first day of a month).

    Parameters
    ----------
    brand_month
        ``m_brand_month``: brand_id, category, period, net_gmv (Decimal or float yuan).
    assignments
        provider_id, brand_id, started_at, ended_at (NaT/None: ongoing).
    stages
        ``g_stage``: brand_id, period, stage.
    violations
        brand_id, period, kind — trust violations of brands (kinds in
        ``severe_violation_kinds`` exit at once).
    action_items
        brand_id, status, due_date (and optionally provider_id).
    capabilities, provider_capabilities
        ``m_capability`` (brand_id, period, capability, index) and each provider's declared
        capabilities, for ``capability_uplift``.
    provider_ids
        Providers to evaluate even without clients (default: those with assignments).
    """
    period = month_start(period)
    bm = _frame(brand_month)
    exact = brand_month[["brand_id", "period", "net_gmv"]].copy()
    exact["period"] = pd.to_datetime(exact["period"])
    exact["gmv_exact"] = [Decimal(str(v)) for v in exact["net_gmv"]]
    exact = exact.drop(columns="net_gmv")
    a = _prepare_assignments(assignments)
    L = config.growth_months
    p_start, p_end = pd.Timestamp(period), _month_end(period)
    w1_start = pd.Timestamp(_shift(period, -(L - 1)))
    ids = sorted(set(provider_ids or []) | set(a["provider_id"]))

    effects = client_effects(brand_month, assignments, period, config, stages)
    year = client_effects(
        brand_month,
        assignments,
        period,
        config.model_copy(update={"growth_months": config.trend_months}),
        stages,
    )
    in_period = a[_active(a, p_start, p_end)][["provider_id", "brand_id"]].drop_duplicates()
    gmv_p = _served_gmv(bm, a, period, period, exact)
    gmv_12 = _served_gmv(bm, a, _shift(period, -11), period, exact)

    table = pd.DataFrame(index=pd.Index(ids, name="provider_id"))
    table["clients"] = in_period.groupby("provider_id").size().reindex(table.index).fillna(0)
    table["client_uplift"] = effects.groupby("provider_id")["uplift"].mean()
    # the score reads provider means shrunk towards the mean client by n / (n + k)
    shrunk: dict[str, pd.Series] = {}

    def shrink(metric: str, values: pd.Series, keys: pd.Series) -> None:
        n = keys.groupby(keys.index).nunique() if len(keys) else pd.Series(dtype="float64")
        k = config.shrinkage_clients
        shrunk[metric] = (n * table[metric] + k * float(values.mean())) / (n + k)

    if not effects.empty:
        e_idx = effects.set_index("provider_id")
        shrink("client_uplift", e_idx["uplift"], e_idx["brand_id"])
    table["client_uplift_year"] = _weighted_mean(year)
    if not year.empty:
        y_idx = year.set_index("provider_id")
        shrink("client_uplift_year", y_idx["uplift"], y_idx["brand_id"])
    cap_effects = pd.DataFrame(columns=["provider_id", "uplift"])
    if capabilities is not None and not capabilities.empty and provider_capabilities:
        cap_effects = capability_effects(
            capabilities, brand_month, assignments, provider_capabilities, period, config, stages
        )
    table["capability_uplift"] = _weighted_mean(cap_effects)
    if not cap_effects.empty:
        c_idx = cap_effects.dropna(subset=["uplift"]).set_index("provider_id")
        shrink("capability_uplift", c_idx["uplift"], c_idx["brand_id"])

    if stages is not None and not stages.empty:
        st = stages[["brand_id", "period", "stage"]].copy()
        st["period"] = pd.to_datetime(st["period"])
        st["rank"] = st["stage"].map({s: i for i, s in enumerate(STAGES)})
        now_rank = st[st["period"] == p_start].set_index("brand_id")["rank"]
        before = st[st["period"] == pd.Timestamp(_shift(period, -L))].set_index("brand_id")["rank"]
        e = effects[["provider_id", "brand_id"]].copy()
        e["now"] = e["brand_id"].map(now_rank)
        e["before"] = e["brand_id"].map(before)
        e = e.dropna(subset=["now", "before"])
        e["advanced"] = (e["now"] > e["before"]).astype(float)
        table["stage_advancement_rate"] = e.groupby("provider_id")["advanced"].mean()
        if not e.empty:
            a_idx = e.set_index("provider_id")
            shrink("stage_advancement_rate", a_idx["advanced"], a_idx["brand_id"])
    else:
        table["stage_advancement_rate"] = np.nan

    at_start = a[(a["started_at"] <= w1_start) & (a["ended_at"] >= w1_start)].copy()
    at_start["kept"] = (at_start["ended_at"] >= p_end).astype(float)
    table["client_retention"] = at_start.groupby("provider_id")["kept"].mean()

    severe = pd.Series(False, index=table.index)
    severe_brands: dict[str, list[str]] = {}
    if violations is not None and not violations.empty:
        v = violations[["brand_id", "period", "kind"]].copy()
        v["period"] = pd.to_datetime(v["period"])
        v = v[v["period"] == p_start].merge(in_period, on="brand_id")
        counts = v.groupby("provider_id").size()
        table["trust_violations_per_client"] = counts.reindex(table.index).fillna(0) / table[
            "clients"
        ].where(table["clients"] > 0)
        sv = v[v["kind"].isin(config.severe_violation_kinds)]
        for pid, g in sv.groupby("provider_id"):
            severe_brands[str(pid)] = sorted(set(g["brand_id"]))
        severe = pd.Series(table.index.isin(list(severe_brands)), index=table.index)
    else:
        table["trust_violations_per_client"] = (
            table["clients"] * 0.0 / table["clients"].where(table["clients"] > 0)
        )

    if action_items is not None and not action_items.empty:
        ai = action_items.copy()
        ai["due_date"] = pd.to_datetime(ai["due_date"])
        ai = ai[(ai["due_date"] <= p_end) & (ai["status"] != "dropped")]
        if "provider_id" in ai:
            own = ai.merge(in_period, on="brand_id", suffixes=("_item", ""))
            own = own[
                own["provider_id_item"].isna() | (own["provider_id_item"] == own["provider_id"])
            ]
        else:
            own = ai.merge(in_period, on="brand_id")
        own = own.assign(done=(own["status"] == "done").astype(float))
        table["action_completion"] = own.groupby("provider_id")["done"].mean()
    else:
        table["action_completion"] = np.nan

    score = pd.Series(0.0, index=table.index)
    for metric, weight in config.weights.items():
        col = shrunk.get(metric, table[metric]).reindex(table.index).astype("float64")
        med = col.median()
        iqr = col.quantile(0.75) - col.quantile(0.25)
        if pd.isna(med):
            continue
        z = ((col - med) / (iqr if iqr and iqr > 0 else 1.0)).fillna(0.0)
        score += weight * z

    out = []
    for pid in table.index:
        row = table.loc[pid]
        metrics = {m: (None if pd.isna(row[m]) else float(row[m])) for m in METRICS}
        reasons: list[dict[str, Any]] = []
        judged = int(row["clients"]) >= config.min_clients
        meets = True
        for metric, bound in config.standards.items():
            value = metrics[metric]
            if value is None:
                continue
            low = bound.min is not None and value < bound.min
            high = bound.max is not None and value > bound.max
            ok = not (low or high)
            limit = (
                bound.min
                if low
                else bound.max
                if high
                else (bound.min if bound.min is not None else bound.max)
            )
            op = "<" if low else ">" if high else ("≥" if bound.min is not None else "≤")
            reasons.append(
                {
                    "criterion": metric,
                    "value": value,
                    "ok": ok,
                    "message": f"{metric} {value:.3f} {op} standard {limit:g}",
                    "message_zh": f"{_METRIC_ZH[metric]} {value:.3f} {op} 标准 {limit:g}",
                }
            )
            meets = meets and ok
        if not judged:
            reasons.append(
                {
                    "criterion": "clients",
                    "value": int(row["clients"]),
                    "ok": True,
                    "message": f"{int(row['clients'])} clients: fewer than {config.min_clients}, "
                    "not judged against the standard",
                    "message_zh": f"服务品牌 {int(row['clients'])} 个，少于 {config.min_clients}，本期不考核",
                }
            )
            meets = True
        is_severe = bool(severe.loc[pid])
        if is_severe:
            brands = ", ".join(severe_brands[str(pid)])
            reasons.append(
                {
                    "criterion": "severe_violation",
                    "value": 1,
                    "ok": False,
                    "message": f"severe trust violation (fraud) by client {brands}",
                    "message_zh": f"客户 {brands} 严重信任违规（欺诈）",
                }
            )
            meets = False
        out.append(
            ProviderEvaluation(
                provider_id=str(pid),
                period=period,
                clients=int(row["clients"]),
                gmv_served=gmv_p.get(pid, Decimal("0")),
                annual_gmv_served=gmv_12.get(pid, Decimal("0")),
                metrics=metrics,
                score=float(score.loc[pid]),
                judged=judged,
                meets_standard=meets,
                severe_violation=is_severe,
                reasons=tuple(reasons),
            )
        )
    return EvaluationResult(period=period, providers=tuple(out), client_effects=effects)
