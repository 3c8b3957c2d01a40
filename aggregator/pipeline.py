"""The flow for one source: fetch → parse or split → tag → merge → store, in that order.

This module only runs the steps: deciding is done by the pure modules, writing by `store`
(and `store_stories`) inside one transaction per poll, so a crash at any moment leaves
either the whole poll stored or none of it. A failing source records its reason on its own
row and never stops the others; a full disk fails the poll with a clear message and rolls
it back whole.

What the server said is recorded for the polling policy with the poll: validators and body
hash (a new ETag on identical content is "unchanged"), freshness (Cache-Control, Expires,
RSS <ttl>), Retry-After (the host is held; other sources on it are "deferred", nothing sent),
permanent redirects (the polled URL moves after three consecutive sightings) and 410 Gone
(the source disables itself, with the reason, and is never requested again).
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import sqlite_utils

from . import policy, store, store_stories
from .analyse import Analysis, analyse
from .collect import Page, collect
from .decode import decode
from .errors import AggregatorError, FetchError, ParseError, StorageError
from .extract import extract_article
from .fetch import Fetcher, HostHeld, Response, Validators, host_key
from .model import Entry, SourceDef
from .parse import parse_feed
from .posts import parse_post
from .split_epaper import split_page
from .tag import Tagger, build_tagger
from .writer import Writer

log = logging.getLogger("aggregator.poll")
CN = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class PollResult:
    source_id: str
    outcome: str  # ok | not-modified | unchanged | error
    status: int | None = None
    new: int = 0
    updated: int = 0
    error: str | None = None
    duration_ms: int = 0
    entries: int = 0


@dataclass(frozen=True)
class Collected:
    """What one poll brought back, before storage."""

    entries: tuple[Entry, ...]
    response: Response | None = None  # for validators and the fetch record
    state: dict[str, Any] | None = None  # new per-source state, when the kind keeps one
    warning: str | None = None
    unchanged: bool = False
    ttl: int | None = None  # RSS <ttl>, minutes


class HttpError(FetchError):
    """The server answered with an error status; the response is kept for the policy."""

    def __init__(self, message: str, response: Response):
        super().__init__(message, "http", response.status)
        self.response = response


# -- applying (runs on the writer thread, inside one transaction) ----------------------------


def apply_entries(
    db: sqlite_utils.Database,
    tagger: Tagger,
    source_id: str,
    entries: Sequence[Entry],
    *,
    home: str | None,
    topics: tuple[str, ...],
    now: datetime,
    ext_ids: Sequence[str | None] | None = None,
    analyses: Sequence[Analysis] | None = None,
) -> tuple[int, int, list[int]]:
    """Store, tag, index and merge entries; returns (new, updated, article ids).

    `analyses`, when given, holds `analyse.analyse(tagger, entry, home=home, topics=topics)`
    of each entry, computed ahead (by worker processes during an import); otherwise each
    new or changed entry is analysed here."""
    new = updated = 0
    ids: list[int] = []
    source_name: str | None = None
    for i, entry in enumerate(entries):
        outlet = source_id
        outlet_name = entry.outlet_name
        if not outlet_name:
            source_name = source_name or _source_name(db, source_id)
            outlet_name = source_name
        saved = store.save_entry(
            db, source_id, entry, outlet=outlet, outlet_name=outlet_name, now=now,
            ext_id=ext_ids[i] if ext_ids else None,
            fts_text=analyses[i].fts_text if analyses else None,
        )
        ids.append(saved.article_id)
        if not saved.changed:
            continue
        done = analyses[i] if analyses else analyse(tagger, entry, home=home, topics=topics)
        store.save_tags(db, saved.article_id, done.tags, new=saved.created, rows=done.tag_rows)
        store_stories.index_and_merge(db, saved.article_id, done.print, new=saved.created)
        if saved.created:
            new += 1
        else:
            updated += 1
    return new, updated, ids


def _source_name(db: sqlite_utils.Database, source_id: str) -> str:
    row = db.conn.execute("SELECT name FROM sources WHERE id = ?", [source_id]).fetchone()
    return row[0] if row else source_id


def _finish_poll(
    db: sqlite_utils.Database,
    tagger: Tagger,
    source: SourceDef,
    got: Collected,
    started: datetime,
    duration_ms: int,
) -> PollResult:
    now = store.utcnow()
    new, updated, _ = apply_entries(
        db, tagger, source.id, got.entries, home=source.region, topics=source.topics, now=now
    )
    resp = got.response
    values: dict[str, Any] = {
        "last_polled": store.iso(now),
        "last_ok": store.iso(now),
        "last_status": resp.status if resp else None,
        "last_error": None,
        "error_count": 0,
        "retry_after": None,
    }
    if resp is not None and resp.status == 200:
        values.update(
            etag=resp.headers.get("etag"),
            last_modified=resp.headers.get("last-modified"),
            body_hash=_body_hash(resp.body),
        )
    elif resp is not None and resp.not_modified and resp.headers.get("etag"):
        values["etag"] = resp.headers["etag"]  # a 304 may renew the validator
    fresh = policy.freshness(resp.headers, now) if resp is not None else None
    if fresh is not None or (resp is not None and resp.status == 200):
        values["max_age"] = fresh  # a bare 304 keeps the hint of the last 200
    if got.ttl is not None or (resp is not None and resp.status == 200):
        values["ttl"] = got.ttl
    if resp is not None:
        values.update(_redirect_values(db, source, resp))
    if got.state is not None:
        values["state"] = json.dumps(got.state, ensure_ascii=False, default=str)
    store.update_source(db, source.id, **values)
    outcome = "unchanged" if got.unchanged else ("not-modified" if resp and resp.not_modified
                                                  else "ok")
    store.record_fetch(
        db,
        store.FetchRecord(
            source.id, source.url, started, resp.status if resp else None,
            resp.wire_bytes if resp else 0, duration_ms, outcome, got.warning, new, updated,
        ),
    )
    return PollResult(source.id, outcome, resp.status if resp else None, new, updated,
                      got.warning, duration_ms, len(got.entries))


def _redirect_values(db: sqlite_utils.Database, source: SourceDef,
                     resp: Response) -> dict[str, Any]:
    """Count consecutive polls that saw the same permanent redirect; move the URL at three.

    Temporary redirects (302/307), or a mix, never move it and reset the count."""
    row = db.execute("SELECT redirect_target, redirect_count FROM sources WHERE id = ?",
                     [source.id]).fetchone() or (None, 0)
    seen = resp.permanent_redirect if resp.permanent_redirect != source.url else None
    state = policy.follow_redirect(row[0], row[1] or 0, seen)
    values: dict[str, Any] = {"redirect_target": state.target, "redirect_count": state.count}
    if state.move and seen:
        log.warning("%s: %s moved permanently to %s (seen on %d consecutive polls); "
                    "polling the new URL from now on", source.id, source.url, seen,
                    policy.REDIRECT_CONFIRMATIONS)
        values["url"] = seen
    return values


def _record_error(
    db: sqlite_utils.Database, source: SourceDef, error: str, status: int | None,
    started: datetime, duration_ms: int, retry_after: datetime | None = None,
) -> PollResult:
    now = store.utcnow()
    db.execute(
        "UPDATE sources SET last_polled = ?, last_status = ?, last_error = ?,"
        " error_count = error_count + 1, retry_after = ? WHERE id = ?",
        [store.iso(now), status, error, store.iso(retry_after), source.id],
    )
    store.record_fetch(
        db, store.FetchRecord(source.id, source.url, started, status, 0, duration_ms, "error",
                              error)
    )
    return PollResult(source.id, "error", status, error=error, duration_ms=duration_ms)


def _record_deferred(db: sqlite_utils.Database, source: SourceDef, held: HostHeld,
                     started: datetime) -> PollResult:
    """Nothing was sent (the host's Retry-After has not passed): not the source's fault, so
    its error count stays; the scheduler waits for the hold."""
    until = datetime.fromtimestamp(held.until, UTC)
    store.update_source(db, source.id, retry_after=store.iso(until))
    store.record_fetch(db, store.FetchRecord(source.id, source.url, started, None, 0, 0,
                                             "deferred", str(held)))
    return PollResult(source.id, "deferred", error=str(held))


def _record_gone(db: sqlite_utils.Database, source: SourceDef, error: str, status: int,
                 started: datetime, duration_ms: int) -> PollResult:
    """410 Gone: the site removed it on purpose. Disable the source with the reason; nothing
    is requested again until its URL is edited in the TOML."""
    now = store.utcnow()
    reason = (f"gone (410) at {source.url} on {now.date().isoformat()}: the site removed it; "
              "edit the source's url to poll it again")
    store.update_source(db, source.id, last_polled=store.iso(now), last_status=status,
                        last_error=error, enabled=0, disabled_reason=reason, next_poll=None,
                        poll_state=f"disabled: {reason}")
    db.execute("UPDATE sources SET error_count = error_count + 1 WHERE id = ?", [source.id])
    store.record_fetch(db, store.FetchRecord(source.id, source.url, started, status, 0,
                                             duration_ms, "error", error))
    return PollResult(source.id, "disabled", status, error=reason, duration_ms=duration_ms)


def _body_hash(body: bytes) -> str:
    return hashlib.sha1(body).hexdigest()


def storage_problem(exc: BaseException, db_path: str) -> str:
    """A readable reason for a failed write; a full disk says where space is needed."""
    text = " ".join(str(e) for e in _chain(exc))
    if "full" in text.lower():
        where = Path(db_path).resolve().parent
        try:
            free = f"{shutil.disk_usage(where).free / 1e6:,.1f} MB free"
        except OSError:
            free = "free space unknown"
        return (f"database or disk is full: free space on {where} ({free}) and the poll will "
                "be retried; nothing of this poll was stored")
    return f"could not store the poll: {exc}; nothing of it was stored"


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


# -- collecting (async: fetching and the pure steps) -----------------------------------------


class Poller:
    """Polls sources with a shared fetcher and writer; one instance per process."""

    def __init__(self, writer: Writer, fetcher: Fetcher, *, topics_file: str | None = None,
                 concurrency: int = 16, on_stored: Callable[[], None] | None = None):
        self.writer = writer
        self.on_stored = on_stored  # told after a poll stored new or changed articles
        self.fetcher = fetcher
        self.topics_file = topics_file
        self._limit = asyncio.Semaphore(concurrency)
        self._running: set[str] = set()
        self._holds_loaded = False

    def tagger(self, db: sqlite_utils.Database) -> Tagger:
        return self.writer.cached("tagger", lambda d: build_tagger(d, self.topics_file))

    async def poll(self, source: SourceDef, *, today: date | None = None,
                   backfill: tuple[date, date] | None = None) -> PollResult:
        """Poll one source now; never raises for a source's own failure."""
        if source.id in self._running:
            return PollResult(source.id, "skipped", error="a poll of this source is running")
        self._running.add(source.id)
        try:
            async with self._limit:
                return await self._poll(source, today=today, backfill=backfill)
        finally:
            self._running.discard(source.id)

    async def _poll(self, source: SourceDef, *, today: date | None,
                    backfill: tuple[date, date] | None) -> PollResult:
        started = store.utcnow()
        clock = time.monotonic()
        row = await self.writer.call(store.source_row, source.id) or {}
        if row and not row.get("enabled", 1) and row.get("disabled_reason"):
            # disabled by itself (410 Gone): never requested again, even by `poll --all`
            return PollResult(source.id, "disabled", error=row["disabled_reason"])
        await self._load_holds()
        source = _effective(source, row)

        def ms() -> int:
            return int((time.monotonic() - clock) * 1000)

        try:
            got = await self._collect(source, row, today or datetime.now(CN).date(), backfill)
        except HostHeld as held:
            log.info("%s: %s", source.id, held)
            return await self._store(source, _record_deferred, source, held, started)
        except HttpError as exc:
            resp = exc.response
            if resp.status == 410:
                log.warning("%s: %s; the source is disabled", source.id, exc)
                return await self._store(source, _record_gone, source, str(exc), resp.status,
                                         started, ms())
            retry = None
            if resp.retry_after:
                retry = store.utcnow() + timedelta(seconds=resp.retry_after)
                log.warning("%s: %s; nothing goes to %s before %s", source.id, exc,
                            host_key(resp.final_url), store.iso(retry))
            else:
                log.warning("%s: poll failed: %s", source.id, exc)
            return await self._store(source, _record_error, source, str(exc), resp.status,
                                     started, ms(), retry)
        except (AggregatorError, OSError, UnicodeError, ValueError) as exc:
            status = getattr(exc, "status", None)
            message = str(exc) or exc.__class__.__name__
            log.warning("%s: poll failed: %s", source.id, message)
            return await self._store(source, _record_error, source, message, status, started,
                                     ms())
        took = ms()
        result = await self._store(
            source, lambda db: _finish_poll(db, self.tagger(db), source, got, started, took)
        )
        if self.on_stored is not None and (result.new or result.updated):
            self.on_stored()
        if result.outcome != "error":
            log.info(
                "%s: %s, %d entries, %d new, %d updated (%d ms)",
                source.id, result.outcome, result.entries, result.new, result.updated, took,
            )
        return result

    async def _store(self, source: SourceDef, fn: Any, *args: Any) -> PollResult:
        """Write one poll's outcome in one transaction; a failed write (a full disk) is
        logged with what to do, rolled back whole, and recorded on the source if possible."""
        try:
            return await self.writer.write(fn, *args)
        except (sqlite3.Error, StorageError) as exc:
            message = storage_problem(exc, self.writer.path)
            log.error("%s: %s", source.id, message)
            try:
                await self.writer.write(_record_error, source, message, None, store.utcnow(), 0)
            except (sqlite3.Error, StorageError) as again:
                log.error("%s: could not record that error either: %s", source.id, again)
            return PollResult(source.id, "error", error=message)

    async def _load_holds(self) -> None:
        """Hosts still inside a Retry-After window, from the database: a restart (or a
        `poll --once`) keeps the promise the previous process made."""
        if self._holds_loaded:
            return
        self._holds_loaded = True
        now = store.iso(store.utcnow())
        rows = await self.writer.call(lambda db: db.execute(
            "SELECT url, retry_after FROM sources WHERE retry_after > ?", [now]).fetchall())
        for url, until in rows:
            moment = store.parse_iso(until)
            if url and moment is not None:
                self.fetcher.hold(url, moment.timestamp())

    async def _collect(self, source: SourceDef, row: dict[str, Any], today: date,
                       backfill: tuple[date, date] | None) -> Collected:
        kind = source.kind
        if kind == "feed":
            return await self._collect_feed(source, row)
        if kind == "epaper-text":
            return await self._collect_epaper_text(source, row, today)
        if kind == "posts":
            return await asyncio.to_thread(collect_posts, source)
        if kind in ("epaper-html", "page"):
            return await self._collect_site(source, row, today, backfill)
        raise ParseError(f"unknown source kind {kind!r}")

    async def _fetch_changed(self, source: SourceDef, row: dict[str, Any]) -> Response | None:
        """GET with validators; None when the server or the body hash says nothing changed."""
        validators = Validators(row.get("etag"), row.get("last_modified"))
        # the configured host is the user's choice; a redirect elsewhere must be public
        # unless the source allows private addresses
        resp = await self.fetcher.get(source.url, validators=validators,
                                      accept=_ACCEPT.get(source.kind, "*/*"),
                                      allow_private=source.allow_private,
                                      trusted_hosts=_trusted(source.url))
        if resp.status >= 400 or (300 <= resp.status < 400 and resp.status != 304):
            raise HttpError(_http_reason(resp), resp)
        return resp

    async def _collect_feed(self, source: SourceDef, row: dict[str, Any]) -> Collected:
        resp = await self._fetch_changed(source, row)
        if resp.not_modified:
            return Collected((), resp)
        if row.get("body_hash") == _body_hash(resp.body):
            return Collected((), resp, unchanged=True)
        parsed = await asyncio.to_thread(
            parse_feed, resp.body, url=resp.final_url, headers=resp.headers,
            fetched=store.utcnow(),
        )
        entries = parsed.entries
        if source.full_text:
            entries = await self._full_text(source, entries)
        return Collected(entries, resp, warning=parsed.warning, ttl=parsed.ttl)

    async def _full_text(self, source: SourceDef, entries: Sequence[Entry]) -> tuple[Entry, ...]:
        """Fetch the linked page of entries that carry a summary only, once per article."""
        urls = [e.url for e in entries if e.url]
        known = await self.writer.call(store.known_urls, source.id, urls)
        limit = int(source.options.get("max_articles", 30))
        out = []
        for entry in entries:
            if entry.url and entry.url not in known and limit > 0 and len(entry.text) < 400:
                limit -= 1
                try:
                    # a link found in content: every hop must be public unless the source
                    # allows private addresses, and it never reads a local file
                    resp = await self.fetcher.get(entry.url, allow_private=source.allow_private,
                                                  allow_file=False)
                    if resp.status == 200:
                        html, _ = decode(resp.body, resp.headers)
                        page = extract_article(html, resp.final_url,
                                               selectors=source.options.get("selectors"))
                        if len(page.text) > len(entry.text):
                            entry = replace(entry, text=page.text, content_html=page.content_html)
                except AggregatorError as exc:
                    log.info("%s: full text of %s not fetched: %s", source.id, entry.url, exc)
            out.append(entry)
        return tuple(out)

    async def _collect_epaper_text(self, source: SourceDef, row: dict[str, Any],
                                   today: date) -> Collected:
        resp = await self._fetch_changed(source, row)
        if resp.not_modified:
            return Collected((), resp)
        text, _ = decode(resp.body, resp.headers)
        issue = _issue_date(source, today)
        entries = await asyncio.to_thread(split_page, text, issue_date=issue)
        return Collected(tuple(entries), resp)

    async def _collect_site(self, source: SourceDef, row: dict[str, Any], today: date,
                            backfill: tuple[date, date] | None) -> Collected:
        allow_private = source.allow_private

        async def get(url: str) -> Page:
            own = url == source.url  # the configured URL; every other one was found in content
            resp = await self.fetcher.get(url, allow_private=allow_private,
                                          trusted_hosts=_trusted(url) if own else (),
                                          allow_file=own)
            text = decode(resp.body, resp.headers)[0] if resp.status == 200 else ""
            return Page(resp.final_url, resp.status, text, resp.headers)

        state = json.loads(row.get("state") or "{}")
        # which article URLs are stored is asked once, up front, by the collector
        stored: set[str] = set()

        def seen(url: str) -> bool:
            return url in stored

        stored.update(await self.writer.call(_all_urls, source.id))
        got = await collect(source, get, state, today=today, backfill=backfill, seen=seen)
        warning = "; ".join(got.warnings) or None
        return Collected(tuple(got.entries), None, dict(got.state), warning)


def _effective(source: SourceDef, row: dict[str, Any]) -> SourceDef:
    """The source as polled: its URL moved after a confirmed permanent redirect."""
    url = row.get("url")
    if url and url != source.url and row.get("defined_url") in (None, source.url):
        return replace(source, url=url)
    return source


def _trusted(url: str) -> tuple[str, ...]:
    return (host_key(url),) if urlsplit(url).scheme in ("http", "https") else ()


def _all_urls(db: sqlite_utils.Database, source_id: str) -> set[str]:
    return {r[0] for r in db.execute(
        "SELECT url FROM articles WHERE source_id = ? AND url IS NOT NULL", [source_id])}


_ACCEPT = {
    "feed": "application/atom+xml, application/rss+xml, application/feed+json, "
            "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
}


def _http_reason(resp: Response) -> str:
    reasons = {404: "not found (404): check the URL", 410: "gone (410): the site removed it",
               403: "forbidden (403)", 429: "too many requests (429)",
               500: "server error (500)", 503: "service unavailable (503)"}
    text = f"HTTP {resp.status}: " + reasons.get(resp.status, "unexpected status")
    if resp.retry_after:
        text += f", asked us to wait {resp.retry_after:,}s (Retry-After)"
    if 300 <= resp.status < 400:
        text += " (a redirect without a Location header)"
    return text


def _issue_date(source: SourceDef, today: date) -> date:
    value = source.options.get("date")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    return today


def collect_posts(source: SourceDef) -> Collected:
    """Every post file under the source's path or glob (file:// URL or plain path)."""
    parts = urlsplit(source.url)
    pattern = unquote(parts.path) if parts.scheme == "file" else source.url
    p = Path(pattern)
    if p.is_dir():
        files = sorted(f for ext in ("*.md", "*.markdown", "*.html", "*.txt")
                       for f in p.rglob(ext))
    else:
        files = sorted(Path(x) for x in glob.glob(pattern, recursive=True))
    if not files:
        raise FetchError(f"no post files found at {pattern}", "file")
    entries = []
    base = source.options.get("base_url")
    for f in files[: int(source.options.get("max_files", 5000))]:
        try:
            text, _ = decode(f.read_bytes())
            entries.append(parse_post(text, path=str(f), base_url=base))
        except (AggregatorError, OSError, ValueError) as exc:
            log.warning("%s: post %s skipped: %s", source.id, f, exc)
    return Collected(tuple(entries))


def issue_range(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
