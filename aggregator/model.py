"""The plain values that flow between the steps: frozen dataclasses, no behaviour.

Every pure step (parse, split, clean, tag, merge, render) takes and returns these, so the
steps can be tested alone and composed in any order by the thin I/O edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

ARTICLE = "article"
PHOTO = "photo"

#: Source kinds the product understands (see sources.py for validation).
KINDS = ("feed", "epaper-text", "epaper-html", "page", "posts")


@dataclass(frozen=True)
class SourceDef:
    """One source as defined in a `feeds/*.toml` table (or imported from OPML)."""

    id: str
    name: str
    url: str
    kind: str = "feed"
    region: str | None = None  # home region code (GB/T 2260 or project zone id)
    topics: tuple[str, ...] = ()  # default topic slugs
    interval: int = 3600  # seconds between polls
    enabled: bool = True
    priority: int = 0  # outlet priority for canonical choice; higher wins ties
    allow_private: bool = False  # may fetch loopback/private addresses (tests, intranets)
    full_text: bool = False  # fetch linked pages when a feed carries summaries only
    options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    file: str | None = None  # the TOML file it came from, for error messages


@dataclass(frozen=True)
class Entry:
    """One item parsed from a feed or split from a page, before tagging and storage."""

    key: str  # identity within its source: guid/id, else canonical link, else content hash
    title: str
    url: str | None = None
    author: str | None = None
    published: datetime | None = None  # timezone-aware
    updated: datetime | None = None
    summary: str = ""  # plain text
    content_html: str = ""  # sanitised HTML
    text: str = ""  # plain text, paragraphs separated by a blank line
    kicker: str | None = None
    subtitle: str | None = None
    reporters: tuple[str, ...] = ()
    position: int | None = None  # order on its page or in its feed, from 1
    type: str = ARTICLE  # ARTICLE or PHOTO
    categories: tuple[str, ...] = ()
    outlet: str | None = None  # outlet id when the item names its own outlet (a repost)
    outlet_name: str | None = None
    truncated: bool = False


@dataclass(frozen=True)
class ParsedFeed:
    """What a parser made of one fetched document."""

    title: str | None
    link: str | None
    entries: tuple[Entry, ...]
    ttl: int | None = None  # RSS <ttl>, minutes
    warning: str | None = None  # recoverable problem (feedparser's bozo), for the fetch log


@dataclass(frozen=True)
class Evidence:
    """Why a tag was given: the matched text and where it stands in title + text."""

    text: str
    start: int
    rule: str  # e.g. "name", "short-name", "home", "parent-context"


@dataclass(frozen=True)
class RegionTag:
    code: str  # GB/T 2260 (6 digits), statistical town code (9 digits) or zone id ("Z…")
    name: str
    level: str  # province | city | county | town | zone
    score: float
    evidence: tuple[Evidence, ...] = ()
    parent: str | None = None


@dataclass(frozen=True)
class TopicTag:
    slug: str
    name: str
    score: float
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tags:
    regions: tuple[RegionTag, ...] = ()
    topics: tuple[TopicTag, ...] = ()


@dataclass(frozen=True)
class Issue:
    """An e-paper issue date, for sources organised by date."""

    day: date


@dataclass(frozen=True)
class Outlet:
    """An outlet that carried a story ("also reported by")."""

    name: str
    url: str | None
    published: datetime | None
    source_id: str | None = None


@dataclass(frozen=True)
class FeedItem:
    """One entry of a published feed: a story (or, before merging, an article)."""

    id: str  # stable URN; never changes once published
    title: str
    link: str | None
    published: datetime
    updated: datetime
    content_html: str = ""  # sanitised
    summary: str = ""  # plain text
    author: str | None = None
    outlet_name: str | None = None  # the canonical article's outlet
    source_url: str | None = None  # the canonical article's origin feed/page (atom:source)
    also: tuple[Outlet, ...] = ()  # other outlets carrying the same story
    related: tuple[tuple[str, str], ...] = ()  # (title, link) of related coverage
    regions: tuple[tuple[str, str], ...] = ()  # (code, name)
    topics: tuple[tuple[str, str], ...] = ()  # (slug, name)
    html_url: str | None = None  # our own reading-view page for it


@dataclass(frozen=True)
class FeedDoc:
    """Everything a renderer needs for one feed document; no clock, no I/O."""

    key: str  # e.g. "all", "source/changzhou", "region/320412", "topic/work-safety"
    title: str
    self_url: str  # absolute URL of this document (without format suffix handled by caller)
    html_url: str  # absolute URL of the human page for this feed
    base_url: str  # absolute URL of the site root, ends with "/"
    id: str  # stable feed id (URN)
    updated: datetime  # newest entry's time, never the render time
    items: tuple[FeedItem, ...]
    subtitle: str | None = None
    hub_url: str | None = None  # WebSub hub
    links: tuple[tuple[str, str], ...] = ()  # extra (rel, href), e.g. ("prev-archive", url)
    archive: bool = False  # an RFC 5005 archive document (fh:archive)
    alternates: tuple[tuple[str, str, str], ...] = ()  # (mime, href, title) of other formats
