"""The read side: what a published feed contains, as FeedDoc values built from stored rows.

A feed is defined by a `FeedSpec` (all, one source, one region, one topic, or a region and a
topic). Aggregated feeds list one entry per story — its canonical article's text, with the
other outlets that carried it — so a reader never sees one story twice; a source's own feed
lists that outlet's articles. Names of regions and topics come from a `Names` lookup (the
gazetteer and taxonomy in memory), so these queries stay plain SQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
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


def story_entry_id(story_id: str) -> str:
    return f"urn:aggregator:story:{story_id}"


def _member_filter(spec: FeedSpec) -> tuple[str, list[str]]:
    clauses = []
    args: list[str] = []
    if spec.region:
        clauses.append("a.id IN (SELECT article_id FROM article_regions WHERE code = ?)")
        args.append(spec.region)
    if spec.topic:
        clauses.append("a.id IN (SELECT article_id FROM article_topics WHERE slug = ?)")
        args.append(spec.topic)
    return " AND ".join(clauses), args


def _story_rows(db: sqlite_utils.Database, spec: FeedSpec, limit: int) -> list[dict]:
    """Newest live stories any of whose articles match the spec, with their canonical row."""
    where, args = _member_filter(spec)
    member = ""
    if where:
        member = (" AND s.id IN (SELECT sa.story_id FROM story_articles sa"
                  f" JOIN articles a ON a.id = sa.article_id WHERE {where})")
    sql = f"""
        SELECT s.id AS story_id, s.updated AS story_updated, c.*, src.url AS source_url
        FROM stories s
        JOIN articles c ON c.id = s.canonical_article
        LEFT JOIN sources src ON src.id = c.source_id
        WHERE s.merged_into IS NULL AND c.type = 'article'{member}
        ORDER BY coalesce(s.first_published, c.sort_time) DESC, s.seq DESC
        LIMIT ?
    """
    return list(db.query(sql, [*args, limit]))


def _source_rows(db: sqlite_utils.Database, source: str, limit: int) -> list[dict]:
    return list(db.query(
        """SELECT sa.story_id, s.updated AS story_updated, a.*, src.url AS source_url
           FROM articles a
           LEFT JOIN story_articles sa ON sa.article_id = a.id
           LEFT JOIN stories s ON s.id = sa.story_id
           LEFT JOIN sources src ON src.id = a.source_id
           WHERE a.source_id = ? AND a.type = 'article'
           ORDER BY a.sort_time DESC, a.id DESC LIMIT ?""", [source, limit]))


def feed_items(db: sqlite_utils.Database, spec: FeedSpec, *, limit: int, base_url: str,
               names: Names = Names()) -> list[FeedItem]:
    if spec.source:
        return [_item(db, row, base_url, names, own=True)
                for row in _source_rows(db, spec.source, limit)]
    return [_item(db, row, base_url, names) for row in _story_rows(db, spec, limit)]


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


def build_feed(db: sqlite_utils.Database, spec: FeedSpec, *, title: str, base_url: str,
               self_url: str, html_url: str, limit: int, names: Names = Names(),
               hub_url: str | None = None) -> FeedDoc:
    items = tuple(feed_items(db, spec, limit=limit, base_url=base_url, names=names))
    updated = max((i.updated for i in items), default=EPOCH)
    stem = self_url.rsplit(".", 1)[0]
    return FeedDoc(
        key=spec.key,
        title=title,
        self_url=self_url,
        html_url=html_url,
        base_url=base_url,
        id=feed_id(spec.key),
        updated=updated,
        items=items,
        hub_url=hub_url,
        alternates=(
            ("application/atom+xml", f"{stem}.atom", f"{title} (Atom)"),
            ("application/rss+xml", f"{stem}.rss", f"{title} (RSS)"),
            ("application/feed+json", f"{stem}.json", f"{title} (JSON Feed)"),
        ),
    )


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
