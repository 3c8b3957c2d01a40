"""Polling policy: when to poll a source next, as a pure function of its state.

Inputs are plain values (interval, consecutive errors, the server's hints); the random
jitter is passed in, so the function is deterministic under test. Errors back off
exponentially up to a cap and keep probing at the cap: a source is never silently dead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MIN_DELAY = 60  # seconds: never poll one source more often than this
ERROR_CAP = 24 * 3600  # seconds: failing sources are still probed once a day


@dataclass(frozen=True)
class PollState:
    interval: int  # configured seconds between polls
    errors: int = 0  # consecutive failures
    retry_after: int | None = None  # seconds the server asked us to wait (429/503)
    max_age: int | None = None  # Cache-Control max-age / Expires, seconds
    ttl_minutes: int | None = None  # RSS <ttl>


def next_delay(state: PollState, jitter: float = 0.0) -> int:
    """Seconds until the next poll; `jitter` is the random share of the delay to add (≥ 0)."""
    if state.errors:
        base = min(state.interval * 2 ** min(state.errors - 1, 16), ERROR_CAP)
        base = max(base, state.interval)
    else:
        base = state.interval
        hints = [h for h in (state.max_age, state.ttl_minutes and state.ttl_minutes * 60) if h]
        if hints:
            # honour the server's freshness hints, but not beyond four intervals
            base = min(max(base, max(hints)), state.interval * 4)
    delay = base * (1 + max(0.0, min(jitter, 1.0)))
    if state.retry_after:
        delay = max(delay, state.retry_after)
    return int(max(delay, MIN_DELAY))


def next_poll(now: datetime, state: PollState, jitter: float = 0.0) -> datetime:
    return now + timedelta(seconds=next_delay(state, jitter))
