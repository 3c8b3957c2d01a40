"""The reading view: server-rendered pages that need no JavaScript — the region tree and topics
with counts, a page per feed, a page per story with every outlet's copy and related coverage,
subscribe boxes and autodiscovery — checked as HTML and rendered in headless Chromium at a
phone's and a desktop's width."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import struct
import subprocess

import lxml.html
import pytest

from .publish_kit import CHANGZHOU, LOCAL_NEWS, WUJIN, make_site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PHONE, DESKTOP = (390, 844), (1280, 900)


@pytest.fixture
async def site(tmp_path):
    site = await make_site(tmp_path, feed_size=10)
    await site.add(WUJIN, LOCAL_NEWS["wujin"])
    await site.add(CHANGZHOU, LOCAL_NEWS["changzhou"])
    conn = sqlite3.connect(site.config.db)
    story = dict(conn.execute("SELECT a.key, sa.story_id FROM articles a JOIN story_articles sa"
                              " ON sa.article_id = a.id").fetchall())
    conn.close()
    assert story["wj-1"] == story["cz-1"]  # one story, two outlets
    # related coverage, as the merger records it when headlines are close
    a, b = sorted([story["wj-1"], story["wj-3"]])
    await site.writer.write(lambda db: db.execute(
        "INSERT INTO story_links (story_a, story_b, score, method) VALUES (?, ?, 0.4, 'title')",
        [a, b]))
    site.stories = story
    yield site
    await site.close()


def tree_of(body: bytes):
    return lxml.html.document_fromstring(body.decode("utf-8"))


def text_of(el) -> str:
    return " ".join(el.text_content().split())


async def test_index_has_region_tree_topics_counts_search_and_bundles(site):
    status, headers, body = await site.get("/")
    assert status == 200 and "script-src" not in headers["Content-Security-Policy"]
    tree = tree_of(body)
    regions = tree.xpath("//section[@id='regions']//li")
    labels = [text_of(li.xpath(".//span[@class='label']")[0]) for li in regions]
    assert labels[:3] == ["江苏省", "常州市", "武进区"]  # tree order, indented by depth
    assert [li.get("class") for li in regions[:3]] == [None, "d1", "d2"]
    assert "篇" in text_of(regions[2])
    hrefs = tree.xpath("//a/@href")
    assert f"{site.base}/opml/region/320412" in hrefs
    assert f"{site.base}/opml/topic/work-safety" in hrefs
    assert tree.xpath("//form[@class='search']/@action") == [f"{site.base}/search"]
    topics = [text_of(li) for li in tree.xpath("//section[@id='topics']//li")]
    assert any(t.startswith("安全生产") for t in topics)


async def test_feed_page_lists_stories_with_outlets_times_regions_topics(site):
    status, headers, body = await site.get("/region/320412")
    assert status == 200 and "default-src 'none'" in headers["Content-Security-Policy"]
    tree = tree_of(body)
    assert tree.findtext(".//h1") == "武进区"
    assert [text_of(a) for a in tree.xpath("//p[@class='crumb']/a")] == [
        "地方新闻聚合", "江苏省", "常州市"]
    items = tree.xpath("//ol[@class='items']/li")
    assert len(items) == 3  # the two outlets' copies are one story
    meeting = next(li for li in items if "安全生产工作会议" in text_of(li))
    assert meeting.xpath(".//h2/a/@href") == [f"{site.base}/story/{site.stories['wj-1']}"]
    body_text = text_of(meeting)
    assert "武进日报" in body_text and "2026-11-20 08:00" in body_text
    assert "另见：常州日报（2026-11-20 10:30）" in body_text
    assert meeting.xpath(".//a[text()='武进区']/@href") == [f"{site.base}/region/320412"]
    assert meeting.xpath(".//a[text()='安全生产']/@href") == [f"{site.base}/topic/work-safety"]
    box = tree.xpath("//p[@class='subscribe']/a")
    assert [a.text for a in box] == ["Atom", "RSS", "JSON", "OPML 合集"]
    assert box[3].get("href") == f"{site.base}/opml/region/320412"
    auto = tree.xpath("//head/link[@rel='alternate']/@href")
    assert auto == [f"{site.base}/feeds/region/320412.{f}" for f in ("atom", "rss", "json")]
    topics = tree.xpath("//section[@id='topics']//a[contains(@href, '/topic/')]/@href")
    assert f"{site.base}/region/320412/topic/work-safety" in topics
    # the intersection and the topic have pages too
    status, _, body = await site.get("/region/320412/topic/work-safety")
    tree = tree_of(body)
    assert status == 200 and tree.findtext(".//h1") == "武进区 · 安全生产"
    assert "武进区" in [a.text for a in tree.xpath("//p[@class='crumb']/a")]
    status, _, body = await site.get("/topic/work-safety")
    tree = tree_of(body)
    assert status == 200 and tree.xpath(f"//a[@href='{site.base}/opml/topic/work-safety']")


async def test_story_page_has_every_outlets_copy_related_and_subscribe_box(site):
    status, headers, body = await site.get(f"/story/{site.stories['wj-1']}")
    assert status == 200 and "img-src" in headers["Content-Security-Policy"]
    tree = tree_of(body)
    assert tree.findtext(".//h1") == "武进区召开安全生产工作会议"
    assert "确保全区安全生产形势持续稳定" in text_of(tree.xpath("//article/div[@class='body']")[0])
    copies = tree.xpath("//details[@class='copy']")
    assert len(copies) == 1 and copies[0].get("open") is None  # collapsed until asked
    summary = text_of(copies[0].xpath("summary")[0])
    assert summary == "常州日报 · 2026-11-20 10:30 · 武进部署冬季安全生产工作"
    assert "隐患排查整治" in text_of(copies[0].xpath("div[@class='body']")[0])
    assert copies[0].xpath(".//a/@href") == ["http://news.example.cn/cz/1.html"]
    related = tree.xpath("//section[@class='related']//a")
    assert [a.text for a in related] == ["牛塘镇推进老旧小区改造"]
    feeds = tree.xpath("//aside[@id='subscribe']//li")
    assert text_of(feeds[0]).startswith("武进区 · 安全生产")  # most specific first
    assert f"{site.base}/opml/region/320412" in tree.xpath("//aside//a/@href")
    assert tree.xpath("//head/link[@rel='alternate']/@href")[0] == (
        f"{site.base}/feeds/region/320412/topic/work-safety.atom")


async def test_unknown_pages_are_helpful_404s(site):
    for path in ("/region/999999", "/topic/nope", "/story/zzzzzz", "/source/nope",
                 "/region/320412/topic/nope", "/region/abc"):
        status, headers, body = await site.get(path)
        assert status == 404, path
        assert "text/html" in headers["Content-Type"] and 'href="/"' in body.decode()


async def chromium(*args: str, profile) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}", *args,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0
    return out


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium not installed")
async def test_pages_render_in_headless_chromium(site, tmp_path):
    story = f"{site.base}/story/{site.stories['wj-1']}"
    region = f"{site.base}/region/320412"
    shots = {"story-phone": (story, PHONE), "region-desktop": (region, DESKTOP)}
    jobs = [chromium(f"--window-size={PHONE[0]},{PHONE[1]}", "--dump-dom", story,
                     profile=tmp_path / "p1"),
            chromium(f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--dump-dom", region,
                     profile=tmp_path / "p2")]
    story_dom, region_dom = await asyncio.gather(*jobs)
    for name, (url, (w, h)) in shots.items():
        await chromium(f"--window-size={w},{h}", f"--screenshot={tmp_path / name}.png", url,
                       profile=tmp_path / f"s-{name}")

    dom = tree_of(story_dom)  # what the browser built, no script involved
    assert dom.findtext(".//h1") == "武进区召开安全生产工作会议"
    assert "部署冬季安全生产和消防安全工作" in text_of(dom.xpath("//article")[0])
    assert dom.xpath("//details[@class='copy']/summary[contains(., '常州日报')]")
    assert dom.xpath("//section[@class='related']//a[text()='牛塘镇推进老旧小区改造']")
    assert not dom.xpath("//script")
    dom = tree_of(region_dom)
    titles = [text_of(h) for h in dom.xpath("//ol[@class='items']//h2")]
    assert "武进区召开安全生产工作会议" in titles and "牛塘镇推进老旧小区改造" in titles
    assert png_size(tmp_path / "story-phone.png") == PHONE
    assert png_size(tmp_path / "region-desktop.png") == DESKTOP
