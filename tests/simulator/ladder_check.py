"""An independent pandas computation of the ladder criteria (DESIGN §1 defaults) on simulated
files, to compare with the planted stage truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def observed_stages(folder: Path) -> pd.DataFrame:
    """Per brand-month: the observable criteria and the stage they give, next to the truth."""
    orders = pd.read_parquet(
        folder / "orders.parquet",
        columns=[
            "paid_at",
            "brand_id",
            "buyer_id",
            "account_id",
            "sku_id",
            "amount",
            "refund_amount",
            "status",
        ],
    )
    accounts = pd.read_parquet(folder / "accounts.parquet", columns=["account_id", "kind"])
    skus = pd.read_parquet(folder / "skus.parquet", columns=["sku_id", "special_supply"])
    truth = pd.read_parquet(folder / "truth" / "brand_month.parquet")
    orders = orders[orders["status"] != "cancelled"]
    orders = orders.merge(accounts, on="account_id").merge(skus, on="sku_id")
    orders["net"] = orders["amount"].astype(float) - orders["refund_amount"].astype(float)
    orders["self"] = orders["kind"] != "influencer"
    truth["month"] = pd.to_datetime(truth["month"])
    rows = []
    for month in sorted(truth["month"].unique()):
        end = month + pd.offsets.MonthBegin(1)
        t30 = orders[(orders["paid_at"] >= end - pd.Timedelta(days=30)) & (orders["paid_at"] < end)]
        t90 = orders[(orders["paid_at"] >= end - pd.Timedelta(days=90)) & (orders["paid_at"] < end)]
        mon = orders[(orders["paid_at"] >= month) & (orders["paid_at"] < end)]
        per_buyer = t90.groupby(["brand_id", "buyer_id"]).size()
        rep = (per_buyer >= 2).groupby(level="brand_id").mean()
        m = pd.DataFrame(
            {
                "net_t30": t30.groupby("brand_id")["net"].sum(),
                "net_t90": t90.groupby("brand_id")["net"].sum(),
                "repurchase": rep,
                "self_share": mon[mon["self"]].groupby("brand_id")["net"].sum()
                / mon.groupby("brand_id")["net"].sum(),
                "special_share": mon[mon["special_supply"]].groupby("brand_id")["net"].sum()
                / mon.groupby("brand_id")["net"].sum(),
            }
        )
        m["month"] = month
        rows.append(m.reset_index())
    obs = pd.concat(rows, ignore_index=True)
    df = truth.merge(obs, on=["brand_id", "month"], how="left").fillna(
        {"net_t30": 0.0, "net_t90": 0.0, "repurchase": 0.0, "self_share": 0.0, "special_share": 0.0}
    )
    monthly = orders.assign(month=orders["paid_at"].dt.to_period("M").dt.to_timestamp())
    sold = monthly.groupby(["brand_id", "month"])["net"].sum().gt(0).rename("sold").reset_index()
    df = df.merge(sold, on=["brand_id", "month"], how="left").fillna({"sold": False})
    df = df.sort_values(["brand_id", "month"])
    df["months_with_sales"] = df.groupby("brand_id")["sold"].cumsum()
    grp = df.groupby(["category", "month"])
    n = grp["net_t90"].transform("size")
    larger = grp["net_t90"].rank(method="min", ascending=False) - 1
    df["top10"] = larger < 0.10 * n
    df["top1"] = larger < 0.01 * n
    df["rep_median"] = grp["repurchase"].transform("median")
    zero = (df["months_with_sales"] < 3) | (df["net_t30"] < 100_000)
    ska = df["top1"] & (df["special_share"] >= 0.05)
    ka = df["top10"] & (df["repurchase"] >= df["rep_median"]) & (df["self_share"] >= 0.30)
    df["observed"] = np.select([zero, ska, ka], ["zero_breaking", "ska", "ka"], "climbing")
    month_index = df.groupby("brand_id").cumcount()
    first_month = df["month"] - df["month"].min()
    df["evaluable"] = first_month >= pd.Timedelta(days=59)
    df["month_index"] = month_index
    return df
