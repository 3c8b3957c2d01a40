"""The schedule: one APScheduler job per enabled source, inside the daemon's event loop.

Each job polls its source, then moves its own next run to the time the polling policy
decides (backoff after errors, jitter always). Jobs never overlap for one source
(max_instances=1), runs missed during a pause are coalesced into one, and a stop drains
in-flight polls within a deadline and cancels the rest.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from . import store
from .model import SourceDef
from .pipeline import Poller, PollResult
from .policy import PollState, next_poll

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

    def start(self, sources: Sequence[SourceDef], next_polls: dict[str, str | None]) -> None:
        self._scheduler.start()
        self.load(sources, next_polls)

    def load(self, sources: Sequence[SourceDef], next_polls: dict[str, str | None]) -> None:
        """Add, change or remove jobs so they match the sources (start and SIGHUP)."""
        wanted = {s.id: s for s in sources if s.enabled}
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

    async def _reschedule(self, source: SourceDef, result: PollResult) -> None:
        row = await self.poller.writer.call(store.source_row, source.id) or {}
        when = next_poll(
            datetime.now(UTC),
            PollState(interval=source.interval, errors=row.get("error_count") or 0),
            random.uniform(0, self.jitter),
        )
        await self.poller.writer.write(
            lambda db: store.update_source(db, source.id, next_poll=store.iso(when)))
        job = self._scheduler.get_job(source.id)
        if job is not None and not self._stopping:
            job.modify(next_run_time=when)

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
