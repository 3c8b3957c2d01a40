"""The poller against a loopback server: conditional GET, updates, and bad sources."""

from __future__ import annotations

import sqlite3

import pytest

from aggregator.daemon import make_fetcher
from aggregator.pipeline import Poller
from aggregator.settings import load_config
from aggregator.sources import load_sources
from aggregator.store import sync_sources
from aggregator.writer import Writer

from .conftest import CHANGZHOU_ITEMS, rss, standard_sources, write_sources


@pytest.fixture
async def harness(tmp_path, feed_server):
    async def make(sources, **settings):
        feeds = write_sources(tmp_path / "feeds" / "t.toml", sources)
        config = load_config(None, {"db": str(tmp_path / "agg.db"), **settings}, env={})
        writer = Writer(config.db)
        defs = load_sources([feeds])
        await writer.write(sync_sources, defs)
        fetcher = make_fetcher(config)
        await fetcher.__aenter__()
        made.append((writer, fetcher))
        return Poller(writer, fetcher, concurrency=8), {d.id: d for d in defs}, config

    made: list = []
    yield make
    for writer, fetcher in made:
        await fetcher.__aexit__(None, None, None)
        writer.close()


def count(db: str, sql: str, *args) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


async def test_second_poll_is_conditional_and_stores_nothing(harness, feed_server):
    poller, defs, config = await harness(standard_sources(feed_server.url))
    first = await poller.poll(defs["changzhou"])
    assert first.outcome == "ok" and first.new == 3
    second = await poller.poll(defs["changzhou"])
    assert second.outcome == "not-modified" and second.new == 0
    sent = feed_server.hits("/cz.xml")[-1]["headers"]
    assert sent.get("If-None-Match", "").startswith('"')
    assert "If-Modified-Since" in sent
    assert "aggregator/" in sent["User-Agent"]
    assert count(config.db, "SELECT count(*) FROM articles") == 3
    outcomes = [
        r[0]
        for r in sqlite3.connect(config.db).execute(
            "SELECT outcome FROM fetches WHERE source_id = 'changzhou' ORDER BY id"
        )
    ]
    assert outcomes == ["ok", "not-modified"]


async def test_changed_entry_updates_its_row_not_a_duplicate(harness, feed_server):
    poller, defs, config = await harness(standard_sources(feed_server.url))
    await poller.poll(defs["changzhou"])
    items = [dict(i) for i in CHANGZHOU_ITEMS]
    items[0]["html"] = "<p>更正：11月19日，武进区召开安全生产工作会议，部署冬季消防工作。</p>"
    items.append(
        {
            "guid": "cz-4",
            "title": "新的一条",
            "link": "http://news.example.cn/cz/4.html",
            "date": "Sat, 21 Nov 2026 08:00:00 +0800",
            "html": "<p>新内容。</p>",
        }
    )
    feed_server.set("/cz.xml", rss("常州日报", items))
    result = await poller.poll(defs["changzhou"])
    assert (result.new, result.updated) == (1, 1)
    assert count(config.db, "SELECT count(*) FROM articles") == 4
    assert count(config.db, "SELECT count(*) FROM articles WHERE text LIKE '更正%'") == 1


async def test_same_body_with_new_etag_is_unchanged(harness, feed_server):
    poller, defs, config = await harness(standard_sources(feed_server.url))
    await poller.poll(defs["changzhou"])
    conn = sqlite3.connect(config.db)
    conn.execute("UPDATE sources SET etag = '\"stale\"' WHERE id = 'changzhou'")
    conn.commit()
    conn.close()
    result = await poller.poll(defs["changzhou"])
    assert result.outcome == "unchanged"


async def test_bad_sources_are_recorded_and_do_not_stop_others(harness, feed_server):
    feed_server.set("/broken.xml", b"<?xml version='1.0'?><rss><channel><title>x</ti")
    feed_server.set(
        "/page.html",
        "<!doctype html><html><head><title>首页</title></head>"
        "<body><p>欢迎访问</p></body></html>".encode(),
        "text/html",
    )
    feed_server.delays["/slow.xml"] = 5
    feed_server.set("/slow.xml", rss("慢", CHANGZHOU_ITEMS))
    sources = standard_sources(feed_server.url)[:1] + [
        {"id": "missing", "name": "缺失", "url": f"{feed_server.url}/nope.xml"},
        {"id": "broken", "name": "坏的", "url": f"{feed_server.url}/broken.xml"},
        {"id": "htmlpage", "name": "网页", "url": f"{feed_server.url}/page.html"},
        {"id": "slow", "name": "慢", "url": f"{feed_server.url}/slow.xml"},
    ]
    poller, defs, config = await harness(sources, timeout=1.0)
    import asyncio

    results = {
        r.source_id: r for r in await asyncio.gather(*(poller.poll(d) for d in defs.values()))
    }
    assert results["changzhou"].outcome == "ok"
    conn = sqlite3.connect(config.db)
    errors = dict(conn.execute("SELECT id, last_error FROM sources WHERE error_count > 0"))
    assert set(errors) == {"missing", "broken", "htmlpage", "slow"}
    assert "404" in errors["missing"]
    assert "HTML" in errors["htmlpage"] or "not a feed" in errors["htmlpage"]
    assert "timed out" in errors["slow"]
    assert errors["broken"]
    assert conn.execute("SELECT count(*) FROM fetches WHERE outcome = 'error'").fetchone()[0] == 4
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 3
