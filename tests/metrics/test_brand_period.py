"""Every brand × period metric against the plain-pandas reference, on every grain."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from tests.metrics import reference
from windmaker.metrics.brand_period import METRIC_COLUMNS, MONEY_COLUMNS

GRAINS = ("day", "week", "month")


@pytest.fixture(scope="module", params=GRAINS)
def pair(request, market, tables) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    grain = request.param
    got = tables[f"m_brand_{grain}"].copy()
    got["period"] = pd.to_datetime(got.period).dt.date
    want = reference.brand_period(market, grain)
    keys = ["brand_id", "period"]
    got = got.sort_values(keys).reset_index(drop=True)
    want = want.sort_values(keys).reset_index(drop=True)
    return grain, got, want


def test_rows_are_every_brand_times_every_period(pair) -> None:
    _, got, want = pair
    assert list(zip(got.brand_id, got.period, strict=True)) == list(
        zip(want.brand_id, want.period, strict=True)
    )


@pytest.mark.parametrize("column", METRIC_COLUMNS)
def test_metric_matches_reference(pair, column: str) -> None:
    grain, got, want = pair
    g, w = got[column], want[column]
    if column in MONEY_COLUMNS:
        assert [Decimal(str(x)) for x in g] == [Decimal(str(x)) for x in w], (grain, column)
        return
    gn = pd.to_numeric(g, errors="coerce").astype(float)
    wn = pd.to_numeric(w.astype(object).where(w.notna(), None), errors="coerce").astype(float)
    assert gn.isna().tolist() == wn.isna().tolist(), (grain, column)
    pd.testing.assert_series_equal(gn, wn, check_names=False, rtol=1e-9, atol=1e-12)


def _row(tables, grain: str, brand: str, period: date) -> pd.Series:
    t = tables[f"m_brand_{grain}"]
    r = t[(t.brand_id == brand) & (pd.to_datetime(t.period).dt.date == period)]
    assert len(r) == 1
    return r.iloc[0]


def test_brand_without_sales_has_zero_money_and_null_ratios(tables) -> None:
    r = _row(tables, "month", "B3", date(2026, 2, 1))
    assert r.net_gmv == 0 and r.orders == 0 and r.buyers == 0
    assert pd.isna(r.aov) and pd.isna(r.self_share) and pd.isna(r.repurchase_rate_90d)
    b6 = _row(tables, "month", "B6", date(2026, 3, 1))
    assert b6.net_gmv == 0 and b6.months_with_sales == 0


def test_all_refunded_month_has_zero_net_gmv_and_full_refund_rate(tables) -> None:
    r = _row(tables, "month", "B5", date(2026, 3, 1))
    assert r.orders > 0
    assert r.net_gmv == 0 and r.gross_gmv > 0
    assert r.refund_rate == 1.0
    assert pd.isna(r.self_share)  # a share of zero GMV is undefined, not 0


def test_buyer_of_two_brands_counts_once_for_each(market, tables) -> None:
    o = market["orders"]
    for brand in ("B1", "B2"):
        jan = o[
            (o.brand_id == brand)
            & (o.paid_at < pd.Timestamp("2026-02-01"))
            & (o.paid_at >= pd.Timestamp("2026-01-01"))
            & (o.status != "cancelled")
        ]
        assert "U_BOTH" in set(jan.buyer_id)
        assert _row(tables, "month", brand, date(2026, 1, 1)).buyers == jan.buyer_id.nunique()


def test_midnight_boundary_splits_months_on_the_shanghai_wall_clock(market, tables) -> None:
    o = market["orders"]
    mid = o[o.buyer_id == "U_MID"].sort_values("paid_at")
    assert [str(t) for t in mid.paid_at] == ["2026-01-31 23:59:59", "2026-02-01 00:00:00"]
    day31 = _row(tables, "day", "B1", date(2026, 1, 31))
    feb1 = _row(tables, "day", "B1", date(2026, 2, 1))
    want31 = o[
        (o.brand_id == "B1") & (o.paid_at.dt.date == date(2026, 1, 31)) & (o.status != "cancelled")
    ]
    want1 = o[
        (o.brand_id == "B1") & (o.paid_at.dt.date == date(2026, 2, 1)) & (o.status != "cancelled")
    ]
    assert day31.orders == len(want31) and feb1.orders == len(want1)
    # the February order repeats the January one a second later: a repurchase in February only
    assert feb1.repeat_buyers_90d >= 1


def test_repurchase_windows_differ_for_a_buyer_back_after_137_days(tables) -> None:
    r = _row(tables, "month", "B4", date(2026, 2, 1))
    assert r.repeat_buyers_180d >= r.repeat_buyers_90d + 0  # 180-day window contains the 90-day one
    oct_ = _row(tables, "month", "B4", date(2025, 10, 1))
    assert oct_.buyers == 1 and oct_.repurchase_rate_90d == 0.0


def test_trailing_windows_match_reference(tables) -> None:
    day = tables["m_brand_day"].copy()
    day["period"] = pd.to_datetime(day.period).dt.date
    for n in (30, 90):
        want = reference.trailing(day, n)
        got = dict(
            zip(zip(day.brand_id, day.period, strict=True), day[f"net_gmv_t{n}d"], strict=True)
        )
        assert got == want
    month = tables["m_brand_month"].copy()
    month["period"] = pd.to_datetime(month.period).dt.date
    r = month[(month.brand_id == "B1") & (month.period == date(2026, 2, 1))].iloc[0]
    assert r.net_gmv_t30d == reference.trailing(day, 30)[("B1", date(2026, 2, 28))]


def test_months_with_sales_is_cumulative(tables) -> None:
    m = tables["m_brand_month"].sort_values(["brand_id", "period"])
    for _, g in m.groupby("brand_id"):
        assert g.months_with_sales.tolist() == (g.net_gmv > 0).astype(int).cumsum().tolist()


def test_repurchase_rate_counts_buyers_with_two_purchases_in_the_period(market, tables) -> None:
    """复购率 as the platforms define it, counted by hand: U_BASKET's two B3 orders paid in one
    second are one purchase (a buyer, not a repeat buyer); a buyer back after 137 days (U_LONG)
    returned within 180 days but did not buy twice in February."""
    o = market["orders"]
    o = o[(o.status != "cancelled") & (o.brand_id == "B3")]
    day = o[o.paid_at.dt.date == date(2026, 1, 20)]
    times = day.groupby("buyer_id").paid_at.nunique()
    assert times["U_BASKET"] == 1 and (day.buyer_id == "U_BASKET").sum() == 2
    r = _row(tables, "day", "B3", date(2026, 1, 20))
    assert r.buyers == len(times) and r.repeat_buyers == int((times >= 2).sum())
    feb_b4 = _row(tables, "month", "B4", date(2026, 2, 1))
    assert feb_b4.repeat_buyers_180d >= 1
    m = tables["m_brand_month"]
    sold = m[m.buyers > 0]
    assert (sold.repurchase_rate == sold.repeat_buyers / sold.buyers).all()
    assert (sold.repeat_buyers > 0).any()


def test_trailing_90_day_repurchase_matches_reference(market, refreshed) -> None:
    """近90天复购率 (buyers with two or more purchases in the 90 days ending on a day ÷ buyers
    in them) for every brand × day, against a window-by-window count in plain pandas; from a
    later first day (a refresh of the latest days) the same values."""
    from windmaker.metrics.private_domain import trailing_repurchase

    first, last = date(2025, 10, 1), date(2026, 3, 31)
    want = reference.trailing_repurchase(market, first, last)
    days = refreshed.table("_m_buyer_day")
    got = refreshed.to_arrow(trailing_repurchase(days, first, last)).to_pandas()
    got["period"] = pd.to_datetime(got.period).dt.date
    have = {
        (b, p): (int(n), int(r))
        for b, p, n, r in zip(
            got.brand_id, got.period, got.buyers_t90d, got.repeat_buyers_t90d, strict=True
        )
    }
    assert have == want
    assert sum(r for _, r in want.values()) > 100  # repeat buyers do occur
    rate = got.repurchase_rate_t90d
    expected = got.repeat_buyers_t90d / got.buyers_t90d.where(got.buyers_t90d > 0)
    assert rate.isna().equals(expected.isna())
    np.testing.assert_allclose(rate.dropna(), expected.dropna(), rtol=1e-12)
    later = refreshed.to_arrow(trailing_repurchase(days, date(2026, 3, 1), last)).to_pandas()
    later["period"] = pd.to_datetime(later.period).dt.date
    sub = got[got.period >= date(2026, 3, 1)].sort_values(["brand_id", "period"])
    pd.testing.assert_frame_equal(
        later.sort_values(["brand_id", "period"]).reset_index(drop=True),
        sub.reset_index(drop=True),
    )
