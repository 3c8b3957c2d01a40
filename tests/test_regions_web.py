"""Region and topic feeds over HTTP: codes, old codes, slugs, intersections, the index tree."""

from __future__ import annotations

import json

import aiohttp
import feedparser
import pytest

from aggregator.daemon import make_fetcher, start_server
from aggregator.gazetteer import import_divisions, store_divisions
from aggregator.pipeline import Poller
from aggregator.settings import load_config
from aggregator.sources import load_sources
from aggregator.store import open_db, sync_sources, transaction
from aggregator.web import init_app
from aggregator.writer import Writer

from .conftest import SHARED, atom, standard_sources, write_sources

TOWN_ENTRY = {
    "id": "urn:wj:town", "title": "湖塘镇开展消防安全隐患排查",
    "link": "http://atom.example.cn/wj/9", "date": "2026-11-21T02:00:00Z",
    "html": "<p>武进区湖塘镇组织开展消防安全隐患排查整治，检查企业和出租房屋。</p>"
            "<p>湖塘镇安监部门要求压实安全生产责任，严防各类事故发生。</p>",
}


async def serve(tmp_path, feed_server, *, towns: bool = False):
    from .conftest import ATOM_ENTRIES

    feed_server.set("/wj.atom", atom("武进日报", [*ATOM_ENTRIES, TOWN_ENTRY]),
                    "application/atom+xml")
    feeds = write_sources(tmp_path / "feeds" / "t.toml", standard_sources(feed_server.url))
    config = load_config(None, {"db": str(tmp_path / "a.db"), "port": 0}, env={})
    if towns:
        db = open_db(config.db)
        with transaction(db):
            store_divisions(db, import_divisions(SHARED / "geodata" / "streets.csv"))
        db.conn.close()
    writer = Writer(config.db)
    sources = load_sources([feeds])
    await writer.write(sync_sources, sources)
    fetcher = make_fetcher(config)
    await fetcher.__aenter__()
    poller = Poller(writer, fetcher)
    for s in sources:
        await poller.poll(s)
    tagger = await writer.call(poller.tagger)
    runner = await start_server(init_app(config, tagger=tagger), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def close():
        await runner.cleanup()
        await fetcher.__aexit__(None, None, None)
        writer.close()

    return base, close


@pytest.fixture
async def site(tmp_path, feed_server):
    base, close = await serve(tmp_path, feed_server)
    yield base
    await close()


async def fetch(url: str, **kw) -> tuple[int, aiohttp.typedefs.LooseHeaders, bytes]:
    async with aiohttp.ClientSession() as s, s.get(url, allow_redirects=False, **kw) as r:
        return r.status, r.headers.copy(), await r.read()


async def titles(url: str) -> set[str]:
    status, _, body = await fetch(url)
    assert status == 200, (url, body[:300])
    return {e.title for e in feedparser.parse(body).entries}


async def test_region_feed_holds_its_articles_at_every_level(site):
    wujin = await titles(f"{site}/feeds/region/320412.atom")
    assert "牛塘镇推进老旧小区改造" in wujin and "湖塘镇开展消防安全隐患排查" in wujin
    assert "崇川区家庭医生签约服务提质扩面" not in wujin
    changzhou = await titles(f"{site}/feeds/region/320400.atom")
    jiangsu = await titles(f"{site}/feeds/region/320000.atom")
    assert wujin <= changzhou <= jiangsu
    assert "崇川区家庭医生签约服务提质扩面" in jiangsu


async def test_pinyin_slug_is_ignored(site):
    assert await titles(f"{site}/feeds/region/320412-wujin.atom") == await titles(
        f"{site}/feeds/region/320412.atom")


async def test_old_code_redirects_permanently(site):
    status, headers, _ = await fetch(f"{site}/feeds/region/320602.rss")
    assert status == 301
    assert headers["Location"].endswith("/feeds/region/320613.rss")
    status, headers, _ = await fetch(f"{site}/feeds/region/320611/topic/health.json")
    assert status == 301 and headers["Location"].endswith("/feeds/region/320613/topic/health.json")


async def test_unknown_codes_and_slugs_get_a_helpful_404(site):
    for path in ("/feeds/region/999999.atom", "/feeds/region/abc.atom",
                 "/feeds/topic/no-such-topic.rss", "/feeds/region/320412/topic/nope.json",
                 "/feeds/region/320412.pdf"):
        status, headers, body = await fetch(site + path)
        assert status == 404, path
        assert "text/html" in headers["Content-Type"] and b'href="/"' in body


async def test_topic_and_intersection_feeds_titled_in_chinese(site):
    status, _, body = await fetch(f"{site}/feeds/region/320412/topic/work-safety.json")
    assert status == 200
    doc = json.loads(body)
    assert doc["title"].startswith("武进区 · 安全生产")
    got = {i["title"] for i in doc["items"]}
    assert "湖塘镇开展消防安全隐患排查" in got and "牛塘镇推进老旧小区改造" not in got
    topic = await titles(f"{site}/feeds/topic/work-safety.rss")
    assert got <= topic and "武进区召开安全生产工作会议" in topic


async def test_index_and_opml_list_regions_and_topics_with_counts(site):
    status, _, body = await fetch(f"{site}/")
    html = body.decode()
    assert status == 200
    for needle in ("/feeds/region/320000.atom", "/feeds/region/320412.atom",
                   "/feeds/topic/work-safety.atom", "武进区", "安全生产"):
        assert needle in html, needle
    # the tree: the province comes before its city, the city before its county
    assert html.index("/region/320000") < html.index("/region/320400") < html.index(
        "/region/320412")
    status, _, body = await fetch(f"{site}/opml")
    assert b"/feeds/region/320412.atom" in body and b"/feeds/topic/work-safety.atom" in body


async def test_hostile_query_strings_get_400(site):
    status, headers, _ = await fetch(f"{site}/feeds/all.atom?" + "x" * 5000)
    assert status == 400 and "Traceback" not in headers.get("Content-Type", "")


async def test_town_feeds_after_importing_townships(tmp_path, feed_server):
    if not (SHARED / "geodata" / "streets.csv").exists():
        pytest.skip("../shared/geodata not present")
    base, close = await serve(tmp_path, feed_server, towns=True)
    try:
        town = await titles(f"{base}/feeds/region/320412100.atom")  # 湖塘镇
        assert "湖塘镇开展消防安全隐患排查" in town
        for code in ("320412", "320400", "320000"):
            assert town <= await titles(f"{base}/feeds/region/{code}.atom")
    finally:
        await close()
