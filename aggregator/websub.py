"""WebSub (W3C, 2018): push our feeds to subscribers the moment they change.

Feeds advertise a hub (`Link: <hub>; rel="hub"` and `<feed>; rel="self"`, in HTTP headers and
in the documents). By default the hub is built in, at `/websub`:

* a subscriber POSTs `hub.mode=subscribe|unsubscribe`, `hub.topic` (one of our feed URLs),
  `hub.callback`, optionally `hub.lease_seconds` and `hub.secret`; the hub answers 202 and
  then verifies the intent: a GET to the callback with `hub.challenge`, which must come back
  as the body of a 2xx answer. Only verified subscriptions are stored (SQLite);
* when a poll has stored something, the daemon calls `Hub.notify()`. The hub works out which
  feeds the new or changed articles (and the stories they joined) belong to, renders each
  subscribed topic among them exactly as it is served, and when the bytes differ from what
  it last distributed, POSTs them to every subscriber with the feed's Content-Type, the
  `Link` headers and `X-Hub-Signature: sha256=HMAC(secret, body)` when a secret was given.

Callbacks are other people's URLs, so they are fenced: http(s) only, and an address that is
loopback, private, link-local or otherwise not public is refused (checked when the request
arrives and again by the resolver at every connection, so DNS rebinding cannot get around
it) unless `allow_private` is set. Every request has a timeout; deliveries run a few at a time,
retry with exponential backoff a bounded number of times, and queue up to a cap; a 410 Gone
ends the subscription.

With `hub_url` set to another hub's URL, feeds advertise that hub instead and `notify()`
pings it (`hub.mode=publish`, `hub.url=` each changed feed); `hub_url = "off"` advertises no
hub at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
import sqlite_utils
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from . import __version__
from .search import SearchQuery, matches_any
from .store import iso, utcnow

log = logging.getLogger("aggregator.websub")

MAX_URL = 2000
MAX_SECRET_BYTES = 199  # the spec: "MUST be less than 200 bytes"
#: Changed articles are looked for this far back before the last check, so a poll whose
#: transaction was still open during the previous check is not missed.
CHANGE_MARGIN = timedelta(minutes=5)
OFF = "off"


@dataclass(frozen=True)
class HubOptions:
    """How the hub behaves; `from_config` reads the settings, tests pass their own."""

    hub_url: str = ""  # "": the built-in hub; a URL: an external hub; "off": no hub
    allow_private: bool = False  # callbacks on loopback/private addresses (tests, intranets)
    lease_default: int = 10 * 86400
    lease_min: int = 3600
    lease_max: int = 30 * 86400
    timeout: float = 10.0  # seconds per verification or delivery request
    attempts: int = 4  # tries per delivery
    backoff: float = 5.0  # seconds before the first retry; each next one waits 4x longer
    concurrency: int = 8  # requests to subscribers at once
    max_pending: int = 1000  # deliveries queued or running; more are dropped (logged)
    max_subscriptions: int = 10_000
    debounce: float = 1.0  # seconds notify() waits, so a burst of polls gives one check
    watch_interval: float = 5.0  # seconds between the server's looks for new commits

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> HubOptions:
        values = {
            "hub_url": str(getattr(config, "hub_url", "") or "").strip(),
            "allow_private": bool(getattr(config, "websub_allow_private", False)),
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class Topic:
    """One of our feeds, as a WebSub topic."""

    url: str  # canonical URL, as in the feed's rel="self"
    key: str  # feed key (region/320412, …) or search?… for a saved search
    fmt: str  # atom | rss | json
    search: SearchQuery | None = None


class HubError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class HubRequest:
    mode: str  # subscribe | unsubscribe | publish
    topic: str = ""
    callback: str = ""
    lease: int = 0
    secret: str | None = None
    urls: tuple[str, ...] = ()  # publish: the topics said to have changed


# -- pure parts ------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """The X-Hub-Signature value for a body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def link_header(hub_url: str | None, self_url: str) -> str:
    links = [f'<{hub_url}>; rel="hub"'] if hub_url else []
    links.append(f'<{self_url}>; rel="self"')
    return ", ".join(links)


def is_public_ip(text: str) -> bool:
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return addr.is_global and not addr.is_multicast


def check_callback(url: str, *, allow_private: bool) -> str:
    """The callback URL if it may be called; HubError (400) saying why not otherwise.

    Host names are checked again, after resolution, by `GuardedResolver`."""
    if not url or len(url) > MAX_URL:
        raise HubError(400, f"hub.callback is required and at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise HubError(400, "hub.callback is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HubError(400, "hub.callback must be an http:// or https:// URL")
    if port == 0:
        raise HubError(400, "hub.callback has an invalid port")
    host = parts.hostname
    if not allow_private:
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
                raise HubError(400, "hub.callback must be a public address") from None
        else:
            if not is_public_ip(host):
                raise HubError(400, "hub.callback must be a public address")
    return url


def parse_request(form: Any, *, options: HubOptions) -> HubRequest:
    """A subscriber's or publisher's POST, validated (HubError says what is wrong)."""
    mode = (form.get("hub.mode") or "").strip()
    if mode == "publish":
        urls = [*form.getall("hub.url", []), *form.getall("hub.topic", [])]
        urls = [u.strip() for u in urls if u.strip()]
        if not urls or len(urls) > 100 or any(len(u) > MAX_URL for u in urls):
            raise HubError(400, "hub.mode=publish needs 1 to 100 hub.url values")
        return HubRequest(mode, urls=tuple(dict.fromkeys(urls)))
    if mode not in ("subscribe", "unsubscribe"):
        raise HubError(400, "hub.mode must be subscribe, unsubscribe or publish")
    topic = (form.get("hub.topic") or "").strip()
    if not topic or len(topic) > MAX_URL:
        raise HubError(400, "hub.topic is required: the URL of one of this site's feeds")
    callback = check_callback((form.get("hub.callback") or "").strip(),
                              allow_private=options.allow_private)
    raw_lease = (form.get("hub.lease_seconds") or "").strip()
    lease = options.lease_default
    if raw_lease:
        if not raw_lease.isdigit() or len(raw_lease) > 12:
            raise HubError(400, "hub.lease_seconds must be a whole number of seconds")
        lease = int(raw_lease)
    lease = max(options.lease_min, min(lease, options.lease_max))
    secret = form.get("hub.secret")
    if secret is not None and not 0 < len(secret.encode("utf-8")) <= MAX_SECRET_BYTES:
        raise HubError(400, "hub.secret must be 1 to 199 bytes")
    return HubRequest(mode, topic, callback, lease, secret)


def with_query(url: str, params: Mapping[str, str]) -> str:
    """The URL with these parameters added to whatever query it already has."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class GuardedResolver(AbstractResolver):
    """The default resolver, refusing names that resolve to non-public addresses."""

    def __init__(self, allow_private: bool):
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if not self._allow_private:
            bad = [r["host"] for r in found if not is_public_ip(r["host"])]
            if bad:
                raise OSError(f"{host} resolves to a non-public address ({bad[0]})")
        return found

    async def close(self) -> None:
        await self._inner.close()


# -- storage (plain functions on a database handle) ------------------------------------------


def save_subscription(db: sqlite_utils.Database, req: HubRequest, now: datetime) -> None:
    db.execute(
        "INSERT INTO websub_subscriptions (topic, callback, secret, lease_seconds, created,"
        " expires) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (topic, callback) DO UPDATE SET"
        " secret = excluded.secret, lease_seconds = excluded.lease_seconds,"
        " expires = excluded.expires, failures = 0",
        [req.topic, req.callback, req.secret, req.lease, iso(now),
         iso(now + timedelta(seconds=req.lease))])


def delete_subscription(db: sqlite_utils.Database, topic: str, callback: str) -> None:
    db.execute("DELETE FROM websub_subscriptions WHERE topic = ? AND callback = ?",
               [topic, callback])


def purge_expired(db: sqlite_utils.Database, now: datetime) -> int:
    """Forget subscriptions whose lease ran out (they get nothing anyway)."""
    return db.execute("DELETE FROM websub_subscriptions WHERE expires <= ?",
                      [iso(now)]).rowcount


def subscription_count(db: sqlite_utils.Database, now: datetime) -> int:
    return db.execute("SELECT count(*) FROM websub_subscriptions WHERE expires > ?",
                      [iso(now)]).fetchone()[0]


def active_subscriptions(db: sqlite_utils.Database, now: datetime,
                         topic: str | None = None) -> list[dict]:
    sql = "SELECT * FROM websub_subscriptions WHERE expires > ?"
    args: list[Any] = [iso(now)]
    if topic is not None:
        sql += " AND topic = ?"
        args.append(topic)
    return list(db.query(sql + " ORDER BY id", args))


def record_delivery(db: sqlite_utils.Database, sub_id: int, status: int | None, ok: bool,
                    now: datetime) -> None:
    db.execute(
        "UPDATE websub_subscriptions SET last_delivery = ?, last_status = ?,"
        " failures = CASE WHEN ? THEN 0 ELSE failures + 1 END WHERE id = ?",
        [iso(now), status, ok, sub_id])


def topic_hash(db: sqlite_utils.Database, topic: str) -> str | None:
    row = db.execute("SELECT content_hash FROM websub_topics WHERE topic = ?",
                     [topic]).fetchone()
    return row[0] if row else None


def set_topic_hash(db: sqlite_utils.Database, topic: str, digest: str, now: datetime) -> None:
    db.execute("INSERT INTO websub_topics (topic, content_hash, published) VALUES (?, ?, ?)"
               " ON CONFLICT (topic) DO UPDATE SET content_hash = excluded.content_hash,"
               " published = excluded.published", [topic, digest, iso(now)])


@dataclass(frozen=True)
class Changes:
    """What changed since the last check: the feeds touched and the articles concerned."""

    max_id: int  # the newest article id seen (the next check starts after it)
    keys: frozenset[str]  # feed keys whose documents may have changed
    article_ids: tuple[int, ...]


def _ids(db: sqlite_utils.Database, sql: str, ids: list[int]) -> set:
    out: set = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        out.update(tuple(r) if len(r) > 1 else r[0]
                   for r in db.execute(sql.format(",".join("?" * len(chunk))), chunk))
    return out


def newest_article(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT coalesce(max(id), 0) FROM articles").fetchone()[0]


def changes_since(db: sqlite_utils.Database, max_id: int, since: str) -> Changes:
    """Feeds touched by articles stored after `max_id` or changed since `since`.

    A new article changes every feed its story appears in (the entry's 另见 list grows),
    so the feeds of all the members of a touched story count."""
    new_max = newest_article(db)
    changed = [r[0] for r in db.execute(
        "SELECT id FROM articles WHERE id > ? UNION SELECT id FROM articles WHERE changed >= ?",
        [max_id, since])]
    if not changed:
        return Changes(new_max, frozenset(), ())
    members = _ids(db, "SELECT m.article_id FROM story_articles sa JOIN story_articles m"
                       " ON m.story_id = sa.story_id WHERE sa.article_id IN ({})", changed)
    ids = sorted(set(changed) | members)
    keys = {"all"}
    keys.update(f"source/{s}" for s in _ids(
        db, "SELECT DISTINCT source_id FROM articles WHERE id IN ({})", ids))
    keys.update(f"region/{c}" for c in _ids(
        db, "SELECT DISTINCT code FROM article_regions WHERE article_id IN ({})", ids))
    keys.update(f"topic/{s}" for s in _ids(
        db, "SELECT DISTINCT slug FROM article_topics WHERE article_id IN ({})", ids))
    keys.update(f"region/{c}/topic/{s}" for c, s in _ids(
        db, "SELECT DISTINCT r.code, t.slug FROM article_regions r JOIN article_topics t"
            " ON t.article_id = r.article_id WHERE r.article_id IN ({})", ids))
    return Changes(new_max, frozenset(keys), tuple(ids))


# -- the hub ---------------------------------------------------------------------------------

Render = Callable[[Topic], Awaitable[tuple[bytes, str] | None]]
ReadFn = Callable[..., Awaitable[Any]]


class Hub:
    """The built-in hub (or the pinger of an external one) of one server.

    `read(fn, *args)` and `write(fn, *args)` run `fn(db, *args)` on a reader connection and
    on the writer; `resolve(url)` maps a topic URL to one of our feeds (None if it is not);
    `render(topic)` gives the feed's current bytes and Content-Type, as served.
    """

    def __init__(self, *, base_url: str, options: HubOptions, read: ReadFn, write: ReadFn,
                 resolve: Callable[[str], Topic | None], render: Render):
        self.options = options
        self.base_url = base_url
        self._read, self._write = read, write
        self._resolve, self._render = resolve, render
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task] = set()
        self._limit = asyncio.Semaphore(max(1, options.concurrency))
        self._publishing = asyncio.Lock()
        self._pending = 0
        self._max_id: int | None = None  # None: nothing checked yet, compare every topic
        self._since = iso(utcnow())
        self._scheduled: asyncio.Task | None = None
        self._closed = False

    # -- what feeds advertise

    @property
    def mode(self) -> str:
        url = self.options.hub_url
        if not url:
            return "builtin"
        return "off" if url.lower() == OFF else "external"

    @property
    def url(self) -> str | None:
        """The hub URL feeds advertise, or None."""
        return {"builtin": self.base_url + "websub", "external": self.options.hub_url,
                "off": None}[self.mode]

    # -- plumbing

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self.options.allow_private or self.mode == "external"),
                limit=max(1, self.options.concurrency), ttl_dns_cache=60)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.options.timeout,
                                              connect=self.options.timeout),
                headers={"User-Agent": f"aggregator/{__version__} (WebSub hub; +{self.base_url})"},
            )
        return self._session

    def _spawn(self, coro: Awaitable[Any]) -> None:
        if self._closed:
            coro.close()  # type: ignore[attr-defined]
            return
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait (bounded) until no verification or delivery is running; for tests and stop."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks and asyncio.get_running_loop().time() < deadline:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline -
                                                             asyncio.get_running_loop().time()))

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- subscriptions

    async def handle(self, request: web.Request) -> web.Response:
        """POST /websub: subscribe, unsubscribe, or a publisher's ping."""
        if self.mode != "builtin":
            where = f"Subscribe at {self.url}." if self.url else "This server has no hub."
            return web.Response(status=404, text=f"No hub here. {where}\n")
        try:
            form = await request.post()
            req = parse_request(form, options=self.options)
            if req.mode == "publish":
                if any(self._resolve(u) is None for u in req.urls):
                    raise HubError(400, "hub.url must be this site's feed URLs")
                self.notify()
                return web.Response(status=204)
            topic = self._resolve(req.topic)
            if topic is None:
                raise HubError(400, "hub.topic is not a feed of this site; use the feed's"
                                    " rel=\"self\" URL, e.g. " + self.base_url + "feeds/all.atom")
            req = HubRequest(req.mode, topic.url, req.callback, req.lease, req.secret)
            await self._check_host(req.callback)
            if req.mode == "subscribe":
                if await self._render(topic) is None:
                    raise HubError(400, "hub.topic names no feed that exists here")
                count = await self._read(subscription_count, utcnow())
                if count >= self.options.max_subscriptions:
                    raise HubError(503, "the hub has as many subscriptions as it takes")
            if self._pending >= self.options.max_pending:
                raise HubError(503, "the hub is busy; try again in a minute")
        except HubError as exc:
            return web.Response(status=exc.status, text=exc.message + "\n",
                                headers={"Cache-Control": "no-store"})
        self._pending += 1
        self._spawn(self._verify(req, topic))
        return web.Response(status=202, text="Accepted: the hub will verify with your callback.\n",
                            headers={"Cache-Control": "no-store"})

    async def _check_host(self, callback: str) -> None:
        """Refuse a callback whose name resolves to a non-public address, before 202."""
        if self.options.allow_private:
            return
        host = urlsplit(callback).hostname or ""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None)
        except OSError:
            raise HubError(400, f"hub.callback host {host!r} does not resolve") from None
        if any(not is_public_ip(info[4][0]) for info in infos):
            raise HubError(400, "hub.callback must be a public address")

    async def _verify(self, req: HubRequest, topic: Topic) -> None:
        """Verification of intent; the subscription is stored (or removed) only if it passes."""
        try:
            challenge = secrets.token_urlsafe(24)
            params = {"hub.mode": req.mode, "hub.topic": req.topic, "hub.challenge": challenge}
            if req.mode == "subscribe":
                params["hub.lease_seconds"] = str(req.lease)
            url = with_query(req.callback, params)
            try:
                async with self._limit, self._client().get(url, allow_redirects=False) as resp:
                    body = await resp.content.read(4096)
                    ok = 200 <= resp.status < 300 and body.strip() == challenge.encode()
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                log.info("websub: verification of %s failed: %s", req.callback, exc)
                return
            if not ok:
                log.info("websub: %s did not confirm %s of %s", req.callback, req.mode, req.topic)
                return
            now = utcnow()
            if req.mode == "subscribe":
                await self._write(save_subscription, req, now)
                await self._write(purge_expired, now)
                await self._remember(topic)
            else:
                await self._write(delete_subscription, req.topic, req.callback)
            log.info("websub: %s %s to %s", req.callback, req.mode + "d", req.topic)
        finally:
            self._pending -= 1

    async def _remember(self, topic: Topic) -> None:
        """Record the topic's current content, so a new subscriber gets changes only."""
        if await self._read(topic_hash, topic.url) is not None:
            return
        rendered = await self._render(topic)
        if rendered is not None:
            digest = hashlib.sha256(rendered[0]).hexdigest()
            await self._write(set_topic_hash, topic.url, digest, utcnow())

    # -- publishing

    def notify(self) -> None:
        """Something was stored: check the feeds soon (calls within `debounce` coalesce).

        Cheap and non-blocking; call it after every poll that stored new or changed
        articles."""
        if self._closed or self.mode == "off":
            return
        if self._scheduled is not None and not self._scheduled.done():
            return

        async def later() -> None:
            await asyncio.sleep(self.options.debounce)
            await self.publish()

        self._scheduled = asyncio.ensure_future(later())
        self._tasks.add(self._scheduled)
        self._scheduled.add_done_callback(self._tasks.discard)
        self._scheduled.add_done_callback(_log_failure)

    async def publish(self) -> int:
        """Check the feeds now and distribute those whose content changed; returns how many
        deliveries (or, for an external hub, pings) were started."""
        if self.mode == "off":
            return 0
        async with self._publishing:
            since = self._since
            self._since = iso(utcnow() - CHANGE_MARGIN)
            changes: Changes | None = None
            now = utcnow()
            subs = [] if self.mode == "external" else await self._read(active_subscriptions, now)
            if self._max_id is None or (self.mode == "builtin" and not subs):
                # The first check after start compares every subscribed topic with what was
                # distributed last (the content hashes are stored), so nothing changed while
                # the daemon was down is missed; an external hub is simply not pinged. With
                # no subscriber there is nothing to work out.
                self._max_id = await self._read(newest_article)
                if self.mode == "external" or not subs:
                    return 0
            else:
                changes = await self._read(changes_since, self._max_id, since)
                self._max_id = changes.max_id
                if self.mode == "external":
                    return await self._ping(changes.keys)
            started = 0
            for url in dict.fromkeys(s["topic"] for s in subs):
                topic = self._resolve(url)
                if topic is None:
                    continue
                if changes is not None and not await self._touched(topic, changes):
                    continue
                started += await self._distribute(topic, [s for s in subs if s["topic"] == url])
            return started

    async def _touched(self, topic: Topic, changes: Changes) -> bool:
        if topic.search is not None:
            return bool(changes.article_ids) and await self._read(
                matches_any, topic.search, list(changes.article_ids))
        return topic.key in changes.keys

    async def _distribute(self, topic: Topic, subs: list[dict]) -> int:
        rendered = await self._render(topic)
        if rendered is None:
            return 0
        body, content_type = rendered
        digest = hashlib.sha256(body).hexdigest()
        if digest == await self._read(topic_hash, topic.url):
            return 0
        await self._write(set_topic_hash, topic.url, digest, utcnow())
        started = 0
        for sub in subs:
            if self._pending >= self.options.max_pending:
                log.warning("websub: %d deliveries pending; %s skipped", self._pending,
                            sub["callback"])
                continue
            self._pending += 1
            self._spawn(self._deliver(sub, topic, body, content_type))
            started += 1
        return started

    async def _deliver(self, sub: dict, topic: Topic, body: bytes, content_type: str) -> None:
        headers = {"Content-Type": content_type, "Link": link_header(self.url, topic.url)}
        if sub["secret"]:
            headers["X-Hub-Signature"] = sign(sub["secret"], body)
        status: int | None = None
        try:
            for attempt in range(max(1, self.options.attempts)):
                if attempt:
                    await asyncio.sleep(self.options.backoff * 4 ** (attempt - 1))
                try:
                    async with self._limit, self._client().post(
                            sub["callback"], data=body, headers=headers,
                            allow_redirects=False) as resp:
                        status = resp.status
                except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                    status = None
                    log.info("websub: delivery to %s failed: %s", sub["callback"], exc)
                    continue
                if 200 <= status < 300:
                    await self._write(record_delivery, sub["id"], status, True, utcnow())
                    return
                if status == 410:
                    log.info("websub: %s is gone; subscription removed", sub["callback"])
                    await self._write(delete_subscription, sub["topic"], sub["callback"])
                    return
            log.warning("websub: giving up on %s after %d attempts (last status %s)",
                        sub["callback"], self.options.attempts, status)
            await self._write(record_delivery, sub["id"], status, False, utcnow())
        finally:
            self._pending -= 1

    async def _ping(self, keys: Iterable[str]) -> int:
        """Tell an external hub which of our feeds changed (hub.mode=publish)."""
        urls = [f"{self.base_url}feeds/{key}.{fmt}" for key in sorted(keys)
                for fmt in ("atom", "rss", "json")]
        for i in range(0, len(urls), 50):
            batch = urls[i:i + 50]
            self._spawn(self._ping_batch(batch))
        return (len(urls) + 49) // 50

    async def _ping_batch(self, urls: list[str]) -> None:
        data = [("hub.mode", "publish"), *(("hub.url", u) for u in urls)]
        for attempt in range(max(1, self.options.attempts)):
            if attempt:
                await asyncio.sleep(self.options.backoff * 4 ** (attempt - 1))
            try:
                async with self._limit, self._client().post(
                        self.options.hub_url, data=data, allow_redirects=False) as resp:
                    if resp.status < 500:
                        return
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.info("websub: ping to %s failed: %s", self.options.hub_url, exc)
        log.warning("websub: could not ping %s", self.options.hub_url)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("websub task failed", exc_info=task.exception())

