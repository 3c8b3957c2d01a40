"""Server-rendered HTML pages: the index of every published feed, a feed's page, an item's
reading view and helpful error pages.

The pages are plain functions from small frozen view values to a `str`, like the feed
renderers: no clock, no I/O, so the same view always gives the same page. Everything that
comes from data is escaped here with `html.escape`; only item content, which the pipeline has
already sanitised, is inserted as HTML. Links from sources are made clickable only when they
are http(s).

The pages need no JavaScript and load nothing from elsewhere: one inline <style>, identical on
every page, so the server can send a strict Content-Security-Policy that allows exactly that
stylesheet by its hash (`CSP`, or `content_security_policy(images=True)` for the reading view,
whose sanitised content may show pictures from the outlets' sites); the only form, the search
box, submits to the site itself. Collapsible parts (other outlets' copies of a story) are
<details> elements, which need no script either.

Chinese typography: a system CJK font stack (nothing downloaded), generous line height,
`line-break: strict` so closing punctuation never starts a line, one readable column
(42em) that fills a phone's width, and times in Beijing time.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape, unescape
from urllib.parse import urlsplit

from aggregator.model import FeedDoc, FeedItem, Outlet
from aggregator.render import (
    ATOM_MIME,
    JSON_MIME,
    OPML_MIME,
    RSS_MIME,
    aware,
    display_time,
    is_web_url,
    item_link,
    item_title,
)

# A system CJK font stack: nothing is downloaded, and each platform gets its own good face.
CSS = """\
:root{color-scheme:light dark;--fg:#1f1f1f;--muted:#666;--bg:#fff;--line:#e4e4e4;\
--accent:#0b57d0;--bad:#b3261e;--good:#1e7b34;--box:#f5f7fa}
@media (prefers-color-scheme:dark){:root{--fg:#e6e6e6;--muted:#a3a3a3;--bg:#141414;\
--line:#333;--accent:#8ab4f8;--bad:#f2b8b5;--good:#81c995;--box:#1e2228}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0 auto;max-width:42em;padding:1rem 1rem 3rem;background:var(--bg);color:var(--fg);\
font:1rem/1.7 system-ui,-apple-system,"PingFang SC","Hiragino Sans GB","Microsoft YaHei",\
"Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei",sans-serif;\
line-break:strict;overflow-wrap:anywhere}
@media (min-width:48em){body{font-size:1.0625rem;padding-top:2rem}}
a{color:var(--accent);text-decoration-thickness:1px;text-underline-offset:.2em}
h1{font-size:1.5rem;line-height:1.4;margin:.2em 0 .4em}
h2{font-size:1.15rem;line-height:1.45;margin:1.6em 0 .5em}
.crumb,.meta,.count,.muted,footer{color:var(--muted);font-size:.875rem}
.crumb{margin:0}
ul.feeds,ol.items{list-style:none;margin:0;padding:0}
.feeds li{display:flex;flex-wrap:wrap;align-items:baseline;gap:.15em .75em;\
padding:.4em 0;border-bottom:1px solid var(--line)}
.feeds .label{flex:1 1 12em}
.count{font-variant-numeric:tabular-nums}
.fmt a,.subscribe a{display:inline-block;font-size:.8rem;line-height:1.6;padding:0 .45em;\
margin-right:.25em;border:1px solid var(--line);border-radius:4px;text-decoration:none}
.feeds li.d1{padding-left:1.25em}.feeds li.d2{padding-left:2.5em}\
.feeds li.d3{padding-left:3.75em}.feeds li.d4{padding-left:5em}
.subscribe{background:var(--box);border-radius:6px;padding:.6em .8em;margin:1em 0}
.items>li{padding:.9em 0;border-bottom:1px solid var(--line)}
.items h2{font-size:1.1rem;margin:0 0 .2em}
.items p{margin:.25em 0}
.also,.tags{font-size:.9rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:.35em .5em;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.good{color:var(--good)}.bad{color:var(--bad)}
.body{font-size:1.0625rem}
.body img,.body video{max-width:100%;height:auto}
.body p{margin:0 0 1em;text-align:justify}
.body{line-height:1.85;letter-spacing:.02em}
nav.pager{display:flex;flex-wrap:wrap;gap:1em;margin:1.5em 0}
footer{margin-top:2.5em;border-top:1px solid var(--line);padding-top:.8em}
form.search{display:flex;flex-wrap:wrap;gap:.4em;margin:.8em 0}
form.search input,form.search select,form.search button{font:inherit;font-size:.95rem;\
color:var(--fg);background:var(--bg);border:1px solid var(--line);border-radius:6px;\
padding:.3em .6em;min-width:0}
form.search input{flex:1 1 12em}
form.search select{flex:0 1 10em}
form.search button{background:var(--box);cursor:pointer}
mark{background:#fde68a;color:inherit;border-radius:2px;padding:0 .05em}
@media (prefers-color-scheme:dark){mark{background:#6b5200}}
.snippet{font-size:.95rem}
details.copy{border:1px solid var(--line);border-radius:6px;padding:.5em .8em;margin:.6em 0}
details.copy>summary{cursor:pointer;line-height:1.5}
details.copy[open]>summary{margin-bottom:.6em;border-bottom:1px solid var(--line);\
padding-bottom:.4em}
.copy .body{font-size:1rem}
aside{margin-top:2em}
time{white-space:nowrap}
"""

#: The CSP source that allows exactly the inline stylesheet above.
STYLE_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode() + "'"


def content_security_policy(*, images: bool = False) -> str:
    """The policy these pages need; `images=True` for the reading view's outlet pictures."""
    img = "img-src https: http: data:; " if images else ""
    return (
        f"default-src 'none'; style-src {STYLE_SOURCE}; {img}"
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


CSP = content_security_policy()

FORMAT_LABELS = {ATOM_MIME: "Atom", RSS_MIME: "RSS", JSON_MIME: "JSON", OPML_MIME: "OPML"}
KIND_LABELS = {
    "feed": "订阅源",
    "epaper-text": "电子报",
    "epaper-html": "电子报",
    "page": "网页",
    "posts": "文章列表",
}
_ERROR_SNIPPET = 300


# --------------------------------------------------------------------------- view values


@dataclass(frozen=True)
class FeedRow:
    """One published feed in an index section: its page, its size and its formats."""

    label: str
    href: str | None = None  # the feed's HTML page
    count: int | None = None
    formats: tuple[tuple[str, str], ...] = ()  # (label such as "Atom", href)
    depth: int = 0  # indentation in a tree, e.g. province > city > county
    note: str | None = None


@dataclass(frozen=True)
class Section:
    """A group of feeds on the index: all, by region (a tree), by topic, …"""

    title: str
    rows: tuple[FeedRow, ...]
    anchor: str | None = None
    intro: str | None = None


@dataclass(frozen=True)
class SourceRow:
    """One source with the outcome of its last fetch, for the sources table."""

    name: str
    href: str | None = None  # our page for the source's feed
    site_url: str | None = None  # the outlet's own site, feed or e-paper
    kind: str = "feed"
    count: int | None = None
    last_fetch: datetime | None = None
    ok: bool | None = None  # None: never fetched yet
    error: str | None = None
    formats: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SiteView:
    """Everything the index page shows; built by the server from storage."""

    title: str
    base_url: str
    sections: tuple[Section, ...] = ()
    sources: tuple[SourceRow, ...] = ()
    description: str | None = None
    autodiscovery: tuple[tuple[str, str, str], ...] = ()  # (mime, href, title)
    opml_href: str | None = None
    updated: datetime | None = None  # newest article's time, never the clock
    search_href: str | None = None  # the search page; a search box is shown when set


@dataclass(frozen=True)
class Copy:
    """One outlet's own copy of a story, shown collapsed on the story page."""

    outlet: str
    title: str
    url: str | None
    published: datetime | None
    content_html: str = ""  # sanitised
    summary: str = ""


@dataclass(frozen=True)
class SearchResult:
    item: FeedItem
    snippet_html: str = ""  # escaped text with <mark> around matches (search.highlight)


@dataclass(frozen=True)
class SearchView:
    """The search page: the form, the results (ranked), paging and the saved-search feeds."""

    site_title: str
    base_url: str
    action: str  # the form's URL
    q: str = ""
    region: str | None = None
    topic: str | None = None
    regions: tuple[tuple[str, str], ...] = ()  # (code, label) choices, label may be indented
    topics: tuple[tuple[str, str], ...] = ()  # (slug, name) choices
    results: tuple[SearchResult, ...] = ()
    total: int = 0
    capped: bool = False
    first: int = 1  # rank of the first result shown
    links: tuple[tuple[str, str], ...] = ()  # ("prev"|"next", href)
    feeds: tuple[tuple[str, str, str], ...] = ()  # (mime, href, title) of the search feeds
    message: str | None = None  # an error or a hint, shown above the results
    examples: tuple[tuple[str, str], ...] = ()  # (label, href) example searches


# --------------------------------------------------------------------------- building blocks


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _safe_href(href: str | None) -> bool:
    """http(s) or relative: a `javascript:` or `data:` link from a source never becomes one."""
    if not href:
        return False
    try:
        scheme = urlsplit(href).scheme.lower()
    except ValueError:
        return False
    return scheme in ("", "http", "https")


def _a(href: str | None, text: str, **attrs: str) -> str:
    """A link when `href` is safe to follow, else just the (escaped) text."""
    if not _safe_href(href):
        return _e(text)
    extra = "".join(f' {k}="{_e(v)}"' for k, v in attrs.items() if v)
    return f'<a href="{_e(href)}"{extra}>{_e(text)}</a>'


def _time(dt: datetime | None) -> str:
    if dt is None:
        return ""
    return f'<time datetime="{_e(aware(dt).isoformat())}">{_e(display_time(dt))}</time>'


def _document(title: str, body: str, *, head_links: Sequence[tuple[str, str, str]] = ()) -> str:
    links = "".join(
        f'<link rel="alternate" type="{_e(mime)}" title="{_e(t)}" href="{_e(href)}">\n'
        for mime, href, t in head_links
        if href
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n{links}<style>{CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _formats(formats: Sequence[tuple[str, str]]) -> str:
    return " ".join(_a(href, label) for label, href in formats if href)


def _feed_row(row: FeedRow) -> str:
    depth = max(0, min(row.depth, 4))
    cls = f' class="d{depth}"' if depth else ""
    parts = [f'<span class="label">{_a(row.href, row.label)}']
    if row.note:
        parts.append(f' <span class="muted">{_e(row.note)}</span>')
    parts.append("</span>")
    if row.count is not None:
        parts.append(f' <span class="count">{row.count} 篇</span>')
    if row.formats:
        parts.append(f' <span class="fmt">{_formats(row.formats)}</span>')
    return f"<li{cls}>{''.join(parts)}</li>"


def _section(section: Section) -> str:
    anchor = f' id="{_e(section.anchor)}"' if section.anchor else ""
    intro = f'<p class="muted">{_e(section.intro)}</p>' if section.intro else ""
    rows = "\n".join(_feed_row(r) for r in section.rows) or '<li class="muted">暂无</li>'
    return f'<section{anchor}>\n<h2>{_e(section.title)}</h2>{intro}\n<ul class="feeds">\n{rows}\n</ul>\n</section>'


def _status(src: SourceRow) -> str:
    if src.ok is None:
        return '<span class="muted">尚未抓取</span>'
    if src.ok:
        return '<span class="good">正常</span>'
    text = '<span class="bad">出错</span>'
    if src.error:
        error = " ".join(src.error.split())
        if len(error) > _ERROR_SNIPPET:
            error = error[:_ERROR_SNIPPET] + "…"
        text += f'<br><small class="bad">{_e(error)}</small>'
    return text


def _source_row(src: SourceRow) -> str:
    name = _a(src.href, src.name)
    if is_web_url(src.site_url):
        name += f"<br><small>{_a(src.site_url, '原站', rel='nofollow')}</small>"
    count = "" if src.count is None else str(src.count)
    return (
        f"<tr><td>{name}</td><td>{_e(KIND_LABELS.get(src.kind, src.kind))}</td>"
        f'<td class="num">{count}</td><td>{_time(src.last_fetch)}</td>'
        f'<td>{_status(src)}</td><td class="fmt">{_formats(src.formats)}</td></tr>'
    )


def _sources(sources: Sequence[SourceRow]) -> str:
    rows = "\n".join(_source_row(s) for s in sources)
    return (
        '<section id="sources">\n<h2>来源</h2>\n<div class="scroll"><table>\n'
        "<thead><tr><th>名称</th><th>类型</th><th>文章</th><th>最近抓取</th><th>状态</th>"
        "<th>订阅</th></tr></thead>\n"
        f"<tbody>\n{rows}\n</tbody>\n</table></div>\n</section>"
    )


# --------------------------------------------------------------------------- pages


def index_page(site: SiteView) -> str:
    """The home page: every published feed with subscribe links, and each source's health."""
    nav = [f'<a href="#{_e(s.anchor)}">{_e(s.title)}</a>' for s in site.sections if s.anchor]
    if site.sources:
        nav.append('<a href="#sources">来源</a>')
    header = [f"<header>\n<h1>{_e(site.title)}</h1>"]
    if site.description:
        header.append(f"<p>{_e(site.description)}</p>")
    if nav:
        header.append(f'<nav class="muted">{" · ".join(nav)}</nav>')
    if site.search_href:
        header.append(search_form(site.search_href))
    header.append("</header>")
    main = [_section(s) for s in site.sections]
    if site.sources:
        main.append(_sources(site.sources))
    footer = []
    if site.opml_href:
        footer.append(f"全部订阅源：{_a(site.opml_href, 'OPML 文件', type=OPML_MIME)}")
    if site.updated:
        footer.append(f"最新文章：{_time(site.updated)}")
    footer.append("时间均为北京时间。")
    body = (
        "\n".join(header)
        + "\n<main>\n"
        + "\n".join(main)
        + "\n</main>\n<footer>"
        + "<br>".join(footer)
        + "</footer>"
    )
    return _document(site.title, body, head_links=site.autodiscovery)


def _default_href(base_url: str, kind: str) -> Callable[[str], str]:
    return lambda key: f"{base_url}{kind}/{key}"


def _subscribe_links(doc: FeedDoc) -> list[tuple[str, str, str]]:
    """(mime, href, title) of this feed's formats; the Atom self link when none are given."""
    if doc.alternates:
        return [(m, h, t or FORMAT_LABELS.get(m, m)) for m, h, t in doc.alternates if h]
    return [(ATOM_MIME, doc.self_url, "Atom")]


def _subscribe_box(links: Sequence[tuple[str, str, str]], opml_href: str | None = None,
                   label: str = "订阅本页") -> str:
    """The subscribe box: one short button per format, and the OPML bundle when there is one."""
    parts = [_a(h, FORMAT_LABELS.get(m, t), type=m) for m, h, t in links if h]
    if opml_href:
        parts.append(_a(opml_href, "OPML 合集", type=OPML_MIME))
    return f'<p class="subscribe">{_e(label)}：{" ".join(parts)}</p>' if parts else ""


def search_form(action: str, q: str = "", *, region: str | None = None,
                topic: str | None = None, regions: Sequence[tuple[str, str]] = (),
                topics: Sequence[tuple[str, str]] = ()) -> str:
    """A GET form to the search page (the only form on the site; CSP form-action 'self')."""
    out = [f'<form class="search" method="get" action="{_e(action)}" role="search">',
           f'<input type="search" name="q" value="{_e(q)}" maxlength="200" '
           'placeholder="搜索，如：反诈、信访" aria-label="搜索词">']

    def select(name: str, label: str, choices: Sequence[tuple[str, str]], current: str | None):
        opts = [f'<option value="">{_e(label)}</option>']
        opts += [f'<option value="{_e(v)}"{" selected" if v == current else ""}>{_e(t)}</option>'
                 for v, t in choices]
        out.append(f'<select name="{name}" aria-label="{_e(label)}">{"".join(opts)}</select>')

    if regions:
        select("region", "全部地区", regions, region)
    if topics:
        select("topic", "全部主题", topics, topic)
    out.append("<button>搜索</button></form>")
    return "".join(out)


def _outlet_inline(outlet: Outlet) -> str:
    when = display_time(outlet.published)
    return _a(outlet.url, outlet.name or outlet.url or "") + (f"（{_e(when)}）" if when else "")


def _item_meta(item: FeedItem) -> str:
    meta = [_e(item.outlet_name)] if item.outlet_name else []
    if item.author and item.author != item.outlet_name:
        meta.append(_e(item.author))
    meta.append(_time(item.published))
    return " · ".join(meta)


_LIST_REGIONS = 8  # a national story can name dozens of places; lists show the first few


def _item_tags(
    item: FeedItem, region_href: Callable[[str], str], topic_href: Callable[[str], str],
    max_regions: int | None = None,
) -> str:
    parts = []
    if item.regions:
        shown = item.regions[:max_regions] if max_regions else item.regions
        regions = "、".join(_a(region_href(c), n or c) for c, n in shown)
        if len(shown) < len(item.regions):
            regions += f" 等 {len(item.regions)} 个地区"
        parts.append(f"地区：{regions}")
    if item.topics:
        topics = "、".join(_a(topic_href(s), n or s) for s, n in item.topics)
        parts.append(f"主题：{topics}")
    return f'<p class="tags muted">{"　".join(parts)}</p>' if parts else ""


_TAG = re.compile(r"<[^>]+>")
_EXCERPT = 110
_WIDE = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
# Chinese puts no space between sentences or paragraphs; Latin words keep theirs.
_SPACE_BY_WIDE = re.compile(f"(?<=[{_WIDE}])\\s+|\\s+(?=[{_WIDE}])")


def excerpt(item: FeedItem, length: int = _EXCERPT) -> str:
    """Plain text to show under a title: the summary, else the start of the content."""
    text = item.summary.strip() or unescape(_TAG.sub(" ", item.content_html))
    text = _SPACE_BY_WIDE.sub("", " ".join(text.split()))
    return text[:length] + "…" if len(text) > length else text


def _item_entry(
    item: FeedItem,
    region_href: Callable[[str], str],
    topic_href: Callable[[str], str],
    snippet_html: str = "",
) -> str:
    """One story in a list: the title leads to our reading page (all outlets' copies), the
    original is one click away."""
    title = item_title(item)
    own = item.html_url if _safe_href(item.html_url) else None
    out = [f"<li><article>\n<h2>{_a(own or item_link(item), title)}</h2>"]
    out.append(f'<p class="meta">{_item_meta(item)}</p>')
    if snippet_html:
        out.append(f'<p class="snippet">{snippet_html}</p>')
    else:
        text = excerpt(item)
        if text:
            out.append(f"<p>{_e(text)}</p>")
    if item.also:
        out.append(f'<p class="also">另见：{"、".join(_outlet_inline(o) for o in item.also)}</p>')
    out.append(_item_tags(item, region_href, topic_href, _LIST_REGIONS))
    if own and is_web_url(item.link):
        out.append(f'<p class="muted">{_a(item.link, "原文")}</p>')
    out.append("</article></li>")
    return "\n".join(p for p in out if p)


_PAGER_LABELS = {"next-archive": "较新的文章", "prev-archive": "更早的文章", "current": "最新",
                 "prev": "上一页", "next": "下一页"}


def _pager(links: Sequence[tuple[str, str]]) -> str:
    pager = [_a(href, _PAGER_LABELS[rel], rel=rel) for rel, href in links
             if rel in _PAGER_LABELS and href]
    return f'\n<nav class="pager">{"".join(pager)}</nav>' if pager else ""


def feed_page(
    doc: FeedDoc,
    *,
    site_title: str = "",
    region_href: Callable[[str], str] | None = None,
    topic_href: Callable[[str], str] | None = None,
    sections: Sequence[Section] = (),
    opml_href: str | None = None,
    crumbs: Sequence[tuple[str, str]] = (),
) -> str:
    """A feed as a web page: its items with outlets, times, 另见 and tags, and how to subscribe.

    Region and topic links default to `{base_url}region/{code}` and `{base_url}topic/{slug}`.
    `sections` (sub-regions, topics in this region, …) follow the items; `opml_href` adds the
    feed's OPML bundle to the subscribe box; `crumbs` are (label, href) after the site's name.
    An archive page (doc.archive) says so and links to the current page.
    """
    region_href = region_href or _default_href(doc.base_url, "region")
    topic_href = topic_href or _default_href(doc.base_url, "topic")
    subs = _subscribe_links(doc)
    header = ["<header>"]
    trail = ([_a(doc.base_url, site_title)] if site_title else []) + [
        _a(href, label) for label, href in crumbs]
    if trail:
        header.append(f'<p class="crumb">{" › ".join(trail)}</p>')
    header.append(f"<h1>{_e(doc.title)}</h1>")
    if doc.subtitle:
        header.append(f'<p class="muted">{_e(doc.subtitle)}</p>')
    nav = [f'<a href="#{_e(s.anchor)}">{_e(s.title)}</a>' for s in sections if s.anchor]
    if nav:
        header.append(f'<nav class="muted">{" · ".join(nav)}</nav>')
    header.append(_subscribe_box(subs, opml_href))
    header.append("</header>")
    items = "\n".join(_item_entry(i, region_href, topic_href) for i in doc.items)
    main = f'<ol class="items">\n{items}\n</ol>' if items else '<p class="muted">暂无文章。</p>'
    main += _pager(doc.links)
    if sections:
        main += "\n<aside>\n" + "\n".join(_section(s) for s in sections) + "\n</aside>"
    note = "本页为存档，内容不再变化。" if doc.archive else ""
    footer = f"<footer>{note}更新于 {_time(doc.updated)}。时间均为北京时间。</footer>"
    body = "\n".join(header) + f"\n<main>\n{main}\n</main>\n{footer}"
    title = f"{doc.title} - {site_title}" if site_title else doc.title
    return _document(title, body, head_links=subs)


def _copy_html(copy: Copy) -> str:
    when = display_time(copy.published)
    summary = " · ".join(x for x in (_e(copy.outlet), _e(when), _e(copy.title)) if x)
    if copy.content_html.strip():
        body = f'<div class="body">{copy.content_html}</div>'
    else:
        paras = [p for p in copy.summary.split("\n\n") if p.strip()]
        body = '<div class="body">' + "".join(f"<p>{_e(p)}</p>" for p in paras) + "</div>"
    link = f"<p>{_a(copy.url, '阅读原文')}</p>" if is_web_url(copy.url) else ""
    return f'<details class="copy"><summary>{summary}</summary>\n{body}{link}</details>'


def item_page(
    item: FeedItem,
    *,
    site_title: str = "",
    base_url: str = "/",
    region_href: Callable[[str], str] | None = None,
    topic_href: Callable[[str], str] | None = None,
    copies: Sequence[Copy] = (),
    feeds: Sequence[FeedRow] = (),
    autodiscovery: Sequence[tuple[str, str, str]] = (),
) -> str:
    """Our reading view of one story: the canonical text, the original link, every other
    outlet's own copy (collapsed, `copies`), related coverage, tags, and the feeds the story
    is in (`feeds`, with their formats: the subscribe box).

    Serve it with `content_security_policy(images=True)` so the outlet's pictures show.
    """
    region_href = region_href or _default_href(base_url, "region")
    topic_href = topic_href or _default_href(base_url, "topic")
    title = item_title(item)
    out = ["<header>"]
    if site_title:
        out.append(f'<p class="crumb">{_a(base_url, site_title)}</p>')
    out.append(f"<h1>{_e(title)}</h1>")
    out.append(f'<p class="meta">{_item_meta(item)}</p>')
    if copies:
        out.append(f'<p class="muted">共 {len(copies) + 1} 家媒体报道</p>')
    out.append("</header>\n<main>\n<article>")
    if item.content_html.strip():
        out.append(f'<div class="body">{item.content_html}</div>')
    elif item.summary.strip():
        paras = [p for p in item.summary.split("\n\n") if p.strip()]
        out.append('<div class="body">' + "".join(f"<p>{_e(p)}</p>" for p in paras) + "</div>")
    if is_web_url(item.link):
        out.append(f"<p>{_a(item.link, '阅读原文')}</p>")
    if copies:
        out.append('<section class="copies" id="copies"><h2>其他媒体的版本</h2>'
                   + "\n".join(_copy_html(c) for c in copies) + "</section>")
    elif item.also:
        lis = "".join(f"<li>{_outlet_inline(o)}</li>" for o in item.also)
        out.append(f'<section class="also"><h2>另见</h2><ul>{lis}</ul></section>')
    related = [(t, u) for t, u in item.related if _safe_href(u)]
    if related:
        lis = "".join(f"<li>{_a(u, t or u)}</li>" for t, u in related)
        out.append(f'<section class="related"><h2>相关报道</h2><ul>{lis}</ul></section>')
    out.append(_item_tags(item, region_href, topic_href))
    out.append("</article>")
    if feeds:
        rows = "\n".join(_feed_row(r) for r in feeds)
        out.append(f'<aside id="subscribe"><h2>订阅相关报道</h2>\n<ul class="feeds">\n{rows}\n'
                   "</ul></aside>")
    out.append("</main>")
    page_title = f"{title} - {site_title}" if site_title else title
    return _document(page_title, "\n".join(p for p in out if p), head_links=autodiscovery)


def search_page(view: SearchView) -> str:
    """Search: the form, a hint or error, results ranked by relevance with marked snippets,
    paging, and the search as a feed (subscribe box and autodiscovery)."""
    out = ["<header>", f'<p class="crumb">{_a(view.base_url, view.site_title)}</p>',
           "<h1>搜索</h1>",
           search_form(view.action, view.q, region=view.region, topic=view.topic,
                       regions=view.regions, topics=view.topics)]
    if view.q and view.feeds:
        out.append(_subscribe_box(view.feeds, label="订阅这个搜索"))
    out.append("</header>\n<main>")
    if view.message:
        out.append(f"<p>{_e(view.message)}</p>")
    if view.examples:
        lis = "".join(f"<li>{_a(href, label)}</li>" for label, href in view.examples)
        out.append(f'<p class="muted">例如：</p><ul>{lis}</ul>')
    if view.q and not view.message:
        if view.results:
            more = "以上" if view.capped else ""
            out.append(f'<p class="muted">找到 {view.total} 篇{more}报道，按相关度排序。</p>')
            region_href = _default_href(view.base_url, "region")
            topic_href = _default_href(view.base_url, "topic")
            items = "\n".join(_item_entry(r.item, region_href, topic_href, r.snippet_html)
                              for r in view.results)
            out.append(f'<ol class="items" start="{int(view.first)}">\n{items}\n</ol>')
        else:
            out.append('<p class="muted">没有找到报道。试试更短的词，或去掉地区和主题筛选。</p>')
    out.append(_pager(view.links).strip())
    out.append("</main>")
    title = f"{view.q} - 搜索 - {view.site_title}" if view.q else f"搜索 - {view.site_title}"
    head = view.feeds if view.q else ()
    return _document(title, "\n".join(p for p in out if p), head_links=head)


def about_page(title: str, paragraphs: Sequence[str], *, site_title: str = "",
               base_url: str = "/") -> str:
    """A short page of plain text paragraphs (e.g. what the WebSub hub is)."""
    out = ["<header>"]
    if site_title:
        out.append(f'<p class="crumb">{_a(base_url, site_title)}</p>')
    out.append(f"<h1>{_e(title)}</h1>\n</header>\n<main>")
    out.extend(f"<p>{_e(p)}</p>" for p in paragraphs)
    out.append("</main>")
    return _document(title, "\n".join(out))


def error_page(
    status: int,
    title: str,
    message: str,
    suggestions: Sequence[tuple[str, str]] = (),
    *,
    site_title: str = "",
    base_url: str = "/",
) -> str:
    """A 404/400/5xx page that says what went wrong and where to go instead."""
    out = ["<header>"]
    if site_title:
        out.append(f'<p class="crumb">{_a(base_url, site_title)}</p>')
    out.append(f"<h1>{_e(title)}</h1>\n</header>\n<main>")
    out.append(f"<p>{_e(message)}</p>")
    if suggestions:
        lis = "".join(f"<li>{_a(href, label)}</li>" for label, href in suggestions)
        out.append(f"<p>你可以：</p><ul>{lis}</ul>")
    out.append(f'<p class="muted">HTTP {int(status)}</p>\n</main>')
    return _document(f"{status} {title}", "\n".join(out))
