"""Dates as Chinese local news writes them: parse absolute stamps, resolve relative mentions.

Two ideas. First, a parser that never raises: feeds, front matter and page headers carry dates in
a dozen shapes (ISO 8601, RFC 822, `2022-03-08 08:57:01 +0800`, `2022年3月8日`), and a date we
cannot read is `None`, not an error. Naive times are local to the outlet, i.e. Asia/Shanghai
unless the caller says otherwise. Second, relative mentions (`昨天`, `11月13日`, `13日`) are
resolved against the issue date of the page they appear on, never against a clock: the same
page resolves the same way whenever it is processed.
"""

from __future__ import annotations

import calendar
import email.utils
import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

try:  # tz database may be missing (e.g. Windows without tzdata); China has had no DST since 1991
    from zoneinfo import ZoneInfo

    SHANGHAI: tzinfo = ZoneInfo("Asia/Shanghai")
except Exception:  # pragma: no cover - depends on the host
    SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

__all__ = ["SHANGHAI", "at_midnight", "event_date", "parse_date", "resolve_mentions"]

_D = r"[0-9０-９]"  # int() reads full-width digits too, so both are matched as they stand

# 2022-03-08, 2022/3/8, 2022.03.08, then an optional time and zone
_NUMERIC = re.compile(
    rf"^({_D}{{4}})[-/.]({_D}{{1,2}})[-/.]({_D}{{1,2}})"
    rf"(?:(?:[T\s]+|\s*)({_D}{{1,2}})[:：]({_D}{{2}})(?:[:：]({_D}{{2}})(?:[.,]({_D}{{1,6}}))?)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2}|[+-]\d{2})?$",
    re.IGNORECASE,
)
# 2022年3月8日 [星期二] [上午] [08:57[:01]] ; Chinese numerals are converted first
_CJK = re.compile(
    rf"^({_D}{{4}})\s*年\s*({_D}{{1,2}})\s*月\s*({_D}{{1,2}})\s*[日号]"
    r"(?:\s*(?:星期|周|礼拜)[一二三四五六日天])?"
    r"\s*(上午|早上|凌晨|中午|下午|晚上|傍晚)?"
    rf"\s*(?:({_D}{{1,2}})\s*[:：时点]\s*(?:({_D}{{1,2}})\s*[分]?\s*(?:[:：]?\s*({_D}{{1,2}})\s*秒?)?)?)?$"
)
_CN_DIGITS = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_CN_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER = re.compile(r"[〇零○Ｏ一二两三四五六七八九十]+")


def at_midnight(day: date, tz: tzinfo = SHANGHAI) -> datetime:
    """The start of a local calendar day: what an issue date means as a timestamp."""
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def parse_date(
    value: str | date | datetime | None, *, default_tz: tzinfo = SHANGHAI
) -> datetime | None:
    """Read a date or timestamp in any common shape; an aware datetime, or None if unreadable.

    Never raises: a feed with a mangled date still has entries worth keeping.
    """
    try:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=default_tz)
        if isinstance(value, date):
            return at_midnight(value, default_tz)
        if not isinstance(value, str):
            return None
        return _parse_text(value.strip(), default_tz)
    except (ValueError, OverflowError, TypeError, IndexError):
        return None


def _parse_text(text: str, tz: tzinfo) -> datetime | None:
    if not text or len(text) > 80:
        return None
    text = text.replace("\u3000", " ").replace("\xa0", " ")
    if re.fullmatch(rf"{_D}{{8}}", text):  # 20220308, as in e-paper URLs
        return datetime(int(text[:4]), int(text[4:6]), int(text[6:]), tzinfo=tz)
    if m := _NUMERIC.match(text):
        return _from_parts(m.groups()[:7], m.group(8), tz)
    if m := _CJK.match(_cn_numerals(text)):
        year, month, day, ampm, hour, minute, second = m.groups()
        hour_n = int(hour) if hour else 0
        if ampm in ("下午", "晚上", "傍晚") and hour_n < 12:
            hour_n += 12
        return datetime(
            int(year), int(month), int(day), hour_n, int(minute or 0), int(second or 0), tzinfo=tz
        )
    if re.search(r"[A-Za-z]{3}", text):  # RFC 822 / 2822, as in RSS pubDate
        parsed = email.utils.parsedate_to_datetime(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)
        return parsed
    parsed = datetime.fromisoformat(text)  # the remaining ISO 8601 shapes, e.g. week dates
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _from_parts(parts: tuple[str | None, ...], zone: str | None, tz: tzinfo) -> datetime:
    year, month, day, hour, minute, second, fraction = parts
    micro = int((fraction or "0").ljust(6, "0")[:6])
    stamp = datetime(
        int(year or 0),
        int(month or 0),
        int(day or 0),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micro,
    )
    return stamp.replace(tzinfo=_zone(zone) if zone else tz)


def _zone(text: str) -> tzinfo:
    if text.upper() in ("Z", "UTC", "GMT"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _cn_numerals(text: str) -> str:
    """`二〇二二年三月八日` → `2022年3月8日`: year digits one by one, month/day as numbers."""

    def convert(m: re.Match[str]) -> str:
        run = m.group(0)
        if "十" not in run:
            return "".join(str(_CN_DIGITS[c]) for c in run)
        tens, _, units = run.partition("十")
        if len(tens) > 1 or len(units) > 1:
            return run
        return str((_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[units] if units else 0))

    if not re.search(r"[〇零○Ｏ一二两三四五六七八九十]\s*[年月日号]", text):
        return text
    return _CN_NUMBER.sub(convert, text)


# --- relative mentions -------------------------------------------------------------------------

_RELATIVE = {"今天": 0, "今日": 0, "昨天": -1, "昨日": -1, "前天": -2, "前日": -2}
_RELATIVE |= {"明天": 1, "明日": 1}
_MENTION = re.compile(
    rf"(?P<year>{_D}{{4}})\s*年\s*(?P<ym>{_D}{{1,2}})\s*月\s*(?P<yd>{_D}{{1,2}})\s*[日号]"
    rf"|(?P<month>{_D}{{1,2}})\s*月\s*(?P<mday>{_D}{{1,2}})\s*[日号]"
    rf"|(?<![0-9０-９月.．·])(?P<day>{_D}{{1,2}})\s*日(?!内|以内|之内)"
    r"|(?P<rel>今天|今日|昨天|昨日|前天|前日|明天|明日)"
)
# a bare `30日` straight after `12月28日` joined by these belongs to the same month
_RANGE_JOINERS = re.compile(r"^\s*(?:至|到|—|–|-|~|～|、|和|及|与|或)\s*$")
# words that would make the match something else: `前日子`, `今日头条`, `明日之星`
_NOT_RELATIVE_AFTER = ("头条", "之星", "说法", "子", "期")
# a day more than this far in the future of the issue is read as last year's (and vice versa)
_FUTURE_LIMIT = 200
_PAST_LIMIT = 300


def resolve_mentions(text: str, issue_date: date) -> tuple[tuple[str, int, date], ...]:
    """Every date mentioned in `text`, as (matched text, offset, resolved date), in order.

    Relative words count from the issue date; a month and day without a year take the year that
    puts them nearest the issue (`12月28日` in a January issue is last December); a bare day is
    in the issue's month unless that would be after the issue, then the month before. Vague
    words (`日前`, `近日`, `当天`) are skipped: they name no day.
    """
    found: list[tuple[str, int, date]] = []
    last_end, last_day = -1, None
    for m in _MENTION.finditer(text):
        resolved = None
        if m.group("rel"):
            if _skip_relative(text, m):
                continue
            try:
                resolved = issue_date + timedelta(days=_RELATIVE[m.group("rel")])
            except OverflowError:  # an issue dated 1 January of year 1 has no day before
                continue
        elif m.group("year"):
            resolved = _safe_date(int(m.group("year")), int(m.group("ym")), int(m.group("yd")))
        elif m.group("month"):
            resolved = _month_day(text, m, int(m.group("month")), int(m.group("mday")), issue_date)
        else:
            day = int(m.group("day"))
            joined = last_day is not None and _RANGE_JOINERS.match(text[last_end : m.start()])
            if joined and last_day is not None:
                resolved = _safe_date(last_day.year, last_day.month, day)
            else:
                resolved = _bare_day(day, issue_date)
        if resolved is None:
            continue
        found.append((m.group(0), m.start(), resolved))
        last_end, last_day = m.end(), resolved
    return tuple(found)


def event_date(text: str, issue_date: date) -> date | None:
    """When the story happened: the first date mentioned in its first paragraph, if any."""
    first = next((p for p in re.split(r"\n\s*\n", text) if p.strip()), "")
    mentions = resolve_mentions(first, issue_date)
    return mentions[0][2] if mentions else None


def _skip_relative(text: str, m: re.Match[str]) -> bool:
    after = text[m.end() : m.end() + 2]
    if any(after.startswith(word) for word in _NOT_RELATIVE_AFTER):
        return True
    # `至今日益…` reads 至今 + 日益: no day is meant
    return m.group(0) in ("前日", "今日", "明日") and after[:1] in ("益", "渐", "趋")


def _month_day(text: str, m: re.Match[str], month: int, day: int, issue: date) -> date | None:
    before = text[max(0, m.start() - 2) : m.start()]
    if before.endswith("今年"):
        return _safe_date(issue.year, month, day)
    if before.endswith("去年"):
        return _safe_date(issue.year - 1, month, day)
    if before.endswith("明年"):
        return _safe_date(issue.year + 1, month, day)
    same = _safe_date(issue.year, month, day)
    if same is not None:
        delta = (same - issue).days
        if delta > _FUTURE_LIMIT:
            return _safe_date(issue.year - 1, month, day)
        if delta < -_PAST_LIMIT:
            return _safe_date(issue.year + 1, month, day)
        return same
    # 2月29日 outside a leap year: the nearest leap year before, if it is the previous one
    return _safe_date(issue.year - 1, month, day)


def _bare_day(day: int, issue: date) -> date | None:
    candidate = _safe_date(issue.year, issue.month, day)
    if candidate is not None and candidate <= issue:
        return candidate
    year, month = (issue.year, issue.month - 1) if issue.month > 1 else (issue.year - 1, 12)
    return _safe_date(year, month, day)


def _safe_date(year: int, month: int, day: int) -> date | None:
    if not (1 <= month <= 12 and 1 <= year <= 9999):
        return None
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return date(year, month, day)
