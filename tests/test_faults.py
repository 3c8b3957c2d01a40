"""Bad input from the fault server: each fault gets a clear recorded reason, the other
sources are unaffected, nothing is stored half, and nothing hostile reaches our own feeds."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from urllib.parse import urlsplit

import aiohttp
import pytest
from lxml import etree

from aggregator.daemon import start_server
from aggregator.errors import FetchError
from aggregator.fetch import Fetcher
from aggregator.model import SourceDef
from aggregator.pipeline import Poller
from aggregator.settings import load_config
from aggregator.store import sync_sources
from aggregator.web import init_app
from aggregator.writer import Writer

from . import faultserver as fs

CAP = 1_000_000
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def make_fetcher(**kw) -> Fetcher:
    settings = dict(timeout=2.0, connect_timeout=0.5, read_timeout=0.5, max_bytes=CAP,
                    per_host=8, concurrency=64)
    settings.update(kw)
    return Fetcher(**settings)


@pytest.fixture
async def server():
    async with fs.fault_server() as s:
        yield s


@pytest.fixture
async def rig(tmp_path):
    """A real writer and fetcher; `add(defs)` syncs sources and returns a Poller."""
    made = []

    async def make(defs, **fetch):
        writer = Writer(tmp_path / "agg.db")
        await writer.write(sync_sources, defs)
        fetcher = make_fetcher(**fetch)
        await fetcher.__aenter__()
        made.append((writer, fetcher))
        return Poller(writer, fetcher, concurrency=32), {d.id: d for d in defs}

    yield make
    for writer, fetcher in made:
        await fetcher.__aexit__(None, None, None)
        writer.close()


def db_rows(path, sql, *args) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def assert_nothing_half(db) -> None:
    """Every article complete: its fetch counted it, its full-text row and story exist."""
    (articles,) = db_rows(db, "SELECT count(*) FROM articles")[0]
    (counted,) = db_rows(db, "SELECT coalesce(sum(new), 0) FROM fetches")[0]
    assert counted == articles
    assert db_rows(db, "SELECT count(*) FROM articles_fts")[0][0] == articles
    orphans = db_rows(db, "SELECT count(*) FROM articles a WHERE NOT EXISTS"
                          " (SELECT 1 FROM story_articles s WHERE s.article_id = a.id)")[0][0]
    assert orphans == 0
    assert db_rows(db, "PRAGMA integrity_check")[0][0] == "ok"


async def test_every_fault_recorded_with_a_clear_reason_others_unaffected(server, rig,
                                                                         tmp_path):
    for name, (doc, ctype, _) in fs.bad_documents().items():
        server.set(f"/{name}.xml", doc, ctype)
    server.set("/good1.xml", fs.rss("好一", fs.news_items("g1", 4)))
    server.set("/good2.xml", fs.rss("好二", fs.news_items("g2", 3)))
    server.forever("/stall.xml", fs.stall(5))
    server.forever("/drip.xml", fs.drip(0.05))
    server.forever("/endless.xml", fs.endless(200_000_000))
    server.forever("/declared.xml", fs.declared_huge(1_000_000_000))
    server.forever("/bomb.xml", fs.gzip_bomb(200_000_000))
    server.forever("/error500.xml", fs.status(500))
    paths = ["good1", "good2", *fs.bad_documents(), "stall", "drip", "endless", "declared",
             "bomb", "error500", "missing"]
    with fs.blackhole() as dead:
        defs = [SourceDef(p, p, f"{server.url}/{p}.xml") for p in paths]
        defs.append(SourceDef("dead", "dead", dead))
        poller, by_id = await rig(defs)
        results = {r.source_id: r for r in await asyncio.wait_for(
            asyncio.gather(*(poller.poll(d) for d in defs)), 20)}
    db = tmp_path / "agg.db"
    errors = dict(db_rows(db, "SELECT id, last_error FROM sources WHERE error_count > 0"))
    warnings = dict(db_rows(db, "SELECT source_id, error FROM fetches WHERE outcome = 'ok'"))
    counts = dict(db_rows(db, "SELECT source_id, count(*) FROM articles GROUP BY source_id"))

    # the good sources are unaffected by everything around them
    assert results["good1"].outcome == "ok" and counts["good1"] == 4
    assert results["good2"].outcome == "ok" and counts["good2"] == 3
    # timeouts: connect, read (a stall), total (a slow drip)
    assert "connect timed out after 0.5s" in errors["dead"]
    assert "read timed out" in errors["stall"] and "stalled" in errors["stall"]
    assert "timed out after 2s in total" in errors["drip"]
    assert "too slowly" in errors["drip"]
    # size caps: streamed, declared, and after decompression
    assert "body too large" in errors["endless"] and "stopped reading" in errors["endless"]
    assert server.sent_bytes["/endless.xml"] < 40_000_000  # we hung up long before 200 MB
    assert "1,000,000,000 bytes declared" in errors["declared"]
    assert "after decompression" in errors["bomb"]
    # statuses
    assert "HTTP 500" in errors["error500"]
    assert "HTTP 404" in errors["missing"] and "check the URL" in errors["missing"]
    # documents
    assert "not a feed: got an HTML page" in errors["html"]
    assert "某某区人民政府" in errors["html"]
    assert "malformed XML" in warnings["truncated"] and counts["truncated"] == 2
    assert "malformed XML" in (warnings.get("malformed") or errors.get("malformed") or "")
    assert "charset" in warnings["gbk"]
    (title,) = db_rows(db, "SELECT title FROM articles WHERE source_id = 'gbk'")[0]
    assert title == "南通市召开疫情防控工作会议"
    # exactly the failing sources failed, each once, and nothing was stored half
    failing = {"dead", "stall", "drip", "endless", "declared", "bomb", "error500", "missing",
               "html"}
    assert failing <= set(errors)
    assert set(errors) - failing <= {"malformed"}  # lenient or rejected: either, consistently
    for sid in failing:
        assert results[sid].outcome == "error"
        assert sid not in counts
    assert_nothing_half(db)


async def test_odd_entries_are_stored_once_each_with_sane_fields(server, rig, tmp_path):
    docs = fs.bad_documents()
    for name in ("noguid", "dates", "relative"):
        server.set(f"/{name}.xml", docs[name][0], docs[name][1])
    defs = [SourceDef(n, n, f"{server.url}/{n}.xml") for n in ("noguid", "dates", "relative")]
    poller, _ = await rig(defs)
    for d in defs:
        assert (await poller.poll(d)).outcome == "ok"
    again = [await poller.poll(d) for d in defs]  # a second poll duplicates nothing
    assert all(r.new == 0 for r in again)
    db = tmp_path / "agg.db"
    titles = [r[0] for r in db_rows(db, "SELECT title FROM articles WHERE source_id='noguid'")]
    assert sorted(titles) == sorted(
        ["没有guid的第一条", "没有guid的第二条", "重复guid甲", "重复guid乙", "既无guid也无链接"])
    keys = [r[0] for r in db_rows(db, "SELECT key FROM articles WHERE source_id='noguid'")]
    assert len(set(keys)) == len(keys)
    rows = {r[0]: r[1:] for r in db_rows(
        db, "SELECT title, published, sort_time, fetched FROM articles WHERE source_id='dates'")}
    assert rows["没有日期"][0] is None and rows["没有日期"][1] == rows["没有日期"][2]
    # an unreadable date never becomes a future one (lenient readers may guess a date)
    assert rows["奇怪的日期"][0] is None or rows["奇怪的日期"][0] <= rows["奇怪的日期"][2]
    assert rows["纪元零点"][0] is None
    assert rows["未来的日期"][0] <= rows["未来的日期"][2]  # clamped to the fetch time
    url, html = db_rows(db, "SELECT url, content_html FROM articles WHERE source_id='relative'")[0]
    assert url == f"{server.url}/news/2024/1.html"
    assert f'href="{server.url}/news/2024/detail/2.html"' in html
    assert f'src="{server.url}/news/img/a.png"' in html
    assert_nothing_half(db)


async def test_control_characters_and_hostile_html_never_reach_our_feeds(server, rig, tmp_path):
    docs = fs.bad_documents()
    for name in ("control", "hostile", "gbk", "truncated"):
        server.set(f"/{name}.xml", docs[name][0], docs[name][1])
    server.set("/json.json", json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "JSON\u0001源",
        "items": [{"id": "j1", "url": "http://news.example.cn/j/1", "title": "JSON里的\u0002控制",
                   "content_html": "<p>湖塘镇\u0003消防<script>x()</script></p>"}]},
        ensure_ascii=True).encode(), "application/feed+json")
    names = ("control", "hostile", "gbk", "truncated", "json")
    defs = [SourceDef(n, n, f"{server.url}/{n}.{'json' if n == 'json' else 'xml'}")
            for n in names]
    poller, _ = await rig(defs)
    for d in defs:
        assert (await poller.poll(d)).outcome == "ok", d.id
    db = tmp_path / "agg.db"
    for title, text, html, url in db_rows(db, "SELECT title, text, content_html, coalesce(url,"
                                              " '') FROM articles"):
        for value in (title, text):
            assert not ILLEGAL.search(value), value
        assert not re.search(r"<script|<iframe|\son\w+=|javascript:|data:", html, re.I), html
        assert not url.lower().startswith(("javascript:", "data:"))

    config = load_config(None, {"db": str(db), "port": 0}, env={})
    runner = await start_server(init_app(config), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as s:
            feeds = ["all"] + [f"source/{n}" for n in names]
            for feed in feeds:
                for fmt in ("atom", "rss"):
                    async with s.get(f"{base}/feeds/{feed}.{fmt}") as r:
                        assert r.status == 200, (feed, fmt)
                        raw = await r.read()
                    # strict: no recover, so any illegal character is an exception here
                    root = etree.fromstring(raw, etree.XMLParser(recover=False,
                                                                 resolve_entities=False))
                    text = etree.tostring(root, encoding="unicode")
                    assert not ILLEGAL.search(text)
                    assert "<script" not in text.replace("&lt;script", "")
                async with s.get(f"{base}/feeds/{feed}.json") as r:
                    data = json.loads(await r.read())
                for item in data["items"]:
                    for key in ("title", "content_html", "summary"):
                        assert not ILLEGAL.search(item.get(key) or ""), item
                        assert "<script" not in (item.get(key) or "")
    finally:
        await runner.cleanup()


async def test_links_in_content_never_reach_private_addresses(server, rig, tmp_path, caplog):
    port = urlsplit(server.url).port
    links = [
        f"{server.url}/secret/1",  # loopback, the same host as the feed
        f"http://localhost:{port}/secret/2",  # a name resolving to loopback
        f"http://[::ffff:127.0.0.1]:{port}/secret/3",  # IPv4-mapped IPv6 loopback
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://10.1.2.3/internal",  # private range
    ]
    items = [{"guid": f"p{i}", "title": f"链接{i}", "link": link, "html": "<p>摘要。</p>"}
             for i, link in enumerate(links)]
    server.set("/links.xml", fs.rss("链接", items))
    server.set("/secret/1", b"<html><body><p>secret</p></body></html>", "text/html")
    src = SourceDef("links", "links", f"{server.url}/links.xml", full_text=True)
    poller, _ = await rig([src])
    with caplog.at_level(logging.INFO, logger="aggregator.poll"):
        result = await asyncio.wait_for(poller.poll(src), 20)
    assert result.outcome == "ok" and result.new == len(links)
    assert not [h for h in server.hits if h.path.startswith("/secret")]
    refused = [r.getMessage() for r in caplog.records if "not fetched" in r.getMessage()]
    assert len(refused) == len(links)
    assert all("refused" in m for m in refused), refused
    texts = [r[0] for r in db_rows(tmp_path / "agg.db", "SELECT text FROM articles")]
    assert not any("secret" in t for t in texts)


async def test_file_links_in_content_are_never_read(server, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    async with make_fetcher() as fetcher:
        with pytest.raises(FetchError, match="never read"):
            await fetcher.get(secret.as_uri(), allow_file=False)
        assert (await fetcher.get(secret.as_uri())).body == b"root:x:0:0"  # a configured URL


async def test_every_redirect_hop_is_checked(tmp_path):
    """The configured host is trusted; a redirect from it to another, private host is not."""
    async with fs.fault_server() as a, fs.fault_server() as b:
        b.set("/feed.xml", fs.rss("b", fs.news_items("b", 2)))
        port_b = urlsplit(b.url).port
        a.forever("/hop.xml", fs.redirect(302, f"http://localhost:{port_b}/feed.xml"))
        async with make_fetcher() as fetcher:
            with pytest.raises(FetchError) as err:
                await fetcher.get(f"{a.url}/hop.xml", allow_private=False,
                                  trusted_hosts=(a.host,))
            assert err.value.reason == "private-address"
            assert "localhost" in str(err.value)
            assert not b.hits  # refused before any byte went to the second host
            # the same chain is fine when the source allows private addresses
            resp = await fetcher.get(f"{a.url}/hop.xml", allow_private=True)
            assert resp.status == 200 and resp.redirects == (302,)
            assert resp.permanent_redirect is None
            assert len(b.hits) == 1


async def test_redirect_loops_and_bad_locations_are_clear_errors(server):
    server.forever("/loop", fs.redirect(302, "/loop"))
    server.forever("/ftp", fs.redirect(301, "ftp://example.cn/feed.xml"))
    async with make_fetcher() as fetcher:
        with pytest.raises(FetchError, match="too many redirects"):
            await fetcher.get(f"{server.url}/loop")
        with pytest.raises(FetchError, match="only http and https"):
            await fetcher.get(f"{server.url}/ftp")
    assert len(server.paths("/loop")) == 11


async def test_new_etag_on_identical_content_is_unchanged(server, rig, tmp_path):
    content = fs.rss("轮换", fs.news_items("rot", 3))
    server.forever("/rot.xml", fs.rotating_etag(content))
    src = SourceDef("rot", "rot", f"{server.url}/rot.xml")
    poller, _ = await rig([src])
    outcomes = [(await poller.poll(src)).outcome for _ in range(4)]
    assert outcomes == ["ok", "unchanged", "unchanged", "unchanged"]
    sent = [h.headers.get("If-None-Match") for h in server.paths("/rot.xml")]
    assert sent == [None, '"v1"', '"v2"', '"v3"']  # always the latest validator
    assert db_rows(tmp_path / "agg.db", "SELECT count(*) FROM articles")[0][0] == 3


async def test_gzip_bodies_are_read_and_small_ones_pass(server):
    server.forever("/gz.xml", fs.gzipped(fs.rss("压缩", fs.news_items("gz", 2))))
    async with make_fetcher() as fetcher:
        resp = await fetcher.get(f"{server.url}/gz.xml")
    assert resp.status == 200 and b"gz-2" in resp.body
    assert resp.wire_bytes < len(resp.body)
