"""The SQL coercions against independent Python answers (Hypothesis properties)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from windmaker import contract
from windmaker.ingest.coercion import (
    clean_text,
    codes_sql,
    integer_sql,
    money_fraction_sql,
    money_sql,
    timestamp_sql,
)

SHANGHAI = timezone(timedelta(hours=8))  # no daylight saving since 1991
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def con() -> Any:
    c = duckdb.connect()
    yield c
    c.close()


def _one(con: Any, expr: str, value: str) -> Any:
    return con.execute(f"SELECT {expr.replace('__v__', '$1::VARCHAR')}", [value]).fetchone()[0]


@settings(max_examples=30, deadline=None)
@given(fen=st.integers(min_value=-(10**15), max_value=10**15))
def test_fen_to_yuan_is_exact(con: Any, fen: int) -> None:
    # Reference: integer fen / 100 in Python's decimal arithmetic.
    assert _one(con, money_sql("__v__", "fen"), str(fen)) == Decimal(fen) / 100


@settings(max_examples=30, deadline=None)
@given(cents=st.integers(min_value=0, max_value=10**12))
def test_yuan_with_thousands_separators(con: Any, cents: int) -> None:
    yuan = Decimal(cents) / 100
    assert _one(con, money_sql("__v__", "yuan"), f"￥{yuan:,.2f}") == yuan


@settings(max_examples=30, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
)
def test_every_spelling_of_one_instant_gives_the_same_wall_clock(
    con: Any, moment: datetime
) -> None:
    # Reference: Python's own conversion of the instant to UTC+8.
    wall = moment.astimezone(SHANGHAI).replace(tzinfo=None)
    ts = timestamp_sql("__v__", contract.TIMEZONE)
    spellings = [
        str((moment - EPOCH) // timedelta(milliseconds=1)),
        moment.isoformat().replace("+00:00", "Z"),
        moment.astimezone(SHANGHAI).isoformat(),
        wall.isoformat(sep=" "),
    ]
    if moment.microsecond == 0:
        spellings += [
            str((moment - EPOCH) // timedelta(seconds=1)),
            wall.strftime("%Y/%m/%d %H:%M:%S"),
        ]
    for s in spellings:
        assert _one(con, ts, s) == wall, s


def test_naive_values_read_on_another_clock(con: Any) -> None:
    ts = timestamp_sql("__v__", "UTC")
    assert _one(con, ts, "2026-10-01 04:00:00") == datetime(2026, 10, 1, 12)


@pytest.mark.parametrize(
    ("text", "expected"), [("12", 12), ("12.0", 12), (" 7 ", 7), ("12.5", None), ("x", None)]
)
def test_whole_numbers_are_never_rounded(con: Any, text: str, expected: int | None) -> None:
    assert _one(con, integer_sql("__v__"), text) == expected


def test_code_words_are_case_insensitive(con: Any) -> None:
    codes = contract.ACCOUNTS.column("kind").codes
    assert _one(con, codes_sql("__v__", codes), "KOL") == "influencer"
    assert _one(con, codes_sql("__v__", codes), "矩阵号") == "brand_matrix"
    assert _one(con, codes_sql("__v__", codes), "路人") is None


def _cleaned(value: str) -> str | None:
    """The rule in Python: a value that starts with a blank or a tab, or ends with a blank, a
    tab or a carriage return, is trimmed of blanks, tabs and line ends; empty is missing."""
    if value == "" or value[:1] in (" ", "\t") or value[-1:] in (" ", "\t", "\r"):
        return value.strip(" \t\r\n") or None
    return value


@settings(max_examples=300, deadline=None)
@given(
    value=st.text(
        alphabet=st.sampled_from([" ", "\t", "\r", "\n", "%", "_", "\\", "'", "a", "中", "é"]),
        max_size=6,
    )
)
def test_text_is_trimmed_only_when_it_starts_or_ends_with_a_blank(con: Any, value: str) -> None:
    # LIKE's own wildcards and escape in a value are plain characters to the rule
    assert _one(con, clean_text("__v__"), value) == _cleaned(value)


def test_every_code_word_of_the_contract_gives_its_code(con: Any) -> None:
    seen = 0
    for table in contract.TABLES:
        for column in table.columns:
            for word, code in (column.codes or {}).items():
                if word.strip():
                    assert _one(con, codes_sql("__v__", column.codes), word.upper()) == code
                    seen += 1
    assert seen > 50
    assert _one(con, codes_sql("__v__", {"it's": "x"}), "IT'S") == "x"
    assert _one(con, codes_sql("__v__", {"a": "x"}), None) is None  # type: ignore[arg-type]


def _past_the_cent(text: str) -> bool:
    """Python's answer: somewhere a point, two digits, zeros and a non-zero digit (noise left in
    place), or for the exponent form, a value that is not whole fen."""
    if "e" in text.lower():
        try:
            d = Decimal(text)
            return d.is_finite() and abs(d) < 10**20 and d != d.quantize(Decimal("0.01"))
        except ArithmeticError:
            return False
    return re.search(r"[.][0-9]{2}0*[1-9]", text) is not None


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("0123456789.,-¥元 ")), max_size=9)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str)
)
def test_a_digit_past_the_cent_is_found_wherever_the_point_is(con: Any, text: str) -> None:
    assert bool(_one(con, money_fraction_sql("__v__"), text)) == _past_the_cent(text)
