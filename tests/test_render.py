"""Feeds rendered from a FeedDoc parse back (feedparser, lxml) into what the doc said."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from aggregator.errors import ParseError
from aggregator.model import FeedDoc, FeedItem, Outlet
from aggregator.render import (
    OpmlGroup,
    parse_opml,
    render_atom,
    render_json,
    render_opml,
    render_rss,
)

CST = timezone(timedelta(hours=8))
A = "{http://www.w3.org/2005/Atom}"
BASE = "https://news.example.cn/"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def story(**kw) -> FeedItem:
    """A merged story: canonical outlet plus two others, tagged with a county and a topic."""
    values = dict(
        id="urn:aggregator:story:7f3a",
        title="武进区召开安全生产工作会议",
        link="https://cz.example.cn/news/2024/0501/1.html",
        published=datetime(2024, 5, 1, 8, 30, tzinfo=CST),
        updated=datetime(2024, 5, 1, 10, 5, tzinfo=CST),
        content_html="<p>5月1日上午，武进区召开安全生产工作会议。</p>",
        summary="武进区召开安全生产工作会议，部署节日期间安全工作。",
        author="记者 王小明",
        outlet_name="常州日报",
        source_url="https://cz.example.cn/rss/local.xml",
        also=(
            Outlet(
                "武进日报",
                "https://wj.example.cn/a/88.html",
                datetime(2024, 5, 1, 1, 0, tzinfo=UTC),
            ),
            Outlet("常州广电", "https://tv.example.cn/v/12", None),
        ),
        related=(("武进区开展节前安全检查", "https://wj.example.cn/a/80.html"),),
        regions=(("320400", "常州市"), ("320412", "武进区")),
        topics=(("work-safety", "安全生产"),),
        html_url=BASE + "story/7f3a",
    )
    values.update(kw)
    return FeedItem(**values)


def plain(**kw) -> FeedItem:
    values = dict(
        id="urn:aggregator:article:c01",
        title="天宁区新建口袋公园开放",
        link="https://tn.example.cn/p/501",
        published=datetime(2024, 4, 30, 18, 0, tzinfo=CST),
        updated=datetime(2024, 4, 30, 18, 0, tzinfo=CST),
        summary="天宁区三处口袋公园对市民开放。",
    )
    values.update(kw)
    return FeedItem(**values)


def make_doc(items=None, **kw) -> FeedDoc:
    values = dict(
        key="region/320412",
        title="武进区新闻",
        self_url=BASE + "region/320412.atom",
        html_url=BASE + "region/320412",
        base_url=BASE,
        id="urn:aggregator:feed:region/320412",
        updated=datetime(2024, 5, 1, 10, 5, tzinfo=CST),
        items=tuple(items) if items is not None else (story(), plain()),
        subtitle="武进区各媒体报道汇总",
        hub_url="https://hub.example.org/",
        links=(
            ("prev-archive", BASE + "region/320412/2024-04.atom"),
            ("current", BASE + "region/320412.atom"),
        ),
        alternates=(
            ("application/atom+xml", BASE + "region/320412.atom", "Atom"),
            ("application/rss+xml", BASE + "region/320412.rss", "RSS"),
            ("application/feed+json", BASE + "region/320412.json", "JSON Feed"),
        ),
    )
    values.update(kw)
    return FeedDoc(**values)


def links_by_rel(links) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for link in links:
        out.setdefault(link.get("rel", "alternate"), []).append(link["href"])
    return out


def as_dt(struct) -> datetime:
    return datetime(*struct[:6], tzinfo=UTC)


# --------------------------------------------------------------------------- Atom


def test_atom_feed_head_parses_back():
    doc = make_doc()
    parsed = feedparser.parse(render_atom(doc))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    feed = parsed.feed
    assert feed.id == doc.id
    assert feed.title == doc.title
    assert feed.subtitle == doc.subtitle
    rels = links_by_rel(feed.links)
    assert rels["self"] == [doc.self_url]
    assert doc.html_url in rels["alternate"]
    assert rels["hub"] == ["https://hub.example.org/"]
    assert rels["prev-archive"] == [BASE + "region/320412/2024-04.atom"]
    assert rels["current"] == [BASE + "region/320412.atom"]
    # The HTML page is the only alternate: feed readers (newsboat) take the last alternate
    # link as the site's page, so the other formats are advertised in the HTML pages instead.
    assert rels["alternate"] == [doc.html_url]
    assert as_dt(feed.updated_parsed) == doc.updated


def test_atom_entries_carry_ids_dates_links_and_also_reported():
    doc = make_doc()
    entries = feedparser.parse(render_atom(doc)).entries
    assert [e.id for e in entries] == [i.id for i in doc.items]
    e, item = entries[0], doc.items[0]
    assert e.title == item.title
    assert e.link == item.link
    assert as_dt(e.published_parsed) == item.published
    assert as_dt(e.updated_parsed) == item.updated
    rels = links_by_rel(e.links)
    assert rels["alternate"] == [item.link]
    assert rels["related"] == [
        "https://wj.example.cn/a/88.html",
        "https://tv.example.cn/v/12",
        "https://wj.example.cn/a/80.html",
    ]
    assert e.author == "记者 王小明"
    assert e.source.title == "常州日报"
    assert e.source.links[0]["href"] == item.source_url
    html = e.content[0].value
    assert e.content[0].type == "text/html"
    assert "5月1日上午" in html
    assert "另见" in html and "武进日报" in html and "常州广电" in html
    # Times in the also-list are Beijing time: 01:00 UTC is 09:00 in Changzhou.
    assert "2024-05-01 09:00" in html
    assert e.summary == item.summary
    cats = {(t.term, t.scheme, t.label) for t in e.tags}
    assert ("320412", BASE + "region", "武进区") in cats
    assert ("work-safety", BASE + "topic", "安全生产") in cats


def test_atom_meets_rfc4287_essentials():
    doc = make_doc(items=(story(), plain(), plain(id="urn:x:3", author=None, link=None)))
    root = etree.fromstring(render_atom(doc))
    assert root.tag == A + "feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(A + name)) == 1, name
    assert [el.get("href") for el in root.findall(A + "link") if el.get("rel") == "self"] == [
        doc.self_url
    ]
    entries = root.findall(A + "entry")
    ids = [en.findtext(A + "id") for en in entries]
    assert len(ids) == len(set(ids)) == 3
    for en in entries:
        for name in ("id", "title", "updated"):
            assert len(en.findall(A + name)) == 1
        assert RFC3339.match(en.findtext(A + "updated"))
        # An entry without content must have an alternate link; ours always have content.
        assert en.find(A + "content") is not None
    # Some entry has no author of its own, so the feed must have one.
    assert root.find(A + "author/" + A + "name").text
    # No two alternate links with the same type.
    alt_types = [el.get("type") for el in root.findall(A + "link") if el.get("rel") == "alternate"]
    assert len(alt_types) == len(set(alt_types))


def test_archive_document_has_fh_archive_and_current_has_none():
    fh = "{http://purl.org/syndication/history/1.0}archive"
    archived = make_doc(archive=True)
    assert etree.fromstring(render_atom(archived)).find(fh) is not None
    assert etree.fromstring(render_rss(archived)).find("channel/" + fh) is not None
    assert etree.fromstring(render_atom(make_doc())).find(fh) is None
    assert json.loads(render_json(archived))["_aggregator"]["archive"] is True


def test_no_render_time_leaks_into_any_format():
    """Every date in the output comes from the doc, so re-rendering later gives equal bytes."""
    doc = make_doc()
    allowed = {doc.updated} | {d for i in doc.items for d in (i.published, i.updated)}
    root = etree.fromstring(render_atom(doc))
    stamps = [el.text for el in root.iter(A + "updated", A + "published")]
    assert stamps and {datetime.fromisoformat(s) for s in stamps} <= allowed
    parsed = feedparser.parse(render_rss(doc))
    assert as_dt(parsed.feed.updated_parsed) == doc.updated
    assert {as_dt(e.published_parsed) for e in parsed.entries} <= allowed


def test_same_doc_gives_identical_bytes():
    for render in (render_atom, render_rss, render_json):
        assert render(make_doc()) == render(make_doc())
    changed = make_doc(items=(story(title="武进区召开安全生产会议"), plain()))
    assert render_atom(changed) != render_atom(make_doc())


def test_duplicate_item_ids_are_rendered_once():
    doc = make_doc(items=(story(), story(title="重复"), plain()))
    for render in (render_atom, render_rss):
        entries = feedparser.parse(render(doc)).entries
        assert [e.id for e in entries] == [story().id, plain().id]
    assert len(json.loads(render_json(doc))["items"]) == 2


def test_empty_title_gets_a_readable_fallback():
    doc = make_doc(items=(plain(title="  ", summary=""),))
    for render in (render_atom, render_rss):
        assert feedparser.parse(render(doc)).entries[0].title == "（无标题）"
    doc = make_doc(items=(plain(title="", summary="市民在公园里散步。"),))
    assert feedparser.parse(render_atom(doc)).entries[0].title == "市民在公园里散步。"


def test_naive_times_are_taken_as_utc():
    doc = make_doc(
        items=(plain(published=datetime(2024, 1, 2, 3, 4), updated=datetime(2024, 1, 2, 3, 4)),),
        updated=datetime(2024, 1, 2, 3, 4),
    )
    entry = feedparser.parse(render_atom(doc)).entries[0]
    assert as_dt(entry.published_parsed) == datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    item = json.loads(render_json(doc))["items"][0]
    assert item["date_published"] == "2024-01-02T03:04:00+00:00"


# --------------------------------------------------------------------------- RSS


def test_rss_parses_back_with_guid_source_and_also_list():
    doc = make_doc(self_url=BASE + "region/320412.rss")
    raw = render_rss(doc)
    parsed = feedparser.parse(raw)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert parsed.feed.link == doc.html_url
    rels = links_by_rel(parsed.feed.links)
    assert rels["self"] == [doc.self_url]
    assert rels["hub"] == ["https://hub.example.org/"]
    assert rels["prev-archive"] == [BASE + "region/320412/2024-04.atom"]
    e, item = parsed.entries[0], doc.items[0]
    assert e.id == item.id
    assert e.guidislink is False
    assert e.link == item.link
    assert as_dt(e.published_parsed) == item.published
    assert e.author == "记者 王小明"
    assert e.source.title == "常州日报"
    assert e.source.href == item.source_url
    assert "另见" in e.description and "武进日报" in e.description
    assert "https://wj.example.cn/a/88.html" in e.description
    assert {t.term for t in e.tags} == {"常州市", "武进区", "安全生产"}

    root = etree.fromstring(raw)
    guid = root.find("channel/item/guid")
    assert guid.get("isPermaLink") == "false" and guid.text == item.id
    assert root.find("channel/item/source").get("url") == item.source_url


def test_rss_item_without_link_uses_reading_page_or_none():
    doc = make_doc(items=(plain(link=None, html_url=BASE + "story/c01"), plain(id="x", link=None)))
    entries = feedparser.parse(render_rss(doc)).entries
    assert entries[0].link == BASE + "story/c01"
    assert "link" not in entries[1] or entries[1].link in ("", None)


# --------------------------------------------------------------------------- JSON Feed


def test_json_feed_required_keys_types_and_dates():
    doc = make_doc(self_url=BASE + "region/320412.json")
    out = json.loads(render_json(doc))
    assert out["version"] == "https://jsonfeed.org/version/1.1"
    assert out["title"] == doc.title
    assert out["home_page_url"] == doc.html_url
    assert out["feed_url"] == doc.self_url
    assert out["next_url"] == BASE + "region/320412/2024-04.atom"
    assert out["hubs"] == [{"type": "WebSub", "url": "https://hub.example.org/"}]
    assert isinstance(out["items"], list) and len(out["items"]) == 2
    for item in out["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert isinstance(item.get("content_html", item.get("content_text")), str)
        for key in ("date_published", "date_modified"):
            assert RFC3339.match(item[key]), item[key]
    first = out["items"][0]
    assert first["url"] == story().link
    assert datetime.fromisoformat(first["date_published"]) == story().published
    assert first["authors"] == [{"name": "记者 王小明"}]
    assert first["tags"] == ["常州市", "武进区", "安全生产"]
    ext = first["_aggregator"]
    assert ext["outlet"] == "常州日报"
    assert ext["also_reported_by"] == [
        {
            "name": "武进日报",
            "url": "https://wj.example.cn/a/88.html",
            "published": "2024-05-01T01:00:00+00:00",
        },
        {"name": "常州广电", "url": "https://tv.example.cn/v/12", "published": None},
    ]
    assert ext["regions"] == [
        {"code": "320400", "name": "常州市"},
        {"code": "320412", "name": "武进区"},
    ]
    assert ext["topics"] == [{"slug": "work-safety", "name": "安全生产"}]
    assert ext["related"] == [
        {"title": "武进区开展节前安全检查", "url": "https://wj.example.cn/a/80.html"}
    ]
    assert "另见" in first["content_html"]


def test_json_without_archive_or_hub_omits_them():
    out = json.loads(render_json(make_doc(links=(), hub_url=None)))
    assert "next_url" not in out and "hubs" not in out


# --------------------------------------------------------------------------- hostile input


HOSTILE = "</title><script>alert(1)</script>&amp;<b>粗</b>"


def test_hostile_titles_are_escaped_everywhere():
    doc = make_doc(items=(plain(title=HOSTILE, author="<i>x</i>", outlet_name="A&B"),))
    for render in (render_atom, render_rss):
        raw = render(doc)
        root = etree.fromstring(raw)
        assert not list(root.iter("script", "{http://www.w3.org/2005/Atom}script"))
        assert b"<script>" not in raw
        title = root.find(".//" + A + "entry/" + A + "title")
        if title is None:
            title = root.find("channel/item/title")
        assert title.text == HOSTILE
    assert json.loads(render_json(doc))["items"][0]["title"] == HOSTILE


def test_control_characters_never_reach_the_output():
    dirty = "常州\x00日\x08报\x0b\x1f\x7f\x85\ufffe标题"
    doc = make_doc(
        title="订阅\x01源",
        items=(
            story(
                title=dirty,
                content_html="<p>正文\x0c内容</p>",
                summary="摘\x1b要",
                also=(Outlet("武进\x02日报", "https://wj.example.cn/a/1\x03", None),),
                regions=(("320412", "武进\x04区"),),
            ),
        ),
    )
    for raw in (render_atom(doc), render_rss(doc), render_json(doc)):
        text = raw.decode("utf-8")
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe]", text)
        assert "常州日报标题" in text
    etree.fromstring(render_atom(doc))  # strict parse: would raise on an illegal character
    etree.fromstring(render_rss(doc))


@settings(max_examples=60, deadline=None)
@given(title=st.text(), summary=st.text(max_size=50), outlet=st.text(max_size=20))
def test_any_text_renders_to_well_formed_feeds(title, summary, outlet):
    doc = make_doc(items=(plain(title=title, summary=summary, outlet_name=outlet or None),))
    for render in (render_atom, render_rss):
        root = etree.fromstring(render(doc))
        assert root is not None
    json.loads(render_json(doc))


# --------------------------------------------------------------------------- OPML


def test_opml_round_trip_with_nested_groups():
    feeds = [
        ("全部新闻", BASE + "all.atom", BASE),
        OpmlGroup(
            "江苏省",
            (
                ("常州市", BASE + "region/320400.atom", BASE + "region/320400"),
                OpmlGroup(
                    "常州市各区", (("武进区", BASE + "region/320412.atom", BASE + "region/320412"),)
                ),
            ),
        ),
    ]
    raw = render_opml("区域新闻订阅", feeds, html_url=BASE)
    root = etree.fromstring(raw)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "区域新闻订阅"
    leaf = root.find("body/outline/outline/outline")
    assert leaf.get("text") == "武进区" and leaf.get("type") == "rss"
    assert leaf.get("xmlUrl") == BASE + "region/320412.atom"
    assert leaf.get("htmlUrl") == BASE + "region/320412"
    assert parse_opml(raw) == [
        ("全部新闻", BASE + "all.atom", BASE),
        ("常州市", BASE + "region/320400.atom", BASE + "region/320400"),
        ("武进区", BASE + "region/320412.atom", BASE + "region/320412"),
    ]


def test_parse_opml_tolerates_missing_attributes_and_odd_spelling():
    data = """<?xml version="1.0" encoding="GBK"?>
<opml version="1.0"><head><title>我的订阅</title></head><body>
  <outline text="地方媒体">
    <outline text="常州日报" xmlurl="https://cz.example.cn/rss.xml"/>
    <outline title="武进日报" text="ignored" xmlUrl="https://wj.example.cn/feed" htmlUrl="https://wj.example.cn/"/>
    <outline xmlUrl="https://x.example.cn/atom"/>
    <outline text="只是文件夹"/>
    <outline text="重复" xmlUrl="https://cz.example.cn/rss.xml"/>
  </outline>
</body></opml>""".encode("gbk")
    assert parse_opml(data) == [
        ("常州日报", "https://cz.example.cn/rss.xml", None),
        ("武进日报", "https://wj.example.cn/feed", "https://wj.example.cn/"),
        ("https://x.example.cn/atom", "https://x.example.cn/atom", None),
    ]


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "not well-formed"),
        (b'<opml version="2.0"><body><outline text="a & b" xmlUrl="u"/></body></opml>', "line 1"),
        (b"<rss version='2.0'><channel/></rss>", "<rss>"),
        (b'<opml version="2.0"><head/></opml>', "no <body>"),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<opml version="2.0"><head><title>&x;</title></head><body/></opml>',
            "entities",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<opml version="2.0"><body><outline text="&b;" xmlUrl="http://a/"/></body></opml>',
            "entities",
        ),
    ],
)
def test_parse_opml_rejects_bad_input_clearly(data, words):
    with pytest.raises(ParseError) as info:
        parse_opml(data)
    assert words in str(info.value)


def test_opml_strips_control_characters():
    raw = render_opml("订\x01阅", [("常\x02州", BASE + "a.atom", "")])
    assert parse_opml(raw) == [("常州", BASE + "a.atom", None)]
