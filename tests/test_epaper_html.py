"""E-paper sites in HTML: issue URLs, issue pages, article pages, and polling a real site.

The site is a loopback aiohttp server over tests/fixtures/sites/: a Founder classic-layout
paper with issues for 2024-03-04 and 2024-03-05, and a newer-layout paper for 2024-03-05.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web

from aggregator.collect import Page, collect, issue_days
from aggregator.epaper_html import (
    IssueLink,
    enp_properties,
    issue_url,
    parse_article,
    parse_issue_page,
)
from aggregator.errors import ConfigError, FetchError, ParseError
from aggregator.extract import day_start, decode_html
from aggregator.model import ARTICLE, PHOTO, SourceDef

SITES = Path(__file__).parent / "fixtures" / "sites"
CLASSIC = SITES / "epaper_classic" / "czrb" / "html"
LAYOUT = SITES / "epaper_layout" / "pc"
BASE = "http://paper.example/czrb/html/2024-03/05/"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- pure parts


def test_issue_url_formats_the_day_into_the_pattern():
    day = date(2024, 3, 5)
    assert issue_url("https://epaper.example.cn/site1/czrb", "html/%Y-%m/%d/node_2.htm", day) == (
        "https://epaper.example.cn/site1/czrb/html/2024-03/05/node_2.htm"
    )
    assert issue_url("http://szb.example.com/jnwb/", "pc/layout/%Y%m/%d/node_A01.html", day) == (
        "http://szb.example.com/jnwb/pc/layout/202403/05/node_A01.html"
    )
    assert (
        issue_url("http://x.example/", "%Y%m%d/page_01.html", day)
        == "http://x.example/20240305/page_01.html"
    )


def test_issue_page_lists_its_pages_and_articles_only():
    pages, articles = parse_issue_page(read(CLASSIC / "2024-03/05/node_2.htm"), BASE + "node_2.htm")
    assert pages == (
        IssueLink(BASE + "node_2.htm", "第A01版：要闻"),
        IssueLink(BASE + "node_3.htm", "第A02版：综合"),
    )
    # The image map links come first but carry no text; the list names them. The calendar
    # (other days), the archive teaser (another date) and the partner site are left out.
    assert articles == (
        IssueLink(BASE + "content_5101.htm", "崇文路片区改造项目全面启动"),
        IssueLink(BASE + "content_5102.htm", "市区新增三条公交微循环线路"),
        IssueLink(BASE + "content_5103.htm", "早春花开"),
    )


def test_navigation_text_never_names_a_page():
    html = (
        '<a href="node_3.htm">下一版</a><a href="node_3.htm"><img src="p.jpg"></a>'
        '<a id="pageLink" href="node_3.htm">第A02版：综合</a><a href="node_4.htm">下一版</a>'
    )
    pages, _ = parse_issue_page(html, BASE + "node_2.htm")
    assert pages == (
        IssueLink(BASE + "node_3.htm", "第A02版：综合"),
        IssueLink(BASE + "node_4.htm", ""),
    )


def test_link_patterns_are_configurable_for_other_layouts():
    html = (
        '<a href="page_02.html">02版 城市</a><a href="../20240304/page_01.html">昨天</a>'
        '<a href="art_11.html">新闻一</a><a href="../20240304/art_9.html">旧闻</a>'
    )
    url = "http://x.example/20240305/page_01.html"
    pages, articles = parse_issue_page(
        html, url, page_link=r"page_\d+\.html$", article_link=r"art_\d+\.html$"
    )
    assert [p.url for p in pages] == ["http://x.example/20240305/page_02.html"]
    assert [a.url for a in articles] == ["http://x.example/20240305/art_11.html"]


def test_enpproperty_comment_fields():
    fields = enp_properties(read(CLASSIC / "2024-03/05/content_5101.htm"))
    assert fields["title"] == "崇文路片区改造项目全面启动"
    assert fields["introtitle"] == "春季项目建设“开门红”"
    assert fields["date"] == "2024-03-05"
    assert enp_properties("<html></html>") == {}


def test_article_with_founder_headline_stack():
    url = BASE + "content_5101.htm"
    entry = parse_article(read(CLASSIC / "2024-03/05/content_5101.htm"), url, page="第A01版：要闻")
    assert entry.key == entry.url == url
    assert entry.kicker == "春季项目建设“开门红”"
    # The headline has a <br> in print; the comment spells it unbroken.
    assert entry.title == "崇文路片区改造项目全面启动"
    assert entry.subtitle == "涉及居民1200余户，计划年内完成主体工程"
    assert entry.reporters == ("周明远", "钱雨")
    assert entry.published == day_start(date(2024, 3, 5))
    assert entry.categories == ("第A01版：要闻",)
    paras = entry.text.split("\n\n")
    assert len(paras) == 4 and paras[0].startswith("3月4日上午，位于老城区东北角")
    assert paras[-1] == "按照计划，项目主体工程将于年内完工，明年上半年全部交付使用。"
    assert "http://paper.example/czrb/res/1/20240305/71391709598000.jpg" in entry.content_html
    assert "enpproperty" not in entry.content_html and "<!--" not in entry.content_html
    assert entry.type == ARTICLE


def test_article_of_the_older_template_and_a_byline_paragraph():
    entry = parse_article(read(CLASSIC / "2024-03/05/content_5102.htm"), BASE + "content_5102.htm")
    assert entry.title == "市区新增三条公交微循环线路"
    assert entry.kicker is None and entry.subtitle is None
    assert entry.reporters == ("陆文华",)
    assert not entry.text.startswith("■") and "陆文华" not in entry.text
    assert "陆文华" not in entry.content_html
    assert entry.text.startswith("为方便居民就近出行")


def test_picture_with_a_caption_is_a_photo():
    entry = parse_article(read(CLASSIC / "2024-03/05/content_5103.htm"), BASE + "content_5103.htm")
    assert entry.type == PHOTO and entry.title == "早春花开"
    assert "<img" in entry.content_html


def test_dateline_byline_stays_in_the_text():
    entry = parse_article(read(CLASSIC / "2024-03/05/content_5104.htm"), BASE + "content_5104.htm")
    assert entry.reporters == ("孙立新", "何静")
    assert entry.text.startswith("本报讯（记者 孙立新 通讯员 何静）3月4日中午")


def test_newer_layout_article():
    url = "http://paper.example/pc/content/202403/05/content_701.html"
    entry = parse_article(read(LAYOUT / "content/202403/05/content_701.html"), url)
    assert (entry.kicker, entry.title, entry.subtitle) == (
        "打造产业创新高地",
        "沿江科创带再添新平台",
        "新材料中试基地投用，首批入驻项目12个",
    )
    assert entry.reporters == ("顾海", "沈冰")
    assert entry.published == day_start(date(2024, 3, 5))
    assert "http://paper.example/pc/attachment/202403/05/701_1.jpg" in entry.content_html


def test_selectors_override_where_fields_are_read():
    html = '<div class="yt">引题</div><div class="bt">主标题</div><div class="zw"><p>正文一段足够长的内容。</p></div>'
    entry = parse_article(
        html,
        "http://x.example/20240305/art_1.html",
        selectors={"kicker": ".yt", "title": ".bt", "body": ".zw"},
    )
    assert (entry.kicker, entry.title, entry.text) == ("引题", "主标题", "正文一段足够长的内容。")
    assert entry.published == day_start(date(2024, 3, 5))


def test_empty_page_is_a_parse_error():
    with pytest.raises(ParseError):
        parse_article("<html><body><div id=ozoom></div></body></html>", BASE + "content_1.htm")


def test_issue_days_resume_after_the_last_issue():
    today = date(2024, 3, 7)
    assert issue_days(date(2024, 3, 5), today) == ([date(2024, 3, 6), date(2024, 3, 7)], None)
    assert issue_days(today, today) == ([today], None)  # today's issue may still grow
    assert issue_days(None, today, initial_days=2) == ([date(2024, 3, 6), today], None)
    days, note = issue_days(date(2024, 2, 1), today, max_days=3)
    assert days == [date(2024, 3, 5), date(2024, 3, 6), today] and note and "backfill" in note
    days, _ = issue_days(today, today, backfill=(date(2024, 3, 2), date(2024, 3, 1)))
    assert days == [date(2024, 3, 1), date(2024, 3, 2)]


# --------------------------------------------------------------------------- polling a site


@pytest.fixture
async def site(aiohttp_server):
    """The fixture sites on 127.0.0.1, with a hit counter and paths that can be made to fail."""
    hits: Counter[str] = Counter()
    failing: set[str] = set()

    async def handler(request: web.Request) -> web.StreamResponse:
        hits[request.path] += 1
        if request.path in failing:
            return web.Response(status=500, text="server error")
        path = (SITES / request.match_info["path"]).resolve()
        if not path.is_relative_to(SITES.resolve()) or not path.is_file():
            raise web.HTTPNotFound()
        return web.Response(body=path.read_bytes(), content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/{path:.*}", handler)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:

        async def get(url: str) -> Page:
            try:
                async with session.get(url) as resp:
                    body = await resp.read()
                    text = decode_html(body, resp.charset) if resp.status == 200 else ""
                    return Page(str(resp.url), resp.status, text, dict(resp.headers))
            except aiohttp.ClientError as exc:
                raise FetchError(f"cannot fetch: {exc}", "network") from exc

        yield SimpleNamespace(root=str(server.make_url("/")), get=get, hits=hits, failing=failing)


def classic(site, **options) -> SourceDef:
    return SourceDef(
        id="longcheng-daily",
        name="龙城日报",
        url=site.root + "epaper_classic/czrb/",
        kind="epaper-html",
        region="320400",
        options={"page_pattern": "html/%Y-%m/%d/node_2.htm", **options},
    )


def content_hits(site, day: str) -> Counter[str]:
    return Counter({p: n for p, n in site.hits.items() if f"/{day}/content_" in p})


async def test_first_poll_reads_the_recent_issues(site):
    got = await collect(classic(site), site.get, {}, today=date(2024, 3, 5))
    assert got.warnings == ()
    assert got.state == {"last_issue": "2024-03-05"}
    titles = {e.title for e in got.entries}
    assert titles == {
        "全市安全生产工作会议召开",
        "运河沿线绿道今年贯通",
        "湖塘镇：小微企业服务站挂牌",
        "崇文路片区改造项目全面启动",
        "市区新增三条公交微循环线路",
        "早春花开",
        "社区食堂开进老旧小区",
    }
    by_title = {e.title: e for e in got.entries}
    green = by_title["运河沿线绿道今年贯通"]
    assert green.subtitle == "全长32公里，串联8个公园" and green.reporters == ("吴晨", "唐悦")
    assert green.published == day_start(date(2024, 3, 4)) and green.categories == ("第A01版：要闻",)
    canteen = by_title["社区食堂开进老旧小区"]
    assert canteen.kicker == "小切口解决大民生" and canteen.categories == ("第A02版：综合",)
    assert canteen.position == 1
    # Linked from two pages, the article is fetched once and filed under the first.
    assert by_title["崇文路片区改造项目全面启动"].categories == ("第A01版：要闻",)
    assert all(n == 1 for n in site.hits.values())
    assert "/epaper_classic/czrb/html/2024-02/28/content_4001.htm" not in site.hits


async def test_seen_articles_are_not_fetched_again(site):
    first = await collect(classic(site), site.get, {}, today=date(2024, 3, 5))
    stored = {e.url for e in first.entries}
    site.hits.clear()
    again = await collect(
        classic(site), site.get, first.state, today=date(2024, 3, 5), seen=stored.__contains__
    )
    assert again.entries == () and again.warnings == ()
    assert content_hits(site, "05") == Counter()
    assert again.state == {"last_issue": "2024-03-05"}


async def test_absent_issues_are_normal(site):
    state = {"last_issue": "2024-03-05"}
    got = await collect(classic(site), site.get, state, today=date(2024, 3, 7))
    assert got.entries == () and got.warnings == ()
    assert got.state == state
    assert site.hits["/epaper_classic/czrb/html/2024-03/06/node_2.htm"] == 1


async def test_backfill_reads_just_the_range(site):
    state = {"last_issue": "2024-03-05"}
    got = await collect(
        classic(site),
        site.get,
        state,
        today=date(2024, 3, 7),
        backfill=(date(2024, 3, 4), date(2024, 3, 4)),
    )
    assert {e.published for e in got.entries} == {day_start(date(2024, 3, 4))}
    assert len(got.entries) == 3
    assert got.state == state  # a backfill does not move the polling position
    assert content_hits(site, "05") == Counter()


async def test_article_budget_leaves_the_day_open(site):
    src = classic(site, max_articles=2, initial_days=1)
    first = await collect(src, site.get, {}, today=date(2024, 3, 4))
    assert len(first.entries) == 2
    assert "last_issue" not in first.state  # not all of 2024-03-04 was read
    stored = {e.url for e in first.entries}
    second = await collect(
        src, site.get, first.state, today=date(2024, 3, 4), seen=stored.__contains__
    )
    assert [e.title for e in second.entries] == ["湖塘镇：小微企业服务站挂牌"]
    assert second.state == {"last_issue": "2024-03-04"}


async def test_a_failing_page_is_reported_and_the_day_polled_again(site):
    site.failing.add("/epaper_classic/czrb/html/2024-03/05/node_3.htm")
    got = await collect(
        classic(site), site.get, {"last_issue": "2024-03-04"}, today=date(2024, 3, 5)
    )
    assert any("node_3.htm: HTTP 500" in w for w in got.warnings)
    assert {e.title for e in got.entries} == {
        "崇文路片区改造项目全面启动",
        "市区新增三条公交微循环线路",
        "早春花开",
    }
    assert got.state == {"last_issue": "2024-03-04"}


async def test_unreachable_site_is_a_warning_not_a_crash(site):
    src = SourceDef(
        id="gone",
        name="停刊",
        url="http://127.0.0.1:9/",
        kind="epaper-html",
        options={"page_pattern": "html/%Y-%m/%d/node_2.htm"},
    )
    got = await collect(src, site.get, {}, today=date(2024, 3, 5))
    assert got.entries == () and len(got.warnings) == 2 and got.state == {}


async def test_newer_layout_site(site):
    src = SourceDef(
        id="jianghai-evening",
        name="江海晚报",
        url=site.root + "epaper_layout/",
        kind="epaper-html",
        options={"page_pattern": "pc/layout/%Y%m/%d/node_A01.html", "initial_days": 1},
    )
    got = await collect(src, site.get, {}, today=date(2024, 3, 5))
    assert got.warnings == ()
    by_title = {e.title: e for e in got.entries}
    assert set(by_title) == {"沿江科创带再添新平台", "濠河夜游航线恢复运营", "老街巷里的“城市书房”"}
    assert by_title["老街巷里的“城市书房”"].categories == ("A02：城事",)
    assert by_title["老街巷里的“城市书房”"].reporters == ("朱晓", "严芳")
    assert by_title["沿江科创带再添新平台"].kicker == "打造产业创新高地"


async def test_missing_page_pattern_is_a_config_error(site):
    src = SourceDef(id="x", name="x", url=site.root, kind="epaper-html")
    with pytest.raises(ConfigError, match="page_pattern"):
        await collect(src, site.get, {}, today=date(2024, 3, 5))


async def test_page_cap_reads_part_of_the_issue_and_says_so(site):
    got = await collect(
        classic(site, max_pages=1, initial_days=1), site.get, {}, today=date(2024, 3, 5)
    )
    assert {e.categories for e in got.entries} == {("第A01版：要闻",)}
    assert len(got.warnings) == 1 and "more than 1 pages" in got.warnings[0]
    assert "last_issue" not in got.state
