"""The daemon: scheduler and server in one asyncio process, with a clean start and stop.

Start-up opens (and migrates) the database, syncs the source definitions, starts polling
and serving, and says where it listens and where the data is. SIGTERM/SIGINT stop taking
work, drain in-flight polls within `shutdown_grace`, close everything and log one summary
line; SIGHUP reloads `feeds/*.toml`. Every poll is one transaction, so even `kill -9` loses
nothing that was committed and a restart resumes from the stored schedule, including the
Retry-After holds on hosts (the poller reloads them) and sources that disabled themselves
(410 Gone: never scheduled again until their URL is edited).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from aiohttp import web

from . import store
from .errors import AggregatorError
from .fetch import Fetcher, default_user_agent
from .model import SourceDef
from .pipeline import Poller
from .scheduler import Schedule
from .settings import Config
from .sources import load_sources, source_files
from .web import init_app, notify_changed
from .writer import Readers, Writer

log = logging.getLogger("aggregator")


def read_sources(config: Config) -> list[SourceDef]:
    files = source_files(config.feeds)
    if not files:
        log.warning("no source definitions found at %s", config.feeds)
    return load_sources(files)


def make_fetcher(config: Config) -> Fetcher:
    return Fetcher(
        timeout=config.timeout,
        connect_timeout=config.connect_timeout,
        max_bytes=config.max_bytes,
        user_agent=config.user_agent or default_user_agent(config.public_url),
        per_host=config.per_host,
        concurrency=max(config.concurrency, 1) * 2,
    )


async def _schedule_state(writer: Writer) -> tuple[dict[str, str | None], set[str]]:
    """Each source's stored next poll, and the sources the database holds disabled."""
    rows = await writer.call(
        lambda db: list(db.query("SELECT id, next_poll, enabled FROM sources")))
    return {r["id"]: r["next_poll"] for r in rows}, {r["id"] for r in rows if not r["enabled"]}


async def start_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    return runner


async def run_daemon(config: Config, *, serve: bool = True, poll: bool = True) -> int:
    """Run until a stop signal; returns the process exit code."""
    sources = read_sources(config)
    writer = Writer(config.db)
    await writer.start()
    await writer.write(store.sync_sources, sources)
    db_path = Path(config.db).resolve()
    log.info("database: %s", db_path)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    reload_requested = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload_requested.set)

    readers = Readers(config.db)
    runner = None
    finished = cancelled = 0
    async with make_fetcher(config) as fetcher:
        apps: list[web.Application] = []
        poller = Poller(writer, fetcher, topics_file=config.topics or None,
                        concurrency=config.concurrency,
                        on_stored=lambda: [notify_changed(a) for a in apps])
        schedule = Schedule(poller, jitter=config.jitter, poll_on_start=config.poll_on_start)
        try:
            if serve:
                # one gazetteer and taxonomy in memory, shared by tagging and serving
                tagger = await writer.call(poller.tagger)
                app = init_app(config, readers, tagger, writer=writer)
                apps.append(app)  # new articles are pushed to WebSub subscribers at once
                runner = await start_server(app, config.host, config.port)
                log.info("serving on http://%s:%d/ (feeds at %sfeeds/all.atom)",
                         config.host, config.port, config.public_url)
            if poll:
                schedule.start(sources, *await _schedule_state(writer))
            while not stop.is_set():
                waiter = asyncio.ensure_future(reload_requested.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                if reload_requested.is_set() and not stop.is_set():
                    reload_requested.clear()
                    try:
                        sources = read_sources(config)
                    except AggregatorError as exc:
                        log.error("reload failed, keeping the old sources: %s", exc)
                        continue
                    await writer.write(store.sync_sources, sources)
                    if poll:
                        schedule.load(sources, *await _schedule_state(writer))
                    log.info("reloaded %d sources", len(sources))
            log.info("stopping: no new polls; waiting up to %gs for running ones",
                     config.shutdown_grace)
            finished, cancelled = await schedule.stop(config.shutdown_grace)
        finally:
            if runner is not None:
                await runner.cleanup()
    readers.close()
    writer.close()
    log.info("stopped: %d polls finished, %d cancelled; database closed cleanly",
             finished, cancelled)
    return 0
