"""The case library's domain (:mod:`windmaker.growth.cases`, :mod:`windmaker.growth.case_playbook`)
on a hand-written market whose steps, scores and metrics are known answers: every number below
is worked out by hand from the frames the test writes, with the module docstring's formulas."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from windmaker.config import ConfigError
from windmaker.growth.case_playbook import action_capabilities, category_playbook
from windmaker.growth.cases import (
    STEPS,
    ActionFacts,
    Case,
    CasesConfig,
    CaseSource,
    build_cases,
    case_actions,
    case_id,
    case_steps,
    load_cases_config,
    matches,
    parse_step,
    provider_months,
    public_case,
    size_band,
    withheld,
)
from windmaker.growth.config import LadderConfig
from windmaker.growth.plan import Playbook

MONTHS = [date(2026, m, 1) for m in range(1, 9)]
ZB, CL, KA, SKA = "zero_breaking", "climbing", "ka", "ska"
#: Stage histories, one stage per month of MONTHS.
HISTORY = {
    "B1": [ZB] * 4 + [CL] * 4,  # a case: zero_breaking → climbing in May, held since January
    "B2": [CL] * 2 + [KA] * 6,  # promoted in its warm-up (position 2 < 3): not a case
    "B3": [ZB] * 2 + [CL] * 3 + [KA] * 3,  # warm-up step, then a case climbing → ka in June
    "B4": [CL] * 8,
    "B5": [CL] * 8,
    "B6": [CL] * 4 + [SKA] * 4,  # two stages at once is no step of the ladder
    "F1": [ZB] * 3 + [CL] * 5,  # a case in a category of two brands
    "F2": [CL] * 8,
}
CATEGORY = {b: ("food" if b.startswith("F") else "beauty") for b in HISTORY}
NAMES = {b: f"品牌{b}" for b in HISTORY}
SECRET = "test-secret"


def _score(brand: str, cap: str, i: int) -> float | None:
    if brand == "B1":
        return {
            "self_operation": 10.0 + 10 * i,
            "traffic": 50.0,
            "distribution": 60.0 - 5 * i,
            "private_domain": 20.0 + 2 * i,
            "special_supply": None,
        }[cap]
    if brand == "B3":
        return {"private_domain": 30.0 + 10 * i, "self_operation": 40.0 + 5 * i}.get(cap, 50.0)
    if brand == "F1" and cap == "distribution":
        return 20.0 + 7 * i
    return 50.0


def source() -> CaseSource:
    stages, caps, months, bott = [], [], [], []
    for b, history in HISTORY.items():
        for i, (p, s) in enumerate(zip(MONTHS, history, strict=True)):
            stages.append({"brand_id": b, "category": CATEGORY[b], "period": p, "stage": s})
            for cap in ("self_operation", "traffic", "distribution", "private_domain"):
                caps.append(
                    {"brand_id": b, "category": CATEGORY[b], "period": p, "capability": cap}
                    | {"score": _score(b, cap, i), "index": 0.0}
                )
            if _score(b, "special_supply", i) is not None:
                caps.append(
                    {"brand_id": b, "category": CATEGORY[b], "period": p}
                    | {"capability": "special_supply", "score": 50.0, "index": 0.0}
                )
            months.append(
                {
                    "brand_id": b,
                    "period": p,
                    "net_gmv": Decimal(100_000 * (i + 1)),
                    "net_gmv_t90d": 50_000.0 if b == "B1" else 2_500_000.0,
                    "self_share": 0.123 + 0.05 * i,
                    "live_hours": 10.0 * (i + 1),
                    "roas": 2.345,
                    "repurchase_rate_90d": 0.2,
                    "active_influencers": 0 if i == 0 else 3,
                }
            )
            bott.append(
                {
                    "brand_id": b,
                    "period": p,
                    "capability": "distribution" if b == "B1" else "private_domain",
                    "rank": 1,
                }
            )
            bott.append({"brand_id": b, "period": p, "capability": "traffic", "rank": 2})
    brands = pd.DataFrame(
        {"brand_id": list(HISTORY), "name": list(NAMES.values()), "category": CATEGORY.values()}
    )
    return CaseSource(
        stages=pd.DataFrame(stages),
        capability=pd.DataFrame(caps),
        brand_month=pd.DataFrame(months),
        bottleneck=pd.DataFrame(bott),
        brands=brands,
    )


@pytest.fixture(scope="module")
def config() -> CasesConfig:
    return load_cases_config()


@pytest.fixture(scope="module")
def cases(ladder: LadderConfig, config: CasesConfig) -> dict[str, Case]:
    return {c.brand_id: c for c in build_cases(source(), ladder, config, SECRET)}


def test_cases_are_the_one_stage_promotions_after_the_warm_up(ladder: LadderConfig) -> None:
    """Known answer: the hand-written histories. B2's and B3's first changes fall in the
    warm-up (position < 3) and B6 jumps two stages; neither is a step of the ladder."""
    steps = case_steps(source().stages, ladder)
    got = {
        (r.brand_id, r.from_stage, r.to_stage, r.start_period, r.end_period, r.months, r.censored)
        for r in steps.itertuples()
    }
    assert got == {
        ("B1", ZB, CL, date(2026, 1, 1), date(2026, 5, 1), 4, True),
        ("B3", CL, KA, date(2026, 3, 1), date(2026, 6, 1), 3, False),
        ("F1", ZB, CL, date(2026, 1, 1), date(2026, 4, 1), 3, True),
    }


def test_a_case_holds_the_formulas_of_its_step(cases: dict[str, Case]) -> None:
    """B1, from January (first month at zero-breaking) to May (first month climbing)."""
    c = cases["B1"]
    assert (c.category, c.step, c.name) == ("beauty", "zero_breaking-climbing", "品牌B1")
    assert [m.period for m in c.series] == MONTHS[:5]
    assert [m.stage for m in c.series] == [ZB] * 4 + [CL]
    # score(May) − score(January): self-operation 10 → 50, distribution 60 → 40, supply unscored
    assert c.score_change == {
        "self_operation": 40.0,
        "traffic": 0.0,
        "distribution": -20.0,
        "private_domain": 8.0,
        "special_supply": None,
    }
    assert c.lever == "self_operation" and c.bottleneck == "distribution"
    assert c.gmv_change == pytest.approx(500_000 / 100_000 - 1)
    assert (c.size_gmv, c.size_band) == (50_000.0, 0)  # below the ¥100,000 edge
    assert c.category_brands == 6
    assert c.series[2].metrics["self_share"] == pytest.approx(0.223)
    assert c.series[4].metrics["net_gmv"] == 500_000.0  # an exact decimal read as a number
    assert c.series[0].metrics["gpm"] is None  # a metric the frame does not carry
    b3 = cases["B3"]
    assert (b3.lever, b3.bottleneck, b3.size_band) == ("private_domain", "private_domain", 2)
    assert b3.score_change["private_domain"] == 30.0 and b3.months == 3


def test_the_case_id_is_keyed_stable_and_tells_nothing_of_the_brand(
    cases: dict[str, Case], ladder: LadderConfig, config: CasesConfig
) -> None:
    c = cases["B1"]
    assert re.fullmatch(r"C[0-9A-F]{10}", c.case_id)
    assert c.case_id == case_id(SECRET, "B1", ZB, CL, date(2026, 5, 1))
    assert c.case_id != case_id("another workspace", "B1", ZB, CL, date(2026, 5, 1))
    assert "B1" not in c.case_id[1:] and len({k.case_id for k in cases.values()}) == 3
    again = {k.brand_id: k.case_id for k in build_cases(source(), ladder, config, SECRET)}
    assert again == {b: k.case_id for b, k in cases.items()}


def test_an_anonymous_case_shows_no_identity_and_rounds_its_numbers(
    cases: dict[str, Case], config: CasesConfig
) -> None:
    """The rounding rules of the module docstring, worked by hand for B1."""
    c = public_case(cases["B1"], named=False, config=config)
    assert (c.brand_id, c.name, c.size_gmv, c.named) == (None, None, None, False)
    assert "B1" not in repr(c) and "品牌B1" not in repr(c)
    assert (c.band_low, c.band_high) == (0.0, 100_000.0)
    may = c.series[4].metrics
    assert may["self_share"] == 0.32  # 0.323 to whole percent
    assert may["net_gmv"] == 4.0  # 500,000 / 100,000 − 1
    assert may["live_hours"] == 4.0  # hours are relative too: 50 / 10 − 1
    assert may["roas"] == 2.3  # a ratio to one decimal
    assert c.series[0].metrics["net_gmv"] == 0.0  # the first month against itself
    assert may["active_influencers"] is None  # no change from zero
    assert c.kinds["self_share"] == "share" and c.kinds["net_gmv"] == "relative"
    assert c.score_change["private_domain"] == 8.0 and c.gmv_change == 4.0
    named = public_case(cases["B1"], named=True, config=config)
    assert (named.brand_id, named.name, named.size_gmv) == ("B1", "品牌B1", 50_000.0)
    assert named.series[4].metrics["self_share"] == pytest.approx(0.323)
    assert set(named.kinds.values()) == {"value"}


def test_relative_numbers_round_to_the_configured_step(cases: dict[str, Case]) -> None:
    """``relative_step`` 0.05 → 0.25: April's GMV is +300%, January's self share 12.3%."""
    coarse = CasesConfig(version=1, size_bands=(0.0,), relative_step=0.25)
    c = public_case(cases["B1"], named=False, config=coarse)
    assert c.series[3].metrics["net_gmv"] == 3.0
    assert c.series[1].metrics["net_gmv"] == 1.0  # +100%
    assert c.size_band == 0 and c.band_high is None


def test_a_small_category_withholds_anonymous_cases_only(cases: dict[str, Case]) -> None:
    """F1's category has two brands: below five it is withheld unless the brand consented."""
    assert cases["F1"].category_brands == 2
    assert withheld(cases["F1"], named=False, min_category_brands=5)
    assert not withheld(cases["F1"], named=True, min_category_brands=5)
    assert not withheld(cases["B1"], named=False, min_category_brands=5)


def test_search_by_category_step_and_capability(
    cases: dict[str, Case], config: CasesConfig
) -> None:
    shown = [public_case(c, named=False, config=config) for c in cases.values()]

    def found(**filters: str) -> set[str]:
        return {c.case_id for c in shown if matches(c, **filters)}

    by_brand = {b: c.case_id for b, c in cases.items()}
    assert found(category="beauty") == {by_brand["B1"], by_brand["B3"]}
    assert found(step="climbing-ka") == {by_brand["B3"]}
    assert found(capability="self_operation") == {by_brand["B1"]}  # its lever
    assert found(capability="distribution") == {by_brand["B1"], by_brand["F1"]}  # B1's bottleneck
    assert found(category="food", step="climbing-ka") == set()


def test_steps_parse_from_every_spelling() -> None:
    assert parse_step("climbing→ka") == parse_step("climbing") == "climbing-ka"
    assert parse_step(" ka-ska ") == "ka-ska" and parse_step(None) is None
    assert STEPS == ("zero_breaking-climbing", "climbing-ka", "ka-ska")
    for bad in ("ska", "zero_breaking-ka", "up"):
        with pytest.raises(ValueError, match="not a step"):
            parse_step(bad)


def test_size_bands_hold_their_lower_edge() -> None:
    edges = (0.0, 100_000.0, 1_000_000.0)
    assert [size_band(v, edges) for v in (-5.0, 0.0, 99_999.99, 100_000.0, 5e9)] == [0, 0, 0, 1, 2]
    assert size_band(None, edges) is None and size_band(float("nan"), edges) is None


def test_a_bad_cases_file_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "cases.yaml").write_text(
        "version: 1\nsize_bands: [0, 10, 5]\nrelative_step: 0.05\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"size_bands.*rise strictly"):
        load_cases_config(tmp_path)


def test_providers_and_actions_are_read_over_the_months_of_the_step(
    cases: dict[str, Case],
) -> None:
    """B1's step runs from 1 January to 31 May."""
    c = cases["B1"]
    assert provider_months(c, [(date(2025, 6, 1), None)]) == 5
    assert provider_months(c, [(date(2026, 3, 15), date(2026, 4, 2))]) == 2
    assert (
        provider_months(c, [(date(2026, 6, 1), None), (date(2025, 1, 1), date(2025, 12, 31))]) == 0
    )
    both = [(date(2026, 1, 1), date(2026, 2, 1)), (date(2026, 2, 10), date(2026, 3, 1))]
    assert provider_months(c, both) == 3  # February counted once
    items = [
        ActionFacts(  # done in April
            "zb_test_products",
            date(2026, 2, 1),
            datetime(2026, 2, 3),
            ((datetime(2026, 2, 3), "open"), (datetime(2026, 4, 9), "done")),
        ),
        ActionFacts(  # done only after the step ended
            "zb_matrix_race",
            None,
            datetime(2026, 3, 1),
            ((datetime(2026, 3, 1), "open"), (datetime(2026, 6, 2), "done")),
        ),
        ActionFacts("late", date(2026, 7, 1), datetime(2026, 7, 1), ()),  # after the step
        ActionFacts(  # done, then reopened before the step ended
            "reopened",
            date(2026, 1, 1),
            datetime(2026, 1, 5),
            ((datetime(2026, 1, 9), "done"), (datetime(2026, 5, 31, 23), "doing")),
        ),
    ]
    got = case_actions(c, items, {"zb_test_products": "distribution"})
    assert [(a.action_id, a.capability, a.taken, a.completed, a.completed_month) for a in got] == [
        ("reopened", None, date(2026, 1, 1), False, None),
        ("zb_test_products", "distribution", date(2026, 2, 1), True, date(2026, 4, 1)),
        ("zb_matrix_race", None, date(2026, 3, 1), False, None),
    ]


def test_a_category_playbook_takes_medians_and_tallies_over_its_cases(
    cases: dict[str, Case], config: CasesConfig, playbook: Playbook
) -> None:
    """Beauty has one case per step here, so each median is that case's own (rounded) change;
    the method lists the rising capabilities, largest first, with the playbook's entries."""
    shown = [public_case(c, named=False, config=config) for c in cases.values()]
    book = category_playbook("beauty", shown, playbook, withheld=1)
    assert [s.step for s in book.steps] == ["zero_breaking-climbing", "climbing-ka"]
    assert (book.cases, book.withheld) == (2, 1)
    zb = book.steps[0]
    assert [(m.capability, m.score_change) for m in zb.method] == [
        ("self_operation", 40.0),
        ("private_domain", 8.0),
    ]
    ids = {e.action_id for e in zb.method[0].entries}
    wanted = {
        a.id
        for a in playbook.stages["zero_breaking"].get("self_operation", [])  # type: ignore[index]
    }
    assert wanted and ids == wanted
    assert zb.levers == (("self_operation", 1),) and zb.bottlenecks == (("distribution", 1),)
    assert (zb.median_months, zb.censored) == (4.0, 1)
    capabilities = action_capabilities(playbook)
    assert capabilities and set(capabilities.values()) <= {
        "self_operation",
        "traffic",
        "distribution",
        "private_domain",
        "special_supply",
    }
