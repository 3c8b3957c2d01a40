"""The schedule: one APScheduler job per enabled source, inside the daemon's event loop.

Each job polls its source, then moves its own next run to the time the polling policy
decides (adaptive rate, freshness hints, backoff after errors, Retry-After, jitter always);
the decision and its reason in words (`sources.poll_state`) are written in one transaction.
Jobs never overlap for one source (max_instances=1), runs missed during a pause are
coalesced into one, a source that disabled itself (410 Gone) loses its job, and a stop
drains in-flight polls within a deadline and cancels the rest.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

import sqlite_utils
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from . import policy, store
from .model import SourceDef
from .pipeline import Poller, PollResult

log = logging.getLogger("aggregator.scheduler")


class Schedule:
    def __init__(self, poller: Poller, *, jitter: float = 0.1, poll_on_start: bool = True):
        self.poller = poller
        self.jitter = jitter
        self.poll_on_start = poll_on_start
        self.sources: dict[str, SourceDef] = {}
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._inflight: set[asyncio.Task] = set()
        self._stopping = False

    def start(self, sources: Sequence[SourceDef], next_polls: dict[str, str | None],
              disabled: Collection[str] = ()) -> None:
        self._scheduler.start()
        self.load(sources, next_polls, disabled)

    def load(self, sources: Sequence[SourceDef], next_polls: dict[str, str | None],
             disabled: Collection[str] = ()) -> None:
        """Add, change or remove jobs so they match the sources (start and SIGHUP).

        `disabled`: ids the database holds disabled (a source that disabled itself)."""
        wanted = {s.id: s for s in sources if s.enabled and s.id not in disabled}
        for job in self._scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
                log.info("%s: no longer scheduled", job.id)
        now = datetime.now(UTC)
        for i, (sid, source) in enumerate(sorted(wanted.items())):
            old = self.sources.get(sid)
            first = store.parse_iso(next_polls.get(sid))
            if first is None or (self.poll_on_start and first < now):
                # stagger the first polls a little so start-up is not one burst
                first = now + timedelta(seconds=min(i * 0.05, 30))
            if old is not None and old == source and self._scheduler.get_job(sid):
                continue
            trigger = IntervalTrigger(seconds=source.interval,
                                      jitter=int(source.interval * self.jitter) or None)
            self._scheduler.add_job(self._run, trigger, id=sid, args=[sid], replace_existing=True,
                                    next_run_time=first, name=f"poll {sid}")
        self.sources = wanted
        log.info("%d sources scheduled", len(wanted))

    async def _run(self, source_id: str) -> PollResult | None:
        source = self.sources.get(source_id)
        if source is None or self._stopping:
            return None
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            result = await self.poller.poll(source)
        except asyncio.CancelledError:
            # only stop() cancels; whatever the poll wrote was one transaction, or nothing
            log.info("%s: poll cancelled at shutdown", source_id)
            return None
        finally:
            if task is not None:
                self._inflight.discard(task)
        await self._reschedule(source, result)
        return result

    async def _reschedule(self, source: SourceDef, result: PollResult) -> datetime | None:
        """Decide and store the next poll; None when the source is disabled (job dropped)."""
        jitter = random.uniform(0, self.jitter)
        when = await self.poller.writer.write(plan_next_poll, source, store.utcnow(), jitter)
        job = self._scheduler.get_job(source.id)
        if when is None:
            self.sources.pop(source.id, None)
            if job is not None:
                job.remove()
                log.warning("%s: disabled (%s); no longer scheduled", source.id,
                            result.error or "see sources.disabled_reason")
        elif job is not None and not self._stopping:
            job.modify(next_run_time=when)
        return when

    async def stop(self, grace: float) -> tuple[int, int]:
        """Stop taking work, let in-flight polls finish within `grace` seconds, cancel the rest.

        Returns (finished, cancelled)."""
        self._stopping = True
        running = self._scheduler.running
        if running:
            self._scheduler.pause()  # shutdown() would cancel running jobs at once
        pending = set(self._inflight)
        done: set = set()
        still: set = set()
        if pending:
            done, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=5)
        if running:
            self._scheduler.shutdown(wait=False)
        return len(done), len(still)


def recent_polls(db: sqlite_utils.Database, source_id: str) -> list[tuple[datetime, int]]:
    """(started, new articles) of the source's recent successful polls, oldest first."""
    rows = db.execute(
        "SELECT started, new FROM fetches WHERE source_id = ?"
        " AND outcome IN ('ok', 'not-modified', 'unchanged') ORDER BY id DESC LIMIT ?",
        [source_id, policy.HISTORY + 1],
    ).fetchall()
    out = []
    for started, new in reversed(rows):
        moment = store.parse_iso(started)
        if moment is not None:
            out.append((moment, new or 0))
    return out


def plan_next_poll(db: sqlite_utils.Database, source: SourceDef, now: datetime,
                   jitter: float) -> datetime | None:
    """Run the policy on the stored state and write next_poll, poll_state and the observed
    publishing rate (runs on the writer thread, in one transaction)."""
    row = store.source_row(db, source.id) or {}
    if not row.get("enabled", 1) and row.get("disabled_reason"):
        store.update_source(db, source.id, next_poll=None,
                            poll_state=f"disabled: {row['disabled_reason']}")
        return None
    history = policy.history_from_polls(recent_polls(db, source.id))
    retry_until = store.parse_iso(row.get("retry_after"))
    waiting = retry_until is not None and retry_until > now
    state = policy.PollState(
        interval=source.interval,
        errors=row.get("error_count") or 0,
        retry_after=int((retry_until - now).total_seconds()) + 1 if waiting else None,
        max_age=row.get("max_age"),
        ttl_minutes=row.get("ttl"),
        history=history,
    )
    when = policy.next_poll(now, state, jitter)
    rate = policy.publish_rate(history)
    text = policy.describe(
        now, errors=state.errors, next_poll=when, retry_after=retry_until,
        redirect_target=row.get("redirect_target"), redirect_count=row.get("redirect_count") or 0,
    )
    store.update_source(db, source.id, next_poll=store.iso(when), poll_state=text,
                        publish_rate=None if rate is None else round(rate * 86400, 3))
    return when
