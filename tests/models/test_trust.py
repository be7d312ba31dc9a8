"""Trust score: the published formula by hand, properties (Hypothesis), planted truth, gates."""

from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.models.market import planted_market
from windmaker.config import ConfigError
from windmaker.config.files import default_path, load_yaml_file
from windmaker.i18n import reason_text
from windmaker.models.brushing import detect_brushing
from windmaker.models.trust import (
    COMPONENTS,
    STATUS_INSUFFICIENT,
    STATUS_OK,
    TrustConfig,
    brand_violations,
    explain,
    is_trusted,
    load_config,
    roll_up,
    trust_alerts,
    trust_counts,
    trust_counts_by_pair,
    trust_scores,
    trusted_accounts,
)
from windmaker.warehouse import Warehouse


@pytest.fixture(scope="module")
def config() -> TrustConfig:
    return load_config()


@pytest.fixture(scope="module")
def wh() -> Warehouse:
    return Warehouse.from_backend(ibis.duckdb.connect())


def _mem(df: pd.DataFrame) -> ibis.Table:
    """An in-memory table from Arrow (ibis' pandas path reads a deprecated pandas option)."""
    return ibis.memtable(pa.Table.from_pandas(df, preserve_index=False))


def _scores(
    wh: Warehouse, orders, reviews, owners, config: TrustConfig, flagged=None, entity="brand"
):
    expr = trust_counts(
        _mem(orders),
        _mem(reviews),
        _mem(owners),
        entity=entity,
        flagged=None if flagged is None else _mem(flagged),
        complaint_types=config.score.complaint_types,
    )
    return trust_scores(wh.execute(expr), config.score, entity=entity)


def test_config_errors_name_file_and_key(tmp_path: Path) -> None:
    text = default_path("trust.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "trust.yaml"
    bad.write_text(text.replace("refund_rate: 0.25", "refund_rate: 0.35"), encoding="utf-8")
    with pytest.raises(ConfigError, match="weights must add up to 1"):
        load_yaml_file(TrustConfig, bad)
    with_kinds = text.replace("score:\n", "score:\n  complaint_types: [quality, rude]\n")
    bad.write_text(with_kinds, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"score\.complaint_types.*rude"):
        load_yaml_file(TrustConfig, bad)


def test_complaint_kinds_are_the_metrics_tables(tmp_path: Path) -> None:
    """complaints_per_1k has one meaning: the trust score counts metrics.yaml's complaint_kinds,
    and a trust.yaml naming other kinds is refused with the file and key."""
    metrics = default_path("metrics.yaml").read_text(encoding="utf-8")
    (tmp_path / "metrics.yaml").write_text(
        metrics.replace(
            "complaint_kinds: [quality, misleading]", "complaint_kinds: [quality, misleading, fake]"
        ),
        encoding="utf-8",
    )
    assert load_config(tmp_path).score.complaint_types == ("quality", "misleading", "fake")
    assert load_config().score.complaint_types == ("quality", "misleading")
    text = default_path("trust.yaml").read_text(encoding="utf-8")
    (tmp_path / "trust.yaml").write_text(
        text.replace("score:\n", "score:\n  complaint_types: [quality]\n"), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"trust\.yaml: score\.complaint_types.*metrics\.yaml"):
        load_config(tmp_path)


def _counts(rows: list[dict]) -> pd.DataFrame:
    base = {
        "category": "c",
        "period": pd.Timestamp("2026-10-01").date(),
        "refunded": 0,
        "complaints": 0,
        "promised": 0,
        "late": 0,
        "reviews": 0,
        "review_score_sum": 0,
        "brushing": 0,
    }
    return pd.DataFrame([{**base, **r} for r in rows])


def test_formula_by_hand(config: TrustConfig) -> None:
    """Published formula (docs/trust.md): sub_k = 100 · 2^(−x / (h · ref)), score = Σ w_k sub_k,
    ref = max(category median, floor); computed here by hand for a five-brand category."""
    sc = config.score.model_copy(update={"min_orders": 10, "min_category_size": 5})
    rows = [
        {
            "entity_id": f"b{i}",
            "orders": 100,
            "refunded": r,
            "promised": 100,
            "late": 5,
            "reviews": 10,
            "review_score_sum": 45,
            "complaints": c,
            "brushing": 0,
        }
        for i, (r, c) in enumerate([(2, 0), (4, 0), (6, 1), (8, 1), (20, 3)])
    ]
    rows.append({"entity_id": "small", "orders": 9, "refunded": 9})
    out = trust_scores(_counts(rows), sc, entity="brand").set_index("entity_id")
    h = sc.half_points_multiple
    w = sc.weights
    b = out.loc["b4"]
    expected = {
        "refund_rate": 100 * 2 ** (-0.20 / (h * 0.06)),
        "complaints_per_1k": 100 * 2 ** (-30 / (h * 10)),
        "late_shipment_rate": 100 * 2 ** (-0.05 / (h * 0.05)),
        "review_shortfall": 100 * 2 ** (-0.5 / (h * 0.5)),
        "brushing_share": 100.0,  # reference is the floor, value 0
    }
    for k in COMPONENTS:
        assert b[f"{k}_points"] == pytest.approx(w[k] * expected[k])
    assert b["score"] == pytest.approx(sum(w[k] * expected[k] for k in COMPONENTS))
    assert b["refund_rate_ref"] == pytest.approx(0.06)
    assert b["brushing_share_ref"] == pytest.approx(sc.reference_floor["brushing_share"])
    assert out.loc["small", "status"] == STATUS_INSUFFICIENT
    assert np.isnan(out.loc["small", "score"])
    assert out.loc["b0", "score"] > out.loc["b2", "score"] > out.loc["b4", "score"]
    # The explanation names the component that cost the most points first.
    assert explain(b, sc)[0][0] == "refund_rate"


def test_trailing_window(config: TrustConfig) -> None:
    """A period's score sums the counts of the window_months months ending with it."""
    sc = config.score.model_copy(update={"min_orders": 1, "window_months": 3})
    rows = [
        {"entity_id": "b", "period": pd.Timestamp(p).date(), "orders": 10, "refunded": r}
        for p, r in [("2026-07-01", 10), ("2026-08-01", 0), ("2026-09-01", 0), ("2026-10-01", 0)]
    ]
    out = trust_scores(_counts(rows), sc, entity="brand").set_index("period")
    assert out.loc[pd.Timestamp("2026-09-01").date(), "refund_rate"] == pytest.approx(10 / 30)
    assert out.loc[pd.Timestamp("2026-10-01").date(), "refund_rate"] == 0.0


# -- properties -----------------------------------------------------------------------------


counts_row = st.integers(35, 80).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "orders": st.just(n),
            "refunded": st.integers(0, n - 1),
            "complaints": st.integers(0, 5),
            "promised": st.just(n),
            "late": st.integers(0, n),
            "reviews": st.integers(0, 10),
            "brushing": st.integers(0, 3),
            "category": st.sampled_from(["c0", "c1"]),
            "period": st.sampled_from(["2026-09-01", "2026-10-01"]),
        }
    )
)
count_tables = st.lists(counts_row, min_size=2, max_size=14)


def _frame(rows: list[dict], rnd: object = None) -> pd.DataFrame:
    df = _counts(
        [
            {
                **r,
                "entity_id": f"b{i % 7}",
                "period": pd.Timestamp(r["period"]).date(),
                "review_score_sum": 4 * r["reviews"],
            }
            for i, r in enumerate(rows)
        ]
    )
    # One category per brand: the one its first row drew.
    df["category"] = df["entity_id"].map(df.groupby("entity_id")["category"].first())
    return df


@settings(max_examples=40, deadline=None)
@given(count_tables, st.data())
def test_adding_a_refund_never_raises_a_score(config, rows, data) -> None:
    """Counts are additive per order (checked against pandas below), so one more refunded
    order is one more in ``refunded`` of its brand and month."""
    sc = config.score.model_copy(update={"min_category_size": 2})
    before_c = _frame(rows)
    i = data.draw(st.sampled_from([j for j, r in enumerate(rows) if r["refunded"] < r["orders"]]))
    after_c = before_c.copy()
    after_c.loc[i, "refunded"] += 1
    before = trust_scores(before_c, sc, entity="brand").set_index(["entity_id", "period"])
    after = trust_scores(after_c, sc, entity="brand").set_index(["entity_id", "period"])
    brand = before_c.loc[i, "entity_id"]
    mine = before.loc[brand].index
    assert (after.loc[brand, "score"] <= before.loc[brand, "score"] + 1e-9).all()
    assert (after.loc[brand, "refund_rate"] >= before.loc[brand, "refund_rate"]).all()
    assert len(mine) > 0


@settings(max_examples=25, deadline=None)
@given(count_tables, st.randoms(use_true_random=False))
def test_scores_do_not_depend_on_row_order(config, rows, rnd) -> None:
    sc = config.score.model_copy(update={"min_category_size": 2})
    df = _frame(rows)
    want = trust_scores(df, sc, entity="brand")
    perm = list(range(len(df)))
    rnd.shuffle(perm)
    got = trust_scores(df.iloc[perm].reset_index(drop=True), sc, entity="brand")
    pd.testing.assert_frame_equal(got, want)


def test_ibis_counts_do_not_depend_on_row_order(wh: Warehouse, config: TrustConfig) -> None:
    m = planted_market(seed=7, n_brands=16)
    want = _scores(wh, m.orders, m.reviews, m.brands, config)
    got = _scores(
        wh,
        m.orders.sample(frac=1.0, random_state=3),
        m.reviews.iloc[::-1],
        m.brands.iloc[::-1],
        config,
    )
    pd.testing.assert_frame_equal(got, want)


def test_one_pass_for_both_entities_gives_each_entitys_counts(
    wh: Warehouse, config: TrustConfig, small_simulated_market: Path
) -> None:
    """The counts per brand × account × month, rolled up to brands and to accounts, are the
    counts :func:`trust_counts` gives each entity on its own: on the simulator's small market
    with every 13th order flagged as brushing, and with orders sold by no account (one null
    entity, as the engine groups it) and by an account no table knows (category unknown)."""
    d = small_simulated_market
    t = {
        n: pd.read_parquet(d / f"{n}.parquet") for n in ("orders", "reviews", "brands", "accounts")
    }
    orders = t["orders"]
    extra = orders.iloc[:40].copy()
    extra["order_id"] = extra["order_id"] + "-x"
    extra["account_id"] = [None] * 20 + ["nobody"] * 20
    orders = pd.concat([orders, extra], ignore_index=True)
    flagged = _mem(orders[["order_id"]].iloc[::13])
    kinds = config.score.complaint_types
    pairs = wh.execute(
        trust_counts_by_pair(
            _mem(orders), _mem(t["reviews"]), flagged=flagged, complaint_types=kinds
        )
    )
    for entity, owners in (("brand", t["brands"]), ("account", t["accounts"])):
        key = "brand_id" if entity == "brand" else "account_id"
        want = wh.execute(
            trust_counts(
                _mem(orders),
                _mem(t["reviews"]),
                _mem(owners),
                entity=entity,
                flagged=flagged,
                complaint_types=kinds,
            )
        )
        got = roll_up(pairs, owners[[key, "category"]], entity=entity)
        order = ["entity_id", "period"]
        want = want.sort_values(order, na_position="first").reset_index(drop=True)
        got = got.sort_values(order, na_position="first").reset_index(drop=True)
        assert want["brushing"].sum() > 0
        if entity == "account":
            assert want["entity_id"].isna().any() and (want["category"] == "unknown").any()
        pd.testing.assert_frame_equal(got, want)


# -- planted truth and gates ------------------------------------------------------------------


@pytest.fixture(scope="module")
def simulated_scores(wh: Warehouse, config: TrustConfig, small_simulated_market: Path):
    d = small_simulated_market
    tables = {
        t: pd.read_parquet(d / f"{t}.parquet") for t in ("orders", "reviews", "brands", "accounts")
    }
    cols = ["order_id", "brand_id", "buyer_id", "paid_at"]
    flagged = detect_brushing(tables["orders"][cols], config.brushing).flagged
    brands = _scores(wh, tables["orders"], tables["reviews"], tables["brands"], config, flagged)
    accounts = _scores(
        wh, tables["orders"], tables["reviews"], tables["accounts"], config, flagged, "account"
    )
    return brands, accounts, tables, d


def test_scores_follow_planted_trust(simulated_scores) -> None:
    """Planted truth (simulator truth/brands and truth/accounts true_trust): the latest score
    ranks brands and accounts like their true trust (Spearman ≥ 0.5)."""
    brands, accounts, _, d = simulated_scores
    for scores, truth, key in (
        (brands, "brands", "brand_id"),
        (accounts, "accounts", "account_id"),
    ):
        last = scores[
            (scores["period"] == scores["period"].max()) & (scores["status"] == STATUS_OK)
        ]
        t = pd.read_parquet(d / "truth" / f"{truth}.parquet")
        m = last.merge(t, left_on="entity_id", right_on=key)
        assert len(m) >= 50
        assert m[["score", "true_trust"]].corr("spearman").iloc[0, 1] >= 0.5
        assert ((m["score"] > 0) & (m["score"] <= 100)).all()


def test_gates(simulated_scores, config: TrustConfig) -> None:
    brands, accounts, tables, d = simulated_scores
    scores = pd.concat([brands, accounts], ignore_index=True)
    alerts = trust_alerts(scores, tables["accounts"], config)
    g = config.gates
    low = brands[(brands["status"] == STATUS_OK) & (brands["score"] < g.brand_alert_below)]
    got = alerts[alerts["kind"] == "low_trust"]
    assert set(zip(got["brand_id"], got["period"], strict=True)) == set(
        zip(low["entity_id"], low["period"], strict=True)
    )
    # Brushing alerts fall on the shops of planted rings (truth/brands has_brushing_ring).
    truth = pd.read_parquet(d / "truth" / "brands.parquet")
    ring_shops = set(truth.loc[truth["has_brushing_ring"], "brand_id"])
    brushing = set(alerts.loc[alerts["kind"] == "brushing", "brand_id"])
    assert brushing and brushing <= ring_shops
    # Violations per brand and period add up to the brand's alerts.
    v = brand_violations(alerts)
    assert v["violations"].sum() == alerts["brand_id"].notna().sum()
    assert v["severe_violations"].sum() == alerts["severe"].sum()
    # The recommendation gate drops exactly the accounts scored below the threshold.
    latest = accounts[accounts["period"] == accounts["period"].max()]
    cands = [*latest["entity_id"].tolist(), "never-seen"]
    kept = trusted_accounts(scores, g, cands)
    bad = set(latest.loc[latest["score"] < g.account_exclude_below, "entity_id"])
    assert bad and not bad & set(kept)
    assert set(cands) - bad == set(kept)
    last_period = pd.Timestamp(accounts["period"].max()).date()
    assert trusted_accounts(scores, g, cands, period=last_period) == kept
    assert is_trusted(None, STATUS_INSUFFICIENT, g) is g.insufficient_data_is_trusted
    assert not is_trusted(g.account_exclude_below - 0.1, STATUS_OK, g)


def test_planted_market_counts_match_pandas(wh: Warehouse, config: TrustConfig) -> None:
    """The Ibis counts equal a plain pandas count over the same orders and reviews."""
    m = planted_market(seed=7, n_brands=16)
    expr = trust_counts(_mem(m.orders), _mem(m.reviews), _mem(m.brands), entity="brand")
    got = wh.execute(expr).groupby("entity_id")[["orders", "refunded", "late", "complaints"]].sum()
    o = m.orders
    ref = pd.DataFrame(
        {
            "orders": o.groupby("brand_id").size(),
            "refunded": (o["status"] == "refunded").groupby(o["brand_id"]).sum(),
            "late": (o["shipped_at"] > o["promised_ship_by"]).groupby(o["brand_id"]).sum(),
        }
    )
    rv = m.reviews.merge(o[["order_id", "brand_id"]], on="order_id")
    # complaints count in the month they were written, up to the data's last month
    last_month = o["paid_at"].max().to_period("M")
    rv = rv[rv["created_at"].dt.to_period("M") <= last_month]
    ref["complaints"] = (
        rv["complaint"].isin(["quality", "misleading"]).groupby(rv["brand_id"]).sum()
    )
    ref = ref.fillna(0).astype("int64")
    pd.testing.assert_frame_equal(
        got.sort_index().astype("int64"), ref.sort_index(), check_names=False
    )


def test_cli_run_stores_the_tables(workspace, small_simulated_market: Path) -> None:
    """``windmaker trust run`` stores flagged orders, scores, alerts and violations."""
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from windmaker.cli.main import app
    from windmaker.workspace import open_warehouse

    with open_warehouse(workspace) as wh:
        for t in ("orders", "reviews", "brands", "accounts"):
            wh.write(t, pq.read_table(small_simulated_market / f"{t}.parquet"))
    ws = ["--workspace", str(workspace.workspace)]
    result = CliRunner().invoke(app, ["trust", "run", *ws])
    assert result.exit_code == 0, result.output
    with open_warehouse(workspace) as wh:
        flagged = wh.execute(wh.table("mdl_brushing_orders"))
        scores = wh.execute(wh.table("mdl_trust_scores"))
        alerts = wh.execute(wh.table("mdl_trust_alerts"))
        violations = wh.execute(wh.table("mdl_trust_violations"))
    rings = pd.read_parquet(small_simulated_market / "truth" / "brushing_rings.parquet")
    assert set(rings["brand_id"]) == set(flagged["brand_id"])
    assert set(scores["entity"]) == {"brand", "account"}
    assert violations["violations"].sum() == alerts["brand_id"].notna().sum()
    shown = CliRunner().invoke(app, ["trust", "show", str(scores["entity_id"].iloc[0]), *ws])
    assert shown.exit_code == 0 and "refund_rate" in shown.output


# -- components without data, overdue orders, one complaints_per_1k ------------------------------


def test_late_shipment_without_data_earns_neutral_points_not_full(config: TrustConfig) -> None:
    """Published rule (docs/trust.md): a component without data is scored at its category
    reference, 100 · 2^(−1/h) of its points, by hand here; full points would be 100. The value
    is null and ``no_data`` names the component."""
    sc = config.score.model_copy(update={"min_orders": 10, "min_category_size": 5})
    rows = [
        {
            "entity_id": f"b{i}",
            "orders": 100,
            "promised": 100,
            "late": 5,
            "reviews": 10,
            "review_score_sum": 45,
        }
        for i in range(5)
    ]
    rows.append({"entity_id": "blind", "orders": 100, "promised": 0, "late": 0, "reviews": 0})
    out = trust_scores(_counts(rows), sc, entity="brand").set_index("entity_id")
    h, w = sc.half_points_multiple, sc.weights
    blind = out.loc["blind"]
    assert np.isnan(blind["late_shipment_rate"]) and np.isnan(blind["review_shortfall"])
    assert blind["late_shipment_rate_ref"] == pytest.approx(0.05)
    neutral = 100 * 2 ** (-1 / h)
    assert blind["late_shipment_rate_points"] == pytest.approx(w["late_shipment_rate"] * neutral)
    assert blind["late_shipment_rate_points"] < w["late_shipment_rate"] * 100 - 1
    assert blind["review_shortfall_points"] == pytest.approx(w["review_shortfall"] * neutral)
    assert blind["no_data"] == "late_shipment_rate,review_shortfall"
    assert out.loc["b0", "no_data"] == ""
    # an on-time shipper with data outscores the shop that shows none
    on_time = _counts(
        [
            *rows,
            {
                "entity_id": "ok",
                "orders": 100,
                "promised": 100,
                "late": 0,
                "reviews": 10,
                "review_score_sum": 45,
            },
        ]
    )
    scored = trust_scores(on_time, sc, entity="brand").set_index("entity_id")
    assert scored.loc["ok", "late_shipment_rate_points"] == pytest.approx(
        w["late_shipment_rate"] * 100
    )
    assert (
        scored.loc["ok", "late_shipment_rate_points"]
        > scored.loc["blind", "late_shipment_rate_points"]
    )
    reason = trust_alerts(
        out.reset_index().assign(score=1.0),
        pd.DataFrame(columns=["account_id", "brand_id"]),
        config.model_copy(update={"score": sc}),
    )
    assert reason["reason_code"].notna().all()
    assert all(
        "; worst: " in reason_text(c, p, "en")
        for c, p in zip(reason["reason_code"], reason["reason_params"], strict=True)
        if c != "trust.brushing"
    )


def _order_rows(as_of: pd.Timestamp) -> tuple[pd.DataFrame, dict[str, tuple[bool, bool]]]:
    """Orders of one brand around ``as_of`` and, for each, (judged, late) by the rule in words."""
    day = pd.Timedelta(days=1)
    cases = {
        # order_id: status, paid, promised, shipped, refunded_at → (judged, late)
        "on_time": ("completed", -5, -3, -4, None, (True, False)),
        "shipped_late": ("completed", -5, -3, -2, None, (True, True)),
        "overdue": ("paid", -5, -3, None, None, (True, True)),
        "not_due_yet": ("paid", -1, 1, None, None, (False, False)),
        "refunded_before_due": ("refunded", -5, -3, None, -4, (False, False)),
        "refunded_after_due": ("refunded", -5, -3, None, -2, (True, True)),
        "completed_no_time": ("completed", -5, -3, None, None, (False, False)),
        "no_promise": ("paid", -5, None, None, None, (False, False)),
        "cancelled": ("cancelled", -5, -3, None, None, (False, False)),
    }
    rows = []
    for oid, (status, paid, promised, shipped, refunded, _) in cases.items():
        rows.append(
            {
                "order_id": oid,
                "paid_at": as_of + paid * day,
                "brand_id": "b",
                "account_id": "a",
                "buyer_id": oid,
                "status": status,
                "refund_amount": 1.0 if status == "refunded" else 0.0,
                "promised_ship_by": None if promised is None else as_of + promised * day,
                "shipped_at": None if shipped is None else as_of + shipped * day,
                "refunded_at": None if refunded is None else as_of + refunded * day,
            }
        )
    df = pd.DataFrame(rows)
    for c in ("paid_at", "promised_ship_by", "shipped_at", "refunded_at"):
        df[c] = pd.to_datetime(df[c])
    return df, {k: v[-1] for k, v in cases.items()}


def test_orders_unshipped_past_their_promise_count_late(wh: Warehouse) -> None:
    """An order still unshipped when its promise passed before the data's as-of time (and before
    any refund) is late; expected counts written out case by case in ``_order_rows``."""
    as_of = pd.Timestamp("2026-10-20 12:00")
    orders, want = _order_rows(as_of)
    reviews = pd.DataFrame(
        {
            "review_id": ["r"],
            "order_id": ["on_time"],
            "created_at": [as_of],
            "score": [5],
            "complaint": ["none"],
        }
    )
    owners = pd.DataFrame({"brand_id": ["b"], "category": ["c"]})
    expr = trust_counts(
        _mem(orders), _mem(reviews), _mem(owners), entity="brand", as_of=as_of.to_pydatetime()
    )
    got = wh.execute(expr).iloc[0]
    assert got["promised"] == sum(j for j, _ in want.values())
    assert got["late"] == sum(late for _, late in want.values())
    assert (got["promised"], got["late"]) == (4, 3)
    # without an explicit as-of, the data's last paid_at is the as-of time
    latest = orders["paid_at"].max()
    default = wh.execute(trust_counts(_mem(orders), _mem(reviews), _mem(owners), entity="brand"))
    due = (
        orders["shipped_at"].isna()
        & orders["status"].isin(["paid", "refunded"])
        & (orders["promised_ship_by"] < latest)
        & ~(orders["refunded_at"] <= orders["promised_ship_by"])
    )
    assert default["late"].iloc[0] == int(due.sum()) + 1  # + the one shipped late


def test_complaints_per_1k_is_the_metrics_tables(wh: Warehouse, config: TrustConfig) -> None:
    """One meaning (docs/metrics.md, docs/trust.md): complaints received in a month per 1,000
    orders paid in it. The trust counts of every brand and month equal ``m_brand_month``'s
    orders and complaints, and a one-month trust window gives its complaints_per_1k."""
    from tests.metrics import factory
    from windmaker.services.refresh import refresh

    m = factory.market()
    mw = Warehouse("duckdb://")
    factory.load(mw, m)
    refresh(mw, full=True)
    month = mw.to_arrow(mw.table("m_brand_month")).to_pandas()
    counts = mw.execute(
        trust_counts(
            mw.table("orders"),
            mw.table("reviews"),
            mw.table("brands"),
            entity="brand",
            complaint_types=config.score.complaint_types,
        )
    )
    mw.close()
    keys = ["brand_id", "period"]
    month["period"] = pd.to_datetime(month["period"]).dt.date
    counts = counts.rename(columns={"entity_id": "brand_id"})
    counts["period"] = pd.to_datetime(counts["period"]).dt.date
    both = month.merge(counts, on=keys, how="outer", suffixes=("_m", "_t"))
    active = both[(both["orders_m"].fillna(0) > 0) | (both["complaints_m"].fillna(0) > 0)]
    assert len(active) > 10 and active["complaints_m"].sum() > 10
    assert (active["orders_m"] == active["orders_t"].fillna(0)).all()
    assert (active["complaints_m"] == active["complaints_t"].fillna(0)).all()
    sc = config.score.model_copy(update={"window_months": 1, "min_orders": 1})
    scores = trust_scores(counts.rename(columns={"brand_id": "entity_id"}), sc, entity="brand")
    scores = scores.rename(columns={"entity_id": "brand_id"}).merge(month, on=keys)
    assert len(scores) > 10
    np.testing.assert_allclose(
        scores["complaints_per_1k_x"], scores["complaints_per_1k_y"], rtol=1e-12
    )


# -- counts kept between runs ---------------------------------------------------------------------


def _sorted(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return df.sort_values(key, na_position="first").reset_index(drop=True)


def test_run_scores_counts_again_only_the_months_that_changed(
    small_simulated_market: Path, config: TrustConfig, tmp_path: Path
) -> None:
    """The reference is the full count over every month, not planted truth. The counts are
    kept; after the last fifth of the orders and reviews arrived and the brushing flags changed
    in the market's second month, the next run counts again from that month only, and stores
    the full count's rows and the full count's scores."""
    from windmaker.results import BRUSHING_ORDERS, TRUST_COUNTS
    from windmaker.services.trust import counts_plan, run_scores, score_entities

    d = small_simulated_market
    t = {
        n: pd.read_parquet(d / f"{n}.parquet") for n in ("orders", "reviews", "brands", "accounts")
    }
    orders, reviews = t["orders"], t["reviews"]
    cut = orders["paid_at"].quantile(0.8)
    late_orders = orders["paid_at"] > cut
    late_reviews = reviews["created_at"] > cut
    months = orders["paid_at"].dt.to_period("M")
    second = months.sort_values().unique()[1]
    in_second = orders[(months == second) & ~late_orders]
    flags = orders.loc[~late_orders, ["order_id"]].iloc[::97]
    with Warehouse(f"duckdb://{tmp_path}/wh.duckdb") as wh:
        for name in ("brands", "accounts"):
            wh.backend.create_table(name, t[name])
        wh.backend.create_table("orders", orders[~late_orders])
        wh.backend.create_table("reviews", reviews[~late_reviews])
        wh.backend.create_table(BRUSHING_ORDERS, flags)
        assert counts_plan(wh, config) == ("full", None, "no stored counts")
        run_scores(wh, config)
        assert counts_plan(wh, config) == ("up_to_date", None, "no new rows")
        wh.backend.insert("orders", orders[late_orders])
        wh.backend.insert("reviews", reviews[late_reviews])
        mode, since, _ = counts_plan(wh, config)
        assert mode == "incremental" and since is not None
        assert pd.Timestamp(since) > orders["paid_at"].min()
        # a flag set on an order of the second month
        wh.backend.insert(BRUSHING_ORDERS, in_second[["order_id"]].iloc[:1])
        mode, since, _ = counts_plan(wh, config)
        assert (mode, pd.Timestamp(since)) == ("incremental", second.to_timestamp())
        got = run_scores(wh, config)
        stored = wh.execute(wh.table(TRUST_COUNTS))
        want = score_entities(wh, config)
        full_counts = wh.execute(
            trust_counts_by_pair(
                wh.table("orders"),
                wh.table("reviews"),
                flagged=wh.table(BRUSHING_ORDERS),
                complaint_types=config.score.complaint_types,
            )
        )
        assert counts_plan(wh, config, full=True)[0] == "full"
        wh.backend.insert("orders", orders[~late_orders].iloc[:1].assign(order_id="early-x"))
        assert counts_plan(wh, config) == ("full", None, "orders changed before the last count")
    key = ["brand_id", "account_id", "period"]
    assert stored["brushing"].sum() == full_counts["brushing"].sum() > 0
    pd.testing.assert_frame_equal(_sorted(stored, key), _sorted(full_counts, key))
    key = ["entity", "entity_id", "period"]
    pd.testing.assert_frame_equal(_sorted(got, key), _sorted(want, key))


def test_an_order_that_fell_due_counts_its_month_again(
    small_simulated_market: Path, config: TrustConfig, tmp_path: Path
) -> None:
    """An order of an earlier month, still unshipped, whose promised shipping falls between
    the last count's last order and the new one's becomes late: its month is counted again,
    and the stored counts are the full count's."""
    from windmaker.results import TRUST_COUNTS
    from windmaker.services.trust import counts_plan, run_scores

    d = small_simulated_market
    t = {
        n: pd.read_parquet(d / f"{n}.parquet") for n in ("orders", "reviews", "brands", "accounts")
    }
    orders, reviews = t["orders"].copy(), t["reviews"]
    cut = orders["paid_at"].quantile(0.8)
    months = orders["paid_at"].dt.to_period("M")
    early = months.sort_values().unique()[0]
    x = orders.index[months == early][0]
    orders.loc[x, "status"] = "paid"
    orders.loc[x, ["promised_ship_by", "shipped_at"]] = [cut + pd.Timedelta(days=2), pd.NaT]
    assert orders["paid_at"].max() > cut + pd.Timedelta(days=2)
    late = orders["paid_at"] > cut
    with Warehouse(f"duckdb://{tmp_path}/wh.duckdb") as wh:
        for name in ("brands", "accounts"):
            wh.backend.create_table(name, t[name])
        wh.backend.create_table("orders", orders[~late])
        wh.backend.create_table("reviews", reviews)
        run_scores(wh, config)
        before = wh.execute(wh.table(TRUST_COUNTS))
        wh.backend.insert("orders", orders[late])
        mode, since, _ = counts_plan(wh, config)
        assert (mode, pd.Timestamp(since)) == ("incremental", early.to_timestamp())
        run_scores(wh, config)
        stored = wh.execute(wh.table(TRUST_COUNTS))
        full = wh.execute(
            trust_counts_by_pair(
                wh.table("orders"),
                wh.table("reviews"),
                complaint_types=config.score.complaint_types,
            )
        )
    key = ["brand_id", "account_id", "period"]
    assert stored["late"].sum() > before["late"].sum()
    pd.testing.assert_frame_equal(_sorted(stored, key), _sorted(full, key))


def test_trust_on_a_workspace_without_orders(config: TrustConfig, tmp_path: Path) -> None:
    """`windmaker trust run` before any ingest stores empty tables with their types (an empty
    scores frame used to reach DuckDB with untyped columns and stop with the engine's error),
    and the next run finds nothing to count again."""
    from windmaker.results import TRUST_SCORES
    from windmaker.services.trust import counts_plan, run_brushing, run_scores
    from windmaker.workspace import init_workspace, open_warehouse

    settings = init_workspace(tmp_path / "ws")
    with open_warehouse(settings) as wh:
        assert run_brushing(wh, config).report.flagged.empty
        assert run_scores(wh, config).empty
        stored = wh.table(TRUST_SCORES)
        assert int(wh.execute(stored.count())) == 0
        assert str(stored.schema()["score"]) == "float64"
        assert counts_plan(wh, config) == ("up_to_date", None, "no new rows")
