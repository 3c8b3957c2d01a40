"""RFC 5005 archives: a feed's history in complete pages that never change once written.

The idea: a page's boundaries and contents must not depend on anything that can still move.
Dates can't be trusted for that (a late article with an old date, or a story merged later,
would have to change a finished month), so entries are archived in the order they *arrived*
in the feed: each entry's arrival key is the id of the first article that brought it in
(`views.open_members`), and article ids only grow. A page holds `page_size` entries, counted
from the oldest; it is written once, when the feed holds two pages' worth of unarchived
entries, so the subscription document always keeps at least the newest `page_size`. Writing
a page stores its entries' content as it is at that moment (`archive_items`), shared by every
feed that archives the same entry; rendering being a pure function, a complete archive's
bytes, and so its strong ETag, never change. What changes later (another outlet carrying the
story, an edit) shows on the story's own page and in documents written later.

Pages are written lazily, on the single writer thread, when a feed is served or delivered
(`freeze`); reading a page (`page_items`) is a plain query on a reader connection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from .model import FeedItem, Outlet
from .store import iso, parse_iso, utcnow
from .views import FeedSpec, Member, Names, member_items, newest_first, open_members

#: The subscription document keeps between one and two pages' worth of entries.
PAGES_KEPT = 2
#: Pages written per call at most, so one call never holds the writer for long; a feed with
#: a long backlog (a database from before archives) catches up over a few calls.
MAX_PAGES_PER_CALL = 40
NAMES = Names()
#: Our own links are stored relative to the site root, so a new base_url keeps them working.
_SITE = "@/"


@dataclass(frozen=True)
class PageInfo:
    feed: str
    page: int
    title: str
    first_arrival: int
    last_arrival: int
    entries: int
    updated: datetime


def _info(row) -> PageInfo:
    return PageInfo(row[0], row[1], row[2], row[3], row[4], row[5],
                    parse_iso(row[6]) or datetime(2000, 1, 1, tzinfo=UTC))


_PAGE_COLUMNS = "feed, page, title, first_arrival, last_arrival, entries, updated"


def last_page(db: sqlite_utils.Database, key: str) -> PageInfo | None:
    row = db.execute(f"SELECT {_PAGE_COLUMNS} FROM archive_pages WHERE feed = ?"
                     " ORDER BY page DESC LIMIT 1", [key]).fetchone()
    return _info(row) if row else None


def page_info(db: sqlite_utils.Database, key: str, page: int) -> PageInfo | None:
    row = db.execute(f"SELECT {_PAGE_COLUMNS} FROM archive_pages WHERE feed = ? AND page = ?",
                     [key, page]).fetchone()
    return _info(row) if row else None


def pending(db: sqlite_utils.Database, spec: FeedSpec) -> tuple[PageInfo | None, list[Member]]:
    """The feed's newest archive page and the members that are in none, oldest first."""
    last = last_page(db, spec.key)
    return last, open_members(db, spec, after=last.last_arrival if last else 0)


def due(members: list[Member], page_size: int) -> bool:
    """Whether a complete page is ready to be written."""
    return page_size > 0 and len(members) >= PAGES_KEPT * page_size


# -- writing pages (writer thread, inside the caller's transaction) ---------------------------


def freeze(db: sqlite_utils.Database, spec: FeedSpec, *, page_size: int, title: str,
           base_url: str, names: Names = NAMES, max_pages: int = MAX_PAGES_PER_CALL,
           now: datetime | None = None) -> int:
    """Write every complete page that is due (at most `max_pages`); returns how many.

    Safe to call at any time and from several requests at once: it re-reads the state in
    its own transaction, so a page is never written twice."""
    if page_size <= 0:
        return 0
    last, members = pending(db, spec)
    page = last.page if last else 0
    written = 0
    stamp = iso(now or utcnow())
    while due(members, page_size) and written < max_pages:
        chunk, members = members[:page_size], members[page_size:]
        frozen = _freeze_items(db, spec, chunk, base_url=base_url, names=names, stamp=stamp)
        kept = [m for m in chunk if m.entry in frozen]
        if not kept:
            break
        page += 1
        db.conn.executemany(
            "INSERT INTO archive_entries (feed, entry, page, arrival) VALUES (?, ?, ?, ?)",
            [(spec.key, m.entry, page, m.arrival) for m in kept])
        updated = max(frozen[m.entry].updated for m in kept)
        db.conn.execute(
            f"INSERT INTO archive_pages ({_PAGE_COLUMNS}, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [spec.key, page, title, kept[0].arrival, chunk[-1].arrival, len(kept),
             iso(updated), stamp])
        written += 1
    return written


def _freeze_items(db: sqlite_utils.Database, spec: FeedSpec, chunk: list[Member], *,
                  base_url: str, names: Names, stamp: str) -> dict[str, FeedItem]:
    """The archived content of these entries: stored once, the first time any feed archives
    an entry, and reused by every other feed, so all archives agree."""
    out: dict[str, FeedItem] = {}
    marks = ",".join("?" * len(chunk))
    for entry, data in db.execute(
            f"SELECT entry, data FROM archive_items WHERE entry IN ({marks})",
            [m.entry for m in chunk]):
        out[entry] = decode_item(data, base_url)
    missing = [m for m in chunk if m.entry not in out]
    if missing:
        items = member_items(db, spec, missing, base_url=base_url, names=names)
        db.conn.executemany(
            "INSERT OR IGNORE INTO archive_items (entry, data, frozen) VALUES (?, ?, ?)",
            [(item.id, encode_item(item, base_url), stamp) for item in items])
        out.update((item.id, item) for item in items)
    return out


# -- reading pages ---------------------------------------------------------------------------


def page_items(db: sqlite_utils.Database, key: str, page: int, *,
               base_url: str) -> list[FeedItem]:
    """A complete page's entries as archived, newest published first."""
    rows = db.execute(
        "SELECT i.data FROM archive_entries e JOIN archive_items i ON i.entry = e.entry"
        " WHERE e.feed = ? AND e.page = ? ORDER BY e.arrival", [key, page]).fetchall()
    return newest_first(decode_item(data, base_url) for (data,) in rows)


# -- the stored form of an entry -------------------------------------------------------------


def _rel(url: str | None, base: str) -> str | None:
    if url and url.startswith(base):
        return _SITE + url[len(base):]
    return url


def _abs(url: str | None, base: str) -> str | None:
    if url and url.startswith(_SITE):
        return base + url[len(_SITE):]
    return url


def _time(dt: datetime | None) -> str | None:
    return iso(dt)


def encode_item(item: FeedItem, base_url: str) -> str:
    """JSON for `archive_items.data`; our own links relative to the site root."""
    return json.dumps({
        "id": item.id,
        "title": item.title,
        "link": _rel(item.link, base_url),
        "published": _time(item.published),
        "updated": _time(item.updated),
        "content_html": item.content_html,
        "summary": item.summary,
        "author": item.author,
        "outlet_name": item.outlet_name,
        "source_url": _rel(item.source_url, base_url),
        "also": [[o.name, _rel(o.url, base_url), _time(o.published), o.source_id]
                 for o in item.also],
        "related": [[t, _rel(u, base_url)] for t, u in item.related],
        "regions": [list(r) for r in item.regions],
        "topics": [list(t) for t in item.topics],
        "html_url": _rel(item.html_url, base_url),
    }, ensure_ascii=False, separators=(",", ":"))


def decode_item(data: str, base_url: str) -> FeedItem:
    d = json.loads(data)
    return FeedItem(
        id=d["id"],
        title=d["title"],
        link=_abs(d["link"], base_url),
        published=parse_iso(d["published"]) or datetime(2000, 1, 1, tzinfo=UTC),
        updated=parse_iso(d["updated"]) or datetime(2000, 1, 1, tzinfo=UTC),
        content_html=d["content_html"],
        summary=d["summary"],
        author=d["author"],
        outlet_name=d["outlet_name"],
        source_url=_abs(d["source_url"], base_url),
        also=tuple(Outlet(n, _abs(u, base_url), parse_iso(p), s) for n, u, p, s in d["also"]),
        related=tuple((t, _abs(u, base_url) or "") for t, u in d["related"]),
        regions=tuple((c, n) for c, n in d["regions"]),
        topics=tuple((s, n) for s, n in d["topics"]),
        html_url=_abs(d["html_url"], base_url),
    )
