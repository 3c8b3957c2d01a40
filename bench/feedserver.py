"""A loopback feed server for the load benchmarks, run as a process of its own.

It serves `--feeds` small RSS documents spread over `--hosts` loopback addresses
(127.0.1.1, 127.0.1.2, …, all on one port), so the poller's per-host limits meet many hosts
as they would on the internet. Each feed has a version; its document, ETag and
Last-Modified are a function of that version, and a request whose If-None-Match or
If-Modified-Since matches gets 304, like a well-behaved news site. Two ways to change feeds:

* `--mode bump` (the poll-cycle benchmark): versions change only when a client asks
  `GET /_bump?fraction=0.05`, which moves a deterministic random share of the feeds on by
  one version (one new item each). Between bumps every conditional request is answered 304.
* `--mode grow` (the soak): every unconditional or stale request moves its feed on by one
  version, so every poll finds a new item.

Items are synthetic Chinese local news (places and topics the taggers know); about a third
of them are reposts shared by a group of four feeds, so the merger has real work.

    python bench/feedserver.py --feeds 10000 --hosts 100 --mode bump
    # prints one JSON line {"port": P, "hosts": [...]} when listening; stops on SIGTERM/SIGINT
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import json
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

PLACES = ("武进区", "湖塘镇", "牛塘镇", "常州市", "新北区", "南通市", "崇川区", "商丘市",
          "睢阳区", "梁园区", "溧阳市", "金坛区", "天宁区", "钟楼区", "海门区", "如皋市")
TOPICS = ("安全生产工作会议", "冬季消防检查", "老旧小区改造", "反诈宣传活动", "家庭医生签约服务",
          "信访积案化解", "重点项目集中开工", "农村人居环境整治", "防汛抗旱演练", "食品安全抽检",
          "义务教育招生", "医保政策宣讲", "文明城市创建", "河长制巡河", "企业减负政策")
ORGS = ("区委", "区政府", "市应急管理局", "镇党委", "街道办事处", "市场监管局", "区卫健委", "教育局",
        "住建局", "公安分局", "消防救援大队", "人社局", "生态环境局", "交通运输局", "民政局", "团区委")
ACTS = ("召开专题会议研究", "部署推进", "督查检查", "集中宣传", "调研指导", "验收评估", "启动实施",
        "总结表彰", "培训动员", "专项整治")
OBJECTS = ("辖区重点企业", "沿街商铺", "老旧小区", "中小学校", "农贸市场", "建筑工地", "养老机构",
           "危化品仓库", "城乡结合部", "重点水域", "交通干线", "村级服务中心")
DETAILS = ("共排查隐患{n}处，已整改{m}处", "覆盖群众{n}余人次", "投入资金{n}万元", "涉及{n}个村社区",
           "参与人员{n}名", "发放资料{n}份", "建成站点{m}个", "办结事项{n}件", "完成率达{m}%")
BASE_TIME = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
ITEMS_PER_FEED = 2
PEOPLE = ("张", "王", "李", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙", "朱", "马", "胡", "郭", "林")


def _sentence(rng: random.Random) -> str:
    detail = rng.choice(DETAILS).format(n=rng.randint(10, 9999), m=rng.randint(1, 99))
    return (f"{rng.choice(PLACES)}{rng.choice(ORGS)}{rng.choice(ACTS)}{rng.choice(OBJECTS)}"
            f"相关工作，{detail}，{rng.choice(PEOPLE)}{rng.choice(PEOPLE)}同志"
            f"{rng.choice(('出席', '讲话', '带队', '参加'))}。")


def item_text(feed: int, version: int) -> tuple[str, str]:
    """(title, body) of one item; a third are reposts shared by feeds 4k..4k+3.

    Sentences are drawn from enough parts and numbers that two items rarely share one,
    as in real news, so the merger's candidates are the reposts and not everything."""
    shared = version % 3 == 0
    seed = (feed // 4, version, "shared") if shared else (feed, version)
    rng = random.Random(str(seed))
    place, topic = rng.choice(PLACES), rng.choice(TOPICS)
    title = f"{place}{rng.choice(ORGS)}{topic}（{seed[0]}-{version}）"
    paras = [f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日，{place}开展{topic}。" + _sentence(rng)]
    paras += ["".join(_sentence(rng) for _ in range(rng.randint(1, 3)))
              for _ in range(rng.randint(2, 5))]
    return title, "".join(f"<p>{p}</p>" for p in paras)


def rss(feed: int, version: int) -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
             f"<title>负载测试源 {feed}</title><link>http://bench.example.cn/{feed}/</link>"
             "<description>bench</description>"]
    for v in range(version, max(0, version - ITEMS_PER_FEED), -1):
        title, html = item_text(feed, v)
        date = email.utils.format_datetime(BASE_TIME + timedelta(minutes=v), usegmt=True)
        parts.append(f"<item><title>{title}</title><link>http://bench.example.cn/{feed}/{v}"
                     f".html</link><guid isPermaLink=\"false\">f{feed}-{v}</guid>"
                     f"<pubDate>{date}</pubDate><description><![CDATA[{html}]]></description>"
                     "</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


class Feeds:
    """Versions and cached documents of every feed; all state lives in this one process."""

    def __init__(self, n: int, mode: str, seed: int = 1):
        self.n = n
        self.mode = mode
        self.version = [1] * n
        self.bumps = 0
        self.requests = 0
        self.not_modified = 0
        self._docs: dict[int, tuple[int, bytes, str, str]] = {}
        self._seed = seed

    def doc(self, i: int) -> tuple[bytes, str, str]:
        v = self.version[i]
        cached = self._docs.get(i)
        if cached is None or cached[0] != v:
            modified = email.utils.format_datetime(BASE_TIME + timedelta(seconds=v), usegmt=True)
            cached = (v, rss(i, v), f'"f{i}-v{v}"', modified)
            self._docs[i] = cached
        return cached[1], cached[2], cached[3]

    def bump(self, fraction: float) -> int:
        self.bumps += 1
        rng = random.Random(self._seed * 1_000_003 + self.bumps)
        chosen = rng.sample(range(self.n), max(1, round(self.n * fraction)))
        for i in chosen:
            self.version[i] += 1
        return len(chosen)


def make_app(feeds: Feeds) -> web.Application:
    async def feed(request: web.Request) -> web.Response:
        try:
            i = int(request.match_info["i"])
        except ValueError:
            raise web.HTTPNotFound() from None
        if not 0 <= i < feeds.n:
            raise web.HTTPNotFound()
        feeds.requests += 1
        inm = request.headers.get("If-None-Match")
        ims = request.headers.get("If-Modified-Since")
        if feeds.mode == "grow" and (inm is not None or ims is not None):
            # a poller that already has a version gets the next one: a new item every poll
            feeds.version[i] += 1
        body, etag, modified = feeds.doc(i)
        fresh = inm == etag if inm is not None else ims == modified
        if fresh:
            feeds.not_modified += 1
            return web.Response(status=304, headers={"ETag": etag, "Last-Modified": modified})
        return web.Response(body=body, headers={
            "ETag": etag, "Last-Modified": modified,
            "Content-Type": "application/rss+xml; charset=utf-8"})

    async def bump(request: web.Request) -> web.Response:
        changed = feeds.bump(float(request.query.get("fraction", "0.05")))
        return web.json_response({"changed": changed, "bumps": feeds.bumps})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"requests": feeds.requests, "not_modified": feeds.not_modified,
                                  "bumps": feeds.bumps, "versions": sum(feeds.version)})

    app = web.Application()
    app.router.add_get("/feed/{i}.xml", feed)
    app.router.add_get("/_bump", bump)
    app.router.add_get("/_stats", stats)
    return app


def host_of(i: int, hosts: int) -> str:
    """Feed i lives on 127.0.1.(1 + i % hosts): neighbouring ids are on different hosts."""
    return f"127.0.1.{1 + i % hosts}"


def feed_url(i: int, hosts: int, port: int) -> str:
    return f"http://{host_of(i, hosts)}:{port}/feed/{i}.xml"


async def serve(n: int, hosts: int, mode: str, port: int) -> None:
    feeds = Feeds(n, mode)
    runner = web.AppRunner(make_app(feeds), access_log=None, handle_signals=False)
    await runner.setup()
    addresses = [host_of(h, hosts) for h in range(hosts)]
    first = web.TCPSite(runner, addresses[0], port, backlog=1024)
    await first.start()
    port = first._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    for addr in addresses[1:]:
        await web.TCPSite(runner, addr, port, backlog=1024).start()
    print(json.dumps({"port": port, "hosts": addresses}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print(json.dumps({"requests": feeds.requests, "not_modified": feeds.not_modified}),
          file=sys.stderr, flush=True)
    await runner.cleanup()


@contextlib.contextmanager
def running(feeds: int, hosts: int, mode: str) -> Iterator[tuple[subprocess.Popen, int]]:
    """Start this server as a child process; yields (process, port) and stops it after."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--feeds", str(feeds), "--hosts",
         str(hosts), "--mode", mode], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("feed server did not start")
        yield proc, json.loads(line)["port"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=10_000)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--mode", choices=("bump", "grow"), default="bump")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    if not 1 <= args.hosts <= 254:
        ap.error("--hosts must be 1..254")
    asyncio.run(serve(args.feeds, args.hosts, args.mode, args.port))


if __name__ == "__main__":
    main()
