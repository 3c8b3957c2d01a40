"""Sources without feeds through the real poller: e-paper sites, list pages, full text,
posts and e-paper text, served by a loopback server over tests/fixtures/sites."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from aiohttp import web

from aggregator.daemon import make_fetcher
from aggregator.pipeline import Poller
from aggregator.settings import load_config
from aggregator.sources import parse_source
from aggregator.store import sync_sources
from aggregator.writer import Writer

from .conftest import rss

SITES = Path(__file__).parent / "fixtures" / "sites"


@pytest.fixture
async def site():
    hits: list[str] = []
    extra: dict[str, bytes] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        if request.path in extra:
            return web.Response(body=extra[request.path], content_type="application/rss+xml")
        path = (SITES / request.path.lstrip("/")).resolve()
        if SITES.resolve() not in path.parents or not path.is_file():
            return web.Response(status=404, text="not found")
        return web.Response(body=path.read_bytes(), content_type="text/html")

    app = web.Application()
    app.router.add_get("/{path:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = runner.addresses[0][1]
    yield type("Site", (), {"root": f"http://127.0.0.1:{port}/", "hits": hits, "extra": extra})
    await runner.cleanup()


@pytest.fixture
async def poller(tmp_path):
    config = load_config(None, {"db": str(tmp_path / "a.db")}, env={})
    writer = Writer(config.db)
    async with make_fetcher(config) as fetcher:
        yield Poller(writer, fetcher), writer, config
    writer.close()


def source(table: dict, tmp_path: Path):
    return parse_source({"interval": "1h", "allow_private": True, **table},
                        file=str(tmp_path / "t.toml"), index=0)


def rows(db: str, sql: str, *args):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


async def test_epaper_site_new_issues_then_backfill(site, poller, tmp_path):
    p, writer, config = poller
    src = source({"id": "czrb", "name": "常州日报", "url": site.root + "epaper_classic/czrb/",
                  "kind": "epaper-html", "region": "320400",
                  "options": {"page_pattern": "html/%Y-%m/%d/node_2.htm", "initial_days": 1}},
                 tmp_path)
    await writer.write(sync_sources, [src])
    first = await p.poll(src, today=date(2024, 3, 5))
    assert first.outcome == "ok" and first.new > 0, first
    titles = {r[0] for r in rows(config.db, "SELECT title FROM articles")}
    dates = {r[0][:10] for r in rows(config.db, "SELECT published FROM articles")}
    assert dates == {"2024-03-04"}  # midnight Beijing time of the issue, stored in UTC
    kickers = [r[0] for r in rows(config.db, "SELECT kicker FROM articles WHERE kicker IS NOT NULL")]
    assert kickers and titles
    state = rows(config.db, "SELECT state FROM sources WHERE id = 'czrb'")[0][0]
    assert "2024-03-05" in state
    site.hits.clear()
    again = await p.poll(src, today=date(2024, 3, 5))
    assert again.new == 0
    assert not [h for h in site.hits if "content_" in h]  # stored articles are not refetched
    back = await p.poll(src, today=date(2024, 3, 5), backfill=(date(2024, 3, 4), date(2024, 3, 4)))
    assert back.new > 0
    assert {r[0][:10] for r in rows(config.db, "SELECT published FROM articles")} == {
        "2024-03-03", "2024-03-04"}


async def test_gbk_list_page_source(site, poller, tmp_path):
    p, writer, config = poller
    src = source({"id": "hedong", "name": "河东区人民政府", "url": site.root + "gov/hdyw/index.html",
                  "kind": "page", "region": "320613",
                  "options": {"items": "#msgList ul.list-ul li", "link": "a", "date": "span",
                              "article": {"body": "#zoom"}}}, tmp_path)
    await writer.write(sync_sources, [src])
    result = await p.poll(src, today=date(2024, 3, 6))
    assert result.new == 3, result
    titles = [r[0] for r in rows(config.db, "SELECT title FROM articles ORDER BY published DESC")]
    assert titles[0] == "河东区召开安全生产专题会议"  # decoded from GBK
    texts = [r[0] for r in rows(config.db, "SELECT text FROM articles")]
    assert all(t and "\ufffd" not in t for t in texts)


async def test_full_text_for_summary_feeds(site, poller, tmp_path):
    p, writer, config = poller
    link = site.root + "media/news/2024-03/05/content_88.html"
    site.extra["/summary.xml"] = rss("摘要源", [{"guid": "m-88", "title": "摘要", "link": link,
                                             "date": "Tue, 05 Mar 2024 08:00:00 +0800",
                                             "html": "<p>只有摘要。</p>"}])
    src = source({"id": "media", "name": "媒体", "url": site.root + "summary.xml",
                  "full_text": True}, tmp_path)
    await writer.write(sync_sources, [src])
    result = await p.poll(src)
    assert result.new == 1
    (text,) = rows(config.db, "SELECT text FROM articles")[0]
    assert len(text) > 100 and "只有摘要" not in text


async def test_content_links_to_private_addresses_are_refused(site, poller, tmp_path):
    p, writer, config = poller
    link = site.root + "media/news/2024-03/05/content_88.html"
    site.extra["/summary.xml"] = rss("摘要源", [{"guid": "m-88", "title": "摘要", "link": link,
                                             "date": "Tue, 05 Mar 2024 08:00:00 +0800",
                                             "html": "<p>只有摘要。</p>"}])
    src = source({"id": "media", "name": "媒体", "url": site.root + "summary.xml",
                  "full_text": True, "allow_private": False}, tmp_path)
    await writer.write(sync_sources, [src])
    result = await p.poll(src)
    assert result.new == 1  # the feed itself is polled
    assert "/media/news/2024-03/05/content_88.html" not in site.hits  # its link is not
    (text,) = rows(config.db, "SELECT text FROM articles")[0]
    assert text == "只有摘要。"


async def test_posts_directory_source(poller, tmp_path):
    p, writer, config = poller
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "2026-11-19-a.md").write_text(
        "---\ntitle: \"武进区召开安全生产会议\"\ndate: 2026-11-19 08:30:00 +0800\n"
        "categories: news\n---\n本报讯(记者 张三) 11月18日，武进区召开安全生产会议。\n\n"
        "文章来源：常州日报\n", encoding="utf-8")
    src = source({"id": "blog", "name": "博客", "url": str(posts), "kind": "posts"}, tmp_path)
    await writer.write(sync_sources, [src])
    result = await p.poll(src)
    assert result.new == 1
    (title, outlet, published) = rows(config.db,
                                      "SELECT title, outlet_name, published FROM articles")[0]
    assert (title, outlet) == ("武进区召开安全生产会议", "常州日报")
    assert published == "2026-11-19T00:30:00+00:00"
