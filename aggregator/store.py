"""The SQLite edge: opening, migrating, and the writes and reads of sources and articles.

One file, WAL mode, one writer. Schema changes are numbered SQL files (`db/migrations/`,
shipped inside the wheel as `aggregator.db`), each applied in its own transaction and recorded
in `schema_migrations`, so a `kill -9` mid-migration leaves the previous version intact.
The pipeline never writes SQL itself: it calls these functions inside `transaction()`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import sqlite_utils

from . import fts
from .errors import StorageError
from .model import Entry, SourceDef, Tags

_MIGRATION_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(dt: datetime | None) -> str | None:
    """UTC ISO 8601 text that sorts correctly; naive datetimes are taken as UTC."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).replace(microsecond=0).isoformat()


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# -- opening and migrating -------------------------------------------------------------------


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every shipped migration, in order."""
    root = resources.files("aggregator.db").joinpath("migrations")
    found = []
    for item in root.iterdir():
        m = _MIGRATION_NAME.match(item.name)
        if m:
            found.append((int(m.group(1)), item.name, item.read_text(encoding="utf-8")))
    return sorted(found)


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the project's pragmas; readers never block the writer (WAL)."""
    try:
        if readonly:
            conn = sqlite3.connect(
                f"file:{Path(path).resolve()}?mode=ro", uri=True, check_same_thread=False
            )
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open database {path}: {exc}; check the path and its permissions") from exc
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MB: the merge index stays hot
    return conn


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction. Returns names."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        record = (
            "INSERT INTO schema_migrations (version, name, applied) VALUES "
            f"({version}, '{name}', '{iso(utcnow())}');"
        )
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n;{record}\nCOMMIT;")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StorageError(f"migration {name} failed: {exc}; the database is unchanged") from exc
        applied.append(name)
    return applied


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the database; the returned handle is the writer."""
    conn = connect(path)
    try:
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return sqlite_utils.Database(conn)


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error: nothing is ever stored half."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        # SQLite may have rolled back already (SQLITE_FULL): keep the real error visible
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StorageError(f"could not commit: {exc}") from exc


# -- sources ---------------------------------------------------------------------------------


def sync_sources(db: sqlite_utils.Database, defs: Sequence[SourceDef]) -> None:
    """Make the sources table reflect the definitions; polling state is kept.

    A source that disappeared from the TOML stays (its articles still reference it) but is
    marked undefined and disabled. The polled `url` may differ from the TOML's after a
    confirmed permanent redirect, so it is kept while the TOML's URL (`defined_url`) is
    unchanged. A source that disabled itself (410 Gone: `disabled_reason`) stays disabled
    until its URL is edited; an edited URL also resets the validators and redirect evidence.
    """
    rows = {r["id"]: r for r in db.query(
        "SELECT id, url, defined_url, disabled_reason FROM sources")}
    for d in defs:
        values: dict[str, Any] = {
            "name": d.name,
            "kind": d.kind,
            "region": d.region,
            "topics": json.dumps(list(d.topics), ensure_ascii=False),
            "interval": d.interval,
            "priority": d.priority,
            "defined": 1,
        }
        old = rows.get(d.id)
        if old is None:
            db["sources"].insert({"id": d.id, **values, "url": d.url, "defined_url": d.url,
                                  "enabled": int(d.enabled)})
            continue
        reason = old["disabled_reason"]
        if (old["defined_url"] or old["url"]) != d.url:
            values.update(url=d.url, defined_url=d.url, etag=None, last_modified=None,
                          body_hash=None, redirect_target=None, redirect_count=0,
                          disabled_reason=None, retry_after=None)
            reason = None
        values["enabled"] = int(d.enabled and not reason)
        db["sources"].update(d.id, values)
    known = {d.id for d in defs}
    for sid in rows:
        if sid not in known:
            db.execute("UPDATE sources SET defined = 0, enabled = 0 WHERE id = ? AND defined = 1", [sid])


def ensure_outlet_source(db: sqlite_utils.Database, source_id: str, name: str | None) -> None:
    """A row for an outlet id that no TOML defines yet (ingest, import): undefined, not polled."""
    db.execute(
        "INSERT OR IGNORE INTO sources (id, name, url, kind, interval, enabled, defined) "
        "VALUES (?, ?, '', 'ingest', 86400, 0, 0)",
        [source_id, name or source_id],
    )


def source_row(db: sqlite_utils.Database, source_id: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM sources WHERE id = ?", [source_id]))
    return rows[0] if rows else None


def update_source(db: sqlite_utils.Database, source_id: str, **values: Any) -> None:
    if values:
        db["sources"].update(source_id, values)


@dataclass(frozen=True)
class FetchRecord:
    source_id: str
    url: str
    started: datetime
    status: int | None
    bytes: int
    duration_ms: int
    outcome: str  # ok | not-modified | unchanged | error
    error: str | None = None
    new: int = 0
    updated: int = 0


def record_fetch(db: sqlite_utils.Database, rec: FetchRecord) -> None:
    db.execute(
        "INSERT INTO fetches (source_id, url, started, status, bytes, duration_ms, outcome, error,"
        " new, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            rec.source_id,
            rec.url,
            iso(rec.started),
            rec.status,
            rec.bytes,
            rec.duration_ms,
            rec.outcome,
            rec.error,
            rec.new,
            rec.updated,
        ],
    )


# -- articles --------------------------------------------------------------------------------


def article_uid(source_id: str, key: str) -> str:
    """The public id of an article: derived from its identity, so it never changes."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"aggregator:{source_id}\n{key}").urn


def content_hash(entry: Entry) -> str:
    """Hash over the fields whose change is a real update (title, text, url, author, kicker,
    subtitle). Ignored on purpose: dates (feeds rewrite them), summary and HTML markup
    (both derived from or noisier than the text), categories."""
    parts = [entry.title, entry.text, entry.url or "", entry.author or "", entry.kicker or "",
             entry.subtitle or ""]
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Saved:
    article_id: int
    created: bool  # a new row
    changed: bool  # new, or its content changed


def save_entry(
    db: sqlite_utils.Database,
    source_id: str,
    entry: Entry,
    *,
    outlet: str,
    outlet_name: str | None,
    now: datetime,
    ext_id: str | None = None,
    fts_text: tuple[str, str] | None = None,
) -> Saved:
    """Insert or update one article by (source_id, key); an update never duplicates.

    Plain SQL on the connection: this runs once per article of every poll and import.
    `fts_text` may carry `fts_row(entry)` computed ahead (by an import's worker processes)."""
    conn = db.conn
    chash = content_hash(entry)
    row = conn.execute(
        "SELECT id, content_hash FROM articles WHERE source_id = ? AND key = ?",
        [source_id, entry.key],
    ).fetchone()
    published = iso(entry.published)
    values = {
        "outlet": outlet,
        "outlet_name": outlet_name,
        "url": entry.url,
        "title": entry.title,
        "kicker": entry.kicker,
        "subtitle": entry.subtitle,
        "author": entry.author or (" ".join(entry.reporters) or None),
        "reporters": json.dumps(list(entry.reporters), ensure_ascii=False),
        "type": entry.type,
        "position": entry.position,
        "published": published,
        "updated": iso(entry.updated),
        "summary": entry.summary,
        "content_html": entry.content_html,
        "text": entry.text,
        "categories": json.dumps(list(entry.categories), ensure_ascii=False),
        "content_hash": chash,
        "truncated": int(entry.truncated),
    }
    if row is not None:
        if row[1] == chash:
            return Saved(row[0], created=False, changed=False)
        values["changed"] = iso(now)
        if published:
            values["sort_time"] = published
        sets = ", ".join(f"{k} = ?" for k in values)
        conn.execute(f"UPDATE articles SET {sets} WHERE id = ?", [*values.values(), row[0]])
        _index(db, row[0], entry, fts_text=fts_text)
        return Saved(row[0], created=False, changed=True)
    values.update(
        uid=article_uid(source_id, entry.key),
        source_id=source_id,
        key=entry.key,
        ext_id=ext_id,
        fetched=iso(now),
        changed=iso(now),
        sort_time=published or iso(now),
    )
    cur = conn.execute(
        f"INSERT INTO articles ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
        list(values.values()),
    )
    article_id = cur.lastrowid
    _index(db, article_id, entry, new=True, fts_text=fts_text)
    return Saved(article_id, created=True, changed=True)


def fts_row(entry: Entry) -> tuple[str, str]:
    """The full-text index's (title, body) for an entry: pure, so it may be computed ahead."""
    title = " ".join(x for x in (entry.kicker, entry.title, entry.subtitle) if x)
    return fts.index_text(title), fts.index_text(entry.text or entry.summary)


def _index(db: sqlite_utils.Database, article_id: int, entry: Entry, *, new: bool = False,
           fts_text: tuple[str, str] | None = None) -> None:
    if not new:
        db.conn.execute("DELETE FROM articles_fts WHERE rowid = ?", [article_id])
    title, body = fts_text or fts_row(entry)
    db.conn.execute(
        "INSERT INTO articles_fts (rowid, title, body) VALUES (?, ?, ?)", [article_id, title, body]
    )


#: An article's tags as rows of article_regions (code, level, score, evidence) and
#: article_topics (slug, score, terms), without the article id.
TagRows = tuple[tuple[tuple[Any, ...], ...], tuple[tuple[Any, ...], ...]]


def tag_rows(tags: Tags) -> TagRows:
    """The rows `save_tags` writes for these tags: pure, so they may be computed ahead.
    One row per region code and per topic slug (a repeated one: the last wins)."""
    regions = {
        r.code: (r.code, r.level, round(r.score, 4), json.dumps(
            [{"text": e.text, "start": e.start, "rule": e.rule} for e in r.evidence],
            ensure_ascii=False))
        for r in tags.regions
    }
    topics = {
        t.slug: (t.slug, round(t.score, 4), json.dumps(list(t.terms), ensure_ascii=False))
        for t in tags.topics
    }
    return tuple(regions.values()), tuple(topics.values())


def save_tags(db: sqlite_utils.Database, article_id: int, tags: Tags, *,
              new: bool = False, rows: TagRows | None = None) -> None:
    """Replace an article's region and topic tags (`rows`: `tag_rows(tags)`, if at hand)."""
    conn = db.conn
    if not new:
        conn.execute("DELETE FROM article_regions WHERE article_id = ?", [article_id])
        conn.execute("DELETE FROM article_topics WHERE article_id = ?", [article_id])
    # Plain INSERT: the rows are unique (tag_rows) and the old ones are gone; with foreign
    # keys on, SQLite makes INSERT OR REPLACE more than twice as slow.
    regions, topics = rows or tag_rows(tags)
    conn.executemany(
        "INSERT INTO article_regions (article_id, code, level, score, evidence)"
        " VALUES (?, ?, ?, ?, ?)",
        [(article_id, *row) for row in regions],
    )
    conn.executemany(
        "INSERT INTO article_topics (article_id, slug, score, terms) VALUES (?, ?, ?, ?)",
        [(article_id, *row) for row in topics],
    )


def known_urls(db: sqlite_utils.Database, source_id: str, urls: Iterable[str]) -> set[str]:
    """Which of these URLs are already stored for the source (to fetch each page once)."""
    urls = list(urls)
    found: set[str] = set()
    for i in range(0, len(urls), 500):
        chunk = urls[i : i + 500]
        marks = ",".join("?" * len(chunk))
        found.update(
            r[0]
            for r in db.execute(
                f"SELECT url FROM articles WHERE source_id = ? AND url IN ({marks})",
                [source_id, *chunk],
            ).fetchall()
        )
    return found
