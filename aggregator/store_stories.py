"""Merge each stored article into a story: the SQLite edge of merging.

`index_and_merge(db, article_id)` fingerprints one stored article, finds candidate stories
through indexes that live in SQLite (exact text hash, LSH band keys, title keys; all limited to
a time window by a `day` column inside the key), asks the pure decider (merge.plan) what to do
and applies the plan inside the caller's transaction. Nothing is kept in memory between calls,
so the daemon's memory does not grow with the archive and the index survives restarts.

Story ids are derived from the founding article's uid and never change; when two stories turn
out to be one, the older keeps its id and the other records `merged_into` for redirects.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from . import fingerprint, merge
from .errors import StorageError
from .merge import ArticleView, CandidateView, MergePlan
from .normalise import normalise_title, prepare

#: Candidates come from articles published within this many days either side.
WINDOW_DAYS = 7
#: Related coverage found through headlines must be this close in time.
TITLE_WINDOW_DAYS = 2
#: At most this many candidate articles are verified per source of candidates.
MAX_BAND_CANDIDATES = 48
MAX_TITLE_CANDIDATES = 16
MAX_PASSAGE_CANDIDATES = 16
#: Texts shorter than this (normalised characters) are compared exactly, not by estimate.
EXACT_BELOW = 2 * merge.SHORT
#: Members (besides the canonical) whose numbers are checked before joining a story.
MAX_MEMBERS = 64

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class MergeResult:
    """What happened to one article."""

    article_id: int
    story_id: str  # the live story the article now belongs to
    method: str  # new | exact | minhash | containment | title | existing
    similarity: float | None
    canonical: bool  # the article is its story's canonical article
    absorbed: tuple[str, ...] = ()  # stories merged into story_id by this article
    related: tuple[str, ...] = ()  # stories linked as related coverage


def _conn(db: Any) -> sqlite3.Connection:
    return getattr(db, "conn", db)


def parse_time(value: str | None) -> datetime | None:
    """ISO 8601 text to an aware datetime (naive values are taken as UTC); None if unusable."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).isoformat(timespec="seconds")


def _day(dt: datetime | None) -> int:
    return 0 if dt is None else (dt - _EPOCH) // timedelta(days=1)


def story_id_for(seed: str, salt: int = 0) -> str:
    """A stable story id from the founding article's uid: 's' + 13 base32 characters."""
    digest = hashlib.blake2b(f"{seed}\x00{salt}".encode(), digest_size=8).digest()
    return "s" + base64.b32encode(digest).decode().rstrip("=").lower()


def resolve_story(db: Any, story_id: str) -> str | None:
    """The live story an id stands for (itself, or where it was merged); None if unknown."""
    conn = _conn(db)
    seen: set[str] = set()
    current = story_id
    while current not in seen:
        seen.add(current)
        row = conn.execute("SELECT merged_into FROM stories WHERE id = ?", (current,)).fetchone()
        if row is None:
            return None
        if row[0] is None:
            return current
        current = row[0]
    raise StorageError(f"story {story_id} has a merge cycle; check stories.merged_into")


def story_of(db: Any, article_id: int) -> str | None:
    """The story an article belongs to, or None if it has not been merged yet."""
    row = (
        _conn(db)
        .execute("SELECT story_id FROM story_articles WHERE article_id = ?", (article_id,))
        .fetchone()
    )
    return None if row is None else row[0]


@dataclass(frozen=True)
class _Article:
    view: ArticleView
    uid: str
    outlet: str | None
    when: datetime | None  # window time: published, else updated, else fetched
    joined: datetime | None  # when it arrived: fetched, else published
    title: str
    passages: tuple[int, ...]  # passage keys (fingerprint.passage_keys)


def _load_article(conn: sqlite3.Connection, article_id: int) -> _Article:
    row = conn.execute(
        "SELECT a.uid, a.source_id, COALESCE(a.outlet, a.source_id), a.title, a.text, a.summary,"
        " a.published, a.updated, a.fetched, COALESCE(s.priority, 0)"
        " FROM articles a LEFT JOIN sources s ON s.id = a.source_id WHERE a.id = ?",
        (article_id,),
    ).fetchone()
    if row is None:
        raise StorageError(f"article {article_id} is not stored; store it before merging")
    uid, source_id, outlet, title, text, summary, published, updated, fetched, priority = row
    prepared = prepare(text or summary or "")
    norm = prepared.text
    sig = fingerprint.signature(norm, prepared.numbers)
    when = parse_time(published) or parse_time(updated) or parse_time(fetched)
    joined = parse_time(fetched) or when
    view = ArticleView(
        id=article_id,
        signature=sig,
        title=normalise_title(title or ""),
        published=when,
        priority=int(priority or 0),
        outlet=outlet,
        text=norm if len(norm) < EXACT_BELOW else "",
        sentences=prepared.sentences if len(norm) < EXACT_BELOW else (),
    )
    passages = fingerprint.passage_keys(prepared.sentences)
    return _Article(view, uid or f"article:{article_id}", outlet, when, joined, title or "", passages)


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def _candidate_articles(conn: sqlite3.Connection, art: _Article) -> list[int]:
    sig = art.view.signature
    day = _day(art.when)
    lo, hi = day - WINDOW_DAYS, day + WINDOW_DAYS
    found: dict[int, None] = {}
    if not sig.empty:
        for (aid,) in conn.execute(
            "SELECT article_id FROM article_signatures WHERE norm_hash = ? AND day BETWEEN ? AND ?",
            (sig.text_hash, lo, hi),
        ):
            found[aid] = None
        keys = fingerprint.band_keys(sig)
        rows = conn.execute(
            f"SELECT article_id, COUNT(*) AS n FROM lsh_bands WHERE bkey IN ({_placeholders(len(keys))})"
            " AND day BETWEEN ? AND ? GROUP BY article_id ORDER BY n DESC LIMIT ?",
            (*keys, lo, hi, MAX_BAND_CANDIDATES),
        )
        for aid, _n in rows:
            found[aid] = None
    if art.passages:
        rows = conn.execute(
            f"SELECT article_id, COUNT(*) AS n FROM passage_keys"
            f" WHERE pkey IN ({_placeholders(len(art.passages))}) AND day BETWEEN ? AND ?"
            " GROUP BY article_id ORDER BY n DESC LIMIT ?",
            (*art.passages, lo, hi, MAX_PASSAGE_CANDIDATES),
        )
        for aid, _n in rows:
            found[aid] = None
    tkeys = fingerprint.title_keys(art.view.title)
    if tkeys:
        need = 2 if len(tkeys) >= 4 else 1
        rows = conn.execute(
            f"SELECT article_id, COUNT(*) AS n FROM title_keys WHERE tkey IN ({_placeholders(len(tkeys))})"
            " AND day BETWEEN ? AND ? GROUP BY article_id HAVING n >= ? ORDER BY n DESC LIMIT ?",
            (*tkeys, day - TITLE_WINDOW_DAYS, day + TITLE_WINDOW_DAYS, need, MAX_TITLE_CANDIDATES),
        )
        for aid, _n in rows:
            found[aid] = None
    found.pop(art.view.id, None)
    return list(found)


_CANDIDATE_SQL = """
SELECT s.id, s.seq, s.canonical_article, g.sig, g.title_norm, g.published,
       COALESCE(src.priority, 0), COALESCE(a.outlet, a.source_id),
       CASE WHEN g.length < {exact} THEN COALESCE(NULLIF(a.text, ''), a.summary) END
  FROM stories s
  JOIN article_signatures g ON g.article_id = s.canonical_article
  JOIN articles a ON a.id = s.canonical_article
  LEFT JOIN sources src ON src.id = a.source_id
 WHERE s.id IN (SELECT DISTINCT story_id FROM story_articles WHERE article_id IN ({ids}))
   AND s.merged_into IS NULL
"""


def _candidate_stories(conn: sqlite3.Connection, article_ids: Sequence[int]) -> list[CandidateView]:
    if not article_ids:
        return []
    sql = _CANDIDATE_SQL.format(ids=_placeholders(len(article_ids)), exact=EXACT_BELOW)
    out = []
    for story_id, seq, canonical, sig, title, published, priority, outlet, text in conn.execute(
        sql, article_ids
    ):
        view = ArticleView(
            id=canonical,
            signature=fingerprint.Signature.from_bytes(sig),
            title=title or "",
            published=parse_time(published),
            priority=int(priority),
            outlet=outlet,
            **_exact_text(text),
        )
        out.append(CandidateView(story_id, seq, view))
    return out


def _with_members(
    conn: sqlite3.Connection, candidates: list[CandidateView], matches: Sequence[merge.Match]
) -> list[CandidateView]:
    wanted = {m.story_id for m in matches}
    members: dict[str, list[ArticleView]] = {sid: [] for sid in wanted}
    rows = conn.execute(
        "SELECT sa.story_id, g.article_id, g.sig FROM story_articles sa"
        " JOIN article_signatures g ON g.article_id = sa.article_id"
        f" WHERE sa.story_id IN ({_placeholders(len(wanted))}) ORDER BY sa.article_id",
        tuple(wanted),
    )
    for story_id, aid, sig in rows:
        if len(members[story_id]) < MAX_MEMBERS:
            members[story_id].append(ArticleView(aid, fingerprint.Signature.from_bytes(sig)))
    return [
        replace(c, members=tuple(m for m in members[c.story_id] if m.id != c.canonical.id))
        if c.story_id in wanted
        else c
        for c in candidates
    ]


def _exact_text(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    prepared = prepare(text)
    return {"text": prepared.text, "sentences": prepared.sentences}


def _index(conn: sqlite3.Connection, art: _Article) -> None:
    sig = art.view.signature
    day = _day(art.when)
    aid = art.view.id
    conn.execute(
        "INSERT OR REPLACE INTO article_signatures"
        " (article_id, norm_hash, length, published, day, title_norm, sig)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (aid, sig.text_hash, sig.length, _iso(art.when), day, art.view.title, sig.to_bytes()),
    )
    conn.executemany(
        "INSERT OR IGNORE INTO lsh_bands (bkey, day, article_id) VALUES (?, ?, ?)",
        [(k, day, aid) for k in fingerprint.band_keys(sig)],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO passage_keys (pkey, day, article_id) VALUES (?, ?, ?)",
        [(k, day, aid) for k in art.passages],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO title_keys (tkey, day, article_id) VALUES (?, ?, ?)",
        [(k, day, aid) for k in fingerprint.title_keys(art.view.title)],
    )


def _new_story_id(conn: sqlite3.Connection, seed: str) -> str:
    for salt in range(100):
        sid = story_id_for(seed, salt)
        if conn.execute("SELECT 1 FROM stories WHERE id = ?", (sid,)).fetchone() is None:
            return sid
    raise StorageError(f"could not allocate a story id for {seed}")


def _next_seq(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM stories").fetchone()[0]


def _link(conn: sqlite3.Connection, a: str, b: str, score: float, method: str, ev: str | None):
    if a == b:
        return
    a, b = sorted((a, b))
    conn.execute(
        "INSERT INTO story_links (story_a, story_b, score, method, evidence) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (story_a, story_b) DO UPDATE SET score = excluded.score,"
        " method = excluded.method, evidence = excluded.evidence"
        " WHERE excluded.score > story_links.score",
        (a, b, score, method, ev),
    )


def _absorb(conn: sqlite3.Connection, survivor: str, other: str) -> None:
    """Fold story `other` into `survivor`: members, links and earlier redirects move over."""
    conn.execute("UPDATE story_articles SET story_id = ? WHERE story_id = ?", (survivor, other))
    conn.execute(
        "UPDATE stories SET merged_into = ?, members = 0 WHERE id = ? OR merged_into = ?",
        (survivor, other, other),
    )
    links = conn.execute(
        "SELECT story_a, story_b, score, method, evidence FROM story_links"
        " WHERE story_a = ? OR story_b = ?",
        (other, other),
    ).fetchall()
    conn.execute("DELETE FROM story_links WHERE story_a = ? OR story_b = ?", (other, other))
    for a, b, score, method, ev in links:
        _link(conn, survivor, b if a == other else a, score, method, ev)


def _outlet_is_new(conn: sqlite3.Connection, story_id: str, outlet: str | None) -> bool:
    row = conn.execute(
        "SELECT 1 FROM story_articles sa JOIN articles a ON a.id = sa.article_id"
        " WHERE sa.story_id = ? AND COALESCE(a.outlet, a.source_id) IS ? LIMIT 1",
        (story_id, outlet),
    ).fetchone()
    return row is None


def _apply(
    conn: sqlite3.Connection,
    art: _Article,
    plan: MergePlan,
    candidates: Iterable[CandidateView],
) -> MergeResult:
    aid = art.view.id
    joined = _iso(art.joined)
    by_id = {c.story_id: c for c in candidates}
    related = tuple(link.story_id for link in plan.related)
    if plan.join is None:
        sid = _new_story_id(conn, art.uid)
        conn.execute(
            "INSERT INTO stories (id, seq, canonical_article, first_published, updated, title,"
            " members) VALUES (?, ?, ?, ?, ?, ?, 1)",
            (sid, _next_seq(conn), aid, _iso(art.when), joined or _iso(art.when), art.title),
        )
        conn.execute(
            "INSERT INTO story_articles (article_id, story_id, method, similarity, evidence,"
            " joined) VALUES (?, ?, 'new', NULL, NULL, ?)",
            (aid, sid, joined),
        )
        for link in plan.related:
            _link(conn, sid, link.story_id, link.score, link.method, _evidence(link.evidence))
        return MergeResult(aid, sid, "new", None, True, (), related)

    involved = [plan.join, *plan.absorb]
    survivor = min(involved, key=lambda m: m.seq).story_id
    new_outlet = any(_outlet_is_new(conn, m.story_id, art.outlet) for m in involved)
    absorbed = tuple(m.story_id for m in involved if m.story_id != survivor)
    added = 1
    for other in absorbed:
        added += conn.execute("SELECT members FROM stories WHERE id = ?", (other,)).fetchone()[0]
        _absorb(conn, survivor, other)
    conn.execute(
        "INSERT INTO story_articles (article_id, story_id, method, similarity, evidence, joined)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (aid, survivor, plan.join.method, plan.join.similarity, _evidence(plan.join.evidence), joined),
    )
    # Each story's canonical is its own earliest member, so the union's canonical is the
    # earliest of the new article and the canonicals of the stories involved.
    canon = merge.choose_canonical([art.view, *(by_id[m.story_id].canonical for m in involved)])
    current = by_id[survivor].canonical.id
    changed = canon.id != current
    sets = ["members = members + ?"]
    params: list[Any] = [added]
    if changed:
        row = conn.execute("SELECT title FROM articles WHERE id = ?", (canon.id,)).fetchone()
        sets += ["canonical_article = ?", "first_published = ?", "title = ?"]
        params += [canon.id, _iso(canon.published), row[0] if row else None]
    if changed or new_outlet or absorbed:
        sets.append("updated = MAX(COALESCE(updated, ''), ?)")
        params.append(joined or _iso(art.when) or "")
    conn.execute(f"UPDATE stories SET {', '.join(sets)} WHERE id = ?", (*params, survivor))
    for link in plan.related:
        if link.story_id not in absorbed:
            _link(conn, survivor, link.story_id, link.score, link.method, _evidence(link.evidence))
    return MergeResult(
        aid,
        survivor,
        plan.join.method,
        plan.join.similarity,
        canon.id == aid,
        absorbed,
        tuple(s for s in related if s not in absorbed and s != survivor),
    )


def _evidence(cmp: merge.Comparison) -> str:
    return json.dumps(cmp.as_dict(), ensure_ascii=False, separators=(",", ":"))


def index_and_merge(db: Any, article_id: int) -> MergeResult:
    """Fingerprint a stored article and put it into a story, in the caller's transaction.

    Idempotent: an article already in a story is left where it is.
    """
    conn = _conn(db)
    try:
        existing = conn.execute(
            "SELECT sa.story_id, sa.method, sa.similarity, s.canonical_article"
            " FROM story_articles sa JOIN stories s ON s.id = sa.story_id WHERE sa.article_id = ?",
            (article_id,),
        ).fetchone()
        if existing is not None:
            sid, _method, sim, canonical = existing
            return MergeResult(article_id, sid, "existing", sim, canonical == article_id)
        art = _load_article(conn, article_id)
        candidates = _candidate_stories(conn, _candidate_articles(conn, art))
        plan = merge.plan(art.view, candidates)
        if plan.join is not None:
            # Members can only veto a match, so they are loaded only when there is one.
            candidates = _with_members(conn, candidates, [plan.join, *plan.absorb])
            plan = merge.plan(art.view, candidates)
        _index(conn, art)
        return _apply(conn, art, plan, candidates)
    except sqlite3.Error as exc:
        raise StorageError(f"merging article {article_id} failed: {exc}") from exc
