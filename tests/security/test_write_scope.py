"""Writes scoped like reads (issue finding High 2): an operator writes only its portfolio.

The market of ``tests/api/factories.py`` gives the operator ``op`` the brands B1 and B3. The
audit's attacks are replayed through the ingest use case every upload goes through: a brands
file renaming B2, an orders file adding a ¥99,999 order to B2, and an order id of B2 taken
over by a row naming B1. Each is refused whole (403 ``outside_scope``) and the warehouse keeps
exactly what it held; the same files are accepted from an admin, and in-scope rows from the
operator, so the refusal is the scope and nothing else.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from windmaker.config import Settings
from windmaker.services import ingest, providers
from windmaker.services.configs import Configs
from windmaker.services.errors import ServiceError
from windmaker.services.identity import Principal, workspace_admin
from windmaker.services.jobs import Jobs
from windmaker.services.run import start_run
from windmaker.store import engine_for, open_session
from windmaker.workspace import open_warehouse

ADMIN = workspace_admin("test")
OPERATOR = Principal(user_id=2, username="op", role="operator", brand_scope=frozenset({"B1", "B3"}))
PROVIDER = Principal(
    user_id=3, username="p1", role="provider", brand_scope=frozenset({"B1"}), provider_id="P1"
)
BRAND = Principal(
    user_id=4, username="b2", role="brand", brand_scope=frozenset({"B2"}), brand_id="B2"
)

SKUS = "sku_id,brand_id,category,list_price,special_supply,launched_at\n" + "".join(
    f"S{b},{b},beauty,99.00,false,2026-01-01\n" for b in ("B1", "B2", "B3")
)
ACCOUNTS = "account_id,kind,brand_id,name,category,fans,created_at\n" + "".join(
    f"A{b},brand_main,{b},main {b},beauty,10,2026-01-01\n" for b in ("B1", "B2", "B3")
)
ORDER_HEAD = (
    "order_id,paid_at,brand_id,sku_id,account_id,buyer_id,traffic_source,quantity,amount,"
    "commission,status,refund_amount\n"
)


def _order(order_id: str, brand: str, amount: str = "99999.00") -> str:
    return f"{order_id},2026-10-02 10:00:00,{brand},S{brand},A{brand},u1,recommend,1,{amount},0,paid,0\n"


def _file(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture
def seeded(market: Settings, tmp_path: Path) -> Settings:
    """SKUs and brand accounts of B1–B3 and one order of B2 (O2), loaded by an admin."""
    files = [
        _file(tmp_path, "skus.csv", SKUS),
        _file(tmp_path, "accounts.csv", ACCOUNTS),
        _file(tmp_path, "orders.csv", ORDER_HEAD + _order("O2", "B2", "10.00")),
    ]
    report = ingest.ingest(market, files, actor=ADMIN)
    assert report.rejected == 0
    return market


def _orders(settings: Settings) -> dict[str, tuple[str, str]]:
    with open_warehouse(settings) as wh:
        df = wh.execute(wh.table("orders"))
    return {str(r.order_id): (str(r.brand_id), f"{r.amount:.2f}") for r in df.itertuples()}


def _brand_names(settings: Settings) -> dict[str, str]:
    with open_warehouse(settings) as wh:
        df = wh.execute(wh.table("brands"))
    return dict(zip(df["brand_id"], df["name"], strict=True))


def _refused(settings: Settings, path: Path, actor: Principal = OPERATOR) -> ServiceError:
    with pytest.raises(ServiceError) as refused:
        ingest.ingest(settings, [path], actor=actor)
    return refused.value


def test_operator_order_for_a_brand_outside_the_portfolio_does_not_land(
    seeded: Settings, tmp_path: Path
) -> None:
    """The audit's ¥99,999 order for another brand, in a file with an in-scope order: the
    whole file is refused, naming the brand, and neither order lands."""
    before = _orders(seeded)
    path = _file(tmp_path, "o.csv", ORDER_HEAD + _order("O10", "B1") + _order("O11", "B2"))
    err = _refused(seeded, path)
    assert (err.status, err.code) == (403, "outside_scope")
    assert err.values["brands"] == "B2" and "outside your portfolio" in str(err)
    assert _orders(seeded) == before


def test_operator_cannot_take_over_another_brands_order_id(
    seeded: Settings, tmp_path: Path
) -> None:
    """Replace-by-key would delete B2's order O2 for a row naming B1: the replaced row's
    brand counts as written."""
    before = _orders(seeded)
    err = _refused(seeded, _file(tmp_path, "o.csv", ORDER_HEAD + _order("O2", "B1")))
    assert err.code == "outside_scope" and err.values["brands"] == "B2"
    assert _orders(seeded) == before == {"O2": ("B2", "10.00")}


def test_brands_file_renaming_a_brand_outside_scope_does_not_land(
    market: Settings, tmp_path: Path
) -> None:
    """The audit renamed B000551 with a brands file; here B2, beside an in-scope B3 row."""
    body = (
        "brand_id,name,category,origin,joined_at\n"
        "B3,Food Three,food,traditional,2025-01-01\nB2,pwned,beauty,traditional,2025-01-01\n"
    )
    err = _refused(market, _file(tmp_path, "b.csv", body))
    assert err.code == "outside_scope"
    assert _brand_names(market)["B2"] == "Beauty Two"


def test_review_of_another_brands_order_is_outside_scope(seeded: Settings, tmp_path: Path) -> None:
    """A review writes for the brand of its order (its trust score)."""
    body = "review_id,order_id,created_at,score,complaint\nR1,O2,2026-10-03 10:00:00,1,fake\n"
    assert _refused(seeded, _file(tmp_path, "r.csv", body)).code == "outside_scope"


def test_in_scope_rows_land_and_admins_write_anything(seeded: Settings, tmp_path: Path) -> None:
    mine = ingest.ingest(
        seeded, [_file(tmp_path, "mine.csv", ORDER_HEAD + _order("O10", "B1"))], actor=OPERATOR
    )
    assert mine.files[0].accepted == 1
    theirs = _file(tmp_path, "theirs.csv", ORDER_HEAD + _order("O11", "B2"))
    assert ingest.ingest(seeded, [theirs], actor=ADMIN).files[0].accepted == 1
    assert _orders(seeded)["O10"] == ("B1", "99999.00")
    assert _orders(seeded)["O11"] == ("B2", "99999.00")


@pytest.mark.parametrize("user", [PROVIDER, BRAND])
def test_provider_and_brand_users_cannot_upload(
    market: Settings, tmp_path: Path, user: Principal
) -> None:
    body = "brand_id,name,category,origin,joined_at\nB2,x,beauty,traditional,2025-01-01\n"
    err = _refused(market, _file(tmp_path, "b.csv", body), actor=user)
    assert (err.status, err.code) == (403, "forbidden")


@pytest.mark.parametrize("user", [PROVIDER, BRAND])
def test_refresh_is_staff_only(market: Settings, user: Principal) -> None:
    with pytest.raises(ServiceError) as refused:
        start_run(Jobs(), market, user)
    assert refused.value.status == 403


@pytest.mark.parametrize("user", [OPERATOR, PROVIDER, BRAND])
def test_evaluations_and_decisions_are_admin_only(market: Settings, user: Principal) -> None:
    engine = engine_for(market)
    with open_session(engine) as s, open_warehouse(market) as wh:
        with pytest.raises(ServiceError) as refused:
            providers.evaluate(s, wh, Configs.of(market), user, date(2026, 10, 1))
        assert refused.value.status == 403
        with pytest.raises(ServiceError) as refused:
            providers.confirm_exit(s, user, 1)
        assert refused.value.status == 403
