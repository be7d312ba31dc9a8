"""The case library (方法论复制) as use cases: read and search cases, set a brand's consent to be
named, and bind a category's cases into its playbook.

Everyone reads the library (admins, operators, providers and brands alike), and everyone reads
it the same way: a brand that consented is named with its exact numbers, any other brand's case
is anonymous and rounded, and withheld in a category too small to stay anonymous
(:mod:`windmaker.growth.cases`). Consent is the brand's own to give (its brand user) or an
admin's, and every change is in the audit log.

The cases are written from a :class:`~windmaker.growth.cases.CaseSource`, one snapshot of the
result tables the adapters take from the read model, once per snapshot; what the operational
store adds (consents, the providers assigned during each step, the actions taken) is read on
every call, so a consent given shows at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from windmaker import store
from windmaker.growth.case_playbook import CategoryPlaybook, action_capabilities, category_playbook
from windmaker.growth.cases import (
    CAPABILITIES,
    ActionFacts,
    Case,
    CaseAction,
    CaseProvider,
    CasesConfig,
    CaseSource,
    PublicCase,
    build_cases,
    case_actions,
    load_cases_config,
    matches,
    parse_step,
    provider_months,
    public_case,
    withheld,
)
from windmaker.services.configs import Configs
from windmaker.services.errors import forbidden, invalid, not_found
from windmaker.services.identity import Principal
from windmaker.store import consents as consent_store
from windmaker.store.actions import list_action_item_events

#: Smallest category whose anonymous cases are shown, when the caller does not say
#: (``Settings.privacy_min_category_brands``).
MIN_CATEGORY_BRANDS = 5


@dataclass(frozen=True)
class CaseList:
    """A page of the library: the cases found, how many in all, and how many anonymous cases
    of too small a category were left out of the whole library."""

    items: list[PublicCase]
    total: int
    withheld: int


@dataclass(frozen=True)
class ConsentRecord:
    """Whether a brand lets its cases name it; who set it, and when (None: never set)."""

    brand_id: str
    consented: bool
    set_by: str | None = None
    set_at: datetime | None = None


def cases_config(configs: Configs) -> CasesConfig:
    """The workspace's ``cases.yaml`` (the shipped one when it has none)."""
    return load_cases_config(configs.folder)


def library(session: Session, configs: Configs, source: CaseSource) -> tuple[Case, ...]:
    """Every case of ``source`` with exact numbers, written once per source and settings."""
    secret = consent_store.case_key(session)
    config = cases_config(configs)
    ladder = configs.ladder
    key = ("cases", secret, config.model_dump_json(), ladder.hysteresis.model_dump_json())
    cases: tuple[Case, ...] = source.memo(key, lambda: build_cases(source, ladder, config, secret))
    return cases


def _ops(
    session: Session, cases: Sequence[Case], configs: Configs
) -> tuple[dict[str, tuple[CaseProvider, ...]], dict[str, tuple[CaseAction, ...]]]:
    """Per case id the providers assigned during the step and the actions taken in it."""
    brands = {c.brand_id for c in cases}
    if not brands:
        return {}, {}
    assignments = [a for a in store.list_assignments(session) if a.brand_id in brands]
    registry = {p.provider_id: p for p in store.list_providers(session)}
    items = [i for i in store.list_action_items(session) if i.brand_id in brands]
    moves: dict[int, list[tuple[datetime, str]]] = {i.id: [] for i in items}
    for e in list_action_item_events(session, item_ids=moves):
        if e.to_status:
            moves[e.item_id].append((e.at, e.to_status))
    facts: dict[str, list[ActionFacts]] = {}
    for i in items:
        facts.setdefault(i.brand_id, []).append(
            ActionFacts(i.action_id, i.period, i.created_at, tuple(moves[i.id]))
        )
    capability_of = action_capabilities(configs.playbook)
    spans: dict[str, dict[str, list[tuple[date, date | None]]]] = {}
    for a in assignments:
        spans.setdefault(a.brand_id, {}).setdefault(a.provider_id, []).append(
            (a.started_at, a.ended_at)
        )
    providers: dict[str, tuple[CaseProvider, ...]] = {}
    actions: dict[str, tuple[CaseAction, ...]] = {}
    for case in cases:
        served = {
            pid: n
            for pid, windows in spans.get(case.brand_id, {}).items()
            if (n := provider_months(case, windows))
        }
        providers[case.case_id] = tuple(
            CaseProvider(
                provider_id=pid,
                name=registry[pid].name if pid in registry else pid,
                kind=registry[pid].kind if pid in registry else "",
                months=n,
            )
            for pid, n in sorted(served.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        actions[case.case_id] = case_actions(case, facts.get(case.brand_id, []), capability_of)
    return providers, actions


def _shown(
    session: Session, configs: Configs, source: CaseSource, min_category_brands: int
) -> tuple[list[PublicCase], int]:
    """The library as everyone reads it, and how many cases it withholds."""
    cases = library(session, configs, source)
    named = consent_store.consenting_brands(session, brand_ids={c.brand_id for c in cases})
    shown = [c for c in cases if not withheld(c, c.brand_id in named, min_category_brands)]
    providers, actions = _ops(session, shown, configs)
    config = cases_config(configs)
    public = [
        public_case(
            c,
            named=c.brand_id in named,
            config=config,
            providers=providers.get(c.case_id, ()),
            actions=actions.get(c.case_id, ()),
        )
        for c in shown
    ]
    return public, len(cases) - len(shown)


def _filters(step: str | None, capability: str | None) -> str | None:
    try:
        parsed = parse_step(step)
    except ValueError as exc:
        raise invalid("step", str(exc)) from None
    if capability and capability not in CAPABILITIES:
        raise invalid("capability", f"one of {', '.join(CAPABILITIES)}")
    return parsed


def list_cases(
    session: Session,
    configs: Configs,
    user: Principal,
    source: CaseSource,
    *,
    category: str | None = None,
    step: str | None = None,
    capability: str | None = None,
    min_category_brands: int = MIN_CATEGORY_BRANDS,
    offset: int = 0,
    limit: int | None = None,
) -> CaseList:
    """The cases found by category, step (``from-to``, ``from→to`` or the start stage) and
    capability (a case's lever or starting bottleneck), newest step first; the same for every
    ``user``."""
    parsed = _filters(step, capability)
    public, n_withheld = _shown(session, configs, source, min_category_brands)
    found = [c for c in public if matches(c, category=category, step=parsed, capability=capability)]
    end = None if limit is None else offset + limit
    return CaseList(items=found[offset:end], total=len(found), withheld=n_withheld)


def get_case(
    session: Session,
    configs: Configs,
    user: Principal,
    source: CaseSource,
    case_id: str,
    *,
    min_category_brands: int = MIN_CATEGORY_BRANDS,
) -> PublicCase:
    """One case by id; a withheld case is not found, like one that does not exist."""
    public, _ = _shown(session, configs, source, min_category_brands)
    for c in public:
        if c.case_id == case_id:
            return c
    raise not_found(f"no case {case_id!r}")


def playbook(
    session: Session,
    configs: Configs,
    user: Principal,
    source: CaseSource,
    category: str,
    *,
    min_category_brands: int = MIN_CATEGORY_BRANDS,
) -> CategoryPlaybook:
    """The playbook of one category: its steps' method with the cases behind it. A category
    no brand is in is not found; one without cases has a playbook without steps."""
    categories = set(source.brands.get("category", []))
    if category not in categories:
        raise not_found(f"no category {category!r}")
    cases = library(session, configs, source)
    named = consent_store.consenting_brands(session, brand_ids={c.brand_id for c in cases})
    held = sum(
        1
        for c in cases
        if c.category == category and withheld(c, c.brand_id in named, min_category_brands)
    )
    public, _ = _shown(session, configs, source, min_category_brands)
    return category_playbook(category, public, configs.playbook, withheld=held)


def _brand_known(source: CaseSource, brand_id: str) -> bool:
    return brand_id in {str(b) for b in source.brands.get("brand_id", [])}


def consent(session: Session, user: Principal, source: CaseSource, brand_id: str) -> ConsentRecord:
    """A brand's consent, for whoever sees the brand (outside the scope: not found)."""
    if not user.sees_brand(brand_id) or not _brand_known(source, brand_id):
        raise not_found(f"no brand {brand_id!r}")
    row = consent_store.get_consent(session, brand_id=brand_id)
    if row is None:
        return ConsentRecord(brand_id=brand_id, consented=False)
    return ConsentRecord(brand_id, bool(row.consented), row.set_by, row.set_at)


def set_consent(
    session: Session,
    user: Principal,
    source: CaseSource,
    brand_id: str,
    consented: bool,
    *,
    reason: str = "",
) -> ConsentRecord:
    """Let (or stop letting) the case library name ``brand_id``: its own brand user or an admin.

    A brand user naming another brand finds it not found (outside its scope); operators and
    providers may never decide for a brand (403). Audited with who and why.
    """
    if user.role == "brand":
        if user.brand_id != brand_id:
            raise not_found(f"no brand {brand_id!r}")
    elif user.role != "admin":
        raise forbidden()
    if not _brand_known(source, brand_id):
        raise not_found(f"no brand {brand_id!r}")
    row = consent_store.set_consent(
        session, brand_id=brand_id, consented=consented, actor=user.username, reason=reason
    )
    return ConsentRecord(brand_id, bool(row.consented), row.set_by, row.set_at)
