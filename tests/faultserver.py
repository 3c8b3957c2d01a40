"""A loopback fault-injection server: every way a feed server can misbehave, on demand.

One `FaultServer` is one host (127.0.0.1 and its own port). It serves documents with real
validators (ETag and Last-Modified, 304 on a match) and, per path, a queue of faults to play
before falling back to the document: error statuses, Retry-After (seconds or HTTP date),
redirects, 410 Gone, a stall mid-response, a slow-drip body, an endless body, a lying
Content-Length, a gzip bomb. `blackhole()` is a listening socket whose accept queue is full,
so a connection attempt is never answered (a connect timeout without leaving loopback).

It counts what politeness is measured by:
- `in_retry_window`: requests that reached this host while a Retry-After it gave was
  running (a request already on the wire when the 429 left is not counted: the window
  opens `GRACE` seconds after the answer, far more than loopback latency);
- `after_gone`: requests to a path after it answered 410;
- conditional requests (If-None-Match / If-Modified-Since) per path;
- `max_inflight`: the most requests it was answering at once;
- `sent_bytes`: body bytes actually written per path (a capped client stops early).

The bad documents (`bad_documents()`) are feeds a real site could serve: truncated, malformed,
an HTML page, GBK declared as UTF-8, entries without or with duplicate guids, odd dates,
relative links, XML-illegal control characters, and hostile HTML.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gzip
import hashlib
import io
import socket
import time
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from aiohttp import web

GRACE = 0.05  # seconds: a request already in flight when a 429 left is not a violation

Fault = Callable[["FaultServer", web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Hit:
    path: str
    at: float  # time.monotonic()
    headers: dict[str, str]

    @property
    def conditional(self) -> bool:
        return "If-None-Match" in self.headers or "If-Modified-Since" in self.headers


@dataclass
class FaultServer:
    docs: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=lambda: defaultdict(list))
    always: dict[str, Fault] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)
    gone: dict[str, float] = field(default_factory=dict)
    sent_bytes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    in_retry_window: int = 0
    after_gone: int = 0
    inflight: int = 0
    max_inflight: int = 0
    url: str = ""
    host: str = ""  # host:port, as aggregator.fetch.host_key spells it
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    # -- set-up ------------------------------------------------------------------------------

    def set(self, path: str, body: bytes, content_type: str = "application/rss+xml") -> None:
        self.docs[path] = (body, content_type)

    def queue(self, path: str, fault: Fault, times: int = 1) -> None:
        """Play `fault` on the next `times` requests to `path`, then serve the document."""
        self.faults[path].extend([fault] * times)

    def forever(self, path: str, fault: Fault) -> None:
        self.always[path] = fault

    async def start(self) -> FaultServer:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self.host = f"127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self.stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- counters ----------------------------------------------------------------------------

    def paths(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    def conditional_share(self, paths: list[str], *, skip_first: bool = True) -> float:
        """Share of requests to these paths that were conditional (the first request of
        each path cannot be: there are no validators yet)."""
        total = conditional = 0
        for p in paths:
            hits = self.paths(p)[1:] if skip_first else self.paths(p)
            total += len(hits)
            conditional += sum(h.conditional for h in hits)
        return conditional / total if total else 0.0

    def open_window(self, seconds: float) -> None:
        now = time.monotonic()
        self.windows.append((now + GRACE, now + seconds))

    # -- serving -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        path = request.path
        self.hits.append(Hit(path, now, dict(request.headers)))
        if any(start <= now < end for start, end in self.windows):
            self.in_retry_window += 1
        if path in self.gone:
            self.after_gone += 1
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.faults.get(path):
                return await self.faults[path].pop(0)(self, request)
            if path in self.always:
                return await self.always[path](self, request)
            return self.document(request, path)
        finally:
            self.inflight -= 1

    def document(self, request: web.Request, path: str) -> web.Response:
        if path not in self.docs:
            return web.Response(status=404, text="not found")
        body, ctype = self.docs[path]
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        modified = email.utils.formatdate(1_700_000_000 + len(body), usegmt=True)
        headers = {"ETag": etag, "Last-Modified": modified}
        if request.headers.get("If-None-Match") == etag or (
            "If-None-Match" not in request.headers
            and request.headers.get("If-Modified-Since") == modified
        ):
            return web.Response(status=304, headers=headers)
        self.sent_bytes[path] += len(body)
        return web.Response(body=body, headers={**headers, "Content-Type": ctype})


@contextlib.asynccontextmanager
async def fault_server() -> AsyncIterator[FaultServer]:
    server = await FaultServer().start()
    try:
        yield server
    finally:
        await server.stop()


# -- faults ------------------------------------------------------------------------------------


def status(code: int, headers: dict[str, str] | None = None, text: str = "error") -> Fault:
    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        return web.Response(status=code, text=text, headers=headers or {})

    return play


def retry_after(code: int, seconds: int, *, as_date: bool = False) -> Fault:
    """429/503 with Retry-After as delta-seconds or as an HTTP date (with a Date header)."""

    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        now = time.time()
        if as_date:
            # the whole window from the date's whole second, as a client would read it
            until = int(now) + seconds + 1
            value = email.utils.formatdate(until, usegmt=True)
            server.open_window(until - now)
        else:
            value = str(seconds)
            server.open_window(seconds)
        headers = {"Retry-After": value, "Date": email.utils.formatdate(now, usegmt=True)}
        return web.Response(status=code, text="slow down", headers=headers)

    return play


def no_retry_header(code: int) -> Fault:
    return status(code, text="busy")


def redirect(code: int, location: str) -> Fault:
    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        target = location if "://" in location else server.url + location
        return web.Response(status=code, headers={"Location": target})

    return play


def gone() -> Fault:
    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        server.gone.setdefault(request.path, time.monotonic())
        return web.Response(status=410, text="gone")

    return play


def stall(seconds: float, head: bytes = b'<?xml version="1.0"?><rss version="2.0">') -> Fault:
    """Headers and a first chunk, then silence: a read (sock_read) timeout."""

    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        await resp.write(head)
        server.sent_bytes[request.path] += len(head)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.stopping.wait(), seconds)
        return resp

    return play


def drip(every: float, total: int = 100_000) -> Fault:
    """One byte every `every` seconds: no read timeout ever fires, only the total one."""

    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError, RuntimeError):
            for _ in range(total):
                if server.stopping.is_set():
                    break
                await resp.write(b" ")
                server.sent_bytes[request.path] += 1
                await asyncio.sleep(every)
        return resp

    return play


def endless(total: int, chunk: int = 64 * 1024) -> Fault:
    """A body of `total` bytes without Content-Length; stops when the client hangs up."""

    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        block = b"<!-- padding -->" * (chunk // 16)
        with contextlib.suppress(ConnectionError, RuntimeError):
            while server.sent_bytes[request.path] < total and not server.stopping.is_set():
                await resp.write(block)
                server.sent_bytes[request.path] += len(block)
        return resp

    return play


def declared_huge(length: int) -> Fault:
    """A Content-Length far over any cap (the client must not even start reading)."""

    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml",
                                           "Content-Length": str(length)})
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await resp.write(b"<rss>")
            server.sent_bytes[request.path] += 5
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.stopping.wait(), 2)
        return resp

    return play


def gzip_bomb(inflated: int = 200_000_000) -> Fault:
    """A small gzip body that inflates to `inflated` bytes of zeros."""
    body = _bomb(inflated)

    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        server.sent_bytes[request.path] += len(body)
        return web.Response(body=body, headers={"Content-Type": "application/rss+xml",
                                                "Content-Encoding": "gzip"})

    return play


_BOMBS: dict[int, bytes] = {}


def _bomb(size: int) -> bytes:
    if size not in _BOMBS:
        z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        block = b"\0" * (1 << 20)
        parts = [z.compress(block) for _ in range(size >> 20)]
        parts.append(z.flush())
        _BOMBS[size] = b"".join(parts)
    return _BOMBS[size]


def body(content: bytes, content_type: str = "application/rss+xml",
         headers: dict[str, str] | None = None) -> Fault:
    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        server.sent_bytes[request.path] += len(content)
        return web.Response(body=content, headers={"Content-Type": content_type,
                                                    **(headers or {})})

    return play


def rotating_etag(content: bytes) -> Fault:
    """The same body with a new ETag every time (and validators ignored)."""
    counter = iter(range(1, 1_000_000))

    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        server.sent_bytes[request.path] += len(content)
        return web.Response(body=content, headers={"Content-Type": "application/rss+xml",
                                                    "ETag": f'"v{next(counter)}"'})

    return play


def last_modified_only(content: bytes) -> Fault:
    """Validators without an ETag: Last-Modified only, 304 on If-Modified-Since."""
    modified = email.utils.formatdate(1_700_000_000, usegmt=True)

    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-Modified-Since") == modified:
            return web.Response(status=304, headers={"Last-Modified": modified})
        server.sent_bytes[request.path] += len(content)
        return web.Response(body=content, headers={"Content-Type": "application/rss+xml",
                                                    "Last-Modified": modified})

    return play


def slow(seconds: float, content: bytes) -> Fault:
    """A complete answer that takes `seconds` (to see how many requests overlap)."""

    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.stopping.wait(), seconds)
        return web.Response(body=content, headers={"Content-Type": "application/rss+xml"})

    return play


def with_headers(content: bytes, headers: dict[str, str]) -> Fault:
    """The document with extra headers (Cache-Control, Expires) and an ETag."""
    etag = '"' + hashlib.md5(content).hexdigest() + '"'

    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag, **headers})
        return web.Response(body=content, headers={"Content-Type": "application/rss+xml",
                                                    "ETag": etag, **headers})

    return play


def gzipped(content: bytes) -> Fault:
    data = gzip.compress(content)

    async def play(server: FaultServer, request: web.Request) -> web.StreamResponse:
        return web.Response(body=data, headers={"Content-Type": "application/rss+xml",
                                                "Content-Encoding": "gzip"})

    return play


# -- a host that never answers -----------------------------------------------------------------


@contextlib.contextmanager
def blackhole() -> Iterator[str]:
    """A URL whose TCP connect is never answered: a listening socket with a full accept
    queue (the kernel drops further SYNs), so the client's connect timeout fires."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError, OSError):
            c.connect(("127.0.0.1", port))
        fillers.append(c)
    time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/feed.xml"
    finally:
        for c in fillers:
            c.close()
        listener.close()


# -- documents ---------------------------------------------------------------------------------


def rss(title: str, items: list[dict], *, ttl: int | None = None, encoding: str = "utf-8",
        declared: str | None = None) -> bytes:
    """An RSS 2.0 document; each item: title, link, and optional guid, date, html."""
    out = io.StringIO()
    out.write(f'<?xml version="1.0" encoding="{declared or encoding}"?>\n<rss version="2.0">'
              f"<channel><title>{title}</title><link>http://news.example.cn/</link>"
              f"<description>{title}</description>")
    if ttl:
        out.write(f"<ttl>{ttl}</ttl>")
    for it in items:
        out.write("<item>")
        out.write(f"<title>{it['title']}</title>")
        if it.get("link") is not None:
            out.write(f"<link>{it['link']}</link>")
        if it.get("guid"):
            out.write(f'<guid isPermaLink="false">{it["guid"]}</guid>')
        if it.get("date"):
            out.write(f"<pubDate>{it['date']}</pubDate>")
        out.write(f"<description><![CDATA[{it.get('html', '<p>正文。</p>')}]]></description>")
        out.write("</item>")
    out.write("</channel></rss>")
    return out.getvalue().encode(encoding)


def news_items(prefix: str, n: int, *, start: int = 1) -> list[dict]:
    """`n` distinct, realistic items (distinct text, so the merger keeps them apart)."""
    towns = ["湖塘镇", "牛塘镇", "洛阳镇", "遥观镇", "横林镇", "雪堰镇", "礼嘉镇", "嘉泽镇"]
    acts = ["召开安全生产工作会议", "开展消防隐患排查", "推进老旧小区改造", "举办招聘会",
            "开展反诈宣传进社区", "部署防汛工作", "推进垃圾分类", "开展食品安全检查"]
    out = []
    for i in range(start, start + n):
        town = towns[i % len(towns)]
        act = acts[(i // len(towns)) % len(acts)]
        out.append({
            "guid": f"{prefix}-{i}",
            "title": f"{town}{act}（{prefix}第{i}期）",
            "link": f"http://news.example.cn/{prefix}/{i}.html",
            "date": email.utils.formatdate(1_780_000_000 + i * 3600, usegmt=True),
            "html": f"<p>{i}日，武进区{town}{act}，编号{prefix}{i * 7919 % 100000}。</p>"
                    f"<p>会议要求各村（社区）压实责任，第{i}项工作按期完成，"
                    f"涉及居民{i * 13 % 997 + 3}户。</p>",
        })
    return out


def bad_documents() -> dict[str, tuple[bytes, str, str]]:
    """name -> (body, content type, what it is)."""
    good = rss("好的", news_items("ok", 3))
    cut = good[: good.index(b"</item>", good.index(b"</item>") + 1) + 40]
    malformed = rss("坏的", news_items("mal", 3)).replace(
        b"</title><link>http://news.example.cn/mal/2", b"</titel><link>http://news.example.cn/mal/2")
    html = ("<!doctype html><html><head><title>首页 - 某某区人民政府</title></head>"
            "<body><p>欢迎访问</p></body></html>").encode()
    gbk = rss("南通日报", [{"guid": "gbk-1", "title": "南通市召开疫情防控工作会议",
                           "link": "http://news.example.cn/gbk/1", "html":
                           "<p>南通市召开疫情防控工作会议，部署冬春季疫情防控工作。</p>"}],
              encoding="gbk", declared="utf-8")
    noguid = rss("无guid", [
        {"title": "没有guid的第一条", "link": "http://news.example.cn/ng/1.html",
         "html": "<p>第一条正文，关于湖塘镇。</p>"},
        {"title": "没有guid的第二条", "link": "http://news.example.cn/ng/2.html",
         "html": "<p>第二条正文，关于牛塘镇。</p>"},
        {"guid": "dup", "title": "重复guid甲", "link": "http://news.example.cn/ng/3.html",
         "html": "<p>重复一，洛阳镇。</p>"},
        {"guid": "dup", "title": "重复guid乙", "link": "http://news.example.cn/ng/4.html",
         "html": "<p>重复二，遥观镇。</p>"},
        {"title": "既无guid也无链接", "link": None, "html": "<p>只有标题和正文，横林镇。</p>"},
    ])
    dates = rss("日期", [
        {"guid": "d-missing", "title": "没有日期", "link": "http://news.example.cn/d/1"},
        {"guid": "d-odd", "title": "奇怪的日期", "link": "http://news.example.cn/d/2",
         "date": "2024年13月45日 25:61"},
        {"guid": "d-future", "title": "未来的日期", "link": "http://news.example.cn/d/3",
         "date": "Fri, 01 Jan 2100 08:00:00 +0800"},
        {"guid": "d-epoch", "title": "纪元零点", "link": "http://news.example.cn/d/4",
         "date": "Thu, 01 Jan 1970 00:00:00 +0000"},
    ])
    relative = rss("相对链接", [
        {"guid": "r-1", "title": "相对链接的文章", "link": "/news/2024/1.html",
         "html": '<p>见<a href="detail/2.html">详情</a><img src="../img/a.png"></p>'},
    ]).replace(b"<link>http://news.example.cn/</link>", b"<link>/</link>")
    control = rss("控制\x01字符", [
        {"guid": "c-1", "title": "标题里有\x0b控制\x1f字符\x7f", "link": "http://news.example.cn/c/1",
         "html": "<p>正文\x00里有\x08控制\x1b字符，湖塘镇。</p>"},
        {"guid": "c-2", "title": "字符引用&#x1;也不行", "link": "http://news.example.cn/c/2",
         "html": "<p>正文&#11;第二条&#xFFFE;，牛塘镇。</p>"},
    ])
    hostile = rss("恶意", [
        {"guid": "x-1", "title": "<script>alert(1)</script>标题", "link": "javascript:alert(1)",
         "html": '<p onclick="steal()">点击<a href="javascript:x()">这里</a></p>'
                 '<script>alert(document.cookie)</script>'
                 '<img src="data:image/svg+xml;base64,PHN2Zz4=" onerror="x()">'
                 '<iframe src="http://evil.example/"></iframe>'
                 '<a href="data:text/html,<script>alert(1)</script>">数据</a>'
                 '<p style="background:url(javascript:x)">湖塘镇消防安全检查。</p>'},
    ])
    return {
        "truncated": (cut, "application/rss+xml", "a feed cut off mid-entry"),
        "malformed": (malformed, "application/rss+xml", "a mismatched closing tag"),
        "html": (html, "text/html; charset=utf-8", "an HTML page instead of a feed"),
        "gbk": (gbk, "application/rss+xml; charset=utf-8", "GBK bytes declared UTF-8"),
        "noguid": (noguid, "application/rss+xml", "entries without or with duplicate guids"),
        "dates": (dates, "application/rss+xml", "missing, odd, future and epoch dates"),
        "relative": (relative, "application/rss+xml", "relative links"),
        "control": (control, "application/rss+xml", "XML-illegal control characters"),
        "hostile": (hostile, "application/rss+xml", "script, handlers, javascript:, data:"),
    }
