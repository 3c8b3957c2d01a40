"""A running site for the publishing tests: real SQLite, the real pipeline, a real server.

Articles go through `pipeline.apply_entries` (store, tag, index, merge), exactly as a poll
stores them; each generated text is drawn from a large character pool, so distinct articles
never merge unless a test copies one on purpose.
"""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from aggregator.daemon import start_server
from aggregator.model import Entry, SourceDef
from aggregator.pipeline import apply_entries
from aggregator.settings import load_config
from aggregator.store import sync_sources, utcnow
from aggregator.web import HUB, init_app
from aggregator.websub import HubOptions
from aggregator.writer import Writer

POOL = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过"
    "子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体"
    "制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内"
    "数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提"
    "直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计"
    "别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海"
)
WUJIN = SourceDef(id="wujin", name="武进日报", url="http://wj.example.cn/feed", region="320412")
CHANGZHOU = SourceDef(id="changzhou", name="常州日报", url="http://cz.example.cn/feed",
                      region="320400")
T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
#: A sentence that makes the tagger give the topic (random text alone gives none).
TOPIC_TEXT = {
    "安全生产": "会议要求压实安全生产责任，开展隐患排查整治，严防各类事故发生。",
    "信访": "会议部署信访积案化解工作，畅通群众信访渠道，维护社会和谐稳定。",
    "反诈": "公安机关开展反诈宣传，提醒居民警惕电信网络诈骗，守好钱袋子。",
}


def text(seed: int, length: int = 160) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(POOL) for _ in range(length))


def entry(i: int, *, place: str = "武进区", topic: str = "安全生产", extra: str = "",
          published: datetime | None = None, key: str | None = None) -> Entry:
    """A distinct article about `place` and `topic`, published an hour after the previous."""
    body = f"{place}{topic}工作第{i}次推进会召开。{TOPIC_TEXT.get(topic, '')}{text(i)}。{extra}"
    when = published or T0 + timedelta(hours=i)
    return Entry(key=key or f"a{i}", title=f"{place}动态（{i}）{text(i + 10_000, 8)}",
                 url=f"http://news.example.cn/{i}.html", published=when,
                 content_html=f"<p>{body}</p>", text=body, summary="")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Site:
    base: str  # "http://127.0.0.1:PORT" (no trailing slash)
    writer: Writer
    app: web.Application
    runner: web.AppRunner
    config: object
    tagger: object
    sources: dict = field(default_factory=dict)

    async def add(self, source: SourceDef, entries: list[Entry]) -> list[int]:
        tagger = self.tagger

        def store(db):
            return apply_entries(db, tagger, source.id, entries, home=source.region,
                                 topics=source.topics, now=utcnow())[2]

        return await self.writer.write(store)

    async def get(self, path: str, **kw) -> tuple[int, dict, bytes]:
        url = path if path.startswith("http") else self.base + path
        async with aiohttp.ClientSession() as s, s.get(url, allow_redirects=False, **kw) as r:
            return r.status, r.headers.copy(), await r.read()

    @property
    def hub(self):
        return self.app[HUB]

    async def close(self) -> None:
        await self.runner.cleanup()
        self.writer.close()


async def make_site(tmp_path, *, feed_size: int = 5, hub: HubOptions | None = None,
                    sources=(WUJIN, CHANGZHOU), share_writer: bool = True) -> Site:
    """A site on a known loopback port (feed URLs must be its real address, for WebSub).

    With `share_writer=False` the server opens its own writer, as `aggregator serve` does."""
    port = free_port()
    config = load_config(None, {"db": str(tmp_path / "site.db"), "port": port,
                                "feed_size": feed_size}, env={})
    writer = Writer(config.db)
    await writer.write(sync_sources, list(sources))
    from aggregator.tag import build_tagger

    tagger = await writer.call(lambda db: build_tagger(db, None))
    options = hub or HubOptions(allow_private=True, watch_interval=0)
    app = init_app(config, tagger=tagger, writer=writer if share_writer else None,
                   hub_options=options)
    runner = await start_server(app, "127.0.0.1", port)
    return Site(f"http://127.0.0.1:{port}", writer, app, runner, config, tagger,
                {s.id: s for s in sources})


def with_outlet(e: Entry, key: str, url: str) -> Entry:
    """The same article as carried by another outlet (a repost)."""
    return replace(e, key=key, url=url)


def _news(key: str, title: str, when: str, paragraphs: list[str], url: str) -> Entry:
    body = "\n\n".join(paragraphs)
    return Entry(key=key, title=title, url=url, published=datetime.fromisoformat(when),
                 content_html="".join(f"<p>{p}</p>" for p in paragraphs), text=body)


MEETING = [
    "11月19日，武进区召开安全生产工作会议，部署冬季安全生产和消防安全工作。区委常委、常务副区长"
    "出席会议并讲话。",
    "会议指出，今年以来，全区安全生产形势总体平稳，但企业主体责任落实不到位、隐患排查整治不彻底"
    "等问题依然存在。",
    "会议要求，湖塘镇、牛塘镇等各镇街要压紧压实责任，深入开展隐患排查整治，严防各类事故发生，"
    "确保全区安全生产形势持续稳定。",
]
#: Realistic local news: a story carried by two outlets, and a few others.
LOCAL_NEWS = {
    "wujin": [
        _news("wj-1", "武进区召开安全生产工作会议", "2026-11-20T08:00:00+08:00", MEETING,
              "http://news.example.cn/wj/1.html"),
        _news("wj-2", "全民反诈宣传进社区", "2026-11-18T10:00:00+08:00", [
            "近日，武进公安分局在湖塘镇多个社区开展反诈宣传活动，民警通过案例讲解、发放宣传册等"
            "方式，提醒居民警惕电信网络诈骗。",
            "民警提醒，凡是自称客服要求转账的、凡是网上刷单返利的，都是诈骗。"],
            "http://news.example.cn/wj/2.html"),
        _news("wj-3", "牛塘镇推进老旧小区改造", "2026-11-20T02:00:00+08:00", [
            "武进区牛塘镇加快推进老旧小区改造，惠及居民两千余户。改造内容包括雨污分流、外墙保温、"
            "加装电梯和停车位改造等。", "居民表示，小区环境变好了，生活更方便了。"],
            "http://news.example.cn/wj/3.html"),
    ],
    "changzhou": [
        _news("cz-1", "武进部署冬季安全生产工作", "2026-11-20T10:30:00+08:00", MEETING,
              "http://news.example.cn/cz/1.html"),
        _news("cz-2", "常州市推进信访积案化解", "2026-11-19T09:30:00+08:00", [
            "常州市召开信访工作联席会议，推进信访积案化解，维护社会和谐稳定。",
            "会议要求，各辖市区要畅通群众信访渠道，把矛盾纠纷化解在基层。"],
            "http://news.example.cn/cz/2.html"),
    ],
}
