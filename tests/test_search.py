"""Search: HTML ranked by relevance, feeds by time, two-character words, phrases, region and
topic filters, one entry per story, and hostile input answered without a stack trace."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import quote

import feedparser
import lxml.html
import pytest

from aggregator import search
from aggregator.model import SourceDef

from .publish_kit import CHANGZHOU, WUJIN, entry, make_site, with_outlet

TIANNING = SourceDef(id="tianning", name="天宁发布", url="http://tn.example.cn/feed",
                     region="320402")


@pytest.fixture
async def site(tmp_path):
    site = await make_site(tmp_path, sources=(WUJIN, CHANGZHOU, TIANNING))
    fraud_title = replace(entry(1, topic="反诈"), title="全民反诈宣传进社区")
    await site.add(WUJIN, [
        fraud_title,                                   # 反诈 in the headline and the text
        entry(2, topic="反诈"),                         # 反诈 in the text only
        entry(3, topic="信访"),
        entry(4, topic="安全生产", extra="会议强调隐患排查要到位。"),
        entry(5, topic="安全生产"),
    ])
    await site.add(TIANNING, [entry(6, place="天宁区", topic="反诈"),
                              entry(7, place="天宁区", topic="信访")])
    # another outlet's copy of story 2: still one story, so one result
    await site.add(CHANGZHOU, [with_outlet(entry(2, topic="反诈"), "cz-2",
                                           "http://cz.example.cn/2.html")])
    yield site
    await site.close()


def results(body: bytes) -> list[str]:
    tree = lxml.html.document_fromstring(body.decode())
    return [" ".join(h.text_content().split()) for h in tree.xpath("//ol[@class='items']//h2")]


async def feed_titles(site, path: str) -> list[str]:
    status, _, body = await site.get(path)
    assert status == 200, body[:300]
    parsed = feedparser.parse(body)
    assert not parsed.bozo
    return [e.title for e in parsed.entries]


async def test_two_character_words_ranked_headline_first(site):
    status, headers, body = await site.get("/search?q=" + quote("反诈"))
    assert status == 200 and "default-src 'none'" in headers["Content-Security-Policy"]
    found = results(body)
    assert len(found) == 3  # stories 1, 2 (two outlets, one story) and 6
    assert found[0] == "全民反诈宣传进社区"  # the headline match ranks first
    html = body.decode()
    assert "<mark>反诈</mark>" in html and "找到 3 篇报道" in html
    # subscribe box and autodiscovery for the saved search
    assert f'href="{site.base}/feeds/search.atom?q=%E5%8F%8D%E8%AF%88"' in html
    assert 'rel="alternate" type="application/atom+xml"' in html


async def test_phrases_and_several_words(site):
    _, _, body = await site.get("/search?q=" + quote('"隐患排查要到位"'))
    assert len(results(body)) == 1
    _, _, body = await site.get("/search?q=" + quote("信访 天宁区"))
    assert len(results(body)) == 1  # every word must match
    _, _, body = await site.get("/search?q=" + quote("信访"))
    assert len(results(body)) == 2


async def test_region_filter_at_any_level_and_topic_filter(site):
    q = quote("反诈")
    _, _, body = await site.get(f"/search?q={q}&region=320412")
    assert len(results(body)) == 2
    _, _, body = await site.get(f"/search?q={q}&region=320402")
    assert len(results(body)) == 1
    _, _, body = await site.get(f"/search?q={q}&region=320400")  # the city holds both
    assert len(results(body)) == 3
    _, _, body = await site.get(f"/search?q={quote('会议')}&topic=petitions")
    assert len(results(body)) == 2


async def test_search_feeds_by_time_with_filters(site):
    q = quote("反诈")
    atom = await feed_titles(site, f"/feeds/search.atom?q={q}")
    assert len(atom) == 3
    status, headers, body = await site.get(f"/feeds/search.rss?q={q}&region=320412")
    assert status == 200 and headers["Content-Type"].startswith("application/rss+xml")
    assert len(feedparser.parse(body).entries) == 2
    self_url = f"{site.base}/feeds/search.rss?q={q}&region=320412"
    assert f'<{self_url}>; rel="self"' in headers["Link"]
    assert f'<{site.base}/websub>; rel="hub"' in headers["Link"]
    status, _, body = await site.get(f"/feeds/search.json?q={q}&topic=public-security")
    doc = json.loads(body)
    times = [i["date_published"] for i in doc["items"]]
    assert times == sorted(times, reverse=True) and len(times) == 3
    assert doc["feed_url"] == f"{site.base}/feeds/search.json?q={q}&topic=public-security"


async def test_same_search_same_feed_whatever_the_spelling(site):
    a = feedparser.parse((await site.get("/feeds/search.atom?q=" + quote("  反诈 ")))[2])
    b = feedparser.parse((await site.get(
        "/feeds/search.atom?topic=&q=" + quote("反诈")))[2])
    assert a.feed.id == b.feed.id
    assert [e.id for e in a.entries] == [e.id for e in b.entries]


async def test_empty_query_gets_a_helpful_page(site):
    status, _, body = await site.get("/search")
    html = body.decode()
    assert status == 200 and '<form class="search"' in html and "反诈" in html
    status, _, body = await site.get("/search?q=+++")
    assert status == 200 and '<form class="search"' in body.decode()
    status, headers, body = await site.get("/feeds/search.atom")
    assert status == 400 and "text/html" in headers["Content-Type"]
    assert "q=" in body.decode()


INVALID = [
    ("/search?q=" + "长" * 201, 400),
    ("/search?q=x&region=999999", 400),
    ("/search?q=x&region=abc", 400),
    ("/search?q=x&topic=nope", 400),
    ("/search?q=x&page=0", 400),
    ("/search?q=x&page=999", 400),
    ("/feeds/search.atom?q=x&region=99", 400),
    ("/feeds/search.pdf?q=x", 404),
]


async def test_invalid_parameters_get_400_with_the_form(site):
    for path, status in INVALID:
        got, headers, body = await site.get(path)
        assert got == status, path
        assert "text/html" in headers["Content-Type"] and b"Traceback" not in body


HOSTILE = ['"', '""', "NEAR(反 诈", "反诈 OR 信访", "*", "^反诈", "反诈 -信访", "a:b", "(((",
           "' OR 1=1 --", "<script>alert(1)</script>", "\u0000反诈", "\\", "%", "..",
           "rank:", "title:反诈", "{反诈}", "反\u200b诈", "🙂", "NOT", "AND AND"]


async def test_hostile_queries_are_inert(site):
    for q in HOSTILE:
        for path in (f"/search?q={quote(q)}", f"/feeds/search.atom?q={quote(q)}"):
            status, _, body = await site.get(path)
            assert status in (200, 400), (q, status)
            assert b"Traceback" not in body and b"<script>alert" not in body, q
    # operators are words, not syntax: "反诈 OR 信访" needs both words, and there is none
    _, _, body = await site.get("/search?q=" + quote("反诈 OR 信访"))
    assert results(body) == []


def test_parse_search_is_canonical_and_strict():
    def resolve(code):
        return {"320412": "320412", "320602": "320613"}.get(code)

    topics = {"petitions": "信访"}
    q = search.parse_search({"q": "  信访   积案 ", "region": "320602", "topic": "petitions"},
                            resolve_region=resolve, topics=topics)
    assert q.q == "信访 积案" and q.region == "320613"
    assert q.match == '"信 访" AND "积 案"'
    assert q.key == "search?q=%E4%BF%A1%E8%AE%BF+%E7%A7%AF%E6%A1%88&region=320613&topic=petitions"
    assert search.parse_search({"q": " "}, resolve_region=resolve, topics=topics) is None
    for bad in ({"q": "x" * 201}, {"q": "x", "region": "1"}, {"q": "x", "topic": "y"},
                {"q": "!!!"}):
        with pytest.raises(search.SearchError):
            search.parse_search(bad, resolve_region=resolve, topics=topics)


def test_highlight_restores_chinese_spacing_and_escapes():
    snippet = " 公  安 \ue000反  诈\ue001 宣  传 ， GDP  增  长 <b>x</b>"
    assert search.highlight(snippet) == (
        "公安<mark>反诈</mark>宣传，GDP增长&lt;b&gt;x&lt;/b&gt;")
    assert search.highlight("\ue000信\ue001  \ue000访\ue001") == "<mark>信访</mark>"
