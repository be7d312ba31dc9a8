"""What a provider did for its clients: each client's trend while served against the trend of
comparable unserved brands (the uplift), for GMV and for each declared capability.

The definitions (pooled within-stage slopes, launch ramps and level shifts left out, the
``peer_count`` nearest unserved peers) are in :mod:`windmaker.ecosystem.evaluation`.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from windmaker.ecosystem.config import EvaluationConfig


def shift_months(period: date, months: int) -> date:
    """The first day of the month ``months`` after ``period`` (negative: before)."""
    idx = period.year * 12 + period.month - 1 + months
    return date(idx // 12, idx % 12 + 1, 1)


def month_last_day(period: date) -> pd.Timestamp:
    """The last day of ``period``'s month."""
    return pd.Timestamp(shift_months(period, 1)) - pd.Timedelta(days=1)


def prepare_assignments(assignments: pd.DataFrame) -> pd.DataFrame:
    """Assignments with timestamps; an ongoing one (no end) runs to the end of time."""
    a = assignments[["provider_id", "brand_id", "started_at", "ended_at"]].copy()
    a["started_at"] = pd.to_datetime(a["started_at"])
    a["ended_at"] = pd.to_datetime(a["ended_at"]).fillna(pd.Timestamp.max.normalize())
    return a


def active_between(a: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
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
    bm = brand_month_frame(brand_month)
    a = prepare_assignments(assignments)
    L = config.growth_months
    first = pd.Timestamp(shift_months(period, -(L - 1)))
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
    served_any = set(a.loc[active_between(a, first, month_last_day(period)), "brand_id"])
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
    first = pd.Timestamp(shift_months(period, -(M - 1)))
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
    bm = brand_month_frame(brand_month)
    cap = _drop_launch(cap, _launch_rows(bm, config.ramp_months))
    brands = _brand_frame(bm, first, pd.Timestamp(period), stages)
    a = prepare_assignments(assignments)
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
    served_any = set(a.loc[active_between(a, first, month_last_day(period)), "brand_id"])
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


def brand_month_frame(brand_month: pd.DataFrame) -> pd.DataFrame:
    """Brand-months with timestamp periods and float GMV, the frame the trends are taken on."""
    bm = brand_month[["brand_id", "category", "period", "net_gmv"]].copy()
    bm["period"] = pd.to_datetime(bm["period"])
    bm["net_gmv"] = bm["net_gmv"].astype("float64")
    return bm
