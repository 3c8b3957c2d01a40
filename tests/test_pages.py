"""The HTML pages: autodiscovery, content, escaping, and a stylesheet the CSP lets through."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import lxml.html

from aggregator.model import FeedDoc, FeedItem, Outlet
from aggregator.pages import (
    CSP,
    STYLE_SOURCE,
    FeedRow,
    Section,
    SiteView,
    SourceRow,
    content_security_policy,
    error_page,
    feed_page,
    index_page,
    item_page,
)

CST = timezone(timedelta(hours=8))
BASE = "https://news.example.cn/"
HOSTILE = "</title><script>alert(1)</script>"
ATOM, RSS, JSONF = "application/atom+xml", "application/rss+xml", "application/feed+json"


def fmts(key: str) -> tuple[tuple[str, str], ...]:
    return (
        ("Atom", f"{BASE}{key}.atom"),
        ("RSS", f"{BASE}{key}.rss"),
        ("JSON", f"{BASE}{key}.json"),
    )


def site(**kw) -> SiteView:
    values = dict(
        title="地方新闻聚合",
        base_url=BASE,
        description="汇集各地市、区县媒体的报道。",
        sections=(
            Section("全部", (FeedRow("全部文章", BASE + "all", 1234, fmts("all")),), anchor="all"),
            Section(
                "按地区",
                (
                    FeedRow("江苏省", BASE + "region/320000", 900, fmts("region/320000")),
                    FeedRow("常州市", BASE + "region/320400", 300, fmts("region/320400"), depth=1),
                    FeedRow("武进区", BASE + "region/320412", 120, fmts("region/320412"), depth=2),
                ),
                anchor="regions",
            ),
            Section(
                "按主题", (FeedRow("安全生产", BASE + "topic/work-safety", 45),), anchor="topics"
            ),
        ),
        sources=(
            SourceRow(
                "常州日报",
                BASE + "source/czrb",
                "https://cz.example.cn/",
                "epaper-html",
                410,
                datetime(2024, 5, 1, 2, 0, tzinfo=UTC),
                True,
                None,
                fmts("source/czrb"),
            ),
            SourceRow(
                "武进日报",
                BASE + "source/wjrb",
                "https://wj.example.cn/",
                "feed",
                12,
                datetime(2024, 5, 1, 2, 5, tzinfo=UTC),
                False,
                "HTTP 503 from https://wj.example.cn/rss.xml; will retry in 2 h",
            ),
            SourceRow("新来源", None, None, "page"),
        ),
        autodiscovery=(
            (ATOM, BASE + "all.atom", "全部文章 (Atom)"),
            (RSS, BASE + "all.rss", "全部文章 (RSS)"),
            (JSONF, BASE + "all.json", "全部文章 (JSON Feed)"),
        ),
        opml_href=BASE + "feeds.opml",
        updated=datetime(2024, 5, 1, 10, 5, tzinfo=CST),
    )
    values.update(kw)
    return SiteView(**values)


def item(**kw) -> FeedItem:
    values = dict(
        id="urn:aggregator:story:7f3a",
        title="武进区召开安全生产工作会议",
        link="https://cz.example.cn/news/1.html",
        published=datetime(2024, 5, 1, 0, 30, tzinfo=UTC),
        updated=datetime(2024, 5, 1, 2, 0, tzinfo=UTC),
        content_html="<p>5月1日上午，武进区召开会议。</p><p>会议强调……</p>",
        summary="武进区召开安全生产工作会议。",
        author="记者 王小明",
        outlet_name="常州日报",
        also=(
            Outlet(
                "武进日报",
                "https://wj.example.cn/a/88.html",
                datetime(2024, 5, 1, 1, 0, tzinfo=UTC),
            ),
        ),
        related=(("节前安全检查", "https://wj.example.cn/a/80.html"),),
        regions=(("320412", "武进区"),),
        topics=(("work-safety", "安全生产"),),
        html_url=BASE + "story/7f3a",
    )
    values.update(kw)
    return FeedItem(**values)


def doc(**kw) -> FeedDoc:
    values = dict(
        key="region/320412",
        title="武进区新闻",
        self_url=BASE + "region/320412.atom",
        html_url=BASE + "region/320412",
        base_url=BASE,
        id="urn:aggregator:feed:region/320412",
        updated=datetime(2024, 5, 1, 2, 0, tzinfo=UTC),
        items=(item(),),
        subtitle="武进区各媒体报道",
        links=(("prev-archive", BASE + "region/320412/2024-04"),),
        alternates=(
            (ATOM, BASE + "region/320412.atom", "Atom"),
            (RSS, BASE + "region/320412.rss", "RSS"),
            (JSONF, BASE + "region/320412.json", "JSON Feed"),
        ),
    )
    values.update(kw)
    return FeedDoc(**values)


def parse(page: str):
    return lxml.html.document_fromstring(page)


def autodiscovery(tree) -> list[tuple[str, str]]:
    return [(el.get("type"), el.get("href")) for el in tree.xpath("//head/link[@rel='alternate']")]


def text_of(tree) -> str:
    return " ".join(tree.text_content().split())


def assert_self_contained(page: str) -> None:
    """No script, no external resource, and the one stylesheet matches the CSP hash."""
    tree = parse(page)
    assert not tree.xpath("//script | //iframe | //*[@style] | //link[@rel='stylesheet']")
    assert not tree.xpath("//*[@onclick or @onload or @onerror]")
    styles = tree.xpath("//style")
    assert len(styles) == 1
    raw = page.split("<style>", 1)[1].split("</style>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(raw.encode()).digest()).decode()
    assert f"'sha256-{digest}'" == STYLE_SOURCE
    assert STYLE_SOURCE in CSP


# --------------------------------------------------------------------------- index


def test_index_lists_feeds_with_subscribe_links_and_autodiscovery():
    page = index_page(site())
    tree = parse(page)
    assert tree.get("lang") == "zh-CN"
    assert tree.findtext(".//title") == "地方新闻聚合"
    assert autodiscovery(tree) == [
        (ATOM, BASE + "all.atom"),
        (RSS, BASE + "all.rss"),
        (JSONF, BASE + "all.json"),
    ]
    hrefs = tree.xpath("//main//a/@href")
    for key in ("all", "region/320400", "region/320412", "source/czrb"):
        assert f"{BASE}{key}.atom" in hrefs and f"{BASE}{key}.json" in hrefs
    assert BASE + "topic/work-safety" in hrefs
    body = text_of(tree)
    assert "1234 篇" in body and "120 篇" in body
    # The region tree is indented by depth.
    wujin = tree.xpath(f"//li[.//a[@href='{BASE}region/320412']]")[0]
    assert wujin.get("class") == "d2"
    assert tree.xpath(f"//a[@href='{BASE}feeds.opml']")
    assert_self_contained(page)


def test_index_sources_table_shows_fetch_status_and_error_text():
    tree = parse(index_page(site()))
    rows = tree.xpath("//section[@id='sources']//tbody/tr")
    assert len(rows) == 3
    cells = [[" ".join(td.text_content().split()) for td in row.xpath("td")] for row in rows]
    assert cells[0][0].startswith("常州日报") and cells[0][1] == "电子报" and cells[0][2] == "410"
    assert cells[0][3] == "2024-05-01 10:00"  # 02:00 UTC shown in Beijing time
    assert cells[0][4] == "正常"
    assert cells[1][4].startswith("出错")
    assert "HTTP 503 from https://wj.example.cn/rss.xml" in cells[1][4]
    assert cells[2][4] == "尚未抓取"
    assert rows[2].xpath("td[1]/a") == []  # no page yet, so no link


def test_index_escapes_hostile_names_and_refuses_script_links():
    evil = site(
        title=HOSTILE,
        sections=(
            Section(HOSTILE, (FeedRow(HOSTILE, "javascript:alert(1)", 1, (("Atom", "data:x"),)),)),
        ),
        sources=(
            SourceRow(HOSTILE, None, "javascript:alert(2)", "feed", None, None, False, HOSTILE),
        ),
    )
    page = index_page(evil)
    tree = parse(page)
    assert not tree.xpath("//script")
    assert tree.findtext(".//title") == HOSTILE
    assert HOSTILE in text_of(tree)
    assert not [h for h in tree.xpath("//@href") if not h.startswith(("http", "#"))]


def test_index_is_deterministic():
    assert index_page(site()) == index_page(site())


# --------------------------------------------------------------------------- feed page


def test_feed_page_lists_items_with_outlets_times_tags_and_also():
    page = feed_page(doc(), site_title="地方新闻聚合")
    tree = parse(page)
    assert tree.findtext(".//h1") == "武进区新闻"
    assert autodiscovery(tree) == [
        (ATOM, BASE + "region/320412.atom"),
        (RSS, BASE + "region/320412.rss"),
        (JSONF, BASE + "region/320412.json"),
    ]
    box = tree.xpath("//*[@class='subscribe']//a/@href")
    assert box == [
        BASE + "region/320412.atom",
        BASE + "region/320412.rss",
        BASE + "region/320412.json",
    ]
    art = tree.xpath("//ol[@class='items']/li")
    assert len(art) == 1
    # the title leads to our reading page (every outlet's copy); the original is one click away
    assert art[0].xpath(".//h2/a/@href") == [BASE + "story/7f3a"]
    assert art[0].xpath(".//a[text()='原文']/@href") == ["https://cz.example.cn/news/1.html"]
    body = text_of(art[0])
    assert "常州日报" in body and "记者 王小明" in body
    assert "2024-05-01 08:30" in body  # 00:30 UTC
    assert art[0].xpath(".//time/@datetime") == ["2024-05-01T00:30:00+00:00"]
    assert "另见：武进日报（2024-05-01 09:00）" in body
    assert art[0].xpath(".//a[text()='武进日报']/@href") == ["https://wj.example.cn/a/88.html"]
    assert art[0].xpath(".//a[text()='武进区']/@href") == [BASE + "region/320412"]
    assert art[0].xpath(".//a[text()='安全生产']/@href") == [BASE + "topic/work-safety"]
    assert tree.xpath("//nav[@class='pager']/a[@rel='prev-archive']/@href") == [
        BASE + "region/320412/2024-04"
    ]
    assert tree.xpath("//p[@class='crumb']/a/@href") == [BASE]
    assert_self_contained(page)


def test_feed_page_custom_tag_links_and_fallback_subscribe():
    page = feed_page(
        doc(alternates=()),
        region_href=lambda code: f"/r/{code}",
        topic_href=lambda slug: f"/t/{slug}",
    )
    tree = parse(page)
    assert autodiscovery(tree) == [(ATOM, BASE + "region/320412.atom")]
    assert tree.xpath("//a[text()='武进区']/@href") == ["/r/320412"]
    assert tree.xpath("//a[text()='安全生产']/@href") == ["/t/work-safety"]


def test_feed_page_empty_and_hostile():
    empty = text_of(parse(feed_page(doc(items=()))))
    assert "暂无文章" in empty
    page = feed_page(
        doc(title=HOSTILE, items=(item(title=HOSTILE, link="javascript:alert(1)", html_url=None),))
    )
    tree = parse(page)
    assert not tree.xpath("//script")
    assert tree.findtext(".//h1") == HOSTILE
    assert tree.xpath("//ol[@class='items']//h2")[0].text_content() == HOSTILE
    assert not tree.xpath("//a[starts-with(@href, 'javascript')]")


# --------------------------------------------------------------------------- item and error pages


def test_item_page_shows_sanitised_content_and_original_link():
    page = item_page(item(), site_title="地方新闻聚合", base_url=BASE)
    tree = parse(page)
    assert tree.findtext(".//h1") == "武进区召开安全生产工作会议"
    paras = tree.xpath("//div[@class='body']/p")
    assert [p.text for p in paras] == ["5月1日上午，武进区召开会议。", "会议强调……"]
    assert tree.xpath("//a[text()='阅读原文']/@href") == ["https://cz.example.cn/news/1.html"]
    assert tree.xpath("//section[@class='also']//a/@href") == ["https://wj.example.cn/a/88.html"]
    assert "img-src" not in CSP and "img-src" in content_security_policy(images=True)
    assert_self_contained(page)


def test_error_page_is_helpful_and_escaped():
    page = error_page(
        404,
        "找不到这个地区",
        f"没有代码为 {HOSTILE} 的地区。",
        [("返回首页", BASE), ("按地区浏览", BASE + "#regions")],
        site_title="地方新闻聚合",
        base_url=BASE,
    )
    tree = parse(page)
    assert tree.findtext(".//title") == "404 找不到这个地区"
    assert not tree.xpath("//script")
    assert HOSTILE in text_of(tree)
    assert tree.xpath("//main//li/a/@href") == [BASE, BASE + "#regions"]
    assert "HTTP 404" in text_of(tree)
    assert_self_contained(page)


# --------------------------------------------------------------------------- reading view parts


def test_item_page_with_copies_related_and_subscribe_box():
    from aggregator.pages import Copy

    copies = (Copy("武进日报", "武进部署安全生产", "https://wj.example.cn/a/88.html",
                   datetime(2024, 5, 1, 1, 0, tzinfo=UTC), "<p>武进日报的版本。</p>"),
              Copy(HOSTILE, HOSTILE, "javascript:alert(1)", None, "", "只有摘要。"))
    feeds = (FeedRow("武进区", BASE + "region/320412", None, fmts("region/320412")),)
    page = item_page(item(), site_title="地方新闻聚合", base_url=BASE, copies=copies,
                     feeds=feeds, autodiscovery=((ATOM, BASE + "region/320412.atom", "武进区"),))
    tree = parse(page)
    details = tree.xpath("//details[@class='copy']")
    assert len(details) == 2 and all(d.get("open") is None for d in details)
    assert text_of(details[0].xpath("summary")[0]) == (
        "武进日报 · 2024-05-01 09:00 · 武进部署安全生产")
    assert text_of(details[0].xpath("div")[0]) == "武进日报的版本。"
    assert text_of(details[1].xpath("div")[0]) == "只有摘要。"
    assert not tree.xpath("//a[starts-with(@href, 'javascript')]") and not tree.xpath("//script")
    assert "共 3 家媒体报道" in text_of(tree)
    assert tree.xpath("//section[@class='related']//a/@href") == ["https://wj.example.cn/a/80.html"]
    assert tree.xpath("//aside[@id='subscribe']//a/@href")[1:] == [h for _, h in fmts(
        "region/320412")]
    assert autodiscovery(tree) == [(ATOM, BASE + "region/320412.atom")]
    assert_self_contained(page)


def test_feed_page_sections_bundle_crumbs_and_archive_note():
    sections = (Section("武进区 各主题", (FeedRow("安全生产", BASE + "region/320412/topic/work-safety",
                                                  3),), "topics"),)
    page = feed_page(doc(archive=True), site_title="地方新闻聚合", sections=sections,
                     opml_href=BASE + "opml/region/320412",
                     crumbs=(("江苏省", BASE + "region/320000"),))
    tree = parse(page)
    assert [a.text for a in tree.xpath("//p[@class='crumb']/a")] == ["地方新闻聚合", "江苏省"]
    box = tree.xpath("//p[@class='subscribe']/a")
    assert [a.text for a in box] == ["Atom", "RSS", "JSON", "OPML 合集"]
    assert box[-1].get("type") == "text/x-opml"
    assert tree.xpath("//aside//section[@id='topics']//li//a/@href")[0].endswith("work-safety")
    assert tree.xpath("//header/nav/a/@href") == ["#topics"]
    assert "本页为存档" in text_of(tree)
    assert_self_contained(page)


def test_search_page_form_results_paging_and_feeds():
    from aggregator.pages import SearchResult, SearchView, search_page

    view = SearchView(
        site_title="地方新闻聚合", base_url=BASE, action=BASE + "search", q=HOSTILE,
        region="320412", regions=(("320400", "常州市"), ("320412", "　武进区")),
        topics=(("work-safety", "安全生产"),),
        results=(SearchResult(item(), "武进区召开<mark>安全生产</mark>会议"),), total=21, first=1,
        links=(("next", BASE + "search?q=x&page=2"),),
        feeds=((ATOM, BASE + "feeds/search.atom?q=x", "搜索 (Atom)"),))
    page = search_page(view)
    tree = parse(page)
    form = tree.xpath("//form[@class='search']")[0]
    assert form.get("method") == "get" and form.get("action") == BASE + "search"
    assert form.xpath(".//input[@name='q']/@value") == [HOSTILE]
    assert form.xpath(".//select[@name='region']/option[@selected]/@value") == ["320412"]
    assert tree.xpath("//p[@class='snippet']/mark/text()") == ["安全生产"]
    assert "找到 21 篇报道" in text_of(tree)
    assert tree.xpath("//nav[@class='pager']/a[@rel='next']/@href") == [BASE + "search?q=x&page=2"]
    assert autodiscovery(tree) == [(ATOM, BASE + "feeds/search.atom?q=x")]
    assert not tree.xpath("//script")
    assert_self_contained(page)
    empty = parse(search_page(SearchView("站", BASE, BASE + "search", message="输入词语",
                                         examples=(("反诈", BASE + "search?q=反诈"),))))
    assert "输入词语" in text_of(empty) and autodiscovery(empty) == []


def test_csp_lets_the_search_form_submit_to_this_site_only():
    assert "form-action 'self'" in CSP and "script-src" not in CSP
