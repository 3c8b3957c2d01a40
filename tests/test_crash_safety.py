"""Crash safety with real processes: `kill -9` at random moments of a poll, an import and a
migration leaves a database that passes `PRAGMA integrity_check`, holds every committed
article whole and none half-written, and a restart resumes. A reader holding a long read
transaction does not stop the daemon; a full disk is a clear error and no corruption.

The kill moments are random but seeded (each failure can be replayed), their number fixed,
and every wait bounded in time."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import sqlite3
import sys
from pathlib import Path

import aiohttp
import feedparser

from aggregator import store
from aggregator.fetch import Fetcher
from aggregator.model import SourceDef
from aggregator.pipeline import Poller
from aggregator.store import open_db, sync_sources
from aggregator.writer import Writer

from . import faultserver as fs
from .conftest import write_sources
from .test_daemon_process import free_port, start_daemon, stop, wait_for

REPO = Path(__file__).resolve().parents[1]


def q(db: Path, sql: str, *args):
    # read-write, though it only reads: after a kill -9 the first opener replays the WAL,
    # which a read-only connection cannot do
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def assert_whole(db: Path, *, polled: bool = True) -> int:
    """integrity_check passes, every article is whole; returns the number of articles."""
    assert q(db, "PRAGMA integrity_check")[0][0] == "ok"
    articles = q(db, "SELECT count(*) FROM articles")[0][0]
    assert q(db, "SELECT count(*) FROM articles_fts")[0][0] == articles
    assert q(db, "SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM"
                 " story_articles s WHERE s.article_id = a.id)")[0][0] == 0
    assert q(db, "SELECT count(*) FROM story_articles s WHERE NOT EXISTS (SELECT 1 FROM"
                 " articles a WHERE a.id = s.article_id)")[0][0] == 0
    if polled:
        # the poll's fetch record and its articles are one transaction
        assert q(db, "SELECT coalesce(sum(new), 0) FROM fetches")[0][0] == articles
    return articles


def keys(db: Path) -> list[tuple]:
    return q(db, "SELECT source_id, key, uid FROM articles ORDER BY source_id, key")


async def test_kill_9_at_random_moments_of_polling(tmp_path):
    rng = random.Random(20261120)
    n_sources, first, more, rounds = 8, 16, 6, 3
    total = first + more * rounds  # items per source once every round has added its own

    def publish(count: int) -> None:
        for i in range(n_sources):
            server.set(f"/s{i}.xml", fs.rss(f"s{i}", fs.news_items(f"s{i}", count)))

    async with fs.fault_server() as server:
        publish(first)
        sources = [{"id": f"s{i}", "name": f"源{i}", "url": f"{server.url}/s{i}.xml",
                    "interval": "1h"} for i in range(n_sources)]
        feeds = write_sources(tmp_path / "feeds" / "t.toml", sources)
        db = tmp_path / "agg.db"
        port = free_port()
        kills: list[int] = []
        previous: list[tuple] = []
        for round_ in range(rounds):
            if round_:
                # every round has new articles to write, and every source is due again
                publish(first + more * round_)
                with sqlite3.connect(db) as conn:
                    conn.execute("UPDATE sources SET next_poll = NULL")
                conn.close()
            before = len(previous)
            proc = await start_daemon(tmp_path, str(feeds.parent), port, f"run{round_}.log")
            try:
                async def writing(before=before):
                    return len(keys(db)) > before

                started = await wait_for(writing, timeout=60, interval=0.02)
                await asyncio.sleep(rng.uniform(0, 0.6))
            finally:
                proc.kill()
                await stop(proc, signal.SIGKILL)
            assert started, (tmp_path / f"run{round_}.log").read_text()
            committed = keys(db)
            kills.append(len(committed))
            assert assert_whole(db) == len(committed)
            assert set(previous) <= set(committed)  # nothing committed was lost
            previous = committed
        publish(total)
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE sources SET next_poll = NULL")
        conn.close()
        proc = await start_daemon(tmp_path, str(feeds.parent), port, "final.log")
        try:
            async def all_there():
                return len(keys(db)) == n_sources * total

            assert await wait_for(all_there, timeout=60), (tmp_path / "final.log").read_text()
        finally:
            assert await stop(proc) == 0
    final = keys(db)
    assert set(previous) <= set(final)
    assert len({(s, k) for s, k, _ in final}) == len(final) == n_sources * total
    assert assert_whole(db) == n_sources * total
    print(f"\nkilled with {kills} articles committed; resumed to {len(final)}")


def jsonl(path: Path, n: int) -> Path:
    items = fs.news_items("imp", n)
    with path.open("w", encoding="utf-8") as fh:
        for i, it in enumerate(items):
            fh.write(json.dumps({"id": f"imp-{i}", "outlet": f"outlet{i % 5}",
                                 "title": it["title"], "published": "2026-11-20T08:00:00+08:00",
                                 "url": it["link"], "body": it["html"].replace("<p>", "")
                                 .replace("</p>", "\n\n")}, ensure_ascii=False) + "\n")
    return path


async def test_kill_9_at_random_moments_of_an_import(tmp_path):
    rng = random.Random(7)
    n, batch = 240, 20
    data = jsonl(tmp_path / "big.jsonl", n)
    db = tmp_path / "agg.db"
    env = {**os.environ, "AGGREGATOR_DB": str(db), "AGGREGATOR_CONFIG": "",
           "AGGREGATOR_FEEDS": str(tmp_path / "nofeeds")}
    cmd = [sys.executable, "-m", "aggregator.cli", "import", str(data), "--batch", str(batch)]
    seen = []
    for _ in range(2):
        before = q(db, "SELECT count(*) FROM articles")[0][0] if db.exists() else 0
        proc = await asyncio.create_subprocess_exec(*cmd, env=env, cwd=tmp_path,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.DEVNULL)
        try:
            async def writing(before=before):
                return db.exists() and q(db, "SELECT count(*) FROM articles")[0][0] > before

            assert await wait_for(writing, timeout=40, interval=0.02)
            await asyncio.sleep(rng.uniform(0, 0.3))
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
        count = assert_whole(db, polled=False)
        seen.append(count)
        if count < n:
            assert count % batch == 0  # whole batches only: each is one transaction
    proc = await asyncio.create_subprocess_exec(*cmd, env=env, cwd=tmp_path,
                                                stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    assert await asyncio.wait_for(proc.wait(), 90) == 0
    assert assert_whole(db, polled=False) == n
    assert q(db, "SELECT count(DISTINCT ext_id) FROM articles")[0][0] == n
    print(f"\nimport killed at {seen} articles; resumed to {n}")


_MIGRATE = (
    "import sys; from aggregator import store; sys.stdout.write('ready\\n'); sys.stdout.flush();"
    " sys.stdin.readline(); store.open_db(sys.argv[1]); print('done')"
)


def _applied(db: Path) -> tuple[set[int], set[str], set[str]]:
    tables = {r[0] for r in q(db, "SELECT name FROM sqlite_master")}
    versions = {r[0] for r in q(db, "SELECT version FROM schema_migrations")} \
        if "schema_migrations" in tables else set()
    columns = {r[1] for r in q(db, "PRAGMA table_info(sources)")}
    return versions, tables, columns


def version_3(db: Path) -> None:
    """A database as the release before 0004 left it, with a few sources."""
    conn = store.connect(db)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                 " name TEXT NOT NULL, applied TEXT NOT NULL)")
    for version, name, sql in store.migrations():
        if version <= 3:
            conn.executescript(f"BEGIN;\n{sql}\n;INSERT INTO schema_migrations VALUES"
                               f" ({version}, '{name}', '2026-01-01T00:00:00+00:00');COMMIT;")
    conn.executemany("INSERT INTO sources (id, name, url, kind, interval) VALUES (?, ?, ?,"
                     " 'feed', 3600)", [(f"s{i}", f"源{i}", f"http://e.cn/{i}.xml")
                                        for i in range(50)])
    conn.close()


async def test_kill_9_at_random_moments_of_a_migration(tmp_path):
    rng = random.Random(42)
    states = []
    for attempt in range(8):
        db = tmp_path / f"m{attempt}.db"
        if attempt % 2:  # half of them upgrade a version-3 database that holds sources
            version_3(db)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _MIGRATE, str(db), cwd=REPO,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        assert (await asyncio.wait_for(proc.stdout.readline(), 30)) == b"ready\n"
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
        await asyncio.sleep(rng.uniform(0, 0.04))
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        if not db.exists():
            states.append("no file")
            continue
        assert q(db, "PRAGMA integrity_check")[0][0] == "ok"
        versions, tables, columns = _applied(db)
        states.append(max(versions, default=0))
        # each migration is all or nothing, and recorded exactly when applied
        assert versions == set(range(1, len(versions) + 1)) or versions >= {1, 2, 3, 4}
        assert ("stories" in tables) == (3 in versions)
        if 3 in versions:
            assert ("poll_state" in columns) == (4 in versions)
        # a restart completes it
        conn = open_db(db).conn
        conn.close()
        versions, _, columns = _applied(db)
        assert {1, 2, 3, 4} <= versions and "poll_state" in columns
        if attempt % 2:
            moved = q(db, "SELECT count(*) FROM sources WHERE defined_url = url")[0][0]
            assert moved == 50
        assert q(db, "PRAGMA integrity_check")[0][0] == "ok"
    print(f"\nschema version found after each kill: {states}")


async def test_a_long_read_transaction_does_not_stop_polling_or_publishing(tmp_path):
    async with fs.fault_server() as server:
        sources = []
        for i in range(4):
            server.set(f"/r{i}.xml", fs.rss(f"r{i}", fs.news_items(f"r{i}", 10)))
            sources.append({"id": f"r{i}", "name": f"读{i}", "url": f"{server.url}/r{i}.xml"})
        feeds = write_sources(tmp_path / "feeds" / "t.toml", sources)
        db = tmp_path / "agg.db"
        open_db(db).conn.close()
        # a user's sqlite3 shell: BEGIN; SELECT …; and then nothing, for the whole test
        reader = sqlite3.connect(db, isolation_level=None)
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
        port = free_port()
        proc = await start_daemon(tmp_path, str(feeds.parent), port)
        try:
            async def published():
                async with (aiohttp.ClientSession() as s,
                            s.get(f"http://127.0.0.1:{port}/feeds/all.atom") as r):
                    return r.status == 200 and len(feedparser.parse(await r.read()).entries) == 40

            assert await wait_for(published, timeout=40), (tmp_path / "daemon.log").read_text()
            # the reader still sees its snapshot; the daemon was never blocked by it
            assert reader.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
            wal = (tmp_path / "agg.db-wal").stat().st_size
        finally:
            assert await stop(proc) == 0
            reader.execute("COMMIT")
            reader.close()
    assert q(db, "SELECT count(*) FROM articles")[0][0] == 40
    assert q(db, "PRAGMA integrity_check")[0][0] == "ok"
    print(f"\nWAL grew to {wal / 1e6:.1f} MB behind the open reader")


async def test_a_full_disk_is_a_clear_error_and_no_corruption(tmp_path, caplog):
    async with fs.fault_server() as server:
        server.set("/small.xml", fs.rss("small", fs.news_items("small", 3)))
        server.set("/big.xml", fs.rss("big", fs.news_items("big", 150)))
        defs = [SourceDef("small", "small", f"{server.url}/small.xml"),
                SourceDef("big", "big", f"{server.url}/big.xml")]
        db = tmp_path / "agg.db"
        writer = Writer(db)
        await writer.write(sync_sources, defs)
        try:
            async with Fetcher(timeout=5) as fetcher:
                poller = Poller(writer, fetcher)
                assert (await poller.poll(defs[0])).new == 3
                # SQLITE_FULL on the writer's connection: the file may not grow any more
                await writer.call(lambda d: d.execute(
                    f"PRAGMA max_page_count = {d.execute('PRAGMA page_count').fetchone()[0] + 2}"))
                with caplog.at_level(logging.ERROR, logger="aggregator.poll"):
                    result = await poller.poll(defs[1])
                assert result.outcome == "error"
                assert result.error.startswith("database or disk is full: free space on ")
                assert str(tmp_path) in result.error
                assert any("database or disk is full: free space on" in r.getMessage()
                           for r in caplog.records if r.levelno >= logging.ERROR)
                assert q(db, "SELECT count(*) FROM articles WHERE source_id = 'big'")[0][0] == 0
                assert assert_whole(db) == 3
                # space again: the next poll stores it all
                await writer.call(lambda d: d.execute("PRAGMA max_page_count = 1073741823"))
                again = await poller.poll(defs[1])
                assert again.outcome == "ok" and again.new == 150
        finally:
            writer.close()
    assert assert_whole(db) == 153

