"""WebSub: the built-in hub verifies intent, stores subscriptions, and pushes a feed to a real
subscriber on loopback when (and only when) the feed's bytes change, signed with the secret;
callbacks on private addresses are refused unless allowed; deliveries retry, then give up."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import quote

import aiohttp
import feedparser
import pytest
from aiohttp import web

from aggregator.model import SourceDef
from aggregator.websub import HubError, HubOptions, check_callback, is_public_ip, sign

from .publish_kit import WUJIN, entry, make_site

TIANNING = SourceDef(id="tianning", name="天宁发布", url="http://tn.example.cn/feed",
                     region="320402")
FAST = HubOptions(allow_private=True, watch_interval=0, backoff=0.05, attempts=3, timeout=5,
                  debounce=0.05)


@dataclass
class Subscriber:
    """A subscriber's callback server: answers verification and records deliveries."""

    url: str = ""
    verifications: dict = field(default_factory=lambda: defaultdict(list))
    deliveries: dict = field(default_factory=lambda: defaultdict(list))
    echo: dict = field(default_factory=dict)  # name -> "ok" | "wrong"
    statuses: dict = field(default_factory=lambda: defaultdict(list))  # name -> statuses to give

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if request.method == "GET":
            self.verifications[name].append(dict(request.query))
            if self.echo.get(name, "ok") == "wrong":
                return web.Response(text="not the challenge")
            return web.Response(text=request.query.get("hub.challenge", ""))
        body = await request.read()
        self.deliveries[name].append((dict(request.headers), body))
        status = self.statuses[name].pop(0) if self.statuses[name] else 200
        return web.Response(status=status)


@pytest.fixture
async def subscriber():
    sub = Subscriber()
    app = web.Application()
    app.router.add_route("*", "/cb/{name}", sub.handle)
    app.router.add_route("*", "/{name}", sub.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sub.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    yield sub
    await runner.cleanup()


@pytest.fixture
async def site(tmp_path):
    site = await make_site(tmp_path, hub=FAST, sources=(WUJIN, TIANNING))
    await site.add(WUJIN, [entry(i) for i in range(3)])
    yield site
    await site.close()


async def post(url: str, data: dict) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.post(url, data=data) as r:
        return r.status, await r.text()


async def until(check, timeout: float = 10.0) -> None:
    """Wait for a condition, bounded in time (the loop polls every 20 ms)."""
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


def subscriptions(site) -> list[dict]:
    conn = sqlite3.connect(site.config.db)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM websub_subscriptions ORDER BY id")]
    conn.close()
    return rows


async def subscribe(site, sub, name: str, topic: str, **extra) -> None:
    status, text = await post(f"{site.base}/websub", {
        "hub.mode": "subscribe", "hub.topic": topic, "hub.callback": f"{sub.url}/cb/{name}",
        **extra})
    assert status == 202, text
    await until(lambda: sub.verifications[name])
    await site.hub.drain()


async def test_subscribe_verify_then_signed_delivery_on_change(site, subscriber):
    topic = f"{site.base}/feeds/region/320412.atom"
    await subscribe(site, subscriber, "a", topic, **{"hub.secret": "s3cret",
                                                      "hub.lease_seconds": "7200"})
    asked = subscriber.verifications["a"][0]
    assert asked["hub.mode"] == "subscribe" and asked["hub.topic"] == topic
    assert asked["hub.lease_seconds"] == "7200" and len(asked["hub.challenge"]) >= 20
    [row] = subscriptions(site)
    assert row["topic"] == topic and row["secret"] == "s3cret" and row["lease_seconds"] == 7200

    await site.add(WUJIN, [entry(10, topic="信访")])
    assert await site.hub.publish() == 1
    await site.hub.drain()
    [(headers, body)] = subscriber.deliveries["a"]
    assert headers["Content-Type"].startswith("application/atom+xml")
    assert f'<{site.base}/websub>; rel="hub"' in headers["Link"]
    assert f'<{topic}>; rel="self"' in headers["Link"]
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature"] == f"sha256={expected}"
    parsed = feedparser.parse(body)
    assert len(parsed.entries) == 4 and any("（10）" in e.title for e in parsed.entries)
    # the pushed bytes are the feed as served
    assert body == (await site.get("/feeds/region/320412.atom"))[2]

    # nothing changed: nothing sent; a change elsewhere: nothing sent either
    assert await site.hub.publish() == 0
    await site.add(TIANNING, [entry(20, place="天宁区")])
    assert await site.hub.publish() == 0
    await site.hub.drain()
    assert len(subscriber.deliveries["a"]) == 1


async def test_unsubscribe_is_verified_and_stops_deliveries(site, subscriber):
    topic = f"{site.base}/feeds/all.json"
    await subscribe(site, subscriber, "u", topic)
    assert len(subscriptions(site)) == 1
    status, _ = await post(f"{site.base}/websub", {
        "hub.mode": "unsubscribe", "hub.topic": topic, "hub.callback": f"{subscriber.url}/cb/u"})
    assert status == 202
    await until(lambda: len(subscriber.verifications["u"]) == 2)
    await site.hub.drain()
    assert subscriber.verifications["u"][1]["hub.mode"] == "unsubscribe"
    assert subscriptions(site) == []
    await site.add(WUJIN, [entry(11)])
    assert await site.hub.publish() == 0


async def test_failed_verification_stores_nothing(site, subscriber):
    subscriber.echo["w"] = "wrong"
    await subscribe(site, subscriber, "w", f"{site.base}/feeds/all.atom")
    assert subscriptions(site) == []


async def test_invalid_requests_get_400(site, subscriber):
    cb = f"{subscriber.url}/cb/x"
    topic = f"{site.base}/feeds/all.atom"
    bad = [
        {"hub.mode": "follow", "hub.topic": topic, "hub.callback": cb},
        {"hub.mode": "subscribe", "hub.callback": cb},
        {"hub.mode": "subscribe", "hub.topic": "http://elsewhere.example/feed", "hub.callback": cb},
        {"hub.mode": "subscribe", "hub.topic": f"{site.base}/feeds/region/999999.atom",
         "hub.callback": cb},
        {"hub.mode": "subscribe", "hub.topic": f"{site.base}/feeds/source/nope.atom",
         "hub.callback": cb},
        {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": "ftp://127.0.0.1/x"},
        {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": cb, "hub.secret": "x" * 200},
        {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": cb,
         "hub.lease_seconds": "soon"},
        {"hub.mode": "publish"},
    ]
    for form in bad:
        status, text = await post(f"{site.base}/websub", form)
        assert status == 400, (form, text)
        assert "Traceback" not in text
    await site.hub.drain()
    assert not subscriber.verifications and subscriptions(site) == []
    status, _, body = await site.get("/websub")
    assert status == 200 and "hub.challenge" in body.decode()


async def test_private_callbacks_refused_unless_allowed(tmp_path, subscriber):
    site = await make_site(tmp_path, hub=HubOptions(watch_interval=0))  # allow_private off
    try:
        topic = f"{site.base}/feeds/all.atom"
        for cb in (f"{subscriber.url}/cb/p", "http://localhost/cb", "http://10.1.2.3/cb",
                   "http://[::1]/cb", "http://169.254.169.254/latest", "http://0.0.0.0/"):
            status, text = await post(f"{site.base}/websub", {
                "hub.mode": "subscribe", "hub.topic": topic, "hub.callback": cb})
            assert status == 400 and "public" in text, (cb, text)
        await site.hub.drain()
        assert not subscriber.verifications
    finally:
        await site.close()


def test_callback_checks():
    assert not is_public_ip("127.0.0.1") and not is_public_ip("::ffff:10.0.0.1")
    assert is_public_ip("1.1.1.1") and not is_public_ip("not an ip")
    assert check_callback("https://example.org/cb?x=1", allow_private=False)
    assert check_callback("http://127.0.0.1:9/cb", allow_private=True)
    for url in ("", "javascript:alert(1)", "http://", "http://127.0.0.1/", "http://h:0/"):
        with pytest.raises(HubError):
            check_callback(url, allow_private=False)
    assert sign("k", b"body") == "sha256=" + hmac.new(b"k", b"body", hashlib.sha256).hexdigest()


async def test_deliveries_retry_with_backoff_then_give_up(site, subscriber):
    topic = f"{site.base}/feeds/region/320412.rss"
    await subscribe(site, subscriber, "flaky", topic)
    await subscribe(site, subscriber, "down", topic)
    await subscribe(site, subscriber, "gone", topic)
    subscriber.statuses["flaky"] = [500, 503]  # then 200
    subscriber.statuses["down"] = [500] * 10
    subscriber.statuses["gone"] = [410]
    await site.add(WUJIN, [entry(12)])
    assert await site.hub.publish() == 3
    await site.hub.drain()
    assert len(subscriber.deliveries["flaky"]) == 3  # two failures, then delivered
    assert len(subscriber.deliveries["down"]) == FAST.attempts  # bounded
    assert len(subscriber.deliveries["gone"]) == 1
    rows = {r["callback"].rsplit("/", 1)[1]: r for r in subscriptions(site)}
    assert set(rows) == {"flaky", "down"}  # 410 Gone ended that subscription
    assert rows["flaky"]["failures"] == 0 and rows["flaky"]["last_status"] == 200
    assert rows["down"]["failures"] == 1 and rows["down"]["last_status"] == 500


async def test_saved_search_topic_pushed_only_for_matching_news(site, subscriber):
    topic = f"{site.base}/feeds/search.json?q={quote('反诈')}"
    await subscribe(site, subscriber, "s", topic)
    await site.add(WUJIN, [entry(30, topic="信访")])
    assert await site.hub.publish() == 0
    await site.add(WUJIN, [entry(31, topic="反诈")])
    assert await site.hub.publish() == 1
    await site.hub.drain()
    [(headers, body)] = subscriber.deliveries["s"]
    assert headers["Content-Type"].startswith("application/feed+json")
    doc = json.loads(body)
    assert [i["title"] for i in doc["items"]] == [entry(31).title]
    assert doc["hubs"] == [{"type": "WebSub", "url": f"{site.base}/websub"}]


async def test_commits_are_noticed_without_being_told(tmp_path, subscriber):
    """The server watches data_version: polls by any process reach subscribers."""
    opts = HubOptions(allow_private=True, watch_interval=0.05, debounce=0.05, backoff=0.05)
    site = await make_site(tmp_path, hub=opts)
    try:
        await subscribe(site, subscriber, "w", f"{site.base}/feeds/all.atom")
        await site.add(WUJIN, [entry(40)])
        await until(lambda: subscriber.deliveries["w"])
    finally:
        await site.close()


async def test_feeds_advertise_the_hub(site):
    status, headers, body = await site.get("/feeds/region/320412.atom")
    assert headers["Link"] == (f'<{site.base}/websub>; rel="hub", '
                               f'<{site.base}/feeds/region/320412.atom>; rel="self"')
    parsed = feedparser.parse(body)
    assert [link.href for link in parsed.feed.links if link.rel == "hub"] == [
        f"{site.base}/websub"]
    status, headers, body = await site.get("/feeds/region/320412.rss")
    assert f"{site.base}/websub" in [link.href for link in feedparser.parse(body).feed.links
                                     if link.rel == "hub"]


async def test_external_hub_is_advertised_and_pinged(tmp_path, subscriber):
    hub_url = f"{subscriber.url}/hub"
    site = await make_site(tmp_path, hub=HubOptions(hub_url=hub_url, watch_interval=0,
                                                    backoff=0.05))
    try:
        _, headers, _ = await site.get("/feeds/all.atom")
        assert f'<{hub_url}>; rel="hub"' in headers["Link"]
        status, _ = await post(f"{site.base}/websub", {"hub.mode": "subscribe"})
        assert status == 404  # subscribe at the external hub
        assert await site.hub.publish() == 0  # first check only takes note
        await site.add(WUJIN, [entry(50)])
        assert await site.hub.publish() == 1
        await site.hub.drain()
        [(headers, body)] = subscriber.deliveries["hub"]
        pinged = body.decode()
        assert "hub.mode=publish" in pinged
        assert quote(f"{site.base}/feeds/region/320412.atom", safe="") in pinged
    finally:
        await site.close()


async def test_hub_off_advertises_nothing(tmp_path):
    site = await make_site(tmp_path, hub=HubOptions(hub_url="off", watch_interval=0))
    try:
        _, headers, body = await site.get("/feeds/all.json")
        assert "hub" not in headers["Link"] and "hubs" not in json.loads(body)
    finally:
        await site.close()
