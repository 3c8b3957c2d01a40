"""Saved searches: full-text queries over the stored articles, as HTML results and as feeds.

The index (fts.py) holds every CJK character as a token, and a query term becomes a phrase of
its characters, so two-character words (反诈, 信访) and longer phrases match as substrings
and FTS5 operators typed by a user are inert. On top of that this module adds what a saved
search needs: a validated, canonical `SearchQuery` (the same search always has the same URL,
hence the same feed id and cache entry), filters by region (any level: every level is
tagged on the article) and topic, results grouped into stories (one entry per story, however
many outlets matched), ranked by bm25 for people (headline matches weigh more) and by time
for feeds, and snippets with the matched words marked.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import sqlite_utils

from . import fts

MAX_QUERY_CHARS = fts.MAX_QUERY_CHARS
#: Matching articles ranked per search at most; enough for 25 pages of results.
MAX_HITS = 500
#: Headline matches weigh this much more than body matches in bm25.
TITLE_WEIGHT = 5.0
_MARK_ON, _MARK_OFF = "\ue000", "\ue001"  # private-use characters: never in real text
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
_SPACE_BEFORE = re.compile(f"\\s+(?=[{_MARK_ON}{_MARK_OFF}]*[{_CJK}])")
_SPACE_AFTER = re.compile(f"([{_CJK}][{_MARK_ON}{_MARK_OFF}]*)\\s+")


class SearchError(ValueError):
    """A search request that cannot be run; the message says how to fix it."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


@dataclass(frozen=True)
class SearchQuery:
    q: str  # whitespace-normalised query text
    match: str  # the FTS5 MATCH expression
    region: str | None = None  # current division code
    topic: str | None = None  # topic slug

    def params(self) -> list[tuple[str, str]]:
        out = [("q", self.q)]
        if self.region:
            out.append(("region", self.region))
        if self.topic:
            out.append(("topic", self.topic))
        return out

    @property
    def query_string(self) -> str:
        """The canonical query string: fixed parameter order, UTF-8 percent-encoded."""
        return urlencode(self.params())

    @property
    def key(self) -> str:
        """The feed key of this saved search (its feed id derives from it)."""
        return "search?" + self.query_string


def parse_search(params: Mapping[str, str], *, resolve_region: Callable[[str], str | None],
                 topics: Mapping[str, str]) -> SearchQuery | None:
    """A validated query from request parameters; None when no query was given.

    `resolve_region` maps a code (old codes too) to today's code, or None when unknown.
    Raises SearchError with a helpful message for anything that cannot be searched."""
    raw = params.get("q", "")
    q = " ".join(raw.split())
    region = params.get("region", "").strip() or None
    topic = params.get("topic", "").strip() or None
    if len(q) > MAX_QUERY_CHARS:
        raise SearchError(400, "搜索词太长 Query too long",
                          f"Use at most {MAX_QUERY_CHARS} characters; a few words are enough.")
    if region is not None:
        code = resolve_region(region) if len(region) <= 64 else None
        if code is None:
            raise SearchError(400, "没有这个地区 Unknown region",
                              "region= takes an official division code, e.g. 320412 (武进区).")
        region = code
    if topic is not None and topic not in topics:
        raise SearchError(400, "没有这个主题 Unknown topic", "topic= takes a topic slug: " +
                          "、".join(f"{v} ({k})" for k, v in list(topics.items())[:40]))
    if not q:
        return None
    match = fts.match_query(q)
    if match is None:
        raise SearchError(400, "没有可搜索的词 Nothing to search for",
                          "The query has no letters, digits or Chinese characters.")
    return SearchQuery(q=q, match=match, region=region, topic=topic)


def _filters(query: SearchQuery, column: str) -> tuple[str, list[str]]:
    sql, args = "", []
    if query.region:
        sql += f" AND {column} IN (SELECT article_id FROM article_regions WHERE code = ?)"
        args.append(query.region)
    if query.topic:
        sql += f" AND {column} IN (SELECT article_id FROM article_topics WHERE slug = ?)"
        args.append(query.topic)
    return sql, args


@dataclass(frozen=True)
class Hit:
    """One story found: its best-ranked matching article and that article's snippet."""

    story_id: str
    article_id: int
    score: float  # bm25: lower is better
    snippet: str  # HTML: escaped text with <mark> around the matches


@dataclass(frozen=True)
class Results:
    hits: tuple[Hit, ...]  # the requested page
    total: int  # stories found among the best MAX_HITS matching articles
    capped: bool  # there were more matching articles than MAX_HITS


def ranked(db: sqlite_utils.Database, query: SearchQuery, *, limit: int,
           offset: int = 0) -> Results:
    """Stories ranked by relevance (each by its best-matching article), one page of them.

    Ranking reads bm25 only; snippets, which cost far more, are made for the page shown."""
    where, args = _filters(query, "f.rowid")
    rows = db.execute(
        f"""SELECT sa.story_id, f.rowid, bm25(articles_fts, {TITLE_WEIGHT}, 1.0) AS score
            FROM articles_fts f
            JOIN story_articles sa ON sa.article_id = f.rowid
            WHERE articles_fts MATCH ?{where}
            ORDER BY score LIMIT {MAX_HITS}""", [query.match, *args]).fetchall()
    best: dict[str, tuple[int, float]] = {}
    for story_id, article_id, score in rows:
        best.setdefault(story_id, (article_id, score))
    live = _live(db, list(best))
    order = [sid for sid in best if sid in live]
    page = order[offset:offset + limit]
    snippets = _snippets(db, query, [best[sid][0] for sid in page])
    hits = tuple(Hit(sid, best[sid][0], best[sid][1], snippets.get(best[sid][0], ""))
                 for sid in page)
    return Results(hits, len(order), len(rows) >= MAX_HITS)


def _snippets(db: sqlite_utils.Database, query: SearchQuery,
              article_ids: list[int]) -> dict[int, str]:
    if not article_ids:
        return {}
    marks = ",".join("?" * len(article_ids))
    return {rowid: highlight(text) for rowid, text in db.execute(
        f"SELECT rowid, snippet(articles_fts, 1, '{_MARK_ON}', '{_MARK_OFF}', '…', 48)"
        f" FROM articles_fts WHERE articles_fts MATCH ? AND rowid IN ({marks})",
        [query.match, *article_ids])}


def by_time(db: sqlite_utils.Database, query: SearchQuery, *, limit: int) -> list[str]:
    """Story ids of the newest matching stories, newest first, for the search feed."""
    where, args = _filters(query, "a.id")
    rows = db.execute(
        f"""SELECT sa.story_id FROM articles a
            JOIN story_articles sa ON sa.article_id = a.id
            JOIN stories s ON s.id = sa.story_id
            JOIN articles c ON c.id = s.canonical_article
            WHERE a.id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?){where}
              AND s.merged_into IS NULL AND c.type = 'article'
            GROUP BY sa.story_id
            ORDER BY MAX(coalesce(s.first_published, c.sort_time)) DESC, MAX(s.seq) DESC
            LIMIT ?""", [query.match, *args, limit]).fetchall()
    return [r[0] for r in rows]


def matches_any(db: sqlite_utils.Database, query: SearchQuery,
                article_ids: Sequence[int]) -> bool:
    """Whether any of these articles matches: tells the hub a saved search has news."""
    where, args = _filters(query, "f.rowid")
    for i in range(0, len(article_ids), 500):
        chunk = list(article_ids[i:i + 500])
        marks = ",".join("?" * len(chunk))
        row = db.execute(
            f"SELECT 1 FROM articles_fts f WHERE articles_fts MATCH ? AND f.rowid IN ({marks})"
            f"{where} LIMIT 1", [query.match, *chunk, *args]).fetchone()
        if row:
            return True
    return False


def _live(db: sqlite_utils.Database, story_ids: list[str]) -> set[str]:
    live: set[str] = set()
    for i in range(0, len(story_ids), 500):
        chunk = story_ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        live.update(r[0] for r in db.execute(
            f"SELECT s.id FROM stories s JOIN articles c ON c.id = s.canonical_article"
            f" WHERE s.id IN ({marks}) AND s.merged_into IS NULL AND c.type = 'article'",
            chunk))
    return live


def highlight(snippet: str) -> str:
    """FTS5's snippet of spaced index text back to readable HTML with <mark>ed matches.

    The index puts spaces around every CJK character; they are removed again next to CJK
    characters and punctuation (and kept between Latin words)."""
    text = _SPACE_AFTER.sub(r"\1", _SPACE_BEFORE.sub("", snippet))
    text = " ".join(text.split()).replace(_MARK_OFF + _MARK_ON, "")
    return html.escape(text).replace(_MARK_ON, "<mark>").replace(_MARK_OFF, "</mark>")
