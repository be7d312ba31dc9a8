"""Users' words for the contract's columns: header aliases and the normalised form of a header.

Back-office exports name the same column in many ways (Chinese headers, camelCase API fields,
a unit suffix such as ``(分)``). This module holds those words per table and column and the
normalisation that makes headers comparable; :mod:`windmaker.contract` attaches the aliases to
its columns and maps a file's headers onto a table with them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

#: Headers seen in users' files for each column, by table (the column's own name is implied).
ALIASES: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "brands": {
        "brand_id": ("品牌ID", "品牌编号", "brandId", "brand id"),
        "name": ("品牌名称", "品牌名", "brandName"),
        "category": ("类目", "一级类目", "主营类目", "行业", "categoryName"),
        "origin": ("品牌来源", "品牌类型", "来源"),
        "joined_at": ("入驻时间", "开店时间", "joinTime", "created_at"),
    },
    "factories": {
        "factory_id": ("工厂ID", "工厂编号"),
        "name": ("工厂名称",),
        "region": ("产业带", "地区", "所在地区"),
        "category": ("类目", "主营类目"),
    },
    "skus": {
        "sku_id": ("商品ID", "商品编号", "SKU ID", "skuId", "itemId"),
        "brand_id": ("品牌ID", "brandId"),
        "factory_id": ("工厂ID",),
        "category": ("类目", "商品类目", "categoryName"),
        "list_price": ("标价", "商品价格", "售价", "价格", "listPrice"),
        "special_supply": ("是否特供", "渠道特供", "特供"),
        "launched_at": ("上架时间", "上新时间"),
    },
    "accounts": {
        "account_id": ("账号ID", "快手号", "主播ID", "达人ID", "authorId", "userId"),
        "kind": ("账号类型", "类型"),
        "brand_id": ("品牌ID", "所属品牌ID"),
        "name": ("账号名称", "昵称", "达人昵称"),
        "category": ("类目", "主营类目"),
        "fans": ("粉丝数", "粉丝量", "fansCount"),
        "created_at": ("创建时间", "开通时间"),
    },
    "live_sessions": {
        "session_id": ("场次ID", "直播ID", "直播间场次ID", "liveStreamId"),
        "account_id": ("账号ID", "主播ID", "达人ID"),
        "started_at": ("开播时间", "开始时间"),
        "ended_at": ("下播时间", "结束时间"),
        "viewers": ("观看人数", "观看UV", "场观", "UV"),
        "watch_seconds": ("观看总时长(秒)", "总观看时长", "观看时长"),
        "dedicated_brand_id": ("专场品牌ID", "专场品牌"),
    },
    "orders": {
        "order_id": ("订单编号", "订单号", "订单ID", "oid", "orderId"),
        "paid_at": ("支付时间", "付款时间", "下单时间", "payTime"),
        "brand_id": ("品牌ID", "brandId"),
        "sku_id": ("商品ID", "商品编号", "skuId", "itemId"),
        "account_id": ("达人ID", "主播ID", "账号ID", "分销达人ID", "authorId", "cpsAuthorId"),
        "session_id": ("直播场次ID", "场次ID", "直播ID", "liveStreamId"),
        "buyer_id": ("买家ID", "用户ID", "buyerOpenId", "buyerId"),
        "traffic_source": ("流量来源", "流量渠道", "来源渠道", "trafficSource"),
        "quantity": ("购买数量", "数量", "商品数量", "num"),
        "amount": ("实付金额", "支付金额", "订单金额", "实付款", "totalFee"),
        "commission": ("佣金", "达人佣金", "预估佣金"),
        "status": ("订单状态", "status"),
        "refund_amount": ("退款金额", "refundFee"),
        "refunded_at": ("退款时间",),
        "promised_ship_by": ("承诺发货时间", "最晚发货时间"),
        "shipped_at": ("发货时间", "sendTime"),
    },
    "ad_spend": {
        "date": ("日期", "投放日期", "统计日期"),
        "brand_id": ("品牌ID",),
        "campaign_id": ("计划ID", "广告计划ID", "campaignId"),
        "account_id": ("账号ID", "推广账号ID"),
        "spend": ("消耗", "花费", "消耗金额", "cost"),
        "impressions": ("曝光量", "展现量", "曝光"),
        "clicks": ("点击量", "点击"),
    },
    "reviews": {
        "review_id": ("评价ID", "评价编号"),
        "order_id": ("订单编号", "订单号", "订单ID"),
        "created_at": ("评价时间",),
        "score": ("评分", "星级"),
        "complaint": ("投诉类型", "差评原因"),
    },
    "follows": {
        "buyer_id": ("买家ID", "用户ID", "粉丝ID"),
        "account_id": ("账号ID", "主播ID"),
        "followed_at": ("关注时间",),
    },
}


_UNIT_FEN = re.compile(r"[（(]\s*分\s*[)）]|_fen$|\(fen\)$")
_UNIT_YUAN = re.compile(r"[（(]\s*元\s*[)）]|_yuan$|\(yuan\)$")


def normalise_header(header: str) -> str:
    """Comparable form of a header: no BOM, no unit suffix, lower case, ``_`` for separators."""
    h = header.replace("\ufeff", "").strip()
    h = _UNIT_FEN.sub("", h)
    h = _UNIT_YUAN.sub("", h)
    h = h.replace("（", "(").replace("）", ")").strip()
    return re.sub(r"[\s\-]+", "_", h).lower()


def header_unit(header: str) -> Literal["fen", "yuan"] | None:
    """The money unit a header declares (``实付金额(分)`` → fen), if any."""
    h = header.replace("\ufeff", "").strip()
    if _UNIT_FEN.search(h):
        return "fen"
    if _UNIT_YUAN.search(h):
        return "yuan"
    return None
