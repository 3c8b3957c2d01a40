"""Shared test fixtures: a real loopback feed server, configs and databases in tmp_path.

The loopback server serves real feed documents (RSS, Atom, JSON Feed, a GB2312 RSS, a feed
whose entries change), honours conditional GET, and records every request it receives so
tests can check what the poller sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the test when the material is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared is only beside the repository in development)")
    return path


def rss(title: str, items: list[dict], *, encoding: str = "utf-8", ttl: int | None = None) -> bytes:
    parts = [f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
             f"<title>{title}</title><link>http://news.example.cn/</link>"
             f"<description>{title}</description>"]
    if ttl:
        parts.append(f"<ttl>{ttl}</ttl>")
    for it in items:
        guid = f"<guid isPermaLink=\"false\">{it['guid']}</guid>" if it.get("guid") else ""
        parts.append(
            f"<item><title>{it['title']}</title><link>{it['link']}</link>{guid}"
            f"<pubDate>{it['date']}</pubDate>"
            f"<description><![CDATA[{it['html']}]]></description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode(encoding)


def atom(title: str, entries: list[dict]) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
             f"<title>{title}</title><id>urn:test:{title}</id>"
             "<updated>2026-11-20T08:00:00Z</updated><link href=\"http://atom.example.cn/\"/>"]
    for e in entries:
        parts.append(
            f"<entry><id>{e['id']}</id><title>{e['title']}</title>"
            f"<link href=\"{e['link']}\"/><updated>{e['date']}</updated>"
            f"<author><name>{e.get('author', '记者')}</name></author>"
            f"<content type=\"html\"><![CDATA[{e['html']}]]></content></entry>"
        )
    parts.append("</feed>")
    return "".join(parts).encode("utf-8")


def json_feed(title: str, items: list[dict]) -> bytes:
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": "http://json.example.cn/",
        "items": [{"id": i["id"], "url": i["link"], "title": i["title"],
                   "content_html": i["html"], "date_published": i["date"]} for i in items],
    }, ensure_ascii=False).encode("utf-8")


CHANGZHOU_ITEMS = [
    {"guid": "cz-1", "title": "武进区召开安全生产工作会议", "link": "http://news.example.cn/cz/1.html",
     "date": "Fri, 20 Nov 2026 08:00:00 +0800",
     "html": "<p>11月19日，武进区召开安全生产工作会议，部署冬季安全生产和消防安全工作。</p>"
             "<p>会议要求湖塘镇等各镇街压紧压实责任，开展隐患排查整治。</p>"},
    {"guid": "cz-2", "title": "常州市推进信访积案化解", "link": "http://news.example.cn/cz/2.html",
     "date": "Thu, 19 Nov 2026 09:30:00 +0800",
     "html": "<p>常州市召开信访工作联席会议，推进信访积案化解，维护社会和谐稳定。</p>"},
    {"guid": "cz-3", "title": "全民反诈宣传进社区", "link": "http://news.example.cn/cz/3.html",
     "date": "Wed, 18 Nov 2026 10:00:00 +0800",
     "html": "<p>公安机关在社区开展反诈宣传，提醒居民警惕电信网络诈骗。</p>"
             "<script>alert(1)</script><p onclick=\"steal()\">点击<a href=\"javascript:x()\">这里</a></p>"},
]

ATOM_ENTRIES = [
    {"id": "urn:wj:1", "title": "牛塘镇推进老旧小区改造", "link": "http://atom.example.cn/wj/1",
     "date": "2026-11-20T02:00:00Z",
     "html": "<p>武进区牛塘镇加快推进老旧小区改造，惠及居民两千余户。</p>"},
    {"id": "urn:wj:2", "title": "武进区开展租赁住房安全检查", "link": "http://atom.example.cn/wj/2",
     "date": "2026-11-19T03:00:00Z",
     "html": "<p>武进区开展租赁住房安全管理专项整治行动，排查消防隐患。</p>"},
]

JSON_ITEMS = [
    {"id": "cc-1", "title": "崇川区家庭医生签约服务提质扩面", "link": "http://json.example.cn/cc/1",
     "date": "2026-11-20T01:00:00+00:00",
     "html": "<p>南通市崇川区推进家庭医生签约服务，社区卫生服务中心提供二十四小时咨询。</p>"},
]

GB_ITEMS = [
    {"guid": "nt-1", "title": "南通市召开疫情防控工作会议", "link": "http://news.example.cn/nt/1",
     "date": "Fri, 20 Nov 2026 07:00:00 +0800",
     "html": "<p>南通市召开疫情防控工作会议，部署冬春季疫情防控工作。</p>"},
]


@dataclass
class FeedServer:
    """A loopback server: documents by path, conditional GET, a log of requests."""

    docs: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)
    delays: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    url: str = ""
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def set(self, path: str, body: bytes, content_type: str = "application/rss+xml") -> None:
        self.docs[path] = (body, content_type)

    def hits(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append({"path": path, "headers": dict(request.headers)})
        if path in self.delays:
            # a slow answer, cut short when the test ends
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), self.delays[path])
        if path in self.statuses:
            return web.Response(status=self.statuses[path], text="error")
        if path not in self.docs:
            return web.Response(status=404, text="not found")
        body, ctype = self.docs[path]
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        modified = email.utils.formatdate(1_700_000_000 + len(body), usegmt=True)
        headers = {"ETag": etag, "Last-Modified": modified}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers={**headers, "Content-Type": ctype})


@pytest.fixture
async def feed_server():
    server = FeedServer()
    server.set("/cz.xml", rss("常州日报", CHANGZHOU_ITEMS))
    server.set("/wj.atom", atom("武进日报", ATOM_ENTRIES), "application/atom+xml")
    server.set("/cc.json", json_feed("崇川发布", JSON_ITEMS), "application/feed+json")
    server.set("/nt.xml", rss("南通日报", GB_ITEMS, encoding="gb2312"),
               "application/rss+xml; charset=gb2312")
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    server.url = f"http://127.0.0.1:{port}"
    yield server
    server.release.set()
    await runner.cleanup()


def write_sources(path: Path, sources: list[dict]) -> Path:
    """A feeds TOML file with these [[source]] tables."""
    lines = []
    for s in sources:
        lines.append("[[source]]")
        for key, value in s.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, int):
                lines.append(f"{key} = {value}")
            elif isinstance(value, list):
                lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
            else:
                lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def standard_sources(url: str) -> list[dict]:
    return [
        {"id": "changzhou", "name": "常州日报", "url": f"{url}/cz.xml", "region": "320400",
         "interval": "10m"},
        {"id": "wujin", "name": "武进日报", "url": f"{url}/wj.atom", "region": "320412",
         "interval": "10m"},
        {"id": "chongchuan", "name": "崇川发布", "url": f"{url}/cc.json", "region": "320613",
         "interval": "10m"},
        {"id": "nantong", "name": "南通日报", "url": f"{url}/nt.xml", "region": "320600",
         "interval": "10m"},
    ]
