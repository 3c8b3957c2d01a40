"""OPML bundles: every topic feed of one region, one topic in every region of a province;
every feed they list is served, and the pages link to them."""

from __future__ import annotations

import pytest

from aggregator.model import SourceDef
from aggregator.render import parse_opml

from .publish_kit import CHANGZHOU, LOCAL_NEWS, WUJIN, entry, make_site

CHONGCHUAN = SourceDef(id="chongchuan", name="崇川发布", url="http://cc.example.cn/feed",
                       region="320613")


@pytest.fixture
async def site(tmp_path):
    site = await make_site(tmp_path, sources=(WUJIN, CHANGZHOU, CHONGCHUAN))
    await site.add(WUJIN, LOCAL_NEWS["wujin"])
    await site.add(CHANGZHOU, LOCAL_NEWS["changzhou"])
    await site.add(CHONGCHUAN, [entry(1, place="崇川区"), entry(2, place="崇川区", topic="信访")])
    yield site
    await site.close()


async def bundle(site, path: str) -> list[tuple[str, str, str | None]]:
    status, headers, body = await site.get(path)
    assert status == 200, body[:300]
    assert headers["Content-Type"].startswith("text/x-opml")
    return parse_opml(body)


async def test_region_bundle_holds_its_topic_feeds(site):
    feeds = await bundle(site, "/opml/region/320412")
    urls = [u for _, u, _ in feeds]
    base = f"{site.base}/feeds/region/320412"
    assert urls[0] == f"{base}.atom"
    topics = {u.rsplit("/", 1)[1] for u in urls if "/topic/" in u}
    assert {"work-safety.atom", "public-security.atom"} <= topics
    assert all(u.startswith(f"{base}/topic/") for u in urls[1:len(topics) + 1])
    assert feeds[1][0].startswith("武进区 · ")
    everything = await bundle(site, "/opml/region/320412?all=1")
    assert len([u for _, u, _ in everything if "/topic/" in u]) == 29  # every topic
    # every feed listed is served
    for _, url, html in feeds:
        assert (await site.get(url))[0] == 200, url
        assert (await site.get(html))[0] == 200, html


async def test_topic_bundle_within_a_province_in_tree_order(site):
    feeds = await bundle(site, "/opml/topic/work-safety?within=320000")
    codes = [u.split("/feeds/region/", 1)[1].split("/", 1)[0] for _, u, _ in feeds]
    assert codes[0] == "320000"
    assert {"320400", "320412", "320600", "320613"} <= set(codes)
    assert codes.index("320400") < codes.index("320412")  # a city before its districts
    assert all(u.endswith("/topic/work-safety.atom") for _, u, _ in feeds)
    assert feeds[0][0] == "江苏省 · 安全生产"
    complete = await bundle(site, "/opml/topic/work-safety?within=320000&all=1")
    complete_codes = {u.split("/feeds/region/", 1)[1].split("/", 1)[0] for _, u, _ in complete}
    assert len(complete) > 100 and "320612" in complete_codes  # 通州区, no news yet
    for _, url, _ in feeds[:4]:
        assert (await site.get(url))[0] == 200, url
    everywhere = await bundle(site, "/opml/topic/petitions")
    assert everywhere[0][1] == f"{site.base}/feeds/topic/petitions.atom"
    assert any("/region/320613/topic/petitions" in u for _, u, _ in everywhere)


async def test_bundles_are_linked_and_validated(site):
    _, _, body = await site.get("/topic/work-safety")
    assert f'href="{site.base}/opml/topic/work-safety"' in body.decode()
    _, _, body = await site.get("/region/320400")
    assert f'href="{site.base}/opml/region/320400"' in body.decode()
    status, headers, _ = await site.get("/opml/region/320602")  # an old code
    assert status == 301 and headers["Location"] == "/opml/region/320613"
    for path, want in (("/opml/region/999999", 404), ("/opml/region/abc", 404),
                       ("/opml/topic/nope", 404), ("/opml/topic/work-safety?within=999999", 404),
                       ("/opml/region/320412?all=yes", 400), ("/opml/elsewhere/x", 404)):
        status, headers, body = await site.get(path)
        assert status == want, path
        assert "text/html" in headers["Content-Type"] and b"Traceback" not in body
