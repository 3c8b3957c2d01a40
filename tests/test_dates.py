"""Date parsing in the shapes feeds and pages use, and relative mentions against an issue date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.dates import SHANGHAI, at_midnight, event_date, parse_date, resolve_mentions

CST = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-03-08 08:57:01 +0800", datetime(2022, 3, 8, 8, 57, 1, tzinfo=CST)),
        ("2022-03-08T08:57:01+08:00", datetime(2022, 3, 8, 8, 57, 1, tzinfo=CST)),
        ("2022-03-08T00:57:01Z", datetime(2022, 3, 8, 8, 57, 1, tzinfo=CST)),
        ("2022-03-08", datetime(2022, 3, 8, tzinfo=CST)),
        ("2022/3/8 8:57", datetime(2022, 3, 8, 8, 57, tzinfo=CST)),
        ("2022年3月8日", datetime(2022, 3, 8, tzinfo=CST)),
        ("2022年03月08日 星期二 下午3:05", datetime(2022, 3, 8, 15, 5, tzinfo=CST)),
        ("二〇二二年三月十八日", datetime(2022, 3, 18, tzinfo=CST)),
        ("２０２２-０３-０８", datetime(2022, 3, 8, tzinfo=CST)),
        ("20220308", datetime(2022, 3, 8, tzinfo=CST)),
        ("Tue, 08 Mar 2022 08:57:01 +0800", datetime(2022, 3, 8, 8, 57, 1, tzinfo=CST)),
        ("Tue, 08 Mar 2022 00:57:01 GMT", datetime(2022, 3, 8, 8, 57, 1, tzinfo=CST)),
    ],
)
def test_parse_date_shapes(value: str, expected: datetime) -> None:
    parsed = parse_date(value)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is not None


def test_naive_values_are_local_to_the_outlet() -> None:
    assert parse_date("2022-03-08 08:57").utcoffset() == timedelta(hours=8)
    assert parse_date(datetime(2022, 3, 8, 8, 57)) == datetime(2022, 3, 8, 8, 57, tzinfo=CST)
    assert parse_date(date(2022, 3, 8)) == at_midnight(date(2022, 3, 8))
    assert parse_date("2022-03-08", default_tz=UTC) == datetime(2022, 3, 8, tzinfo=UTC)
    aware = datetime(2022, 3, 8, tzinfo=UTC)
    assert parse_date(aware) is aware


@pytest.mark.parametrize(
    "value", ["", "garbage", "2022-13-01", "2022年2月30日", "32/13/2022", None]
)
def test_unreadable_dates_are_none(value: str | None) -> None:
    assert parse_date(value) is None


@given(st.text(max_size=60))
def test_parse_date_never_raises(value: str) -> None:
    result = parse_date(value)
    assert result is None or result.tzinfo is not None


@given(
    st.from_regex(r"\d{4}[-/年]\d{1,2}[-/月]\d{1,2}日?( \d{1,2}:\d{2}(:\d{2})?)?", fullmatch=True)
)
def test_parse_date_never_raises_on_date_like_text(value: str) -> None:
    result = parse_date(value)
    assert result is None or result.tzinfo is not None


def mentions(text: str, issue: date) -> list[tuple[str, date]]:
    return [(found, day) for found, _, day in resolve_mentions(text, issue)]


def test_relative_words_count_from_the_issue() -> None:
    issue = date(2024, 3, 1)
    assert mentions("昨天下午，今日上午，前天，明天", issue) == [
        ("昨天", date(2024, 2, 29)),
        ("今日", date(2024, 3, 1)),
        ("前天", date(2024, 2, 28)),
        ("明天", date(2024, 3, 2)),
    ]


def test_vague_words_are_skipped() -> None:
    assert mentions("日前，近日，当天，今日头条", date(2024, 3, 1)) == []


def test_month_day_takes_the_nearest_year() -> None:
    assert mentions("11月13日", date(2021, 11, 15)) == [("11月13日", date(2021, 11, 13))]
    assert mentions("12月28日", date(2022, 1, 3)) == [("12月28日", date(2021, 12, 28))]
    assert mentions("1月5日", date(2021, 12, 30)) == [("1月5日", date(2022, 1, 5))]
    # a plan later in the same year stays in that year
    assert mentions("12月31日前完成", date(2021, 6, 20)) == [("12月31日", date(2021, 12, 31))]
    assert mentions("去年3月5日和今年12月1日", date(2022, 1, 10)) == [
        ("3月5日", date(2021, 3, 5)),
        ("12月1日", date(2022, 12, 1)),
    ]


def test_bare_day_is_in_the_issue_month_or_the_one_before() -> None:
    assert mentions("13日", date(2021, 11, 15)) == [("13日", date(2021, 11, 13))]
    assert mentions("28日", date(2022, 1, 3)) == [("28日", date(2021, 12, 28))]
    assert mentions("30日内办结", date(2022, 3, 3)) == []
    assert mentions("30日", date(2022, 3, 3)) == []  # no 30 February to fall back to


def test_day_range_keeps_the_month_of_its_start() -> None:
    assert mentions("12月28日至30日", date(2022, 1, 5)) == [
        ("12月28日", date(2021, 12, 28)),
        ("30日", date(2021, 12, 30)),
    ]


def test_full_dates_and_offsets() -> None:
    text = "据悉，2021年11月12日启动"
    ((found, offset, day),) = resolve_mentions(text, date(2022, 5, 1))
    assert (found, day) == ("2021年11月12日", date(2021, 11, 12))
    assert text[offset : offset + len(found)] == found


def test_event_date_is_the_first_mention_of_the_first_paragraph() -> None:
    text = "本报讯 11月13日，会议召开。昨天又开了一次。\n\n12月1日将再次召开。"
    assert event_date(text, date(2021, 11, 15)) == date(2021, 11, 13)
    assert event_date("近日，会议召开。\n\n11月13日……", date(2021, 11, 15)) is None


@given(st.text(max_size=80), st.dates(min_value=date(1901, 1, 1), max_value=date(2099, 12, 31)))
def test_resolve_mentions_never_raises(text: str, issue: date) -> None:
    for found, offset, day in resolve_mentions(text, issue):
        assert text[offset : offset + len(found)] == found
        assert isinstance(day, date)


def test_shanghai_is_utc_plus_eight() -> None:
    assert datetime(2022, 7, 1, tzinfo=SHANGHAI).utcoffset() == timedelta(hours=8)
