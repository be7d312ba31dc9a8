"""The provider workflow as one set of use cases: every rule decided once, the same from the CLI,
the API and the web.

Known answers: admission outcomes follow the shipped ``ecosystem.yaml`` standard (a large, long
established agency is admitted, a two-person shop with ¥10,000 served is rejected); the
evaluation and the matching run on ``planted_market``, whose providers lift their clients'
growth by planted rates (+5% and −6% a month), so the ranking of their scores is known.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import yaml
from sqlalchemy.orm import Session

from tests.ecosystem.conftest import month, planted_market
from windmaker import store
from windmaker.config import Settings
from windmaker.ecosystem.admission import ProviderApplication
from windmaker.services import providers
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal, workspace_admin
from windmaker.workspace import open_warehouse

#: Third-party deprecations raised inside ibis' DuckDB backend (not windmaker code).
pytestmark = [
    pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'future.infer_string':DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]

ADMIN = workspace_admin("alice")
OPERATOR = Principal(2, "olga", "operator", frozenset({"B1"}))
BRAND = Principal(4, "bert", "brand", frozenset({"B1"}), brand_id="B1")


def provider_user(provider_id: str) -> Principal:
    return Principal(3, f"user-{provider_id}", "provider", frozenset(), provider_id=provider_id)


STRONG = ProviderApplication(
    provider_id="NEW1",
    name="启航运营",
    kind="brand_operation",
    capabilities=("self_operation", "traffic"),
    categories=("beauty",),
    team_size=30,
    gmv_served_12m=Decimal("90000000"),
    capacity=8,
    cases=("a", "b", "c"),
    founded_at=date(2019, 3, 1),
)
WEAK = replace(
    STRONG,
    provider_id="NEW2",
    name="小作坊",
    kind="traffic_agency",
    capabilities=("traffic",),
    categories=("food",),
    team_size=2,
    gmv_served_12m=Decimal("10000"),
    capacity=1,
    cases=(),
    founded_at=None,
)


@pytest.fixture
def session(workspace: Settings) -> Iterator[Session]:
    engine = store.engine_for(workspace)
    store.upgrade(engine)
    with store.open_session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture
def configs(workspace: Settings) -> Configs:
    return Configs.of(workspace)


def refused(status: int, code: str) -> pytest.RaisesExc[ServiceError]:
    return pytest.raises(ServiceError, check=lambda e: (e.status, e.code) == (status, code))


# -- admission ---------------------------------------------------------------------------------
def test_apply_scores_against_the_standard_and_queues(session: Session, configs: Configs) -> None:
    strong = providers.apply(session, configs, ADMIN, STRONG)
    weak = providers.apply(session, configs, ADMIN, WEAK)
    assert strong.proposal.proposed_outcome == "admitted" and strong.below_standard == ()
    assert weak.proposal.proposed_outcome == "rejected"
    assert {"team_size", "gmv_served_12m"} <= set(weak.below_standard)
    queue = providers.applications(session, ADMIN)
    assert [r.application.provider_id for r in queue] == ["NEW1", "NEW2"]
    assert providers.provider(session, ADMIN, "NEW1").status == "applicant"


def test_apply_refuses_invalid_input(session: Session, configs: Configs) -> None:
    with refused(422, "validation") as caught:
        providers.apply(session, configs, ADMIN, replace(STRONG, provider_id="no spaces"))
    assert caught.value.detail[0]["loc"] == ["provider_id"]
    assert store.list_providers(session) == []


def test_who_may_apply(session: Session, configs: Configs) -> None:
    """Providers file for themselves only (another id is out of scope); operators and brands
    never file."""
    with refused(403, "forbidden"):
        providers.apply(session, configs, OPERATOR, STRONG)
    with refused(403, "forbidden"):
        providers.apply(session, configs, BRAND, STRONG)
    with refused(404, "not_found"):
        providers.apply(session, configs, provider_user("OTHER"), STRONG)
    filed = providers.apply(session, configs, provider_user("NEW1"), STRONG)
    assert filed.application.provider_id == "NEW1"


def _standing(session: Session, configs: Configs, status: str) -> None:
    first = providers.apply(session, configs, ADMIN, STRONG)
    providers.decide(session, ADMIN, first.application.id, decision="admitted")
    store.upsert_provider(
        session,
        provider_id="NEW1",
        name=STRONG.name,
        kind=STRONG.kind,
        capabilities=STRONG.capabilities,
        categories=STRONG.categories,
        capacity=STRONG.capacity,
        status=status,
        actor="test",
    )


@pytest.mark.parametrize("status", ["admitted", "probation", "warned", "exited"])
def test_a_provider_in_standing_does_not_reapply(
    session: Session, configs: Configs, status: str
) -> None:
    _standing(session, configs, status)
    with refused(409, "conflict") as caught:
        providers.apply(session, configs, provider_user("NEW1"), replace(STRONG, capacity=99))
    assert f"already {status}" in str(caught.value)
    assert providers.provider(session, ADMIN, "NEW1").capacity == STRONG.capacity
    assert len(store.list_decisions(session, kind="admission")) == 1


def test_an_admin_may_refile_for_a_provider_in_standing(session: Session, configs: Configs) -> None:
    """The refiled profile is reviewed like any application; the provider keeps its status."""
    _standing(session, configs, "admitted")
    refiled = providers.apply(session, configs, ADMIN, replace(STRONG, capacity=12))
    assert refiled.application.status == "pending"
    now = providers.provider(session, ADMIN, "NEW1")
    assert (now.status, now.capacity) == ("admitted", 12)


def test_a_rejected_provider_may_apply_again(session: Session, configs: Configs) -> None:
    first = providers.apply(session, configs, ADMIN, WEAK)
    providers.decide(session, ADMIN, first.application.id, decision="rejected")
    assert providers.provider(session, ADMIN, "NEW2").status == "rejected"
    again = providers.apply(session, configs, provider_user("NEW2"), replace(WEAK, team_size=40))
    assert again.application.id != first.application.id
    assert again.application.status == "pending"


def test_application_scope(session: Session, configs: Configs) -> None:
    """A provider sees its own applications only, a brand none; out of scope is not found."""
    a1 = providers.apply(session, configs, ADMIN, STRONG)
    providers.apply(session, configs, ADMIN, WEAK)
    mine = providers.applications(session, provider_user("NEW1"))
    assert [r.application.provider_id for r in mine] == ["NEW1"]
    assert providers.applications(session, BRAND) == []
    assert len(providers.applications(session, OPERATOR)) == 2
    assert providers.application(session, provider_user("NEW1"), a1.application.id)
    with refused(404, "not_found"):
        providers.application(session, provider_user("NEW2"), a1.application.id)
    with refused(404, "not_found"):
        providers.application(session, BRAND, a1.application.id)
    with refused(404, "not_found"):
        providers.application(session, ADMIN, 999)


def test_decide_admin_only_once(session: Session, configs: Configs) -> None:
    filed = providers.apply(session, configs, ADMIN, STRONG)
    app_id = filed.application.id
    with refused(403, "forbidden"):
        providers.decide(session, OPERATOR, app_id, decision="admitted")
    with refused(403, "forbidden"):
        providers.decide(session, provider_user("NEW1"), app_id, decision="admitted")
    with refused(422, "validation"):
        providers.decide(session, ADMIN, app_id, decision="maybe")
    taken = providers.decide(session, ADMIN, app_id, decision="probation", note="new team")
    assert (taken.outcome, taken.reviewer, taken.status) == ("probation", "alice", "overridden")
    assert providers.provider(session, ADMIN, "NEW1").status == "probation"
    with refused(409, "conflict") as caught:
        providers.decide(session, ADMIN, app_id, decision="rejected")
    assert "already decided" in str(caught.value)


# -- warnings and exits ------------------------------------------------------------------------
def test_confirm_exit_and_decision_scope(session: Session, configs: Configs) -> None:
    for app in (STRONG, WEAK):
        filed = providers.apply(session, configs, ADMIN, app)
        providers.decide(session, ADMIN, filed.application.id, decision="admitted")
    exit_ = store.propose_decision(
        session,
        provider_id="NEW2",
        kind="exit",
        proposed_outcome="exited",
        reasons=[{"message": "fraud"}],
        period=date(2026, 10, 1),
    )
    assert [d.provider_id for d in providers.decisions(session, provider_user("NEW1"))] == ["NEW1"]
    assert providers.decisions(session, BRAND) == []
    assert {d.kind for d in providers.decisions(session, OPERATOR)} == {"admission", "exit"}
    with refused(403, "forbidden"):
        providers.confirm_exit(session, OPERATOR, exit_.id)
    with refused(404, "not_found"):
        providers.confirm_exit(session, ADMIN, 999)
    done = providers.confirm_exit(session, ADMIN, exit_.id, note="checked")
    assert (done.outcome, done.reviewer) == ("exited", "alice")
    assert providers.provider(session, ADMIN, "NEW2").status == "exited"
    with refused(409, "conflict"):
        providers.confirm_exit(session, ADMIN, exit_.id)


# -- import, evaluation, matching, tiers -------------------------------------------------------
def _planted(workspace: Settings) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    bm, asg = planted_market(provider_effects={"PA": 0.05, "PB": -0.06})
    frame = pd.DataFrame(
        {
            "provider_id": ["PA", "PB"],
            "name": ["A", "B"],
            "kind": ["brand_operation", "traffic_agency"],
            "capabilities": ["self_operation,traffic", "traffic"],
            "categories": ["beauty", "beauty"],
            "capacity": [10, 10],
            "team_size": [30, 10],
            "gmv_served_12m": ["1500000000.00", "1000.00"],
            "founded_at": pd.to_datetime(["2018-01-01", None]),
        }
    )
    with open_warehouse(workspace) as wh:
        wh.write("m_brand_month", pa.Table.from_pandas(bm, preserve_index=False))
    return bm, asg, frame


def test_load_is_admin_only_and_idempotent(workspace: Settings, session: Session) -> None:
    _, asg, frame = _planted(workspace)
    with refused(403, "forbidden"):
        providers.load(session, OPERATOR, frame, asg)
    first = providers.load(session, ADMIN, frame, asg)
    assert (first.providers, first.new_providers, first.new_assignments) == (2, 2, len(asg))
    again = providers.load(session, ADMIN, frame, asg)
    assert (again.new_providers, again.new_assignments) == (0, 0)
    assert {p.status for p in providers.providers_in_scope(session, ADMIN)} == {"admitted"}


def test_evaluate_ranks_the_planted_effects(
    workspace: Settings, session: Session, configs: Configs
) -> None:
    """PA lifts its clients by +5%/month, PB drags them by −6%: PA scores above PB, and PB is
    below the standard."""
    _, asg, frame = _planted(workspace)
    providers.load(session, ADMIN, frame, asg)
    with open_warehouse(workspace) as wh:
        with refused(403, "forbidden"):
            providers.evaluate(session, wh, configs, OPERATOR, month(11))
        run = providers.evaluate(session, wh, configs, ADMIN, month(11))
    scores = {e.provider_id: e for e in run.evaluations}
    assert scores["PA"].score > scores["PB"].score
    assert scores["PA"].meets_standard and not scores["PB"].meets_standard
    stored = providers.evaluations(session, provider_user("PA"), "PA")
    assert [e.period for e in stored] == [month(11)]
    with refused(404, "not_found"):
        providers.evaluations(session, provider_user("PA"), "PB")


def test_evaluation_and_proposal_reasons_are_stored_as_codes_and_read_in_both_languages(
    workspace: Settings, session: Session, configs: Configs
) -> None:
    """PB drags its clients by −6%/month (planted), below the −2% standard on client uplift, and
    the shipped exit rule warns after one period below. The store keeps codes with their numbers,
    no text; each surface reads them in its language, naming the metric, not its code."""
    from windmaker.api.routers.providers import EvaluationPublic

    _, asg, frame = _planted(workspace)
    providers.load(session, ADMIN, frame, asg)
    with open_warehouse(workspace) as wh:
        providers.evaluate(session, wh, configs, ADMIN, month(11))
    (pb,) = providers.evaluations(session, ADMIN, "PB")
    assert pb.reasons and all("code" in r and "message" not in r for r in pb.reasons)
    (failed,) = [r for r in pb.reasons if not r["ok"]]
    assert (failed["code"], failed["params"]["metric"]["code"]) == (
        "evaluation.below_min",
        "client_uplift",
    )
    zh, en = providers.reason_line(failed, "zh-CN"), providers.reason_line(failed, "en")
    assert zh.startswith("客户增长超额 ") and "< 标准 -0.02" in zh
    assert en.startswith("Client growth above peers ") and "< standard -0.02" in en
    api = EvaluationPublic.model_validate(pb).model_dump()
    api_failed = next(r for r in api["reasons"] if r["criterion"] == "client_uplift")
    assert (api_failed["message_zh"], api_failed["message"]) == (zh, en)
    assert api_failed["code"] == "evaluation.below_min" and api_failed["ok"] is False

    (warning,) = providers.decisions(session, ADMIN, kind="warning")
    assert warning.provider_id == "PB"
    assert [r["code"] for r in warning.reasons] == ["exit.warning"]
    assert warning.reasons[0]["params"] == {"n": 1, "after": 1}
    assert providers.reason_line(warning.reasons[0], "zh-CN") == "连续 1 期未达标（1 期警告）"
    audit = [e.reason for e in store.list_audit(session, subject_id="PB")]
    assert "below standard 1 period(s) in a row (warning after 1)" in audit


def test_reasons_stored_as_text_still_read(session: Session, configs: Configs) -> None:
    """Rows written before reasons were codes keep their text: each language reads its own,
    and a row with English only reads English everywhere."""
    from windmaker.api.routers.providers import DecisionPublic

    providers.apply(session, configs, ADMIN, STRONG)
    old = store.propose_decision(
        session,
        provider_id="NEW1",
        kind="warning",
        proposed_outcome="warned",
        reasons=[
            {
                "criterion": "consecutive_below",
                "message": "below twice",
                "message_zh": "两期未达标",
            },
            {"criterion": "note", "message": "checked by hand"},
        ],
        period=date(2026, 10, 1),
    )
    (record,) = providers.decisions(session, ADMIN, kind="warning")
    assert record.id == old.id
    both, english = record.reasons
    assert providers.reason_line(both, "zh-CN") == "两期未达标"
    assert providers.reason_line(both, "en") == "below twice"
    assert providers.reason_line(english, "zh-CN") == "checked by hand"
    api = DecisionPublic.model_validate(record).model_dump()
    assert [(r["message"], r["message_zh"]) for r in api["reasons"]] == [
        ("below twice", "两期未达标"),
        ("checked by hand", "checked by hand"),
    ]


def test_evaluate_without_metrics_is_refused(
    workspace: Settings, session: Session, configs: Configs
) -> None:
    with open_warehouse(workspace) as wh, refused(409, "no_data"):
        providers.evaluate(session, wh, configs, ADMIN, month(11))
    assert store.list_evaluations(session) == []


def test_match_fills_free_capacity_with_unserved_brands(
    workspace: Settings, session: Session, configs: Configs
) -> None:
    """Each provider has capacity 10 and 4 clients: PA, whose clients grow +5%/month, fills its
    6 free places; nobody takes more than 6, no brand already served is matched, and recording
    makes the matches assignments."""
    bm, asg, frame = _planted(workspace)
    providers.load(session, ADMIN, frame, asg)
    with open_warehouse(workspace) as wh:
        with refused(409, "no_data"):
            providers.match(session, wh, configs, ADMIN)
        needs = bm[bm["period"] == month(11)][["brand_id", "category", "period"]].copy()
        needs["capability"] = "traffic"
        needs["rank"] = 1
        wh.write("g_bottleneck", pa.Table.from_pandas(needs, preserve_index=False))
        with refused(403, "forbidden"):
            providers.match(session, wh, configs, OPERATOR)
        run = providers.match(session, wh, configs, ADMIN, record=True, today=date(2026, 11, 1))
    assert run.period == month(11)
    taken = run.matches.groupby("provider_id").size()
    assert taken["PA"] == 6 and taken.max() <= 6
    assert run.recorded == len(run.matches)
    assert not set(run.matches["brand_id"]) & set(asg["brand_id"])
    assert len(store.list_assignments(session)) == len(asg) + len(run.matches)


def test_tiers_scope(workspace: Settings, session: Session, configs: Configs) -> None:
    """PA declares ¥1.5bn served (the ¥1bn tier), PB ¥1,000: the counts are everyone's, the
    standings a provider's own, a brand's none."""
    _, asg, frame = _planted(workspace)
    providers.load(session, ADMIN, frame, asg)
    board = providers.tiers(session, configs, ADMIN)
    top = max(board.tiers, key=lambda c: c.threshold)
    assert top.threshold == 1_000_000_000 and top.at_or_above == 1
    assert {s.provider_id for s in board.standings} == {"PA", "PB"}
    mine = providers.tiers(session, configs, provider_user("PB"))
    assert mine.tiers == board.tiers
    assert [s.provider_id for s in mine.standings] == ["PB"]
    assert all(s.provider_id == "PB" for v in mine.closest.values() for s in v)
    none = providers.tiers(session, configs, BRAND)
    assert none.standings == () and none.closest == {}


# -- one rule on every surface -----------------------------------------------------------------
def test_reapplication_is_refused_alike_by_the_cli_and_the_api(
    workspace: Settings, tmp_path: Path
) -> None:
    """P1 is admitted: its re-application is refused alike by ``windmaker providers apply``
    (which files as the applying provider) and by ``POST /applications`` as P1's user, with the
    same conflict, and nothing is filed."""
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from tests.api.factories import PASSWORD, write_market
    from windmaker.api.app import create_app
    from windmaker.cli.main import app as cli

    write_market(workspace)
    body = {
        "provider_id": "P1",
        "name": "Provider One",
        "kind": "brand_operation",
        "capabilities": ["traffic"],
        "categories": ["beauty"],
        "team_size": 12,
        "gmv_served_12m": "30000000.00",
        "capacity": 5,
    }
    file = tmp_path / "p1.yaml"
    file.write_text(yaml.safe_dump(body), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["providers", "apply", str(file), "--workspace", str(workspace.workspace)]
    )
    assert result.exit_code == 3, result.output
    assert "already admitted" in result.output
    with TestClient(create_app(workspace)) as client:
        login = client.post("/api/v1/auth/login", json={"username": "p1", "password": PASSWORD})
        token = login.json()["access_token"]
        r = client.post(
            "/api/v1/applications", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "conflict"
        assert "already admitted" in r.json()["error"]["message"]
    with store.open_session(store.engine_for(workspace)) as s:
        assert store.review_queue(s) == []
        assert store.get_provider(s, provider_id="P1").capacity == 10


def test_the_web_forms_apply_the_same_rules(workspace: Settings) -> None:
    """The dashboard's forms call the same use cases: P1's re-application is the same conflict,
    a new provider's application is filed and decided, and a brand user does not assign."""
    from fastapi.testclient import TestClient

    from tests.api.factories import PASSWORD, write_market
    from tests.web.conftest import web_login
    from windmaker.api.app import create_app

    write_market(workspace)
    form = {
        "name": "Provider",
        "kind": "brand_operation",
        "capabilities": ["traffic"],
        "categories": "beauty，food",
        "team_size": "30",
        "gmv_served_12m": "90000000",
        "capacity": "8",
    }
    with TestClient(create_app(workspace)) as web:
        web_login(web, "p1", PASSWORD)
        r = web.post("/applications", data=form | {"provider_id": "P1"}, follow_redirects=False)
        assert r.status_code == 409 and "P1" in r.text
        web_login(web, "admin", PASSWORD)
        r = web.post("/applications", data=form | {"provider_id": "N9"}, follow_redirects=False)
        assert r.status_code == 303, r.text
        page = r.headers["location"]
        app_id = int(page.rsplit("/", 1)[1])
        r = web.post(f"{page}/decide", data={"decision": "maybe"}, follow_redirects=False)
        assert r.status_code == 422
        r = web.post(f"{page}/decide", data={"decision": "probation"}, follow_redirects=False)
        assert r.status_code == 303 and web.get(page).status_code == 200
        for username, brand, expected in (("admin", "B1", 303), ("b2", "B2", 403)):
            web_login(web, username, PASSWORD)
            r = web.post(
                f"/brands/{brand}/assign",
                data={"action_id": "act_0", "owner": username},
                follow_redirects=False,
            )
            assert r.status_code == expected
    with store.open_session(store.engine_for(workspace)) as s:
        n9 = store.get_provider(s, provider_id="N9")
        assert (n9.status, n9.categories) == ("probation", ["beauty", "food"])
        assert store.get_application(s, application_id=app_id).status == "decided"
        assert len(store.list_action_items(s, brand_id="B1")) == 1
        assert store.list_action_items(s, brand_id="B2") == []
