"""The HTTP server: feeds, OPML, HTML pages, health and metrics, built by `init_app`.

Rendered documents are cached in memory with their strong ETag (a hash of the bytes) and
gzip form; the cache is dropped whenever the database changes (SQLite's data_version), so a
feed's ETag changes exactly when its bytes do. Every parameter is validated before use
(unknown codes and slugs get a helpful 404, old region codes a permanent redirect); no stack
trace ever reaches a client.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web

from . import __version__, pages, render, store
from .settings import Config
from .store import connect
from .tag import Tagger, build_tagger
from .views import (
    FeedSpec,
    Names,
    build_feed,
    region_counts,
    source_list,
    topic_counts,
)
from .writer import Readers

log = logging.getLogger("aggregator.web")

FORMATS = {
    "atom": (render.ATOM_MIME + "; charset=utf-8", render.render_atom),
    "rss": (render.RSS_MIME + "; charset=utf-8", render.render_rss),
    "json": (render.JSON_MIME + "; charset=utf-8", render.render_json),
}
CSP = pages.CSP
SITE_TITLE = "地方新闻聚合"
MAX_QUERY = 2048
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_CODE = re.compile(r"^(\d{6}|\d{9}|\d{12}|Z[0-9A-Za-z]{1,40})(?:-[a-z0-9-]{0,60})?$")
_STORY = re.compile(r"^[a-z0-9]{4,40}$")
HOME = (("/", "首页 Home"), ("/opml", "OPML"))

CONFIG = web.AppKey("config", Config)
READERS = web.AppKey("readers", Readers)
CACHE = web.AppKey("cache", object)
METRICS = web.AppKey("metrics", dict)
TAGGER = web.AppKey("tagger", object)


@dataclass(frozen=True)
class Rendered:
    body: bytes
    gz: bytes
    etag: str
    last_modified: str
    content_type: str


class DocCache:
    """Rendered documents, valid until the database changes.

    SQLite's `PRAGMA data_version` changes on a connection whenever another connection has
    committed; asking costs microseconds, so every request checks it on one dedicated
    read-only connection and the cache never serves a stale document.
    """

    def __init__(self, path: str):
        self._conn = connect(path, readonly=True)
        self.docs: dict[str, Rendered | None] = {}
        self._version: int | None = None

    def _check(self) -> None:
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self.docs.clear()
            self._version = version

    async def get(self, key: str, make: Callable[[], Awaitable[Rendered | None]]):
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
            headers: dict[str, str] | None = None) -> web.StreamResponse:
    """200 with validators and gzip when accepted, or 304 when the client's copy is current."""
    out = {"ETag": doc.etag, "Last-Modified": doc.last_modified,
           "Cache-Control": f"public, max-age={max_age}", "Vary": "Accept-Encoding",
           **(headers or {})}
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


# -- names: the gazetteer and the taxonomy ---------------------------------------------------


def names_of(tagger: Tagger) -> Names:
    gaz, tax = tagger.gazetteer, tagger.taxonomy.names

    def region(code: str) -> str:
        d = gaz.get(code)
        return d.name if d else code

    return Names(region=region, topic=lambda slug: tax.get(slug, slug))


def _tagger(request: web.Request) -> Tagger:
    return request.app[TAGGER]["tagger"]


# -- feeds -----------------------------------------------------------------------------------


def _split_format(tail: str) -> tuple[str, str] | None:
    name, dot, fmt = tail.rpartition(".")
    if not dot or fmt not in FORMATS:
        return None
    return name, fmt


def _resolve_region(request: web.Request, raw: str) -> tuple[str | None, str | None]:
    """(current code, None) or (None, redirect code) or (None, None) when unknown."""
    if not _CODE.match(raw):
        return None, None
    code = raw.split("-", 1)[0] if not raw.startswith("Z") else raw
    gaz = _tagger(request).gazetteer
    current = gaz.current(code)
    if gaz.get(current) is None:
        return None, None
    if current != code:
        return None, current
    return code, None


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
    tax = _tagger(request).taxonomy.names
    if kind == "all":
        if name != "all":
            return error(404, "没有这个订阅源 No such feed", "Try /feeds/all.atom.")
        return await serve_feed(request, FeedSpec(), fmt)
    if kind == "source":
        if not _ID.match(name):
            return error(404, "没有这个来源 No such source",
                         "Source ids are lower-case letters, digits, '-' and '_'.")
        return await serve_feed(request, FeedSpec(source=name), fmt)
    if kind == "topic":
        if name not in tax:
            return error(404, "没有这个主题 No such topic", "Known topics: " +
                         "、".join(f"{v} ({k})" for k, v in list(tax.items())[:40]))
        return await serve_feed(request, FeedSpec(topic=name), fmt)
    # region, possibly with a topic
    raw = info.get("code", name)
    topic = name if "code" in info else None
    if topic is not None and topic not in tax:
        return error(404, "没有这个主题 No such topic", f"Unknown topic {topic[:40]!r}.")
    code, moved = _resolve_region(request, raw)
    if moved:
        path = f"/feeds/region/{moved}" + (f"/topic/{topic}" if topic else "") + f".{fmt}"
        raise web.HTTPMovedPermanently(path)
    if code is None:
        return error(404, "没有这个地区 No such region",
                     "Region URLs use official division codes, e.g. /feeds/region/320412.atom "
                     "(武进区); townships need `aggregator geo import`.")
    return await serve_feed(request, FeedSpec(region=code, topic=topic), fmt)


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


async def serve_feed(request: web.Request, spec: FeedSpec, fmt: str) -> web.StreamResponse:
    app = request.app
    config = app[CONFIG]
    base = config.public_url
    content_type, renderer = FORMATS[fmt]
    names = names_of(_tagger(request))

    async def make() -> Rendered | None:
        def build(db):
            title = feed_title(db, spec, names)
            if title is None:
                return None
            return build_feed(db, spec, title=f"{title} · {SITE_TITLE}", base_url=base,
                              self_url=f"{base}feeds/{spec.key}.{fmt}",
                              html_url=f"{base}{spec.key}", limit=config.feed_size,
                              names=names)

        doc = await app[READERS].run(build)
        if doc is None:
            return None
        return make_rendered(renderer(doc), content_type, doc.updated)

    rendered = await app[CACHE].get(f"feed:{spec.key}.{fmt}", make)
    if rendered is None:
        return error(404, "没有这个订阅源 No such feed",
                     f"Nothing is published under {spec.key[:80]}.")
    return respond(request, rendered)


# -- HTML pages ------------------------------------------------------------------------------


def _formats(base: str, key: str) -> tuple[tuple[str, str], ...]:
    return tuple((label, f"{base}feeds/{key}.{ext}") for label, ext in
                 (("Atom", "atom"), ("RSS", "rss"), ("JSON", "json")))


def region_tree(tagger: Tagger, counts: dict[str, int]) -> list[tuple[str, int, int]]:
    """(code, count, depth) in tree order: province, its cities, their counties, towns."""
    gaz = tagger.gazetteer
    paths = []
    for code, n in counts.items():
        lineage = gaz.lineage(code)
        if not lineage:
            continue
        path = tuple(d.code for d in reversed(lineage))
        paths.append((path, code, n))
    paths.sort()
    return [(code, n, len(path) - 1) for path, code, n in paths]


def site_view(base: str, rows: list[dict], regions: dict[str, int], topics: dict[str, int],
              tagger: Tagger) -> pages.SiteView:
    """The index page: every published feed (a region tree and topics with counts) and
    every source's health."""
    names = names_of(tagger)
    total = sum(r["articles"] for r in rows)
    sections = [pages.Section("订阅 Feeds", (pages.FeedRow(
        "全部新闻 All news", f"{base}all", total, _formats(base, "all")),), "all")]
    if regions:
        sections.append(pages.Section("地区 Regions", tuple(
            pages.FeedRow(names.region(code), f"{base}region/{code}", n,
                          _formats(base, f"region/{code}"), depth)
            for code, n, depth in region_tree(tagger, regions)), "regions"))
    if topics:
        order = list(tagger.taxonomy.names)
        sections.append(pages.Section("主题 Topics", tuple(
            pages.FeedRow(names.topic(slug), f"{base}topic/{slug}", n,
                          _formats(base, f"topic/{slug}"))
            for slug, n in sorted(topics.items(),
                                  key=lambda kv: order.index(kv[0]) if kv[0] in order else 999)
        ), "topics"))
    sources = tuple(
        pages.SourceRow(
            name=r["name"],
            href=f"{base}source/{r['id']}" if r["articles"] else None,
            site_url=r["url"] if r["url"].startswith(("http://", "https://")) else None,
            kind=r["kind"],
            count=r["articles"],
            last_fetch=store.parse_iso(r["last_polled"]),
            ok=None if not r["last_polled"] else not r["error_count"],
            error=r["last_error"],
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
    )


async def index_handler(request: web.Request) -> web.StreamResponse:
    base = request.app[CONFIG].public_url
    tagger = _tagger(request)

    async def make() -> Rendered:
        def collect(db):
            return source_list(db), region_counts(db), topic_counts(db)

        rows, regions, topics = await request.app[READERS].run(collect)
        html = pages.index_page(site_view(base, rows, regions, topics, tagger))
        return make_rendered(html.encode("utf-8"), "text/html; charset=utf-8", _now())

    rendered = await request.app[CACHE].get("index", make)
    return respond(request, rendered, max_age=60, headers={"Content-Security-Policy": CSP})


async def page_handler(request: web.Request) -> web.StreamResponse:
    """HTML page of a feed: /all, /source/ID, /region/CODE, /topic/SLUG."""
    kind = request.match_info["kind"]
    key = request.match_info.get("key", "")
    tax = _tagger(request).taxonomy.names
    if kind == "all":
        spec = FeedSpec()
    elif kind == "source" and _ID.match(key):
        spec = FeedSpec(source=key)
    elif kind == "topic" and key in tax:
        spec = FeedSpec(topic=key)
    elif kind == "region":
        code, moved = _resolve_region(request, key)
        if moved:
            raise web.HTTPMovedPermanently(f"/region/{moved}")
        if code is None:
            return error(404, "没有这个地区 No such region", "Use an official division code.")
        spec = FeedSpec(region=code)
    else:
        return error(404, "页面不存在 Not found", f"Nothing at {request.path[:100]}.")
    base = request.app[CONFIG].public_url
    names = names_of(_tagger(request))

    async def make() -> Rendered | None:
        def build(db):
            title = feed_title(db, spec, names)
            if title is None:
                return None
            return build_feed(db, spec, title=title, base_url=base,
                              self_url=f"{base}feeds/{spec.key}.atom",
                              html_url=f"{base}{spec.key}",
                              limit=request.app[CONFIG].feed_size, names=names)

        doc = await request.app[READERS].run(build)
        if doc is None:
            return None
        html = pages.feed_page(doc, site_title=SITE_TITLE)
        return make_rendered(html.encode("utf-8"), "text/html; charset=utf-8", doc.updated)

    rendered = await request.app[CACHE].get(f"page:{spec.key}", make)
    if rendered is None:
        return error(404, "没有这个来源 No such source", f"No source {key[:64]!r}.")
    return respond(request, rendered, max_age=60, headers={"Content-Security-Policy": CSP})


async def story_handler(request: web.Request) -> web.StreamResponse:
    """One story's reading view; a story merged into another redirects to it."""
    from .store_stories import resolve_story
    from .views import _item

    sid = request.match_info["id"]
    if not _STORY.match(sid):
        return error(404, "没有这篇报道 No such story", "Story ids are short letters and digits.")
    base = request.app[CONFIG].public_url
    names = names_of(_tagger(request))

    def build(db):
        live = resolve_story(db, sid)
        if live is None:
            return None, None
        if live != sid:
            return None, live
        rows = list(db.query(
            "SELECT s.id AS story_id, s.updated AS story_updated, c.*, src.url AS source_url"
            " FROM stories s JOIN articles c ON c.id = s.canonical_article"
            " LEFT JOIN sources src ON src.id = c.source_id WHERE s.id = ?", [sid]))
        return (_item(db, rows[0], base, names) if rows else None), None

    item, moved = await request.app[READERS].run(build)
    if moved:
        raise web.HTTPMovedPermanently(f"/story/{moved}")
    if item is None:
        return error(404, "没有这篇报道 No such story", f"No story {sid!r}.")
    html = pages.item_page(item, site_title=SITE_TITLE, base_url=base)
    doc = make_rendered(html.encode("utf-8"), "text/html; charset=utf-8", item.updated)
    return respond(request, doc, max_age=60, headers={
        "Content-Security-Policy": pages.content_security_policy(images=True)})


async def opml_handler(request: web.Request) -> web.StreamResponse:
    base = request.app[CONFIG].public_url
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
            "aggregator_sources_failing": one("SELECT count(*) FROM sources WHERE error_count > 0"),
            "aggregator_fetches": one("SELECT count(*) FROM fetches"),
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
            return error(405, "方法不允许 Method not allowed", "Only GET and HEAD are served.")
        raise
    except Exception:  # noqa: BLE001 - logged with its stack here, generic to the client
        log.exception("error serving %s", request.path[:200])
        return error(500, "服务器错误 Server error", "Something went wrong; it has been logged.")


def init_app(config: Config, readers: Readers | None = None,
             tagger: Tagger | None = None) -> web.Application:
    """The aiohttp application; resources are owned by cleanup contexts."""
    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    app[CONFIG] = config
    app[METRICS] = {"requests": 0, "started": time.monotonic()}
    app[TAGGER] = {}

    async def resources_ctx(app: web.Application):
        own = readers is None
        app[READERS] = readers or Readers(config.db)
        app[CACHE] = DocCache(config.db)
        app[TAGGER]["tagger"] = tagger or await app[READERS].run(
            lambda db: build_tagger(db, config.topics or None))
        yield
        app[CACHE].close()
        if own:
            app[READERS].close()

    app.cleanup_ctx.append(resources_ctx)
    r = app.router
    r.add_get("/", index_handler)
    r.add_get("/opml", opml_handler)
    r.add_get("/healthz", healthz)
    r.add_get("/metrics", metrics_handler)
    r.add_get(r"/feeds/{tail:all\.[a-z]+}", feed_handler)
    r.add_get("/feeds/{kind:source|topic|region}/{tail}", feed_handler)
    r.add_get("/feeds/{kind:region}/{code}/topic/{tail}", feed_handler)
    r.add_get("/{kind:all}", page_handler)
    r.add_get("/{kind:source|topic|region}/{key}", page_handler)
    r.add_get("/story/{id}", story_handler)
    return app
