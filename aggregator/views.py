"""The read side: what a published feed contains, as FeedDoc values built from stored rows.

A feed is defined by a `FeedSpec` (all, one source, one region, one topic, or a region and a
topic). Aggregated feeds list one entry per story — its canonical article's text, with the
other outlets that carried it — so a reader never sees one story twice; a source's own feed
lists that outlet's articles. Names of regions and topics come from a `Names` lookup (the
gazetteer and taxonomy in memory), so these queries stay plain SQL.

A feed's entries are its *members*, each with an arrival key (the id of the first article
that brought it into the feed). The subscription document holds the members not archived yet
(archive.py writes complete RFC 5005 pages in arrival order), so every entry is in exactly
one document of a feed and a late article with an old date is never lost.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from .model import FeedDoc, FeedItem, Outlet
from .store import parse_iso

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Names:
    region: Callable[[str], str] = lambda code: code
    topic: Callable[[str], str] = lambda slug: slug


@dataclass(frozen=True)
class FeedSpec:
    source: str | None = None
    region: str | None = None
    topic: str | None = None

    @property
    def key(self) -> str:
        if self.source:
            return f"source/{self.source}"
        if self.region and self.topic:
            return f"region/{self.region}/topic/{self.topic}"
        if self.region:
            return f"region/{self.region}"
        if self.topic:
            return f"topic/{self.topic}"
        return "all"


def feed_id(key: str) -> str:
    """A feed's id: derived from its key, so it never changes."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"aggregator:feed:{key}").urn


STORY_URN = "urn:aggregator:story:"


def story_entry_id(story_id: str) -> str:
    return f"{STORY_URN}{story_id}"


def _member_filter(spec: FeedSpec, after: int, column: str = "a.id") -> tuple[str, list]:
    """SQL conditions on an article id `column` for membership of a region/topic feed.

    The subqueries walk the tag indexes (code, article_id) from `after` on, so a feed with a
    long archive only looks at the articles that arrived since its last archive page."""
    clauses = []
    args: list = []
    if spec.region:
        clauses.append(f"{column} IN (SELECT article_id FROM article_regions"
                       " WHERE code = ? AND article_id > ?)")
        args += [spec.region, after]
    if spec.topic:
        clauses.append(f"{column} IN (SELECT article_id FROM article_topics"
                       " WHERE slug = ? AND article_id > ?)")
        args += [spec.topic, after]
    return "".join(f" AND {c}" for c in clauses), args


@dataclass(frozen=True)
class Member:
    """One entry of a feed, with the key that orders the feed's archive.

    `arrival` is the id of the first article that brought the entry into the feed: article
    ids only grow, so entries are archived in the order they arrived, whatever their dates.
    """

    entry: str  # the entry id as published
    ref: str  # the story id, or (source feeds) the article id as text
    arrival: int


def open_members(db: sqlite_utils.Database, spec: FeedSpec, *, after: int = 0) -> list[Member]:
    """The feed's entries that arrived after `after` and are not archived, oldest first."""
    if spec.source:
        rows = db.execute(
            "SELECT a.id, a.uid FROM articles a WHERE a.source_id = ? AND a.type = 'article'"
            " AND a.id > ? AND NOT EXISTS (SELECT 1 FROM archive_entries e"
            " WHERE e.feed = ? AND e.entry = a.uid) ORDER BY a.id",
            [spec.source, after, spec.key]).fetchall()
        return [Member(uid, str(aid), aid) for aid, uid in rows]
    where, args = _member_filter(spec, after, "sa.article_id")
    # MATERIALIZED keeps SQLite from scanning every story to group them: only the articles
    # after `after` (a range of story_articles' integer key) are read.
    rows = db.execute(
        f"""WITH recent AS MATERIALIZED (
                SELECT sa.article_id, sa.story_id FROM story_articles sa
                WHERE sa.article_id > ?{where})
            SELECT m.story_id, m.arrival FROM (
                SELECT story_id, MIN(article_id) AS arrival FROM recent GROUP BY story_id) m
            JOIN stories s ON s.id = m.story_id
            JOIN articles c ON c.id = s.canonical_article
            WHERE s.merged_into IS NULL AND c.type = 'article'
              AND NOT EXISTS (SELECT 1 FROM archive_entries e
                              WHERE e.feed = ? AND e.entry = ? || m.story_id)
            ORDER BY m.arrival""",
        [after, *args, spec.key, STORY_URN]).fetchall()
    return [Member(story_entry_id(sid), sid, arrival) for sid, arrival in rows]


_STORY_SELECT = (
    "SELECT s.id AS story_id, s.updated AS story_updated, c.*, src.url AS source_url"
    " FROM stories s JOIN articles c ON c.id = s.canonical_article"
    " LEFT JOIN sources src ON src.id = c.source_id"
)


def _chunks(values: list, size: int = 500):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def story_items(db: sqlite_utils.Database, story_ids: Sequence[str], *, base_url: str,
                names: Names = Names()) -> list[FeedItem]:
    """Entries of these live stories (their canonical article and outlets), in this order."""
    rows: dict[str, dict] = {}
    for chunk in _chunks(list(story_ids)):
        marks = ",".join("?" * len(chunk))
        for row in db.query(f"{_STORY_SELECT} WHERE s.id IN ({marks})", chunk):
            rows[row["story_id"]] = row
    return [_item(db, rows[sid], base_url, names) for sid in story_ids if sid in rows]


def article_items(db: sqlite_utils.Database, article_ids: Sequence[int], *, base_url: str,
                  names: Names = Names()) -> list[FeedItem]:
    """A source feed's entries: the articles themselves, in this order."""
    rows: dict[int, dict] = {}
    for chunk in _chunks(list(article_ids)):
        marks = ",".join("?" * len(chunk))
        for row in db.query(
                "SELECT sa.story_id, s.updated AS story_updated, a.*, src.url AS source_url"
                " FROM articles a"
                " LEFT JOIN story_articles sa ON sa.article_id = a.id"
                " LEFT JOIN stories s ON s.id = sa.story_id"
                f" LEFT JOIN sources src ON src.id = a.source_id WHERE a.id IN ({marks})",
                chunk):
            rows[row["id"]] = row
    return [_item(db, rows[aid], base_url, names, own=True) for aid in article_ids if aid in rows]


def member_items(db: sqlite_utils.Database, spec: FeedSpec, members: Sequence[Member], *,
                 base_url: str, names: Names = Names()) -> list[FeedItem]:
    if spec.source:
        return article_items(db, [int(m.ref) for m in members], base_url=base_url, names=names)
    return story_items(db, [m.ref for m in members], base_url=base_url, names=names)


def newest_first(items: Iterable[FeedItem]) -> list[FeedItem]:
    """Display order: newest published first; the id breaks ties so the order is stable."""
    return sorted(items, key=lambda i: (i.published, i.id), reverse=True)


def feed_items(db: sqlite_utils.Database, spec: FeedSpec, *, limit: int, base_url: str,
               names: Names = Names(), after: int = 0) -> list[FeedItem]:
    """The newest `limit` entries (by arrival) not yet archived, newest published first."""
    members = open_members(db, spec, after=after)[-limit:] if limit > 0 else []
    return newest_first(member_items(db, spec, members, base_url=base_url, names=names))


def _item(db: sqlite_utils.Database, row: dict, base_url: str, names: Names, *,
          own: bool = False) -> FeedItem:
    aid = row["id"]
    story = row["story_id"]
    published = parse_iso(row["published"]) or parse_iso(row["fetched"]) or EPOCH
    changed = parse_iso(row["changed"]) or published
    updated = max(parse_iso(row["story_updated"]) or changed, changed) if not own else changed
    regions = tuple(
        (r["code"], names.region(r["code"]))
        for r in db.query("SELECT code FROM article_regions WHERE article_id = ?"
                          " ORDER BY score DESC, code", [aid])
    )
    topics = tuple(
        (t["slug"], names.topic(t["slug"]))
        for t in db.query("SELECT slug FROM article_topics WHERE article_id = ?"
                          " ORDER BY score DESC, slug", [aid])
    )
    also: tuple[Outlet, ...] = ()
    related: tuple[tuple[str, str], ...] = ()
    if story:
        also = tuple(
            Outlet(o["outlet_name"] or o["outlet"], o["url"], parse_iso(o["published"]),
                   o["source_id"])
            for o in db.query(
                "SELECT a.outlet, a.outlet_name, a.url, a.published, a.source_id"
                " FROM story_articles sa JOIN articles a ON a.id = sa.article_id"
                " WHERE sa.story_id = ? AND a.id != ? ORDER BY a.sort_time, a.id",
                [story, aid])
        )
        related = tuple(
            (r["title"] or "", f"{base_url}story/{r['related_id']}")
            for r in db.query(
                "SELECT l.related_id, s.title FROM v_story_links l JOIN stories s"
                " ON s.id = l.related_id WHERE l.story_id = ? ORDER BY l.score DESC LIMIT 5",
                [story])
        )
    html_url = f"{base_url}story/{story}" if story else None
    return FeedItem(
        id=row["uid"] if own or not story else story_entry_id(story),
        title=row["title"],
        link=row["url"] or html_url,
        published=published,
        updated=max(updated, published),
        content_html=row["content_html"],
        summary=row["summary"],
        author=row["author"],
        outlet_name=row["outlet_name"],
        source_url=row["source_url"] or None,
        also=also,
        related=related,
        regions=regions,
        topics=topics,
        html_url=html_url,
    )


def feed_doc(spec_key: str, *, title: str, base_url: str, self_url: str, html_url: str,
             items: Iterable[FeedItem], hub_url: str | None = None,
             links: tuple[tuple[str, str], ...] = (), archive: bool = False,
             alternates: tuple[tuple[str, str, str], ...] | None = None) -> FeedDoc:
    """A FeedDoc around these items; `alternates` default to the self URL in each format."""
    items = tuple(items)
    updated = max((i.updated for i in items), default=EPOCH)
    if alternates is None:
        stem = self_url.rsplit(".", 1)[0]
        alternates = (
            ("application/atom+xml", f"{stem}.atom", f"{title} (Atom)"),
            ("application/rss+xml", f"{stem}.rss", f"{title} (RSS)"),
            ("application/feed+json", f"{stem}.json", f"{title} (JSON Feed)"),
        )
    return FeedDoc(
        key=spec_key,
        title=title,
        self_url=self_url,
        html_url=html_url,
        base_url=base_url,
        id=feed_id(spec_key),
        updated=updated,
        items=items,
        hub_url=hub_url,
        links=links,
        archive=archive,
        alternates=alternates,
    )


def build_feed(db: sqlite_utils.Database, spec: FeedSpec, *, title: str, base_url: str,
               self_url: str, html_url: str, limit: int, names: Names = Names(),
               hub_url: str | None = None, links: tuple[tuple[str, str], ...] = (),
               after: int = 0) -> FeedDoc:
    """A subscription document: the newest `limit` entries (by arrival) not archived yet."""
    items = feed_items(db, spec, limit=limit, base_url=base_url, names=names, after=after)
    return feed_doc(spec.key, title=title, base_url=base_url, self_url=self_url,
                    html_url=html_url, items=items, hub_url=hub_url, links=links)


def source_list(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query(
        "SELECT s.*, (SELECT count(*) FROM articles a WHERE a.source_id = s.id"
        " AND a.type = 'article') AS articles FROM sources s ORDER BY s.name, s.id"))


def region_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Articles per region code, for the index's tree."""
    return {r["code"]: r["n"] for r in db.query(
        "SELECT code, count(*) AS n FROM article_regions GROUP BY code")}


def topic_counts(db: sqlite_utils.Database) -> dict[str, int]:
    return {r["slug"]: r["n"] for r in db.query(
        "SELECT slug, count(*) AS n FROM article_topics GROUP BY slug")}


def region_topic_counts(db: sqlite_utils.Database, code: str) -> dict[str, int]:
    return {r["slug"]: r["n"] for r in db.query(
        "SELECT t.slug, count(*) AS n FROM article_regions r JOIN article_topics t"
        " ON t.article_id = r.article_id WHERE r.code = ? GROUP BY t.slug", [code])}


def json_list(text: str | None) -> list:
    try:
        return list(json.loads(text or "[]"))
    except ValueError:
        return []


def topic_region_counts(db: sqlite_utils.Database, slug: str) -> dict[str, int]:
    """Articles on a topic per region code (every level), for topic pages and OPML bundles."""
    return {r["code"]: r["n"] for r in db.query(
        "SELECT r.code, count(*) AS n FROM article_topics t JOIN article_regions r"
        " ON r.article_id = t.article_id WHERE t.slug = ? GROUP BY r.code", [slug])}


@dataclass(frozen=True)
class Copy:
    """One outlet's copy of a story, for the story page: its own title, time and text."""

    article_id: int
    outlet_name: str
    title: str
    url: str | None
    published: datetime | None
    content_html: str
    summary: str
    canonical: bool
    method: str  # how it joined the story: new | exact | minhash | containment | title


def story_copies(db: sqlite_utils.Database, story_id: str) -> list[Copy]:
    """Every article of a story, the canonical one first, then by time."""
    rows = db.query(
        "SELECT a.id, a.outlet, a.outlet_name, a.title, a.url, a.published, a.content_html,"
        " a.summary, sa.method, a.id = s.canonical_article AS canonical"
        " FROM story_articles sa JOIN articles a ON a.id = sa.article_id"
        " JOIN stories s ON s.id = sa.story_id WHERE sa.story_id = ?"
        " ORDER BY canonical DESC, a.sort_time, a.id", [story_id])
    return [Copy(r["id"], r["outlet_name"] or r["outlet"], r["title"], r["url"],
                 parse_iso(r["published"]), r["content_html"], r["summary"],
                 bool(r["canonical"]), r["method"]) for r in rows]
