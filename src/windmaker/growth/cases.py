"""The case library (方法论复制): every step of the growth ladder a brand made, written from the data.

A **case** is one promotion by one stage (``zero_breaking → climbing``, ``climbing → ka``,
``ka → ska``) of the stage history (``g_stage``): the same steps plan evidence quotes its peers
from (:func:`windmaker.growth.bottleneck.advancer_rows`, promotions confirmed after the brand's
warm-up periods). With ``s`` the brand's first month at the start stage and ``e`` the month it
reached the next one, a case holds:

- ``months``: the months it held the start stage (``s`` up to the month before ``e``);
  ``censored`` when it already held that stage in its first judged month, so the step took at
  least that long;
- ``size_band``: the band of ``cases.yaml`` → ``size_bands`` holding ``net_gmv_t90d(s)``
  (lower edge ≤ value < next lower edge). The bands are fixed amounts, the same in every
  category: a band means the same money everywhere and tells nothing of a brand's rank in a
  small category;
- ``series``: every month from ``s`` to ``e``, with the stage, the five final capability scores
  (0–100, ``m_capability`` with model blending, as the read model shows them) and the metrics
  the playbook acts on (``net_gmv`` and :data:`windmaker.growth.config.PLAN_METRICS`, from
  ``m_brand_month``);
- ``score_change[k] = score(e, k) − score(s, k)`` per capability ``k``; the **lever** is the
  capability with the largest rise (none when nothing rose; ties in the method's order);
- ``bottleneck``: the rank-1 capability of ``g_bottleneck`` in month ``s``;
- ``gmv_change = net_gmv(e) / net_gmv(s) − 1`` (none when ``net_gmv(s) ≤ 0``);
- ``category_brands``: brands of the category scored in month ``s`` (``m_capability``);
- ``case_id = "C" + HMAC-SHA256(secret, "brand_id|from|to|YYYY-MM of e")``, its first ten hex
  digits in upper case: stable across runs, and without the workspace's secret nobody can tell
  which brand an id belongs to, even knowing every brand id.

The library shows a case through :func:`public_case`. A brand that consented is named and its
numbers are exact. A brand that has not is shown without anything that identifies it: no id,
no name, no 90-day GMV, and no figure that could be looked up:

- shares and rates to whole percent, ``round(v, 2)``;
- scores and score changes to whole points;
- money, counts and hours as the change against month ``s``,
  ``round((v / v(s) − 1) / step) × step`` with ``step = relative_step`` (none when
  ``v(s) ≤ 0``), and the GMV change rounded to the same step;
- other numbers (ROAS, concentration, review score, complaints per 1,000) to one decimal.

And such a case is **withheld** (left out of the library) when its category had fewer than
``k`` brands in month ``s``: "a similar-sized brand of the category" would single it out, the
rule plan evidence follows (:mod:`windmaker.views.privacy`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from windmaker import contract
from windmaker.config import load_yaml_model
from windmaker.growth.bottleneck import advancer_rows
from windmaker.growth.config import PLAN_METRICS, LadderConfig
from windmaker.growth.ladder import STAGE_CODES
from windmaker.numbers import unit_of

CASES_FILE = "cases.yaml"
#: The metrics of a case's series: net GMV, then every metric an action can name.
CASE_METRICS: tuple[str, ...] = ("net_gmv", *PLAN_METRICS)
CAPABILITIES: tuple[str, ...] = tuple(contract.CAPABILITIES)
ORDINAL = {code: i for i, code in enumerate(STAGE_CODES)}
#: The steps a case can be, as ``from-to`` codes.
STEPS: tuple[str, ...] = tuple(f"{a}-{b}" for a, b in pairwise(STAGE_CODES))
#: How a number of a case reads: exact (a named case), or rounded as the module says.
Kind = Literal["value", "share", "score", "relative", "level"]


class CasesConfig(BaseModel):
    """``cases.yaml``: the size bands and the rounding of anonymous cases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    size_bands: Annotated[tuple[Annotated[float, Field(ge=0)], ...], Field(min_length=1)]
    relative_step: Annotated[float, Field(gt=0, le=1)]

    @field_validator("size_bands")
    @classmethod
    def _bands_rise_from_zero(cls, edges: tuple[float, ...]) -> tuple[float, ...]:
        if edges[0] != 0:
            raise ValueError("the first band starts at 0")
        if any(b <= a for a, b in pairwise(edges)):
            raise ValueError("band edges must rise strictly")
        return edges


def load_cases_config(config_dir: Path | None = None) -> CasesConfig:
    """``cases.yaml`` from ``config_dir`` when it holds one, else the shipped default."""
    return load_yaml_model(CasesConfig, CASES_FILE, config_dir)


# -- records -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseMonth:
    """One month of a step: the stage, the capability scores and the metrics."""

    period: date
    stage: str | None
    scores: Mapping[str, float | None]
    metrics: Mapping[str, float | None]


@dataclass(frozen=True)
class Case:
    """One step of one brand, with every number exact (what :func:`public_case` shows from)."""

    case_id: str
    brand_id: str
    name: str | None
    category: str
    from_stage: str
    to_stage: str
    start_period: date
    end_period: date
    months: int
    censored: bool
    size_gmv: float | None
    size_band: int | None
    bottleneck: str | None
    lever: str | None
    score_change: Mapping[str, float | None]
    gmv_change: float | None
    category_brands: int
    series: tuple[CaseMonth, ...]

    @property
    def step(self) -> str:
        return f"{self.from_stage}-{self.to_stage}"


@dataclass(frozen=True)
class CaseProvider:
    """A provider that served the brand during the step, and for how many of its months."""

    provider_id: str
    name: str
    kind: str
    months: int


@dataclass(frozen=True)
class CaseAction:
    """One action of the brand's plan taken during the step (its plan month, or the month it
    was assigned) and whether it was done by the end of the step."""

    action_id: str
    capability: str | None
    taken: date
    completed: bool
    completed_month: date | None


@dataclass(frozen=True)
class ActionFacts:
    """What the store knows of one action item: its plan month, creation and status moves."""

    action_id: str
    period: date | None
    created_at: datetime
    #: (when, status it moved to), in the order they happened
    moves: tuple[tuple[datetime, str], ...] = ()


@dataclass(frozen=True)
class PublicCase:
    """A case as the library shows it: named (exact numbers) or anonymous (rounded, no id).

    ``kinds`` says how each metric of the series reads (``value``: exact; ``share``:
    whole percent; ``relative``: change against the first month; ``level``: one decimal).
    """

    case_id: str
    named: bool
    brand_id: str | None
    name: str | None
    category: str
    step: str
    from_stage: str
    to_stage: str
    start_period: date
    end_period: date
    months: int
    censored: bool
    size_band: int | None
    band_low: float | None
    band_high: float | None
    size_gmv: float | None
    bottleneck: str | None
    lever: str | None
    score_change: Mapping[str, float | None]
    gmv_change: float | None
    kinds: Mapping[str, str]
    series: tuple[CaseMonth, ...]
    providers: tuple[CaseProvider, ...] = ()
    actions: tuple[CaseAction, ...] = ()

    @property
    def capabilities(self) -> set[str]:
        """The capabilities a search by capability finds this case under: its lever and the
        bottleneck it started from."""
        return {c for c in (self.lever, self.bottleneck) if c}


@dataclass(frozen=True, eq=False)
class CaseSource:
    """The result frames a library is written from, one snapshot of them.

    ``stages``: ``g_stage`` (brand_id, category, period, stage code); ``capability``: the final
    scores (brand_id, category, period, capability, score); ``brand_month``: ``m_brand_month``
    (brand_id, period, net_gmv_t90d and :data:`CASE_METRICS`); ``bottleneck``: ``g_bottleneck``
    (brand_id, period, capability, rank); ``brands``: brand_id, name, category. ``memo`` keeps
    what is computed from them (the library), so a snapshot is written up once.
    """

    stages: pd.DataFrame
    capability: pd.DataFrame
    brand_month: pd.DataFrame
    bottleneck: pd.DataFrame
    brands: pd.DataFrame
    _memo: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    def memo(self, key: tuple[Any, ...], make: Any) -> Any:
        """``make()`` once per source and ``key``."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]


# -- small formulas ----------------------------------------------------------------------------
def case_id(secret: str, brand_id: str, from_stage: str, to_stage: str, reached: date) -> str:
    """``"C"`` + the first ten hex digits of HMAC-SHA256(secret, brand|from|to|YYYY-MM)."""
    message = f"{brand_id}|{from_stage}|{to_stage}|{reached:%Y-%m}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return "C" + digest[:10].upper()


def parse_step(text: str | None) -> str | None:
    """A step as ``from-to``, from ``from-to``, ``from→to``, ``from>to`` or the start stage
    alone; None for no step. Raises ValueError for anything that is not one of :data:`STEPS`."""
    if text is None or not text.strip():
        return None
    words = text.strip().replace("→", "-").replace(">", "-")
    if words in ORDINAL and words != STAGE_CODES[-1]:
        words = f"{words}-{STAGE_CODES[ORDINAL[words] + 1]}"
    if words not in STEPS:
        raise ValueError(f"not a step: {text!r}; one of {', '.join(STEPS)}")
    return words


def size_band(value: float | None, edges: Sequence[float]) -> int | None:
    """The index of the band holding ``value`` (lower edge ≤ value < next edge); a negative
    value (refunds beyond sales) is in the first band; None when the value is missing."""
    if value is None or not np.isfinite(value):
        return None
    return max(int(np.searchsorted(np.asarray(edges), value, side="right")) - 1, 0)


def band_edges(band: int | None, edges: Sequence[float]) -> tuple[float | None, float | None]:
    """The band's lower and upper edge (None above the last)."""
    if band is None:
        return None, None
    return float(edges[band]), float(edges[band + 1]) if band + 1 < len(edges) else None


def metric_kind(metric: str) -> Kind:
    """How an anonymous case shows ``metric``: shares rounded, money/counts/hours relative."""
    unit = unit_of(metric)
    if unit == "share":
        return "share"
    if unit in ("money", "count", "hours"):
        return "relative"
    if unit == "score":
        return "score"
    return "level"


def _finite(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def to_step(value: float | None, step: float) -> float | None:
    """``value`` rounded to a multiple of ``step``: ``round(value / step) × step``."""
    v = _finite(value)
    return None if v is None else round(round(v / step) * step, 6) + 0.0


def rounded(kind: str, value: float | None, first: float | None, step: float) -> float | None:
    """One number of an anonymous case, by its kind (the formulas of the module docstring)."""
    v = _finite(value)
    if v is None:
        return None
    if kind == "share":
        return round(v, 2) + 0.0
    if kind == "score":
        return float(round(v))
    if kind == "relative":
        base = _finite(first)
        if base is None or base <= 0:
            return None
        return to_step(v / base - 1, step)
    if kind == "level":
        return round(v, 1) + 0.0
    return v


def month_end(month: date) -> date:
    """The last day of ``month``'s month."""
    nxt = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt - timedelta(days=1)


def _month(d: date | datetime) -> date:
    return date(d.year, d.month, 1)


def step_months(case: Case | PublicCase) -> list[date]:
    """The months of the step, first to last."""
    out, m = [], case.start_period
    while m <= case.end_period:
        out.append(m)
        m = (m.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def provider_months(case: Case | PublicCase, spans: Iterable[tuple[date, date | None]]) -> int:
    """Months of the step that any of a provider's assignments ``(started_at, ended_at)``
    (``ended_at`` None: ongoing) overlaps."""
    spans = list(spans)
    return sum(
        1
        for m in step_months(case)
        if any(s <= month_end(m) and (e is None or e >= m) for s, e in spans)
    )


def case_actions(
    case: Case | PublicCase, items: Iterable[ActionFacts], capability_of: Mapping[str, str]
) -> tuple[CaseAction, ...]:
    """The actions taken during the step and whether each was done when it ended.

    An item is taken in its plan month (its creation month when it has none) and counts when
    that month is within the step; it is completed when its last status move up to the end of
    the step's last month is ``done`` (``completed_month``: the month of that move).
    """
    end = month_end(case.end_period)
    out = []
    for item in items:
        taken = item.period or item.created_at.date()
        taken = _month(taken)
        if not case.start_period <= taken <= case.end_period:
            continue
        status, when = None, None
        for at, to in item.moves:
            if at.date() <= end:
                status, when = to, at
        done = status == "done"
        out.append(
            CaseAction(
                action_id=item.action_id,
                capability=capability_of.get(item.action_id),
                taken=taken,
                completed=done,
                completed_month=_month(when) if done and when is not None else None,
            )
        )
    return tuple(sorted(out, key=lambda a: (a.taken, a.action_id)))


# -- the library -------------------------------------------------------------------------------
STEP_COLUMNS = (
    "brand_id",
    "category",
    "from_stage",
    "to_stage",
    "start_period",
    "end_period",
    "months",
    "censored",
)


def _dates(col: pd.Series) -> pd.Series:
    return pd.Series([d.date() for d in pd.to_datetime(col)], index=col.index, dtype=object)


def case_steps(stages: pd.DataFrame, ladder: LadderConfig) -> pd.DataFrame:
    """Every one-stage promotion of the stage history, as :func:`advancer_rows` finds them.

    Columns :data:`STEP_COLUMNS`: stages as codes, ``start_period`` the first month at the
    start stage, ``end_period`` the first month at the next, ``months`` the months at the start
    stage and ``censored`` whether it held it from its first judged month.
    """
    columns = ["brand_id", "category", "period", "stage"]
    if stages.empty or not set(columns) <= set(stages.columns):
        return pd.DataFrame(columns=list(STEP_COLUMNS))
    s = stages.loc[stages["stage"].isin(list(ORDINAL)), columns].copy()
    if s.empty:
        return pd.DataFrame(columns=list(STEP_COLUMNS))
    s["period"] = pd.to_datetime(s["period"])
    s["stage"] = s["stage"].map(ORDINAL).astype("int64")
    s = s.sort_values(["brand_id", "period"], kind="stable").reset_index(drop=True)
    adv = advancer_rows(s, ladder)
    codes = np.asarray(STAGE_CODES, dtype=object)
    return pd.DataFrame(
        {
            "brand_id": adv["brand_id"].astype(str),
            "category": adv["category"],
            "from_stage": codes[adv["from_stage"].to_numpy(dtype="int64")],
            "to_stage": codes[adv["to_stage"].to_numpy(dtype="int64")],
            "start_period": _dates(adv["entered_period"]),
            "end_period": _dates(adv["period"]),
            "months": adv["months_in_stage"].astype("int64"),
            "censored": adv["censored"].astype(bool),
        }
    )[list(STEP_COLUMNS)].reset_index(drop=True)


def _keyed(frame: pd.DataFrame, brands: set[str], columns: Sequence[str]) -> pd.DataFrame:
    """The rows of ``brands``, periods as dates; empty when the frame lacks ``columns`` (a
    table the warehouse does not hold yet)."""
    if frame.empty or not {"brand_id", "period", *columns} <= set(frame.columns):
        return pd.DataFrame(columns=["brand_id", "period", *columns])
    out = frame.loc[frame["brand_id"].astype(str).isin(brands)].copy()
    out["brand_id"] = out["brand_id"].astype(str)
    out["period"] = _dates(out["period"])
    return out


def _floats(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """``columns`` (those present) as float64: exact decimals from the warehouse included."""
    out = pd.DataFrame(index=frame.index)
    for c in columns:
        out[c] = (
            pd.to_numeric(frame[c].astype(object), errors="coerce").astype("float64")
            if c in frame.columns
            else np.nan
        )
    return out


def lever_of(score_change: Mapping[str, float | None]) -> str | None:
    """The capability with the largest rise (ties in the method's order); None if none rose."""
    best, best_rise = None, 0.0
    for cap in CAPABILITIES:
        rise = score_change.get(cap)
        if rise is not None and rise > best_rise:
            best, best_rise = cap, rise
    return best


def build_cases(
    source: CaseSource, ladder: LadderConfig, config: CasesConfig, secret: str
) -> tuple[Case, ...]:
    """Every case of the source's stage history, newest step first (then by case id)."""
    steps = case_steps(source.stages, ladder)
    if steps.empty:
        return ()
    brands = set(steps["brand_id"])
    stages = _keyed(source.stages, brands, ["stage"])
    stage_of = dict(
        zip(zip(stages["brand_id"], stages["period"], strict=True), stages["stage"], strict=True)
    )
    bm = _keyed(source.brand_month, brands, [])
    values = _floats(bm, ("net_gmv_t90d", *CASE_METRICS))
    keys = list(zip(bm["brand_id"], bm["period"], strict=True))
    month_rows = dict(zip(keys, values.to_dict("records"), strict=True))
    cap = _keyed(source.capability, brands, ["capability", "score"])
    cap = cap.drop_duplicates(["brand_id", "period", "capability"])
    cap_score = _floats(cap, ["score"])["score"]
    scores: dict[tuple[str, date], dict[str, float | None]] = {}
    for b, p, c, v in zip(
        cap["brand_id"], cap["period"], cap["capability"], cap_score, strict=True
    ):
        scores.setdefault((b, p), {})[str(c)] = _finite(v)
    every = source.capability
    sizes: dict[tuple[Any, date], int] = {}
    if len(every) and {"category", "period", "brand_id"} <= set(every.columns):
        counted = every.assign(period=_dates(every["period"]))
        sizes = counted.groupby(["category", "period"])["brand_id"].nunique().to_dict()
    bott = _keyed(source.bottleneck, brands, ["capability", "rank"])
    bott = bott.loc[pd.to_numeric(bott["rank"], errors="coerce") == 1]
    first_cap = dict(
        zip(zip(bott["brand_id"], bott["period"], strict=True), bott["capability"], strict=True)
    )
    names = {
        str(b): (None if pd.isna(n) else str(n))
        for b, n in zip(
            source.brands.get("brand_id", []), source.brands.get("name", []), strict=True
        )
    }
    out = []
    for row in steps.itertuples(index=False):
        b, start, end = str(row.brand_id), row.start_period, row.end_period
        months = sorted(p for (bb, p) in stage_of if bb == b and start <= p <= end)
        series = tuple(
            CaseMonth(
                period=p,
                stage=str(stage_of[(b, p)]),
                scores={c: scores.get((b, p), {}).get(c) for c in CAPABILITIES},
                metrics={m: _finite(month_rows.get((b, p), {}).get(m)) for m in CASE_METRICS},
            )
            for p in months
        )
        first, last = scores.get((b, start), {}), scores.get((b, end), {})
        change = {
            c: (last[c] - first[c])  # type: ignore[operator]
            if first.get(c) is not None and last.get(c) is not None
            else None
            for c in CAPABILITIES
        }
        size = _finite(month_rows.get((b, start), {}).get("net_gmv_t90d"))
        g0 = _finite(month_rows.get((b, start), {}).get("net_gmv"))
        g1 = _finite(month_rows.get((b, end), {}).get("net_gmv"))
        out.append(
            Case(
                case_id=case_id(secret, b, row.from_stage, row.to_stage, end),
                brand_id=b,
                name=names.get(b),
                category=str(row.category),
                from_stage=str(row.from_stage),
                to_stage=str(row.to_stage),
                start_period=start,
                end_period=end,
                months=int(row.months),
                censored=bool(row.censored),
                size_gmv=size,
                size_band=size_band(size, config.size_bands),
                bottleneck=(str(first_cap[(b, start)]) if (b, start) in first_cap else None),
                lever=lever_of(change),
                score_change=change,
                gmv_change=(g1 / g0 - 1) if g0 is not None and g0 > 0 and g1 is not None else None,
                category_brands=int(sizes.get((row.category, start), 0)),
                series=series,
            )
        )
    out.sort(key=lambda c: (-c.end_period.toordinal(), c.case_id))
    return tuple(out)


def withheld(case: Case, named: bool, min_category_brands: int) -> bool:
    """Whether the library leaves ``case`` out: anonymous in a category of fewer than
    ``min_category_brands`` brands in its first month."""
    return not named and case.category_brands < min_category_brands


def public_case(
    case: Case,
    *,
    named: bool,
    config: CasesConfig,
    providers: Sequence[CaseProvider] = (),
    actions: Sequence[CaseAction] = (),
) -> PublicCase:
    """``case`` as the library shows it: exact and named, or anonymous and rounded (module
    docstring). ``providers`` and ``actions`` come from the operational store."""
    low, high = band_edges(case.size_band, config.size_bands)
    step = config.relative_step
    kinds = {m: ("value" if named else metric_kind(m)) for m in CASE_METRICS}
    if named:
        series = case.series
        score_change = dict(case.score_change)
        gmv_change = case.gmv_change
    else:
        first = case.series[0].metrics if case.series else {}
        series = tuple(
            CaseMonth(
                period=m.period,
                stage=m.stage,
                scores={c: rounded("score", v, None, step) for c, v in m.scores.items()},
                metrics={k: rounded(kinds[k], v, first.get(k), step) for k, v in m.metrics.items()},
            )
            for m in case.series
        )
        score_change = {c: rounded("score", v, None, step) for c, v in case.score_change.items()}
        gmv_change = to_step(case.gmv_change, step)
    return PublicCase(
        case_id=case.case_id,
        named=named,
        brand_id=case.brand_id if named else None,
        name=case.name if named else None,
        category=case.category,
        step=case.step,
        from_stage=case.from_stage,
        to_stage=case.to_stage,
        start_period=case.start_period,
        end_period=case.end_period,
        months=case.months,
        censored=case.censored,
        size_band=case.size_band,
        band_low=low,
        band_high=high,
        size_gmv=case.size_gmv if named else None,
        bottleneck=case.bottleneck,
        lever=case.lever,
        score_change=score_change,
        gmv_change=gmv_change,
        kinds=kinds,
        series=series,
        providers=tuple(providers),
        actions=tuple(actions),
    )


def matches(
    case: PublicCase,
    *,
    category: str | None = None,
    step: str | None = None,
    capability: str | None = None,
) -> bool:
    """Whether ``case`` is found by a search: its category, its step (``from-to``), and a
    capability that is its lever or the bottleneck it started from (each filter optional)."""
    if category and case.category != category:
        return False
    if step and case.step != step:
        return False
    return not capability or capability in case.capabilities
