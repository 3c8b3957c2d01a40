"""RFC 5005 archives: page back through a feed's history and find every story exactly once;
complete archive pages never change, whatever arrives later."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import feedparser
import pytest
from lxml import etree

from aggregator import archive
from aggregator.model import FeedItem, Outlet

from .publish_kit import CHANGZHOU, WUJIN, entry, make_site, with_outlet

FH = "{http://purl.org/syndication/history/1.0}archive"
N = 5  # feed_size: entries per archive page


@pytest.fixture
async def site(tmp_path):
    site = await make_site(tmp_path, feed_size=N)
    yield site
    await site.close()


def links(parsed, rel: str) -> list[str]:
    return [link.href for link in parsed.feed.get("links", []) if link.get("rel") == rel]


async def walk(site, url: str) -> tuple[list[str], list[str]]:
    """Follow prev-archive from a subscription document to the first archive; returns the
    entry ids seen (in order, duplicates kept) and the archive URLs visited."""
    ids: list[str] = []
    visited: list[str] = []
    for _ in range(100):  # bounded: a loop in the chain fails the test, not the suite
        status, headers, body = await site.get(url)
        assert status == 200, (url, body[:200])
        if visited:
            assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        if url.endswith(".json"):
            doc = json.loads(body)
            ids += [i["id"] for i in doc["items"]]
            is_archive = doc["_aggregator"]["archive"]
            older = doc.get("next_url")
        else:
            parsed = feedparser.parse(body)
            assert not parsed.bozo, parsed.get("bozo_exception")
            ids += [e.id for e in parsed.entries]
            root = etree.fromstring(body)
            is_archive = (root.find(FH) if url.endswith(".atom")
                          else root.find("channel/" + FH)) is not None
            older = (links(parsed, "prev-archive") or [None])[0]
        assert is_archive == bool(visited), url  # fh:archive on archives only
        if older is None:
            return ids, visited
        visited.append(older)
        url = older
    raise AssertionError("prev-archive chain does not end")


@pytest.mark.parametrize("fmt", ["atom", "rss", "json"])
async def test_paging_back_finds_every_story_exactly_once(site, fmt):
    await site.add(WUJIN, [entry(i) for i in range(23)])
    ids, visited = await walk(site, f"{site.base}/feeds/region/320412.{fmt}")
    assert len(ids) == len(set(ids)) == 23
    # 23 entries: three complete pages of 5, and 8 (between N and 2N-1) in the subscription
    assert [u.rsplit("/", 1)[1] for u in visited] == [f"3.{fmt}", f"2.{fmt}", f"1.{fmt}"]
    status, _, body = await site.get(f"/feeds/region/320412.{fmt}")
    current = (json.loads(body)["items"] if fmt == "json"
               else feedparser.parse(body).entries)
    assert len(current) == 8


async def test_archive_links_current_prev_and_next(site):
    await site.add(WUJIN, [entry(i) for i in range(23)])
    _, headers, body = await site.get("/feeds/region/320412/archive/2.atom")
    parsed = feedparser.parse(body)
    assert links(parsed, "current") == [f"{site.base}/feeds/region/320412.atom"]
    assert links(parsed, "prev-archive") == [f"{site.base}/feeds/region/320412/archive/1.atom"]
    assert links(parsed, "next-archive") == [f"{site.base}/feeds/region/320412/archive/3.atom"]
    assert not links(parsed, "hub")  # archives never change: nothing to push
    assert headers["ETag"].startswith('"')
    # The newest page's next-archive is the next page's URL: until that page is complete it
    # sends the reader to the subscription document.
    status, headers, _ = await site.get("/feeds/region/320412/archive/4.atom")
    assert status == 302 and headers["Location"] == "/feeds/region/320412.atom"
    assert (await site.get("/feeds/region/320412/archive/5.atom"))[0] == 404
    # 304 on the archive's own validator
    _, headers, _ = await site.get("/feeds/region/320412/archive/1.rss")
    status, _, _ = await site.get("/feeds/region/320412/archive/1.rss",
                                  headers={"If-None-Match": headers["ETag"]})
    assert status == 304


async def test_complete_archives_never_change(site):
    first = [entry(i) for i in range(20)]
    await site.add(WUJIN, first)
    await site.get("/feeds/region/320412.atom")  # writes pages 1 and 2
    urls = [f"/feeds/region/320412/archive/{p}.{f}" for p in (1, 2)
            for f in ("atom", "rss", "json")] + ["/region/320412/archive/1"]
    before = {u: await site.get(u) for u in urls}
    assert all(status == 200 for status, _, _ in before.values())

    # What arrives later: another outlet's copy of an archived story (it joins that story),
    # an edit of an archived article, a late article dated long ago, and plenty of new ones.
    copy = with_outlet(first[0], "cz-copy", "http://cz.example.cn/copy.html")
    late = entry(900, published=datetime(2020, 1, 1, tzinfo=UTC))
    edited = entry(1, extra="（本文已更新）")
    await site.add(CHANGZHOU, [copy])
    await site.add(WUJIN, [edited, late, *[entry(i) for i in range(100, 112)]])
    await site.get("/feeds/region/320412.atom")

    for url, (_status, headers, body) in before.items():
        again = await site.get(url)
        assert again[0] == 200
        assert again[2] == body, url
        assert again[1]["ETag"] == headers["ETag"], url
        assert again[1]["Last-Modified"] == headers["Last-Modified"], url

    conn = sqlite3.connect(site.config.db)
    story = dict(conn.execute("SELECT a.key, sa.story_id FROM articles a JOIN story_articles sa"
                              " ON sa.article_id = a.id").fetchall())
    conn.close()
    assert story["cz-copy"] == story["a0"]  # the copy really joined the archived story
    # Every story once, the late one with its old date included; the copy and the edit add
    # no story, and the archived story's new outlet shows on its own page.
    ids, _ = await walk(site, f"{site.base}/feeds/region/320412.atom")
    assert len(ids) == len(set(ids)) == 20 + 1 + 12
    assert f"urn:aggregator:story:{story['a900']}" in ids
    _, _, page = await site.get(f"/story/{story['a0']}")
    assert "常州日报" in page.decode()


async def test_html_pages_page_back_too(site):
    await site.add(WUJIN, [entry(i) for i in range(12)])
    status, _, body = await site.get("/region/320412")
    page = body.decode()
    assert status == 200 and 'rel="prev-archive"' in page
    assert f'href="{site.base}/region/320412/archive/1"' in page
    status, headers, body = await site.get("/region/320412/archive/1")
    html = body.decode()
    assert status == 200 and "存档第 1 页" in html and "本页为存档" in html
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert html.count("<article>") == N


async def test_source_and_all_feeds_are_archived(site):
    await site.add(WUJIN, [entry(i) for i in range(11)])
    await site.add(CHANGZHOU, [entry(i, place="天宁区") for i in range(50, 55)])
    ids, visited = await walk(site, f"{site.base}/feeds/all.atom")
    assert len(ids) == len(set(ids)) == 16 and len(visited) == 2
    ids, visited = await walk(site, f"{site.base}/feeds/source/wujin.rss")
    assert len(ids) == len(set(ids)) == 11 and len(visited) == 1
    ids, _ = await walk(site, f"{site.base}/feeds/region/320412/topic/work-safety.json")
    assert len(ids) == len(set(ids)) == 11


async def test_server_without_a_writer_opens_its_own(tmp_path):
    """`aggregator serve` gets no writer from a daemon: it opens one to write pages."""
    site = await make_site(tmp_path, feed_size=N, share_writer=False)
    try:
        await site.add(WUJIN, [entry(i) for i in range(12)])
        ids, visited = await walk(site, f"{site.base}/feeds/region/320412.atom")
        assert len(ids) == len(set(ids)) == 12 and len(visited) == 1
    finally:
        await site.close()


async def test_bad_archive_urls_get_helpful_errors(site):
    await site.add(WUJIN, [entry(i) for i in range(3)])
    for path in ("/feeds/region/320412/archive/0.atom", "/feeds/region/320412/archive/x.atom",
                 "/feeds/region/320412/archive/1.pdf", "/feeds/region/999999/archive/1.atom",
                 "/feeds/topic/nope/archive/1.rss", "/region/320412/archive/-1"):
        status, headers, body = await site.get(path)
        assert status == 404, path
        assert "text/html" in headers["Content-Type"] and b"Traceback" not in body
    status, headers, _ = await site.get("/feeds/region/320602/archive/1.atom")  # old code
    assert status == 301 and headers["Location"] == "/feeds/region/320613/archive/1.atom"


def test_stored_item_round_trips_with_site_relative_links():
    base = "https://news.example.cn/"
    item = FeedItem(
        id="urn:aggregator:story:sabc", title="标题", link="https://cz.example.cn/1.html",
        published=datetime(2024, 5, 1, tzinfo=UTC), updated=datetime(2024, 5, 2, tzinfo=UTC),
        content_html="<p>正文</p>", summary="摘要", author="记者", outlet_name="常州日报",
        source_url="https://cz.example.cn/rss",
        also=(Outlet("武进日报", "https://wj.example.cn/2", None, "wujin"),),
        related=(("相关", base + "story/sdef"),), regions=(("320412", "武进区"),),
        topics=(("work-safety", "安全生产"),), html_url=base + "story/sabc")
    data = archive.encode_item(item, base)
    assert base not in data  # our own links are stored relative to the site
    assert archive.decode_item(data, base) == item
    moved = archive.decode_item(data, "https://new.example.org/")
    assert moved.html_url == "https://new.example.org/story/sabc"
    assert moved.link == item.link
