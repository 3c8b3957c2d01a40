"""Polling policy: when to poll a source next, and what its state means, as pure functions.

Everything here is a function of plain values: the source's configured interval, its
consecutive errors, what the server said on its last responses (Retry-After, Cache-Control
max-age, Expires, RSS <ttl>, permanent redirects) and how many new articles its recent polls
brought. The random jitter is passed in, so every decision is deterministic under test.

The ideas: a busy source is polled more often and a quiet one less, but only within
[interval/4, interval*4], so the configured interval stays the user's word; the server's
freshness hints may stretch the delay (never beyond four intervals); errors back off
exponentially up to a cap and keep probing at the cap, so a source is never silently dead;
and a server's Retry-After always wins, because being polite is not negotiable.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MIN_DELAY = 60  # seconds: never poll one source more often than this
ERROR_CAP = 24 * 3600  # seconds: failing sources are still probed about once a day
RETRY_AFTER_CAP = 7 * 24 * 3600  # a Retry-After beyond a week is a misconfiguration
DEFAULT_429_PAUSE = 60  # seconds to leave a host alone after a 429 without Retry-After
ADAPT_MIN, ADAPT_MAX = 0.25, 4.0  # the adaptive delay stays within these shares of interval
HINT_MAX = 4.0  # freshness hints may stretch the delay to this many intervals
HISTORY = 10  # recent successful polls that make up the publishing rate
MIN_HISTORY = 3  # fewer polls than this are not evidence of a rate
TARGET_NEW = 1.0  # aim for about one new article per poll
REDIRECT_CONFIRMATIONS = 3  # consecutive polls a permanent redirect must be seen on

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.I)
_NO_CACHE = re.compile(r"(?:^|[,\s])(?:no-cache|no-store)(?:$|[,\s=])", re.I)


@dataclass(frozen=True)
class PollState:
    """What the policy knows about a source after a poll."""

    interval: int  # configured seconds between polls
    errors: int = 0  # consecutive failures
    retry_after: int | None = None  # seconds the server asked us to wait (429/503)
    max_age: int | None = None  # Cache-Control max-age / Expires, seconds
    ttl_minutes: int | None = None  # RSS <ttl>
    #: (seconds since the previous successful poll, new articles) of recent successful polls
    history: tuple[tuple[float, int], ...] = ()


# -- the next poll -------------------------------------------------------------------------


def publish_rate(history: Sequence[tuple[float, int]], min_span: float = 0.0) -> float | None:
    """New articles per second over the recent polls; None when there is too little evidence
    (fewer than three polls, or together spanning less than `min_span` seconds)."""
    recent = [(max(e, 0.0), max(n, 0)) for e, n in history[-HISTORY:]]
    span = sum(e for e, _ in recent)
    if len(recent) < MIN_HISTORY or span <= 0 or span < min_span:
        return None
    return sum(n for _, n in recent) / span


def adaptive_interval(interval: int, history: Sequence[tuple[float, int]]) -> float:
    """The interval stretched or shrunk towards about one new article per poll.

    Evidence must span at least one interval (a burst of manual polls says nothing about a
    rate). The delay grows as a silence lasts; bounds keep it in [interval/4, interval*4]."""
    rate = publish_rate(history, min_span=interval)
    if rate is None:
        return float(interval)
    # nothing new over the whole observed span: wait about that span again
    span = sum(max(e, 0.0) for e, _ in history[-HISTORY:])
    wanted = span if rate == 0 else TARGET_NEW / rate
    return min(max(wanted, interval * ADAPT_MIN), interval * ADAPT_MAX)


def error_delay(interval: int, errors: int, jitter: float = 0.0) -> float:
    """Exponential backoff: interval, 2x, 4x … up to the cap (or the interval when longer).

    Jitter spreads retries upwards below the cap and downwards at it, so the delay never
    exceeds the cap and sources failing together do not retry together."""
    cap = max(ERROR_CAP, interval)
    base = min(interval * 2 ** min(max(errors, 1) - 1, 20), cap)
    return min(base * (1 + jitter), cap * (1 - jitter / 2))


def next_delay(state: PollState, jitter: float = 0.0) -> int:
    """Seconds until the next poll; `jitter` is the random share of the delay (0 … 1)."""
    jitter = max(0.0, min(jitter, 1.0))
    if state.errors:
        delay = error_delay(state.interval, state.errors, jitter)
    else:
        base = adaptive_interval(state.interval, state.history)
        hints = [h for h in (state.max_age, (state.ttl_minutes or 0) * 60) if h and h > 0]
        if hints:
            # honour the server's freshness hints, but not beyond four intervals
            base = max(base, min(max(hints), state.interval * HINT_MAX))
        delay = base * (1 + jitter)
    if state.retry_after:
        # nothing is sent before the server's time; one second of margin for clock rounding
        delay = max(delay, min(state.retry_after, RETRY_AFTER_CAP) + 1)
    return int(max(delay, MIN_DELAY))


def next_poll(now: datetime, state: PollState, jitter: float = 0.0) -> datetime:
    return now + timedelta(seconds=next_delay(state, jitter))


def history_from_polls(polls: Sequence[tuple[datetime, int]]) -> tuple[tuple[float, int], ...]:
    """(elapsed, new) pairs from successful polls given oldest first as (started, new).

    The oldest poll only anchors the first interval: its own new articles were collected over
    an unknown span (the very first poll brings a whole feed as new)."""
    out = []
    for (before, _), (at, new) in zip(polls, polls[1:], strict=False):
        out.append(((at - before).total_seconds(), new))
    return tuple(out)


# -- what the server said ------------------------------------------------------------------


def http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def retry_after_seconds(value: str | None, now: datetime, date: str | None = None) -> int | None:
    """Seconds to wait from a Retry-After value (delta-seconds or an HTTP date).

    An HTTP date is measured against the response's own Date header when there is one, so a
    server whose clock differs from ours still gets the pause it asked for."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(int(value), RETRY_AFTER_CAP)
    until = http_date(value)
    if until is None:
        return None
    base = http_date(date) or now
    seconds = (until - base).total_seconds()
    return int(min(max(seconds, 0), RETRY_AFTER_CAP) + 0.999)


def freshness(headers: Mapping[str, str], now: datetime) -> int | None:
    """Seconds the response says it stays fresh (Cache-Control max-age, else Expires).

    `no-cache`/`no-store` and past or invalid Expires mean 0: no reason to wait longer."""
    control = headers.get("cache-control") or ""
    if _NO_CACHE.search(control):
        return 0
    match = _MAX_AGE.search(control)
    if match:
        return int(match.group(1))
    expires = headers.get("expires")
    if expires is None:
        return None
    until = http_date(expires)
    if until is None:
        return 0
    base = http_date(headers.get("date")) or now
    return max(int((until - base).total_seconds()), 0)


# -- redirects -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RedirectState:
    target: str | None  # permanent redirect target seen on the last polls
    count: int  # consecutive polls it was seen on
    move: bool  # the stored URL should change to `target` now


def follow_redirect(target: str | None, count: int, seen: str | None) -> RedirectState:
    """One successful poll's redirect evidence: `seen` is the final URL when every hop was a
    301/308, else None (no redirect, or a temporary one, which never moves the URL)."""
    if not seen:
        return RedirectState(None, 0, False)
    count = count + 1 if seen == target else 1
    if count >= REDIRECT_CONFIRMATIONS:
        return RedirectState(None, 0, True)
    return RedirectState(seen, count, False)


# -- the state, in words -------------------------------------------------------------------


def describe(
    now: datetime,
    *,
    enabled: bool = True,
    disabled_reason: str | None = None,
    errors: int = 0,
    next_poll: datetime | None = None,
    retry_after: datetime | None = None,
    redirect_target: str | None = None,
    redirect_count: int = 0,
) -> str:
    """A short readable state: "ok", "backing off until …", "waiting (Retry-After) until …",
    "disabled: …", with the redirect evidence when there is some."""
    if not enabled:
        text = f"disabled: {disabled_reason}" if disabled_reason else "disabled"
    elif retry_after is not None and retry_after > now:
        text = f"waiting until {_short(retry_after)}: the server asked (Retry-After)"
    elif errors:
        noun = "failure" if errors == 1 else "failures"
        when = f" until {_short(next_poll)}" if next_poll is not None and next_poll > now else ""
        text = f"backing off{when} after {errors} {noun}"
    else:
        text = "ok"
    if enabled and redirect_target:
        text += (f"; moved permanently to {redirect_target} (seen {redirect_count} of "
                 f"{REDIRECT_CONFIRMATIONS} polls)")
    return text


def _short(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
