"""The HTTP server: feeds and their archives, search, the WebSub hub, OPML, the reading view,
health and metrics, built by `init_app`.

Rendered documents are cached in memory with their strong ETag (a hash of the bytes) and
gzip form; the cache is dropped whenever the database changes (SQLite's data_version), so a
feed's ETag changes exactly when its bytes do. Every parameter is validated before use
(unknown codes and slugs get a helpful 404, old region codes a permanent redirect); no stack
trace ever reaches a client.

Feeds are RFC 5005 archived feeds (archive.py): a subscription document holds the entries not
archived yet and links `prev-archive` to complete pages at /feeds/KEY/archive/N.FMT, which
never change and are served as immutable. Pages are written lazily, on the writer, when a feed
is served; the server uses the daemon's writer when given one, else opens its own on first
need (also for the hub's subscriptions). Feeds advertise the hub (websub.py) in `Link`
headers and in the documents; a background watcher notices every commit (data_version) and
asks the hub to distribute what changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from . import __version__, archive, bundles, pages, render, search, store, websub
from .errors import StorageError
from .model import FeedDoc, FeedItem
from .settings import Config
from .store import connect
from .store_stories import resolve_story
from .tag import Tagger, build_tagger
from .views import (
    FeedSpec,
    Names,
    feed_doc,
    member_items,
    newest_first,
    region_counts,
    region_topic_counts,
    source_list,
    story_copies,
    story_items,
    topic_counts,
    topic_region_counts,
)
from .writer import Readers, Writer

log = logging.getLogger("aggregator.web")

FORMATS = {
    "atom": (render.ATOM_MIME + "; charset=utf-8", render.render_atom),
    "rss": (render.RSS_MIME + "; charset=utf-8", render.render_rss),
    "json": (render.JSON_MIME + "; charset=utf-8", render.render_json),
}
MIMES = {"atom": render.ATOM_MIME, "rss": render.RSS_MIME, "json": render.JSON_MIME}
CSP = pages.CSP
SITE_TITLE = "地方新闻聚合"
MAX_QUERY = 2048
#: Complete archive pages never change: caches may keep them for a year without asking.
IMMUTABLE = "public, max-age=31536000, immutable"
SEARCH_PAGE_SIZE = 20
SEARCH_MAX_PAGE = search.MAX_HITS // SEARCH_PAGE_SIZE
#: Catch-up rounds of archive writing one request may wait for (each writes ≤ 40 pages).
MAX_FREEZE_ROUNDS = 25
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CODE = re.compile(r"^(\d{6}|\d{9}|\d{12}|Z[0-9A-Za-z]{1,40})(?:-[a-z0-9-]{0,60})?$")
_STORY = re.compile(r"^[a-z0-9]{4,40}$")
_PAGE = re.compile(r"^[1-9][0-9]{0,8}$")
#: A feed key in a URL path: all, source/ID, topic/SLUG, region/CODE[/topic/SLUG].
KEY_PATTERN = r"all|(?:source|topic)/[^/]+|region/[^/]+(?:/topic/[^/]+)?"
HOME = (("/", "首页 Home"), ("/search", "搜索 Search"), ("/opml", "OPML"))

CONFIG = web.AppKey("config", Config)
READERS = web.AppKey("readers", Readers)
CACHE = web.AppKey("cache", object)
METRICS = web.AppKey("metrics", dict)
TAGGER = web.AppKey("tagger", object)
WRITER = web.AppKey("writer", dict)
HUB = web.AppKey("hub", websub.Hub)


@dataclass(frozen=True)
class Rendered:
    body: bytes
    gz: bytes
    etag: str
    last_modified: str
    content_type: str


class DocCache:
    """Rendered documents (and other derived values), valid until the database changes.

    SQLite's `PRAGMA data_version` changes on a connection whenever another connection has
    committed; asking costs microseconds, so every request checks it on one dedicated
    read-only connection and the cache never serves a stale document.
    """

    def __init__(self, path: str):
        self._conn = connect(path, readonly=True)
        self.docs: dict[str, Any] = {}
        self._version: int | None = None

    def version(self) -> int:
        return self._conn.execute("PRAGMA data_version").fetchone()[0]

    def _check(self) -> None:
        version = self.version()
        if version != self._version:
            self.docs.clear()
            self._version = version

    async def get(self, key: str, make: Callable[[], Awaitable[Any]]):
        self._check()
        if key not in self.docs:
            if len(self.docs) > 4000:
                self.docs.clear()
            self.docs[key] = await make()
        return self.docs[key]

    def close(self) -> None:
        self._conn.close()


def make_rendered(body: bytes, content_type: str, updated: datetime) -> Rendered:
    return Rendered(
        body=body,
        gz=gzip.compress(body, compresslevel=6, mtime=0),
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        last_modified=format_datetime(updated.astimezone(UTC), usegmt=True),
        content_type=content_type,
    )


def respond(request: web.Request, doc: Rendered, *, max_age: int = 300,
            headers: dict[str, str] | None = None,
            cache_control: str | None = None) -> web.StreamResponse:
    """200 with validators and gzip when accepted, or 304 when the client's copy is current."""
    out = {"ETag": doc.etag, "Last-Modified": doc.last_modified,
           "Cache-Control": cache_control or f"public, max-age={max_age}",
           "Vary": "Accept-Encoding", **(headers or {})}
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        if inm.strip() == "*" or doc.etag in [t.strip() for t in inm.split(",")]:
            return web.Response(status=304, headers=out)
    elif request.headers.get("If-Modified-Since") == doc.last_modified:
        return web.Response(status=304, headers=out)
    out["Content-Type"] = doc.content_type
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        out["Content-Encoding"] = "gzip"
        return web.Response(body=doc.gz, headers=out)
    return web.Response(body=doc.body, headers=out)


def error(status: int, title: str, message: str, suggestions=HOME) -> web.Response:
    html = pages.error_page(status, title, message, suggestions, site_title=SITE_TITLE,
                            base_url="/")
    return web.Response(status=status, text=html, content_type="text/html",
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _html(page: str, updated: datetime) -> Rendered:
    return make_rendered(page.encode("utf-8"), "text/html; charset=utf-8", updated)


# -- names and keys: the gazetteer and the taxonomy -------------------------------------------


def names_of(tagger: Tagger) -> Names:
    gaz, tax = tagger.gazetteer, tagger.taxonomy.names

    def region(code: str) -> str:
        d = gaz.get(code)
        return d.name if d else code

    return Names(region=region, topic=lambda slug: tax.get(slug, slug))


def _tagger(request: web.Request) -> Tagger:
    return request.app[TAGGER]["tagger"]


def _base(request: web.Request) -> str:
    return request.app[CONFIG].public_url


def _split_format(tail: str) -> tuple[str, str] | None:
    name, dot, fmt = tail.rpartition(".")
    if not dot or fmt not in FORMATS:
        return None
    return name, fmt


def current_code(tagger: Tagger, raw: str) -> tuple[str | None, bool]:
    """(today's code, whether it differs from the one asked for); (None, False) if unknown.

    A pinyin slug after a code is ignored: 320412-wujin is 320412."""
    if not _CODE.match(raw):
        return None, False
    code = raw.split("-", 1)[0] if not raw.startswith("Z") else raw
    gaz = tagger.gazetteer
    current = gaz.current(code)
    if gaz.get(current) is None:
        return None, False
    return current, current != code


@dataclass(frozen=True)
class KeyResult:
    """A feed key from a URL, checked: the spec, or where it moved, or why it is unknown."""

    spec: FeedSpec | None = None
    moved: str | None = None  # the same feed's key with today's region code
    error: tuple[str, str] | None = None  # (title, message) for a 404


_NO_REGION = ("没有这个地区 No such region",
              "Region URLs use official division codes, e.g. /feeds/region/320412.atom "
              "(武进区); townships need `aggregator geo import`.")


def resolve_key(tagger: Tagger, key: str) -> KeyResult:
    tax = tagger.taxonomy.names
    parts = key.split("/")
    if key == "all":
        return KeyResult(FeedSpec())
    if len(parts) == 2 and parts[0] == "source":
        if not _ID.match(parts[1]):
            return KeyResult(error=("没有这个来源 No such source",
                                    "Source ids are lower-case letters, digits, '-' and '_'."))
        return KeyResult(FeedSpec(source=parts[1]))
    if len(parts) == 2 and parts[0] == "topic":
        if parts[1] not in tax:
            return KeyResult(error=("没有这个主题 No such topic", "Known topics: " + "、".join(
                f"{v} ({k})" for k, v in list(tax.items())[:40])))
        return KeyResult(FeedSpec(topic=parts[1]))
    if parts[0] == "region" and (len(parts) == 2 or (len(parts) == 4 and parts[2] == "topic")):
        topic = parts[3] if len(parts) == 4 else None
        if topic is not None and topic not in tax:
            return KeyResult(error=("没有这个主题 No such topic", f"Unknown topic {topic[:40]!r}."))
        code, moved = current_code(tagger, parts[1])
        if code is None:
            return KeyResult(error=_NO_REGION)
        spec = FeedSpec(region=code, topic=topic)
        return KeyResult(moved=spec.key) if moved else KeyResult(spec)
    return KeyResult(error=("没有这个订阅源 No such feed", "Try /feeds/all.atom."))


def feed_title(db, spec: FeedSpec, names: Names) -> str | None:
    """The feed's title in Chinese, or None when there is no such feed."""
    if spec.source:
        rows = list(db.query("SELECT name FROM sources WHERE id = ?", [spec.source]))
        return rows[0]["name"] if rows else None
    parts = []
    if spec.region:
        parts.append(names.region(spec.region))
    if spec.topic:
        parts.append(names.topic(spec.topic))
    return " · ".join(parts) if parts else "全部新闻"


# -- the writer (archive pages, hub subscriptions) --------------------------------------------


async def get_writer(app: web.Application) -> Writer | None:
    """The daemon's writer, or our own opened on first need; None if the database cannot be
    written (then feeds are served without new archive pages)."""
    holder = app[WRITER]
    if "writer" not in holder:
        async with holder["lock"]:
            if "writer" not in holder:
                try:
                    writer = Writer(app[CONFIG].db)
                    await writer.start()
                except Exception as exc:  # noqa: BLE001 - e.g. a read-only file system
                    log.warning("cannot write the database (%s); archives stay as they are",
                                exc)
                    holder["writer"] = None
                else:
                    holder["writer"], holder["own"] = writer, True
    return holder["writer"]


async def _write(app: web.Application, fn: Callable[..., Any], *args: Any) -> Any:
    writer = await get_writer(app)
    if writer is None:
        raise StorageError("the database is read-only here")
    return await writer.write(fn, *args)


# -- feeds and their archives -----------------------------------------------------------------


@dataclass(frozen=True)
class FeedState:
    """What a subscription document shows: the unarchived entries, newest first."""

    title: str
    items: tuple[FeedItem, ...]
    last_page: int  # the newest complete archive page, 0 when there is none


def _page_size(app: web.Application) -> int:
    return max(1, app[CONFIG].feed_size)


async def feed_state(app: web.Application, spec: FeedSpec) -> FeedState | None:
    """The feed's current entries, writing any archive page that has become due first."""
    size = _page_size(app)
    base = app[CONFIG].public_url
    names = names_of(app[TAGGER]["tagger"])

    def probe(db, may_wait: bool):
        title = feed_title(db, spec, names)
        if title is None:
            return None
        last, members = archive.pending(db, spec)
        if may_wait and archive.due(members, size):
            return title
        # Without a writer (or after a long catch-up) the newest entries still show.
        members = members[-(archive.PAGES_KEPT * size - 1):]
        items = newest_first(member_items(db, spec, members, base_url=base, names=names))
        return FeedState(title, tuple(items), last.page if last else 0)

    for _ in range(MAX_FREEZE_ROUNDS):
        got = await app[READERS].run(probe, True)
        if not isinstance(got, str):
            return got
        try:
            wrote = await _write(app, lambda db, title=got: archive.freeze(
                db, spec, page_size=size, title=title, base_url=base, names=names))
        except StorageError:
            break
        if not wrote:
            break
    return await app[READERS].run(probe, False)


def _archive_url(base: str, key: str, page: int, fmt: str | None) -> str:
    return f"{base}feeds/{key}/archive/{page}.{fmt}" if fmt else f"{base}{key}/archive/{page}"


def _current_url(base: str, key: str, fmt: str | None) -> str:
    return f"{base}feeds/{key}.{fmt}" if fmt else f"{base}{key}"


def subscription_doc(app: web.Application, spec: FeedSpec, state: FeedState,
                     fmt: str | None) -> FeedDoc:
    """The subscription document in a format (None: the HTML page's view of it)."""
    base = app[CONFIG].public_url
    links = ()
    if state.last_page:
        links = (("prev-archive", _archive_url(base, spec.key, state.last_page, fmt)),)
    title = f"{state.title} · {SITE_TITLE}" if fmt else state.title
    return feed_doc(spec.key, title=title, base_url=base,
                    self_url=f"{base}feeds/{spec.key}.{fmt or 'atom'}",
                    html_url=f"{base}{spec.key}", items=state.items,
                    hub_url=app[HUB].url if fmt else None, links=links)


def archive_doc(app: web.Application, spec: FeedSpec, info: archive.PageInfo,
                items: list[FeedItem], fmt: str | None) -> FeedDoc:
    """A complete archive page: fh:archive, current / prev-archive / next-archive links.

    The newest page links next-archive to the next page's URL too: it answers with a
    redirect to the subscription document until that page is complete, so no page's bytes
    ever change when the next one is written."""
    base = app[CONFIG].public_url
    page = info.page
    links = [("current", _current_url(base, spec.key, fmt))]
    if page > 1:
        links.append(("prev-archive", _archive_url(base, spec.key, page - 1, fmt)))
    links.append(("next-archive", _archive_url(base, spec.key, page + 1, fmt)))
    title = (f"{info.title} · {SITE_TITLE} · 存档第 {page} 页" if fmt
             else f"{info.title} · 存档第 {page} 页")
    self_url = _archive_url(base, spec.key, page, fmt or "atom")
    alternates = None
    if fmt is None:
        # An archive's page offers the feed itself: subscribing to an archive gets nothing.
        alternates = tuple((MIMES[f], _current_url(base, spec.key, f), f"{info.title} ({f})")
                           for f in ("atom", "rss", "json"))
    return feed_doc(spec.key, title=title, base_url=base, self_url=self_url,
                    html_url=_archive_url(base, spec.key, page, None), items=items,
                    links=tuple(links), archive=True, alternates=alternates)


async def rendered_feed(app: web.Application, spec: FeedSpec, fmt: str) -> Rendered | None:
    """The subscription document's bytes, as served and as the hub distributes them."""
    content_type, renderer = FORMATS[fmt]

    async def make() -> Rendered | None:
        state = await feed_state(app, spec)
        if state is None:
            return None
        doc = subscription_doc(app, spec, state, fmt)
        return make_rendered(renderer(doc), content_type, doc.updated)

    return await app[CACHE].get(f"feed:{spec.key}.{fmt}", make)


def _feed_headers(app: web.Application, self_url: str, *, hub: bool = True) -> dict[str, str]:
    return {"Link": websub.link_header(app[HUB].url if hub else None, self_url)}


def _key_error(result: KeyResult) -> web.Response:
    title, message = result.error or ("页面不存在 Not found", "")
    return error(404, title, message)


async def feed_handler(request: web.Request) -> web.StreamResponse:
    """/feeds/all.F, /feeds/source/ID.F, /feeds/region/CODE.F, /feeds/topic/SLUG.F and
    /feeds/region/CODE/topic/SLUG.F"""
    info = request.match_info
    parsed = _split_format(info["tail"])
    if parsed is None:
        return error(404, "没有这个格式 Unknown feed format",
                     "Feed URLs end in .atom, .rss or .json.")
    name, fmt = parsed
    kind = info.get("kind", "all")
    if kind == "all":
        key = name
    elif "code" in info:
        key = f"region/{info['code']}/topic/{name}"
    else:
        key = f"{kind}/{name}"
    result = resolve_key(_tagger(request), key)
    if result.moved:
        raise web.HTTPMovedPermanently(f"/feeds/{result.moved}.{fmt}")
    if result.spec is None:
        return _key_error(result)
    return await serve_feed(request, result.spec, fmt)


async def serve_feed(request: web.Request, spec: FeedSpec, fmt: str) -> web.StreamResponse:
    rendered = await rendered_feed(request.app, spec, fmt)
    if rendered is None:
        return error(404, "没有这个订阅源 No such feed",
                     f"Nothing is published under {spec.key[:80]}.")
    self_url = f"{_base(request)}feeds/{spec.key}.{fmt}"
    return respond(request, rendered, headers=_feed_headers(request.app, self_url))


async def _archive_page(app: web.Application, spec: FeedSpec, page: int):
    """(PageInfo, items) of a complete page; or the newest page number when it is not."""
    base = app[CONFIG].public_url

    def build(db):
        info = archive.page_info(db, spec.key, page)
        if info is None:
            last = archive.last_page(db, spec.key)
            return last.page if last else 0
        return info, archive.page_items(db, spec.key, page, base_url=base)

    return await app[READERS].run(build)


async def archive_handler(request: web.Request) -> web.StreamResponse:
    """/feeds/KEY/archive/N.F (a complete page, immutable) and /KEY/archive/N (as HTML)."""
    key = request.match_info["key"]
    tail = request.match_info["tail"]
    fmt: str | None = None
    if request.path.startswith("/feeds/"):
        parsed = _split_format(tail)
        if parsed is None:
            return error(404, "没有这个格式 Unknown feed format",
                         "Archive URLs end in /archive/N.atom, .rss or .json.")
        tail, fmt = parsed
    if not _PAGE.match(tail):
        return error(404, "没有这一页 No such archive page", "Archive pages are numbered from 1.")
    page = int(tail)
    result = resolve_key(_tagger(request), key)
    if result.moved:
        prefix = "/feeds/" if fmt else "/"
        raise web.HTTPMovedPermanently(f"{prefix}{result.moved}/archive/{page}"
                                       + (f".{fmt}" if fmt else ""))
    if result.spec is None:
        return _key_error(result)
    spec = result.spec
    app = request.app
    base = _base(request)

    async def make() -> Rendered | int:
        got = await _archive_page(app, spec, page)
        if isinstance(got, int) and page > got:
            # Pages are written when the feed is served; it may not have been for a while.
            await feed_state(app, spec)
            got = await _archive_page(app, spec, page)
        if isinstance(got, int):
            return got
        info, items = got
        doc = archive_doc(app, spec, info, items, fmt)
        if fmt:
            content_type, renderer = FORMATS[fmt]
            return make_rendered(renderer(doc), content_type, info.updated)
        html = pages.feed_page(doc, site_title=SITE_TITLE, crumbs=_crumbs(app, spec, base))
        return _html(html, info.updated)

    got = await app[CACHE].get(f"archive:{spec.key}:{page}.{fmt or 'html'}", make)
    if isinstance(got, int):
        if page == got + 1:
            # Not complete yet: its entries are in the subscription document.
            raise web.HTTPFound(_current_url("/", spec.key, fmt),
                                headers={"Cache-Control": "no-store"})
        return error(404, "没有这一页 No such archive page",
                     f"This feed has {got} archive pages so far.",
                     ((f"最新 {spec.key}", _current_url("/", spec.key, None)), *HOME))
    headers = {"Content-Security-Policy": CSP} if fmt is None else _feed_headers(
        app, _archive_url(base, spec.key, page, fmt), hub=False)
    return respond(request, got, headers=headers, cache_control=IMMUTABLE)


# -- search ---------------------------------------------------------------------------------


def _search_query(request: web.Request) -> search.SearchQuery | None:
    tagger = _tagger(request)
    return search.parse_search(
        request.query, resolve_region=lambda raw: current_code(tagger, raw)[0],
        topics=tagger.taxonomy.names)


def _search_feeds(base: str, query: search.SearchQuery, title: str):
    qs = query.query_string
    return tuple((MIMES[f], f"{base}feeds/search.{f}?{qs}", f"{title} ({label})")
                 for f, label in (("atom", "Atom"), ("rss", "RSS"), ("json", "JSON Feed")))


def _search_title(query: search.SearchQuery, names: Names) -> str:
    parts = [f"搜索：{query.q}"]
    if query.region:
        parts.append(names.region(query.region))
    if query.topic:
        parts.append(names.topic(query.topic))
    return " · ".join(parts)


async def rendered_search_feed(app: web.Application, query: search.SearchQuery,
                               fmt: str) -> Rendered:
    base = app[CONFIG].public_url
    names = names_of(app[TAGGER]["tagger"])
    content_type, renderer = FORMATS[fmt]

    async def make() -> Rendered:
        def build(db):
            ids = search.by_time(db, query, limit=_page_size(app))
            return story_items(db, ids, base_url=base, names=names)

        items = await app[READERS].run(build)
        title = _search_title(query, names)
        doc = feed_doc(query.key, title=f"{title} · {SITE_TITLE}", base_url=base,
                       self_url=f"{base}feeds/search.{fmt}?{query.query_string}",
                       html_url=f"{base}search?{query.query_string}", items=items,
                       hub_url=app[HUB].url, alternates=_search_feeds(base, query, title))
        return make_rendered(renderer(doc), content_type, doc.updated)

    return await app[CACHE].get(f"search-feed:{query.key}.{fmt}", make)


async def search_feed_handler(request: web.Request) -> web.StreamResponse:
    """/feeds/search.F?q=…&region=…&topic=… : a saved search, newest stories first."""
    parsed = _split_format(request.match_info["tail"])
    if parsed is None or parsed[0] != "search":
        return error(404, "没有这个格式 Unknown feed format",
                     "Search feeds are /feeds/search.atom, .rss or .json?q=….")
    fmt = parsed[1]
    try:
        query = _search_query(request)
    except search.SearchError as exc:
        return error(exc.status, exc.title, exc.message)
    if query is None:
        return error(400, "缺少搜索词 Missing query",
                     "Search feeds need q=, e.g. /feeds/search.atom?q=反诈&region=320412.")
    rendered = await rendered_search_feed(request.app, query, fmt)
    self_url = f"{_base(request)}feeds/search.{fmt}?{query.query_string}"
    return respond(request, rendered, headers=_feed_headers(request.app, self_url))


async def _choices(app: web.Application) -> tuple[tuple, tuple]:
    """Region and topic choices for the search form (regions with news, down to counties)."""
    tagger = app[TAGGER]["tagger"]

    async def make():
        counts = await app[READERS].run(region_counts)
        names = names_of(tagger)
        regions = tuple((code, "　" * depth + names.region(code))
                        for code, _n, depth in region_tree(tagger, counts) if depth <= 2)
        topics = tuple(tagger.taxonomy.names.items())
        return regions, topics

    return await app[CACHE].get("choices", make)


async def search_handler(request: web.Request) -> web.StreamResponse:
    """/search?q=…&region=…&topic=…&page=N : stories ranked by relevance."""
    app = request.app
    base = _base(request)
    names = names_of(_tagger(request))
    regions, topics = await _choices(app)
    view = pages.SearchView(site_title=SITE_TITLE, base_url=base, action=f"{base}search",
                            q=" ".join(request.query.get("q", "").split())[:500],
                            regions=regions, topics=topics)
    examples = tuple((w, f"{base}search?q={w}") for w in ("反诈", "信访", "安全生产 会议"))
    try:
        query = _search_query(request)
    except search.SearchError as exc:
        page = pages.search_page(_replace(view, message=f"{exc.title}：{exc.message}",
                                          examples=examples))
        return web.Response(status=exc.status, text=page, content_type="text/html",
                            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})
    if query is None:
        page = pages.search_page(_replace(view, examples=examples, message=(
            "输入词语或短语搜索全部报道，可按地区、主题筛选；两个字的词（如“反诈”“信访”）也能搜到。"
            "搜索结果可以订阅。")))
        return respond(request, _html(page, _now()), max_age=60,
                       headers={"Content-Security-Policy": CSP})
    raw_page = request.query.get("page", "1")
    if not _PAGE.match(raw_page) or int(raw_page) > SEARCH_MAX_PAGE:
        return error(400, "页码无效 Bad page", f"page= is a number from 1 to {SEARCH_MAX_PAGE}.")
    number = int(raw_page)

    async def make() -> Rendered:
        def run(db):
            found = search.ranked(db, query, limit=SEARCH_PAGE_SIZE,
                                  offset=(number - 1) * SEARCH_PAGE_SIZE)
            items = story_items(db, [h.story_id for h in found.hits], base_url=base,
                                names=names)
            by_id = {i.id: i for i in items}
            results = tuple(pages.SearchResult(by_id[f"urn:aggregator:story:{h.story_id}"],
                                               h.snippet)
                            for h in found.hits if f"urn:aggregator:story:{h.story_id}" in by_id)
            return found, results

        found, results = await app[READERS].run(run)
        qs = query.query_string
        links = []
        if number > 1:
            links.append(("prev", f"{base}search?{qs}&page={number - 1}"))
        if number * SEARCH_PAGE_SIZE < found.total and number < SEARCH_MAX_PAGE:
            links.append(("next", f"{base}search?{qs}&page={number + 1}"))
        html = pages.search_page(_replace(
            view, q=query.q, region=query.region, topic=query.topic, results=results,
            total=found.total, capped=found.capped, first=(number - 1) * SEARCH_PAGE_SIZE + 1,
            links=tuple(links), feeds=_search_feeds(base, query, _search_title(query, names))))
        updated = max((r.item.updated for r in results), default=datetime(2000, 1, 1, tzinfo=UTC))
        return _html(html, updated)

    rendered = await app[CACHE].get(f"search:{query.key}&page={number}", make)
    return respond(request, rendered, max_age=60, headers={"Content-Security-Policy": CSP})


def _replace(view: pages.SearchView, **changes: Any) -> pages.SearchView:
    return dataclasses.replace(view, **changes)


# -- HTML pages ------------------------------------------------------------------------------


def _formats(base: str, key: str) -> tuple[tuple[str, str], ...]:
    return tuple((label, f"{base}feeds/{key}.{ext}") for label, ext in
                 (("Atom", "atom"), ("RSS", "rss"), ("JSON", "json")))


def region_tree(tagger: Tagger, counts: dict[str, int]) -> list[tuple[str, int, int]]:
    """(code, count, depth) in tree order: province, its cities, their counties, towns."""
    order = bundles.tree_order(tagger.gazetteer, list(counts))
    return [(code, counts[code], depth) for code, depth in order]


def _topic_order(tagger: Tagger, counts: dict[str, int]) -> list[tuple[str, int]]:
    order = list(tagger.taxonomy.names)
    return sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 999)


def site_view(base: str, rows: list[dict], regions: dict[str, int], topics: dict[str, int],
              tagger: Tagger) -> pages.SiteView:
    """The index page: every published feed (a region tree and topics with counts, each with
    its OPML bundle), every source's health, and the search box."""
    names = names_of(tagger)
    total = sum(r["articles"] for r in rows)
    sections = [pages.Section("订阅 Feeds", (pages.FeedRow(
        "全部新闻 All news", f"{base}all", total, _formats(base, "all")),), "all")]
    if regions:
        sections.append(pages.Section("地区 Regions", tuple(
            pages.FeedRow(names.region(code), f"{base}region/{code}", n,
                          (*_formats(base, f"region/{code}"),
                           ("OPML", f"{base}opml/region/{code}")), depth)
            for code, n, depth in region_tree(tagger, regions)), "regions",
            "每个地区的 OPML 合集包含它的各主题订阅源。"))
    if topics:
        sections.append(pages.Section("主题 Topics", tuple(
            pages.FeedRow(names.topic(slug), f"{base}topic/{slug}", n,
                          (*_formats(base, f"topic/{slug}"), ("OPML", f"{base}opml/topic/{slug}")))
            for slug, n in _topic_order(tagger, topics)), "topics",
            "每个主题的 OPML 合集包含它在各地区的订阅源。"))
    sources = tuple(
        pages.SourceRow(
            name=r["name"],
            href=f"{base}source/{r['id']}" if r["articles"] else None,
            site_url=r["url"] if r["url"].startswith(("http://", "https://")) else None,
            kind=r["kind"],
            count=r["articles"],
            last_fetch=store.parse_iso(r["last_polled"]),
            ok=(False if not r["enabled"] and r["disabled_reason"]
                else None if not r["last_polled"] else not r["error_count"]),
            # what the poller does about it: "backing off until …", "disabled: gone (410)"
            error="; ".join(x for x in (r["last_error"], r["poll_state"])
                            if x and (r["error_count"] or not r["enabled"])) or None,
            formats=_formats(base, f"source/{r['id']}") if r["articles"] else (),
        )
        for r in rows
    )
    return pages.SiteView(
        title=SITE_TITLE,
        base_url=base,
        sections=tuple(sections),
        sources=sources,
        autodiscovery=(
            (render.ATOM_MIME, f"{base}feeds/all.atom", "全部新闻 (Atom)"),
            (render.RSS_MIME, f"{base}feeds/all.rss", "全部新闻 (RSS)"),
            (render.JSON_MIME, f"{base}feeds/all.json", "全部新闻 (JSON Feed)"),
        ),
        opml_href=f"{base}opml",
        search_href=f"{base}search",
    )


async def index_handler(request: web.Request) -> web.StreamResponse:
    base = _base(request)
    tagger = _tagger(request)

    async def make() -> Rendered:
        def collect(db):
            return source_list(db), region_counts(db), topic_counts(db)

        rows, regions, topics = await request.app[READERS].run(collect)
        return _html(pages.index_page(site_view(base, rows, regions, topics, tagger)), _now())

    rendered = await request.app[CACHE].get("index", make)
    return respond(request, rendered, max_age=60, headers={"Content-Security-Policy": CSP})


def _crumbs(app: web.Application, spec: FeedSpec, base: str) -> tuple[tuple[str, str], ...]:
    """Where a feed's page sits: the region's ancestors, and the region of an intersection."""
    tagger = app[TAGGER]["tagger"]
    out = []
    if spec.region:
        lineage = list(reversed(tagger.gazetteer.lineage(spec.region)))
        if not spec.topic:
            lineage = lineage[:-1]
        out += [(d.name, f"{base}region/{d.code}") for d in lineage]
    return tuple(out)


def _sections(app: web.Application, db, spec: FeedSpec, base: str) -> tuple[pages.Section, ...]:
    """What a feed's page lists under its stories: for a region its topics and sub-regions,
    for a topic the regions it has news from; each with counts and formats."""
    tagger = app[TAGGER]["tagger"]
    names = names_of(tagger)
    out = []
    if spec.region and not spec.topic:
        topics = region_topic_counts(db, spec.region)
        if topics:
            out.append(pages.Section(f"{names.region(spec.region)} 各主题", tuple(
                pages.FeedRow(names.topic(slug), f"{base}region/{spec.region}/topic/{slug}", n,
                              _formats(base, f"region/{spec.region}/topic/{slug}"))
                for slug, n in _topic_order(tagger, topics)), "topics"))
        children = [d.code for d in tagger.gazetteer.children(spec.region)]
        if children:
            marks = ",".join("?" * len(children))
            counts = {r[0]: r[1] for r in db.execute(
                f"SELECT code, count(*) FROM article_regions WHERE code IN ({marks})"
                " GROUP BY code", children)}
            if counts:
                out.append(pages.Section("下级地区", tuple(
                    pages.FeedRow(names.region(c), f"{base}region/{c}", counts[c],
                                  _formats(base, f"region/{c}"))
                    for c in children if c in counts), "regions"))
    elif spec.topic and not spec.region:
        counts = topic_region_counts(db, spec.topic)
        if counts:
            out.append(pages.Section(f"{names.topic(spec.topic)} · 各地区", tuple(
                pages.FeedRow(names.region(code), f"{base}region/{code}/topic/{spec.topic}", n,
                              _formats(base, f"region/{code}/topic/{spec.topic}"), depth)
                for code, n, depth in region_tree(tagger, counts)), "regions"))
    elif spec.region and spec.topic:
        out.append(pages.Section("相关订阅", (
            pages.FeedRow(names.region(spec.region), f"{base}region/{spec.region}", None,
                          _formats(base, f"region/{spec.region}")),
            pages.FeedRow(names.topic(spec.topic), f"{base}topic/{spec.topic}", None,
                          _formats(base, f"topic/{spec.topic}")),
        ), "related"))
    return tuple(out)


def _opml_of(base: str, spec: FeedSpec) -> str | None:
    if spec.region and not spec.topic:
        return f"{base}opml/region/{spec.region}"
    if spec.topic and not spec.region:
        return f"{base}opml/topic/{spec.topic}"
    return None


async def page_handler(request: web.Request) -> web.StreamResponse:
    """HTML page of a feed: /all, /source/ID, /region/CODE, /topic/SLUG,
    /region/CODE/topic/SLUG."""
    info = request.match_info
    kind = info["kind"]
    if kind == "all":
        key = "all"
    elif "slug" in info:
        key = f"region/{info['key']}/topic/{info['slug']}"
    else:
        key = f"{kind}/{info['key']}"
    result = resolve_key(_tagger(request), key)
    if result.moved:
        raise web.HTTPMovedPermanently(f"/{result.moved}")
    if result.spec is None:
        return _key_error(result)
    spec = result.spec
    app = request.app
    base = _base(request)

    async def make() -> Rendered | None:
        state = await feed_state(app, spec)
        if state is None:
            return None
        doc = subscription_doc(app, spec, state, None)
        sections = await app[READERS].run(lambda db: _sections(app, db, spec, base))
        html = pages.feed_page(doc, site_title=SITE_TITLE, sections=sections,
                               opml_href=_opml_of(base, spec), crumbs=_crumbs(app, spec, base))
        return _html(html, doc.updated)

    rendered = await app[CACHE].get(f"page:{spec.key}", make)
    if rendered is None:
        return error(404, "没有这个来源 No such source", f"No source {key[:64]!r}.")
    return respond(request, rendered, max_age=60, headers={"Content-Security-Policy": CSP})


def _story_feeds(base: str, item: FeedItem, tagger: Tagger) -> tuple[pages.FeedRow, ...]:
    """The feeds a story is in, most specific first: its regions and topics, their
    intersection, each with formats (and the region's OPML bundle)."""
    rows = []
    # the most specific regions first (a county before its city and province)
    depth = {code: len(tagger.gazetteer.lineage(code)) for code, _ in item.regions}
    regions = sorted(item.regions, key=lambda r: -depth[r[0]])[:3]
    if regions and item.topics:
        (code, rname), (slug, tname) = regions[0], item.topics[0]
        rows.append(pages.FeedRow(f"{rname} · {tname}", f"{base}region/{code}/topic/{slug}",
                                  None, _formats(base, f"region/{code}/topic/{slug}")))
    rows += [pages.FeedRow(name, f"{base}region/{code}", None,
                           (*_formats(base, f"region/{code}"),
                            ("OPML", f"{base}opml/region/{code}")))
             for code, name in regions]
    rows += [pages.FeedRow(name, f"{base}topic/{slug}", None, _formats(base, f"topic/{slug}"))
             for slug, name in item.topics[:3]]
    rows.append(pages.FeedRow("全部新闻", f"{base}all", None, _formats(base, "all")))
    return tuple(rows)


async def story_handler(request: web.Request) -> web.StreamResponse:
    """One story's reading view; a story merged into another redirects to it."""
    sid = request.match_info["id"]
    if not _STORY.match(sid):
        return error(404, "没有这篇报道 No such story", "Story ids are short letters and digits.")
    app = request.app
    base = _base(request)
    names = names_of(_tagger(request))

    def build(db):
        live = resolve_story(db, sid)
        if live is None:
            return None, None, ()
        if live != sid:
            return None, live, ()
        items = story_items(db, [sid], base_url=base, names=names)
        if not items:
            return None, None, ()
        copies = tuple(
            pages.Copy(c.outlet_name, c.title, c.url, c.published, c.content_html, c.summary)
            for c in story_copies(db, sid) if not c.canonical)
        return items[0], None, copies

    async def make():
        return await app[READERS].run(build)

    item, moved, copies = await app[CACHE].get(f"story:{sid}", make)
    if moved:
        raise web.HTTPMovedPermanently(f"/story/{moved}")
    if item is None:
        return error(404, "没有这篇报道 No such story", f"No story {sid!r}.")
    feeds = _story_feeds(base, item, _tagger(request))
    first = feeds[0].href[len(base):] if feeds and feeds[0].href else "all"
    auto = tuple((MIMES[f], f"{base}feeds/{first}.{f}", f"{feeds[0].label} ({label})")
                 for f, label in (("atom", "Atom"), ("rss", "RSS"), ("json", "JSON Feed")))
    html = pages.item_page(item, site_title=SITE_TITLE, base_url=base, copies=copies,
                           feeds=feeds, autodiscovery=auto)
    return respond(request, _html(html, item.updated), max_age=60, headers={
        "Content-Security-Policy": pages.content_security_policy(images=True)})


# -- OPML ------------------------------------------------------------------------------------


async def opml_handler(request: web.Request) -> web.StreamResponse:
    base = _base(request)
    tagger = _tagger(request)
    names = names_of(tagger)

    async def make() -> Rendered:
        def collect(db):
            return source_list(db), region_counts(db), topic_counts(db)

        rows, regions, topics = await request.app[READERS].run(collect)
        groups: list = [("全部新闻", f"{base}feeds/all.atom", f"{base}all")]
        groups.append(render.OpmlGroup("来源 Sources", tuple(
            (r["name"], f"{base}feeds/source/{r['id']}.atom", f"{base}source/{r['id']}")
            for r in rows if r["articles"])))
        if regions:
            groups.append(render.OpmlGroup("地区 Regions", tuple(
                (names.region(code), f"{base}feeds/region/{code}.atom", f"{base}region/{code}")
                for code, _, _ in region_tree(tagger, regions))))
        if topics:
            groups.append(render.OpmlGroup("主题 Topics", tuple(
                (names.topic(s), f"{base}feeds/topic/{s}.atom", f"{base}topic/{s}")
                for s in topics)))
        body = render.render_opml(f"{SITE_TITLE} 订阅源", groups, html_url=base)
        return make_rendered(body, render.OPML_MIME + "; charset=utf-8", _now())

    return respond(request, await request.app[CACHE].get("opml", make))


def _complete(request: web.Request) -> bool | None:
    raw = request.query.get("all", "0")
    return {"0": False, "1": True, "": False}.get(raw)


async def opml_bundle_handler(request: web.Request) -> web.StreamResponse:
    """/opml/region/CODE (every topic feed of a region) and /opml/topic/SLUG?within=CODE
    (a topic in every region of a territory); all=1 lists feeds without news yet too."""
    kind, raw = request.match_info["kind"], request.match_info["key"]
    tagger = _tagger(request)
    names = names_of(tagger)
    base = _base(request)
    complete = _complete(request)
    if complete is None:
        return error(400, "参数无效 Bad parameter", "all= is 0 or 1.")
    within: str | None = None
    if kind == "region":
        code, moved = current_code(tagger, raw)
        if code is None:
            return error(404, *_NO_REGION)
        if moved:
            raise web.HTTPMovedPermanently(f"/opml/region/{code}")
        title = f"{names.region(code)} 各主题订阅源"
    else:
        if raw not in tagger.taxonomy.names:
            return _key_error(resolve_key(tagger, f"topic/{raw}"))
        code = raw
        if "within" in request.query:
            within, _moved = current_code(tagger, request.query["within"])
            if within is None:
                return error(404, *_NO_REGION)
        where = names.region(within) if within else "各地区"
        title = f"{names.topic(raw)} · {where} 订阅源"

    async def make() -> Rendered:
        if kind == "region":
            def collect(db):
                children = [d.code for d in tagger.gazetteer.children(code)]
                marks = ",".join("?" * len(children)) or "NULL"
                counts = {r[0]: r[1] for r in db.execute(
                    f"SELECT code, count(*) FROM article_regions WHERE code IN ({marks})"
                    " GROUP BY code", children)}
                return region_topic_counts(db, code), counts

            topic_n, region_n = await request.app[READERS].run(collect)
            groups = bundles.region_bundle(base, code, gazetteer=tagger.gazetteer,
                                           topics=tagger.taxonomy.names, topic_counts=topic_n,
                                           region_counts=region_n, complete=bool(complete))
        else:
            counts = await request.app[READERS].run(topic_region_counts, code)
            groups = bundles.topic_bundle(base, code, label=names.topic(code),
                                          gazetteer=tagger.gazetteer, region_counts=counts,
                                          within=within, complete=bool(complete))
        body = render.render_opml(f"{title} · {SITE_TITLE}", groups, html_url=base)
        return make_rendered(body, render.OPML_MIME + "; charset=utf-8", _now())

    key = f"opml:{kind}:{code}:{within}:{complete}"
    rendered = await request.app[CACHE].get(key, make)
    slug = f"{kind}-{code}" + (f"-{within}" if within else "")
    return respond(request, rendered, headers={
        "Content-Disposition": f'inline; filename="{slug}.opml"'})


# -- WebSub ----------------------------------------------------------------------------------


def topic_of(app: web.Application, url: str) -> websub.Topic | None:
    """One of our feeds as a WebSub topic (canonical URL, today's region codes); None for
    anything else (archives never change, so they are not topics)."""
    base = app[CONFIG].public_url
    if not url.startswith(base + "feeds/"):
        return None
    path, _, qs = url[len(base) + len("feeds/"):].partition("?")
    parsed = _split_format(path)
    if parsed is None:
        return None
    key, fmt = parsed
    tagger = app[TAGGER]["tagger"]
    if key == "search":
        try:
            query = search.parse_search(
                dict(parse_qsl(qs)), resolve_region=lambda raw: current_code(tagger, raw)[0],
                topics=tagger.taxonomy.names)
        except search.SearchError:
            return None
        if query is None:
            return None
        return websub.Topic(f"{base}feeds/search.{fmt}?{query.query_string}", query.key, fmt,
                            query)
    if qs or not re.fullmatch(KEY_PATTERN, key):
        return None
    result = resolve_key(tagger, key)
    key = result.spec.key if result.spec else result.moved
    if key is None:
        return None
    return websub.Topic(f"{base}feeds/{key}.{fmt}", key, fmt)


async def render_topic(app: web.Application, topic: websub.Topic) -> tuple[bytes, str] | None:
    if topic.search is not None:
        rendered = await rendered_search_feed(app, topic.search, topic.fmt)
    else:
        result = resolve_key(app[TAGGER]["tagger"], topic.key)
        if result.spec is None:
            return None
        rendered = await rendered_feed(app, result.spec, topic.fmt)
    return None if rendered is None else (rendered.body, rendered.content_type)


async def hub_handler(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB]
    if request.method == "POST":
        return await hub.handle(request)
    base = _base(request)
    if hub.mode == "builtin":
        text = [
            "本站内置 WebSub 推送中心（hub）。订阅源在 HTTP 头和文档中以 rel=\"hub\" 声明它，"
            "支持 WebSub 的阅读器会自动订阅，新报道发布后立即推送。",
            f"Subscribers POST hub.mode=subscribe, hub.topic (a feed URL such as "
            f"{base}feeds/all.atom), hub.callback and optionally hub.lease_seconds and "
            "hub.secret (then every delivery carries X-Hub-Signature: sha256=…). The hub "
            "answers 202 and verifies the request with a GET carrying hub.challenge.",
        ]
    elif hub.mode == "external":
        text = [f"本站使用外部推送中心：{hub.url}", f"This site's feeds use the hub at {hub.url}."]
    else:
        text = ["本站未启用 WebSub 推送。", "This site has no WebSub hub."]
    page = pages.about_page("WebSub 推送 Push", text, site_title=SITE_TITLE, base_url="/")
    return web.Response(text=page, content_type="text/html",
                        headers={"Content-Security-Policy": CSP,
                                 "Cache-Control": "public, max-age=3600"})


def notify_changed(app: web.Application) -> None:
    """Tell the hub that something was stored; cheap, returns at once. The daemon may call it
    after each poll that stored articles (the server also notices commits by itself)."""
    hub = app.get(HUB)
    if hub is not None:
        hub.notify()


async def _watch_commits(app: web.Application, interval: float) -> None:
    """Notice commits by any process (SQLite data_version) and let the hub check for news."""
    cache: DocCache = app[CACHE]
    seen = cache.version()
    while True:
        await asyncio.sleep(interval)
        try:
            version = cache.version()
        except Exception:  # noqa: BLE001 - a watcher must keep watching
            log.exception("cannot read data_version")
            continue
        if version != seen:
            seen = version
            app[HUB].notify()


# -- operations ------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    try:
        ok = await request.app[READERS].run(lambda db: db.execute("SELECT 1").fetchone()[0])
    except Exception:  # noqa: BLE001 - health must answer, whatever failed
        log.exception("health check failed")
        return web.json_response({"status": "error"}, status=503)
    return web.json_response({"status": "ok" if ok == 1 else "error", "version": __version__},
                             headers={"Cache-Control": "no-store"})


async def metrics_handler(request: web.Request) -> web.Response:
    def collect(db):
        one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "aggregator_articles": one("SELECT count(*) FROM articles"),
            "aggregator_stories": one("SELECT count(*) FROM stories WHERE merged_into IS NULL"),
            "aggregator_sources": one("SELECT count(*) FROM sources"),
            "aggregator_sources_failing": one("SELECT count(*) FROM sources WHERE error_count > 0"
                                             " AND enabled = 1"),
            "aggregator_fetches": one("SELECT count(*) FROM fetches"),
            "aggregator_archive_pages": one("SELECT count(*) FROM archive_pages"),
            "aggregator_websub_subscriptions": one("SELECT count(*) FROM websub_subscriptions"),
        }

    values = await request.app[READERS].run(collect)
    m = request.app[METRICS]
    lines = [f"# TYPE {k} gauge\n{k} {v}" for k, v in values.items()]
    lines.append(f"# TYPE aggregator_http_requests_total counter\n"
                 f"aggregator_http_requests_total {m['requests']}")
    lines.append(f"# TYPE aggregator_uptime_seconds gauge\n"
                 f"aggregator_uptime_seconds {time.monotonic() - m['started']:.0f}")
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain",
                        charset="utf-8", headers={"Cache-Control": "no-store"})


@web.middleware
async def guard(request: web.Request, handler) -> web.StreamResponse:
    """Reject hostile requests early and never let an exception's details out."""
    request.app[METRICS]["requests"] += 1
    if len(request.rel_url.raw_query_string) > MAX_QUERY or len(request.raw_path) > 1024:
        return error(400, "请求无效 Bad request", "The URL is too long.")
    try:
        return await handler(request)
    except web.HTTPRedirection:
        raise
    except web.HTTPException as exc:
        if exc.status == 404:
            return error(404, "页面不存在 Not found", f"Nothing at {request.path[:100]}.")
        if exc.status == 405:
            return error(405, "方法不允许 Method not allowed",
                         "Pages and feeds answer GET and HEAD; only /websub takes POST.")
        if exc.status == 413:
            return error(413, "请求太大 Request too large", "The request body is too large.")
        raise
    except Exception:  # noqa: BLE001 - logged with its stack here, generic to the client
        log.exception("error serving %s", request.path[:200])
        return error(500, "服务器错误 Server error", "Something went wrong; it has been logged.")


def init_app(config: Config, readers: Readers | None = None, tagger: Tagger | None = None, *,
             writer: Writer | None = None,
             hub_options: websub.HubOptions | None = None) -> web.Application:
    """The aiohttp application; resources are owned by cleanup contexts.

    `writer`: the daemon's writer, used to write archive pages and hub subscriptions (when
    None the server opens its own on first need). `hub_options`: WebSub behaviour (default:
    from the config's `hub_url` and `websub_allow_private` settings, when present)."""
    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    app[CONFIG] = config
    app[METRICS] = {"requests": 0, "started": time.monotonic()}
    app[TAGGER] = {}
    app[WRITER] = {"lock": asyncio.Lock()}
    if writer is not None:
        app[WRITER]["writer"] = writer
    options = hub_options or websub.HubOptions.from_config(config)

    async def resources_ctx(app: web.Application):
        own = readers is None
        app[READERS] = readers or Readers(config.db)
        app[CACHE] = DocCache(config.db)
        app[TAGGER]["tagger"] = tagger or await app[READERS].run(
            lambda db: build_tagger(db, config.topics or None))
        app[HUB] = websub.Hub(
            base_url=config.public_url, options=options, read=app[READERS].run,
            write=lambda fn, *args: _write(app, fn, *args),
            resolve=lambda url: topic_of(app, url), render=lambda t: render_topic(app, t))
        watcher = None
        if app[HUB].mode != "off" and options.watch_interval > 0:
            watcher = asyncio.ensure_future(_watch_commits(app, options.watch_interval))
        yield
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await app[HUB].close()
        if app[WRITER].get("own"):
            app[WRITER]["writer"].close()
        app[CACHE].close()
        if own:
            app[READERS].close()

    app.cleanup_ctx.append(resources_ctx)
    r = app.router
    r.add_get("/", index_handler)
    r.add_get("/opml", opml_handler)
    r.add_get("/opml/{kind:region|topic}/{key}", opml_bundle_handler)
    r.add_get("/healthz", healthz)
    r.add_get("/metrics", metrics_handler)
    r.add_get("/search", search_handler)
    r.add_route("GET", "/websub", hub_handler)
    r.add_route("POST", "/websub", hub_handler)
    r.add_get(r"/feeds/{tail:all\.[a-z]+}", feed_handler)
    r.add_get(r"/feeds/{tail:search\.[a-z]+}", search_feed_handler)
    r.add_get("/feeds/{kind:source|topic|region}/{tail}", feed_handler)
    r.add_get("/feeds/{kind:region}/{code}/topic/{tail}", feed_handler)
    r.add_get("/feeds/{key:" + KEY_PATTERN + "}/archive/{tail}", archive_handler)
    r.add_get("/{kind:all}", page_handler)
    r.add_get("/{kind:source|topic|region}/{key}", page_handler)
    r.add_get("/{kind:region}/{key}/topic/{slug}", page_handler)
    r.add_get("/{key:" + KEY_PATTERN + "}/archive/{tail}", archive_handler)
    r.add_get("/story/{id}", story_handler)
    return app
