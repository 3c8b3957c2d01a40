"""Merge each stored article into a story: the SQLite edge of merging.

`index_and_merge(db, article_id)` fingerprints one stored article, finds candidate stories
through indexes that live in SQLite (exact text hash, LSH band keys, title keys; all limited to
a time window by a `day` column inside the key), asks the pure decider (merge.plan) what to do
and applies the plan inside the caller's transaction. Nothing is kept in memory between calls,
so the daemon's memory does not grow with the archive and the index survives restarts.

Normalising is the costly part, so it happens once per article: the caller may pass the
article's print (`article_print`, computed from the same title and text, e.g. in a worker
process during a bulk import), and short texts, which are compared exactly, keep their
normalised sentences in `article_signatures.short_text` so that no candidate is normalised again.

Story ids are derived from the founding article's uid and never change; when two stories turn
out to be one, the older keeps its id and the other records `merged_into` for redirects.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from . import fingerprint, merge
from .errors import StorageError
from .fingerprint import ArticlePrint
from .merge import ArticleView, CandidateView, MergePlan
from .normalise import prepare

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


def article_print(title: str, text: str) -> ArticlePrint:
    """What the merger derives from a stored article's title and text (`text or summary`):
    pure, so it may be computed anywhere, as long as it is from the same title and text."""
    return fingerprint.fingerprint_article(title or "", text or "", keep_text_below=EXACT_BELOW)


@dataclass(frozen=True)
class _Article:
    view: ArticleView
    uid: str
    outlet: str | None
    when: datetime | None  # window time: published, else updated, else fetched
    joined: datetime | None  # when it arrived: fetched, else published
    title: str
    print: ArticlePrint


def _load_article(
    conn: sqlite3.Connection, article_id: int, printed: ArticlePrint | None = None
) -> _Article:
    # The text is read only when no print was passed: it is the largest column by far.
    text_sql = "NULL, NULL" if printed is not None else "a.text, a.summary"
    row = conn.execute(
        f"SELECT a.uid, a.source_id, COALESCE(a.outlet, a.source_id), a.title, {text_sql},"
        " a.published, a.updated, a.fetched, COALESCE(s.priority, 0)"
        " FROM articles a LEFT JOIN sources s ON s.id = a.source_id WHERE a.id = ?",
        (article_id,),
    ).fetchone()
    if row is None:
        raise StorageError(f"article {article_id} is not stored; store it before merging")
    uid, source_id, outlet, title, text, summary, published, updated, fetched, priority = row
    if printed is None:
        printed = article_print(title or "", text or summary or "")
    when = parse_time(published) or parse_time(updated) or parse_time(fetched)
    joined = parse_time(fetched) or when
    view = ArticleView(
        id=article_id,
        signature=printed.signature,
        title=printed.title,
        published=when,
        priority=int(priority or 0),
        outlet=outlet,
        text=printed.text,
        sentences=printed.sentences,
    )
    return _Article(view, uid or f"article:{article_id}", outlet, when, joined, title or "",
                    printed)


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def _keyed(
    conn: sqlite3.Connection, table: str, keys: Sequence[int], lo: int, hi: int, limit: int
) -> list[int]:
    """Articles sharing any of `keys` in a key table, within days lo..hi, most shared first."""
    if not keys:
        return []
    column = _KEY_COLUMN[table]
    rows = conn.execute(
        f"SELECT article_id, COUNT(*) AS n FROM {table}"
        f" WHERE {column} IN ({_placeholders(len(keys))}) AND day BETWEEN ? AND ?"
        " GROUP BY article_id ORDER BY n DESC LIMIT ?",
        (*keys, lo, hi, limit),
    )
    return [aid for aid, _n in rows]


_KEY_COLUMN = {"lsh_bands": "bkey", "passage_keys": "pkey", "title_keys": "tkey"}


def _candidate_articles(conn: sqlite3.Connection, art: _Article) -> list[int]:
    """Articles worth comparing with: same text, a shared LSH band, a shared sentence or a
    headline bigram, all within the time window (headlines: a shorter one)."""
    subquery, params = _candidate_subquery(art)
    if not subquery:
        return []
    found = dict.fromkeys(aid for (aid,) in conn.execute(subquery, params))
    found.pop(art.view.id, None)
    return list(found)


def _candidate_subquery(art: _Article) -> tuple[str, list[Any]]:
    """One SQL query for every source of candidate articles (see `_candidate_articles`): each
    part is the query `_keyed` runs, so each keeps its own limit; one round trip, not four."""
    sig = art.view.signature
    day = _day(art.when)
    lo, hi = day - WINDOW_DAYS, day + WINDOW_DAYS
    tlo, thi = day - TITLE_WINDOW_DAYS, day + TITLE_WINDOW_DAYS
    parts: list[str] = []
    params: list[Any] = []
    if not sig.empty:
        parts.append(
            "SELECT article_id FROM article_signatures WHERE norm_hash = ? AND day BETWEEN ? AND ?"
        )
        params += [sig.text_hash, lo, hi]
    keyed = (
        ("lsh_bands", art.print.bands, lo, hi, MAX_BAND_CANDIDATES),
        ("passage_keys", art.print.passages, lo, hi, MAX_PASSAGE_CANDIDATES),
        ("title_keys", art.print.title_keys, tlo, thi, MAX_TITLE_CANDIDATES),
    )
    for table, keys, first, last, limit in keyed:
        if keys:
            # Padded with its last key (IN ignores repeats) to a fixed length, so that the
            # query has few spellings and stays in the connection's statement cache.
            keys = (*keys, *keys[-1:] * (_KEY_SLOTS[table] - len(keys)))
            parts.append(
                f"SELECT article_id FROM (SELECT article_id, COUNT(*) AS n FROM {table}"
                f" WHERE {_KEY_COLUMN[table]} IN ({_placeholders(len(keys))})"
                " AND day BETWEEN ? AND ? GROUP BY article_id ORDER BY n DESC LIMIT ?)"
            )
            params += [*keys, first, last, limit]
    return " UNION ALL ".join(parts), params


_KEY_SLOTS = {
    "lsh_bands": fingerprint.BANDS,
    "passage_keys": fingerprint.PASSAGE_KEYS,
    "title_keys": fingerprint.TITLE_KEYS,
}


_CANDIDATE_SQL = """
SELECT s.id, s.seq, s.canonical_article, g.sig, g.title_norm, g.published,
       COALESCE(src.priority, 0), COALESCE(a.outlet, a.source_id)
  FROM stories s
  JOIN article_signatures g ON g.article_id = s.canonical_article
  JOIN articles a ON a.id = s.canonical_article
  LEFT JOIN sources src ON src.id = a.source_id
 WHERE s.id IN (SELECT DISTINCT story_id FROM story_articles
                 WHERE article_id IN ({ids}) AND article_id != ?)
   AND s.merged_into IS NULL
"""


def _candidate_stories(conn: sqlite3.Connection, art: _Article) -> list[CandidateView]:
    subquery, params = _candidate_subquery(art)
    if not subquery:
        return []
    sql = _CANDIDATE_SQL.format(ids=subquery)
    out = []
    for story_id, seq, canonical, sig, title, published, priority, outlet in conn.execute(
        sql, (*params, art.view.id)
    ):
        view = ArticleView(
            id=canonical,
            signature=fingerprint.Signature.from_bytes(sig),
            title=title or "",
            published=parse_time(published),
            priority=int(priority),
            outlet=outlet,
        )
        out.append(CandidateView(story_id, seq, view))
    return _with_texts(conn, art.view, out)


def _with_texts(
    conn: sqlite3.Connection, article: ArticleView, candidates: list[CandidateView]
) -> list[CandidateView]:
    """Short canonicals close enough to matter get their normalised text for exact counts."""
    if not article.text:
        return candidates
    wanted = [c.canonical.id for c in candidates if merge.worth_exact(article, c.canonical)]
    if not wanted:
        return candidates
    texts: dict[int, dict[str, Any]] = {}
    for aid, short in conn.execute(
        "SELECT article_id, short_text FROM article_signatures"
        f" WHERE article_id IN ({_placeholders(len(wanted))}) AND short_text IS NOT NULL",
        wanted,
    ):
        sentences = tuple(short.split("\n"))
        texts[aid] = {"text": "".join(sentences), "sentences": sentences}
    # A long canonical (a short article may be an abridged copy of it), or one indexed
    # before short_text existed: normalised from its text, as it always was.
    missing = [aid for aid in wanted if aid not in texts]
    if missing:
        for aid, text in conn.execute(
            "SELECT id, COALESCE(NULLIF(text, ''), summary) FROM articles"
            f" WHERE id IN ({_placeholders(len(missing))})",
            missing,
        ):
            texts[aid] = _exact_text(text)
    return [
        replace(c, canonical=replace(c.canonical, **texts[c.canonical.id]))
        if c.canonical.id in texts
        else c
        for c in candidates
    ]


def _with_members(
    conn: sqlite3.Connection, candidates: list[CandidateView], matches: Sequence[merge.Match]
) -> list[CandidateView]:
    wanted = {m.story_id for m in matches}
    members: dict[str, list[ArticleView]] = {sid: [] for sid in wanted}
    counted = dict.fromkeys(wanted, 0)
    seen: dict[str, set[bytes]] = {sid: set() for sid in wanted}
    rows = conn.execute(
        "SELECT sa.story_id, g.article_id, g.sig FROM story_articles sa"
        " JOIN article_signatures g ON g.article_id = sa.article_id"
        f" WHERE sa.story_id IN ({_placeholders(len(wanted))}) ORDER BY sa.article_id",
        tuple(wanted),
    )
    for story_id, aid, sig in rows:
        if counted[story_id] >= MAX_MEMBERS:
            continue
        counted[story_id] += 1
        # Members only veto, through their numbers: one without numbers never vetoes, and
        # copies with the same numbers veto alike, so each set of numbers is parsed once.
        numbers = bytes(sig[_NUMBERS_AT:])
        if numbers and numbers not in seen[story_id]:
            seen[story_id].add(numbers)
            members[story_id].append(ArticleView(aid, fingerprint.Signature.from_bytes(sig)))
    return [
        replace(c, members=tuple(m for m in members[c.story_id] if m.id != c.canonical.id))
        if c.story_id in wanted
        else c
        for c in candidates
    ]


#: Where a stored signature's numbers start (after its header and MinHash values).
_NUMBERS_AT = fingerprint._HEADER.size + 2 * fingerprint.NUM_PERM


def _exact_text(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    prepared = prepare(text)
    return {"text": prepared.text, "sentences": prepared.sentences}


def _short_text(printed: ArticlePrint) -> str | None:
    """The stored form of a short text: its sentences, one per line; None when there is no
    short text, or when its sentences do not add up to it (then it is normalised again)."""
    if not printed.text or "".join(printed.sentences) != printed.text:
        return None
    return "\n".join(printed.sentences)


def _index(conn: sqlite3.Connection, art: _Article) -> None:
    sig = art.view.signature
    day = _day(art.when)
    aid = art.view.id
    printed = art.print
    conn.execute(
        "INSERT OR REPLACE INTO article_signatures"
        " (article_id, norm_hash, length, published, day, title_norm, sig, passages, short_text)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            aid,
            sig.text_hash,
            sig.length,
            _iso(art.when),
            day,
            art.view.title,
            sig.to_bytes(),
            array("q", printed.passages).tobytes(),
            _short_text(printed),
        ),
    )
    keyed = (("lsh_bands", printed.bands), ("passage_keys", printed.passages),
             ("title_keys", printed.title_keys))
    for table, keys in keyed:
        if keys:
            # One multi-row INSERT: less than half the time of executemany's row by row.
            conn.execute(
                f"INSERT OR IGNORE INTO {table} ({_KEY_COLUMN[table]}, day, article_id) VALUES "
                + ",".join(["(?, ?, ?)"] * len(keys)),
                [v for k in keys for v in (k, day, aid)],
            )


def _keys(sig: fingerprint.Signature, passages: Sequence[int], title: str) -> dict[str, Any]:
    return {
        "lsh_bands": fingerprint.band_keys(sig),
        "passage_keys": passages,
        "title_keys": fingerprint.title_keys(title),
    }


def _unindex(conn: sqlite3.Connection, article_id: int) -> None:
    """Remove an article's fingerprint and keys (its text changed; it is indexed again)."""
    row = conn.execute(
        "SELECT day, title_norm, sig, passages FROM article_signatures WHERE article_id = ?",
        (article_id,),
    ).fetchone()
    if row is None:
        return
    day, title, sig, packed = row
    passages = array("q")
    passages.frombytes(packed or b"")
    keys = _keys(fingerprint.Signature.from_bytes(sig), tuple(passages), title or "")
    for table, values in keys.items():
        conn.executemany(
            f"DELETE FROM {table} WHERE {_KEY_COLUMN[table]} = ? AND day = ? AND article_id = ?",
            [(k, day, article_id) for k in values],
        )
    conn.execute("DELETE FROM article_signatures WHERE article_id = ?", (article_id,))


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
        (
            aid,
            survivor,
            plan.join.method,
            plan.join.similarity,
            _evidence(plan.join.evidence),
            joined,
        ),
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


def index_and_merge(
    db: Any, article_id: int, printed: ArticlePrint | None = None, *, new: bool = False
) -> MergeResult:
    """Fingerprint a stored article and put it into a story, in the caller's transaction.

    Call it once per stored article, and again when its text changes: an article already in
    a story stays there (story membership never moves), but its fingerprint is renewed so
    later copies are compared with its current text. `printed`, when given, must be
    `article_print` of the stored title and `text or summary`; `new=True` says the article
    row was just inserted, so it cannot be in a story yet.
    """
    conn = _conn(db)
    try:
        existing = None if new else conn.execute(
            "SELECT sa.story_id, sa.similarity, s.canonical_article, g.norm_hash, g.title_norm"
            " FROM story_articles sa JOIN stories s ON s.id = sa.story_id"
            " LEFT JOIN article_signatures g ON g.article_id = sa.article_id"
            " WHERE sa.article_id = ?",
            (article_id,),
        ).fetchone()
        art = _load_article(conn, article_id, printed)
        if existing is not None:
            sid, sim, canonical, norm_hash, title = existing
            if (norm_hash, title) != (art.view.signature.text_hash, art.view.title):
                _unindex(conn, article_id)
                _index(conn, art)
            return MergeResult(
                article_id,
                resolve_story(conn, sid) or sid,
                "existing",
                sim,
                canonical == article_id,
            )
        candidates = _candidate_stories(conn, art)
        compared = {c.story_id: merge.compare(art.view, c.canonical) for c in candidates}
        plan = merge.plan(art.view, candidates, compared)
        if plan.join is not None:
            # Members can only veto a match, so they are loaded only when there is one.
            candidates = _with_members(conn, candidates, [plan.join, *plan.absorb])
            plan = merge.plan(art.view, candidates, compared)
        _index(conn, art)
        return _apply(conn, art, plan, candidates)
    except sqlite3.Error as exc:
        raise StorageError(f"merging article {article_id} failed: {exc}") from exc
