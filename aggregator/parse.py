"""Parse one fetched feed document (RSS 0.9x/1.0/2.0, Atom 1.0, JSON Feed 1.0/1.1) into Entries.

Two ideas carry this module. First, bytes become text once, here, by `decode` (which knows
Chinese sites' charset habits); feedparser then always receives that text as UTF-8, because
its own charset rules read a "utf-8"-labelled GBK body as windows-1252 and do not treat GBK
as GB18030. Second, a bad document degrades the result instead of aborting it, by one rule:
keep what is safely parseable. A malformed XML feed is re-read by feedparser's lenient
parser and an entry is kept only if its closing tag is present (a truncated feed loses its
cut-off entry, not the rest); the problem is reported in `ParsedFeed.warning`. Only a
document that is not a feed at all, or has no complete entry, raises ParseError.

Entry rules: identity is the guid/id, else the canonical link, else "sha1:" of title + text;
HTML is sanitised by clean.sanitise_html; dates without a zone are Beijing time (the feeds
this product reads are Chinese); an entry with only an updated date uses it as its published
date; dates more than a day after the fetch are clamped to the fetch time.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import re
import xml.sax
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from html.entities import name2codepoint
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser

from aggregator import dates
from aggregator.clean import (
    collapse_whitespace,
    html_to_text,
    sanitise_html,
    strip_control,
    text_to_html,
)
from aggregator.decode import decode_detail, header_value
from aggregator.errors import ParseError
from aggregator.model import Entry, ParsedFeed

FUTURE_TOLERANCE = timedelta(days=1)
#: Dates before this are placeholders (epoch zero, year 1) rather than publication dates.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
SUMMARY_CHARS = 200
MAX_KEY_CHARS = 512
_MAX_WARNINGS = 6

_JSON_TYPES = ("application/feed+json", "application/json", "text/json")
_HTML_START = re.compile(
    r"(?:\s|<\?xml[^>]*>|<!--.*?-->)*<(?:!doctype\s+html|html\b|head\b|body\b|meta\b|title\b)",
    re.I | re.S,
)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.I | re.S)
_FEED_START = re.compile(r"<\?xml\b|<(?:rss|feed|rdf:RDF|RDF|channel)\b")
_XML_DECL = re.compile(r"^<\?xml[^>]*>")
_ROOT = re.compile(r"<(?![?!])([A-Za-z_][\w.:-]*)")
_ENTRY_END = re.compile(r"</(?:[\w.-]+:)?(?:item|entry)\s*>", re.I)
_CDATA_SPLIT = re.compile(r"(<!\[CDATA\[.*?\]\]>)", re.S)
_AMPERSAND = re.compile(r"&(?!#[0-9]+;|#[xX][0-9a-fA-F]+;)(?:([A-Za-z][A-Za-z0-9]*);)?")
_FEED_ROOT = re.compile(r"<(?:rss|feed|rdf:RDF)\b")
_KNOWN_NAMESPACES = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "atom": "http://www.w3.org/2005/Atom",
    "media": "http://search.yahoo.com/mrss/",
    "slash": "http://purl.org/rss/1.0/modules/slash/",
    "wfw": "http://wellformedweb.org/CommentAPI/",
    "sy": "http://purl.org/rss/1.0/modules/syndication/",
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
}
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_TRUNCATION_MARK = re.compile(
    r"(?:\.\.\.|…|\[\s*(?:\.\.\.|…)\s*\]|阅读全文|查看全文|阅读更多|查看更多|【更多】|\[更多\]|>>|»)\s*$"
)
_DIGITS = re.compile(r"\d+")
_TAG = re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_feed(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    fetched: datetime,
) -> ParsedFeed:
    """Parse a fetched document into a ParsedFeed; raises ParseError and nothing else."""
    try:
        return _parse(body, url, headers, _aware(fetched))
    except ParseError:
        raise
    except Exception as exc:  # the contract: callers handle one error type per document
        raise ParseError(f"could not parse the document ({type(exc).__name__}: {exc})") from exc


@dataclass
class _Context:
    """Per-document state shared by the entry builders: base URLs, clock and warnings."""

    doc_url: str
    fetched: datetime
    feed_link: str | None = None
    warnings: list[str] = field(default_factory=list)
    future: int = 0
    ancient: int = 0
    skipped: int = 0

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def summary(self) -> str | None:
        notes = list(self.warnings)
        if self.future:
            notes.append(
                f"{_count(self.future, 'entry')} dated in the future, clamped to fetch time"
            )
        if self.ancient:
            notes.append(
                f"{_count(self.ancient, 'entry')} dated before {EARLIEST.year}, date ignored"
            )
        if self.skipped:
            notes.append(f"skipped {_count(self.skipped, 'empty or unreadable entry')}")
        if not notes:
            return None
        if len(notes) > _MAX_WARNINGS:
            notes = notes[:_MAX_WARNINGS] + [f"and {len(notes) - _MAX_WARNINGS} more"]
        return "; ".join(notes)


def _parse(
    body: bytes, url: str, headers: Mapping[str, str] | None, fetched: datetime
) -> ParsedFeed:
    if not body or not body.strip():
        raise ParseError("not a feed: the document is empty")
    location = header_value(headers, "content-location")
    ctx = _Context(doc_url=urljoin(url, location) if location else url, fetched=fetched)
    decoded = decode_detail(body, headers)
    if decoded.note:
        ctx.warn(f"charset: {decoded.note}; read as {decoded.encoding}")
    text = strip_control(decoded.text)
    if len(text) != len(decoded.text):
        ctx.warn(f"removed {_count(len(decoded.text) - len(text), 'control character')}")
    text = text.lstrip("\ufeff \t\r\n")
    if not text.strip():
        raise ParseError("not a feed: the document is empty")

    content_type = (header_value(headers, "content-type") or "").split(";")[0].strip().lower()
    if text.startswith(("{", "[")) or (content_type in _JSON_TYPES and text[0] != "<"):
        return _parse_json(text, ctx)
    if _HTML_START.match(text, 0, 4096):
        raise ParseError(_html_reason(text))
    text = _skip_junk(text, ctx)
    return _parse_xml(text, headers, ctx)


def _skip_junk(text: str, ctx: _Context) -> str:
    """Drop what servers print before the feed (PHP notices, stray bytes, a late <?xml)."""
    match = _FEED_START.search(text, 0, 4096)
    if match is None or match.start() == 0:
        if not text.startswith("<"):
            raise ParseError(
                f"not a feed: the document is neither XML nor JSON (starts with {text[:40]!r})"
            )
        return text
    if match.group(0).startswith("<?xml") or not text.startswith("<"):
        prefix = text[: match.start()]
        if prefix.strip():
            ctx.warn(f"ignored {_count(len(prefix), 'character')} before the feed")
        return text[match.start() :]
    return text


def _html_reason(text: str) -> str:
    match = _HTML_TITLE.search(text, 0, 65536)
    if match is None:
        return "not a feed: got an HTML page (no <title>); check that the source URL is a feed"
    title = collapse_whitespace(html_to_text(match.group(1)))[:80]
    return f"not a feed: got an HTML page (<title>{title}</title>); check the source URL"


# --- XML feeds through feedparser -----------------------------------------------------------


def _parse_xml(text: str, headers: Mapping[str, str] | None, ctx: _Context) -> ParsedFeed:
    text = _declare_namespaces(_repair_entities(text))
    text = _XML_DECL.sub('<?xml version="1.0" encoding="utf-8"?>', text, count=1)
    fp_headers = {"content-type": "application/xml; charset=utf-8"}
    language = header_value(headers, "content-language")
    if language:
        fp_headers["content-language"] = language
    # BytesIO, never bytes or str: feedparser treats a string that looks like a URL or a
    # path as something to fetch or open.
    result = feedparser.parse(
        io.BytesIO(text.encode("utf-8", "replace")),
        response_headers=fp_headers,
        sanitize_html=False,  # nh3 sanitises everything below
        resolve_relative_uris=False,  # done by sanitise_html with the right base
    )
    raw_entries = list(result.get("entries") or [])
    version = result.get("version") or ""
    exc = result.get("bozo_exception")
    if result.get("bozo") and isinstance(exc, xml.sax.SAXParseException):
        where = f"malformed XML at line {exc.getLineNumber()}: {exc.getMessage()}"
        complete = len(_ENTRY_END.findall(text))
        dropped = max(0, len(raw_entries) - complete)
        raw_entries = raw_entries[: len(raw_entries) - dropped]
        if not raw_entries:
            raise ParseError(where)
        note = f"{where}; kept {_count(len(raw_entries), 'entry')} read leniently"
        ctx.warn(note + (f", dropped {dropped} incomplete" if dropped else ""))
    elif result.get("bozo") and exc is not None:
        ctx.warn(f"{type(exc).__name__}: {exc}")
    if not version and not raw_entries:
        raise ParseError(_not_a_feed_reason(text))

    feed = result.get("feed") or {}
    ctx.feed_link = _web_url(feed.get("link"), ctx.doc_url)
    entries = []
    for position, raw in enumerate(raw_entries, start=1):
        try:
            entry = _feedparser_entry(raw, position, ctx)
        except Exception:  # one unreadable entry must not cost the others
            entry = None
        if entry is None:
            ctx.skipped += 1
        else:
            entries.append(entry)
    title = _detail_text(feed.get("title_detail"), feed.get("title"))
    return ParsedFeed(
        title=title or None,
        link=ctx.feed_link,
        entries=_unique(entries, ctx),
        ttl=_ttl(feed.get("ttl")),
        warning=ctx.summary(),
    )


def _repair_entities(text: str) -> str:
    """Make the two commonest breakages well-formed so the strict parser can read the feed.

    HTML named entities (&nbsp;, &ldquo;) become numeric references and bare ampersands
    (`?a=1&b=2`) become &amp;. CDATA sections are left alone; so are documents that declare
    their own entities.
    """
    if "&" not in text:
        return text
    declares = "<!ENTITY" in text

    def fix(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "&amp;"
        if name in _XML_ENTITIES:
            return match.group(0)
        code = name2codepoint.get(name)
        if code is not None:
            return f"&#{code};"
        return match.group(0) if declares else "&amp;" + name + ";"

    parts = _CDATA_SPLIT.split(text)
    for i in range(0, len(parts), 2):  # even indexes are outside CDATA
        if "&" in parts[i]:
            parts[i] = _AMPERSAND.sub(fix, parts[i])
    return "".join(parts)


def _declare_namespaces(text: str) -> str:
    """Declare the well-known namespace prefixes a feed uses without declaring them.

    Hand-written CMS templates often emit <dc:creator> or <content:encoded> with no xmlns:
    on the root, which makes the whole document malformed for a strict parser.
    """
    missing = [
        f' xmlns:{prefix}="{uri}"'
        for prefix, uri in _KNOWN_NAMESPACES.items()
        if f"<{prefix}:" in text and f"xmlns:{prefix}=" not in text
    ]
    if not missing:
        return text
    root = _FEED_ROOT.search(text)
    if root is None:
        return text
    return text[: root.end()] + "".join(missing) + text[root.end() :]


def _not_a_feed_reason(text: str) -> str:
    root = _ROOT.search(text)
    if root is None:
        return "not a feed: the document has no XML elements"
    return f"not a feed: XML document with root <{root.group(1)}>, not RSS, RDF or Atom"


def _feedparser_entry(raw: Mapping[str, Any], position: int, ctx: _Context) -> Entry | None:
    url = _web_url(raw.get("link"), ctx.feed_link or ctx.doc_url)
    candidates = []  # (value, is_html, xml:base) of every body the entry carries
    for content in raw.get("content") or []:
        candidates.append(_body(content))
    summary_detail = raw.get("summary_detail")
    summary_value = raw.get("summary") or ""
    summary_body = _body(summary_detail) if summary_detail else (summary_value, True, "")
    if summary_body[0]:
        candidates.append(summary_body)
    richest = max(candidates, key=lambda c: len(c[0]), default=("", True, ""))
    separate_summary = summary_body[0] and summary_body[0] != richest[0]
    summary = None
    if separate_summary:
        value, is_html, _ = summary_body
        summary = html_to_text(value) if is_html else collapse_whitespace(value)

    base = urljoin(ctx.doc_url, richest[2]) if richest[2] else (url or ctx.feed_link)
    author_detail = raw.get("author_detail") or {}
    return _make_entry(
        ctx,
        position=position,
        guid=raw.get("id"),
        title=_detail_text(raw.get("title_detail"), raw.get("title")),
        url=url,
        author=author_detail.get("name") or raw.get("author"),
        published=_date(raw, "published") or _date(raw, "created"),
        updated=_date(raw, "updated"),
        body=richest[0],
        body_is_html=richest[1],
        base=base or ctx.doc_url,
        summary=summary,
        from_summary=richest is summary_body,
        categories=[t.get("term") or t.get("label") for t in raw.get("tags") or []],
    )


def _body(detail: Mapping[str, Any]) -> tuple[str, bool, str]:
    kind = (detail.get("type") or "text/html").lower()
    is_html = "html" in kind or "xml" in kind
    return detail.get("value") or "", is_html, detail.get("base") or ""


def _detail_text(detail: Mapping[str, Any] | None, value: str | None) -> str:
    """A one-line plain-text title from a feedparser text construct.

    feedparser calls a title plain text when its markup is outside its HTML list (<script>,
    <font>); a title holding a complete tag is read as HTML anyway, since in Chinese CMS
    output it always is.
    """
    if detail:
        value = detail.get("value") or value
    value = value or ""
    if (detail and "html" in (detail.get("type") or "")) or _TAG.search(value):
        return collapse_whitespace(html_to_text(value))
    return collapse_whitespace(value)


def _date(raw: Mapping[str, Any], name: str) -> datetime | None:
    # dict.get, not raw.get: FeedParserDict answers "updated" with "published" when absent.
    value = dict.get(raw, name)
    parsed = parse_date(value) if isinstance(value, str) else None
    if parsed is None:
        # feedparser knows more formats than we do; its struct_time is UTC.
        struct = dict.get(raw, f"{name}_parsed")
        if struct is not None:
            try:
                parsed = datetime.fromtimestamp(calendar.timegm(struct), UTC)
            except (OverflowError, ValueError, OSError):
                parsed = None
    return parsed


# --- JSON Feed ------------------------------------------------------------------------------


def _parse_json(text: str, ctx: _Context) -> ParsedFeed:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"malformed JSON at line {exc.lineno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise ParseError("malformed JSON: nested too deeply") from exc
    if not isinstance(data, dict):
        raise ParseError(f"not a feed: got a JSON {type(data).__name__}, not a JSON Feed object")
    version = data.get("version")
    items = data.get("items")
    if not (isinstance(version, str) and "jsonfeed.org/version/" in version):
        if not isinstance(items, list):
            raise ParseError("not a feed: JSON document without a JSON Feed version or items")
        ctx.warn("JSON Feed without a version")
    if not isinstance(items, list):
        ctx.warn("JSON Feed without an items list")
        items = []
    ctx.feed_link = _web_url(_str(data.get("home_page_url")), ctx.doc_url)
    entries = []
    for position, item in enumerate(items, start=1):
        entry = None
        if isinstance(item, dict):
            try:
                entry = _json_entry(item, position, ctx)
            except Exception:  # one unreadable item must not cost the others
                entry = None
        if entry is None:
            ctx.skipped += 1
        else:
            entries.append(entry)
    return ParsedFeed(
        title=collapse_whitespace(_str(data.get("title"))) or None,
        link=ctx.feed_link,
        entries=_unique(entries, ctx),
        warning=ctx.summary(),
    )


def _json_entry(item: Mapping[str, Any], position: int, ctx: _Context) -> Entry | None:
    url = _web_url(_str(item.get("url")) or _str(item.get("external_url")), ctx.doc_url)
    html_body = _str(item.get("content_html"))
    text_body = _str(item.get("content_text"))
    summary = _str(item.get("summary"))
    if html_body or text_body:
        body, is_html, from_summary = (
            (html_body, True, False) if html_body else (text_body, False, False)
        )
    else:
        body, is_html, from_summary = summary, False, True
    authors = item.get("authors") if isinstance(item.get("authors"), list) else []
    if not authors and isinstance(item.get("author"), dict):  # JSON Feed 1.0
        authors = [item["author"]]
    names = [_str(a.get("name")) for a in authors if isinstance(a, dict)]
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    guid = item.get("id")
    return _make_entry(
        ctx,
        position=position,
        guid=str(guid) if isinstance(guid, str | int) and not isinstance(guid, bool) else None,
        title=collapse_whitespace(_str(item.get("title"))),
        url=url,
        author=", ".join(n for n in names if n) or None,
        published=_json_date(item.get("date_published")),
        updated=_json_date(item.get("date_modified")),
        body=body,
        body_is_html=is_html,
        base=url or ctx.feed_link or ctx.doc_url,
        summary=collapse_whitespace(summary) if summary and not from_summary else None,
        from_summary=from_summary,
        categories=[t for t in tags if isinstance(t, str)],
    )


def _json_date(value: Any) -> datetime | None:
    return parse_date(value) if isinstance(value, str) else None


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# --- shared entry building ------------------------------------------------------------------


def _make_entry(
    ctx: _Context,
    *,
    position: int,
    guid: str | None,
    title: str,
    url: str | None,
    author: str | None,
    published: datetime | None,
    updated: datetime | None,
    body: str,
    body_is_html: bool,
    base: str | None,
    summary: str | None,
    from_summary: bool,
    categories: list[Any],
) -> Entry | None:
    content_html = sanitise_html(body if body_is_html else text_to_html(body), base_url=base)
    text = html_to_text(content_html)
    if not title:
        title = collapse_whitespace(text)[:40] or (url or "")
    if not title and not text:
        return None
    published, updated = _sane_dates(published, updated, ctx)
    if summary is None:
        summary = excerpt(text)
    return Entry(
        key=_key(guid, url, title, text),
        title=title,
        url=url,
        author=(collapse_whitespace(author) or None) if author else None,
        published=published or updated,
        updated=updated,
        summary=summary,
        content_html=content_html,
        text=text,
        position=position,
        categories=tuple(dict.fromkeys(c for c in map(_category, categories) if c)),
        truncated=from_summary and bool(_TRUNCATION_MARK.search(text)),
    )


def _category(value: Any) -> str:
    return collapse_whitespace(value) if isinstance(value, str) else ""


def _sane_dates(
    published: datetime | None, updated: datetime | None, ctx: _Context
) -> tuple[datetime | None, datetime | None]:
    """Placeholder dates dropped, future dates clamped to the fetch time; counted per entry."""
    if any(d is not None and d < EARLIEST for d in (published, updated)):
        ctx.ancient += 1
    if any(d is not None and d > ctx.fetched + FUTURE_TOLERANCE for d in (published, updated)):
        ctx.future += 1

    def fix(value: datetime | None) -> datetime | None:
        if value is None or value < EARLIEST:
            return None
        return min(value, ctx.fetched) if value > ctx.fetched + FUTURE_TOLERANCE else value

    return fix(published), fix(updated)


def _key(guid: str | None, url: str | None, title: str, text: str) -> str:
    guid = (guid or "").strip()
    if guid:
        return guid if len(guid) <= MAX_KEY_CHARS else "sha1:" + _sha1(guid)
    if url:
        return canonical_url(url)
    return "sha1:" + _sha1(title + "\n" + text)


def _sha1(value: str) -> str:
    return hashlib.sha1(value.encode("utf-8", "replace")).hexdigest()


def _unique(entries: list[Entry], ctx: _Context) -> tuple[Entry, ...]:
    """Keep the first entry per key; an id reused for a different link is keyed by its link.

    Some CMSs stamp every item with the same guid. Those items are different stories (their
    links differ), so they are kept under their canonical link instead of being dropped.
    """
    seen: dict[str, Entry] = {}
    rekeyed = dropped = 0
    for entry in entries:
        first = seen.get(entry.key)
        if first is not None and entry.url and first.url != entry.url:
            link_key = canonical_url(entry.url)
            if link_key not in seen:
                entry = replace(entry, key=link_key)
                rekeyed += 1
                first = None
        if first is not None:
            dropped += 1
            continue
        seen[entry.key] = entry
    if dropped:
        ctx.warn(f"dropped {_count(dropped, 'entry')} repeating an earlier id")
    if rekeyed:
        ctx.warn(
            f"{_count(rekeyed, 'entry')} reusing an earlier id for another link, keyed by link"
        )
    return tuple(seen.values())


def excerpt(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The first paragraph of `text`, cut to `limit` characters (at a sentence end if near)."""
    first = collapse_whitespace(text.split("\n\n", 1)[0])
    if len(first) <= limit:
        return first
    window = first[:limit]
    cut = max(window.rfind(mark) for mark in "。！？!?；;")
    if cut >= limit * 0.6:
        return window[: cut + 1]
    return window.rstrip() + "…"


# --- URLs -----------------------------------------------------------------------------------


def canonical_url(url: str) -> str:
    """The link as an identity: scheme and host lower-case, default port, fragment and utm_*
    parameters dropped. Path and the remaining query are kept byte for byte."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    query = "&".join(p for p in parts.query.split("&") if p and not p.lower().startswith("utm_"))
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def _web_url(value: Any, base: str | None) -> str | None:
    """`value` made absolute against `base`, if it is an http(s) URL; else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        absolute = urljoin(base or "", value)
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return absolute


def _ttl(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    match = _DIGITS.search(value)
    if match is None:
        return None
    minutes = int(match.group(0))
    return minutes if 0 < minutes < 60 * 24 * 366 else None


# --- dates ---------------------------------------------------------------------------------

# Java servers in China print China Standard Time as "CST", which RFC 822 reads as US Central.
_CHINA_ZONE_WORDS = re.compile(r"\b(?:CST|BJT|Beijing Time|China Standard Time)\b", re.I)


def parse_date(value: str) -> datetime | None:
    """An aware UTC datetime from a feed's date string; None when it is not a date.

    dates.parse_date reads the shapes (naive times are Beijing time); "CST" is China's here.
    """
    found = dates.parse_date(_CHINA_ZONE_WORDS.sub("+0800", value))
    if found is None:
        return None
    try:
        return found.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _count(number: int, noun: str) -> str:
    if number == 1:
        return f"1 {noun}"
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{number} {plural}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
