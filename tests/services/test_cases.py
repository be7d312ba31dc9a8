"""The case library's use cases on the diagnosed simulated market (a copy of the web tests' market,
with the demo users of every role).

Known answers: every number of every case is recomputed from the raw tables and the store by the
queries of :mod:`tests.case_library` (``STEPS_SQL``, ``METRICS_SQL``, ``SCORES_SQL``,
``BOTTLENECK_SQL``, ``ASSIGNMENTS_SQL``, ``ACTIONS_SQL``, ``MOVES_SQL``), and the rules of who
may name a brand: the brand itself or an admin, and no one else.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Iterator
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.case_library import copy_market, identities, no_identity, reproduce
from windmaker import store
from windmaker.api.deps import principal_for
from windmaker.cli.main import app
from windmaker.config import Settings
from windmaker.growth.cases import CAPABILITIES, STEPS, CaseSource, PublicCase
from windmaker.services import cases
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal, workspace_admin
from windmaker.views import ReadModel
from windmaker.views.cases import case_source
from windmaker.workspace import open_warehouse

ADMIN = workspace_admin("test-admin")


@pytest.fixture(scope="module")
def market(web_market: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The web market's copy, with a provider serving the first case's brand during part of
    its step, and three action items of that brand: done in the step, done after it, and taken
    after it (dates in the store are the ops data a person records)."""
    settings = copy_market(web_market, tmp_path_factory.mktemp("cases") / "ws")
    with open_warehouse(settings) as wh:
        assert "g_model_scores" not in wh.tables()  # no fitted models: m_capability is final
        rm = ReadModel.of(wh)
    source = case_source(rm)
    engine = store.engine_for(settings)
    with store.open_session(engine) as s:
        found = cases.list_cases(s, Configs.of(settings), ADMIN, source)
        assert found.total >= 1, "the diagnosed market has no step of the ladder"
        first = cases.library(s, Configs.of(settings), source)[0]
        provider = next(p for p in store.list_providers(s) if p.status == "admitted")
        store.add_assignment(
            s,
            provider_id=provider.provider_id,
            brand_id=first.brand_id,
            started_at=first.start_period + timedelta(days=10),
            ended_at=first.end_period - timedelta(days=1),
            actor="test",
        )
        done = store.create_action_item(
            s,
            brand_id=first.brand_id,
            action_id="zb_influencer_testing",
            owner="ops",
            actor="test",
            period=first.start_period,
        )
        store.set_action_status(s, item_id=done.id, status="done", actor="test")
        # The store stamps a move with the wall clock: put this one within the step.
        s.execute(
            text("UPDATE action_item_events SET at = :at WHERE item_id = :id AND kind = 'status'"),
            {
                "at": datetime.combine(first.start_period + timedelta(days=20), time(10)),
                "id": done.id,
            },
        )
        s.commit()
        open_item = store.create_action_item(
            s,
            brand_id=first.brand_id,
            action_id="zb_regular_live",
            owner="ops",
            actor="test",
            period=first.end_period,
        )
        store.create_action_item(
            s,
            brand_id=first.brand_id,
            action_id="later",
            owner="ops",
            actor="test",
            period=first.end_period + timedelta(days=62),
        )
        assert open_item.status == "open"
    engine.dispose()
    return settings


@pytest.fixture(scope="module")
def source(market: Settings) -> CaseSource:
    with open_warehouse(market) as wh:
        return case_source(ReadModel.of(wh))


@pytest.fixture
def session(market: Settings) -> Iterator[Session]:
    engine = store.engine_for(market)
    with store.open_session(engine) as s:
        yield s
    engine.dispose()


def user(session: Session, name: str) -> Principal:
    found = store.get_user_by_name(session, username=name)
    assert found is not None
    principal = principal_for(session, found.id)
    assert principal is not None
    return principal


def as_data(case: PublicCase) -> dict[str, object]:
    return dataclasses.asdict(case)


def _reproduce(case: PublicCase, market: Settings) -> None:
    configs = Configs.of(market)
    config = cases.cases_config(configs)
    reproduce(
        as_data(case),
        market,
        warmup=configs.ladder.hysteresis.warmup_periods,
        edges=config.size_bands,
        step=config.relative_step,
    )


def test_every_number_of_a_case_is_reproduced_by_the_named_queries(
    market: Settings, source: CaseSource, session: Session
) -> None:
    """Each case, anonymous and then named, against ``tests.case_library.reproduce``."""
    configs = Configs.of(market)
    found = cases.list_cases(session, configs, ADMIN, source)
    assert found.items and not any(c.named for c in found.items)
    for case in found.items:
        _reproduce(case, market)
    first = found.items[0]
    assert first.providers and first.providers[0].months >= 1
    assert [(a.action_id, a.completed) for a in first.actions] == [
        ("zb_influencer_testing", True),
        ("zb_regular_live", False),
    ]
    brands = {c.brand_id for c in cases.library(session, configs, source)}
    for brand in brands:
        cases.set_consent(session, ADMIN, source, brand, True, reason="test")
    try:
        named = cases.list_cases(session, configs, ADMIN, source)
        assert named.total == found.total and all(c.named for c in named.items)
        for case in named.items:
            _reproduce(case, market)
    finally:
        for brand in brands:
            cases.set_consent(session, ADMIN, source, brand, False, reason="test done")


def test_a_brand_is_named_only_once_it_consents(
    market: Settings, source: CaseSource, session: Session
) -> None:
    """As the brand role and the provider role: no id or name of a brand that has not
    consented in any case they read; the consenting brand's own, once it has."""
    configs = Configs.of(market)
    brands = identities(market)
    case = cases.library(session, configs, source)[0]
    for role in ("brand", "provider"):
        reader = user(session, role)
        text = repr(cases.list_cases(session, configs, reader, source).items)
        no_identity(text, brands, named=set())
        no_identity(
            repr(cases.get_case(session, configs, reader, source, case.case_id)), brands, set()
        )
    cases.set_consent(session, ADMIN, source, case.brand_id, True, reason="agreed")
    try:
        for role in ("brand", "provider"):
            reader = user(session, role)
            shown = cases.get_case(session, configs, reader, source, case.case_id)
            assert (shown.brand_id, shown.name) == (case.brand_id, brands[case.brand_id])
            text = repr(cases.list_cases(session, configs, reader, source).items)
            no_identity(text, brands, named={case.brand_id})
    finally:
        cases.set_consent(session, ADMIN, source, case.brand_id, False)
    lines = store.list_audit(session, subject_type="brand", subject_id=case.brand_id)
    consent_lines = [
        (x.action, x.detail["to"], x.reason) for x in lines if x.action == "consent.set"
    ]
    assert consent_lines[-2:] == [("consent.set", True, "agreed"), ("consent.set", False, "")]


def test_only_the_brand_itself_or_an_admin_gives_consent(
    source: CaseSource, session: Session
) -> None:
    brand_user = user(session, "brand")
    own = brand_user.brand_id
    assert own is not None
    other = next(b for b in source.brands["brand_id"] if b != own)
    record = cases.set_consent(session, brand_user, source, own, True, reason="we agree")
    assert (record.brand_id, record.consented, record.set_by) == (own, True, "brand")
    assert cases.consent(session, brand_user, source, own).consented
    cases.set_consent(session, brand_user, source, own, False)

    def refused(principal: Principal, brand: str) -> int:
        with pytest.raises(ServiceError) as err:
            cases.set_consent(session, principal, source, brand, True)
        return err.value.status

    assert refused(brand_user, other) == 404  # another brand is outside its scope
    assert refused(user(session, "operator"), own) == 403
    assert refused(user(session, "provider"), own) == 403
    assert refused(ADMIN, "NO-SUCH-BRAND") == 404
    assert not cases.consent(session, ADMIN, source, other).consented
    with pytest.raises(ServiceError, match="no brand"):
        cases.consent(session, brand_user, source, other)


def test_search_by_category_step_and_capability(
    market: Settings, source: CaseSource, session: Session
) -> None:
    configs = Configs.of(market)
    every = cases.list_cases(session, configs, ADMIN, source).items
    for category in {c.category for c in every} | {"no-such-category"}:
        got = cases.list_cases(session, configs, ADMIN, source, category=category).items
        assert [c.case_id for c in got] == [c.case_id for c in every if c.category == category]
    for step in STEPS:
        for spelling in (step, step.replace("-", "→"), step.split("-")[0]):
            got = cases.list_cases(session, configs, ADMIN, source, step=spelling).items
            assert [c.case_id for c in got] == [c.case_id for c in every if c.step == step]
    for cap in CAPABILITIES:
        got = cases.list_cases(session, configs, ADMIN, source, capability=cap).items
        want = [c.case_id for c in every if cap in (c.lever, c.bottleneck)]
        assert [c.case_id for c in got] == want
    page = cases.list_cases(session, configs, ADMIN, source, offset=0, limit=1)
    assert page.total == len(every) and len(page.items) == min(1, len(every))
    for bad in ({"step": "ska"}, {"capability": "charm"}):
        with pytest.raises(ServiceError) as err:
            cases.list_cases(session, configs, ADMIN, source, **bad)
        assert err.value.status == 422


def test_a_category_too_small_withholds_its_anonymous_cases(
    market: Settings, source: CaseSource, session: Session
) -> None:
    """With a threshold above every category's size, every anonymous case is withheld, and a
    withheld case is not found; a brand that consented is shown whatever the size."""
    configs = Configs.of(market)
    library = cases.library(session, configs, source)
    huge = 10**6
    hidden = cases.list_cases(session, configs, ADMIN, source, min_category_brands=huge)
    assert (hidden.total, hidden.withheld) == (0, len(library))
    with pytest.raises(ServiceError) as err:
        cases.get_case(
            session, configs, ADMIN, source, library[0].case_id, min_category_brands=huge
        )
    assert err.value.status == 404
    cases.set_consent(session, ADMIN, source, library[0].brand_id, True)
    try:
        shown = cases.list_cases(session, configs, ADMIN, source, min_category_brands=huge)
        assert [c.brand_id for c in shown.items] == [library[0].brand_id] * len(shown.items)
        assert shown.total >= 1
    finally:
        cases.set_consent(session, ADMIN, source, library[0].brand_id, False)


def test_a_playbook_binds_the_category_s_cases(
    market: Settings, source: CaseSource, session: Session
) -> None:
    """The playbook's medians and tallies, recomputed from the cases the library lists."""
    configs = Configs.of(market)
    every = cases.list_cases(session, configs, ADMIN, source).items
    category = every[0].category
    book = cases.playbook(session, configs, ADMIN, source, category)
    mine = [c for c in every if c.category == category]
    assert book.cases == len(mine) and book.withheld == 0
    for step in book.steps:
        of_step = [c for c in mine if c.step == step.step]
        assert [c.case_id for c in step.cases] == [c.case_id for c in of_step]
        assert step.median_months == statistics.median(c.months for c in of_step)
        for cap in CAPABILITIES:
            values = [c.score_change[cap] for c in of_step if c.score_change[cap] is not None]
            assert step.score_change[cap] == (statistics.median(values) if values else None)
        assert dict(step.levers) == {
            cap: n for cap in CAPABILITIES if (n := sum(c.lever == cap for c in of_step))
        }
        assert [m.capability for m in step.method] == sorted(
            (cap for cap in CAPABILITIES if (step.score_change[cap] or 0) > 0),
            key=lambda cap: -(step.score_change[cap] or 0),
        )
    with pytest.raises(ServiceError) as err:
        cases.playbook(session, configs, ADMIN, source, "no-such-category")
    assert err.value.status == 404


def test_the_case_key_is_made_once_and_kept(market: Settings) -> None:
    engine = store.engine_for(market)
    from windmaker.store import consents

    with store.open_session(engine) as s:
        first = consents.case_key(s)
    with store.open_session(engine) as s:
        assert consents.case_key(s) == first and len(first) == 64
    engine.dispose()


def test_the_cli_lists_shows_and_records_consent(
    market: Settings, source: CaseSource, session: Session
) -> None:
    """``windmaker cases``: the JSON it prints is the service's, and a consent it records is in
    the audit log under ``--actor``."""
    runner = CliRunner()
    ws = ["-w", str(market.workspace)]
    listed = runner.invoke(app, ["cases", "list", "--json", *ws])
    assert listed.exit_code == 0, listed.output
    body = json.loads(listed.output)
    expected = cases.list_cases(session, Configs.of(market), ADMIN, source)
    assert [c["case_id"] for c in body["items"]] == [c.case_id for c in expected.items]
    first = expected.items[0]
    shown = runner.invoke(app, ["cases", "show", first.case_id, "--lang", "en", *ws])
    assert shown.exit_code == 0 and first.case_id in shown.output, shown.output
    missing = runner.invoke(app, ["cases", "show", "C0000000000", *ws])
    assert missing.exit_code == 3
    brand = cases.library(session, Configs.of(market), source)[0].brand_id
    given = runner.invoke(
        app, ["cases", "consent", brand, "--yes", "--actor", "olga", "--reason", "signed", *ws]
    )
    assert given.exit_code == 0, given.output
    try:
        named = json.loads(runner.invoke(app, ["cases", "list", "--json", *ws]).output)
        assert brand in {c["brand_id"] for c in named["items"]}
    finally:
        runner.invoke(app, ["cases", "consent", brand, "--no", "--actor", "olga", *ws])
    session.expire_all()
    lines = store.list_audit(session, subject_type="brand", subject_id=brand, actor="olga")
    assert [(x.detail["to"], x.reason) for x in lines][-2:] == [(True, "signed"), (False, "")]
