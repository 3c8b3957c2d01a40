"""Turn a FeedDoc into the bytes of a published feed: Atom, RSS 2.0, JSON Feed 1.1 and OPML.

Two ideas carry this module. First, rendering is a pure function of the FeedDoc: no clock, no
I/O, and the same document always gives the same bytes, so the server can use a hash of the
bytes as a strong ETag and every date in the output comes from the data (feedgen's own
"now" defaults are always overwritten). Second, whatever reaches the output has been scrubbed
of characters XML 1.0 forbids, once, at the door (`scrub`), because one stray control
character from a badly encoded source page would otherwise make the whole feed unparseable.

Atom and RSS are built with feedgen; what it cannot express (atom:source with a title only,
extra feed links such as WebSub hub and RFC 5005 archive links, fh:archive, links in RSS
channels) is added by a small feedgen extension working on its lxml tree.

Entry links, decided once for all formats: the entry's alternate link is the canonical
outlet's article (our own reading page only when the article has no link); every other outlet
that carried the story, and related coverage, is a `rel="related"` link; `atom:source` names
the canonical outlet and links to the feed or page it came from. Because readers rarely show
related links, the same "另见" (also reported by) list is appended to the HTML content.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from aggregator.errors import ParseError
from aggregator.model import FeedDoc, FeedItem, Outlet

ATOM_MIME = "application/atom+xml"
RSS_MIME = "application/rss+xml"
JSON_MIME = "application/feed+json"
OPML_MIME = "text/x-opml"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
FH_NS = "http://purl.org/syndication/history/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
LANGUAGE = "zh-CN"
GENERATOR = "aggregator"

#: Chinese readers expect Beijing time; China has one zone and no daylight saving.
BEIJING = timezone(timedelta(hours=8), "CST")

# XML 1.0 forbids C0 controls except tab/LF/CR, lone surrogates and U+FFFE/U+FFFF; the C1
# range is legal but never meaningful in news text (it comes from mis-decoded pages).
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_UNTITLED = "（无标题）"


# --------------------------------------------------------------------------- shared helpers


def clean_text(value: str | None) -> str:
    """Remove characters that may not appear in XML 1.0 (and so not in any of our outputs)."""
    if not value:
        return ""
    return _ILLEGAL_XML.sub("", value)


def scrub(value):
    """Return `value` with every string inside it cleaned; dataclasses and tuples are rebuilt.

    Done once per render so no code path can forget a field.
    """
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, tuple):
        return tuple(scrub(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: scrub(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value


def aware(dt: datetime) -> datetime:
    """Whole-second, timezone-aware time; a naive time is taken as UTC rather than rejected."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.replace(microsecond=0)


def rfc3339(dt: datetime) -> str:
    return aware(dt).isoformat()


def display_time(dt: datetime | None) -> str:
    """Beijing time as readers of Chinese local news expect it, e.g. "2024-05-01 09:30"."""
    if dt is None:
        return ""
    return aware(dt).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def is_web_url(url: str | None) -> bool:
    """Only http(s) links are ever made clickable; a `javascript:` link from a source is not."""
    return bool(url) and url.lower().startswith(("http://", "https://"))


def item_title(item: FeedItem) -> str:
    """Feeds require a non-empty title; fall back to the summary's start, then a placeholder."""
    title = " ".join(item.title.split())
    if title:
        return title
    summary = " ".join(item.summary.split())
    return summary[:40] + ("…" if len(summary) > 40 else "") if summary else _UNTITLED


def item_link(item: FeedItem) -> str | None:
    return item.link or item.html_url


def _prepare(doc: FeedDoc) -> FeedDoc:
    """Scrub the document and drop repeated item ids (entry ids must be unique in a feed)."""
    doc = scrub(doc)
    seen: set[str] = set()
    items = []
    for item in doc.items:
        if item.id in seen:
            continue
        seen.add(item.id)
        items.append(item)
    return dataclasses.replace(doc, items=tuple(items))


def _outlet_html(outlet: Outlet) -> str:
    name = html.escape(outlet.name or outlet.url or "")
    if is_web_url(outlet.url):
        name = f'<a href="{html.escape(outlet.url)}">{name}</a>'
    when = display_time(outlet.published)
    return f"<li>{name}（{when}）</li>" if when else f"<li>{name}</li>"


def body_html(item: FeedItem) -> str:
    """The HTML every format carries: content (or the summary), then 另见 and 相关报道 lists."""
    parts = []
    if item.content_html.strip():
        parts.append(item.content_html)
    elif item.summary.strip():
        paras = [p.strip() for p in item.summary.split("\n\n") if p.strip()]
        parts.extend(f"<p>{html.escape(p)}</p>" for p in paras)
    if item.also:
        lis = "".join(_outlet_html(o) for o in item.also)
        parts.append(f"<p>另见：</p><ul>{lis}</ul>")
    related = [(t, u) for t, u in item.related if is_web_url(u)]
    if related:
        lis = "".join(
            f'<li><a href="{html.escape(u)}">{html.escape(t or u)}</a></li>' for t, u in related
        )
        parts.append(f"<p>相关报道：</p><ul>{lis}</ul>")
    return "\n".join(parts)


def _prev_archive(doc: FeedDoc) -> str | None:
    return next((href for rel, href in doc.links if rel == "prev-archive"), None)


# --------------------------------------------------------------------------- feedgen extension


class _FeedExt(BaseExtension):
    """Feed-level additions: hub and archive links, alternates in RSS, fh:archive."""

    def __init__(self) -> None:
        self.doc: FeedDoc | None = None
        self.own_mime = ATOM_MIME

    def extend_ns(self) -> dict[str, str]:
        return {"fh": FH_NS} if self.doc is not None and self.doc.archive else {}

    def _links(self) -> list[dict[str, str]]:
        doc = self.doc
        assert doc is not None
        links = []
        if doc.hub_url:
            links.append({"rel": "hub", "href": doc.hub_url})
        links.extend({"rel": rel, "href": href} for rel, href in doc.links if rel and href)
        for mime, href, title in doc.alternates:
            if href and href != doc.self_url and mime != self.own_mime:
                links.append({"rel": "alternate", "type": mime, "href": href, "title": title})
        return links

    def _archive(self, parent: etree._Element) -> None:
        if self.doc is not None and self.doc.archive:
            etree.SubElement(parent, f"{{{FH_NS}}}archive")

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        for attrs in self._links():
            if attrs["rel"] == "alternate":
                continue  # readers (newsboat) take the last alternate as the site's page
            etree.SubElement(feed, "link", {k: v for k, v in attrs.items() if v})
        self._archive(feed)
        return feed

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed.find("channel")
        for attrs in self._links():
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", {k: v for k, v in attrs.items() if v})
        self._archive(channel)
        return feed


class _EntryExt(BaseEntryExtension):
    """Entry-level additions for Atom: typed alternate, related links, atom:source."""

    def __init__(self) -> None:
        self.item: FeedItem | None = None

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        item = self.item
        if item is None:
            return entry
        link = item_link(item)
        if link:
            # Added here, not via feedgen: feedgen 1.0 drops rel and type on entry links.
            etree.SubElement(entry, "link", rel="alternate", type="text/html", href=link)
        related = [(o.url, o.name) for o in item.also] + [(u, t) for t, u in item.related]
        for url, title in related:
            if url:
                attrs = {"rel": "related", "href": url, "title": title}
                etree.SubElement(entry, "link", {k: v for k, v in attrs.items() if v})
        if item.outlet_name or item.source_url:
            source = etree.SubElement(entry, "source")
            if item.outlet_name:
                etree.SubElement(source, "title").text = item.outlet_name
            if item.source_url:
                etree.SubElement(source, "link", href=item.source_url)
        return entry

    def extend_rss(self, item: etree._Element) -> etree._Element:
        return item


def _generator(doc: FeedDoc, own_mime: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.register_extension("agg", _FeedExt, _EntryExt)
    fg.agg.doc = doc
    fg.agg.own_mime = own_mime
    fg.id(doc.id)
    fg.title(doc.title or doc.key)
    fg.subtitle(doc.subtitle or doc.title or doc.key)  # RSS requires a description
    fg.language(LANGUAGE)
    fg.generator(GENERATOR)
    fg.updated(aware(doc.updated))  # also RSS lastBuildDate; feedgen would say "now"
    # feedgen takes the RSS channel <link> from the last link added, so alternate goes last.
    fg.link(href=doc.self_url, rel="self", type=own_mime)
    fg.link(href=doc.html_url, rel="alternate", type="text/html")
    return fg


# --------------------------------------------------------------------------- Atom and RSS


def render_atom(doc: FeedDoc) -> bytes:
    """Atom 1.0 (RFC 4287) with RFC 5005 archive links and WebSub hub; UTF-8 bytes."""
    doc = _prepare(doc)
    fg = _generator(doc, ATOM_MIME)
    if any(not (item.author or item.outlet_name) for item in doc.items):
        # RFC 4287: a feed needs an author unless every entry has one.
        fg.author({"name": doc.title or doc.key})
    region_scheme, topic_scheme = doc.base_url + "region", doc.base_url + "topic"
    for item in doc.items:
        fe = fg.add_entry(order="append")
        fe.agg.item = item
        fe.id(item.id)
        fe.title(item_title(item))
        fe.updated(aware(item.updated))
        fe.published(aware(item.published))
        author = item.author or item.outlet_name
        if author:
            fe.author({"name": author})
        body = body_html(item)
        fe.content(body or html.escape(item_title(item)), type="html")
        if item.summary.strip():
            fe.summary(item.summary.strip())
        for code, name in item.regions:
            fe.category(term=code, scheme=region_scheme, label=name or code)
        for slug, name in item.topics:
            fe.category(term=slug, scheme=topic_scheme, label=name or slug)
    return fg.atom_str(pretty=True)


def render_rss(doc: FeedDoc) -> bytes:
    """RSS 2.0 with atom:link self/hub/archive links; guid is the stable id, not a permalink."""
    doc = _prepare(doc)
    fg = _generator(doc, RSS_MIME)
    fg.load_extension("dc", atom=False, rss=True)
    region_scheme, topic_scheme = doc.base_url + "region", doc.base_url + "topic"
    for item in doc.items:
        fe = fg.add_entry(order="append")
        fe.guid(item.id, permalink=False)
        fe.title(item_title(item))
        fe.published(aware(item.published))
        fe.updated(aware(item.updated))
        link = item_link(item)
        if link:
            fe.link(href=link)
        fe.description(body_html(item) or html.escape(item_title(item)))
        author = item.author or item.outlet_name
        if author:
            fe.dc.dc_creator(author)
        if item.source_url:
            fe.source(url=item.source_url, title=item.outlet_name or item.source_url)
        for code, name in item.regions:
            fe.category(term=code, scheme=region_scheme, label=name or code)
        for slug, name in item.topics:
            fe.category(term=slug, scheme=topic_scheme, label=name or slug)
    return fg.rss_str(pretty=True)


# --------------------------------------------------------------------------- JSON Feed


def _json_item(item: FeedItem) -> dict:
    out: dict = {"id": item.id}
    link = item_link(item)
    if link:
        out["url"] = link
    out["title"] = item_title(item)
    out["content_html"] = body_html(item)
    if item.summary.strip():
        out["summary"] = item.summary.strip()
    out["date_published"] = rfc3339(item.published)
    out["date_modified"] = rfc3339(item.updated)
    author = item.author or item.outlet_name
    if author:
        out["authors"] = [{"name": author}]
    tags = [name or code for code, name in item.regions] + [name or s for s, name in item.topics]
    if tags:
        out["tags"] = list(dict.fromkeys(tags))
    out["_aggregator"] = {
        "outlet": item.outlet_name,
        "source_url": item.source_url,
        "html_url": item.html_url,
        "also_reported_by": [
            {
                "name": o.name,
                "url": o.url,
                "published": rfc3339(o.published) if o.published else None,
            }
            for o in item.also
        ],
        "regions": [{"code": code, "name": name} for code, name in item.regions],
        "topics": [{"slug": slug, "name": name} for slug, name in item.topics],
        "related": [{"title": title, "url": url} for title, url in item.related],
    }
    return out


def render_json(doc: FeedDoc) -> bytes:
    """JSON Feed 1.1; paging back in time (`prev-archive`) becomes `next_url`."""
    doc = _prepare(doc)
    out: dict = {
        "version": JSON_FEED_VERSION,
        "title": doc.title or doc.key,
        "home_page_url": doc.html_url,
        "feed_url": doc.self_url,
        "language": LANGUAGE,
    }
    if doc.subtitle:
        out["description"] = doc.subtitle
    older = _prev_archive(doc)
    if older:
        out["next_url"] = older
    if doc.hub_url:
        out["hubs"] = [{"type": "WebSub", "url": doc.hub_url}]
    out["_aggregator"] = {
        "key": doc.key,
        "id": doc.id,
        "updated": rfc3339(doc.updated),
        "archive": doc.archive,
        "links": [{"rel": rel, "href": href} for rel, href in doc.links],
    }
    out["items"] = [_json_item(item) for item in doc.items]
    return json.dumps(out, ensure_ascii=False, indent=1).encode("utf-8")


# --------------------------------------------------------------------------- OPML


@dataclass(frozen=True)
class OpmlGroup:
    """A folder of feeds in an OPML file (e.g. a province holding its cities)."""

    title: str
    children: tuple[OpmlGroup | tuple[str, str, str], ...] = ()


OpmlNode = OpmlGroup | tuple[str, str, str]


def _opml_outline(parent: etree._Element, node: OpmlNode) -> None:
    if isinstance(node, OpmlGroup):
        group = etree.SubElement(parent, "outline", text=clean_text(node.title))
        group.set("title", clean_text(node.title))
        for child in node.children:
            _opml_outline(group, child)
        return
    title, xml_url, html_url = (clean_text(v) for v in node)
    attrs = {"text": title or xml_url, "title": title or xml_url, "type": "rss", "xmlUrl": xml_url}
    if html_url:
        attrs["htmlUrl"] = html_url
    etree.SubElement(parent, "outline", attrs)


def render_opml(title: str, feeds: Sequence[OpmlNode], *, html_url: str | None = None) -> bytes:
    """OPML 2.0 subscription list; `feeds` holds (title, xml_url, html_url) or OpmlGroup."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = clean_text(title)
    if html_url:
        etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
        etree.SubElement(head, "ownerId").text = clean_text(html_url)
    body = etree.SubElement(root, "body")
    for node in feeds:
        _opml_outline(body, node)
    return etree.tostring(root, pretty_print=True, encoding="UTF-8", xml_declaration=True)


def _attr(el: etree._Element, name: str) -> str:
    """OPML in the wild spells attributes in any case (xmlUrl, xmlurl, XMLURL)."""
    want = name.lower()
    for key, value in el.attrib.items():
        if isinstance(key, str) and key.lower() == want:
            return value.strip()
    return ""


def _walk(outlines: Iterable[etree._Element]) -> Iterable[etree._Element]:
    for el in outlines:
        if isinstance(el.tag, str) and el.tag.lower() == "outline":
            yield el
            yield from _walk(el)


def parse_opml(data: bytes) -> list[tuple[str, str, str | None]]:
    """Read the feeds of an OPML subscription list as (title, xml_url, html_url or None).

    Nested folders are flattened in document order; a feed listed twice is kept once.
    No DTD, entities or network are ever resolved.
    """
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
    )
    # Subscription lists never need entities; refusing them outright rules out entity
    # expansion attacks instead of relying on the parser's limits.
    if b"<!ENTITY" in data or "<!ENTITY".encode("utf-16-le") in data:
        raise ParseError("OPML file declares XML entities, which are not allowed in OPML")
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"OPML file is not well-formed XML: {exc}; fix or re-export it") from exc
    if root is None or not isinstance(root.tag, str):
        raise ParseError("OPML file is empty")
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ParseError("OPML file declares XML entities, which are not allowed in OPML")
    tag = etree.QName(root).localname.lower()
    if tag != "opml":
        raise ParseError(
            f"not an OPML file: the root element is <{etree.QName(root).localname}>, "
            "expected <opml> (export your subscriptions as OPML)"
        )
    body = next((el for el in root if isinstance(el.tag, str) and el.tag.lower() == "body"), None)
    if body is None:
        raise ParseError("OPML file has no <body>, so it lists no feeds")
    feeds: list[tuple[str, str, str | None]] = []
    seen: set[str] = set()
    for el in _walk(body):
        xml_url = clean_text(_attr(el, "xmlUrl"))
        if not xml_url or xml_url in seen:
            continue
        seen.add(xml_url)
        title = clean_text(_attr(el, "title") or _attr(el, "text")) or xml_url
        feeds.append((title, xml_url, clean_text(_attr(el, "htmlUrl")) or None))
    return feeds
