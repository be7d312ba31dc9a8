"""Words of the interface in zh-CN and English: stages, capabilities, labels and error messages.

One catalogue serves the CLI, the JSON API's error messages and the web dashboard, so a stage is
called the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

Lang = Literal["zh-CN", "en"]
LANGS: tuple[Lang, ...] = ("zh-CN", "en")
DEFAULT_LANG: Lang = "zh-CN"

_CATALOGUE: dict[str, tuple[str, str]] = {
    # stages and capabilities
    "stage.zero_breaking": ("新店破零", "Zero-breaking"),
    "stage.climbing": ("店铺爬坡", "Climbing"),
    "stage.ka": ("行业KA品牌", "Category KA"),
    "stage.ska": ("SKA品牌", "SKA"),
    "capability.self_operation": ("品牌自播", "Self-operation"),
    "capability.traffic": ("公域流量加持", "Traffic"),
    "capability.distribution": ("达人分销合作", "Elite distribution"),
    "capability.private_domain": ("私域经营复购", "Private domain"),
    "capability.special_supply": ("品牌渠道特供", "Specify supply"),
    "attention.stalled": ("停滞", "Stalled"),
    "attention.falling": ("下滑", "Falling"),
    "attention.ready": ("待晋级", "Ready to advance"),
    "attention.trust_alert": ("信任预警", "Trust alert"),
    "attention.ok": ("正常", "On track"),
    # navigation and labels
    "app.title": ("造风者 windmaker", "windmaker"),
    "nav.workbench": ("工作台", "Workbench"),
    "nav.brands": ("品牌", "Brands"),
    "nav.providers": ("服务商", "Providers"),
    "nav.ecosystem": ("生态", "Ecosystem"),
    "nav.data": ("数据", "Data"),
    "nav.logout": ("退出登录", "Log out"),
    "nav.language": ("English", "中文"),
    "label.brand": ("品牌", "Brand"),
    "label.category": ("类目", "Category"),
    "label.stage": ("阶段", "Stage"),
    "label.attention": ("关注点", "Attention"),
    "label.gmv_at_stake": ("涉及GMV", "GMV at stake"),
    "label.net_gmv_t90d": ("近90天净GMV", "90-day net GMV"),
    "label.bottleneck": ("瓶颈能力", "Bottleneck"),
    "label.gap": ("差距", "Gap"),
    "label.score": ("得分", "Score"),
    "label.reason": ("判定依据", "Why this stage"),
    "label.plan": ("行动计划", "Action plan"),
    "label.evidence": ("同类品牌佐证", "Evidence from peers"),
    "label.current": ("当前", "Current"),
    "label.target": ("目标", "Target"),
    "label.status": ("状态", "Status"),
    "label.all": ("全部", "All"),
    "label.filter": ("筛选", "Filter"),
    "label.export": ("导出", "Export"),
    "label.username": ("用户名", "Username"),
    "label.password": ("密码", "Password"),
    "label.login": ("登录", "Log in"),
    "label.upload": ("上传", "Upload"),
    "label.refresh": ("重新计算", "Refresh"),
    "label.history": ("阶段历史", "Stage history"),
    "label.trend": ("趋势", "Trend"),
    "label.drivers": ("GMV驱动拆解", "GMV drivers"),
    "label.trust": ("信任分", "Trust score"),
    "label.recommendations": ("达人推荐", "Influencer recommendations"),
    "label.radar": ("STEPS能力雷达", "STEPS radar"),
    "label.category_median": ("类目中位数", "Category median"),
    "label.next_stage_median": ("上一阶梯中位数", "Next stage median"),
    "label.quarantine": ("隔离记录", "Quarantine report"),
    "label.accepted": ("已入库", "Accepted"),
    "label.rejected": ("已隔离", "Quarantined"),
    "label.decision": ("决定", "Decision"),
    "label.note": ("备注", "Note"),
    "label.submit": ("提交", "Submit"),
    "label.tier": ("造风者等级", "Windmaker tier"),
    "label.target_count": ("目标数量", "Target"),
    "label.period": ("周期", "Period"),
    "label.page": ("页", "Page"),
    "label.report": ("月度报告", "Monthly report"),
    "label.owner": ("负责人", "Owner"),
    "label.influencer": ("达人", "Influencer"),
    "label.expected_gmv": ("预计GMV", "Expected GMV"),
    "driver.uv": ("观看人数", "Viewers (UV)"),
    "driver.watch_time": ("人均观看时长", "Watch time per UV"),
    "driver.conversion": ("每观看小时订单", "Orders per watch hour"),
    "driver.aov": ("客单价", "Average order value"),
    "metric.net_gmv": ("净GMV", "Net GMV"),
    "metric.orders": ("订单数", "Orders"),
    "metric.buyers": ("买家数", "Buyers"),
    "metric.aov": ("客单价", "Average order value"),
    "metric.self_share": ("自播占比", "Self-operated share"),
    "metric.public_share": ("公域流量占比", "Public-traffic share"),
    "metric.distribution_share": ("达人分销占比", "Distribution share"),
    "metric.repurchase_rate_90d": ("90天内回购率", "Returned within 90 days"),
    "metric.special_supply_share": ("特供占比", "Special-supply share"),
    "metric.refund_rate": ("退款率", "Refund rate"),
    "metric.min_score": ("最低能力分", "Lowest capability score"),
    "metric.repurchase_rate": ("复购率", "Repurchase rate"),
    "metric.refund_amount_rate": ("退款金额占比", "Refund rate by amount"),
    "metric.complaints_per_1k": ("每千单投诉", "Complaints per 1,000 orders"),
    "metric.late_shipment_rate": ("延迟发货率", "Late-shipment rate"),
    "metric.review_shortfall": ("评分差距", "Review-score shortfall"),
    "metric.brushing_share": ("疑似刷单占比", "Suspected brushing share"),
    # brushing evidence: the signals that fired on a flagged order
    "signal.concentration": ("一小时内集中下单", "orders concentrated within an hour"),
    "signal.dense_block": ("多个账号同时段共同下单", "several accounts ordering together"),
    "signal.co_shop": (
        "同一批账号在多家店铺共同下单",
        "the same accounts acting together at other shops",
    ),
    "signal.fresh_account": ("新账号", "fresh accounts"),
    "signal.low_value": ("低价订单", "low-value orders"),
    "signal.unfulfilled": ("退款或未发货", "refunded or never shipped"),
    "signal.no_review": ("无评价", "no review"),
    "brushing.high": ("高置信，已从GMV剔除", "high confidence, left out of GMV"),
    "brushing.review": ("待人工复核，仍计入GMV", "for review, still in GMV"),
    "label.brushing_evidence": ("疑似刷单证据", "Brushing evidence"),
    "label.same_days_before": ("上月同期（前{days}天）", "Same {days} days last month"),
    "label.to_date": ("本月至今", "Month to date"),
    "label.benchmark_all": (
        "该类目品牌过少，得分为在全部品牌中的排名",
        "This category has too few brands: scores rank the brand among every brand",
    ),
    "label.to_date_days": ("（至今{days}天）", "(to date, {days} days)"),
    # the bottleneck in the metric's own unit ({value}, {reference}, {threshold}: formatted)
    "bottleneck.criterion": (
        "{metric} {value}，{stage}需 {threshold}",
        "{metric} {value}; {stage} requires {threshold}",
    ),
    "bottleneck.vs_advancers": (
        "{metric} {value}，已晋级品牌为 {reference}",
        "{metric} {value} against {reference} for brands that made the step",
    ),
    "bottleneck.vs_stage_top": (
        "{metric} {value}，同阶段前列品牌为 {reference}",
        "{metric} {value} against {reference} for the leading brands of its stage",
    ),
    "bottleneck.vs_next_stage": (
        "{metric} {value}，上一阶梯品牌为 {reference}",
        "{metric} {value} against {reference} for brands at the next stage",
    ),
    "bottleneck.vs_ska_peers": (
        "{metric} {value}，SKA同行为 {reference}",
        "{metric} {value} against {reference} for SKA peers",
    ),
    "bottleneck.no_weakness": (
        "与已晋级品牌相比无短板",
        "No weakness against the brands that made the step",
    ),
    "label.weakness": ("短板", "Weakness"),
    "label.at_reference": ("已达参照水平", "At or above reference"),
    # errors
    "error.not_found": ("未找到该资源", "Not found"),
    "error.unauthorized": ("请先登录", "Authentication required"),
    "error.bad_credentials": ("用户名或密码错误", "Wrong username or password"),
    "error.token_expired": ("登录已过期，请重新登录", "Your session has expired; log in again"),
    "error.forbidden": ("当前角色无权执行此操作", "Your role may not do this"),
    "error.validation": ("请求参数有误", "The request is invalid"),
    "error.malformed_json": ("请求体不是合法的JSON", "The request body is not valid JSON"),
    "error.payload_too_large": (
        "上传文件过大（上限 {limit}）",
        "The upload is too large (limit {limit})",
    ),
    "error.unsupported_file": ("无法识别的文件：{reason}", "Unsupported file: {reason}"),
    "error.conflict": ("操作冲突：{reason}", "Conflict: {reason}"),
    "error.no_data": (
        "尚无诊断数据，请先运行 refresh 与 diagnose",
        "No diagnosis yet: run refresh and diagnose first",
    ),
    "error.internal": ("服务器内部错误", "Internal server error"),
}

CATALOGUE: Mapping[str, tuple[str, str]] = MappingProxyType(_CATALOGUE)


def t(key: str, lang: str = DEFAULT_LANG, **values: object) -> str:
    """The text of ``key`` in ``lang`` (English for anything but zh), formatted with ``values``."""
    zh, en = CATALOGUE.get(key, (key, key))
    text = zh if lang.lower().startswith("zh") else en
    return text.format(**values) if values else text


def negotiate(accept_language: str | None, default: Lang = DEFAULT_LANG) -> Lang:
    """The interface language for an ``Accept-Language`` header (first supported tag by q-value)."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return default


def _metric_value(metric: str, value: object) -> str:
    """A bottleneck metric in its own unit: shares as percentages, scores as whole points."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    if v != v:  # NaN
        return "–"
    if metric == "min_score":
        return f"{v:.0f}"
    return f"{v * 100:.1f}%"


#: Criterion keys of ``g_bottleneck`` → (the metric it compares, the stage that requires it).
_CRITERIA = {
    "ka_repurchase": ("repurchase_rate_90d", "ka"),
    "ka_self": ("self_share", "ka"),
    "ska_supply": ("special_supply_share", "ska"),
    "ska_score": ("min_score", "ska"),
}


def explain_bottleneck(row: dict[str, object], lang: str = DEFAULT_LANG) -> str:
    """One ``g_bottleneck`` row as a person reads it, in the metric's own unit.

    A capability ranked by a failed criterion of the next stage cites the criterion's numbers;
    a weakness cites its headline metric against the peers it was measured against; a
    capability at or above its reference says so and is never called a weakness.
    """
    criterion = _CRITERIA.get(str(row.get("criterion") or ""))
    if row.get("ranked_by") == "criterion" and criterion is not None:
        metric, stage = criterion
        return t(
            "bottleneck.criterion",
            lang,
            metric=t(f"metric.{metric}", lang),
            value=_metric_value(metric, row.get("criterion_value")),
            threshold=_metric_value(metric, row.get("criterion_threshold")),
            stage=t(f"stage.{stage}", lang),
        )
    if not row.get("weakness"):
        return t("label.at_reference", lang)
    metric = str(row.get("metric") or "")
    basis = str(row.get("metric_basis") or row.get("basis") or "advancers")
    key = f"bottleneck.vs_{basis}" if f"bottleneck.vs_{basis}" in CATALOGUE else ""
    if not metric or not key:
        return t("label.weakness", lang)
    return t(
        key,
        lang,
        metric=t(f"metric.{metric}", lang),
        value=_metric_value(metric, row.get("metric_value")),
        reference=_metric_value(metric, row.get("metric_reference")),
    )


def signals_text(signals: str, lang: str = DEFAULT_LANG) -> str:
    """The signals of a brushing flag (``"dense_block+co_shop"``) in words."""
    sep = "、" if lang.lower().startswith("zh") else "; "
    return sep.join(t(f"signal.{s}", lang) for s in signals.split("+") if s)
