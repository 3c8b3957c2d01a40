"""List pages: selectors to items, and polling a GBK government news column end to end."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web

from aggregator.collect import Page, collect
from aggregator.errors import ConfigError, FetchError
from aggregator.extract import day_start, decode_html
from aggregator.listpage import ListItem, check_selectors, parse_list
from aggregator.model import SourceDef

SITES = Path(__file__).parent / "fixtures" / "sites"
GOV_LIST = SITES / "gov" / "hdyw" / "index.html"
GOV_SELECTORS = {
    "items": "#msgList ul.list-ul li",
    "link": "a",
    "title": "a span",
    "date": "span.timedate",
}
LIST_URL = "http://gov.example/gov/hdyw/index.html"


def test_gbk_government_list():
    items = parse_list(decode_html(GOV_LIST.read_bytes()), LIST_URL, GOV_SELECTORS)
    assert [i.url for i in items] == [
        "http://gov.example/gov/art/2024/3/5/art_2101_501.html",  # root-relative
        "http://gov.example/gov/art/2024/3/4/art_2101_498.html",  # ../
        "http://gov.example/gov/art/2024/3/1/art_2101_480.html",  # ./../
        "http://gov.example/gov/attach/2024/3/1/notice.pdf",
    ]
    # The second title is cut on screen ("…"); the title attribute has all of it.
    assert items[1].title == "区领导调研重点项目建设和优化营商环境工作推进情况"
    assert items[0] == ListItem(
        items[0].url, "河东区召开安全生产专题会议", day_start(date(2024, 3, 5)), 1
    )
    assert [i.position for i in items] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("cell", "today", "expected"),
    [
        ("[03-05]", date(2024, 3, 6), day_start(date(2024, 3, 5))),
        ("2024年3月5日", None, day_start(date(2024, 3, 5))),
        ("2024/03/05 10:20", None, day_start(date(2024, 3, 5)).replace(hour=10, minute=20)),
        ("", None, None),
    ],
)
def test_list_date_formats(cell, today, expected):
    html = f'<ul class="news"><li><a href="a.html">新闻标题</a><em>{cell}</em></li></ul>'
    (item,) = parse_list(
        html, "http://x.example/list/", {"items": "ul.news li", "date": "em"}, today=today
    )
    assert item.published == expected


def test_defaults_find_the_link_and_a_date_beside_the_title():
    html = (
        '<base href="http://cdn.example/news/">'
        '<div class="row"><a href="2024/0305/1.html">2024年度工作要点发布</a> 2024-03-05</div>'
        '<div class="row"><a href="2024/0305/1.html#top">同一篇</a></div>'
        '<div class="row"><a href="mailto:x@example.com">来信</a></div>'
        '<div class="row"><span>没有链接</span></div>'
    )
    items = parse_list(html, "http://www.example/list.html", {"items": "div.row"})
    assert items == (
        ListItem(
            "http://cdn.example/news/2024/0305/1.html",
            "2024年度工作要点发布",
            day_start(date(2024, 3, 5)),
            1,
        ),
    )


def test_items_that_are_links_themselves():
    html = '<a class="t" href="/n/1.html">一</a><a class="t" href="/n/2.html">二</a>'
    items = parse_list(html, "http://x.example/", {"items": "a.t"})
    assert [(i.url, i.title) for i in items] == [
        ("http://x.example/n/1.html", "一"),
        ("http://x.example/n/2.html", "二"),
    ]


def test_selectors_are_checked():
    with pytest.raises(ConfigError, match="items"):
        check_selectors({"link": "a"})
    with pytest.raises(ConfigError, match="date"):
        check_selectors({"items": "li", "date": "span >> em"})
    check_selectors(GOV_SELECTORS)


# --------------------------------------------------------------------------- polling a site


@pytest.fixture
async def site(aiohttp_server):
    """The fixture sites on 127.0.0.1; HTML is served without a charset, as old CMSs do."""
    hits: Counter[str] = Counter()
    failing: set[str] = set()

    async def handler(request: web.Request) -> web.StreamResponse:
        hits[request.path] += 1
        if request.path in failing:
            return web.Response(status=500, text="server error")
        path = (SITES / request.match_info["path"]).resolve()
        if not path.is_relative_to(SITES.resolve()) or not path.is_file():
            raise web.HTTPNotFound()
        ctype = "application/pdf" if path.suffix == ".pdf" else "text/html"
        return web.Response(body=path.read_bytes(), headers={"Content-Type": ctype})

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


def gov(site, **options) -> SourceDef:
    return SourceDef(
        id="hedong-gov",
        name="河东区人民政府",
        url=site.root + "gov/hdyw/index.html",
        kind="page",
        region="320613",
        options={**GOV_SELECTORS, "article": {"body": "#zoom"}, **options},
    )


async def test_poll_a_gbk_news_column(site):
    got = await collect(gov(site), site.get, {}, today=date(2024, 3, 6))
    assert got.warnings == ()
    assert [e.title for e in got.entries] == [
        "河东区召开安全生产专题会议",
        "区领导调研重点项目建设和优化营商环境工作推进情况",
        "河东区启动2024年春季植树活动",
    ]
    first, second, third = got.entries
    assert first.key == first.url == site.root + "gov/art/2024/3/5/art_2101_501.html"
    assert (
        first.published is not None and first.published.isoformat() == "2024-03-05T16:20:00+08:00"
    )
    assert first.outlet_name == "河东日报" and first.position == 1
    assert first.text.startswith("3月5日下午，河东区召开安全生产专题会议")
    assert second.reporters == ("韩雪", "郑伟")
    assert third.outlet_name == "河东区人民政府"
    # The attachment is never fetched, and each article once.
    assert "/gov/attach/2024/3/1/notice.pdf" not in site.hits
    assert all(n == 1 for n in site.hits.values())


async def test_stored_articles_are_not_fetched_again(site):
    first = await collect(gov(site), site.get, {}, today=date(2024, 3, 6))
    stored = {e.url for e in first.entries}
    site.hits.clear()
    again = await collect(
        gov(site), site.get, first.state, today=date(2024, 3, 6), seen=stored.__contains__
    )
    assert again.entries == () and again.warnings == ()
    assert list(site.hits) == ["/gov/hdyw/index.html"]


async def test_article_budget(site):
    got = await collect(gov(site, max_articles=1), site.get, {}, today=date(2024, 3, 6))
    assert [e.title for e in got.entries] == ["河东区召开安全生产专题会议"]
    assert sum(n for p, n in site.hits.items() if "/art/" in p) == 1


async def test_failing_article_and_failing_list_are_warnings(site):
    site.failing.add("/gov/art/2024/3/4/art_2101_498.html")
    got = await collect(gov(site), site.get, {}, today=date(2024, 3, 6))
    assert len(got.entries) == 2
    assert got.warnings == (site.root + "gov/art/2024/3/4/art_2101_498.html: HTTP 500",)

    site.failing.add("/gov/hdyw/index.html")
    got = await collect(gov(site), site.get, {"x": 1}, today=date(2024, 3, 6))
    assert got.entries == () and got.state == {"x": 1}
    assert got.warnings == (site.root + "gov/hdyw/index.html: HTTP 500",)


async def test_list_source_without_items_selector_is_a_config_error(site):
    src = SourceDef(id="bad", name="bad", url=site.root + "gov/hdyw/index.html", kind="page")
    with pytest.raises(ConfigError, match="bad.*items"):
        await collect(src, site.get, {}, today=date(2024, 3, 6))
