"""End to end: a loopback server's feeds are polled into SQLite and served back as feeds,
read by feedparser and by newsboat, and they contain exactly the stored articles."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess

import aiohttp
import feedparser
import pytest

from aggregator.daemon import make_fetcher, start_server
from aggregator.pipeline import Poller
from aggregator.settings import load_config
from aggregator.sources import load_sources
from aggregator.store import sync_sources
from aggregator.web import init_app
from aggregator.writer import Writer

from .conftest import standard_sources, write_sources


@pytest.fixture
async def system(tmp_path, feed_server):
    """Sources polled once into a real database, and our server running on loopback."""
    feeds = write_sources(tmp_path / "feeds" / "test.toml", standard_sources(feed_server.url))
    config = load_config(
        None, {"db": str(tmp_path / "agg.db"), "feeds": str(feeds.parent), "port": 0}, env={}
    )
    writer = Writer(config.db)
    sources = load_sources([feeds])
    await writer.write(sync_sources, sources)
    async with make_fetcher(config) as fetcher:
        poller = Poller(writer, fetcher, concurrency=4)
        results = [await poller.poll(s) for s in sources]
        runner = await start_server(init_app(config), "127.0.0.1", 0)
        port = runner.addresses[0][1]
        base = f"http://127.0.0.1:{port}"
        try:
            yield {
                "config": config,
                "writer": writer,
                "poller": poller,
                "sources": sources,
                "results": results,
                "base": base,
                "server": feed_server,
                "tmp": tmp_path,
            }
        finally:
            await runner.cleanup()
            writer.close()


def stored_titles(db_path, source_id=None) -> set[str]:
    conn = sqlite3.connect(db_path)
    sql = "SELECT title FROM articles WHERE type = 'article'"
    args = []
    if source_id:
        sql += " AND source_id = ?"
        args.append(source_id)
    titles = {r[0] for r in conn.execute(sql, args)}
    conn.close()
    return titles


async def get(url: str, headers=None) -> tuple[int, dict, bytes]:
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers or {}) as r:
        return r.status, r.headers.copy(), await r.read()


async def test_every_source_polled_and_stored(system):
    assert [r.outcome for r in system["results"]] == ["ok"] * 4, system["results"]
    titles = stored_titles(system["config"].db)
    assert "武进区召开安全生产工作会议" in titles
    assert "牛塘镇推进老旧小区改造" in titles  # Atom
    assert "崇川区家庭医生签约服务提质扩面" in titles  # JSON Feed
    assert "南通市召开疫情防控工作会议" in titles  # GB2312, decoded correctly


async def test_sanitised_content_stored(system):
    conn = sqlite3.connect(system["config"].db)
    html = conn.execute("SELECT content_html FROM articles WHERE key = 'cz-3'").fetchone()[0]
    assert "反诈宣传" in html
    assert "<script" not in html and "onclick" not in html and "javascript:" not in html


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
async def test_feeds_read_back_by_feedparser(system, fmt):
    status, headers, body = await get(f"{system['base']}/feeds/all.{fmt}")
    assert status == 200
    if fmt == "json":  # feedparser 6.0 reads no JSON Feed: check it as JSON
        items = json.loads(body)["items"]
        assert {i["title"] for i in items} == stored_titles(system["config"].db)
        assert all(i["id"] for i in items)
    else:
        parsed = feedparser.parse(body)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert {e.title for e in parsed.entries} == stored_titles(system["config"].db)
        assert all(e.get("id") for e in parsed.entries)
    expected_type = {
        "atom": "application/atom+xml",
        "rss": "application/rss+xml",
        "json": "application/feed+json",
    }[fmt]
    assert headers["Content-Type"].startswith(expected_type)


async def test_source_feed_holds_that_source_only(system):
    status, _, body = await get(f"{system['base']}/feeds/source/wujin.atom")
    assert status == 200
    parsed = feedparser.parse(body)
    assert {e.title for e in parsed.entries} == stored_titles(system["config"].db, "wujin")


async def test_entry_ids_and_updated_are_stable(system):
    _, _, first = await get(f"{system['base']}/feeds/all.atom")
    results = [await system["poller"].poll(s) for s in system["sources"]]
    assert all(r.new == 0 for r in results)
    _, _, second = await get(f"{system['base']}/feeds/all.atom")
    a, b = feedparser.parse(first), feedparser.parse(second)
    assert [e.id for e in a.entries] == [e.id for e in b.entries]
    assert a.feed.updated == b.feed.updated  # the newest entry's time, not the render time


async def test_our_feeds_answer_304_to_their_etag(system):
    url = f"{system['base']}/feeds/all.atom"
    status, headers, _ = await get(url)
    assert status == 200 and headers["ETag"].startswith('"')
    status, _, body = await get(url, {"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""
    status, _, _ = await get(url, {"If-Modified-Since": headers["Last-Modified"]})
    assert status == 304


async def test_gzip_served_when_accepted(system):
    async with (
        aiohttp.ClientSession(auto_decompress=False) as s,
        s.get(f"{system['base']}/feeds/all.rss", headers={"Accept-Encoding": "gzip"}) as r,
    ):
        assert r.headers.get("Content-Encoding") == "gzip"


async def test_index_lists_feeds_with_autodiscovery(system):
    status, headers, body = await get(f"{system['base']}/")
    html = body.decode("utf-8")
    assert status == 200
    assert 'rel="alternate"' in html and "application/atom+xml" in html
    assert "/feeds/source/wujin.atom" in html
    assert "default-src 'none'" in headers["Content-Security-Policy"]


async def test_opml_lists_every_feed(system):
    status, _, body = await get(f"{system['base']}/opml")
    assert status == 200
    for sid in ("changzhou", "wujin", "chongchuan", "nantong"):
        assert f"/feeds/source/{sid}.atom".encode() in body


async def test_health_and_metrics(system):
    status, _, body = await get(f"{system['base']}/healthz")
    assert status == 200 and b'"ok"' in body
    status, _, body = await get(f"{system['base']}/metrics")
    assert status == 200 and b"aggregator_articles 7" in body


async def test_unknown_feed_is_a_helpful_404(system):
    status, headers, body = await get(f"{system['base']}/feeds/source/nope.atom")
    assert status == 404 and "text/html" in headers["Content-Type"]
    assert b'href="/"' in body


@pytest.mark.skipif(shutil.which("newsboat") is None, reason="Debian's newsboat not installed")
async def test_newsboat_reads_our_feeds(system, tmp_path):
    """A real feed reader's view: newsboat reloads our Atom and RSS feeds into its cache."""
    expected = stored_titles(system["config"].db)
    # one cache per format: newsboat keys items by guid, and both formats share story ids
    for suffix in ("atom", "rss"):
        feed = f"{system['base']}/feeds/all.{suffix}"
        urls = tmp_path / f"urls-{suffix}"
        urls.write_text(feed + "\n")
        cache = tmp_path / f"cache-{suffix}.db"
        conf = tmp_path / "config"
        conf.write_text("")
        proc = await asyncio.create_subprocess_exec(
            "newsboat", "-u", str(urls), "-c", str(cache), "-C", str(conf), "-x", "reload",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err
        conn = sqlite3.connect(cache)
        got = {r[0] for r in conn.execute("SELECT title FROM rss_item WHERE feedurl = ?", [feed])}
        link = conn.execute("SELECT url FROM rss_feed WHERE rssurl = ?", [feed]).fetchone()[0]
        conn.close()
        assert link.endswith("/all"), link  # the feed's page is our HTML page
        assert got == expected, (suffix, out, err)
