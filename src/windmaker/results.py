"""The results contract: every table windmaker writes, as :mod:`windmaker.contract` declares the
tables users bring.

Metric tables (``m_*``) come from the metrics refresh, diagnosis tables (``g_*``) from the
ladder, model tables (``mdl_*``) from brushing, trust, the lifetime-value and traffic models and
influencer distribution; ``_``-prefixed tables are the bookkeeping of ingestion and of the
incremental refresh. Each declaration names the table's columns with their types (the types of
:data:`windmaker.contract.DType`), its key and the step that writes it; the money columns are
the ``money`` ones, stored as DECIMAL(18,2) yuan by the warehouse's one money writer
(:func:`windmaker.warehouse.money.with_money`), whatever the writer hands it.

Readers and writers name the tables by the constants below, never by string literals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from windmaker.contract import DType

#: The use case (or main-job step) that writes a table.
Step = Literal["ingest", "brushing", "metrics", "trust", "models", "diagnosis", "distribution"]
STEPS: tuple[Step, ...] = (
    "ingest",
    "brushing",
    "metrics",
    "trust",
    "models",
    "diagnosis",
    "distribution",
)


@dataclass(frozen=True)
class ResultColumn:
    """One column of a result table."""

    name: str
    dtype: DType

    @property
    def money(self) -> bool:
        return self.dtype == "money"


@dataclass(frozen=True)
class ResultTable:
    """One table windmaker writes: its columns, key and the step that writes it.

    ``when`` says when a run of ``step`` does not write the table (empty otherwise): the
    model-blended scores, for instance, exist only once a model is fitted.
    """

    name: str
    step: Step
    key: tuple[str, ...]
    columns: tuple[ResultColumn, ...]
    description: str
    when: str = ""
    #: whether ``key`` identifies a row (a table with a row per order has no key of its own)
    unique: bool = True

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def money(self) -> tuple[str, ...]:
        """The money columns: DECIMAL(18,2) yuan."""
        return tuple(c.name for c in self.columns if c.money)

    def column(self, name: str) -> ResultColumn:
        return next(c for c in self.columns if c.name == name)


def _columns(spec: str) -> tuple[ResultColumn, ...]:
    """Columns from ``"name name:type ..."`` (a bare name is a string column)."""
    out = []
    for word in spec.split():
        name, _, dtype = word.partition(":")
        out.append(ResultColumn(name, dtype or "string"))  # type: ignore[arg-type]
    return tuple(out)


# -- table names -------------------------------------------------------------------------------
INGEST_LOG = "_ingest_log"
REFRESH_STATE = "_m_refresh_state"
LEFT_OUT = "_m_left_out"
FIT_STATE = "_mdl_fit_state"
BRUSHING_STATE = "_mdl_brushing_state"
BRUSHING_SHARED = "_mdl_brushing_shared"
BRUSHING_DAYS = "_mdl_brushing_days"
BRUSHING_SLOTS = "_mdl_brushing_slots"
BRUSHING_RULE = "_mdl_brushing_rule"
BRUSHING_PERIODS = "_mdl_brushing_periods"
BRUSHING_NEAR = "_mdl_brushing_near"
BRUSHING_KEYS = "_mdl_brushing_keys"
TRUST_COUNTS = "_mdl_trust_counts"
TRUST_STATE = "_mdl_trust_state"
TRUST_FLAGGED = "_mdl_trust_flagged"
BUYER_DAYS = "_m_buyer_day"
INFLUENCER_DAYS = "_m_influencer_day"
SKU_DAYS = "_m_sku_day"
SIDE_DAYS = "_m_side_day"
BRAND_DAY = "m_brand_day"
BRAND_WEEK = "m_brand_week"
BRAND_MONTH = "m_brand_month"
COHORT_RETENTION = "m_cohort_retention"
GMV_DRIVERS = "m_gmv_drivers"
GMV_BUYER_DRIVERS = "m_gmv_buyer_drivers"
PERCENTILE = "m_percentile"
CAPABILITY = "m_capability"
STAGE = "g_stage"
UNJUDGED = "g_unjudged"
BOTTLENECK = "g_bottleneck"
PLAN = "g_plan"
PORTFOLIO = "g_portfolio"
MODEL_SCORES = "g_model_scores"
BRUSHING_ORDERS = "mdl_brushing_orders"
BRUSHING_REVIEW = "mdl_brushing_review"
BRUSHING_WINDOWS = "mdl_brushing_windows"
TRUST_SCORES = "mdl_trust_scores"
TRUST_ALERTS = "mdl_trust_alerts"
TRUST_VIOLATIONS = "mdl_trust_violations"
CLV_BRAND = "mdl_clv_brand"
CLV_BUYERS = "mdl_clv_buyers"
TRAFFIC_CURVES = "mdl_traffic_curves"
BUDGET = "mdl_budget"
RECOMMENDATIONS = "mdl_recommendations"
HITS = "mdl_hits"
HORSE_RACE = "mdl_horse_race"
CONCENTRATION = "mdl_concentration"
FACTORY_SKU_MONTHS = "m_factory_sku_month"

# -- columns -----------------------------------------------------------------------------------
_BRAND_PERIOD = """
brand_id category period:date net_gmv:money gross_gmv:money orders:int buyers:int
aov:float self_gmv:money self_share:float live_hours:float self_gmv_per_live_hour:float
gpm:float paid_spend:money paid_gmv:money roas:float public_gmv:money public_share:float
recommend_share:float paid_share:float search_share:float other_share:float
distribution_gmv:money distribution_share:float active_influencers:int
top_influencer_share:float influencer_hhi:float dedicated_gmv:money repurchase_rate:float
repurchase_rate_90d:float repurchase_rate_180d:float follower_gmv:money
follower_gmv_share:float new_follows:int special_supply_gmv:money
special_supply_share:float special_supply_skus:int refund_rate:float
refund_amount_rate:float complaints_per_1k:float late_shipment_rate:float
review_score:float self_live_gmv:money self_viewers:int live_seconds:int
recommend_gmv:money search_gmv:money other_gmv:money top_influencer_gmv:money
influencer_gmv_sq:float repeat_buyers:int repeat_buyers_90d:int repeat_buyers_180d:int
refunded_orders:int late_orders:int ship_checked:int complaints:int reviews:int
score_sum:int net_gmv_t30d:money net_gmv_t90d:money as_of:date days_covered:int
to_date:bool
"""
_BRUSHING_FLAGS = """
order_id brand_id buyer_id paid_at:timestamp method window_start:timestamp
window_end:timestamp window_orders:int window_buyers:int block_id:int signals
n_signals:int confidence
"""

TABLES: tuple[ResultTable, ...] = (
    ResultTable(
        INGEST_LOG,
        "ingest",
        ("sha256", "table"),
        _columns(
            "file sha256 table format encoding rows:int rows_accepted:int rows_rejected:int"
            " rows_replaced:int quarantine at:timestamp"
        ),
        "one row per imported file: its digest (a re-import is recognised), counts, quarantine",
    ),
    ResultTable(
        FIT_STATE,
        "models",
        ("model",),
        _columns("model key fitted_at:timestamp"),
        "per model: the key of the data and settings its stored fit was made from",
    ),
    ResultTable(
        REFRESH_STATE,
        "metrics",
        ("source",),
        _columns("source rows:int max_time:timestamp"),
        "per source table: row count and latest time at the last refresh",
    ),
    ResultTable(
        LEFT_OUT,
        "metrics",
        ("order_id",),
        _columns("order_id paid_at:timestamp"),
        "the orders the last refresh left out of every metric (flagged as brushing)",
    ),
    ResultTable(
        BUYER_DAYS,
        "metrics",
        ("brand_id", "buyer_id", "day"),
        _columns(
            "brand_id buyer_id day:date last_at:timestamp repeat_90d:bool repeat_180d:bool"
            " penult_day:date cohort:date new_week:bool new_month:bool"
        ),
        "brand × buyer × day: last order time, repeat flags and cohort, kept between refreshes",
    ),
    ResultTable(
        INFLUENCER_DAYS,
        "metrics",
        ("brand_id", "day", "account_id"),
        _columns("brand_id day:date account_id g:money"),
        "brand × day × influencer: net GMV sold, kept between refreshes",
    ),
    ResultTable(
        SKU_DAYS,
        "metrics",
        ("brand_id", "sku_id", "day"),
        _columns("brand_id sku_id day:date"),
        "brand × day × special-supply SKU sold, kept between refreshes",
    ),
    ResultTable(
        SIDE_DAYS,
        "metrics",
        ("brand_id", "day"),
        _columns(
            "brand_id day:date live_seconds:int self_viewers:int paid_spend:money"
            " new_follows:int reviews:int score_sum:int complaints:int"
        ),
        "brand × day sums of sessions, ad spend, follows and reviews, kept between refreshes",
    ),
    ResultTable(
        BRAND_DAY,
        "metrics",
        ("brand_id", "period"),
        _columns(_BRAND_PERIOD),
        "every STEPS metric per brand and day",
    ),
    ResultTable(
        BRAND_WEEK,
        "metrics",
        ("brand_id", "period"),
        _columns(_BRAND_PERIOD),
        "every STEPS metric per brand and week (Monday)",
    ),
    ResultTable(
        BRAND_MONTH,
        "metrics",
        ("brand_id", "period"),
        _columns(_BRAND_PERIOD + " months_with_sales:int"),
        "every STEPS metric per brand and month, with the count of months with sales",
    ),
    ResultTable(
        COHORT_RETENTION,
        "metrics",
        ("brand_id", "cohort", "period"),
        _columns(
            "brand_id cohort:date period:date months_since:int cohort_buyers:int"
            " active_buyers:int retention:float"
        ),
        "active buyers of each first-purchase cohort per month",
    ),
    ResultTable(
        GMV_DRIVERS,
        "metrics",
        ("level", "entity_id", "period"),
        _columns(
            "level entity_id brand_id account_id period:date started_at:timestamp uv:int"
            " watch_hours:float orders:int live_gmv:money watch_hours_per_uv:float"
            " orders_per_watch_hour:float aov:float prev_uv:int prev_watch_hours:float"
            " prev_orders:int prev_live_gmv:money prev_watch_hours_per_uv:float"
            " prev_orders_per_watch_hour:float prev_aov:float delta_gmv:money contrib_uv:float"
            " contrib_watch_time:float contrib_conversion:float contrib_aov:float"
            " decomposable:bool compared_days:int"
        ),
        "live GMV = UV × watch time × conversion × AOV per brand, account and session, with"
        " the change split exactly across the drivers",
    ),
    ResultTable(
        GMV_BUYER_DRIVERS,
        "metrics",
        ("brand_id", "period"),
        _columns(
            "brand_id period:date buyers:int orders:int net_gmv:money orders_per_buyer:float"
            " aov:float prev_buyers:int prev_orders:int prev_net_gmv:money"
            " prev_orders_per_buyer:float prev_aov:float delta_gmv:money contrib_buyers:float"
            " contrib_frequency:float contrib_aov:float decomposable:bool compared_days:int"
        ),
        "net GMV = buyers × orders per buyer × AOV per brand and month, with the change split",
    ),
    ResultTable(
        PERCENTILE,
        "metrics",
        ("brand_id", "period", "metric"),
        _columns("brand_id category period:date metric value:float percentile:float benchmark"),
        "each metric's percentile within the brand's category and month",
    ),
    ResultTable(
        CAPABILITY,
        "metrics",
        ("brand_id", "period", "capability"),
        _columns("brand_id category period:date capability index:float score:float benchmark"),
        "the five capability indices and scores per brand and month",
    ),
    ResultTable(
        STAGE,
        "diagnosis",
        ("brand_id", "period"),
        _columns(
            "brand_id category period:date stage candidate_stage reason_code reason_params"
            " as_of:timestamp days_covered:float to_date:bool"
        ),
        "the ladder stage of every judged brand-month, with its reason",
    ),
    ResultTable(
        UNJUDGED,
        "diagnosis",
        ("brand_id", "period"),
        _columns(
            "brand_id category period:date status joined_at:date data_start:date"
            " judged_from:date reason_code reason_params"
        ),
        "brand-months not judged yet (history before the data), with the reason",
    ),
    ResultTable(
        BOTTLENECK,
        "diagnosis",
        ("brand_id", "period", "capability"),
        _columns(
            "brand_id category period:date capability gap:float rank:int reference"
            " brand_index:float target_index:float basis raw_gap:float scale:float"
            " weakness:bool ranked_by criterion criterion_value:float"
            " criterion_threshold:float criterion_shortfall:float metric metric_value:float"
            " metric_reference:float metric_basis"
        ),
        "the five capabilities ranked by their gap to the next stage",
    ),
    ResultTable(
        PLAN,
        "diagnosis",
        ("brand_id", "period", "rank"),
        _columns(
            "brand_id period:date rank:int action_id capability metric current:float"
            " target:float evidence category stage title_en title_zh direction"
        ),
        "the action plan: up to five playbook actions with their targets and evidence",
    ),
    ResultTable(
        PORTFOLIO,
        "diagnosis",
        ("brand_id", "period"),
        _columns(
            "brand_id category period:date stage attention gmv_at_stake:money priority:int"
            " is_trust_alert:bool is_falling:bool is_ready:bool is_stalled:bool"
        ),
        "what needs attention across the portfolio, with the GMV at stake",
    ),
    ResultTable(
        MODEL_SCORES,
        "diagnosis",
        ("brand_id", "period", "capability"),
        _columns(
            "brand_id category period:date capability metric_index:float metric_score:float"
            " model_value:float model_z:float weight:float index:float score:float"
        ),
        "the P and T scores blended with the fitted models",
        when="only with fitted lifetime-value or traffic models",
    ),
    ResultTable(
        BRUSHING_STATE,
        "brushing",
        ("key",),
        _columns("key rows:int max_time:timestamp"),
        "the orders' row count and latest payment at the last detection, and its rule and ring "
        "settings",
    ),
    ResultTable(
        BRUSHING_SHARED,
        "brushing",
        ("shop", "window", "a", "b"),
        _columns("shop:int window:int a:int b:int"),
        "the windows that pairs of buyers who meet often share (hashed ids), kept so the next "
        "detection pairs only the buyers of new windows",
    ),
    ResultTable(
        BRUSHING_DAYS,
        "brushing",
        ("shop", "day"),
        _columns("shop:int day:int n:int"),
        "each shop's buyer-hours per day (hashed shop, days since 1970), kept for the next "
        "detection",
    ),
    ResultTable(
        BRUSHING_SLOTS,
        "brushing",
        ("shop", "bucket", "slot"),
        _columns("shop:int bucket:int slot:int n:int"),
        "each shop's buyer-hours per hour of the day, per 28-day bucket, kept for the next "
        "detection",
    ),
    ResultTable(
        BRUSHING_RULE,
        "brushing",
        ("shop", "buyer", "t"),
        _columns("shop:int buyer:int t:int start:int end:int orders:int buyers:int"),
        "the burst rule's flagged (shop, buyer, second) groups with their earliest period "
        "(hashed ids, seconds since 1970), kept so the next detection reads only recent hours",
    ),
    ResultTable(
        BRUSHING_PERIODS,
        "brushing",
        ("shop", "first", "last", "suspicious"),
        _columns("shop:int first:int last:int orders:int buyers:int suspicious:int"),
        "the burst rule's periods, a row per suspicious buyer (hashed ids, seconds since "
        "1970), kept for the next detection",
    ),
    ResultTable(
        BRUSHING_NEAR,
        "brushing",
        ("shop", "window", "buyer"),
        _columns("shop:int window:int buyer:int orders:int degree:int"),
        "every buyer-hour of the linked pairs' buyers at their shops, with the hour's buyers "
        "(hashed ids), kept so the next detection looks up only new hours and new pairs",
    ),
    ResultTable(
        BRUSHING_KEYS,
        "brushing",
        ("shop", "buyer", "t"),
        _columns("shop:int buyer:int t:int"),
        "a row per order: its shop and buyer (hashed ids) and its second, kept so the "
        "detection's passes read three whole-number columns instead of hashing the ids again",
        unique=False,
    ),
    ResultTable(
        BRUSHING_ORDERS,
        "brushing",
        ("order_id",),
        _columns(_BRUSHING_FLAGS),
        "high-confidence brushing orders with their evidence: left out of GMV",
    ),
    ResultTable(
        BRUSHING_REVIEW,
        "brushing",
        ("order_id",),
        _columns(_BRUSHING_FLAGS),
        "every flagged order with its signals, for review",
    ),
    ResultTable(
        BRUSHING_WINDOWS,
        "brushing",
        ("brand_id", "first", "last"),
        _columns("brand_id first:timestamp last:timestamp orders:int buyers:int suspicious_buyers"),
        "the burst rule's suspicious windows",
    ),
    ResultTable(
        TRUST_COUNTS,
        "trust",
        ("brand_id", "account_id", "period"),
        _columns(
            "brand_id account_id period:date orders:int refunded:int complaints:int promised:int"
            " late:int reviews:int review_score_sum:int brushing:int"
        ),
        "the counts behind the trust scores per brand × selling account × month, kept so the "
        "next run counts only the months that changed",
    ),
    ResultTable(
        TRUST_STATE,
        "trust",
        ("source",),
        _columns("source rows:int max_time:timestamp key"),
        "per source the trust counts were made from: row count and latest time, and the "
        "complaint types counted",
    ),
    ResultTable(
        TRUST_FLAGGED,
        "trust",
        ("order_id",),
        _columns("order_id paid_at:timestamp"),
        "the brushing flags the stored trust counts were made with",
    ),
    ResultTable(
        TRUST_SCORES,
        "trust",
        ("entity", "entity_id", "period"),
        _columns(
            "entity entity_id category period:date orders:int status score:float no_data"
            " refund_rate:float refund_rate_ref:float refund_rate_points:float"
            " complaints_per_1k:float complaints_per_1k_ref:float"
            " complaints_per_1k_points:float late_shipment_rate:float"
            " late_shipment_rate_ref:float late_shipment_rate_points:float"
            " review_shortfall:float review_shortfall_ref:float review_shortfall_points:float"
            " brushing_share:float brushing_share_ref:float brushing_share_points:float"
        ),
        "trust score of every shop and account per month, with each component's points",
    ),
    ResultTable(
        TRUST_ALERTS,
        "trust",
        ("brand_id", "account_id", "period", "kind"),
        _columns(
            "brand_id account_id period:date kind severe:bool score:float threshold:float"
            " reason_code reason_params"
        ),
        "trust alerts of brands and their accounts",
    ),
    ResultTable(
        TRUST_VIOLATIONS,
        "trust",
        ("brand_id", "period"),
        _columns("brand_id period:date violations:int severe_violations:int"),
        "trust violations per brand and month (they count against the brand's providers)",
    ),
    ResultTable(
        CLV_BRAND,
        "models",
        ("brand_id",),
        _columns(
            "brand_id category observation_end:date time_unit buyers:int repeat_buyers:int"
            " repeat_model fit_level r:float alpha:float a:float b:float s:float beta:float"
            " loglik:float loglik_bg_nbd:float loglik_pareto_nbd:float spend_fit_level"
            " gg_p:float gg_q:float gg_gamma:float notes p_alive_mean:float"
            " expected_purchases_90d:float expected_purchases_180d:float"
            " expected_purchases_365d:float value_per_buyer_90d:money"
            " value_per_buyer_180d:money value_per_buyer_365d:money active_fan_buyers:int"
            " new_buyers:int at_risk_buyers:int lapsed_buyers:int active_fan_value_365d:money"
            " new_value_365d:money at_risk_value_365d:money lapsed_value_365d:money"
        ),
        "lifetime-value fit of each brand and its buyers' expected value, with each buyer"
        " segment's count and summed expected 365-day value",
    ),
    ResultTable(
        CLV_BUYERS,
        "models",
        ("brand_id", "buyer_id"),
        _columns(
            "brand_id buyer_id frequency:int recency:float T:float monetary_value:money"
            " p_alive:float expected_purchases_90d:float expected_value_90d:money"
            " expected_purchases_180d:float expected_value_180d:money"
            " expected_purchases_365d:float expected_value_365d:money segment"
            " last_purchase:date"
        ),
        "each buyer's chance of being alive, expected purchases and value, and segment",
    ),
    ResultTable(
        TRAFFIC_CURVES,
        "models",
        ("brand_id",),
        _columns(
            "brand_id category period_end:date days:int spend_days:int saturation"
            " adstock_alpha:float saturation_lam:float half_saturation_adstock:float"
            " half_saturation_spend:float hill_shape:float beta:money sigma:float r2:float"
            " converged:bool current_spend:money roas_observed:float roas_model:float"
            " marginal_roas:float break_even_roas:float break_even_spend:money"
            " spend_headroom:money"
        ),
        "each brand's paid-traffic response curve, marginal ROAS and break-even spend",
    ),
    ResultTable(
        BUDGET,
        "models",
        ("portfolio", "brand_id"),
        _columns(
            "portfolio brand_id current_spend:money recommended_spend:money change:money"
            " predicted_gmv_current:money predicted_gmv_recommended:money"
            " marginal_roas_current:float marginal_roas_recommended:float"
        ),
        "the paid budget split across a portfolio's brands at equal marginal ROAS",
    ),
    ResultTable(
        RECOMMENDATIONS,
        "distribution",
        ("brand_id", "sku_id", "rank"),
        _columns(
            "brand_id sku_id as_of:date rank:int account_id name expected_gmv:money"
            " gmv_if_cooperating:money p_cooperate:float trust_score:float reason_code"
            " reason_params"
        ),
        "influencers recommended to each brand, ranked by predicted cooperation GMV, with the"
        " reason (``influencers.recommended``: the signals and the trust gate's reason)",
    ),
    ResultTable(
        FACTORY_SKU_MONTHS,
        "metrics",
        ("sku_id", "period"),
        _columns(
            "sku_id brand_id factory_id category special_supply:bool launched_at:timestamp"
            " period:date orders:int units:int net_gmv:money refunded:int reviews:int"
            " low_reviews:int quality_complaints:int"
        ),
        "SKU × month: what the goods of each source factory do once sold (orders, units,"
        " refunds, low reviews, quality complaints), the orders the metrics leave out left out",
    ),
    ResultTable(
        HITS,
        "distribution",
        ("sku_id",),
        _columns(
            "sku_id brand_id category first_sale:timestamp as_of:date orders:int"
            " live_orders:int gmv:money exposure:float rate_mean:float rate_low:float"
            " rate_high:float hit_rate_threshold:float p_hit:float decision"
            " reason_code reason_params"
        ),
        "recently launched SKUs: chance of a hit and push / keep testing / drop",
    ),
    ResultTable(
        HORSE_RACE,
        "distribution",
        ("brand_id", "account_id"),
        _columns(
            "brand_id account_id kind as_of:date weeks:int live_hours:float gmv:money"
            " gmv_per_live_hour:float gmv_per_live_hour_shrunk:float conversion:float"
            " conversion_shrunk:float p_best:float p_best_conversion:float p_below_mean:float"
            " decision reason_code reason_params"
        ),
        "the matrix-account horse race: scale, keep or stop each own account",
    ),
    ResultTable(
        CONCENTRATION,
        "distribution",
        ("brand_id",),
        _columns(
            "brand_id distribution_gmv:money influencers:int top_influencer top_share:float"
            " hhi:float flagged:bool window_start:date window_end:date"
        ),
        "brands whose distribution GMV hangs on one influencer",
    ),
)

TABLES_BY_NAME: dict[str, ResultTable] = {t.name: t for t in TABLES}


def table(name: str) -> ResultTable:
    """The declaration of result table ``name``; raises KeyError naming the known ones."""
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        raise KeyError(
            f"{name!r} is not a result table; one of {', '.join(TABLES_BY_NAME)}"
        ) from None


def money_columns(name: str) -> tuple[str, ...]:
    """The money columns of ``name``; none for a table the contract does not declare."""
    declared = TABLES_BY_NAME.get(name)
    return declared.money if declared is not None else ()
