"""The polling policy as a pure function: interval, adaptive rate, hints, backoff, redirects."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import pytest

from aggregator import policy
from aggregator.policy import PollState, next_delay

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
HOUR = 3600


def test_plain_interval_with_jitter_added():
    assert next_delay(PollState(interval=HOUR)) == HOUR
    assert next_delay(PollState(interval=HOUR), jitter=0.1) == int(HOUR * 1.1)


def test_never_more_often_than_a_minute():
    assert next_delay(PollState(interval=10)) == policy.MIN_DELAY
    quiet = PollState(interval=90, history=((90, 50),) * 5)  # very busy: wants 2 s
    assert next_delay(quiet) == policy.MIN_DELAY


@pytest.mark.parametrize("errors, expected", [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16)])
def test_errors_back_off_exponentially(errors, expected):
    assert next_delay(PollState(interval=HOUR, errors=errors)) == HOUR * expected


def test_backoff_stops_at_the_cap_and_keeps_probing_there():
    for errors in (6, 10, 50, 10_000):
        delay = next_delay(PollState(interval=HOUR, errors=errors))
        assert delay == policy.ERROR_CAP  # still probed once a day, never dropped


def test_backoff_jitter_spreads_but_never_exceeds_the_cap():
    delays = {next_delay(PollState(interval=HOUR, errors=30), jitter=j) for j in
              (0.0, 0.03, 0.06, 0.1)}
    assert len(delays) == 4
    assert all(policy.ERROR_CAP * 0.9 <= d <= policy.ERROR_CAP for d in delays)
    low = [next_delay(PollState(interval=HOUR, errors=2), jitter=j) for j in (0.0, 0.1)]
    assert low[1] > low[0]  # below the cap, jitter adds


def test_an_interval_longer_than_the_cap_is_not_shortened_by_errors():
    week = 7 * 24 * HOUR
    assert next_delay(PollState(interval=week, errors=3)) == week


def test_retry_after_always_wins():
    assert next_delay(PollState(interval=600, retry_after=7200)) >= 7200
    assert next_delay(PollState(interval=600, errors=1, retry_after=7200)) >= 7200
    assert next_delay(PollState(interval=600, retry_after=5)) == 600  # shorter: interval
    absurd = next_delay(PollState(interval=600, retry_after=10**9))
    assert absurd == policy.RETRY_AFTER_CAP + 1


def test_freshness_hints_stretch_within_four_intervals():
    assert next_delay(PollState(interval=600, max_age=1800)) == 1800
    assert next_delay(PollState(interval=600, ttl_minutes=60)) == 2400  # capped at 4x
    assert next_delay(PollState(interval=600, max_age=60)) == 600  # never shortens
    assert next_delay(PollState(interval=600, max_age=0)) == 600


def test_adaptive_rate_shrinks_for_busy_and_stretches_for_quiet_sources():
    busy = tuple((HOUR, 6) for _ in range(5))  # six new articles an hour
    assert next_delay(PollState(interval=HOUR, history=busy)) == HOUR // 4  # bound: /4
    some = tuple((HOUR, 2) for _ in range(5))  # two an hour: poll every half hour
    assert next_delay(PollState(interval=HOUR, history=some)) == HOUR // 2
    quiet = tuple((HOUR, 0) for _ in range(3))  # nothing for three hours
    assert next_delay(PollState(interval=HOUR, history=quiet)) == 3 * HOUR
    silent = tuple((HOUR, 0) for _ in range(10))
    assert next_delay(PollState(interval=HOUR, history=silent)) == 4 * HOUR  # bound: x4


def test_too_little_history_is_not_evidence():
    assert policy.publish_rate(((HOUR, 9), (HOUR, 9))) is None
    assert next_delay(PollState(interval=HOUR, history=((HOUR, 0),) * 2)) == HOUR
    # a burst of manual polls a second apart says nothing about the publishing rate
    burst = ((1.0, 0),) * 10
    assert next_delay(PollState(interval=HOUR, history=burst)) == HOUR
    assert next_delay(PollState(interval=HOUR, history=((1.0, 5),) * 10)) == HOUR


def test_history_from_polls_excludes_the_first_polls_articles():
    t = NOW
    polls = [(t, 50), (t + timedelta(hours=1), 2), (t + timedelta(hours=3), 4)]
    assert policy.history_from_polls(polls) == ((3600.0, 2), (7200.0, 4))
    assert policy.history_from_polls(polls[:1]) == ()


def test_retry_after_in_seconds_and_as_http_dates():
    assert policy.retry_after_seconds("120", NOW) == 120
    date = email.utils.format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert policy.retry_after_seconds(date, NOW) == 90
    # measured against the response's own Date: our clock may differ from the server's
    server_now = email.utils.format_datetime(NOW - timedelta(hours=1), usegmt=True)
    later = email.utils.format_datetime(NOW - timedelta(hours=1) + timedelta(seconds=30),
                                        usegmt=True)
    assert policy.retry_after_seconds(later, NOW, server_now) == 30
    assert policy.retry_after_seconds("soon", NOW) is None
    assert policy.retry_after_seconds(None, NOW) is None
    past = email.utils.format_datetime(NOW - timedelta(seconds=30), usegmt=True)
    assert policy.retry_after_seconds(past, NOW) == 0


def test_freshness_from_cache_control_and_expires():
    assert policy.freshness({"cache-control": "public, max-age=900"}, NOW) == 900
    assert policy.freshness({"cache-control": "no-cache"}, NOW) == 0
    assert policy.freshness({"cache-control": "private, no-store"}, NOW) == 0
    expires = email.utils.format_datetime(NOW + timedelta(minutes=20), usegmt=True)
    assert policy.freshness({"expires": expires}, NOW) == 1200
    assert policy.freshness({"expires": "0"}, NOW) == 0
    assert policy.freshness({}, NOW) is None
    # max-age wins over Expires, as in HTTP caching
    assert policy.freshness({"cache-control": "max-age=60", "expires": expires}, NOW) == 60


def test_permanent_redirect_moves_after_three_consecutive_polls():
    s = policy.follow_redirect(None, 0, "http://b/feed")
    assert (s.target, s.count, s.move) == ("http://b/feed", 1, False)
    s = policy.follow_redirect(s.target, s.count, "http://b/feed")
    assert (s.count, s.move) == (2, False)
    s = policy.follow_redirect(s.target, s.count, "http://b/feed")
    assert s.move and s.target is None and s.count == 0


def test_redirect_evidence_resets_on_a_gap_or_a_new_target():
    s = policy.follow_redirect("http://b/feed", 2, None)  # a poll without it
    assert (s.target, s.count, s.move) == (None, 0, False)
    s = policy.follow_redirect("http://b/feed", 2, "http://c/feed")
    assert (s.target, s.count, s.move) == ("http://c/feed", 1, False)


def test_state_in_words():
    later = NOW + timedelta(hours=2)
    assert policy.describe(NOW) == "ok"
    text = policy.describe(NOW, errors=3, next_poll=later)
    assert text.startswith("backing off until 2026-11-20 10:00 UTC") and "3 failures" in text
    text = policy.describe(NOW, errors=1, retry_after=later)
    assert text.startswith("waiting until 2026-11-20 10:00 UTC") and "Retry-After" in text
    text = policy.describe(NOW, enabled=False, disabled_reason="gone (410)")
    assert text == "disabled: gone (410)"
    text = policy.describe(NOW, redirect_target="http://b/feed", redirect_count=2)
    assert "moved permanently to http://b/feed (seen 2 of 3 polls)" in text
