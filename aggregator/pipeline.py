"""The flow for one source: fetch → parse or split → tag → merge → store, in that order.

This module only runs the steps: deciding is done by the pure modules, writing by `store`
(and `store_stories`) inside one transaction per poll, so a crash at any moment leaves
either the whole poll stored or none of it. A failing source records its reason on its own
row and never stops the others.
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import sqlite_utils

from . import store, store_stories
from .collect import Page, collect
from .decode import decode
from .errors import AggregatorError, FetchError, ParseError
from .extract import extract_article
from .fetch import Fetcher, Response, Validators
from .model import Entry, SourceDef
from .parse import parse_feed
from .posts import parse_post
from .split_epaper import split_page
from .tag import Tagger, build_tagger, tag_entry
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
) -> tuple[int, int, list[int]]:
    """Store, tag, index and merge entries; returns (new, updated, article ids)."""
    new = updated = 0
    ids: list[int] = []
    for i, entry in enumerate(entries):
        outlet = source_id
        outlet_name = entry.outlet_name or _source_name(db, source_id)
        saved = store.save_entry(
            db, source_id, entry, outlet=outlet, outlet_name=outlet_name, now=now,
            ext_id=ext_ids[i] if ext_ids else None,
        )
        ids.append(saved.article_id)
        if not saved.changed:
            continue
        store.save_tags(db, saved.article_id, tag_entry(tagger, entry, home=home, topics=topics),
                        new=saved.created)
        store_stories.index_and_merge(db, saved.article_id)
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
    }
    if resp is not None and resp.status == 200:
        values.update(
            etag=resp.headers.get("etag"),
            last_modified=resp.headers.get("last-modified"),
            body_hash=_body_hash(resp.body),
        )
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


def _record_error(
    db: sqlite_utils.Database, source: SourceDef, error: str, status: int | None,
    started: datetime, duration_ms: int,
) -> PollResult:
    now = store.utcnow()
    db.execute(
        "UPDATE sources SET last_polled = ?, last_status = ?, last_error = ?,"
        " error_count = error_count + 1 WHERE id = ?",
        [store.iso(now), status, error, source.id],
    )
    store.record_fetch(
        db, store.FetchRecord(source.id, source.url, started, status, 0, duration_ms, "error",
                              error)
    )
    return PollResult(source.id, "error", status, error=error, duration_ms=duration_ms)


def _body_hash(body: bytes) -> str:
    return hashlib.sha1(body).hexdigest()


# -- collecting (async: fetching and the pure steps) -----------------------------------------


class Poller:
    """Polls sources with a shared fetcher and writer; one instance per process."""

    def __init__(self, writer: Writer, fetcher: Fetcher, *, topics_file: str | None = None,
                 concurrency: int = 16):
        self.writer = writer
        self.fetcher = fetcher
        self.topics_file = topics_file
        self._limit = asyncio.Semaphore(concurrency)
        self._running: set[str] = set()

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
        try:
            got = await self._collect(source, row, today or datetime.now(CN).date(), backfill)
        except (AggregatorError, OSError, UnicodeError, ValueError) as exc:
            status = getattr(exc, "status", None)
            message = str(exc) or exc.__class__.__name__
            ms = int((time.monotonic() - clock) * 1000)
            log.warning("%s: poll failed: %s", source.id, message)
            return await self.writer.write(_record_error, source, message, status, started, ms)
        ms = int((time.monotonic() - clock) * 1000)
        result = await self.writer.write(
            lambda db: _finish_poll(db, self.tagger(db), source, got, started, ms)
        )
        log.info(
            "%s: %s, %d entries, %d new, %d updated (%d ms)",
            source.id, result.outcome, result.entries, result.new, result.updated, ms,
        )
        return result

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
        resp = await self.fetcher.get(source.url, validators=validators,
                                      accept=_ACCEPT.get(source.kind, "*/*"))
        if resp.status >= 400 or (300 <= resp.status < 400 and resp.status != 304):
            raise FetchError(_http_reason(resp), "http", resp.status)
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
        return Collected(entries, resp, warning=parsed.warning)

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
                    resp = await self.fetcher.get(entry.url, allow_private=source.allow_private)
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
            resp = await self.fetcher.get(url, allow_private=allow_private or url == source.url)
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
    return f"HTTP {resp.status}: " + reasons.get(resp.status, "unexpected status")


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
