"""The data contract: the nine tables users bring, their columns, keys and codes.

Everything that reads or writes the warehouse's source tables takes its names from here. The
human-readable contract in ``docs/data-contract.md`` is generated from this module
(``python -m windmaker.contract``) and a test fails when the two drift. The headers users' files
give the columns (aliases, normalisation) are in :mod:`windmaker.contract_headers`;
:func:`map_headers` and :func:`detect_table` match a file's headers onto the tables with them.

Conventions of the stored form:

- money is ``DECIMAL(18,2)`` yuan (RMB), exact on every engine; importers accept yuan or fen;
- timestamps are naive ``TIMESTAMP`` values on the Asia/Shanghai wall clock (a file's explicit
  offset is converted to it), so a period boundary is midnight in Shanghai on every engine;
- codes are the canonical lower-case values below; importers map users' words onto them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from windmaker.codes import Capability, Stage
from windmaker.contract_headers import ALIASES, normalise_header

DType = Literal["string", "int", "money", "float", "timestamp", "date", "bool"]

#: The warehouse (DuckDB) type of each contract type.
SQL_TYPES: Mapping[DType, str] = MappingProxyType(
    {
        "string": "VARCHAR",
        "int": "BIGINT",
        "money": "DECIMAL(18,2)",
        "float": "DOUBLE",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "bool": "BOOLEAN",
    }
)

TIMEZONE = "Asia/Shanghai"

ACCOUNT_KINDS = ("brand_main", "brand_matrix", "influencer")
TRAFFIC_SOURCES = ("recommend", "paid", "follow", "search", "other")
ORDER_STATUSES = ("paid", "shipped", "completed", "refunded", "cancelled")
COMPLAINTS = ("none", "quality", "misleading", "shipping", "service", "fake")
ORIGINS = ("traditional", "factory_upgraded")
STAGES: tuple[str, ...] = tuple(s.value for s in Stage)
CAPABILITIES: tuple[str, ...] = tuple(c.value for c in Capability)

#: Brand-owned account kinds: their sales are self-operated (品牌自播).
SELF_ACCOUNT_KINDS = ("brand_main", "brand_matrix")
#: Traffic sources that count as public-domain traffic (公域流量).
PUBLIC_TRAFFIC_SOURCES = ("recommend", "paid")
#: Traffic sources that count as private domain (私域).
PRIVATE_TRAFFIC_SOURCES = ("follow",)


@dataclass(frozen=True)
class Column:
    """One column of a contract table.

    ``codes`` maps users' words for a coded value onto the canonical code; the headers seen in
    users' files for the column are in :data:`windmaker.contract_headers.ALIASES`.
    """

    name: str
    dtype: DType
    description: str
    zh: str
    required: bool = True
    allowed: tuple[str, ...] | None = None
    codes: Mapping[str, str] = field(default_factory=dict)
    minimum: float | None = None
    maximum: float | None = None
    references: tuple[str, str] | None = None
    default: str | None = None

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.dtype]


@dataclass(frozen=True)
class Check:
    """A rule across columns of one row, as a DuckDB boolean over the typed row."""

    name: str
    sql: str
    reason: str


@dataclass(frozen=True)
class Table:
    """One contract table: its key, columns and row rules."""

    name: str
    zh: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    checks: tuple[Check, ...] = ()
    time_column: str | None = None

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required and c.default is None)

    @property
    def references(self) -> tuple[tuple[str, str, str], ...]:
        """(column, referenced table, referenced column) for every foreign key."""
        return tuple((c.name, *c.references) for c in self.columns if c.references is not None)

    def create_sql(self, qualified_name: str | None = None) -> str:
        cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in self.columns)
        return f'CREATE TABLE IF NOT EXISTS "{qualified_name or self.name}" ({cols})'


def _codes(pairs: dict[str, tuple[str, ...]]) -> Mapping[str, str]:
    """Invert {code: (user words...)} to {user word: code}, the code itself included."""
    out: dict[str, str] = {}
    for code, words in pairs.items():
        out[code] = code
        for w in words:
            out[w] = code
    return MappingProxyType(out)


_BOOL_WORDS = _codes(
    {
        "true": ("1", "yes", "y", "t", "是", "true", "特供", "渠道特供"),
        "false": ("0", "no", "n", "f", "否", "false", "非特供", ""),
    }
)

BRANDS = Table(
    name="brands",
    zh="品牌",
    description="One row per brand on the platform.",
    key=("brand_id",),
    time_column="joined_at",
    columns=(
        Column("brand_id", "string", "Brand identifier", "品牌ID"),
        Column("name", "string", "Brand name", "品牌名称"),
        Column("category", "string", "Main category", "类目"),
        Column(
            "origin",
            "string",
            "traditional brand or factory upgraded to a brand",
            "品牌来源",
            allowed=ORIGINS,
            codes=_codes(
                {
                    "traditional": ("传统品牌", "传统"),
                    "factory_upgraded": ("工厂升级", "源头工厂", "工厂品牌", "产业带"),
                }
            ),
        ),
        Column("joined_at", "timestamp", "When the brand joined the platform", "入驻时间"),
    ),
)

FACTORIES = Table(
    name="factories",
    zh="源头工厂",
    description="Source factories that make brands' SKUs.",
    key=("factory_id",),
    columns=(
        Column("factory_id", "string", "Factory identifier", "工厂ID"),
        Column("name", "string", "Factory name", "工厂名称"),
        Column("region", "string", "Industrial region", "产业带"),
        Column("category", "string", "Main category", "类目"),
    ),
)

SKUS = Table(
    name="skus",
    zh="商品",
    description="Products (SKUs) sold by brands.",
    key=("sku_id",),
    time_column="launched_at",
    columns=(
        Column("sku_id", "string", "SKU identifier", "商品ID"),
        Column("brand_id", "string", "Owning brand", "品牌ID", references=("brands", "brand_id")),
        Column(
            "factory_id",
            "string",
            "Source factory, when known",
            "工厂ID",
            required=False,
            references=("factories", "factory_id"),
        ),
        Column("category", "string", "Category", "类目"),
        Column("list_price", "money", "List price (yuan)", "标价", minimum=0),
        Column(
            "special_supply",
            "bool",
            "Made exclusively for the channel (渠道特供)",
            "是否特供",
            codes=_BOOL_WORDS,
            default="false",
        ),
        Column("launched_at", "timestamp", "Launch time", "上架时间"),
    ),
)

ACCOUNTS = Table(
    name="accounts",
    zh="账号",
    description="Selling accounts: a brand's main and matrix accounts, and influencers (达人).",
    key=("account_id",),
    time_column="created_at",
    columns=(
        Column("account_id", "string", "Account identifier", "账号ID"),
        Column(
            "kind",
            "string",
            "brand_main, brand_matrix or influencer",
            "账号类型",
            allowed=ACCOUNT_KINDS,
            codes=_codes(
                {
                    "brand_main": ("品牌主号", "主号", "主账号", "品牌自播号"),
                    "brand_matrix": ("矩阵号", "品牌矩阵号", "矩阵账号"),
                    "influencer": ("达人", "主播", "达人号", "kol"),
                }
            ),
        ),
        Column(
            "brand_id",
            "string",
            "Owning brand (brand accounts only)",
            "品牌ID",
            required=False,
            references=("brands", "brand_id"),
        ),
        Column("name", "string", "Account name", "账号名称"),
        Column("category", "string", "Main category", "类目"),
        Column("fans", "int", "Followers", "粉丝数", minimum=0),
        Column("created_at", "timestamp", "Account creation time", "创建时间"),
    ),
    checks=(
        Check(
            "brand_account_has_brand",
            "kind = 'influencer' OR brand_id IS NOT NULL",
            "a brand account (brand_main / brand_matrix) needs brand_id",
        ),
    ),
)

LIVE_SESSIONS = Table(
    name="live_sessions",
    zh="直播场次",
    description="Live-stream sessions of any account.",
    key=("session_id",),
    time_column="started_at",
    columns=(
        Column("session_id", "string", "Session identifier", "场次ID"),
        Column(
            "account_id",
            "string",
            "Account that went live",
            "账号ID",
            references=("accounts", "account_id"),
        ),
        Column("started_at", "timestamp", "Start", "开播时间"),
        Column("ended_at", "timestamp", "End", "下播时间"),
        Column("viewers", "int", "Unique viewers (UV)", "观看人数", minimum=0),
        Column(
            "watch_seconds",
            "int",
            "Total watch time of all viewers, seconds",
            "观看总时长(秒)",
            minimum=0,
        ),
        Column(
            "dedicated_brand_id",
            "string",
            "Brand of a dedicated influencer session (达人专场)",
            "专场品牌ID",
            required=False,
            references=("brands", "brand_id"),
        ),
    ),
    checks=(
        Check(
            "session_ends_after_start", "ended_at >= started_at", "ended_at is before started_at"
        ),
    ),
)

ORDERS = Table(
    name="orders",
    zh="订单",
    description="One row per paid order.",
    key=("order_id",),
    time_column="paid_at",
    columns=(
        Column("order_id", "string", "Order identifier", "订单编号"),
        Column("paid_at", "timestamp", "Payment time", "支付时间"),
        Column("brand_id", "string", "Brand sold", "品牌ID", references=("brands", "brand_id")),
        Column("sku_id", "string", "SKU sold", "商品ID", references=("skus", "sku_id")),
        Column(
            "account_id",
            "string",
            "Selling account (brand main / matrix / influencer)",
            "达人ID",
            references=("accounts", "account_id"),
        ),
        Column(
            "session_id",
            "string",
            "Live session, when sold in a live room",
            "直播场次ID",
            required=False,
            references=("live_sessions", "session_id"),
        ),
        Column("buyer_id", "string", "Buyer", "买家ID"),
        Column(
            "traffic_source",
            "string",
            "recommend, paid, follow, search or other",
            "流量来源",
            allowed=TRAFFIC_SOURCES,
            codes=_codes(
                {
                    "recommend": ("推荐", "自然推荐", "推荐流量", "精选", "发现页"),
                    "paid": ("付费", "付费推广", "投流", "磁力金牛", "广告"),
                    "follow": ("关注", "关注页", "粉丝团", "私域", "粉丝"),
                    "search": ("搜索", "商城搜索"),
                    "other": ("其他", "其它", "未知"),
                }
            ),
        ),
        Column("quantity", "int", "Units", "购买数量", minimum=1),
        Column("amount", "money", "Amount paid (yuan)", "实付金额", minimum=0),
        Column(
            "commission",
            "money",
            "Commission paid to the account (yuan)",
            "佣金",
            minimum=0,
            default="0",
        ),
        Column(
            "status",
            "string",
            "paid, shipped, completed, refunded or cancelled",
            "订单状态",
            allowed=ORDER_STATUSES,
            codes=_codes(
                {
                    "paid": ("已支付", "待发货", "已付款"),
                    "shipped": ("已发货", "待收货"),
                    "completed": ("已完成", "交易成功", "已收货"),
                    "refunded": ("已退款", "退款成功", "售后完成"),
                    "cancelled": ("已取消", "交易关闭", "已关闭", "canceled"),
                }
            ),
        ),
        Column(
            "refund_amount", "money", "Amount refunded (yuan)", "退款金额", minimum=0, default="0"
        ),
        Column("refunded_at", "timestamp", "Refund time", "退款时间", required=False),
        Column(
            "promised_ship_by",
            "timestamp",
            "Promised latest shipping time",
            "承诺发货时间",
            required=False,
        ),
        Column("shipped_at", "timestamp", "Shipping time", "发货时间", required=False),
    ),
    checks=(
        Check(
            "refund_not_above_amount",
            "refund_amount <= amount",
            "refund_amount is larger than amount",
        ),
        Check(
            "refund_after_payment",
            "refunded_at IS NULL OR refunded_at >= paid_at",
            "refunded_at is before paid_at",
        ),
    ),
)

AD_SPEND = Table(
    name="ad_spend",
    zh="投放消耗",
    description="Daily paid-promotion spend per brand and campaign.",
    key=("date", "brand_id", "campaign_id"),
    time_column="date",
    columns=(
        Column("date", "date", "Day", "日期"),
        Column("brand_id", "string", "Brand", "品牌ID", references=("brands", "brand_id")),
        Column("campaign_id", "string", "Campaign", "计划ID"),
        Column(
            "account_id",
            "string",
            "Promoted account",
            "账号ID",
            required=False,
            references=("accounts", "account_id"),
        ),
        Column("spend", "money", "Spend (yuan)", "消耗", minimum=0),
        Column("impressions", "int", "Impressions", "曝光量", minimum=0),
        Column("clicks", "int", "Clicks", "点击量", minimum=0),
    ),
    checks=(
        Check("clicks_not_above_impressions", "clicks <= impressions", "clicks exceed impressions"),
    ),
)

REVIEWS = Table(
    name="reviews",
    zh="评价",
    description="Buyer reviews and complaints on orders.",
    key=("review_id",),
    time_column="created_at",
    columns=(
        Column("review_id", "string", "Review identifier", "评价ID"),
        Column(
            "order_id", "string", "Order reviewed", "订单编号", references=("orders", "order_id")
        ),
        Column("created_at", "timestamp", "Review time", "评价时间"),
        Column("score", "int", "Score 1-5", "评分", minimum=1, maximum=5),
        Column(
            "complaint",
            "string",
            "none, quality, misleading, shipping, service or fake",
            "投诉类型",
            allowed=COMPLAINTS,
            default="none",
            codes=_codes(
                {
                    "none": ("无", "", "好评"),
                    "quality": ("质量问题", "质量"),
                    "misleading": ("虚假宣传", "描述不符", "货不对板"),
                    "shipping": ("物流", "发货慢", "物流问题"),
                    "service": ("服务", "服务态度", "客服"),
                    "fake": ("假货", "假冒"),
                }
            ),
        ),
    ),
)

FOLLOWS = Table(
    name="follows",
    zh="关注",
    description="Buyers following accounts (fans).",
    key=("buyer_id", "account_id"),
    time_column="followed_at",
    columns=(
        Column("buyer_id", "string", "Buyer", "买家ID"),
        Column(
            "account_id",
            "string",
            "Followed account",
            "账号ID",
            references=("accounts", "account_id"),
        ),
        Column("followed_at", "timestamp", "Follow time", "关注时间"),
    ),
)

#: All tables, in dependency order (a table comes after every table it references).
TABLES: tuple[Table, ...] = (
    BRANDS,
    FACTORIES,
    SKUS,
    ACCOUNTS,
    LIVE_SESSIONS,
    ORDERS,
    AD_SPEND,
    REVIEWS,
    FOLLOWS,
)
TABLES_BY_NAME: Mapping[str, Table] = MappingProxyType({t.name: t for t in TABLES})


def table(name: str) -> Table:
    """The contract table called ``name``; a clear error naming the known tables otherwise."""
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        known = ", ".join(TABLES_BY_NAME)
        raise KeyError(f"unknown table {name!r}; the contract has: {known}") from None


def header_map(tbl: Table) -> dict[str, str]:
    """Every accepted normalised header of ``tbl`` → its column name."""
    out: dict[str, str] = {}
    for col in tbl.columns:
        for h in (col.name, *ALIASES[tbl.name].get(col.name, ())):
            out.setdefault(normalise_header(h), col.name)
    return out


def map_headers(tbl: Table, headers: Iterable[str]) -> dict[str, str]:
    """Map a file's headers onto ``tbl``'s columns: {file header: column}; unknown headers left out.

    When two headers of one file map to the same column, the one that is the column's own name
    (or its first alias) wins, so an export carrying both 订单编号 and 订单号 stays unambiguous.
    """
    accepted = header_map(tbl)
    chosen: dict[str, str] = {}
    for h in headers:
        col = accepted.get(normalise_header(h))
        if col is None:
            continue
        if col in chosen.values():
            continue
        chosen[h] = col
    return chosen


def detect_table(headers: Iterable[str]) -> Table | None:
    """The table whose required columns a file's headers cover best; None when none is covered.

    A table qualifies only when all of its required columns are present; among those, the one
    with the most mapped columns wins (ties broken by contract order).
    """
    headers = list(headers)
    best: tuple[int, int, Table] | None = None
    for i, tbl in enumerate(TABLES):
        mapped = set(map_headers(tbl, headers).values())
        if not set(tbl.required_columns) <= mapped:
            continue
        score = (len(mapped) - len(tbl.columns) // 4, -i)
        if best is None or score > best[:2]:
            best = (score[0], score[1], tbl)
    return best[2] if best else None


def render_markdown() -> str:
    """The contract as Markdown: the source of ``docs/data-contract.md``."""
    lines = [
        "# Data contract",
        "",
        "<!-- Generated by `python -m windmaker.contract` (make docs); edit src/windmaker/contract.py instead. -->",
        "",
        "Files may be CSV (UTF-8, UTF-8 with BOM, GBK/GB18030), XLSX, Parquet, JSON lines, or the",
        "open-platform order JSON of 快手小店. Headers may be the English column names or any alias",
        "below; a money header ending in `(分)` is read as fen. Money is stored as DECIMAL(18,2) yuan;",
        f"timestamps as the {TIMEZONE} wall clock (a value with an explicit offset is converted).",
        "",
        "Tables are listed in load order: a table comes after every table it references.",
        "",
    ]
    for tbl in TABLES:
        lines += [
            f"## `{tbl.name}` — {tbl.zh}",
            "",
            tbl.description,
            "",
            f"Key: {', '.join(f'`{k}`' for k in tbl.key)}",
            "",
            "| column | type | required | rule | zh | aliases |",
            "|---|---|---|---|---|---|",
        ]
        for c in tbl.columns:
            rules = []
            if c.allowed:
                rules.append("one of " + ", ".join(f"`{a}`" for a in c.allowed))
            if c.minimum is not None:
                rules.append(f"≥ {c.minimum:g}")
            if c.maximum is not None:
                rules.append(f"≤ {c.maximum:g}")
            if c.references:
                rules.append(f"→ `{c.references[0]}.{c.references[1]}`")
            if c.default is not None:
                rules.append(f"default `{c.default}`")
            required = "yes" if c.required and c.default is None else "no"
            aliases = ", ".join(a for a in ALIASES[tbl.name].get(c.name, ()) if a != c.name)
            lines.append(
                f"| `{c.name}` | {c.dtype} ({c.sql_type}) | {required} | {'; '.join(rules)} | {c.zh} | {aliases} |"
            )
        if tbl.checks:
            lines += ["", "Row rules:", ""]
            lines += [
                f"- `{ck.name}`: {ck.sql} — otherwise rejected: *{ck.reason}*" for ck in tbl.checks
            ]
        coded = [c for c in tbl.columns if c.codes and c.dtype != "bool"]
        if coded:
            lines += ["", "Words accepted for codes:", ""]
            for c in coded:
                words = ", ".join(
                    f"{w} → `{code}`" for w, code in c.codes.items() if w != code and w
                )
                lines.append(f"- `{c.name}`: {words}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - exercised through `make docs`
    sys.stdout.write(render_markdown())
